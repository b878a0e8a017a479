"""Field readers and writers the codecs share, and the MessageFactory protocol."""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from percept.domain import Header
from percept.errors import CodecError
from percept.geometry.pose import Pose

__all__ = [
    "NATIVE_BIG",
    "MessageFactory",
    "as_flag",
    "as_float",
    "as_floats",
    "as_int",
    "as_seq",
    "as_str",
    "bytes_view",
    "check_type",
    "get",
    "get_any",
    "get_float",
    "get_str",
    "get_uint",
    "read_header",
    "read_pose",
    "read_stamp_ns",
    "read_transform",
    "read_xyz",
    "read_xyzw",
    "show",
    "write_fixed",
    "write_header",
    "write_pose",
    "write_quat",
    "write_roi",
    "write_time",
    "write_transform",
    "write_vector",
]

NATIVE_BIG: Final = sys.byteorder == "big"


class MessageFactory(Protocol):
    """Builds ROS messages for the encoders; supplied by the runtime.

    Implementations: :class:`percept.io.typestore.RosbagsFactory` (rosbags classes) and the
    rclpy adapter's factory (rclpy classes). Encoders always pass every field of a
    message, nested messages built through ``new`` as well.
    """

    def new(self, msgtype: str, /, **fields: object) -> object:
        """Build a message of ``msgtype`` (``sensor_msgs/msg/Image``) from all its fields."""
        ...

    def uint8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        """Value for a ``uint8[]`` field holding the bytes of ``buf``.

        rosbags: a (N,) uint8 numpy view; rclpy: ``array.array('B')`` (never numpy).
        """
        ...

    def int8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        """Value for an ``int8[]`` field holding the bytes of ``buf`` (rclpy: ``array('b')``)."""
        ...

    def float_array(self, values: npt.NDArray[np.float64], /, *, fixed: bool) -> object:
        """Value for a ``float64[N]`` (``fixed``) or ``float64[]`` field; values (N,) float64."""
        ...

    def byte(self, value: int, /) -> object:
        """Value for a ROS ``byte`` field (rosbags: ``int``; rclpy: ``bytes`` of length 1)."""
        ...


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def get(obj: object, name: str, where: str) -> object:
    try:
        return getattr(obj, name)
    except AttributeError as err:
        msg = f"{where}.{name}: missing field (got {type(obj).__name__} without it)"
        raise CodecError(msg) from err


