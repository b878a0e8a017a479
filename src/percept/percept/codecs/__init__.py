r"""Message codecs: ROS messages <-> Percept domain objects (:mod:`percept.domain`).

Decoders read messages **by field name only** (``getattr``), so one decoder handles an
rclpy message (``uint8[]`` as ``array.array('B')``, ``float64[]`` as ``array.array('d')``),
a rosbags message (numpy arrays) and any plain attribute object
(``types.SimpleNamespace`` with ``bytes``, lists or numpy arrays). Encoders build
messages through a :class:`MessageFactory` supplied by the runtime, so this module never
imports a message class; :class:`percept.io.typestore.RosbagsFactory` builds rosbags
messages, the rclpy adapter builds rclpy ones.

Every malformed input raises :class:`percept.errors.CodecError` naming the message type,
the field, what was expected and what was got; no other exception type escapes.

Images and point clouds decode without copying when the buffer allows it: a tightly
packed native-endian image is a view of ``msg.data``, padded rows give a strided view,
point clouds are a structured-array view. Such arrays may be read-only.

Example:
    >>> from types import SimpleNamespace as NS
    >>> stamp = NS(sec=1, nanosec=5)
    >>> msg = NS(header=NS(stamp=stamp, frame_id="cam"), height=1, width=2,
    ...          encoding="mono8", is_bigendian=0, step=2, data=b"\x01\x02")
    >>> image = decode_image(msg)
    >>> image.header.stamp_ns, image.data.tolist()
    (1000000005, [[1, 2]])
"""

from __future__ import annotations

import logging
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from percept.domain import (
    CameraInfo,
    CompressedImage,
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    DiagnosticArray,
    DiagnosticStatus,
    Disparity,
    Header,
    Image,
    ImuSample,
    MarkerArray,
    ObjectHypothesis,
    OccupancyGrid,
    Odometry,
    Path,
    PointCloud,
    PoseStamped,
    TransformStamped,
)
from percept.errors import CodecError
from percept.errors import codec_guard as _guard
from percept.geometry.camera import CameraModel, RegionOfInterest
from percept.geometry.pose import Pose
from percept.image.compress import compression_of
from percept.image.encoding import encoding_info

__all__ = [
    "DOMAIN_TYPES",
    "POINTFIELD_DATATYPES",
    "SUPPORTED_TYPES",
    "MessageFactory",
    "decode",
    "decode_camera_info",
    "decode_compressed_image",
    "decode_detection2d_array",
    "decode_detection3d_array",
    "decode_diagnostic_array",
    "decode_disparity",
    "decode_image",
    "decode_imu",
    "decode_marker_array",
    "decode_occupancy_grid",
    "decode_odometry",
    "decode_path",
    "decode_point_cloud",
    "decode_pose_stamped",
    "decode_tf_message",
    "decode_transform_stamped",
    "encode",
    "encode_camera_info",
    "encode_compressed_image",
    "encode_detection2d_array",
    "encode_detection3d_array",
    "encode_diagnostic_array",
    "encode_disparity",
    "encode_image",
    "encode_imu",
    "encode_marker_array",
    "encode_occupancy_grid",
    "encode_odometry",
    "encode_path",
    "encode_point_cloud",
    "encode_pose_stamped",
    "encode_tf_message",
    "encode_transform_stamped",
    "make_point_cloud",
    "point_cloud_dtype",
    "unpack_rgb",
]

logger = logging.getLogger(__name__)


_NATIVE_BIG: Final = sys.byteorder == "big"

IMAGE: Final = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE: Final = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO: Final = "sensor_msgs/msg/CameraInfo"
IMU: Final = "sensor_msgs/msg/Imu"
POINT_CLOUD2: Final = "sensor_msgs/msg/PointCloud2"
DISPARITY_IMAGE: Final = "stereo_msgs/msg/DisparityImage"
ODOMETRY: Final = "nav_msgs/msg/Odometry"
PATH: Final = "nav_msgs/msg/Path"
OCCUPANCY_GRID: Final = "nav_msgs/msg/OccupancyGrid"
POSE_STAMPED: Final = "geometry_msgs/msg/PoseStamped"
TRANSFORM_STAMPED: Final = "geometry_msgs/msg/TransformStamped"
TF_MESSAGE: Final = "tf2_msgs/msg/TFMessage"
DETECTION2D_ARRAY: Final = "vision_msgs/msg/Detection2DArray"
DETECTION3D_ARRAY: Final = "vision_msgs/msg/Detection3DArray"
DIAGNOSTIC_ARRAY: Final = "diagnostic_msgs/msg/DiagnosticArray"
MARKER_ARRAY: Final = "visualization_msgs/msg/MarkerArray"


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


# --------------------------------------------------------------------------- helpers


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _get(obj: object, name: str, where: str) -> object:
    try:
        return getattr(obj, name)
    except AttributeError as err:
        msg = f"{where}.{name}: missing field (got {type(obj).__name__} without it)"
        raise CodecError(msg) from err


def _get_any(obj: object, names: tuple[str, ...], where: str) -> object:
    """First present of ``names`` (ROS 2 lower-case vs ROS 1 upper-case CameraInfo)."""
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    msg = f"{where}.{names[0]}: missing field (got {type(obj).__name__} without it)"
    raise CodecError(msg)


def _int(value: object, where: str, lo: int | None = None, hi: int | None = None) -> int:
    if not isinstance(value, numbers.Integral):
        msg = f"{where}: expected an integer, got {type(value).__name__} {_show(value)}"
        raise CodecError(msg)
    out = int(value)
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        msg = f"{where}: expected {lo} <= value <= {hi}, got {out}"
        raise CodecError(msg)
    return out


def _uint(obj: object, name: str, where: str, hi: int = 2**32 - 1) -> int:
    return _int(_get(obj, name, where), f"{where}.{name}", 0, hi)


def _float(value: object, where: str) -> float:
    if not isinstance(value, numbers.Real):
        msg = f"{where}: expected a number, got {type(value).__name__} {_show(value)}"
        raise CodecError(msg)
    return float(value)


def _getf(obj: object, name: str, where: str) -> float:
    return _float(_get(obj, name, where), f"{where}.{name}")


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        msg = f"{where}: expected a string, got {type(value).__name__} {_show(value)}"
        raise CodecError(msg)
    return value


def _gets(obj: object, name: str, where: str) -> str:
    return _str(_get(obj, name, where), f"{where}.{name}")


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, numbers.Integral):
        msg = f"{where}: expected a bool or integer, got {type(value).__name__} {_show(value)}"
        raise CodecError(msg)
    return bool(value)


def _seq(value: object, where: str) -> Sequence[object]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        msg = f"{where}: expected a sequence of messages, got {type(value).__name__}"
        raise CodecError(msg)
    return value  # type: ignore[return-value]


def _floats(value: object, size: int | None, where: str) -> npt.NDArray[np.float64]:
    """A (size,) float64 copy of a ``float64[size]`` / ``float64[]`` field."""
    if isinstance(value, (str, bytes)):
        msg = f"{where}: expected {size or 'a list of'} floats, got {type(value).__name__}"
        raise CodecError(msg)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        msg = f"{where}: expected {size or 'a list of'} floats, got {_show(value)}"
        raise CodecError(msg) from err
    if arr.ndim != 1 or (size is not None and arr.shape[0] != size):
        msg = f"{where}: expected shape ({size if size is not None else 'N'},), got {arr.shape}"
        raise CodecError(msg)
    return arr


