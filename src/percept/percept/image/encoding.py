"""ROS image encodings: channel count, pixel dtype and colour layout (as cv_bridge).

Named encodings come from :data:`percept.domain.IMAGE_ENCODINGS`; YUV 4:2:2 names and
OpenCV-style generic ``<depth>C<n>`` encodings (``8UC3``, ``32FC1``) are understood too.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np

from percept.domain import IMAGE_ENCODINGS
from percept.errors import CodecError

__all__ = ["BAYER_PATTERNS", "COLOR_FORMATS", "color_format", "encoding_info"]

_GENERIC_RE: Final = re.compile(r"(8U|8S|16U|16S|32S|32F|64F)(?:C([0-9]+))?")
_GENERIC_DTYPES: Final = {
    "8U": "u1",
    "8S": "i1",
    "16U": "u2",
    "16S": "i2",
    "32S": "i4",
    "32F": "f4",
    "64F": "f8",
}
# Packed YUV 4:2:2 (two bytes per pixel), as sensor_msgs/image_encodings.hpp.
_YUV422: Final = {"uyvy": "UYVY", "yuv422": "UYVY", "yuyv": "YUY2", "yuv422_yuy2": "YUY2"}

# Colour layout of named encodings, in OpenCV's naming; anything else is generic.
COLOR_FORMATS: Final = {
    "mono8": "GRAY",
    "mono16": "GRAY",
    "rgb8": "RGB",
    "rgb16": "RGB",
    "bgr8": "BGR",
    "bgr16": "BGR",
    "rgba8": "RGBA",
    "rgba16": "RGBA",
    "bgra8": "BGRA",
    "bgra16": "BGRA",
}
# ROS names a Bayer pattern by its first row (rggb: R G / G B); OpenCV < 5 names it by
# the 2x2 block starting at pixel (1, 1), so ROS bayer_rggb is OpenCV BayerBG (as in
# cv_bridge and rosbags-image). OpenCV 5 adds BayerRGGB-style aliases with the ROS
# meaning; prefer those and fall back to the old names.
BAYER_PATTERNS: Final = {
    "rggb": ("BayerRGGB", "BayerBG"),
    "bggr": ("BayerBGGR", "BayerRG"),
    "gbrg": ("BayerGBRG", "BayerGR"),
    "grbg": ("BayerGRBG", "BayerGB"),
}
_MAX_CHANNELS: Final = 512  # OpenCV CV_CN_MAX


def encoding_info(encoding: str, where: str = "encoding") -> tuple[int, np.dtype[np.generic]]:
    """(channels, native dtype) of a ROS image encoding.

    Raises:
        CodecError: an unknown encoding, named after ``where``.
    """
    known = IMAGE_ENCODINGS.get(encoding)
    if known is not None:
        return known[0], np.dtype(known[1])
    if encoding in _YUV422:
        return 2, np.dtype(np.uint8)
    match = _GENERIC_RE.fullmatch(encoding)
    if match:
        channels = int(match.group(2) or 1)
        if 1 <= channels <= _MAX_CHANNELS:
            return channels, np.dtype(_GENERIC_DTYPES[match.group(1)])
    msg = (
        f"{where}: unknown image encoding {encoding!r}; expected one of "
        f"{sorted(IMAGE_ENCODINGS)}, a YUV 4:2:2 name or '<8U|8S|16U|16S|32S|32F|64F>C<n>'"
    )
    raise CodecError(msg)


def color_format(encoding: str) -> str:
    """OpenCV colour layout of an encoding: ``BGR``, ``bayer_rggb``, ``yuv_UYVY``, ``generic``."""
    if encoding in COLOR_FORMATS:
        return COLOR_FORMATS[encoding]
    if encoding.startswith("bayer_"):
        return "bayer_" + encoding[6:10]
    if encoding in _YUV422:
        return "yuv_" + _YUV422[encoding]
    return "generic"
