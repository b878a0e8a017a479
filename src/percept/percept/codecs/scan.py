"""Codec of sensor_msgs/LaserScan <-> :class:`percept.domain.LaserScan`.

``ranges`` and ``intensities`` are ``float32[]``. The decoder reads a rosbags numpy
array or an rclpy ``array.array('f')`` without copying and converts lists or other
real-valued arrays to float32. The encoder hands the factory (N,) float32 numpy arrays:
rosbags stores them as they are, and rclpy's generated ``__init__`` copies them into
``array.array('f')`` (the MessageFactory has no float32 array method, and needs none).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    check_type,
    get,
    get_float,
    read_header,
    show,
    write_header,
)
from percept.domain import LaserScan
from percept.errors import CodecError
from percept.msgtypes import LASER_SCAN

__all__ = ["LASER_SCAN", "decode_laser_scan", "encode_laser_scan"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Message field -> LaserScan attribute, for the scalar float32 fields.
_SCALARS = (
    ("angle_min", "angle_min_rad"),
    ("angle_max", "angle_max_rad"),
    ("angle_increment", "angle_increment_rad"),
    ("time_increment", "time_increment_s"),
    ("scan_time", "scan_time_s"),
    ("range_min", "range_min_m"),
    ("range_max", "range_max_m"),
)
# Fields whose value decides where beams point or which are valid: NaN there is an error.
_MUST_NOT_BE_NAN = ("angle_min", "angle_max", "angle_increment", "range_min", "range_max")


def _float32s(value: object, where: str) -> npt.NDArray[np.float32]:
    """(N,) float32 of a ``float32[]`` field; a view when it is float32 already."""
    if isinstance(value, (str, bytes, bytearray)):
        msg = f"{where}: expected a list of floats, got {type(value).__name__}"
        raise CodecError(msg)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        msg = f"{where}: expected a list of floats, got {show(value)}"
        raise CodecError(msg) from err
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        msg = f"{where}: expected a flat list of floats, got {arr.dtype} {arr.shape}"
        raise CodecError(msg)
    if arr.dtype == np.float32:
        return arr  # type: ignore[return-value]
    wide = arr.astype(np.float64)
    finite = wide[np.isfinite(wide)]
    if finite.size and float(np.abs(finite).max()) > _FLOAT32_MAX:
        msg = f"{where}: values must fit float32, got {float(np.abs(finite).max())!r}"
        raise CodecError(msg)
    return wide.astype(np.float32)


def _read_laser_scan(msg: object, where: str) -> LaserScan:
    scalars: dict[str, float] = {}
    for name, attribute in _SCALARS:
        value = get_float(msg, name, where)
        if name in _MUST_NOT_BE_NAN and math.isnan(value):
            msg_ = f"{where}.{name}: expected a number, got NaN"
            raise CodecError(msg_)
        scalars[attribute] = value
    ranges = _float32s(get(msg, "ranges", where), f"{where}.ranges")
    intensities = _float32s(get(msg, "intensities", where), f"{where}.intensities")
    if intensities.size not in (0, ranges.size):
        msg_ = (
            f"{where}.intensities: expected 0 or {ranges.size} values (one per range), "
            f"got {intensities.size}"
        )
        raise CodecError(msg_)
    return LaserScan(
        header=read_header(msg, where),
        ranges=ranges,
        intensities=intensities,
        **scalars,
    )


def _write_float32s(values: object, where: str) -> npt.NDArray[np.float32]:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind != "f":
        msg = f"{where}: expected (N,) float32, got {arr.dtype} {arr.shape}"
        raise CodecError(msg)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _write_laser_scan(scan: LaserScan, factory: MessageFactory, where: str) -> object:
    check_type(scan, LaserScan, where)
    ranges = _write_float32s(scan.ranges, f"{where}.ranges")
    intensities = _write_float32s(scan.intensities, f"{where}.intensities")
    if intensities.size not in (0, ranges.size):
        msg = f"{where}.intensities: expected 0 or {ranges.size} values, got {intensities.size}"
        raise CodecError(msg)
    return factory.new(
        LASER_SCAN,
        header=write_header(scan.header, factory, where),
        **{name: float(getattr(scan, attribute)) for name, attribute in _SCALARS},
        ranges=ranges,
        intensities=intensities,
    )


decode_laser_scan, encode_laser_scan = codec_functions(
    LASER_SCAN,
    "laser_scan",
    _read_laser_scan,
    _write_laser_scan,
    """Decode a sensor_msgs/LaserScan.

    Returns:
        LaserScan with ``ranges`` (N,) float32 metres and ``intensities`` (N,) or (0,)
        float32 (views of the message arrays when they are float32 already).

    Raises:
        CodecError: missing or mistyped fields, NaN angles or range bounds, ranges or
            intensities not a flat list of floats, intensities neither empty nor one per
            range.
    """,
    """Encode a LaserScan as sensor_msgs/LaserScan (scalars and arrays are float32).

    Raises:
        CodecError: ``ranges`` / ``intensities`` not (N,) floating point, or
            ``intensities`` neither empty nor as long as ``ranges``.
    """,
)
