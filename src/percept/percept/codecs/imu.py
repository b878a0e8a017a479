"""Codec of sensor_msgs/Imu <-> :class:`percept.domain.ImuSample`."""

from __future__ import annotations

import numpy as np

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    as_floats,
    check_type,
    get,
    read_header,
    read_xyz,
    read_xyzw,
    write_fixed,
    write_header,
    write_quat,
    write_vector,
)
from percept.domain import (
    ImuSample,
)
from percept.errors import CodecError
from percept.msgtypes import IMU

__all__ = ["IMU", "decode_imu", "encode_imu"]


def _read_imu(msg: object, where: str) -> ImuSample:
    header = read_header(msg, where)
    cov = {
        name: as_floats(get(msg, name, where), 9, f"{where}.{name}").reshape(3, 3)
        for name in (
            "orientation_covariance",
            "angular_velocity_covariance",
            "linear_acceleration_covariance",
        )
    }
    orientation = None
    if cov["orientation_covariance"][0, 0] != -1:
        orientation = read_xyzw(get(msg, "orientation", where), f"{where}.orientation")
    return ImuSample(
        header=header,
        angular_velocity_rad_s=read_xyz(
            get(msg, "angular_velocity", where), f"{where}.angular_velocity"
        ),
        linear_acceleration_m_s2=read_xyz(
            get(msg, "linear_acceleration", where), f"{where}.linear_acceleration"
        ),
        orientation_xyzw=orientation,
        orientation_covariance=cov["orientation_covariance"],
        angular_velocity_covariance=cov["angular_velocity_covariance"],
        linear_acceleration_covariance=cov["linear_acceleration_covariance"],
    )


def _write_imu(sample: ImuSample, factory: MessageFactory, where: str) -> object:
    check_type(sample, ImuSample, where)
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
        header=write_header(sample.header, factory, where),
        orientation=write_quat(quat, factory),
        orientation_covariance=write_fixed(ocov, 9, factory, f"{where}.orientation_covariance"),
        angular_velocity=write_vector(
            "geometry_msgs/msg/Vector3", np.asarray(sample.angular_velocity_rad_s), factory
        ),
        angular_velocity_covariance=write_fixed(
            sample.angular_velocity_covariance,
            9,
            factory,
            f"{where}.angular_velocity_covariance",
        ),
        linear_acceleration=write_vector(
            "geometry_msgs/msg/Vector3", np.asarray(sample.linear_acceleration_m_s2), factory
        ),
        linear_acceleration_covariance=write_fixed(
            sample.linear_acceleration_covariance,
            9,
            factory,
            f"{where}.linear_acceleration_covariance",
        ),
    )


decode_imu, encode_imu = codec_functions(
    IMU,
    "imu",
    _read_imu,
    _write_imu,
    """Decode a sensor_msgs/Imu.

    Returns:
        ImuSample; ``orientation_xyzw`` is None when ``orientation_covariance[0] == -1``
        (REP 145: no orientation estimate). Covariances are (3, 3) float64.

    Raises:
        CodecError: covariance not 9 values, missing or mistyped fields.
    """,
    """Encode an ImuSample as sensor_msgs/Imu.

    Without an orientation the quaternion is all zeros and ``orientation_covariance[0]``
    is set to -1 (REP 145); zeros, not identity, so that a reader ignoring the flag does
    not mistake it for a level attitude.

    Raises:
        CodecError: orientation given while ``orientation_covariance[0, 0] == -1``, or
            wrong array sizes.
    """,
)
