"""DebayerNode: image_raw -> image_mono + image_color, as image_proc's debayer node."""

from __future__ import annotations

from typing import ClassVar

from percept.domain import Image
from percept.errors import CodecError, InputRejected
from percept.image import convert_image
from percept.msgtypes import IMAGE
from percept.node import SENSOR_DATA, Input, Node, Output, Parameter

__all__ = ["DebayerNode"]


class DebayerNode(Node):
    """Turns a raw camera stream (Bayer or colour) into mono8 and bgr8 images.

    Mirrors image_proc's ``debayer`` node: ``image_mono`` is always mono8;
    ``image_color`` is bgr8 for colour and Bayer inputs and is not published for mono
    inputs (there is no colour to give).
    """

    NAME = "debayer"
    DESCRIPTION = "Bayer / colour image_raw -> image_mono (mono8) and image_color (bgr8)"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input(
            "image_raw",
            "image_raw",
            IMAGE,
            SENSOR_DATA,
            "raw camera image (bayer_*, mono, rgb/bgr)",
        ),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("image_mono", "image_mono", IMAGE, SENSOR_DATA, "mono8 image"),
        Output(
            "image_color",
            "image_color",
            IMAGE,
            SENSOR_DATA,
            "bgr8 image (not published for mono input)",
        ),
    )
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        Parameter("publish_mono", "bool", True, "publish image_mono"),
        Parameter("publish_color", "bool", True, "publish image_color"),
    )

    def on_image_raw(self, image: Image) -> dict[str, object]:
        """Convert one raw image."""
        out: dict[str, object] = {}
        try:
            if self.param_bool("publish_mono"):
                out["image_mono"] = convert_image(image, "mono8")
            is_colour = image.encoding.startswith("bayer_") or image.data.ndim == 3
            if self.param_bool("publish_color") and is_colour:
                out["image_color"] = convert_image(image, "bgr8")
        except CodecError as err:
            raise InputRejected(str(err)) from err
        return out
