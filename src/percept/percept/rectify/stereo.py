"""Stereo rectification: Bouguet's method, extrinsics from camera_infos, pair rectifier.

Stereo pairs are rectified either with the R and P a stereo calibration wrote into their
camera_infos (what stereo_image_proc expects) or from two intrinsics and the extrinsics
between them (:func:`stereo_rectify`, Bouguet's method as ``cv2.stereoRectify``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.rectify.maps import (
    MapCache,
    RectifyMaps,
    compute_rectify_maps,
    model_key,
    rectify_image,
)
from percept.rectify.model import check_rectifiable

__all__ = ["StereoRectifier", "stereo_extrinsics", "stereo_rectify"]

_T = TypeVar("_T")


def _each_side(
    fn: Callable[[CameraModel], _T], left: CameraModel, right: CameraModel, what: str
) -> tuple[_T, _T]:
    """``fn`` of the left, then the right model; a CalibrationError names the side.

    Raises:
        CalibrationError: ``fn`` raised it, prefixed with ``"<side> <what>: "``.
    """
    out: list[_T] = []
    for side, model in (("left", left), ("right", right)):
        try:
            out.append(fn(model))
        except CalibrationError as err:
            msg = f"{side} {what}: {err}"
            raise CalibrationError(msg) from err
    return out[0], out[1]


def stereo_rectify(
    left: CameraModel, right: CameraModel, T_right_left: Pose, *, alpha: float = 0.0
) -> tuple[CameraModel, CameraModel]:
    """Rectify a calibrated stereo pair: fill R and P of both camera models.

    Bouguet's method: ``cv2.stereoRectify`` for pinhole models (plumb_bob,
    rational_polynomial), ``cv2.fisheye.stereoRectify`` (``balance = alpha``) for
    equidistant, with zero disparity at infinity (same principal point in both
    rectified images). The right P carries ``P[0, 3] = -fx * baseline``.

    Args:
        left: left camera intrinsics (K, D; R and P are replaced).
        right: right camera intrinsics, same size and distortion family as ``left``.
        T_right_left: pose of the left camera in the right camera's optical frame (takes
            left-frame points to the right frame; OpenCV's stereo R, T).
        alpha: 0 keeps only pixels valid in both images, 1 keeps every source pixel.

    Returns:
        (left, right) camera models with R and P of the rectified pair.

    Raises:
        CalibrationError: a model is not rectifiable, the sizes or distortion
            families differ, or the baseline is zero.
        ValueError: alpha outside 0..1.
    """
    if not 0.0 <= alpha <= 1.0:
        msg = f"alpha must be within 0..1, got {alpha}"
        raise ValueError(msg)
    _each_side(
        lambda model: check_rectifiable(replace(model, P=np.hstack([model.K, np.zeros((3, 1))]))),
        left,
        right,
        "camera",
    )
    if (left.width, left.height) != (right.width, right.height):
        msg = (
            f"left is {left.width}x{left.height} but right is {right.width}x{right.height}; "
            "stereo rectification needs one image size"
        )
        raise CalibrationError(msg)
    fisheye = {m.distortion_model == "equidistant" for m in (left, right)}
    if len(fisheye) != 1:
        msg = (
            f"left is {left.distortion_model} and right is {right.distortion_model}; "
            "stereo rectification needs both equidistant or both pinhole models"
        )
        raise CalibrationError(msg)
    T = T_right_left.as_matrix()
    R, t = T[:3, :3].copy(), T[:3, 3].reshape(3, 1).copy()
    if float(np.linalg.norm(t)) == 0.0:
        msg = "T_right_left has zero translation: a stereo pair needs a baseline"
        raise CalibrationError(msg)
    size = (left.width, left.height)
    pair = (left.K, left.D, right.K, right.D, size, R, t)
    if fisheye == {True}:
        R1, R2, P1, P2, _Q = cv2.fisheye.stereoRectify(
            *pair, cv2.CALIB_ZERO_DISPARITY, newImageSize=size, balance=alpha, fov_scale=1.0
        )
    else:
        R1, R2, P1, P2, _Q, _roi1, _roi2 = cv2.stereoRectify(
            *pair, flags=cv2.CALIB_ZERO_DISPARITY, alpha=alpha
        )
    return (
        replace(left, R=np.asarray(R1, np.float64), P=np.asarray(P1, np.float64)),
        replace(right, R=np.asarray(R2, np.float64), P=np.asarray(P2, np.float64)),
    )


def stereo_extrinsics(left: CameraModel, right: CameraModel) -> Pose:
    """``T_right_left`` of a rectified pair, recovered from its camera_infos' R and P.

    With rectified frames ``X_rect = R @ X_raw`` and ``P = K' [I | t]`` in a common
    rectified frame, ``T_right_left = [R_r^T R_l | R_r^T (t_r - t_l)]``. The inverse
    of :func:`stereo_rectify` for the extrinsics.

    Args:
        left: left camera_info model (R, P as stereo calibration wrote them).
        right: right camera_info model.

    Returns:
        Pose of the left camera in the right camera's optical frame.

    Raises:
        CalibrationError: a P has no invertible camera matrix.
    """
    t: list[npt.NDArray[np.float64]] = []
    for side, model in (("left", left), ("right", right)):
        try:
            t.append(np.asarray(np.linalg.solve(model.P[:, :3], model.P[:, 3]), np.float64))
        except np.linalg.LinAlgError as err:
            msg = f"{side} camera_info P[:3, :3] is singular: {model.P.tolist()}"
            raise CalibrationError(msg) from err
    T = np.eye(4)
    T[:3, :3] = right.R.T @ left.R
    T[:3, 3] = right.R.T @ (t[1] - t[0])
    return Pose.from_matrix(T)


def _pose_key(T: Pose | None) -> tuple[bytes, bytes] | None:
    if T is None:
        return None
    return T.translation_m.tobytes(), T.quat_xyzw.tobytes()


class StereoRectifier(MapCache[tuple[RectifyMaps, RectifyMaps]]):
    """Rectifies stereo pairs, computing both cameras' maps only when a model changes.

    Without extrinsics the camera_infos' own R and P are used, as stereo_image_proc
    does; the pair must then be a rectified calibration (the right P has a baseline).
    With ``T_right_left`` (or with ``alpha``), rectification is computed here by
    :func:`stereo_rectify`.

    Args:
        interpolation: OpenCV interpolation flag (:data:`INTERPOLATIONS`).
        alpha: None to keep R and P of the camera_infos (when no extrinsics are given);
            0..1 to rectify again with that free scaling.

    Raises:
        ValueError: unknown interpolation or alpha outside 0..1.
    """

    def maps(
        self, left: CameraModel, right: CameraModel, T_right_left: Pose | None = None
    ) -> tuple[RectifyMaps, RectifyMaps]:
        """Maps of both cameras, cached unless a model or the extrinsics changed.

        Args:
            left: left camera model.
            right: right camera model.
            T_right_left: extrinsics of an unrectified pair (see :func:`stereo_rectify`),
                None to use the camera_infos' R and P.

        Returns:
            (left maps, right maps); their ``rectified`` models are the rectified
            camera_infos of the pair.

        Raises:
            CalibrationError: a model is not rectifiable, or without extrinsics the
                pair carries no stereo rectification.
        """
        key = (model_key(left), model_key(right), _pose_key(T_right_left))
        return self._cached(key, lambda: self._compute(left, right, T_right_left))

    def _compute(
        self, left: CameraModel, right: CameraModel, T_right_left: Pose | None
    ) -> tuple[RectifyMaps, RectifyMaps]:
        if T_right_left is None:
            _each_side(check_rectifiable, left, right, "camera_info")
            if not right.P[:2, 3].any():
                msg = (
                    "right camera_info P has no baseline (P[0][3] = P[1][3] = 0): the pair "
                    "carries no stereo rectification; calibrate it as a stereo pair or give "
                    "the extrinsics"
                )
                raise CalibrationError(msg)
            if self.alpha is not None:
                T_right_left = stereo_extrinsics(left, right)
        if T_right_left is not None:
            left, right = stereo_rectify(left, right, T_right_left, alpha=self.alpha or 0.0)
        return _each_side(
            lambda model: compute_rectify_maps(model, interpolation=self.interpolation),
            left,
            right,
            "camera_info",
        )

    def rectify(
        self,
        left_image: npt.NDArray[np.generic],
        right_image: npt.NDArray[np.generic],
        left: CameraModel,
        right: CameraModel,
        T_right_left: Pose | None = None,
    ) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic], CameraModel, CameraModel]:
        """Rectify one stereo pair.

        Args:
            left_image: (H, W) or (H, W, C) raw left image (see :func:`rectify_image`).
            right_image: raw right image.
            left: left camera model.
            right: right camera model.
            T_right_left: extrinsics of an unrectified pair, or None (see :meth:`maps`).

        Returns:
            (left rectified, right rectified, left rectified model, right rectified
            model).

        Raises:
            CalibrationError: see :meth:`maps`.
            ValueError: an image does not fit its model or cannot be remapped.
        """
        left_maps, right_maps = self.maps(left, right, T_right_left)
        return (
            rectify_image(left_image, left_maps),
            rectify_image(right_image, right_maps),
            left_maps.rectified,
            right_maps.rectified,
        )