def get_any(obj: object, names: tuple[str, ...], where: str) -> object:
    """First present of ``names`` (ROS 2 lower-case vs ROS 1 upper-case CameraInfo)."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    msg = f"{where}.{names[0]}: missing field (got {type(obj).__name__} without it)"
    raise CodecError(msg)


def as_int(value: object, where: str, lo: int | None = None, hi: int | None = None) -> int:
    if not isinstance(value, numbers.Integral):
        msg = f"{where}: expected an integer, got {type(value).__name__} {show(value)}"
        raise CodecError(msg)
    out = int(value)
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        msg = f"{where}: expected {lo} <= value <= {hi}, got {out}"
        raise CodecError(msg)
    return out


def get_uint(obj: object, name: str, where: str, hi: int = 2**32 - 1) -> int:
    return as_int(get(obj, name, where), f"{where}.{name}", 0, hi)


def as_float(value: object, where: str) -> float:
    if not isinstance(value, numbers.Real):
        msg = f"{where}: expected a number, got {type(value).__name__} {show(value)}"
        raise CodecError(msg)
    return float(value)


def get_float(obj: object, name: str, where: str) -> float:
    return as_float(get(obj, name, where), f"{where}.{name}")


def as_str(value: object, where: str) -> str:
    if not isinstance(value, str):
        msg = f"{where}: expected a string, got {type(value).__name__} {show(value)}"
        raise CodecError(msg)
    return value


def get_str(obj: object, name: str, where: str) -> str:
    return as_str(get(obj, name, where), f"{where}.{name}")


def as_flag(value: object, where: str) -> bool:
    if not isinstance(value, numbers.Integral):
        msg = f"{where}: expected a bool or integer, got {type(value).__name__} {show(value)}"
        raise CodecError(msg)
    return bool(value)


def as_seq(value: object, where: str) -> Sequence[object]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        msg = f"{where}: expected a sequence of messages, got {type(value).__name__}"
        raise CodecError(msg)
    return value  # type: ignore[return-value]


def as_floats(value: object, size: int | None, where: str) -> npt.NDArray[np.float64]:
    """A (size,) float64 copy of a ``float64[size]`` / ``float64[]`` field."""
    if isinstance(value, (str, bytes)):
        msg = f"{where}: expected {size or 'a list of'} floats, got {type(value).__name__}"
        raise CodecError(msg)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        msg = f"{where}: expected {size or 'a list of'} floats, got {show(value)}"
        raise CodecError(msg) from err
    if arr.ndim != 1 or (size is not None and arr.shape[0] != size):
        msg = f"{where}: expected shape ({size if size is not None else 'N'},), got {arr.shape}"
        raise CodecError(msg)
    return arr


def bytes_view(
    value: object, where: str, dtype: type[np.uint8 | np.int8] = np.uint8
) -> npt.NDArray[np.generic]:
    """(N,) 1-byte view of a ``uint8[]`` / ``int8[]`` field, without copying if possible."""
    if isinstance(value, np.ndarray):
        if value.dtype.itemsize != 1 or value.dtype.kind not in "uib":
            msg = f"{where}: expected a uint8/int8 array, got dtype {value.dtype}"
            raise CodecError(msg)
        return np.ascontiguousarray(value.reshape(-1)).view(dtype)
    if isinstance(value, (bytes, bytearray, memoryview)) or hasattr(value, "typecode"):
        try:
            view = memoryview(value)  # type: ignore[arg-type]
        except TypeError as err:
            msg = f"{where}: expected a byte buffer, got {type(value).__name__}"
            raise CodecError(msg) from err
        if view.itemsize != 1:
            msg = f"{where}: expected 1-byte elements, got itemsize {view.itemsize}"
            raise CodecError(msg)
        return np.frombuffer(view, dtype=dtype)
    if isinstance(value, (list, tuple)):
        if not value:
            return np.zeros(0, dtype=dtype)
        info = np.iinfo(dtype)
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as err:
            msg = f"{where}: expected a list of integers, got {show(value)}"
            raise CodecError(msg) from err
        if arr.ndim != 1 or arr.dtype.kind not in "iub":
            msg = f"{where}: expected a flat list of integers, got {show(value)}"
            raise CodecError(msg)
        if arr.min() < info.min or arr.max() > info.max:
            msg = f"{where}: expected values in [{info.min}, {info.max}], got {show(value)}"
            raise CodecError(msg)
        return arr.astype(dtype)
    msg = f"{where}: expected bytes, array.array or a numpy array, got {type(value).__name__}"
    raise CodecError(msg)


def read_stamp_ns(stamp: object, where: str) -> int:
    sec = as_int(get(stamp, "sec", where), f"{where}.sec")
    nanosec = as_int(get(stamp, "nanosec", where), f"{where}.nanosec", 0, 10**9 - 1)
    return sec * 10**9 + nanosec


def read_header(msg: object, where: str) -> Header:
    where = f"{where}.header"
    header = get(msg, "header", where.rpartition(".")[0])
    return Header(
        stamp_ns=read_stamp_ns(get(header, "stamp", where), f"{where}.stamp"),
        frame_id=get_str(header, "frame_id", where),
    )


def read_xyz(obj: object, where: str) -> npt.NDArray[np.float64]:
    return np.array([get_float(obj, n, where) for n in ("x", "y", "z")], dtype=np.float64)


def read_xyzw(obj: object, where: str) -> npt.NDArray[np.float64]:
    return np.array([get_float(obj, n, where) for n in ("x", "y", "z", "w")], dtype=np.float64)


def read_pose(msg: object, where: str) -> Pose:
    """geometry_msgs/Pose -> Pose."""
    return Pose(
        read_xyz(get(msg, "position", where), f"{where}.position"),
        read_xyzw(get(msg, "orientation", where), f"{where}.orientation"),
    )


def read_transform(msg: object, where: str) -> Pose:
    """geometry_msgs/Transform -> Pose."""
    return Pose(
        read_xyz(get(msg, "translation", where), f"{where}.translation"),
        read_xyzw(get(msg, "rotation", where), f"{where}.rotation"),
    )


def write_time(stamp_ns: int, factory: MessageFactory, where: str) -> object:
    sec, nanosec = divmod(int(stamp_ns), 10**9)
    if not -(2**31) <= sec < 2**31:
        msg = f"{where}: stamp_ns must fit int32 seconds, got {stamp_ns}"
        raise CodecError(msg)
    return factory.new("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)


def write_header(header: Header, factory: MessageFactory, where: str) -> object:
    if not isinstance(header, Header):
        msg = f"{where}.header: expected Header, got {type(header).__name__}"
        raise CodecError(msg)
    return factory.new(
        "std_msgs/msg/Header",
        stamp=write_time(header.stamp_ns, factory, f"{where}.header.stamp_ns"),
        frame_id=str(header.frame_id),
    )


def write_vector(msgtype: str, values: npt.NDArray[np.float64], factory: MessageFactory) -> object:
    x, y, z = (float(v) for v in values)
    return factory.new(msgtype, x=x, y=y, z=z)


def write_quat(quat_xyzw: npt.NDArray[np.float64], factory: MessageFactory) -> object:
    x, y, z, w = (float(v) for v in quat_xyzw)
    return factory.new("geometry_msgs/msg/Quaternion", x=x, y=y, z=z, w=w)


def write_pose(pose: Pose, factory: MessageFactory) -> object:
    return factory.new(
        "geometry_msgs/msg/Pose",
        position=write_vector("geometry_msgs/msg/Point", pose.translation_m, factory),
        orientation=write_quat(pose.quat_xyzw, factory),
    )


def write_transform(pose: Pose, factory: MessageFactory) -> object:
    return factory.new(
        "geometry_msgs/msg/Transform",
        translation=write_vector("geometry_msgs/msg/Vector3", pose.translation_m, factory),
        rotation=write_quat(pose.quat_xyzw, factory),
    )


def write_fixed(values: npt.ArrayLike, size: int, factory: MessageFactory, where: str) -> object:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != size:
        msg = f"{where}: expected {size} values, got {arr.size}"
        raise CodecError(msg)
    return factory.float_array(np.ascontiguousarray(arr), fixed=True)


def write_roi(
    x_offset: int,
    y_offset: int,
    height: int,
    width: int,
    do_rectify: bool,
    factory: MessageFactory,
) -> object:
    return factory.new(
        "sensor_msgs/msg/RegionOfInterest",
        x_offset=int(x_offset),
        y_offset=int(y_offset),
        height=int(height),
        width=int(width),
        do_rectify=bool(do_rectify),
    )


def check_type(obj: object, cls: type, where: str) -> None:
    if not isinstance(obj, cls):
        msg = f"{where}: expected {cls.__name__}, got {type(obj).__name__}"
        raise CodecError(msg)
