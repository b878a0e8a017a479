"""JPEG / PNG compression as image_transport's compressed plugin does it (OpenCV)."""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

from percept.domain import CompressedImage, Image
from percept.errors import CodecError, codec_guard
from percept.image.convert import convert_image
from percept.image.encoding import color_format, encoding_info
from percept.msgtypes import COMPRESSED_IMAGE

__all__ = ["compress_image", "compression_of", "decompress_image"]


_COMPRESSED_FORMATS: Final = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}


def compression_of(fmt: str, where: str) -> str:
    """``jpeg`` / ``png`` / ``''`` from ``jpeg`` or ``bgr8; jpeg compressed bgr8``.

    Raises:
        CodecError: not jpeg or png, named after ``where``.
    """
    text = fmt.strip().lower()
    if ";" in text:
        text = text.partition(";")[2].strip()
    word = text.split(" ", 1)[0] if text else ""
    if word and word not in _COMPRESSED_FORMATS:
        msg = (
            f"{where}.format: unsupported compression {fmt!r}; expected jpeg or png "
            "(optionally '<encoding>; <jpeg|png> compressed <encoding>')"
        )
        raise CodecError(msg)
    return word


@codec_guard(COMPRESSED_IMAGE, "decompress")
def decompress_image(image: CompressedImage, desired_encoding: str = "passthrough") -> Image:
    """Decompress jpeg/png bytes with ``cv2.imdecode`` (``IMREAD_UNCHANGED``, as cv_bridge).

    Args:
        image: compressed image.
        desired_encoding: as in :func:`convert_image`; ``passthrough`` keeps what the
            decoder gives: ``bgr8``, ``bgra8``, ``mono8`` or (16-bit png) ``mono16`` /
            ``bgr16`` / ``bgra16``.

    Returns:
        Image with (H, W) or (H, W, C) data.

    Raises:
        CodecError: the bytes are not a decodable image.
    """
    where = COMPRESSED_IMAGE
    compression_of(image.format, where)
    buf = np.asarray(image.data).reshape(-1).view(np.uint8)
    data = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if data is None:
        msg = f"{where}.data: cannot decode {buf.size} bytes as {image.format or 'an image'}"
        raise CodecError(msg)
    data = np.asarray(data)
    channels = 1 if data.ndim == 2 else int(data.shape[2])
    names = {1: "mono", 3: "bgr", 4: "bgra"}
    depth = {np.dtype(np.uint8): "8", np.dtype(np.uint16): "16"}.get(data.dtype)
    if channels not in names or depth is None:
        msg = f"{where}.data: decoded to unsupported {channels} x {data.dtype} image"
        raise CodecError(msg)
    decoded = Image(image.header, names[channels] + depth, data)
    return convert_image(decoded, desired_encoding)


@codec_guard(COMPRESSED_IMAGE, "compress")
def compress_image(image: Image, fmt: str = "jpeg", *, quality: int = 90) -> CompressedImage:
    """Compress an image with ``cv2.imencode`` the way image_transport's plugin does.

    Colour images are stored as BGR; ``format`` reads ``<encoding>; <fmt> compressed
    <bgr8|mono8|...>``.

    Args:
        image: mono8/mono16, bgr8/rgb8, bgra8/rgba8 (16-bit colour for png only), or
            8UC1/8UC3/8UC4/16UC1.
        fmt: ``jpeg`` or ``png``.
        quality: jpeg quality 1..100 (ignored for png).

    Returns:
        CompressedImage with (N,) uint8 data.

    Raises:
        CodecError: unsupported format or encoding.
    """
    ext = _COMPRESSED_FORMATS.get(fmt.lower())
    if ext is None:
        msg = f"compress_image: fmt must be 'jpeg' or 'png', got {fmt!r}"
        raise CodecError(msg)
    channels, dtype = encoding_info(image.encoding, "compress_image: encoding")
    if dtype not in (np.dtype(np.uint8), np.dtype(np.uint16)) or channels not in (1, 3, 4):
        msg = (
            f"compress_image: cannot compress {image.encoding!r}; expected 8 or 16 bit, "
            "1, 3 or 4 channels"
        )
        raise CodecError(msg)
    if dtype == np.uint16 and ext == ".jpg":
        msg = f"compress_image: jpeg needs 8-bit data, got {image.encoding!r}; use png"
        raise CodecError(msg)
    depth = "8" if dtype == np.uint8 else "16"
    target = {1: "mono", 3: "bgr", 4: "bgra"}[channels] + depth
    src = image if color_format(image.encoding) == "generic" else convert_image(image, target)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, np.asarray(src.data), params)
    if not ok:
        msg = f"compress_image: OpenCV could not encode {image.encoding!r} as {fmt}"
        raise CodecError(msg)
    name = "jpeg" if ext == ".jpg" else "png"
    fmt_string = f"{image.encoding}; {name} compressed {target}"
    return CompressedImage(image.header, fmt_string, np.asarray(buf).reshape(-1))
