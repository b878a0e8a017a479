"""Geometry of a rectified stereo pair: focal length, baseline, depth from disparity.

``StereoGeometry.from_models`` reads the two rectified camera_infos as image_geometry's
``StereoCameraModel`` does (P of each camera, binning and region of interest applied)
and refuses pairs that are not rectified: R not the identity, no baseline in the right
P, rows that do not line up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel
from percept.rectify import expected_image_size

__all__ = ["StereoGeometry", "depth_from_disparity", "projection_of", "rectified_pair_models"]

FloatImage = npt.NDArray[np.float32]
# Rectified camera_infos carry R = I exactly (stereo_rectify, camera_calibration's
# rectified output); YAML round trips keep 1e-9.
_R_TOLERANCE = 1e-6
# The two rectified cameras share fx and fy; rows must line up to a fraction of a pixel.
_FOCAL_RTOL = 1e-3
_ROW_TOLERANCE_PX = 0.5


def projection_of(model: CameraModel) -> npt.NDArray[np.float64]:
    """(3, 4) float64 P of the image the camera_info describes (binning and ROI applied).

    As image_geometry: the region of interest shifts the principal point, binning
    divides the first two rows.
    """
    P: npt.NDArray[np.float64] = model.P.copy()
    roi = model.roi
    if roi.x_offset or roi.y_offset:
        P[0, 2] -= roi.x_offset
        P[1, 2] -= roi.y_offset
    bx, by = max(model.binning_x, 1), max(model.binning_y, 1)
    P[0] /= bx
    P[1] /= by
    return P


def rectified_pair_models(
    width: int, height: int, focal_px: float, baseline_m: float
) -> tuple[CameraModel, CameraModel]:
    """Camera_infos of an ideal rectified pair: no distortion, R = I, centred principal point.

    Args:
        width: image width, pixels.
        height: image height, pixels.
        focal_px: fx = fy of both cameras, pixels.
        baseline_m: distance between the cameras, metres (right P[0][3] = -fx * baseline).

    Returns:
        (left, right) plumb_bob camera models.
    """
    f = focal_px
    K = np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = P_left.copy()
    P_right[0, 3] = -f * baseline_m
    return (
        CameraModel(width, height, "plumb_bob", K, np.zeros(5), np.eye(3), P_left),
        CameraModel(width, height, "plumb_bob", K, np.zeros(5), np.eye(3), P_right),
    )


@dataclass(frozen=True, slots=True)
class StereoGeometry:
    """What disparity, depth and clouds need from a rectified pair.

    Attributes:
        width: image width, pixels.
        height: image height, pixels.
        fx: left focal length along x, pixels.
        fy: left focal length along y, pixels.
        cx: left principal point x, pixels.
        cy: left principal point y, pixels.
        focal_length_px: the focal length of DisparityImage ``f`` (the right camera's
            fx, as stereo_image_proc), pixels.
        baseline_m: distance between the optical centres, metres (DisparityImage ``t``).
        cx_offset_px: ``cx_left - cx_right``, pixels; published disparities are
            ``x_left - x_right - cx_offset_px`` so that depth is ``f * t / d``.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    focal_length_px: float
    baseline_m: float
    cx_offset_px: float

    @classmethod
    def from_models(cls, left: CameraModel, right: CameraModel) -> StereoGeometry:
        """Read a rectified pair's camera_infos.

        Raises:
            CalibrationError: naming the camera and field: R not the identity
                (camera_info of raw images), no baseline in the right P, a negative
                baseline (left and right swapped), P not a projection, focal lengths
                or rows that differ between the cameras, or different image sizes.
        """
        for side, model in (("left", left), ("right", right)):
            if not np.allclose(model.R, np.eye(3), rtol=0.0, atol=_R_TOLERANCE):
                msg = (
                    f"{side}/camera_info is not of rectified images: R is not the identity "
                    f"({np.round(model.R, 6).ravel().tolist()}); use the camera_info of "
                    f"image_rect ({side}/camera_info_rect from stereo_rectify)"
                )
                raise CalibrationError(msg)
            P = model.P
            if not (np.isfinite(P).all() and P[0, 0] > 0 and P[1, 1] > 0 and P[2, 2] != 0):
                msg = (
                    f"{side}/camera_info P is not a projection: {P.ravel().tolist()} "
                    "(uncalibrated camera?)"
                )
                raise CalibrationError(msg)
        size_left, size_right = expected_image_size(left), expected_image_size(right)
        if size_left != size_right:
            msg = (
                "left and right camera_info describe different image sizes: "
                f"{size_left[0]}x{size_left[1]} vs {size_right[0]}x{size_right[1]}"
            )
            raise CalibrationError(msg)
        P_left, P_right = projection_of(left), projection_of(right)
        tx_right = P_right[0, 3] - P_left[0, 3]
        if tx_right == 0:
            msg = (
                "right/camera_info P has no baseline (P[0][3] = 0): expected -fx * baseline "
                "from a stereo calibration"
            )
            raise CalibrationError(msg)
        baseline_m = -tx_right / P_right[0, 0]
        if baseline_m < 0:
            msg = (
                f"right/camera_info P[0][3] = {P_right[0, 3]} gives a negative baseline "
                f"({baseline_m:.4f} m): are left and right swapped?"
            )
            raise CalibrationError(msg)
        for name, a, b in (
            ("fx", P_left[0, 0], P_right[0, 0]),
            ("fy", P_left[1, 1], P_right[1, 1]),
        ):
            if abs(a - b) > _FOCAL_RTOL * max(a, b):
                msg = (
                    f"left and right P differ in {name} ({a:.3f} vs {b:.3f} px): "
                    "not a rectified pair"
                )
                raise CalibrationError(msg)
        if abs(P_left[1, 2] - P_right[1, 2]) > _ROW_TOLERANCE_PX:
            msg = (
                f"left and right P differ in cy ({P_left[1, 2]:.2f} vs {P_right[1, 2]:.2f} "
                "px): rows are not aligned, not a rectified pair"
            )
            raise CalibrationError(msg)
        return cls(
            width=size_left[0],
            height=size_left[1],
            fx=float(P_left[0, 0]),
            fy=float(P_left[1, 1]),
            cx=float(P_left[0, 2]),
            cy=float(P_left[1, 2]),
            focal_length_px=float(P_right[0, 0]),
            baseline_m=float(baseline_m),
            cx_offset_px=float(P_left[0, 2] - P_right[0, 2]),
        )

    def depth(self, disparity: FloatImage) -> FloatImage:
        """Depth of published disparities (see :func:`depth_from_disparity`)."""
        return depth_from_disparity(disparity, self.focal_length_px, self.baseline_m)


def depth_from_disparity(
    disparity: FloatImage, focal_length_px: float, baseline_m: float
) -> FloatImage:
    """(H, W) float32 depth ``f * B / d``, metres; NaN where d <= 0 or NaN (REP 118).

    Args:
        disparity: (H, W) float32 disparity, pixels, NaN none.
        focal_length_px: focal length, pixels.
        baseline_m: baseline, metres.

    >>> depth_from_disparity(np.array([[10.0, 0.0, np.nan]], np.float32), 500.0, 0.1).tolist()
    [[5.0, nan, nan]]
    """
    fb = np.float32(focal_length_px * baseline_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = fb / disparity
    depth[~(disparity > 0)] = np.nan
    out: FloatImage = depth.astype(np.float32, copy=False)
    return out