def _bytes_view(
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
            msg = f"{where}: expected a list of integers, got {_show(value)}"
            raise CodecError(msg) from err
        if arr.ndim != 1 or arr.dtype.kind not in "iub":
            msg = f"{where}: expected a flat list of integers, got {_show(value)}"
            raise CodecError(msg)
        if arr.min() < info.min or arr.max() > info.max:
            msg = f"{where}: expected values in [{info.min}, {info.max}], got {_show(value)}"
            raise CodecError(msg)
        return arr.astype(dtype)
    msg = f"{where}: expected bytes, array.array or a numpy array, got {type(value).__name__}"
    raise CodecError(msg)


def _stamp_ns(stamp: object, where: str) -> int:
    sec = _int(_get(stamp, "sec", where), f"{where}.sec")
    nanosec = _int(_get(stamp, "nanosec", where), f"{where}.nanosec", 0, 10**9 - 1)
    return sec * 10**9 + nanosec


def _header(msg: object, where: str) -> Header:
    where = f"{where}.header"
    header = _get(msg, "header", where.rpartition(".")[0])
    return Header(
        stamp_ns=_stamp_ns(_get(header, "stamp", where), f"{where}.stamp"),
        frame_id=_gets(header, "frame_id", where),
    )


def _xyz(obj: object, where: str) -> npt.NDArray[np.float64]:
    return np.array([_getf(obj, n, where) for n in ("x", "y", "z")], dtype=np.float64)


def _xyzw(obj: object, where: str) -> npt.NDArray[np.float64]:
    return np.array([_getf(obj, n, where) for n in ("x", "y", "z", "w")], dtype=np.float64)


def _pose(msg: object, where: str) -> Pose:
    """geometry_msgs/Pose -> Pose."""
    return Pose(
        _xyz(_get(msg, "position", where), f"{where}.position"),
        _xyzw(_get(msg, "orientation", where), f"{where}.orientation"),
    )


def _transform(msg: object, where: str) -> Pose:
    """geometry_msgs/Transform -> Pose."""
    return Pose(
        _xyz(_get(msg, "translation", where), f"{where}.translation"),
        _xyzw(_get(msg, "rotation", where), f"{where}.rotation"),
    )


def _enc_time(stamp_ns: int, factory: MessageFactory, where: str) -> object:
    sec, nanosec = divmod(int(stamp_ns), 10**9)
    if not -(2**31) <= sec < 2**31:
        msg = f"{where}: stamp_ns must fit int32 seconds, got {stamp_ns}"
        raise CodecError(msg)
    return factory.new("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)


def _enc_header(header: Header, factory: MessageFactory, where: str) -> object:
    if not isinstance(header, Header):
        msg = f"{where}.header: expected Header, got {type(header).__name__}"
        raise CodecError(msg)
    return factory.new(
        "std_msgs/msg/Header",
        stamp=_enc_time(header.stamp_ns, factory, f"{where}.header.stamp_ns"),
        frame_id=str(header.frame_id),
    )


def _enc_vector(msgtype: str, values: npt.NDArray[np.float64], factory: MessageFactory) -> object:
    x, y, z = (float(v) for v in values)
    return factory.new(msgtype, x=x, y=y, z=z)


def _enc_quat(quat_xyzw: npt.NDArray[np.float64], factory: MessageFactory) -> object:
    x, y, z, w = (float(v) for v in quat_xyzw)
    return factory.new("geometry_msgs/msg/Quaternion", x=x, y=y, z=z, w=w)


def _enc_pose(pose: Pose, factory: MessageFactory) -> object:
    return factory.new(
        "geometry_msgs/msg/Pose",
        position=_enc_vector("geometry_msgs/msg/Point", pose.translation_m, factory),
        orientation=_enc_quat(pose.quat_xyzw, factory),
    )


def _enc_transform(pose: Pose, factory: MessageFactory) -> object:
    return factory.new(
        "geometry_msgs/msg/Transform",
        translation=_enc_vector("geometry_msgs/msg/Vector3", pose.translation_m, factory),
        rotation=_enc_quat(pose.quat_xyzw, factory),
    )


def _fixed(values: npt.ArrayLike, size: int, factory: MessageFactory, where: str) -> object:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != size:
        msg = f"{where}: expected {size} values, got {arr.size}"
        raise CodecError(msg)
    return factory.float_array(np.ascontiguousarray(arr), fixed=True)


def _enc_roi(
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


def _check_type(obj: object, cls: type, where: str) -> None:
    if not isinstance(obj, cls):
        msg = f"{where}: expected {cls.__name__}, got {type(obj).__name__}"
        raise CodecError(msg)


# ---------------------------------------------------------------------------- images


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
    swapped = itemsize > 1 and is_bigendian != _NATIVE_BIG
    wire = dtype.newbyteorder(">" if is_bigendian else "<") if itemsize > 1 else dtype
    strides = (step, channels * itemsize, itemsize)[: len(shape)]
    view: npt.NDArray[np.generic] = np.ndarray(shape, dtype=wire, buffer=buf, strides=strides)
    if swapped:
        return view.astype(dtype)  # one copy, byte-swapped into native order
    if not view.flags.aligned:
        aligned: npt.NDArray[np.generic] = view.copy()  # OpenCV wants aligned data
        return aligned
    return view


def _decode_image(msg: object, where: str) -> Image:
    header = _header(msg, where)
    encoding = _gets(msg, "encoding", where)
    height = _uint(msg, "height", where)
    width = _uint(msg, "width", where)
    step = _uint(msg, "step", where)
    big = _flag(_get(msg, "is_bigendian", where), f"{where}.is_bigendian")
    buf = _bytes_view(_get(msg, "data", where), f"{where}.data")
    data = _image_array(buf, height, width, step, encoding, big, where)
    return Image(header=header, encoding=encoding, data=data)


@_guard(IMAGE, "decode")
def decode_image(msg: object) -> Image:
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
    """
    return _decode_image(msg, IMAGE)


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
    big = _NATIVE_BIG
    if dtype.itemsize > 1 and data.dtype.byteorder in "<>":
        big = data.dtype.byteorder == ">"
    contiguous = np.ascontiguousarray(data)
    return contiguous, data.shape[1] * channels * dtype.itemsize, big and dtype.itemsize > 1


def _encode_image(image: Image, factory: MessageFactory, where: str) -> object:
    data, step, big = _image_wire(image, where)
    return factory.new(
        IMAGE,
        header=_enc_header(image.header, factory, where),
        height=int(data.shape[0]),
        width=int(data.shape[1]),
        encoding=image.encoding,
        is_bigendian=int(big),
        step=step,
        data=factory.uint8_array(data.reshape(-1).view(np.uint8)),
    )


@_guard(IMAGE, "encode")
def encode_image(image: Image, factory: MessageFactory) -> object:
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
    """
    return _encode_image(image, factory, IMAGE)


# ------------------------------------------------------------------ compressed images


@_guard(COMPRESSED_IMAGE, "decode")
def decode_compressed_image(msg: object) -> CompressedImage:
    """Decode a sensor_msgs/CompressedImage (bytes kept compressed).

    Returns:
        CompressedImage with ``data`` a (N,) uint8 view of ``msg.data``.

    Raises:
        CodecError: unsupported ``format`` (not jpeg/png), missing or mistyped fields.
    """
    where = COMPRESSED_IMAGE
    header = _header(msg, where)
    fmt = _gets(msg, "format", where)
    compression_of(fmt, where)
    data = _bytes_view(_get(msg, "data", where), f"{where}.data")
    return CompressedImage(header=header, format=fmt, data=data.view(np.uint8))


@_guard(COMPRESSED_IMAGE, "encode")
def encode_compressed_image(image: CompressedImage, factory: MessageFactory) -> object:
    """Encode a CompressedImage (already compressed bytes) as sensor_msgs/CompressedImage.

    Raises:
        CodecError: wrong object type or data that is not 1-byte elements.
    """
    where = COMPRESSED_IMAGE
    _check_type(image, CompressedImage, where)
    data = _bytes_view(np.asarray(image.data), f"{where}.data")
    return factory.new(
        COMPRESSED_IMAGE,
        header=_enc_header(image.header, factory, where),
        format=str(image.format),
        data=factory.uint8_array(data.view(np.uint8)),
    )


# ----------------------------------------------------------------------- camera info


@_guard(CAMERA_INFO, "decode")
def decode_camera_info(msg: object) -> CameraInfo:
    """Decode a sensor_msgs/CameraInfo (ROS 2 ``d k r p``; ROS 1 ``D K R P`` too).

    Returns:
        CameraInfo whose model holds K (3, 3), D (N,), R (3, 3), P (3, 4) float64.

    Raises:
        CodecError: wrong matrix sizes, missing or mistyped fields.
    """
    where = CAMERA_INFO
    header = _header(msg, where)
    mats = {}
    for name, size in (("d", None), ("k", 9), ("r", 9), ("p", 12)):
        value = _get_any(msg, (name, name.upper()), where)
        mats[name] = _floats(value, size, f"{where}.{name}")
    roi = _get(msg, "roi", where)
    rw = f"{where}.roi"
    model = CameraModel(
        width=_uint(msg, "width", where),
        height=_uint(msg, "height", where),
        distortion_model=_gets(msg, "distortion_model", where),
        K=mats["k"].reshape(3, 3),
        D=mats["d"],
        R=mats["r"].reshape(3, 3),
        P=mats["p"].reshape(3, 4),
        binning_x=_uint(msg, "binning_x", where),
        binning_y=_uint(msg, "binning_y", where),
        roi=RegionOfInterest(
            x_offset=_uint(roi, "x_offset", rw),
            y_offset=_uint(roi, "y_offset", rw),
            height=_uint(roi, "height", rw),
            width=_uint(roi, "width", rw),
            do_rectify=_flag(_get(roi, "do_rectify", rw), f"{rw}.do_rectify"),
        ),
    )
    return CameraInfo(header=header, model=model)


@_guard(CAMERA_INFO, "encode")
def encode_camera_info(info: CameraInfo, factory: MessageFactory) -> object:
    """Encode a CameraInfo exactly (every matrix element, binning and ROI).

    Raises:
        CodecError: wrong object type or matrix sizes.
    """
    where = CAMERA_INFO
    _check_type(info, CameraInfo, where)
    model = info.model
    roi = model.roi
    return factory.new(
        CAMERA_INFO,
        header=_enc_header(info.header, factory, where),
        height=int(model.height),
        width=int(model.width),
        distortion_model=str(model.distortion_model),
        d=factory.float_array(np.ascontiguousarray(model.D, dtype=np.float64), fixed=False),
        k=_fixed(model.K, 9, factory, f"{where}.k"),
        r=_fixed(model.R, 9, factory, f"{where}.r"),
        p=_fixed(model.P, 12, factory, f"{where}.p"),
        binning_x=int(model.binning_x),
        binning_y=int(model.binning_y),
        roi=_enc_roi(roi.x_offset, roi.y_offset, roi.height, roi.width, roi.do_rectify, factory),
    )


# ------------------------------------------------------------------------------- imu


@_guard(IMU, "decode")
def decode_imu(msg: object) -> ImuSample:
    """Decode a sensor_msgs/Imu.

    Returns:
        ImuSample; ``orientation_xyzw`` is None when ``orientation_covariance[0] == -1``
        (REP 145: no orientation estimate). Covariances are (3, 3) float64.

    Raises:
        CodecError: covariance not 9 values, missing or mistyped fields.
    """
    where = IMU
    header = _header(msg, where)
    cov = {
        name: _floats(_get(msg, name, where), 9, f"{where}.{name}").reshape(3, 3)
        for name in (
            "orientation_covariance",
            "angular_velocity_covariance",
            "linear_acceleration_covariance",
        )
    }
    orientation = None
    if cov["orientation_covariance"][0, 0] != -1:
        orientation = _xyzw(_get(msg, "orientation", where), f"{where}.orientation")
    return ImuSample(
        header=header,
        angular_velocity_rad_s=_xyz(
            _get(msg, "angular_velocity", where), f"{where}.angular_velocity"
        ),
        linear_acceleration_m_s2=_xyz(
            _get(msg, "linear_acceleration", where), f"{where}.linear_acceleration"
        ),
        orientation_xyzw=orientation,
        orientation_covariance=cov["orientation_covariance"],
        angular_velocity_covariance=cov["angular_velocity_covariance"],
        linear_acceleration_covariance=cov["linear_acceleration_covariance"],
    )


@_guard(IMU, "encode")
def encode_imu(sample: ImuSample, factory: MessageFactory) -> object:
    """Encode an ImuSample as sensor_msgs/Imu.

    Without an orientation the quaternion is all zeros and ``orientation_covariance[0]``
    is set to -1 (REP 145); zeros, not identity, so that a reader ignoring the flag does
    not mistake it for a level attitude.

    Raises:
        CodecError: orientation given while ``orientation_covariance[0, 0] == -1``, or
            wrong array sizes.
    """
    where = IMU
    _check_type(sample, ImuSample, where)
    ocov = np.array(sample.orientation_covariance, dtype=np.float64).reshape(-1)
    if ocov.size != 9:
        msg = f"{where}.orientation_covariance: expected 9 values, got {ocov.size}"
        raise CodecError(msg)
    if sample.orientation_xyzw is None:
        quat = np.zeros(4)
        ocov[0] = -1.0
    else:
        quat = np.asarray(sample.orientation_xyzw, dtype=np.float64).reshape(4)
        if ocov[0] == -1:
            msg = (
                f"{where}.orientation_covariance: [0, 0] is -1 (no orientation) but "
                "orientation_xyzw is set; expected None or a covariance"
            )
            raise CodecError(msg)
    return factory.new(
        IMU,
        header=_enc_header(sample.header, factory, where),
        orientation=_enc_quat(quat, factory),
        orientation_covariance=_fixed(ocov, 9, factory, f"{where}.orientation_covariance"),
        angular_velocity=_enc_vector(
            "geometry_msgs/msg/Vector3", np.asarray(sample.angular_velocity_rad_s), factory
        ),
        angular_velocity_covariance=_fixed(
            sample.angular_velocity_covariance,
            9,
            factory,
            f"{where}.angular_velocity_covariance",
        ),
        linear_acceleration=_enc_vector(
            "geometry_msgs/msg/Vector3", np.asarray(sample.linear_acceleration_m_s2), factory
        ),
        linear_acceleration_covariance=_fixed(
            sample.linear_acceleration_covariance,
            9,
            factory,
            f"{where}.linear_acceleration_covariance",
        ),
    )


# ----------------------------------------------------------------------- point clouds

#: sensor_msgs/PointField datatype -> numpy type code (byte order added per message).
POINTFIELD_DATATYPES: Final[dict[int, str]] = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    8: "f8",
}
_DATATYPE_OF: Final = {code: dt for dt, code in POINTFIELD_DATATYPES.items()}


def _struct_dtype(
    names: list[str], formats: Sequence[object], offsets: list[int], itemsize: int
) -> np.dtype[np.void]:
    spec = {"names": names, "formats": list(formats), "offsets": offsets, "itemsize": itemsize}
    return np.dtype(spec)  # type: ignore[call-overload,no-any-return]


def point_cloud_dtype(
    fields: Sequence[object],
    point_step: int,
    *,
    is_bigendian: bool = False,
    where: str = f"{POINT_CLOUD2}.fields",
) -> np.dtype[np.void]:
    """Structured dtype of a point from sensor_msgs/PointField descriptions.

    Args:
        fields: objects with ``name``, ``offset``, ``datatype`` (1..8), ``count``.
        point_step: bytes per point; becomes the dtype's ``itemsize`` so that padding
            between and after fields is kept.
        is_bigendian: byte order of the multi-byte fields.
        where: prefix for error messages.

    Returns:
        dtype with one field per PointField at its offset (``count > 1``: a subarray).

    Raises:
        CodecError: unknown datatype, duplicate or empty names, a field past
            ``point_step``, zero count.
    """
    order = ">" if is_bigendian else "<"
    names: list[str] = []
    formats: list[object] = []
    offsets: list[int] = []
    for i, field in enumerate(_seq(fields, where)):
        fw = f"{where}[{i}]"
        name = _gets(field, "name", fw)
        if not name or name in names:
            msg = f"{fw}.name: expected a unique non-empty name, got {name!r}"
            raise CodecError(msg)
        offset = _uint(field, "offset", fw)
        datatype = _int(_get(field, "datatype", fw), f"{fw}.datatype")
        code = POINTFIELD_DATATYPES.get(datatype)
        if code is None:
            msg = f"{fw}.datatype: expected 1..8 (INT8..FLOAT64), got {datatype} for {name!r}"
            raise CodecError(msg)
        count = _uint(field, "count", fw)
        if count < 1:
            msg = f"{fw}.count: expected >= 1, got {count} for {name!r}"
            raise CodecError(msg)
        base = np.dtype(order + code) if code[1] != "1" else np.dtype(code)
        if offset + base.itemsize * count > point_step:
            msg = (
                f"{fw}: field {name!r} (offset {offset} + {count} x {base.itemsize} bytes) "
                f"exceeds point_step {point_step}"
            )
            raise CodecError(msg)
        names.append(name)
        formats.append(base if count == 1 else (base, (count,)))
        offsets.append(offset)
    return _struct_dtype(names, formats, offsets, point_step)


@_guard(POINT_CLOUD2, "decode")
def decode_point_cloud(msg: object) -> PointCloud:
    """Decode a sensor_msgs/PointCloud2 with any field layout.

    Returns:
        PointCloud whose ``points`` is a structured array viewing ``msg.data`` (no copy):
        shape (H, W) when ``height > 1``, else (N,); dtype from
        :func:`point_cloud_dtype`, byte order as in the message (numpy reads either).
        Padded rows (``row_step`` > width x point_step) give a strided view.

    Raises:
        CodecError: bad PointField, ``row_step`` too small, ``data`` size not
            ``height * row_step``, missing or mistyped fields.
    """
    where = POINT_CLOUD2
    header = _header(msg, where)
    height = _uint(msg, "height", where)
    width = _uint(msg, "width", where)
    point_step = _uint(msg, "point_step", where)
    row_step = _uint(msg, "row_step", where)
    big = _flag(_get(msg, "is_bigendian", where), f"{where}.is_bigendian")
    dense = _flag(_get(msg, "is_dense", where), f"{where}.is_dense")
    dtype = point_cloud_dtype(
        _seq(_get(msg, "fields", where), f"{where}.fields"), point_step, is_bigendian=big
    )
    buf = _bytes_view(_get(msg, "data", where), f"{where}.data")
    row = width * point_step
    if row_step < row:
        msg_ = (
            f"{where}.row_step: expected >= {row} (width {width} x point_step "
            f"{point_step}), got {row_step}"
        )
        raise CodecError(msg_)
    if buf.size != height * row_step:
        msg_ = (
            f"{where}.data: expected {height * row_step} bytes (height {height} x row_step "
            f"{row_step}), got {buf.size}"
        )
        raise CodecError(msg_)
    shape = (height, width) if height > 1 else (height * width,)
    npoints = height * width
    if npoints == 0:
        points = np.zeros(shape, dtype=dtype)
    elif point_step == 0:
        msg_ = f"{where}.point_step: expected > 0 for {npoints} points, got 0"
        raise CodecError(msg_)
    elif row_step == row:
        points = np.frombuffer(buf, dtype=dtype, count=npoints).reshape(shape)
    else:
        grid = np.ndarray((height, width), dtype=dtype, buffer=buf, strides=(row_step, point_step))
        points = grid if height > 1 else grid[0]
    return PointCloud(header=header, points=points, is_dense=dense)


def _dtype_fields(
    dtype: np.dtype[np.void], where: str
) -> tuple[list[tuple[str, int, int, int]], set[str]]:
    """PointField tuples (name, offset, datatype, count) and byte orders of a dtype."""
    if dtype.names is None or dtype.fields is None:
        msg = f"{where}.points: expected a structured array with named fields, got {dtype}"
        raise CodecError(msg)
    fields: list[tuple[str, int, int, int]] = []
    orders: set[str] = set()
    for name in dtype.names:
        fdtype, offset = dtype.fields[name][:2]
        base, count = fdtype, 1
        if fdtype.subdtype is not None:
            base = fdtype.subdtype[0]
            count = int(np.prod(fdtype.subdtype[1]))
        datatype = _DATATYPE_OF.get(f"{base.kind}{base.itemsize}")
        if datatype is None or base.names is not None:
            msg = (
                f"{where}.points: field {name!r} has dtype {fdtype}; expected int8..uint32, "
                "float32 or float64 (or a subarray of one)"
            )
            raise CodecError(msg)
        if base.itemsize > 1:
            orders.add(
                ">" if base.byteorder == ">" or (base.byteorder == "=" and _NATIVE_BIG) else "<"
            )
        fields.append((name, int(offset), datatype, count))
    return fields, orders


@_guard(POINT_CLOUD2, "encode")
def encode_point_cloud(cloud: PointCloud, factory: MessageFactory) -> object:
    """Encode a PointCloud as sensor_msgs/PointCloud2.

    The PointFields come from the dtype's fields and offsets; ``point_step`` is its
    ``itemsize``, so padding is kept. Byte order follows the dtype (mixed orders are
    converted to native). (H, W) points give an organised cloud, (N,) ``height = 1``.

    Raises:
        CodecError: points not a structured array of int/float fields, ndim not 1 or 2.
    """
    where = POINT_CLOUD2
    _check_type(cloud, PointCloud, where)
    points = np.asarray(cloud.points)
    if points.ndim not in (1, 2):
        msg = f"{where}.points: expected shape (N,) or (H, W), got {points.shape}"
        raise CodecError(msg)
    fields, orders = _dtype_fields(points.dtype, where)
    if len(orders) > 1:
        names = [f[0] for f in fields]
        native = _struct_dtype(
            names,
            [points.dtype[n].newbyteorder("=") for n in names],
            [f[1] for f in fields],
            points.dtype.itemsize,
        )
        points = points.astype(native)
        orders = {">" if _NATIVE_BIG else "<"}
    big = orders == {">"}
    height, width = points.shape if points.ndim == 2 else (1, points.shape[0])
    data = np.ascontiguousarray(points).reshape(-1)
    point_step = points.dtype.itemsize
    return factory.new(
        POINT_CLOUD2,
        header=_enc_header(cloud.header, factory, where),
        height=int(height),
        width=int(width),
        fields=[
            factory.new(
                "sensor_msgs/msg/PointField",
                name=name,
                offset=offset,
                datatype=datatype,
                count=count,
            )
            for name, offset, datatype, count in fields
        ],
        is_bigendian=bool(big),
        point_step=int(point_step),
        row_step=int(width * point_step),
        data=factory.uint8_array(data.view(np.uint8)),
        is_dense=bool(cloud.is_dense),
    )


def make_point_cloud(
    header: Header,
    xyz: npt.ArrayLike,
    rgb: npt.ArrayLike | None = None,
    intensity: npt.ArrayLike | None = None,
) -> PointCloud:
    """Build a PointCloud in PCL's memory layout.

    Layout (native byte order): x, y, z float32 at 0, 4, 8; ``rgb`` float32 at 16
    holding the uint32 ``0x00RRGGBB`` bit-punned as in PCL's PointXYZRGB; ``intensity``
    float32 at 16 (or 20 after rgb); point_step 16 for xyz only, else 32.

    Args:
        header: stamp and frame of the points.
        xyz: (N, 3) or (H, W, 3) coordinates, metres; NaN marks invalid points.
        rgb: (N, 3) or (H, W, 3) uint8 colours in RGB order, or None.
        intensity: (N,) or (H, W) intensities, or None.

    Returns:
        PointCloud; ``is_dense`` is True when every coordinate is finite.

    Raises:
        CodecError: shapes that do not match.

    >>> cloud = make_point_cloud(Header(), [[1, 2, 3]], rgb=[[255, 0, 1]])
    >>> cloud.points.dtype.itemsize, unpack_rgb(cloud).tolist()
    (32, [[255, 0, 1]])
    """
    coords = np.asarray(xyz, dtype=np.float32)
    if coords.ndim not in (2, 3) or coords.shape[-1] != 3:
        msg = f"make_point_cloud: xyz must be (N, 3) or (H, W, 3), got {coords.shape}"
        raise CodecError(msg)
    shape = coords.shape[:-1]
    names, offsets = ["x", "y", "z"], [0, 4, 8]
    if rgb is not None:
        names.append("rgb")
        offsets.append(16)
    if intensity is not None:
        names.append("intensity")
        offsets.append(20 if rgb is not None else 16)
    itemsize = 16 if len(names) == 3 else 32
    dtype = _struct_dtype(names, [np.dtype(np.float32)] * len(names), offsets, itemsize)
    points = np.zeros(shape, dtype=dtype)
    for i, name in enumerate(("x", "y", "z")):
        points[name] = coords[..., i]
    if rgb is not None:
        colours = np.asarray(rgb)
        if colours.shape != (*shape, 3):
            msg = f"make_point_cloud: rgb must be {(*shape, 3)}, got {colours.shape}"
            raise CodecError(msg)
        c = colours.astype(np.uint32)
        packed = (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
        points["rgb"].view(np.uint32)[...] = packed
    if intensity is not None:
        values = np.asarray(intensity, dtype=np.float32)
        if values.shape != shape:
            msg = f"make_point_cloud: intensity must be {shape}, got {values.shape}"
            raise CodecError(msg)
        points["intensity"] = values
    return PointCloud(header, points, is_dense=bool(np.isfinite(coords).all()))


def unpack_rgb(cloud: PointCloud) -> npt.NDArray[np.uint8]:
    """Colours of a cloud whose ``rgb`` (or ``rgba``) field packs ``0x00RRGGBB``.

    Returns:
        (..., 3) uint8 in RGB order, shaped like ``cloud.points``.

    Raises:
        CodecError: no 4-byte ``rgb`` / ``rgba`` field.
    """
    names = cloud.points.dtype.names or ()
    name = "rgb" if "rgb" in names else "rgba" if "rgba" in names else None
    if name is None or cloud.points.dtype[name].itemsize != 4:
        msg = f"unpack_rgb: expected a 4-byte 'rgb' or 'rgba' field, got fields {names}"
        raise CodecError(msg)
    field = cloud.points[name]
    order = field.dtype.byteorder if field.dtype.byteorder in "<>" else "="
    packed = np.ascontiguousarray(field).view(np.dtype(order + "u4")).astype(np.uint32)
    out = np.empty((*packed.shape, 3), dtype=np.uint8)
    out[..., 0] = (packed >> 16) & 0xFF
    out[..., 1] = (packed >> 8) & 0xFF
    out[..., 2] = packed & 0xFF
    return out


# ------------------------------------------------------------------------- disparity


@_guard(DISPARITY_IMAGE, "decode")
def decode_disparity(msg: object) -> Disparity:
    """Decode a stereo_msgs/DisparityImage.

    Returns:
        Disparity with ``image`` (H, W) float32 pixels (a view when tightly packed).

    Raises:
        CodecError: image not 32FC1, malformed image, missing or mistyped fields.
    """
    where = DISPARITY_IMAGE
    header = _header(msg, where)
    image = _decode_image(_get(msg, "image", where), f"{where}.image")
    if image.encoding != "32FC1":
        msg_ = f"{where}.image.encoding: expected '32FC1', got {image.encoding!r}"
        raise CodecError(msg_)
    window = _get(msg, "valid_window", where)
    ww = f"{where}.valid_window"
    return Disparity(
        header=header,
        image=image.data,  # type: ignore[arg-type]
        focal_length_px=_getf(msg, "f", where),
        baseline_m=_getf(msg, "t", where),
        min_disparity=_getf(msg, "min_disparity", where),
        max_disparity=_getf(msg, "max_disparity", where),
        delta_d=_getf(msg, "delta_d", where),
        valid_window=(
            _uint(window, "x_offset", ww),
            _uint(window, "y_offset", ww),
            _uint(window, "width", ww),
            _uint(window, "height", ww),
        ),
    )


@_guard(DISPARITY_IMAGE, "encode")
def encode_disparity(disparity: Disparity, factory: MessageFactory) -> object:
    """Encode a Disparity as stereo_msgs/DisparityImage (image 32FC1, same header).

    Raises:
        CodecError: image not (H, W) float32.
    """
    where = DISPARITY_IMAGE
    _check_type(disparity, Disparity, where)
    image = Image(disparity.header, "32FC1", disparity.image)
    x, y, w, h = (int(v) for v in disparity.valid_window)
    return factory.new(
        DISPARITY_IMAGE,
        header=_enc_header(disparity.header, factory, where),
        image=_encode_image(image, factory, f"{where}.image"),
        f=float(disparity.focal_length_px),
        t=float(disparity.baseline_m),
        valid_window=_enc_roi(x, y, h, w, False, factory),
        min_disparity=float(disparity.min_disparity),
        max_disparity=float(disparity.max_disparity),
        delta_d=float(disparity.delta_d),
    )


# --------------------------------------------------------------------- poses and TF


def _pose_stamped(msg: object, where: str) -> PoseStamped:
    return PoseStamped(_header(msg, where), _pose(_get(msg, "pose", where), f"{where}.pose"))


def _enc_pose_stamped(obj: PoseStamped, factory: MessageFactory, where: str) -> object:
    _check_type(obj, PoseStamped, where)
    return factory.new(
        POSE_STAMPED,
        header=_enc_header(obj.header, factory, where),
        pose=_enc_pose(obj.pose, factory),
    )


@_guard(POSE_STAMPED, "decode")
def decode_pose_stamped(msg: object) -> PoseStamped:
    """Decode a geometry_msgs/PoseStamped (pose of the body in ``header.frame_id``).

    Raises:
        CodecError: missing or mistyped fields.
    """
    return _pose_stamped(msg, POSE_STAMPED)


@_guard(POSE_STAMPED, "encode")
def encode_pose_stamped(pose: PoseStamped, factory: MessageFactory) -> object:
    """Encode a PoseStamped as geometry_msgs/PoseStamped.

    Raises:
        CodecError: wrong object type.
    """
    return _enc_pose_stamped(pose, factory, POSE_STAMPED)


def _transform_stamped(msg: object, where: str) -> TransformStamped:
    return TransformStamped(
        header=_header(msg, where),
        child_frame_id=_gets(msg, "child_frame_id", where),
        transform=_transform(_get(msg, "transform", where), f"{where}.transform"),
    )


def _enc_transform_stamped(obj: TransformStamped, factory: MessageFactory, where: str) -> object:
    _check_type(obj, TransformStamped, where)
    return factory.new(
        TRANSFORM_STAMPED,
        header=_enc_header(obj.header, factory, where),
        child_frame_id=str(obj.child_frame_id),
        transform=_enc_transform(obj.transform, factory),
    )


@_guard(TRANSFORM_STAMPED, "decode")
def decode_transform_stamped(msg: object) -> TransformStamped:
    """Decode a geometry_msgs/TransformStamped (``T_frame_child``).

    Raises:
        CodecError: missing or mistyped fields.
    """
    return _transform_stamped(msg, TRANSFORM_STAMPED)


@_guard(TRANSFORM_STAMPED, "encode")
def encode_transform_stamped(transform: TransformStamped, factory: MessageFactory) -> object:
    """Encode a TransformStamped as geometry_msgs/TransformStamped.

    Raises:
        CodecError: wrong object type.
    """
    return _enc_transform_stamped(transform, factory, TRANSFORM_STAMPED)


@_guard(TF_MESSAGE, "decode")
def decode_tf_message(msg: object) -> tuple[TransformStamped, ...]:
    """Decode a tf2_msgs/TFMessage into its transforms, in message order.

    Raises:
        CodecError: missing or mistyped fields.
    """
    where = TF_MESSAGE
    transforms = _seq(_get(msg, "transforms", where), f"{where}.transforms")
    return tuple(
        _transform_stamped(t, f"{where}.transforms[{i}]") for i, t in enumerate(transforms)
    )


@_guard(TF_MESSAGE, "encode")
def encode_tf_message(transforms: Sequence[TransformStamped], factory: MessageFactory) -> object:
    """Encode transforms as a tf2_msgs/TFMessage.

    Raises:
        CodecError: an element is not a TransformStamped.
    """
    where = TF_MESSAGE
    items = _seq(transforms, f"{where}.transforms")
    return factory.new(
        TF_MESSAGE,
        transforms=[
            _enc_transform_stamped(t, factory, f"{where}.transforms[{i}]")  # type: ignore[arg-type]
            for i, t in enumerate(items)
        ],
    )


# ------------------------------------------------------------------------- nav_msgs


@_guard(ODOMETRY, "decode")
def decode_odometry(msg: object) -> Odometry:
    """Decode a nav_msgs/Odometry.

    Returns:
        Odometry with (6, 6) float64 covariances and (3,) float64 velocities.

    Raises:
        CodecError: covariance not 36 values, missing or mistyped fields.
    """
    where = ODOMETRY
    pose_cov = _get(msg, "pose", where)
    twist_cov = _get(msg, "twist", where)
    pw, tw = f"{where}.pose", f"{where}.twist"
    twist = _get(twist_cov, "twist", tw)
    return Odometry(
        header=_header(msg, where),
        child_frame_id=_gets(msg, "child_frame_id", where),
        pose=_pose(_get(pose_cov, "pose", pw), f"{pw}.pose"),
        pose_covariance=_floats(_get(pose_cov, "covariance", pw), 36, f"{pw}.covariance").reshape(
            6, 6
        ),
        linear_velocity_m_s=_xyz(_get(twist, "linear", f"{tw}.twist"), f"{tw}.twist.linear"),
        angular_velocity_rad_s=_xyz(_get(twist, "angular", f"{tw}.twist"), f"{tw}.twist.angular"),
        twist_covariance=_floats(_get(twist_cov, "covariance", tw), 36, f"{tw}.covariance").reshape(
            6, 6
        ),
    )


@_guard(ODOMETRY, "encode")
def encode_odometry(odom: Odometry, factory: MessageFactory) -> object:
    """Encode an Odometry as nav_msgs/Odometry.

    Raises:
        CodecError: wrong object type or array sizes.
    """
    where = ODOMETRY
    _check_type(odom, Odometry, where)
    vec = "geometry_msgs/msg/Vector3"
    return factory.new(
        ODOMETRY,
        header=_enc_header(odom.header, factory, where),
        child_frame_id=str(odom.child_frame_id),
        pose=factory.new(
            "geometry_msgs/msg/PoseWithCovariance",
            pose=_enc_pose(odom.pose, factory),
            covariance=_fixed(odom.pose_covariance, 36, factory, f"{where}.pose.covariance"),
        ),
        twist=factory.new(
            "geometry_msgs/msg/TwistWithCovariance",
            twist=factory.new(
                "geometry_msgs/msg/Twist",
                linear=_enc_vector(vec, np.asarray(odom.linear_velocity_m_s), factory),
                angular=_enc_vector(vec, np.asarray(odom.angular_velocity_rad_s), factory),
            ),
            covariance=_fixed(odom.twist_covariance, 36, factory, f"{where}.twist.covariance"),
        ),
    )


@_guard(PATH, "decode")
def decode_path(msg: object) -> Path:
    """Decode a nav_msgs/Path.

    Raises:
        CodecError: missing or mistyped fields.
    """
    where = PATH
    poses = _seq(_get(msg, "poses", where), f"{where}.poses")
    return Path(
        header=_header(msg, where),
        poses=tuple(_pose_stamped(p, f"{where}.poses[{i}]") for i, p in enumerate(poses)),
    )


@_guard(PATH, "encode")
def encode_path(path: Path, factory: MessageFactory) -> object:
    """Encode a Path as nav_msgs/Path.

    Raises:
        CodecError: wrong object type.
    """
    where = PATH
    _check_type(path, Path, where)
    return factory.new(
        PATH,
        header=_enc_header(path.header, factory, where),
        poses=[
            _enc_pose_stamped(p, factory, f"{where}.poses[{i}]") for i, p in enumerate(path.poses)
        ],
    )


@_guard(OCCUPANCY_GRID, "decode")
def decode_occupancy_grid(msg: object) -> OccupancyGrid:
    """Decode a nav_msgs/OccupancyGrid.

    Returns:
        OccupancyGrid with ``data`` (H, W) int8 (a view of ``msg.data`` when possible).

    Raises:
        CodecError: ``data`` size not width x height, missing or mistyped fields.
    """
    where = OCCUPANCY_GRID
    info = _get(msg, "info", where)
    iw = f"{where}.info"
    width = _uint(info, "width", iw)
    height = _uint(info, "height", iw)
    data = _bytes_view(_get(msg, "data", where), f"{where}.data", np.int8)
    if data.size != width * height:
        msg_ = (
            f"{where}.data: expected {width * height} cells (info.width {width} x "
            f"info.height {height}), got {data.size}"
        )
        raise CodecError(msg_)
    return OccupancyGrid(
        header=_header(msg, where),
        resolution_m=_getf(info, "resolution", iw),
        origin=_pose(_get(info, "origin", iw), f"{iw}.origin"),
        data=data.reshape(height, width),  # type: ignore[arg-type]
        map_load_time_ns=_stamp_ns(_get(info, "map_load_time", iw), f"{iw}.map_load_time"),
    )


@_guard(OCCUPANCY_GRID, "encode")
def encode_occupancy_grid(grid: OccupancyGrid, factory: MessageFactory) -> object:
    """Encode an OccupancyGrid as nav_msgs/OccupancyGrid (``resolution`` is float32).

    Raises:
        CodecError: ``data`` not (H, W) int8.
    """
    where = OCCUPANCY_GRID
    _check_type(grid, OccupancyGrid, where)
    data = np.asarray(grid.data)
    if data.ndim != 2 or data.dtype != np.int8:
        msg = f"{where}.data: expected (H, W) int8, got {data.shape} {data.dtype}"
        raise CodecError(msg)
    height, width = data.shape
    return factory.new(
        OCCUPANCY_GRID,
        header=_enc_header(grid.header, factory, where),
        info=factory.new(
            "nav_msgs/msg/MapMetaData",
            map_load_time=_enc_time(grid.map_load_time_ns, factory, f"{where}.info"),
            resolution=float(grid.resolution_m),
            width=int(width),
            height=int(height),
            origin=_enc_pose(grid.origin, factory),
        ),
        data=factory.int8_array(np.ascontiguousarray(data).reshape(-1)),
    )


# ---------------------------------------------------------------------- vision_msgs


def _hypotheses(det: object, where: str) -> tuple[ObjectHypothesis, ...]:
    out = []
    for i, result in enumerate(_seq(_get(det, "results", where), f"{where}.results")):
        rw = f"{where}.results[{i}]"
        # Humble nests (class_id, score) in `hypothesis`; Foxy had `id` and `score` flat.
        if hasattr(result, "hypothesis"):
            hyp, hw, id_name = result.hypothesis, f"{rw}.hypothesis", "class_id"
        else:
            hyp, hw, id_name = result, rw, "id" if hasattr(result, "id") else "class_id"
        out.append(ObjectHypothesis(_gets(hyp, id_name, hw), _getf(hyp, "score", hw)))
    return tuple(out)


def _enc_hypotheses(
    results: Sequence[ObjectHypothesis], factory: MessageFactory, where: str
) -> list[object]:
    out = []
    for i, hyp in enumerate(results):
        _check_type(hyp, ObjectHypothesis, f"{where}.results[{i}]")
        out.append(
            factory.new(
                "vision_msgs/msg/ObjectHypothesisWithPose",
                hypothesis=factory.new(
                    "vision_msgs/msg/ObjectHypothesis",
                    class_id=str(hyp.class_id),
                    score=float(hyp.score),
                ),
                pose=factory.new(
                    "geometry_msgs/msg/PoseWithCovariance",
                    pose=_enc_pose(Pose(), factory),
                    covariance=factory.float_array(np.zeros(36), fixed=True),
                ),
            )
        )
    return out


@_guard(DETECTION2D_ARRAY, "decode")
def decode_detection2d_array(msg: object) -> Detection2DArray:
    """Decode a vision_msgs/Detection2DArray (Humble: ``bbox.center.position.x``).

    Returns:
        Detection2DArray; centres and sizes in pixels (u = column, v = row).

    Raises:
        CodecError: missing or mistyped fields.
    """
    where = DETECTION2D_ARRAY
    dets = []
    for i, det in enumerate(_seq(_get(msg, "detections", where), f"{where}.detections")):
        dw = f"{where}.detections[{i}]"
        bbox = _get(det, "bbox", dw)
        bw = f"{dw}.bbox"
        center = _get(bbox, "center", bw)
        cw = f"{bw}.center"
        # Humble: vision_msgs/Pose2D{position{x, y}, theta}; Foxy: geometry_msgs/Pose2D.
        pos, pw = (
            (center.position, f"{cw}.position") if hasattr(center, "position") else (center, cw)
        )
        dets.append(
            Detection2D(
                center_uv=(_getf(pos, "x", pw), _getf(pos, "y", pw)),
                size_uv=(_getf(bbox, "size_x", bw), _getf(bbox, "size_y", bw)),
                results=_hypotheses(det, dw),
                id=_gets(det, "id", dw),
                theta_rad=_getf(center, "theta", cw),
            )
        )
    return Detection2DArray(header=_header(msg, where), detections=tuple(dets))


@_guard(DETECTION2D_ARRAY, "encode")
def encode_detection2d_array(array: Detection2DArray, factory: MessageFactory) -> object:
    """Encode a Detection2DArray (Humble layout; each detection gets the array header).

    Raises:
        CodecError: wrong object types.
    """
    where = DETECTION2D_ARRAY
    _check_type(array, Detection2DArray, where)
    dets = []
    for i, det in enumerate(array.detections):
        dw = f"{where}.detections[{i}]"
        _check_type(det, Detection2D, dw)
        u, v = (float(c) for c in det.center_uv)
        w, h = (float(s) for s in det.size_uv)
        bbox = factory.new(
            "vision_msgs/msg/BoundingBox2D",
            center=factory.new(
                "vision_msgs/msg/Pose2D",
                position=factory.new("vision_msgs/msg/Point2D", x=u, y=v),
                theta=float(det.theta_rad),
            ),
            size_x=w,
            size_y=h,
        )
        dets.append(
            factory.new(
                "vision_msgs/msg/Detection2D",
                header=_enc_header(array.header, factory, dw),
                results=_enc_hypotheses(det.results, factory, dw),
                bbox=bbox,
                id=str(det.id),
            )
        )
    return factory.new(
        DETECTION2D_ARRAY, header=_enc_header(array.header, factory, where), detections=dets
    )


@_guard(DETECTION3D_ARRAY, "decode")
def decode_detection3d_array(msg: object) -> Detection3DArray:
    """Decode a vision_msgs/Detection3DArray.

    Returns:
        Detection3DArray; box centres as Pose, sizes (3,) float64 metres.

    Raises:
        CodecError: missing or mistyped fields.
    """
    where = DETECTION3D_ARRAY
    dets = []
    for i, det in enumerate(_seq(_get(msg, "detections", where), f"{where}.detections")):
        dw = f"{where}.detections[{i}]"
        bbox = _get(det, "bbox", dw)
        bw = f"{dw}.bbox"
        dets.append(
            Detection3D(
                center=_pose(_get(bbox, "center", bw), f"{bw}.center"),
                size_m=_xyz(_get(bbox, "size", bw), f"{bw}.size"),
                results=_hypotheses(det, dw),
                id=_gets(det, "id", dw),
            )
        )
    return Detection3DArray(header=_header(msg, where), detections=tuple(dets))


@_guard(DETECTION3D_ARRAY, "encode")
def encode_detection3d_array(array: Detection3DArray, factory: MessageFactory) -> object:
    """Encode a Detection3DArray (each detection gets the array header).

    Raises:
        CodecError: wrong object types or sizes.
    """
    where = DETECTION3D_ARRAY
    _check_type(array, Detection3DArray, where)
    dets = []
    for i, det in enumerate(array.detections):
        dw = f"{where}.detections[{i}]"
        _check_type(det, Detection3D, dw)
        size = np.asarray(det.size_m, dtype=np.float64).reshape(-1)
        if size.size != 3:
            msg = f"{dw}.size_m: expected 3 values, got {size.size}"
            raise CodecError(msg)
        dets.append(
            factory.new(
                "vision_msgs/msg/Detection3D",
                header=_enc_header(array.header, factory, dw),
                results=_enc_hypotheses(det.results, factory, dw),
                bbox=factory.new(
                    "vision_msgs/msg/BoundingBox3D",
                    center=_enc_pose(det.center, factory),
                    size=_enc_vector("geometry_msgs/msg/Vector3", size, factory),
                ),
                id=str(det.id),
            )
        )
    return factory.new(
        DETECTION3D_ARRAY, header=_enc_header(array.header, factory, where), detections=dets
    )


# ------------------------------------------------------------------------ diagnostics


def _level(value: object, where: str) -> int:
    """A ROS ``byte``: int (rosbags) or bytes of length 1 (rclpy)."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 1:
            msg = f"{where}: expected one byte, got {len(value)}"
            raise CodecError(msg)
        return value[0]
    return _int(value, where, 0, 255)


@_guard(DIAGNOSTIC_ARRAY, "decode")
def decode_diagnostic_array(msg: object) -> DiagnosticArray:
    """Decode a diagnostic_msgs/DiagnosticArray.

    Raises:
        CodecError: missing or mistyped fields.
    """
    where = DIAGNOSTIC_ARRAY
    statuses = []
    for i, status in enumerate(_seq(_get(msg, "status", where), f"{where}.status")):
        sw = f"{where}.status[{i}]"
        values = tuple(
            (_gets(kv, "key", f"{sw}.values[{j}]"), _gets(kv, "value", f"{sw}.values[{j}]"))
            for j, kv in enumerate(_seq(_get(status, "values", sw), f"{sw}.values"))
        )
        statuses.append(
            DiagnosticStatus(
                level=_level(_get(status, "level", sw), f"{sw}.level"),
                name=_gets(status, "name", sw),
                message=_gets(status, "message", sw),
                hardware_id=_gets(status, "hardware_id", sw),
                values=values,
            )
        )
    return DiagnosticArray(header=_header(msg, where), status=tuple(statuses))


@_guard(DIAGNOSTIC_ARRAY, "encode")
def encode_diagnostic_array(array: DiagnosticArray, factory: MessageFactory) -> object:
    """Encode a DiagnosticArray as diagnostic_msgs/DiagnosticArray.

    Raises:
        CodecError: wrong object types, level outside 0..255.
    """
    where = DIAGNOSTIC_ARRAY
    _check_type(array, DiagnosticArray, where)
    statuses = []
    for i, status in enumerate(array.status):
        sw = f"{where}.status[{i}]"
        _check_type(status, DiagnosticStatus, sw)
        statuses.append(
            factory.new(
                "diagnostic_msgs/msg/DiagnosticStatus",
                level=factory.byte(_int(status.level, f"{sw}.level", 0, 255)),
                name=str(status.name),
                message=str(status.message),
                hardware_id=str(status.hardware_id),
                values=[
                    factory.new("diagnostic_msgs/msg/KeyValue", key=str(k), value=str(v))
                    for k, v in status.values
                ],
            )
        )
    return factory.new(
        DIAGNOSTIC_ARRAY, header=_enc_header(array.header, factory, where), status=statuses
    )


# ------------------------------------------------------------------ RViz markers


def decode_marker_array(msg: object) -> MarkerArray:
    """Decode a visualization_msgs/MarkerArray (see :mod:`percept.codecs.markers`)."""
    # Imported at call time: codecs_viz builds on this module's helpers.
    from percept.codecs.markers import decode_marker_array as decode

    return decode(msg)


def encode_marker_array(array: MarkerArray, factory: MessageFactory) -> object:
    """Encode a MarkerArray (see :mod:`percept.codecs.markers`)."""
    from percept.codecs.markers import encode_marker_array as encode

    return encode(array, factory)


# --------------------------------------------------------------------- table-driven API

_CODECS: Final[dict[str, tuple[type, Callable[..., object], Callable[..., object]]]] = {
    IMAGE: (Image, decode_image, encode_image),
    COMPRESSED_IMAGE: (CompressedImage, decode_compressed_image, encode_compressed_image),
    CAMERA_INFO: (CameraInfo, decode_camera_info, encode_camera_info),
    IMU: (ImuSample, decode_imu, encode_imu),
    POINT_CLOUD2: (PointCloud, decode_point_cloud, encode_point_cloud),
    DISPARITY_IMAGE: (Disparity, decode_disparity, encode_disparity),
    ODOMETRY: (Odometry, decode_odometry, encode_odometry),
    PATH: (Path, decode_path, encode_path),
    OCCUPANCY_GRID: (OccupancyGrid, decode_occupancy_grid, encode_occupancy_grid),
    POSE_STAMPED: (PoseStamped, decode_pose_stamped, encode_pose_stamped),
    TRANSFORM_STAMPED: (TransformStamped, decode_transform_stamped, encode_transform_stamped),
    TF_MESSAGE: (tuple, decode_tf_message, encode_tf_message),
    DETECTION2D_ARRAY: (Detection2DArray, decode_detection2d_array, encode_detection2d_array),
    DETECTION3D_ARRAY: (Detection3DArray, decode_detection3d_array, encode_detection3d_array),
    DIAGNOSTIC_ARRAY: (DiagnosticArray, decode_diagnostic_array, encode_diagnostic_array),
    MARKER_ARRAY: (MarkerArray, decode_marker_array, encode_marker_array),
}

#: ROS 2 message type -> the domain class its decoder returns (TFMessage: a tuple of
#: TransformStamped).
DOMAIN_TYPES: Final[dict[str, type]] = {name: entry[0] for name, entry in _CODECS.items()}

#: Message types :func:`decode` and :func:`encode` handle, sorted.
SUPPORTED_TYPES: Final[tuple[str, ...]] = tuple(sorted(_CODECS))


def _codec(msgtype: str) -> tuple[str, tuple[type, Callable[..., object], Callable[..., object]]]:
    name = msgtype
    if not isinstance(name, str):
        msg = f"msgtype: expected a string like 'sensor_msgs/msg/Image', got {_show(name)}"
        raise CodecError(msg)
    parts = name.split("/")
    if len(parts) == 2:  # ROS 1 style 'sensor_msgs/Image'
        name = f"{parts[0]}/msg/{parts[1]}"
    entry = _CODECS.get(name)
    if entry is None:
        msg = f"{msgtype}: no codec for this message type; supported: {list(SUPPORTED_TYPES)}"
        raise CodecError(msg)
    return name, entry


def decode(msgtype: str, msg: object) -> object:
    """Decode a message of ``msgtype`` to its domain object (see ``DOMAIN_TYPES``).

    Args:
        msgtype: ROS 2 type name, ``sensor_msgs/msg/Image`` (``sensor_msgs/Image`` too).
        msg: any object with that type's fields (rclpy, rosbags, SimpleNamespace).

    Returns:
        An instance of ``DOMAIN_TYPES[msgtype]``.

    Raises:
        CodecError: unsupported type or malformed message.
    """
    _, (_, decoder, _) = _codec(msgtype)
    return decoder(msg)


def encode(msgtype: str, obj: object, factory: MessageFactory) -> object:
    """Encode a domain object as a message of ``msgtype`` built by ``factory``.

    Raises:
        CodecError: unsupported type, ``obj`` of the wrong class, or unencodable values.
    """
    name, (cls, _, encoder) = _codec(msgtype)
    if not isinstance(obj, cls) and not (cls is tuple and isinstance(obj, list)):
        msg = f"{name}: expected {cls.__name__} to encode, got {type(obj).__name__}"
        raise CodecError(msg)
    return encoder(obj, factory)
