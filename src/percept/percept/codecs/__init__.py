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

This package holds the registry (:data:`DOMAIN_TYPES`, :func:`decode`, :func:`encode`)
and re-exports the codecs, one module per message family: :mod:`~percept.codecs.image`
(Image, CompressedImage), :mod:`~percept.codecs.camera_info`, :mod:`~percept.codecs.imu`,
:mod:`~percept.codecs.point_cloud` (also :func:`make_point_cloud`, :func:`unpack_rgb`),
:mod:`~percept.codecs.disparity`, :mod:`~percept.codecs.geometry` (PoseStamped,
TransformStamped, TFMessage, Odometry, Path), :mod:`~percept.codecs.grid`
(OccupancyGrid), :mod:`~percept.codecs.scan` (LaserScan), :mod:`~percept.codecs.vision`
(Detection2D/3D arrays), :mod:`~percept.codecs.diagnostics` and
:mod:`~percept.codecs.markers`. Each family module
writes a reader ``(msg, where)`` and a writer ``(obj, factory, where)`` on the field
helpers of ``_fields`` and gets its public ``decode_x`` / ``encode_x`` from
``_codec.codec_functions``.

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

from collections.abc import Callable
from typing import Final

from percept.codecs._fields import MessageFactory, show
from percept.codecs.camera_info import (
    decode_camera_info,
    encode_camera_info,
)
from percept.codecs.diagnostics import (
    decode_diagnostic_array,
    encode_diagnostic_array,
)
from percept.codecs.disparity import (
    decode_disparity,
    encode_disparity,
)
from percept.codecs.geometry import (
    decode_odometry,
    decode_path,
    decode_pose_stamped,
    decode_tf_message,
    decode_transform_stamped,
    encode_odometry,
    encode_path,
    encode_pose_stamped,
    encode_tf_message,
    encode_transform_stamped,
)
from percept.codecs.grid import (
    decode_occupancy_grid,
    encode_occupancy_grid,
)
from percept.codecs.image import (
    decode_compressed_image,
    decode_image,
    encode_compressed_image,
    encode_image,
)
from percept.codecs.imu import (
    decode_imu,
    encode_imu,
)
from percept.codecs.markers import (
    decode_marker_array,
    encode_marker_array,
)
from percept.codecs.point_cloud import (
    POINTFIELD_DATATYPES,
    decode_point_cloud,
    encode_point_cloud,
    make_point_cloud,
    point_cloud_dtype,
    unpack_rgb,
)
from percept.codecs.scan import (
    decode_laser_scan,
    encode_laser_scan,
)
from percept.codecs.vision import (
    decode_detection2d_array,
    decode_detection3d_array,
    encode_detection2d_array,
    encode_detection3d_array,
)
from percept.domain import (
    CameraInfo,
    CompressedImage,
    Detection2DArray,
    Detection3DArray,
    DiagnosticArray,
    Disparity,
    Image,
    ImuSample,
    LaserScan,
    MarkerArray,
    OccupancyGrid,
    Odometry,
    Path,
    PointCloud,
    PoseStamped,
    TransformStamped,
)
from percept.errors import CodecError
from percept.msgtypes import (
    CAMERA_INFO,
    COMPRESSED_IMAGE,
    DETECTION2D_ARRAY,
    DETECTION3D_ARRAY,
    DIAGNOSTIC_ARRAY,
    DISPARITY_IMAGE,
    IMAGE,
    IMU,
    LASER_SCAN,
    MARKER_ARRAY,
    OCCUPANCY_GRID,
    ODOMETRY,
    PATH,
    POINT_CLOUD2,
    POSE_STAMPED,
    TF_MESSAGE,
    TRANSFORM_STAMPED,
)

__all__ = [
    "CAMERA_INFO",
    "COMPRESSED_IMAGE",
    "DETECTION2D_ARRAY",
    "DETECTION3D_ARRAY",
    "DIAGNOSTIC_ARRAY",
    "DISPARITY_IMAGE",
    "DOMAIN_TYPES",
    "IMAGE",
    "IMU",
    "LASER_SCAN",
    "MARKER_ARRAY",
    "OCCUPANCY_GRID",
    "ODOMETRY",
    "PATH",
    "POINTFIELD_DATATYPES",
    "POINT_CLOUD2",
    "POSE_STAMPED",
    "SUPPORTED_TYPES",
    "TF_MESSAGE",
    "TRANSFORM_STAMPED",
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
    "decode_laser_scan",
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
    "encode_laser_scan",
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


_CODECS: Final[dict[str, tuple[type, Callable[..., object], Callable[..., object]]]] = {
    IMAGE: (Image, decode_image, encode_image),
    COMPRESSED_IMAGE: (CompressedImage, decode_compressed_image, encode_compressed_image),
    CAMERA_INFO: (CameraInfo, decode_camera_info, encode_camera_info),
    IMU: (ImuSample, decode_imu, encode_imu),
    LASER_SCAN: (LaserScan, decode_laser_scan, encode_laser_scan),
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


def _lookup(msgtype: str) -> tuple[str, tuple[type, Callable[..., object], Callable[..., object]]]:
    name = msgtype
    if not isinstance(name, str):
        msg = f"msgtype: expected a string like 'sensor_msgs/msg/Image', got {show(name)}"
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
    _, (_, decoder, _) = _lookup(msgtype)
    return decoder(msg)


def encode(msgtype: str, obj: object, factory: MessageFactory) -> object:
    """Encode a domain object as a message of ``msgtype`` built by ``factory``.

    Raises:
        CodecError: unsupported type, ``obj`` of the wrong class, or unencodable values.
    """
    name, (cls, _, encoder) = _lookup(msgtype)
    if not isinstance(obj, cls) and not (cls is tuple and isinstance(obj, list)):
        msg = f"{name}: expected {cls.__name__} to encode, got {type(obj).__name__}"
        raise CodecError(msg)
    return encoder(obj, factory)
