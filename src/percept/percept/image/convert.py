"""Image conversion as cv_bridge does it: colour layout, Bayer demosaicing, bit depth."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import Image
from percept.errors import CodecError, codec_guard
from percept.image.encoding import BAYER_PATTERNS, COLOR_FORMATS, color_format, encoding_info
from percept.msgtypes import IMAGE

__all__ = ["convert_image", "debayer"]


def _cv_code(src_fmt: str, dst_fmt: str, src: str, dst: str) -> int | None:
    """OpenCV cvtColor code from one colour layout to another (None: nothing to do)."""
    if src_fmt == dst_fmt:
        return None
    names: list[str] = []
    if src_fmt.startswith("bayer_"):
        new, old = BAYER_PATTERNS[src_fmt[6:]]
        names = [f"COLOR_{new}2{dst_fmt}", f"COLOR_{old}2{dst_fmt}"]
    elif src_fmt.startswith("yuv_"):
        names = [f"COLOR_YUV2{dst_fmt}_{src_fmt[4:]}"]
    elif not dst_fmt.startswith(("bayer_", "yuv_")):
        names = [f"COLOR_{src_fmt}2{dst_fmt}"]
    for name in names:
        code = getattr(cv2, name, None)
        if isinstance(code, int):
            return code
    msg = f"convert_image: conversion {src!r} -> {dst!r} is not supported"
    raise CodecError(msg)


def _convert_depth(
    data: npt.NDArray[np.generic], dtype: np.dtype[np.generic]
) -> npt.NDArray[np.generic]:
    """Change depth like cv_bridge: 8 <-> 16 bit rescale, others saturate and round."""
    if data.dtype == dtype:
        return data
    if data.dtype == np.uint8 and dtype == np.uint16:
        wide: npt.NDArray[np.uint16] = data.astype(np.uint16) * np.uint16(257)
        return wide  # 65535 / 255 = 257 exactly
    if dtype.kind in "iu":
        info = np.iinfo(dtype.str)
        values = data.astype(np.float64)
        if data.dtype == np.uint16 and dtype == np.uint8:
            values = values / 257.0
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return data.astype(dtype)


@codec_guard(IMAGE, "convert")
def convert_image(image: Image, desired_encoding: str = "passthrough") -> Image:
    """Convert an image to another encoding, like cv_bridge's ``desired_encoding``.

    Colour layout changes go through ``cv2.cvtColor`` (Bayer demosaicing and YUV 4:2:2
    included); depth changes rescale 8 <-> 16 bit by 257 and otherwise round and
    saturate. Generic encodings (``8UC3``, ``32FC1``...) convert only to encodings with
    the same channel count.

    Args:
        image: the source image.
        desired_encoding: target ROS encoding, or ``passthrough`` to keep ``image``.

    Returns:
        The converted image (``image`` itself when nothing changes), same header.

    Raises:
        CodecError: unknown encoding or unsupported conversion.
    """
    if desired_encoding in ("passthrough", image.encoding):
        return image
    where = "convert_image"
    src_channels, _ = encoding_info(image.encoding, f"{where}: source encoding")
    dst_channels, dst_dtype = encoding_info(desired_encoding, f"{where}: desired_encoding")
    src_fmt, dst_fmt = color_format(image.encoding), color_format(desired_encoding)
    data = np.asarray(image.data)
    if "generic" in (src_fmt, dst_fmt):
        if src_channels != dst_channels:
            msg = (
                f"{where}: conversion {image.encoding!r} -> {desired_encoding!r} is not "
                f"supported ({src_channels} vs {dst_channels} channels)"
            )
            raise CodecError(msg)
    else:
        code = _cv_code(src_fmt, dst_fmt, image.encoding, desired_encoding)
        if code is not None:
            data = np.asarray(cv2.cvtColor(data, code))
    return Image(image.header, desired_encoding, _convert_depth(data, dst_dtype))


@codec_guard(IMAGE, "debayer")
def debayer(image: Image, to: str = "bgr8") -> Image:
    """Demosaic a ``bayer_*`` image with OpenCV (bilinear).

    Args:
        image: (H, W) uint8 or uint16 raw image, encoding ``bayer_rggb8`` ...
            ``bayer_grbg16``.
        to: ``bgr8``, ``rgb8``, ``mono8``, ``bgra8``, ``rgba8`` or their 16-bit forms.

    Returns:
        (H, W, 3|4) or (H, W) image in ``to``.

    Raises:
        CodecError: ``image`` is not Bayer, or ``to`` is not a colour / mono encoding.
    """
    if not image.encoding.startswith("bayer_"):
        msg = f"debayer: expected a bayer_* encoding, got {image.encoding!r}"
        raise CodecError(msg)
    if to not in COLOR_FORMATS:
        msg = f"debayer: 'to' must be one of {sorted(COLOR_FORMATS)}, got {to!r}"
        raise CodecError(msg)
    return convert_image(image, to)
