"""Validate an existing calibration on fresh views of a board.

A robot can refuse to start on a bad calibration: the camera models must be usable
(``CameraModel.validate``), match the images' size, and explain new board views: each
view's board pose is fitted with ``solvePnP`` on the undistorted corners and the
reprojection RMS over all views must stay under a threshold. For a stereo pair the
corners of both images must also lie on the same row after rectification (rectified
epipolar RMS) and the right camera's projection must carry a baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.board import BoardSpec, Detection
from percept.calib.render import project_points, undistort_pixels
from percept.calib.solve import rectified_epipolar_rms
from percept.geometry.camera import CameraModel

__all__ = ["CheckResult", "CheckThresholds", "check_mono", "check_stereo", "view_reprojection_rms"]


@dataclass(frozen=True, slots=True)
class CheckThresholds:
    """Limits a calibration must meet on fresh views.

    Attributes:
        max_rms_px: largest reprojection RMS over all fresh views, pixels.
        max_epipolar_px: largest rectified epipolar RMS (stereo), pixels.
        min_views: fewer fresh views with the board cannot validate anything.
    """

    max_rms_px: float = 1.0
    max_epipolar_px: float = 1.0
    min_views: int = 3


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of a check.

    Attributes:
        passed: every check passed.
        failures: one line per failed check (file, quantity, value, limit).
        metrics: figures measured, by name (``left_rms_px``, ``epipolar_rms_px``...).
    """

    passed: bool
    failures: tuple[str, ...]
    metrics: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """Multi-line human-readable outcome."""
        lines = ["PASS" if self.passed else "FAIL"]
        lines += [f"  {k}: {v:.4g}" for k, v in sorted(self.metrics.items())]
        lines += [f"  failed: {f}" for f in self.failures]
        return "\n".join(lines)


