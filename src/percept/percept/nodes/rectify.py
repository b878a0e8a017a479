"""Rectification nodes: image_proc's rectify for one camera, and a stereo pair at once.

``RectifyNode`` pairs an image (``image_raw``, ``image_mono`` or ``image_color``) with
its camera_info by exact stamp and publishes ``image_rect`` in the input's encoding,
plus the rectified camera_info. ``StereoRectifyNode`` does the same for
``left/`` and ``right/`` and publishes the rectified camera_infos that stereo_image_proc's
disparity node expects. Maps are computed once per camera model (``percept.rectify``).
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from percept.domain import CameraInfo, Image
from percept.errors import CalibrationError, InputRejected, TransformError
from percept.geometry.pose import Pose
from percept.msgtypes import CAMERA_INFO, IMAGE
from percept.node import SENSOR_DATA, Input, Node, Output, Parameter, Sync
from percept.nodes._camera import (
    check_image_size,
    image_info_queue_param,
    image_info_sync,
    reject_bayer,
    stereo_sync,
    stereo_sync_params,
)
from percept.rectify import (
    INTERPOLATIONS,
    Rectifier,
    RectifyMaps,
    StereoRectifier,
    rectify_image,
)

__all__ = ["RectifyNode", "StereoRectifyNode"]

# cv2.remap takes these element types; Bayer mosaics must be debayered first.
_REMAP_DTYPES = ("u1", "u2", "i2", "f4", "f8")
_R = TypeVar("_R", Rectifier, StereoRectifier)


def _interpolation_param() -> Parameter:
    return Parameter(
        "interpolation",
        "integer",
        1,
        "0 nearest, 1 linear, 2 cubic, 3 area (remap: linear), 4 lanczos4",
        min_value=0,
        max_value=len(INTERPOLATIONS) - 1,
    )


def _alpha_param(description: str) -> Parameter:
    return Parameter("alpha", "double", -1.0, description, min_value=-1.0, max_value=1.0)


def _check_image(image: Image, where: str) -> None:
    """Reject images cv2.remap cannot rectify, naming the input."""
    reject_bayer(image, where, "debayer it first (rectify image_mono or image_color)")
    channels = image.data.shape[2] if image.data.ndim == 3 else 1
    if image.data.dtype.str[1:] not in _REMAP_DTYPES or channels > 4:
        msg = (
            f"{where}: encoding {image.encoding} ({image.data.dtype}, {channels} channels) "
            "cannot be rectified; expected 8U, 16U, 16S, 32F or 64F pixels, <= 4 channels"
        )
        raise InputRejected(msg)


def _check_size(image: Image, maps: RectifyMaps, where: str, info_where: str) -> None:
    scaled = maps.size != (maps.source.width, maps.source.height)
    note = " (after binning and roi)" if scaled else ""
    check_image_size(image, maps.size, where, info_where, note)


def _alpha(value: float) -> float | None:
    return None if value < 0 else value


def _new_rectifier(kind: type[_R], node: Node) -> _R:
    """A ``kind`` rectifier with the node's ``interpolation`` and ``alpha`` parameters."""
    return kind(
        interpolation=INTERPOLATIONS[node.param_int("interpolation")],
        alpha=_alpha(node.param_float("alpha")),
    )


class RectifyNode(Node):
    """Rectifies the images of one camera, as image_proc's rectify node.

    The image and its camera_info are paired by exact stamp. Mono and colour images keep
    their encoding; pixels from outside the raw image are 0 (NaN for float images).
    Rectification maps are fixed-point, computed once and recomputed only when the
    camera_info changes (or a parameter does). ``alpha`` >= 0 rectifies to a new
    projection instead of the camera_info's P (0: only valid pixels, 1: every raw
    pixel); ``camera_info_rect`` always describes ``image_rect``.
    """

    NAME = "rectify"
    DESCRIPTION = "image + camera_info -> image_rect + rectified camera_info"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input(
            "image", "image", IMAGE, SENSOR_DATA, "raw image (image_raw, image_mono, image_color)"
        ),
        Input("camera_info", "camera_info", CAMERA_INFO, SENSOR_DATA, "calibration of the image"),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("image_rect", "image_rect", IMAGE, SENSOR_DATA, "rectified image, same encoding"),
        Output(
            "camera_info_rect",
            "camera_info_rect",
            CAMERA_INFO,
            SENSOR_DATA,
            "camera_info of image_rect: K = P[:3, :3], D = 0, R = I",
        ),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (image_info_sync(),)
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        _interpolation_param(),
        _alpha_param(
            "-1 rectifies to camera_info's P; 0..1 to a new P (0 valid pixels only, 1 all)"
        ),
        image_info_queue_param(),
    )

    def setup(self) -> None:
        """(Re)create the rectifier; parameters changed, so maps are recomputed."""
        self.rectifier = _new_rectifier(Rectifier, self)

    def on_image_info(self, image: Image, info: CameraInfo) -> dict[str, object]:
        """Rectify one image with its camera_info."""
        _check_image(image, "image")
        try:
            maps = self.rectifier.maps(info.model)
        except CalibrationError as err:
            msg = f"camera_info: {err}"
            raise InputRejected(msg) from err
        _check_size(image, maps, "image", "camera_info")
        rectified = rectify_image(image.data, maps)
        return {
            "image_rect": Image(image.header, image.encoding, rectified),
            "camera_info_rect": CameraInfo(info.header, maps.rectified),
        }

    def diagnostic_values(self) -> list[tuple[str, str]]:
        """How often maps were computed (once per camera model)."""
        return [("maps_computed", str(self.rectifier.computed))]


