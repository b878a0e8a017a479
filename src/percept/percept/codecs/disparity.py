"""Codec of stereo_msgs/DisparityImage <-> :class:`percept.domain.Disparity`."""

from __future__ import annotations

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    check_type,
    get,
    get_float,
    get_uint,
    read_header,
    write_header,
    write_roi,
)
from percept.codecs.image import read_image, write_image
from percept.domain import (
    Disparity,
    Image,
)
from percept.errors import CodecError
from percept.msgtypes import DISPARITY_IMAGE

__all__ = ["DISPARITY_IMAGE", "decode_disparity", "encode_disparity"]


def _read_disparity(msg: object, where: str) -> Disparity:
    header = read_header(msg, where)
    image = read_image(get(msg, "image", where), f"{where}.image")
    if image.encoding != "32FC1":
        msg_ = f"{where}.image.encoding: expected '32FC1', got {image.encoding!r}"
        raise CodecError(msg_)
    window = get(msg, "valid_window", where)
    ww = f"{where}.valid_window"
    return Disparity(
        header=header,
        image=image.data,  # type: ignore[arg-type]
        focal_length_px=get_float(msg, "f", where),
        baseline_m=get_float(msg, "t", where),
        min_disparity=get_float(msg, "min_disparity", where),
        max_disparity=get_float(msg, "max_disparity", where),
        delta_d=get_float(msg, "delta_d", where),
        valid_window=(
            get_uint(window, "x_offset", ww),
            get_uint(window, "y_offset", ww),
            get_uint(window, "width", ww),
            get_uint(window, "height", ww),
        ),
    )


def _write_disparity(disparity: Disparity, factory: MessageFactory, where: str) -> object:
    check_type(disparity, Disparity, where)
    image = Image(disparity.header, "32FC1", disparity.image)
    x, y, w, h = (int(v) for v in disparity.valid_window)
    return factory.new(
        DISPARITY_IMAGE,
        header=write_header(disparity.header, factory, where),
        image=write_image(image, factory, f"{where}.image"),
        f=float(disparity.focal_length_px),
        t=float(disparity.baseline_m),
        valid_window=write_roi(x, y, h, w, False, factory),
        min_disparity=float(disparity.min_disparity),
        max_disparity=float(disparity.max_disparity),
        delta_d=float(disparity.delta_d),
    )


decode_disparity, encode_disparity = codec_functions(
    DISPARITY_IMAGE,
    "disparity",
    _read_disparity,
    _write_disparity,
    """Decode a stereo_msgs/DisparityImage.

    Returns:
        Disparity with ``image`` (H, W) float32 pixels (a view when tightly packed).

    Raises:
        CodecError: image not 32FC1, malformed image, missing or mistyped fields.
    """,
    """Encode a Disparity as stereo_msgs/DisparityImage (image 32FC1, same header).

    Raises:
        CodecError: image not (H, W) float32.
    """,
)
