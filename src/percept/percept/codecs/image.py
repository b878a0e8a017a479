"""Codecs of sensor_msgs/Image and sensor_msgs/CompressedImage."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    NATIVE_BIG,
    MessageFactory,
    as_flag,
    bytes_view,
    check_type,
    get,
    get_str,
    get_uint,
    read_header,
    write_header,
)
from percept.domain import (
    CompressedImage,
    Image,
)
from percept.errors import CodecError
from percept.image.compress import compression_of
from percept.image.encoding import encoding_info
from percept.msgtypes import COMPRESSED_IMAGE, IMAGE

__all__ = [
    "decode_compressed_image",
    "decode_image",
    "encode_compressed_image",
    "encode_image",
    "read_image",
    "write_image",
]


def _image_array(
    buf: npt.NDArray[np.generic],
    height: int,
    width: int,
    step: int,
    encoding: str,
    is_bigendian: bool,
    where: str,
) -> npt.NDArray[np.generic]:
    channels, dtype = encoding_info(encoding, f"{where}.encoding")
    itemsize = dtype.itemsize
    row = width * channels * itemsize
    if step < row:
        msg = (
            f"{where}.step: expected >= {row} (width {width} x {channels} channels x "
            f"{itemsize} bytes for {encoding}), got {step}"
        )
        raise CodecError(msg)
    if buf.size != height * step:
        msg = (
            f"{where}.data: expected {height * step} bytes (height {height} x step {step}), "
            f"got {buf.size}"
        )
        raise CodecError(msg)
    shape: tuple[int, ...] = (height, width) if channels == 1 else (height, width, channels)
    if height == 0 or width == 0:
        return np.zeros(shape, dtype=dtype)
    swapped = itemsize > 1 and is_bigendian != NATIVE_BIG
    wire = dtype.newbyteorder(">" if is_bigendian else "<") if itemsize > 1 else dtype
    strides = (step, channels * itemsize, itemsize)[: len(shape)]
    view: npt.NDArray[np.generic] = np.ndarray(shape, dtype=wire, buffer=buf, strides=strides)
    if swapped:
        return view.astype(dtype)  # one copy, byte-swapped into native order
    if not view.flags.aligned:
        aligned: npt.NDArray[np.generic] = view.copy()  # OpenCV wants aligned data
        return aligned
    return view


def read_image(msg: object, where: str) -> Image:
    """:func:`decode_image` with ``where`` as the prefix of error messages.

    The DisparityImage codec reads its nested image with it (``where`` ending in
    ``.image``).
    """
    header = read_header(msg, where)
    encoding = get_str(msg, "encoding", where)
    height = get_uint(msg, "height", where)
    width = get_uint(msg, "width", where)
    step = get_uint(msg, "step", where)
    big = as_flag(get(msg, "is_bigendian", where), f"{where}.is_bigendian")
    buf = bytes_view(get(msg, "data", where), f"{where}.data")
    data = _image_array(buf, height, width, step, encoding, big, where)
    return Image(header=header, encoding=encoding, data=data)


def _image_wire(image: Image, where: str) -> tuple[npt.NDArray[np.generic], int, bool]:
    """Contiguous data, step and is_bigendian of an Image to encode (at most one copy)."""
    if not isinstance(image, Image):
        msg = f"{where}: expected Image, got {type(image).__name__}"
        raise CodecError(msg)
    channels, dtype = encoding_info(image.encoding, f"{where}.encoding")
    data = np.asarray(image.data)
    expected_ndim = 2 if channels == 1 else 3
    if data.ndim == 3 and channels == 1 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim != expected_ndim or (channels > 1 and data.shape[2] != channels):
        want = "(H, W)" if channels == 1 else f"(H, W, {channels})"
        msg = f"{where}.data: expected shape {want} for {image.encoding}, got {data.shape}"
        raise CodecError(msg)
    if data.dtype.kind != dtype.kind or data.dtype.itemsize != dtype.itemsize:
        msg = f"{where}.data: expected dtype {dtype} for {image.encoding}, got {data.dtype}"
        raise CodecError(msg)
    big = NATIVE_BIG
    if dtype.itemsize > 1 and data.dtype.byteorder in "<>":
        big = data.dtype.byteorder == ">"
    contiguous = np.ascontiguousarray(data)
    return contiguous, data.shape[1] * channels * dtype.itemsize, big and dtype.itemsize > 1


def write_image(image: Image, factory: MessageFactory, where: str) -> object:
    """:func:`encode_image` with ``where`` as the prefix of error messages (see read_image)."""
    data, step, big = _image_wire(image, where)
    return factory.new(
        IMAGE,
        header=write_header(image.header, factory, where),
        height=int(data.shape[0]),
        width=int(data.shape[1]),
        encoding=image.encoding,
        is_bigendian=int(big),
        step=step,
        data=factory.uint8_array(data.reshape(-1).view(np.uint8)),
    )


decode_image, encode_image = codec_functions(
    IMAGE,
    "image",
    read_image,
    write_image,
    """Decode a sensor_msgs/Image.

    Args:
        msg: any object with the fields of sensor_msgs/Image.

    Returns:
        Image whose ``data`` is (H, W) for one channel or (H, W, C), dtype per encoding
        (``IMAGE_ENCODINGS``; ``<depth>C<n>`` generic encodings too) in native byte
        order. Tightly packed, native-endian, aligned data is a view of ``msg.data``;
        padded rows (``step`` > width x pixel size) give a strided view; big-endian
        multi-byte data is byte-swapped into a native copy.

    Raises:
        CodecError: unknown encoding, ``step`` too small, ``data`` size not
            ``height * step``, missing or mistyped fields.
    """,
    """Encode an Image as a sensor_msgs/Image with tightly packed rows.

    Args:
        image: ``data`` (H, W) or (H, W, C) with the dtype of ``encoding``; either byte
            order (``is_bigendian`` follows the array).
        factory: builds the message.

    Returns:
        The message; its ``data`` is built from at most one copy of ``image.data``
        (none when ``image.data`` is already C-contiguous and the factory keeps views).

    Raises:
        CodecError: unknown encoding, or shape / dtype that do not match it.
    """,
)


def _read_compressed_image(msg: object, where: str) -> CompressedImage:
    header = read_header(msg, where)
    fmt = get_str(msg, "format", where)
    compression_of(fmt, where)
    data = bytes_view(get(msg, "data", where), f"{where}.data")
    return CompressedImage(header=header, format=fmt, data=data.view(np.uint8))


def _write_compressed_image(image: CompressedImage, factory: MessageFactory, where: str) -> object:
    check_type(image, CompressedImage, where)
    data = bytes_view(np.asarray(image.data), f"{where}.data")
    return factory.new(
        COMPRESSED_IMAGE,
        header=write_header(image.header, factory, where),
        format=str(image.format),
        data=factory.uint8_array(data.view(np.uint8)),
    )


decode_compressed_image, encode_compressed_image = codec_functions(
    COMPRESSED_IMAGE,
    "compressed_image",
    _read_compressed_image,
    _write_compressed_image,
    """Decode a sensor_msgs/CompressedImage (bytes kept compressed).

    Returns:
        CompressedImage with ``data`` a (N,) uint8 view of ``msg.data``.

    Raises:
        CodecError: unsupported ``format`` (not jpeg/png), missing or mistyped fields.
    """,
    """Encode a CompressedImage (already compressed bytes) as sensor_msgs/CompressedImage.

    Raises:
        CodecError: wrong object type or data that is not 1-byte elements.
    """,
)
