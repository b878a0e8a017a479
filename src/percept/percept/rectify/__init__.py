"""Rectification: undistort and rectify camera images with cached fixed-point remap tables.

The package's modules: ``model`` (image size, checks, the rectified camera model),
``maps`` (building, caching and applying the remap tables) and ``stereo`` (stereo
rectification and the pair rectifier); the names below are re-exported from them.

How the maps are built (as ``image_geometry.PinholeCameraModel`` does) and why they are
fixed-point: see :mod:`percept.rectify.maps`.

A rectified image is a pinhole image whose camera_info is ``K = P[:3, :3]``, ``D = 0``,
``R = I`` and the same P (:func:`rectified_model`). Stereo pairs are rectified either
with the R and P a stereo calibration wrote into their camera_infos (what
stereo_image_proc expects) or from two intrinsics and the extrinsics between them
(:func:`stereo_rectify`, Bouguet's method as ``cv2.stereoRectify``).

Pixel coordinates are ``uv`` (x = column, y = row); images are (H, W) or (H, W, C).
"""

from __future__ import annotations

from percept.rectify.maps import (
    INTERPOLATIONS,
    Rectifier,
    RectifyMaps,
    compute_rectify_maps,
    optimal_projection,
    rectify_image,
)
from percept.rectify.model import check_rectifiable, expected_image_size, rectified_model
from percept.rectify.stereo import StereoRectifier, stereo_extrinsics, stereo_rectify

__all__ = [
    "INTERPOLATIONS",
    "Rectifier",
    "RectifyMaps",
    "StereoRectifier",
    "check_rectifiable",
    "compute_rectify_maps",
    "expected_image_size",
    "optimal_projection",
    "rectified_model",
    "rectify_image",
    "stereo_extrinsics",
    "stereo_rectify",
]
