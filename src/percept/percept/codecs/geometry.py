"""Codecs of poses and transforms: geometry_msgs, tf2_msgs and nav_msgs Odometry and Path."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    as_floats,
    as_seq,
    check_type,
    get,
    get_str,
    read_header,
    read_pose,
    read_transform,
    read_xyz,
    write_fixed,
    write_header,
    write_pose,
    write_transform,
    write_vector,
)
from percept.domain import (
    Odometry,
    Path,
    PoseStamped,
    TransformStamped,
)
from percept.msgtypes import ODOMETRY, PATH, POSE_STAMPED, TF_MESSAGE, TRANSFORM_STAMPED

__all__ = [
    "decode_odometry",
    "decode_path",
    "decode_pose_stamped",
    "decode_tf_message",
    "decode_transform_stamped",
    "encode_odometry",
    "encode_path",
    "encode_pose_stamped",
    "encode_tf_message",
    "encode_transform_stamped",
]


def _read_pose_stamped(msg: object, where: str) -> PoseStamped:
    return PoseStamped(read_header(msg, where), read_pose(get(msg, "pose", where), f"{where}.pose"))


def _write_pose_stamped(obj: PoseStamped, factory: MessageFactory, where: str) -> object:
    check_type(obj, PoseStamped, where)
    return factory.new(
        POSE_STAMPED,
        header=write_header(obj.header, factory, where),
        pose=write_pose(obj.pose, factory),
    )


decode_pose_stamped, encode_pose_stamped = codec_functions(
    POSE_STAMPED,
    "pose_stamped",
    _read_pose_stamped,
    _write_pose_stamped,
    """Decode a geometry_msgs/PoseStamped (pose of the body in ``header.frame_id``).

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a PoseStamped as geometry_msgs/PoseStamped.

    Raises:
        CodecError: wrong object type.
    """,
)


def _read_transform_stamped(msg: object, where: str) -> TransformStamped:
    return TransformStamped(
        header=read_header(msg, where),
        child_frame_id=get_str(msg, "child_frame_id", where),
        transform=read_transform(get(msg, "transform", where), f"{where}.transform"),
    )


def _write_transform_stamped(obj: TransformStamped, factory: MessageFactory, where: str) -> object:
    check_type(obj, TransformStamped, where)
    return factory.new(
        TRANSFORM_STAMPED,
        header=write_header(obj.header, factory, where),
        child_frame_id=str(obj.child_frame_id),
        transform=write_transform(obj.transform, factory),
    )


decode_transform_stamped, encode_transform_stamped = codec_functions(
    TRANSFORM_STAMPED,
    "transform_stamped",
    _read_transform_stamped,
    _write_transform_stamped,
    """Decode a geometry_msgs/TransformStamped (``T_frame_child``).

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a TransformStamped as geometry_msgs/TransformStamped.

    Raises:
        CodecError: wrong object type.
    """,
)


def _read_tf_message(msg: object, where: str) -> tuple[TransformStamped, ...]:
    transforms = as_seq(get(msg, "transforms", where), f"{where}.transforms")
    return tuple(
        _read_transform_stamped(t, f"{where}.transforms[{i}]") for i, t in enumerate(transforms)
    )


def _write_tf_message(
    transforms: Sequence[TransformStamped], factory: MessageFactory, where: str
) -> object:
    items = as_seq(transforms, f"{where}.transforms")
    return factory.new(
        TF_MESSAGE,
        transforms=[
            _write_transform_stamped(t, factory, f"{where}.transforms[{i}]")  # type: ignore[arg-type]
            for i, t in enumerate(items)
        ],
    )


decode_tf_message, encode_tf_message = codec_functions(
    TF_MESSAGE,
    "tf_message",
    _read_tf_message,
    _write_tf_message,
    """Decode a tf2_msgs/TFMessage into its transforms, in message order.

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode transforms as a tf2_msgs/TFMessage.

    Raises:
        CodecError: an element is not a TransformStamped.
    """,
)


def _read_odometry(msg: object, where: str) -> Odometry:
    pose_cov = get(msg, "pose", where)
    twist_cov = get(msg, "twist", where)
    pw, tw = f"{where}.pose", f"{where}.twist"
    twist = get(twist_cov, "twist", tw)
    return Odometry(
        header=read_header(msg, where),
        child_frame_id=get_str(msg, "child_frame_id", where),
        pose=read_pose(get(pose_cov, "pose", pw), f"{pw}.pose"),
        pose_covariance=as_floats(get(pose_cov, "covariance", pw), 36, f"{pw}.covariance").reshape(
            6, 6
        ),
        linear_velocity_m_s=read_xyz(get(twist, "linear", f"{tw}.twist"), f"{tw}.twist.linear"),
        angular_velocity_rad_s=read_xyz(
            get(twist, "angular", f"{tw}.twist"), f"{tw}.twist.angular"
        ),
        twist_covariance=as_floats(
            get(twist_cov, "covariance", tw), 36, f"{tw}.covariance"
        ).reshape(6, 6),
    )


def _write_odometry(odom: Odometry, factory: MessageFactory, where: str) -> object:
    check_type(odom, Odometry, where)
    vec = "geometry_msgs/msg/Vector3"
    return factory.new(
        ODOMETRY,
        header=write_header(odom.header, factory, where),
        child_frame_id=str(odom.child_frame_id),
        pose=factory.new(
            "geometry_msgs/msg/PoseWithCovariance",
            pose=write_pose(odom.pose, factory),
            covariance=write_fixed(odom.pose_covariance, 36, factory, f"{where}.pose.covariance"),
        ),
        twist=factory.new(
            "geometry_msgs/msg/TwistWithCovariance",
            twist=factory.new(
                "geometry_msgs/msg/Twist",
                linear=write_vector(vec, np.asarray(odom.linear_velocity_m_s), factory),
                angular=write_vector(vec, np.asarray(odom.angular_velocity_rad_s), factory),
            ),
            covariance=write_fixed(odom.twist_covariance, 36, factory, f"{where}.twist.covariance"),
        ),
    )


decode_odometry, encode_odometry = codec_functions(
    ODOMETRY,
    "odometry",
    _read_odometry,
    _write_odometry,
    """Decode a nav_msgs/Odometry.

    Returns:
        Odometry with (6, 6) float64 covariances and (3,) float64 velocities.

    Raises:
        CodecError: covariance not 36 values, missing or mistyped fields.
    """,
    """Encode an Odometry as nav_msgs/Odometry.

    Raises:
        CodecError: wrong object type or array sizes.
    """,
)


def _read_path(msg: object, where: str) -> Path:
    poses = as_seq(get(msg, "poses", where), f"{where}.poses")
    return Path(
        header=read_header(msg, where),
        poses=tuple(_read_pose_stamped(p, f"{where}.poses[{i}]") for i, p in enumerate(poses)),
    )


def _write_path(path: Path, factory: MessageFactory, where: str) -> object:
    check_type(path, Path, where)
    return factory.new(
        PATH,
        header=write_header(path.header, factory, where),
        poses=[
            _write_pose_stamped(p, factory, f"{where}.poses[{i}]") for i, p in enumerate(path.poses)
        ],
    )


decode_path, encode_path = codec_functions(
    PATH,
    "path",
    _read_path,
    _write_path,
    """Decode a nav_msgs/Path.

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a Path as nav_msgs/Path.

    Raises:
        CodecError: wrong object type.
    """,
)
