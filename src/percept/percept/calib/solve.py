"""Mono and stereo calibration for plumb_bob, rational_polynomial and fisheye cameras.

The solvers are OpenCV's (``calibrateCameraExtended``, ``stereoCalibrateExtended`` and
``cv2.fisheye``); around them this module adds what a calibration tool needs:
outlier-view rejection by per-view reprojection error, parameter standard deviations
(from OpenCV, or from the Jacobian for fisheye, which OpenCV does not report), checks
that the problem is constrained (too few views, degenerate coverage), stereo
rectification with the rectified epipolar error, and results as ``CameraModel`` s
ready for the camera_calibration_parsers YAML format.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.calib.board import BoardSpec, Detection
from percept.calib.views import Coverage, view_params
from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose

__all__ = [
    "CalibrationConfig",
    "MonoCalibration",
    "StereoCalibration",
    "calibrate_mono",
    "calibrate_stereo",
    "model_name",
    "per_view_errors",
]

_log = logging.getLogger(__name__)

ModelName = Literal["plumb_bob", "rational_polynomial", "equidistant"]
_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
# Names of calibrateCameraExtended's stdDeviationsIntrinsics entries, in order.
_PINHOLE_STD_NAMES = "fx fy cx cy k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4 tau_x tau_y".split()


def model_name(name: str) -> ModelName:
    """The sensor_msgs distortion model for a CLI model name (``fisheye`` = equidistant).

    Raises:
        CalibrationError: unknown name.
    """
    aliases: dict[str, ModelName] = {
        "plumb_bob": "plumb_bob",
        "pinhole": "plumb_bob",
        "rational_polynomial": "rational_polynomial",
        "fisheye": "equidistant",
        "equidistant": "equidistant",
    }
    if name not in aliases:
        msg = f"camera model {name!r} unknown; expected plumb_bob, rational_polynomial or fisheye"
        raise CalibrationError(msg)
    return aliases[name]


def _flag(name: str) -> int:
    """A fisheye flag: ``cv2.fisheye.NAME`` on OpenCV 4, ``cv2.NAME`` on OpenCV 5."""
    value = getattr(cv2.fisheye, name, None)
    if value is None:
        value = getattr(cv2, name)
    return int(value)


@dataclass(frozen=True, slots=True)
class CalibrationConfig:
    """Settings of a calibration.

    Attributes:
        model: distortion model to fit.
        fix_k3: plumb_bob only: keep k3 at 0 (cameracalibrator's default of two radial
            coefficients; steadier with few views).
        min_views: fewer usable views is an error.
        outlier_factor: a view whose RMS error exceeds this many times the median view
            error (and ``outlier_floor_px``) is dropped and the solve repeated.
        outlier_floor_px: views below this RMS error are never outliers, pixels.
        max_outlier_fraction: never drop more than this fraction of the views.
        max_focal_std_ratio: a focal length standard deviation above this fraction
            of the focal length means the views do not constrain the camera
            (degenerate coverage), an error.
        min_skew: the largest view skew must reach this (some views tilted), else the
            coverage is degenerate: fronto-parallel views cannot separate focal length
            from distance.
        alpha: free scaling of the rectified image, 0 (only valid pixels) to 1 (all
            pixels), as cameracalibrator's alpha (fisheye: balance).
    """

    model: ModelName = "plumb_bob"
    fix_k3: bool = False
    min_views: int = 6
    outlier_factor: float = 3.0
    outlier_floor_px: float = 0.3
    max_outlier_fraction: float = 0.25
    max_focal_std_ratio: float = 0.02
    min_skew: float = 0.05
    alpha: float = 0.0

    def __post_init__(self) -> None:
        model_name(self.model)
        if self.min_views < 3:
            msg = f"min_views must be >= 3, got {self.min_views}"
            raise ValueError(msg)
        if self.outlier_factor <= 1.0:
            msg = f"outlier_factor must be > 1, got {self.outlier_factor}"
            raise ValueError(msg)
        if not 0.0 <= self.max_outlier_fraction < 1.0:
            msg = f"max_outlier_fraction must be in [0, 1), got {self.max_outlier_fraction}"
            raise ValueError(msg)
        if not 0.0 <= self.alpha <= 1.0:
            msg = f"alpha must be in [0, 1], got {self.alpha}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class MonoCalibration:
    """Result of a mono calibration.

    Attributes:
        camera: the calibrated camera (R identity, P from ``alpha``).
        rms_px: reprojection RMS over the views used, pixels.
        per_view_rms_px: (N,) float64 RMS error of each used view, pixels.
        used: indices (into the detections given) of the views used.
        rejected: ``(index, rms_px)`` of views dropped as outliers.
        std: standard deviation of each intrinsic parameter (``fx``, ``fy``, ``cx``,
            ``cy``, distortion coefficients by name), same unit as the parameter.
        T_cam_board: pose of the board in each used view.
        coverage: coverage of the used views.
    """

    camera: CameraModel
    rms_px: float
    per_view_rms_px: npt.NDArray[np.float64]
    used: tuple[int, ...]
    rejected: tuple[tuple[int, float], ...]
    std: dict[str, float]
    T_cam_board: tuple[Pose, ...]
    coverage: Coverage


@dataclass(frozen=True, slots=True, eq=False)
class StereoCalibration:
    """Result of a stereo calibration.

    Attributes:
        left: left camera with rectification R and projection P (stereo_image_proc).
        right: right camera; ``P[0, 3] = -fx' * baseline``.
        T_right_left: pose of the left camera in the right camera frame (takes
            left-camera points to the right camera), OpenCV's (R, T).
        rms_px: joint reprojection RMS over both cameras, pixels.
        per_view_rms_px: (N, 2) float64 per-pair RMS, left and right, pixels.
        used: indices (into the pairs given) of the pairs used.
        rejected: ``(index, rms_px)`` of pairs dropped as outliers.
        epipolar_rms_px: RMS vertical offset of matching corners after rectification.
        left_mono: the left camera's mono calibration (its std devs, coverage).
        right_mono: the right camera's mono calibration.
        coverage: coverage of the used pairs (left image).
    """

    left: CameraModel
    right: CameraModel
    T_right_left: Pose
    rms_px: float
    per_view_rms_px: npt.NDArray[np.float64]
    used: tuple[int, ...]
    rejected: tuple[tuple[int, float], ...]
    epipolar_rms_px: float
    left_mono: MonoCalibration
    right_mono: MonoCalibration
    coverage: Coverage = field(default_factory=lambda: Coverage.from_params(np.zeros((0, 4))))

    @property
    def baseline_m(self) -> float:
        """Distance between the optical centres, metres."""
        return float(np.linalg.norm(self.T_right_left.translation_m))

    @property
    def rotation_deg(self) -> float:
        """Angle of the rotation between the two cameras, degrees."""
        return float(np.degrees(Rotation.from_quat(self.T_right_left.quat_xyzw).magnitude()))


# -- helpers ----------------------------------------------------------------------------


def _image_size(detections: Sequence[Detection], what: str) -> tuple[int, int]:
    sizes = {d.image_size for d in detections}
    if len(sizes) != 1:
        listed = ", ".join(
            f"{d.source or f'view {i}'} {d.image_size[0]}x{d.image_size[1]}"
            for i, d in enumerate(detections)
            if d.image_size != detections[0].image_size
        )
        first = detections[0]
        msg = (
            f"{what}: images differ in size: {first.source or 'view 0'} is "
            f"{first.image_size[0]}x{first.image_size[1]} but {listed}"
        )
        raise CalibrationError(msg)
    return sizes.pop()


def _pinhole_flags(config: CalibrationConfig) -> int:
    flags = 0
    if config.model == "rational_polynomial":
        flags |= cv2.CALIB_RATIONAL_MODEL
    elif config.fix_k3:
        flags |= cv2.CALIB_FIX_K3
    return flags


def _fisheye_flags() -> int:
    return _flag("CALIB_RECOMPUTE_EXTRINSIC") | _flag("CALIB_FIX_SKEW")


def _as_cv_points(
    detections: Sequence[Detection], board: BoardSpec, fisheye: bool
) -> tuple[list[npt.NDArray[np.float64]], list[npt.NDArray[np.float64]]]:
    # cv2.fisheye wants (1, N, 3) float64; the pinhole solvers take (N, 3) float32.
    dtype = np.float64 if fisheye else np.float32
    obj = [d.object_points(board).astype(dtype) for d in detections]
    img = [d.corners_uv.astype(dtype) for d in detections]
    if fisheye:
        obj = [o.reshape(1, -1, 3) for o in obj]
        img = [i.reshape(1, -1, 2) for i in img]
    return obj, img  # type: ignore[return-value]


def _project(
    obj: npt.NDArray[Any],
    rvec: npt.NDArray[Any],
    tvec: npt.NDArray[Any],
    K: npt.NDArray[Any],
    D: npt.NDArray[Any],
    fisheye: bool,
) -> npt.NDArray[np.float64]:
    pts = np.asarray(obj, dtype=np.float64).reshape(-1, 1, 3)
    if fisheye:
        out, _ = cv2.fisheye.projectPoints(pts, rvec.reshape(3, 1), tvec.reshape(3, 1), K, D)
    else:
        out, _ = cv2.projectPoints(pts, rvec, tvec, K, D)
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def per_view_errors(
    detections: Sequence[Detection],
    board: BoardSpec,
    K: npt.NDArray[np.float64],
    D: npt.NDArray[np.float64],
    rvecs: Sequence[npt.NDArray[np.float64]],
    tvecs: Sequence[npt.NDArray[np.float64]],
    fisheye: bool,
) -> tuple[npt.NDArray[np.float64], float]:
    """Per-view and overall reprojection RMS, pixels.

    Args:
        detections: the views.
        board: the target.
        K: (3, 3) intrinsics.
        D: distortion coefficients.
        rvecs: board rotation (Rodrigues, board to camera) per view.
        tvecs: board translation per view, metres.
        fisheye: equidistant model (``cv2.fisheye``).

    Returns:
        ((N,) per-view RMS, overall RMS over all points).
    """
    per_view = np.zeros(len(detections))
    total_sq = 0.0
    total_n = 0
    for i, (det, rvec, tvec) in enumerate(zip(detections, rvecs, tvecs, strict=True)):
        proj = _project(det.object_points(board), rvec, tvec, K, D, fisheye)
        sq = np.sum((proj - det.corners_uv.astype(np.float64)) ** 2, axis=1)
        per_view[i] = math.sqrt(float(sq.mean()))
        total_sq += float(sq.sum())
        total_n += sq.size
    return per_view, math.sqrt(total_sq / max(total_n, 1))


def _fisheye_std(
    detections: Sequence[Detection],
    board: BoardSpec,
    K: npt.NDArray[np.float64],
    D: npt.NDArray[np.float64],
    rvecs: Sequence[npt.NDArray[np.float64]],
    tvecs: Sequence[npt.NDArray[np.float64]],
) -> dict[str, float]:
    """Intrinsic standard deviations from the Jacobian (OpenCV reports none for fisheye).

    Covariance = sigma^2 (J^T J)^-1 over intrinsics and all board poses, with sigma^2
    the residual variance, as ``calibrateCameraExtended`` does for pinhole models.
    """
    n_views = len(detections)
    n_params = 8 + 6 * n_views
    blocks: list[npt.NDArray[np.float64]] = []
    residuals: list[npt.NDArray[np.float64]] = []
    for i, (det, rvec, tvec) in enumerate(zip(detections, rvecs, tvecs, strict=True)):
        obj = det.object_points(board).astype(np.float64).reshape(-1, 1, 3)
        proj, jac = cv2.fisheye.projectPoints(obj, rvec.reshape(3, 1), tvec.reshape(3, 1), K, D)
        # jac columns: f(2) c(2) k(4) om(3) T(3) alpha(1).
        jac = np.asarray(jac, dtype=np.float64)
        rows = np.zeros((jac.shape[0], n_params))
        rows[:, :8] = jac[:, :8]
        rows[:, 8 + 6 * i : 14 + 6 * i] = jac[:, 8:14]
        blocks.append(rows)
        diff = np.asarray(proj, dtype=np.float64).reshape(-1, 2) - det.corners_uv
        residuals.append(diff.reshape(-1))
    J = np.concatenate(blocks)
    r = np.concatenate(residuals)
    dof = max(r.size - n_params, 1)
    sigma2 = float(r @ r) / dof
    try:
        cov = np.linalg.inv(J.T @ J) * sigma2
    except np.linalg.LinAlgError:
        return {n: math.inf for n in ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4")}
    std = np.sqrt(np.abs(np.diag(cov)[:8]))
    return dict(zip(("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"), map(float, std), strict=True))


@dataclass(frozen=True, slots=True, eq=False)
class _Solve:
    K: npt.NDArray[np.float64]
    D: npt.NDArray[np.float64]
    rvecs: tuple[npt.NDArray[np.float64], ...]
    tvecs: tuple[npt.NDArray[np.float64], ...]
    per_view: npt.NDArray[np.float64]
    rms: float
    std: dict[str, float]


def _solve_mono(
    detections: Sequence[Detection],
    board: BoardSpec,
    size: tuple[int, int],
    config: CalibrationConfig,
    what: str,
) -> _Solve:
    fisheye = config.model == "equidistant"
    obj, img = _as_cv_points(detections, board, fisheye)
    try:
        if fisheye:
            _, K_cv, D_cv, rvecs, tvecs = cv2.fisheye.calibrate(
                obj, img, size, np.eye(3), np.zeros(4), flags=_fisheye_flags(), criteria=_CRITERIA
            )
            K = np.asarray(K_cv, dtype=np.float64)
            D = np.asarray(D_cv, dtype=np.float64).reshape(-1)
            rvecs_t = tuple(np.asarray(r, dtype=np.float64).reshape(3) for r in rvecs)
            tvecs_t = tuple(np.asarray(t, dtype=np.float64).reshape(3) for t in tvecs)
            per_view, rms = per_view_errors(detections, board, K, D, rvecs_t, tvecs_t, True)
            std = _fisheye_std(detections, board, K, D, rvecs_t, tvecs_t)
        else:
            n_coeffs = 8 if config.model == "rational_polynomial" else 5
            rms, K_cv, D_cv, rvecs, tvecs, std_in, _, per_view_cv = cv2.calibrateCameraExtended(
                obj,
                img,
                size,
                np.eye(3),
                np.zeros(n_coeffs),
                flags=_pinhole_flags(config),
                criteria=_CRITERIA,
            )
            K = np.asarray(K_cv, dtype=np.float64)
            D = np.asarray(D_cv, dtype=np.float64).reshape(-1)[:n_coeffs]
            rvecs_t = tuple(np.asarray(r, dtype=np.float64).reshape(3) for r in rvecs)
            tvecs_t = tuple(np.asarray(t, dtype=np.float64).reshape(3) for t in tvecs)
            per_view = np.asarray(per_view_cv, dtype=np.float64).reshape(-1)
            std_arr = np.asarray(std_in, dtype=np.float64).reshape(-1)
            names = _PINHOLE_STD_NAMES[: 4 + n_coeffs]
            std = {n: float(v) for n, v in zip(names, std_arr, strict=False)}
    except cv2.error as err:
        msg = f"{what}: OpenCV could not solve the calibration ({err.err}); check the views"
        raise CalibrationError(msg) from err
    if not (np.isfinite(K).all() and np.isfinite(D).all()) or K[0, 0] <= 0 or K[1, 1] <= 0:
        msg = f"{what}: the calibration diverged (K = {K.ravel().tolist()})"
        raise CalibrationError(msg)
    return _Solve(K, D, rvecs_t, tvecs_t, per_view, float(rms), std)


def _outlier(per_view: npt.NDArray[np.float64], config: CalibrationConfig) -> int | None:
    """Index of the worst view when it is an outlier, else None."""
    worst = int(np.argmax(per_view))
    median = float(np.median(per_view))
    limit = max(config.outlier_floor_px, config.outlier_factor * median)
    return worst if per_view[worst] > limit else None


def _check_views(
    detections: Sequence[Detection], board: BoardSpec, config: CalibrationConfig, what: str
) -> Coverage:
    if len(detections) < config.min_views:
        msg = (
            f"{what}: too few views: {len(detections)} with the board, need at least "
            f"{config.min_views}; show the board in more places, sizes and tilts"
        )
        raise CalibrationError(msg)
    params = np.stack([view_params(d, board) for d in detections])
    coverage = Coverage.from_params(params)
    if params[:, 3].max() < config.min_skew:
        msg = (
            f"{what}: degenerate coverage: all {len(detections)} views are fronto-parallel "
            f"(largest skew {params[:, 3].max():.3f} < {config.min_skew:g}); the focal "
            f"length cannot be told from the distance; tilt the board ({coverage.summary()})"
        )
        raise CalibrationError(msg)
    return coverage


def _check_constrained(
    solve: _Solve, coverage: Coverage, config: CalibrationConfig, what: str
) -> None:
    for name, focal in (("fx", solve.K[0, 0]), ("fy", solve.K[1, 1])):
        std = solve.std.get(name, 0.0)
        if not math.isfinite(std) or std > config.max_focal_std_ratio * focal:
            msg = (
                f"{what}: degenerate coverage: {name} = {focal:.1f} px is not constrained "
                f"by the views (std {std:.1f} px > {config.max_focal_std_ratio:.0%}); add "
                f"tilted views and views near the image corners ({coverage.summary()})"
            )
            raise CalibrationError(msg)


def _rectify_mono(
    K: npt.NDArray[np.float64],
    D: npt.NDArray[np.float64],
    size: tuple[int, int],
    config: CalibrationConfig,
) -> npt.NDArray[np.float64]:
    """Mono P as cameracalibrator makes it: the undistorted camera matrix for ``alpha``."""
    if config.model == "equidistant":
        new_K = cv2.fisheye.estimateNewCameraMatrixForUndistortRectify(
            K, D, size, np.eye(3), balance=config.alpha
        )
    else:
        new_K, _ = cv2.getOptimalNewCameraMatrix(K, D, size, config.alpha)
    P = np.zeros((3, 4))
    P[:, :3] = np.asarray(new_K, dtype=np.float64)
    return P


# -- mono -------------------------------------------------------------------------------


def calibrate_mono(
    detections: Sequence[Detection],
    board: BoardSpec,
    config: CalibrationConfig | None = None,
    *,
    what: str = "mono calibration",
) -> MonoCalibration:
    """Calibrate one camera from board detections, dropping outlier views.

    Args:
        detections: board views of one camera, all of the same image size.
        board: the target.
        config: model and thresholds (defaults: plumb_bob).
        what: name used in error messages (the camera, the image folder or topic).

    Returns:
        The calibration.

    Raises:
        CalibrationError: too few views, degenerate coverage, images of different
            sizes, or OpenCV fails.
    """
    cfg = config or CalibrationConfig()
    if not detections:
        msg = f"{what}: no views with the board"
        raise CalibrationError(msg)
    size = _image_size(detections, what)
    coverage = _check_views(detections, board, cfg, what)
    keep = list(range(len(detections)))
    rejected: list[tuple[int, float]] = []
    max_drop = int(cfg.max_outlier_fraction * len(detections))
    solve = _solve_mono(detections, board, size, cfg, what)
    while len(rejected) < max_drop and len(keep) > cfg.min_views:
        worst = _outlier(solve.per_view, cfg)
        if worst is None:
            break
        rejected.append((keep[worst], float(solve.per_view[worst])))
        _log.info(
            "%s: dropping view %s (%.2f px RMS, median %.2f px)",
            what,
            detections[keep[worst]].source or keep[worst],
            solve.per_view[worst],
            float(np.median(solve.per_view)),
        )
        del keep[worst]
        solve = _solve_mono([detections[i] for i in keep], board, size, cfg, what)
    used = [detections[i] for i in keep]
    coverage = Coverage.from_params(np.stack([view_params(d, board) for d in used]))
    _check_constrained(solve, coverage, cfg, what)
    camera = CameraModel(
        size[0],
        size[1],
        cfg.model,
        solve.K,
        solve.D,
        np.eye(3),
        _rectify_mono(solve.K, solve.D, size, cfg),
    )
    poses = tuple(
        Pose(t, Rotation.from_rotvec(r).as_quat())
        for r, t in zip(solve.rvecs, solve.tvecs, strict=True)
    )
    return MonoCalibration(
        camera, solve.rms, solve.per_view, tuple(keep), tuple(rejected), solve.std, poses, coverage
    )


# -- stereo -----------------------------------------------------------------------------


def _common(
    left: Detection, right: Detection
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    ids, i_l, i_r = np.intersect1d(left.ids, right.ids, return_indices=True)
    return ids.astype(np.int32), left.corners_uv[i_l], right.corners_uv[i_r]


@dataclass(frozen=True, slots=True, eq=False)
class _StereoSolve:
    K1: npt.NDArray[np.float64]
    D1: npt.NDArray[np.float64]
    K2: npt.NDArray[np.float64]
    D2: npt.NDArray[np.float64]
    R: npt.NDArray[np.float64]
    T: npt.NDArray[np.float64]
    per_view: npt.NDArray[np.float64]
    rms: float


def _solve_stereo(
    pairs: Sequence[
        tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]
    ],
    left: MonoCalibration,
    right: MonoCalibration,
    size: tuple[int, int],
    config: CalibrationConfig,
    what: str,
) -> _StereoSolve:
    fisheye = config.model == "equidistant"
    K1, D1 = left.camera.K.copy(), left.camera.D.copy()
    K2, D2 = right.camera.K.copy(), right.camera.D.copy()
    try:
        if fisheye:
            obj = [o.astype(np.float64).reshape(1, -1, 3) for o, _, _ in pairs]
            img1 = [a.astype(np.float64).reshape(1, -1, 2) for _, a, _ in pairs]
            img2 = [b.astype(np.float64).reshape(1, -1, 2) for _, _, b in pairs]
            flags = _flag("CALIB_FIX_INTRINSIC") | _flag("CALIB_FIX_SKEW")
            out = cv2.fisheye.stereoCalibrate(
                obj, img1, img2, K1, D1, K2, D2, size, flags=flags, criteria=_CRITERIA
            )
            R = np.asarray(out[5], dtype=np.float64)
            T = np.asarray(out[6], dtype=np.float64).reshape(3)
            per_view = _stereo_view_errors(pairs, K1, D1, K2, D2, R, T, fisheye=True)
            rms = math.sqrt(float(np.mean(per_view**2)))
        else:
            obj = [o.astype(np.float32) for o, _, _ in pairs]
            img1 = [a.astype(np.float32) for _, a, _ in pairs]
            img2 = [b.astype(np.float32) for _, _, b in pairs]
            flags = cv2.CALIB_USE_INTRINSIC_GUESS | _pinhole_flags(config)
            out_p = cv2.stereoCalibrateExtended(
                obj,
                img1,
                img2,
                K1,
                D1,
                K2,
                D2,
                size,
                np.eye(3),
                np.zeros(3),
                flags=flags,
                criteria=_CRITERIA,
            )
            rms = float(out_p[0])
            K1, D1, K2, D2 = (np.asarray(m, dtype=np.float64) for m in out_p[1:5])
            R = np.asarray(out_p[5], dtype=np.float64)
            T = np.asarray(out_p[6], dtype=np.float64).reshape(3)
            per_view = np.asarray(out_p[-1], dtype=np.float64).reshape(-1, 2)
    except cv2.error as err:
        msg = f"{what}: OpenCV could not solve the stereo calibration ({err.err})"
        raise CalibrationError(msg) from err
    if not (np.isfinite(R).all() and np.isfinite(T).all()) or np.linalg.norm(T) == 0:
        msg = f"{what}: the stereo calibration diverged (T = {T.tolist()})"
        raise CalibrationError(msg)
    return _StereoSolve(K1, D1.reshape(-1), K2, D2.reshape(-1), R, T, per_view, rms)


def _stereo_view_errors(
    pairs: Sequence[
        tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]
    ],
    K1: npt.NDArray[np.float64],
    D1: npt.NDArray[np.float64],
    K2: npt.NDArray[np.float64],
    D2: npt.NDArray[np.float64],
    R: npt.NDArray[np.float64],
    T: npt.NDArray[np.float64],
    *,
    fisheye: bool,
) -> npt.NDArray[np.float64]:
    """(N, 2) RMS of each pair with the board pose refined in the left camera."""
    out = np.zeros((len(pairs), 2))
    for i, (obj, uv1, uv2) in enumerate(pairs):
        o = obj.astype(np.float64).reshape(-1, 1, 3)
        if fisheye:
            # cv2.fisheye.solvePnP is OpenCV 5 only: fit on undistorted points instead.
            normalised = cv2.fisheye.undistortPoints(
                uv1.astype(np.float64).reshape(-1, 1, 2), K1, D1
            )
            _, rvec, tvec = cv2.solvePnP(o, normalised, np.eye(3), None)
        else:
            _, rvec, tvec = cv2.solvePnP(o, uv1.astype(np.float64), K1, D1)
        R1 = cv2.Rodrigues(rvec)[0]
        r2 = cv2.Rodrigues(R @ R1)[0].reshape(3)
        t2 = R @ np.asarray(tvec).reshape(3) + T
        p1 = _project(o, np.asarray(rvec).reshape(3), np.asarray(tvec).reshape(3), K1, D1, fisheye)
        p2 = _project(o, r2, t2, K2, D2, fisheye)
        out[i, 0] = math.sqrt(float(np.mean(np.sum((p1 - uv1) ** 2, axis=1))))
        out[i, 1] = math.sqrt(float(np.mean(np.sum((p2 - uv2) ** 2, axis=1))))
    return out


def _undistort_rectified(
    uv: npt.NDArray[np.float32],
    K: npt.NDArray[np.float64],
    D: npt.NDArray[np.float64],
    R: npt.NDArray[np.float64],
    P: npt.NDArray[np.float64],
    fisheye: bool,
) -> npt.NDArray[np.float64]:
    pts = uv.astype(np.float64).reshape(-1, 1, 2)
    if fisheye:
        out = cv2.fisheye.undistortPoints(pts, K, D, R=R, P=P)
    else:
        out = cv2.undistortPoints(pts, K, D, R=R, P=P)
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def rectified_epipolar_rms(
    left_uv: Sequence[npt.NDArray[np.float32]],
    right_uv: Sequence[npt.NDArray[np.float32]],
    left: CameraModel,
    right: CameraModel,
) -> float:
    """RMS vertical offset of matching points after rectification, pixels.

    Args:
        left_uv: per view, (N, 2) raw pixel positions in the left image.
        right_uv: per view, the same N points in the right image.
        left: left camera with its R and P.
        right: right camera with its R and P.

    Returns:
        sqrt(mean((v_left - v_right)^2)) over all points (cameracalibrator's
        epipolar error).
    """
    fisheye = left.distortion_model == "equidistant"
    diffs = []
    for a, b in zip(left_uv, right_uv, strict=True):
        ra = _undistort_rectified(a, left.K, left.D, left.R, left.P, fisheye)
        rb = _undistort_rectified(b, right.K, right.D, right.R, right.P, fisheye)
        diffs.append(ra[:, 1] - rb[:, 1])
    d = np.concatenate(diffs) if diffs else np.zeros(0)
    return math.sqrt(float(np.mean(d**2))) if d.size else math.nan


def calibrate_stereo(
    pairs: Sequence[tuple[Detection, Detection]],
    board: BoardSpec,
    config: CalibrationConfig | None = None,
    *,
    left_only: Sequence[Detection] = (),
    right_only: Sequence[Detection] = (),
    what: str = "stereo calibration",
) -> StereoCalibration:
    """Calibrate a stereo pair: each camera alone, then jointly, then rectify.

    Each camera is first calibrated on all of its views (outliers dropped), then
    ``stereoCalibrate`` refines both cameras and their relative pose on the pairs
    (fisheye: intrinsics fixed, as ``cv2.fisheye.stereoCalibrate`` is fragile when they
    move), outlier pairs dropped the same way; ``stereoRectify`` gives R and P with
    horizontal epipolar lines (zero disparity at infinity).

    Args:
        pairs: (left, right) detections of the same board at the same time.
        board: the target.
        config: model and thresholds.
        left_only: extra left views without a right partner (mono calibration only).
        right_only: extra right views.
        what: name used in error messages.

    Returns:
        The calibration.

    Raises:
        CalibrationError: too few pairs, degenerate coverage, sizes that differ, or
            OpenCV fails.
    """
    cfg = config or CalibrationConfig()
    if len(pairs) < cfg.min_views:
        msg = (
            f"{what}: too few views: {len(pairs)} pairs with the board in both images, "
            f"need at least {cfg.min_views}"
        )
        raise CalibrationError(msg)
    lefts = [p[0] for p in pairs] + list(left_only)
    rights = [p[1] for p in pairs] + list(right_only)
    size = _image_size(lefts + rights, what)
    left_mono = calibrate_mono(lefts, board, cfg, what=f"{what} (left)")
    right_mono = calibrate_mono(rights, board, cfg, what=f"{what} (right)")

    triples = []
    for l_det, r_det in pairs:
        ids, uv1, uv2 = _common(l_det, r_det)
        triples.append((board.object_points()[ids], uv1, uv2))
    keep = [i for i, t in enumerate(triples) if len(t[0]) >= 6]
    rejected: list[tuple[int, float]] = []
    max_drop = int(cfg.max_outlier_fraction * len(keep))
    solve = _solve_stereo([triples[i] for i in keep], left_mono, right_mono, size, cfg, what)
    while len(rejected) < max_drop and len(keep) > cfg.min_views:
        worst = _outlier(solve.per_view.max(axis=1), cfg)
        if worst is None:
            break
        rejected.append((keep[worst], float(solve.per_view[worst].max())))
        _log.info("%s: dropping pair %d (%.2f px RMS)", what, keep[worst], rejected[-1][1])
        del keep[worst]
        solve = _solve_stereo([triples[i] for i in keep], left_mono, right_mono, size, cfg, what)

    fisheye = cfg.model == "equidistant"
    pair = (solve.K1, solve.D1, solve.K2, solve.D2, size, solve.R, solve.T.reshape(3, 1))
    if fisheye:
        R1, R2, P1, P2, _ = cv2.fisheye.stereoRectify(
            *pair, cv2.CALIB_ZERO_DISPARITY, balance=cfg.alpha, fov_scale=1.0
        )
    else:
        R1, R2, P1, P2, _, _, _ = cv2.stereoRectify(
            *pair, flags=cv2.CALIB_ZERO_DISPARITY, alpha=cfg.alpha
        )
    left_cam = CameraModel(
        size[0], size[1], cfg.model, solve.K1, solve.D1, np.asarray(R1), np.asarray(P1)
    )
    right_cam = CameraModel(
        size[0], size[1], cfg.model, solve.K2, solve.D2, np.asarray(R2), np.asarray(P2)
    )
    used = [triples[i] for i in keep]
    epipolar = rectified_epipolar_rms(
        [t[1] for t in used], [t[2] for t in used], left_cam, right_cam
    )
    T_right_left = Pose(solve.T, Rotation.from_matrix(solve.R).as_quat())
    coverage = Coverage.from_params(np.stack([view_params(pairs[i][0], board) for i in keep]))
    return StereoCalibration(
        left_cam,
        right_cam,
        T_right_left,
        solve.rms,
        solve.per_view,
        tuple(keep),
        tuple(rejected),
        epipolar,
        left_mono,
        right_mono,
        coverage,
    )
