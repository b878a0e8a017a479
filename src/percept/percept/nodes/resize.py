"""ResizeNode: image + camera_info -> resized image + scaled camera_info (image_proc resize)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import cv2
import numpy as np

from percept.domain import CameraInfo, Image
from percept.msgtypes import CAMERA_INFO, IMAGE
from percept.node import SENSOR_DATA, Input, Node, Output, Parameter, Sync
from percept.nodes._camera import check_image_size, image_info_queue_param, image_info_sync

__all__ = ["ResizeNode"]

# cv2 interpolation flags by image_proc's `interpolation` parameter value.
_INTERPOLATION = (
    cv2.INTER_NEAREST,
    cv2.INTER_LINEAR,
    cv2.INTER_CUBIC,
    cv2.INTER_AREA,
    cv2.INTER_LANCZOS4,
)


class ResizeNode(Node):
    """Resizes an image and scales its camera_info to match, as image_proc's resize node.

    The image and its camera_info are paired by exact stamp (image_transport's
    CameraSubscriber policy). K and P rows are scaled by the resize factors, so the
    resized camera model projects exactly as the original one at the new size.
    """

    NAME = "resize"
    DESCRIPTION = "image + camera_info -> resized image + scaled camera_info"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("image", "image/image_raw", IMAGE, SENSOR_DATA, "image to resize"),
        Input(
            "camera_info",
            "image/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "calibration of the image",
        ),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("image_out", "resize/image_raw", IMAGE, SENSOR_DATA, "resized image"),
        Output(
            "camera_info_out",
            "resize/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "camera_info scaled to the resized image",
        ),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (image_info_sync(),)
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "use_scale",
            "bool",
            True,
            "resize by scale_width/scale_height (true) or to width/height (false)",
        ),
        Parameter("scale_width", "double", 1.0, "width factor", min_value=0.01, max_value=100.0),
        Parameter("scale_height", "double", 1.0, "height factor", min_value=0.01, max_value=100.0),
        Parameter(
            "width",
            "integer",
            -1,
            "output width in pixels (-1: keep)",
            min_value=-1,
            max_value=65535,
        ),
        Parameter(
            "height",
            "integer",
            -1,
            "output height in pixels (-1: keep)",
            min_value=-1,
            max_value=65535,
        ),
        Parameter(
            "interpolation",
            "integer",
            1,
            "0 nearest, 1 linear, 2 cubic, 3 area, 4 lanczos4",
            min_value=0,
            max_value=4,
        ),
        image_info_queue_param(),
    )

    def _target_size(self, width: int, height: int) -> tuple[int, int]:
        if self.param_bool("use_scale"):
            w = round(width * self.param_float("scale_width"))
            h = round(height * self.param_float("scale_height"))
        else:
            w = self.param_int("width")
            h = self.param_int("height")
            w = width if w < 0 else w
            h = height if h < 0 else h
        return max(w, 1), max(h, 1)

    def on_image_info(self, image: Image, info: CameraInfo) -> dict[str, object]:
        """Resize one image and its camera_info."""
        model = info.model
        check_image_size(image, (model.width, model.height), "image", "camera_info")
        w, h = self._target_size(image.width, image.height)
        interp = _INTERPOLATION[self.param_int("interpolation")]
        data = image.data
        if data.dtype == np.float64 or data.dtype == np.int32:
            data = data.astype(np.float32)
        resized = cv2.resize(np.ascontiguousarray(data), (w, h), interpolation=interp)
        if resized.dtype != image.data.dtype:
            resized = resized.astype(image.data.dtype)
        sx, sy = w / image.width, h / image.height
        scale = np.diag([sx, sy, 1.0])
        new_model = replace(model, width=w, height=h, K=scale @ model.K, P=scale @ model.P)
        return {
            "image_out": Image(
                image.header, image.encoding, resized.reshape((h, w, *image.data.shape[2:]))
            ),
            "camera_info_out": CameraInfo(info.header, new_model),
        }