def view_reprojection_rms(
    detection: Detection, board: BoardSpec, camera: CameraModel
) -> tuple[float, npt.NDArray[np.float64]]:
    """Reprojection RMS of one fresh view with its board pose fitted, and the residuals.

    The pose comes from ``solvePnP`` on the undistorted (normalised) corners, so every
    distortion model goes through the same path.

    Returns:
        (RMS in pixels, (N, 2) float64 residuals detected - projected).
    """
    obj = detection.object_points(board).astype(np.float64)
    uv = detection.corners_uv.astype(np.float64)
    normalised = undistort_pixels(uv, camera)
    ok, rvec, tvec = cv2.solvePnP(obj, normalised, np.eye(3), None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return math.inf, np.full_like(uv, np.nan)
    if camera.distortion_model != "equidistant":
        # Refine in pixels (the normalised fit weighs points by 1/f).
        rvec, tvec = cv2.solvePnPRefineLM(obj, uv, camera.K, camera.D, rvec, tvec)
    R = cv2.Rodrigues(rvec)[0]
    pts = obj @ R.T + np.asarray(tvec).reshape(3)
    residuals = uv - project_points(pts, camera)
    return math.sqrt(float(np.mean(np.sum(residuals**2, axis=1)))), residuals


def _model_problems(camera: CameraModel, name: str, detections: Sequence[Detection]) -> list[str]:
    problems = [f"{name}: {p}" for p in camera.validate()]
    if not camera.distortion_model:
        problems.append(f"{name}: distortion_model is empty (uncalibrated camera_info)")
    sizes = sorted({d.image_size for d in detections})
    for width, height in sizes:
        if (width, height) != (camera.width, camera.height):
            problems.append(
                f"{name}: images are {width}x{height} but the calibration is for "
                f"{camera.width}x{camera.height}"
            )
    return problems


def _rms_check(
    camera: CameraModel,
    name: str,
    detections: Sequence[Detection],
    board: BoardSpec,
    thresholds: CheckThresholds,
    metrics: dict[str, float],
) -> list[str]:
    if len(detections) < thresholds.min_views:
        return [
            f"{name}: only {len(detections)} fresh views with the board, need "
            f"{thresholds.min_views} to check the calibration"
        ]
    sq = []
    worst = 0.0
    for det in detections:
        rms, res = view_reprojection_rms(det, board, camera)
        worst = max(worst, rms)
        sq.append(np.sum(res**2, axis=1))
    all_sq = np.concatenate(sq)
    rms_all = math.sqrt(float(np.mean(all_sq))) if np.isfinite(all_sq).all() else math.inf
    metrics[f"{name}_rms_px"] = rms_all
    metrics[f"{name}_worst_view_rms_px"] = worst
    metrics[f"{name}_views"] = float(len(detections))
    if not rms_all <= thresholds.max_rms_px:
        return [
            f"{name}: reprojection RMS on {len(detections)} fresh views is {rms_all:.3f} px, "
            f"limit {thresholds.max_rms_px:g} px"
        ]
    return []


def check_mono(
    camera: CameraModel,
    detections: Sequence[Detection],
    board: BoardSpec,
    thresholds: CheckThresholds | None = None,
    *,
    name: str = "camera",
) -> CheckResult:
    """Check one camera's calibration on fresh board views.

    Args:
        camera: the calibration under test.
        detections: board views that were not used to calibrate.
        board: the target.
        thresholds: limits.
        name: name of the camera (its file) in messages and metric keys.

    Returns:
        The outcome; ``passed`` is False when any check fails.
    """
    limits = thresholds or CheckThresholds()
    metrics: dict[str, float] = {}
    failures = _model_problems(camera, name, detections)
    if not failures:
        failures += _rms_check(camera, name, detections, board, limits, metrics)
    return CheckResult(not failures, tuple(failures), metrics)


def check_stereo(
    left: CameraModel,
    right: CameraModel,
    pairs: Sequence[tuple[Detection, Detection]],
    board: BoardSpec,
    thresholds: CheckThresholds | None = None,
    *,
    names: tuple[str, str] = ("left", "right"),
) -> CheckResult:
    """Check a stereo calibration on fresh pairs of board views.

    Args:
        left: left camera with R and P.
        right: right camera with R and P (``P[0, 3] = -fx' * baseline``).
        pairs: synchronised (left, right) board views not used to calibrate.
        board: the target.
        thresholds: limits.
        names: the two cameras' names in messages and metric keys.

    Returns:
        The outcome; ``passed`` is False when any check fails.
    """
    limits = thresholds or CheckThresholds()
    metrics: dict[str, float] = {}
    failures = _model_problems(left, names[0], [p[0] for p in pairs])
    failures += _model_problems(right, names[1], [p[1] for p in pairs])
    if (left.width, left.height) != (right.width, right.height):
        failures.append(
            f"{names[0]} is {left.width}x{left.height} but {names[1]} is "
            f"{right.width}x{right.height}"
        )
    if left.distortion_model != right.distortion_model:
        failures.append(
            f"{names[0]} uses {left.distortion_model} but {names[1]} uses {right.distortion_model}"
        )
    if not failures and not right.baseline_m > 0:
        failures.append(
            f"{names[1]}: projection_matrix has no baseline (P[0,3] = {right.P[0, 3]}); "
            "expected -fx * baseline < 0 for the right camera of a rectified pair"
        )
    if failures:
        return CheckResult(False, tuple(failures), metrics)
    metrics["baseline_m"] = right.baseline_m
    failures += _rms_check(left, names[0], [p[0] for p in pairs], board, limits, metrics)
    failures += _rms_check(right, names[1], [p[1] for p in pairs], board, limits, metrics)
    common = [np.intersect1d(a.ids, b.ids, return_indices=True) for a, b in pairs]
    left_uv = [a.corners_uv[c[1]] for (a, _), c in zip(pairs, common, strict=True)]
    right_uv = [b.corners_uv[c[2]] for (_, b), c in zip(pairs, common, strict=True)]
    if len(pairs) >= limits.min_views:
        epipolar = rectified_epipolar_rms(left_uv, right_uv, left, right)
        metrics["epipolar_rms_px"] = epipolar
        if not epipolar <= limits.max_epipolar_px:
            failures.append(
                f"rectified epipolar RMS on {len(pairs)} fresh pairs is {epipolar:.3f} px, "
                f"limit {limits.max_epipolar_px:g} px"
            )
    return CheckResult(not failures, tuple(failures), metrics)
