"""A one-page PNG report of a calibration, drawn with OpenCV.

Panels: the used views with their detected corners (rejected outliers in red), the
coverage of x, y, size and skew as cameracalibrator's bars, a coverage map with every
board outline, per-view reprojection RMS as bars, and all corner residuals as a
scatter plot (magnified).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.board import BoardSpec, Detection, to_uint8
from percept.calib.render import project_points
from percept.calib.solve import MonoCalibration, StereoCalibration
from percept.calib.views import board_outline_uv
from percept.errors import CalibrationError
from percept.geometry.se3 import transform_points

__all__ = ["corner_residuals", "mono_report", "stereo_report", "write_png"]

_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_GREEN = (60, 170, 60)
_RED = (40, 40, 220)
_BLUE = (200, 120, 40)
_GREY = (160, 160, 160)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PANEL_W = 960
_THUMB_W = 232


def corner_residuals(
    detections: Sequence[Detection], board: BoardSpec, result: MonoCalibration
) -> list[npt.NDArray[np.float64]]:
    """Reprojection residuals (detected - projected) of each used view.

    Args:
        detections: the detections given to ``calibrate_mono``.
        board: the target.
        result: the calibration.

    Returns:
        One (N_i, 2) float64 array per used view, pixels.
    """
    out = []
    for index, pose in zip(result.used, result.T_cam_board, strict=True):
        det = detections[index]
        pts = transform_points(pose.as_matrix(), det.object_points(board))
        out.append(det.corners_uv.astype(np.float64) - project_points(pts, result.camera))
    return out


def _text(
    img: npt.NDArray[np.uint8],
    text: str,
    org: tuple[int, int],
    scale: float = 0.5,
    color: tuple[int, int, int] = _BLACK,
) -> None:
    cv2.putText(img, text, org, _FONT, scale, color, 1, cv2.LINE_AA)


def _bgr(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    img = to_uint8(image)
    if img.ndim == 2:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if img.shape[2] == 4:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    return np.ascontiguousarray(img, dtype=np.uint8)


def _thumbnails(
    images: Sequence[npt.NDArray[np.generic] | None],
    detections: Sequence[Detection],
    result: MonoCalibration,
) -> npt.NDArray[np.uint8]:
    rejected = {i for i, _ in result.rejected}
    errors = dict(zip(result.used, result.per_view_rms_px, strict=True))
    order = list(result.used) + sorted(rejected)
    cols = _PANEL_W // (_THUMB_W + 8)
    width, height = detections[0].image_size
    th = round(_THUMB_W * height / width)
    rows = max(1, math.ceil(len(order) / cols))
    panel = np.full((rows * (th + 26) + 30, _PANEL_W, 3), 255, np.uint8)
    _text(panel, "views used (green) and dropped as outliers (red)", (8, 20), 0.55)
    for k, index in enumerate(order):
        det = detections[index]
        image = images[index] if index < len(images) else None
        thumb: npt.NDArray[np.uint8] = np.full((th, _THUMB_W, 3), 230, np.uint8)
        if image is not None:
            thumb = np.asarray(
                cv2.resize(_bgr(image), (_THUMB_W, th), interpolation=cv2.INTER_AREA),
                dtype=np.uint8,
            )
        scale = _THUMB_W / det.image_size[0]
        color = _RED if index in rejected else _GREEN
        for u, v in det.corners_uv * scale:
            cv2.circle(thumb, (round(float(u)), round(float(v))), 2, color, -1, cv2.LINE_AA)
        x0 = 8 + (k % cols) * (_THUMB_W + 8)
        y0 = 30 + (k // cols) * (th + 26)
        panel[y0 : y0 + th, x0 : x0 + _THUMB_W] = thumb
        if index in rejected:
            err = dict(result.rejected)[index]
            label = f"#{index} dropped {err:.2f} px"
        else:
            label = f"#{index} {errors[index]:.2f} px"
        _text(panel, label, (x0, y0 + th + 16), 0.42, color)
    return panel


def _coverage_panel(
    detections: Sequence[Detection], board: BoardSpec, result: MonoCalibration
) -> npt.NDArray[np.uint8]:
    panel = np.full((250, _PANEL_W, 3), 255, np.uint8)
    _text(panel, f"coverage: {result.coverage.summary()}", (8, 20), 0.55)
    for k, item in enumerate(result.coverage.params):
        y = 50 + k * 45
        _text(panel, item.name, (8, y + 12))
        x0, x1 = 60, 420
        cv2.rectangle(panel, (x0, y), (x1, y + 16), _GREY, 1)
        lo = x0 + round(min(max(item.low, 0.0), 1.0) * (x1 - x0))
        hi = x0 + round(min(max(item.high, 0.0), 1.0) * (x1 - x0))
        color = _GREEN if item.progress >= 1.0 else _BLUE
        cv2.rectangle(panel, (lo, y), (max(hi, lo + 2), y + 16), color, -1)
        _text(panel, f"{item.progress * 100:.0f}%", (x1 + 8, y + 12))
    # Coverage map: each used board outline in the image frame.
    width, height = detections[0].image_size
    mh = 220
    mw = round(mh * width / height)
    x0 = _PANEL_W - mw - 10
    cv2.rectangle(panel, (x0, 20), (x0 + mw, 20 + mh), _BLACK, 1)
    scale = mh / height
    for index in result.used:
        outline = board_outline_uv(detections[index], board) * scale + [x0, 20]
        cv2.polylines(panel, [np.round(outline).astype(np.int32)], True, _BLUE, 1, cv2.LINE_AA)
    return panel


def _residual_panel(
    detections: Sequence[Detection], board: BoardSpec, result: MonoCalibration
) -> npt.NDArray[np.uint8]:
    panel = np.full((260, _PANEL_W, 3), 255, np.uint8)
    _text(
        panel,
        f"per-view RMS (overall {result.rms_px:.3f} px); corner residuals x50",
        (8, 20),
        0.55,
    )
    errors = np.concatenate([result.per_view_rms_px, [e for _, e in result.rejected]])
    top = max(float(errors.max()) * 1.15, 0.1) if errors.size else 1.0
    x0, y0, w, h = 40, 40, 520, 200
    cv2.line(panel, (x0, y0 + h), (x0 + w, y0 + h), _BLACK, 1)
    cv2.line(panel, (x0, y0), (x0, y0 + h), _BLACK, 1)
    _text(panel, f"{top:.2f}", (2, y0 + 10), 0.35)
    _text(panel, "0", (26, y0 + h), 0.35)
    n = len(errors)
    bar = max(2, min(30, (w - 10) // max(n, 1) - 2))
    for k, err in enumerate(errors):
        color = _GREEN if k < len(result.per_view_rms_px) else _RED
        x = x0 + 6 + k * (bar + 2)
        cv2.rectangle(panel, (x, y0 + h - round(err / top * h)), (x + bar, y0 + h), color, -1)
    median = float(np.median(result.per_view_rms_px)) if result.per_view_rms_px.size else 0.0
    ym = y0 + h - round(median / top * h)
    cv2.line(panel, (x0, ym), (x0 + w, ym), _BLUE, 1)
    _text(panel, f"median {median:.2f}", (x0 + w - 110, ym - 4), 0.4, _BLUE)
    # Residual scatter, 50 x magnified, around a cross.
    cx, cy, r = 780, 145, 100
    cv2.circle(panel, (cx, cy), r, _GREY, 1, cv2.LINE_AA)
    cv2.line(panel, (cx - r, cy), (cx + r, cy), _GREY, 1)
    cv2.line(panel, (cx, cy - r), (cx, cy + r), _GREY, 1)
    _text(panel, f"{r / 50:.0f} px", (cx + r - 30, cy - r + 10), 0.4)
    for res in corner_residuals(detections, board, result):
        for dx, dy in np.clip(res * 50, -r, r):
            cv2.circle(panel, (cx + round(float(dx)), cy + round(float(dy))), 1, _BLUE, -1)
    return panel


def _header(lines: Sequence[str]) -> npt.NDArray[np.uint8]:
    panel = np.full((22 * len(lines) + 12, _PANEL_W, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        _text(panel, line, (8, 22 + 22 * k), 0.55 if k else 0.65)
    return panel


def _mono_lines(title: str, result: MonoCalibration) -> list[str]:
    K = result.camera.K
    std = result.std
    return [
        title,
        f"{result.camera.distortion_model}, {result.camera.width}x{result.camera.height}, "
        f"RMS {result.rms_px:.3f} px over {len(result.used)} views "
        f"({len(result.rejected)} dropped)",
        f"fx {K[0, 0]:.2f} +- {std.get('fx', math.nan):.2f}  fy {K[1, 1]:.2f} +- "
        f"{std.get('fy', math.nan):.2f}  cx {K[0, 2]:.2f} +- {std.get('cx', math.nan):.2f}  "
        f"cy {K[1, 2]:.2f} +- {std.get('cy', math.nan):.2f} px",
        "D " + " ".join(f"{d:.5f}" for d in result.camera.D),
    ]


def mono_report(
    images: Sequence[npt.NDArray[np.generic] | None],
    detections: Sequence[Detection],
    board: BoardSpec,
    result: MonoCalibration,
    *,
    title: str = "mono calibration",
) -> npt.NDArray[np.uint8]:
    """Draw the report of a mono calibration.

    Args:
        images: the images of ``detections`` (any size: thumbnails do), None where not
            kept; mono or bgr8.
        detections: the detections given to ``calibrate_mono``.
        board: the target.
        result: the calibration.
        title: first line of the report.

    Returns:
        (H, 960, 3) uint8 bgr8 image.
    """
    return np.concatenate(
        [
            _header(_mono_lines(title, result)),
            _thumbnails(images, detections, result),
            _coverage_panel(detections, board, result),
            _residual_panel(detections, board, result),
        ]
    )


def stereo_report(
    images: Sequence[tuple[npt.NDArray[np.generic] | None, npt.NDArray[np.generic] | None]],
    pairs: Sequence[tuple[Detection, Detection]],
    board: BoardSpec,
    result: StereoCalibration,
    *,
    title: str = "stereo calibration",
) -> npt.NDArray[np.uint8]:
    """Draw the report of a stereo calibration: the stereo figures, then each camera.

    Args:
        images: (left, right) images of ``pairs`` (any size), None where not kept.
        pairs: the pairs given to ``calibrate_stereo``.
        board: the target.
        result: the calibration.
        title: first line of the report.

    Returns:
        (H, 960, 3) uint8 bgr8 image.
    """
    header = _header(
        [
            title,
            f"stereo RMS {result.rms_px:.3f} px over {len(result.used)} pairs "
            f"({len(result.rejected)} dropped); rectified epipolar RMS "
            f"{result.epipolar_rms_px:.3f} px",
            f"baseline {result.baseline_m * 1000:.2f} mm, rotation {result.rotation_deg:.3f} deg, "
            f"T_right_left t = {np.round(result.T_right_left.translation_m, 5).tolist()} m",
        ]
    )
    left_dets = [p[0] for p in pairs]
    right_dets = [p[1] for p in pairs]
    return np.concatenate(
        [
            header,
            mono_report([i[0] for i in images], left_dets, board, result.left_mono, title="left"),
            mono_report(
                [i[1] for i in images], right_dets, board, result.right_mono, title="right"
            ),
        ]
    )


def write_png(path: str | Path, image: npt.NDArray[np.uint8]) -> Path:
    """Write a report image as PNG (parent folders are created).

    Raises:
        CalibrationError: the file cannot be written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image):
        msg = f"{out}: cannot write the PNG report"
        raise CalibrationError(msg)
    return out
