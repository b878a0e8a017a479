"""3D boxes from 2D detections and a registered depth image.

For each box, the depths of its central part (``center_fraction`` of its width and
height, so that background at the box edges stays out) are taken; with enough valid
ones, the visible surface is at their median depth and the depth extent of the object
is their 10..90 % percentile spread. The box centre is back-projected through the
camera model (undistorted for plumb_bob / rational_polynomial / equidistant cameras) to
``surface + extent / 2``; width and height are the box size at the surface depth. Everything
is in the camera optical frame (x right, y down, z forward, REP 103).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import Disparity, Image
from percept.errors import InputRejected
from percept.geometry.camera import CameraModel
from percept.params import param

__all__ = ["Box3D", "Lift3DConfig", "depth_from_disparity", "depth_metres", "lift_boxes"]


@dataclass(frozen=True, slots=True)
class Lift3DConfig:
    """Settings of the depth statistic.

    Attributes:
        center_fraction: part of the box (per side) whose depths are used, 0..1.
        min_valid_fraction: least share of valid depths in that part.
        min_depth_m: nearer depths are invalid, metres.
        max_depth_m: farther depths are invalid, metres.
    """

    center_fraction: float = param(
        0.5, "part of each box whose depths are used (per side)", min_value=0.05, max_value=1.0
    )
    min_valid_fraction: float = 0.1
    min_depth_m: float = 0.1
    max_depth_m: float = 50.0


@dataclass(frozen=True, slots=True, eq=False)
class Box3D:
    """One detection lifted to 3D.

    Attributes:
        index: index of the 2D detection.
        center_m: (3,) float64 box centre, metres, camera optical frame.
        size_m: (3,) float64 extent along x, y, z of the optical frame, metres.
        valid_fraction: share of valid depths in the box's central part.
    """

    index: int
    center_m: npt.NDArray[np.float64]
    size_m: npt.NDArray[np.float64]
    valid_fraction: float


def depth_metres(image: Image) -> npt.NDArray[np.float32]:
    """A depth image as (H, W) float32 metres, NaN where invalid (REP 118).

    ``32FC1`` is metres (0, NaN and Inf invalid); ``16UC1`` / ``mono16`` millimetres
    (0 invalid).

    Raises:
        InputRejected: another encoding, or an empty image.
    """
    if image.width == 0 or image.height == 0:
        msg = f"empty depth image {image.width}x{image.height}"
        raise InputRejected(msg)
    data = np.asarray(image.data)
    if image.encoding == "32FC1":
        depth = data.astype(np.float32, copy=True)
        depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
        return depth
    if image.encoding in ("16UC1", "mono16"):
        mm: npt.NDArray[np.float32] = data.astype(np.float32) * np.float32(0.001)
        mm[data == 0] = np.nan
        return mm
    msg = f"depth image must be 32FC1 (metres) or 16UC1 (millimetres), got {image.encoding}"
    raise InputRejected(msg)


def depth_from_disparity(disparity: Disparity) -> npt.NDArray[np.float32]:
    """Depth (H, W) float32 metres from a stereo_msgs/DisparityImage: Z = f B / d.

    Disparities below ``max(min_disparity, 0)``, zero or non-finite are invalid (NaN).

    Raises:
        InputRejected: non-positive focal length or baseline, or an empty image.
    """
    d = np.asarray(disparity.image, dtype=np.float32)
    if d.size == 0:
        msg = "empty disparity image"
        raise InputRejected(msg)
    fb = disparity.focal_length_px * disparity.baseline_m
    if not np.isfinite(fb) or fb <= 0:
        msg = (
            f"disparity: focal length {disparity.focal_length_px} px x baseline "
            f"{disparity.baseline_m} m must be > 0"
        )
        raise InputRejected(msg)
    valid = np.isfinite(d) & (d > max(disparity.min_disparity, 0.0))
    depth = np.full(d.shape, np.nan, dtype=np.float32)
    np.divide(np.float32(fb), d, out=depth, where=valid)
    return depth


def _normalised(model: CameraModel, uv: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, 2) normalised image coordinates (x/z, y/z) of pixels, undistorted."""
    pts = uv.reshape(-1, 1, 2).astype(np.float64)
    d = np.asarray(model.D, dtype=np.float64)
    if model.distortion_model == "equidistant" and d.size >= 4 and np.any(d):
        out = cv2.fisheye.undistortPoints(pts, model.K, d[:4])
    elif d.size and np.any(d):
        out = cv2.undistortPoints(pts, model.K, d)
    else:
        k = model.K
        xy = (uv - k[:2, 2]) / np.array([k[0, 0], k[1, 1]])
        return np.asarray(xy, dtype=np.float64)
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def lift_boxes(
    boxes_xyxy: npt.NDArray[np.floating],
    depth_m: npt.NDArray[np.float32],
    model: CameraModel,
    image_size: tuple[int, int],
    config: Lift3DConfig | None = None,
) -> list[Box3D]:
    """3D centres and sizes of 2D boxes from a depth image registered to the camera.

    Args:
        boxes_xyxy: (N, 4) boxes in pixels of the image the detector saw.
        depth_m: (H_d, W_d) float32 depth, metres, NaN invalid; registered to the same
            camera (it may have another resolution: boxes are scaled to it).
        model: the camera model of the detected image (its camera_info).
        image_size: (width, height) of the detected image, pixels.
        config: depth statistic settings.

    Returns:
        One Box3D per box with enough valid depth, in input order.
    """
    cfg = config or Lift3DConfig()
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    if not boxes.shape[0]:
        return []
    height_d, width_d = depth_m.shape[:2]
    sx, sy = width_d / image_size[0], height_d / image_size[1]
    # Sizes from the model of the detected image (camera_info may be of another size:
    # scale K like image_proc's resize would).
    mx, my = image_size[0] / model.width, image_size[1] / model.height
    scaled = np.diag([mx, my, 1.0]) @ model.K
    fx, fy = scaled[0, 0], scaled[1, 1]
    centers_uv = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
    rays = _normalised(model, centers_uv / np.array([mx, my]))
    shrink = (1.0 - cfg.center_fraction) / 2
    out: list[Box3D] = []
    # One small window per detection (tens per frame): the percentiles need its pixels.
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        w, h = x2 - x1, y2 - y1
        c0 = int(np.clip(np.floor((x1 + shrink * w) * sx), 0, width_d - 1))
        c1 = int(np.clip(np.ceil((x2 - shrink * w) * sx), c0 + 1, width_d))
        r0 = int(np.clip(np.floor((y1 + shrink * h) * sy), 0, height_d - 1))
        r1 = int(np.clip(np.ceil((y2 - shrink * h) * sy), r0 + 1, height_d))
        window = depth_m[r0:r1, c0:c1]
        valid = window[
            np.isfinite(window) & (window >= cfg.min_depth_m) & (window <= cfg.max_depth_m)
        ]
        fraction = valid.size / max(window.size, 1)
        if not valid.size or fraction < cfg.min_valid_fraction:
            continue
        p10, p50, p90 = np.percentile(valid, [10, 50, 90])
        width_m = w * p50 / fx
        height_m = h * p50 / fy
        extent = float(np.clip(p90 - p10, 0.01, max(width_m, height_m, 0.01)))
        z = float(p50) + extent / 2
        center = np.array([rays[i, 0] * z, rays[i, 1] * z, z], dtype=np.float64)
        size = np.array([width_m, height_m, extent], dtype=np.float64)
        out.append(Box3D(i, center, size, float(fraction)))
    return out