class StereoRectifyNode(Node):
    """Rectifies a stereo pair and publishes what stereo_image_proc's disparity node needs.

    Left and right images and camera_infos are synchronised (exact stamps, or
    message_filters' approximate policy with ``approximate_sync``). With
    ``extrinsics_source: camera_info`` the R and P that stereo calibration wrote into the
    camera_infos are used, as stereo_image_proc does (``alpha`` >= 0 recomputes them
    from the same extrinsics); with ``tf``, the pair is rectified here from
    ``T_right_left``, looked up between the two camera_info frame_ids. The rectified
    camera_infos (K = P[:3, :3], D = 0, R = I, P with the baseline) go out beside the
    rectified images; they equal the input P when nothing is recomputed.
    """

    NAME = "stereo_rectify"
    DESCRIPTION = "left/right image + camera_info -> left/right image_rect + camera_info"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("left_image", "left/image_raw", IMAGE, SENSOR_DATA, "left raw image"),
        Input("left_camera_info", "left/camera_info", CAMERA_INFO, SENSOR_DATA, "left calibration"),
        Input("right_image", "right/image_raw", IMAGE, SENSOR_DATA, "right raw image"),
        Input(
            "right_camera_info", "right/camera_info", CAMERA_INFO, SENSOR_DATA, "right calibration"
        ),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("left_image_rect", "left/image_rect", IMAGE, SENSOR_DATA, "left rectified image"),
        Output("right_image_rect", "right/image_rect", IMAGE, SENSOR_DATA, "right rectified image"),
        Output(
            "left_camera_info_rect",
            "left/camera_info_rect",
            CAMERA_INFO,
            SENSOR_DATA,
            "left rectified camera_info",
        ),
        Output(
            "right_camera_info_rect",
            "right/camera_info_rect",
            CAMERA_INFO,
            SENSOR_DATA,
            "right rectified camera_info (P[0][3] = -fx * baseline)",
        ),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (stereo_sync(),)
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        _interpolation_param(),
        _alpha_param(
            "-1 keeps the camera_infos' R and P; 0..1 rectifies again (0 valid pixels only)"
        ),
        Parameter(
            "extrinsics_source",
            "string",
            "camera_info",
            "camera_info: R and P of a stereo calibration; tf: T_right_left from TF",
            choices=("camera_info", "tf"),
        ),
        *stereo_sync_params("left and right"),
    )

    def setup(self) -> None:
        """(Re)create the stereo rectifier; parameters changed, so maps are recomputed."""
        self.rectifier = _new_rectifier(StereoRectifier, self)

    def _extrinsics(self, left: CameraInfo, right: CameraInfo) -> Pose | None:
        if self.param_str("extrinsics_source") != "tf":
            return None
        left_frame, right_frame = left.header.frame_id, right.header.frame_id
        if not left_frame or not right_frame:
            msg = (
                "extrinsics_source tf needs frame_ids on both camera_infos, got "
                f"left {left_frame!r}, right {right_frame!r}"
            )
            raise InputRejected(msg)
        try:
            return self.ctx.lookup_transform(right_frame, left_frame, left.header.stamp_ns)
        except TransformError as err:
            msg = f"tf: no T_{right_frame}_{left_frame} for the left camera_info: {err}"
            raise InputRejected(msg) from err

    def on_stereo(
        self,
        left_image: Image,
        left_info: CameraInfo,
        right_image: Image,
        right_info: CameraInfo,
    ) -> dict[str, object]:
        """Rectify one synchronised stereo pair."""
        _check_image(left_image, "left/image_raw")
        _check_image(right_image, "right/image_raw")
        T_right_left = self._extrinsics(left_info, right_info)
        try:
            left_maps, right_maps = self.rectifier.maps(
                left_info.model, right_info.model, T_right_left
            )
        except CalibrationError as err:
            raise InputRejected(str(err)) from err
        _check_size(left_image, left_maps, "left/image_raw", "left/camera_info")
        _check_size(right_image, right_maps, "right/image_raw", "right/camera_info")
        return {
            "left_image_rect": Image(
                left_image.header, left_image.encoding, rectify_image(left_image.data, left_maps)
            ),
            "right_image_rect": Image(
                right_image.header,
                right_image.encoding,
                rectify_image(right_image.data, right_maps),
            ),
            "left_camera_info_rect": CameraInfo(left_info.header, left_maps.rectified),
            "right_camera_info_rect": CameraInfo(right_info.header, right_maps.rectified),
        }

    def diagnostic_values(self) -> list[tuple[str, str]]:
        """How often the pair's maps were computed (once per pair of camera models)."""
        return [("maps_computed", str(self.rectifier.computed))]
