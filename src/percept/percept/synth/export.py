"""Files that come with a synthetic sequence: IMU calibration and the robot file.

``calibration/<robot>/left.yaml`` and ``right.yaml`` are written by
``percept.calib.yaml_io`` (camera_calibration_parsers layout). ``imu.yaml`` holds the
IMU noise in Kalibr's names and units, the camera-IMU extrinsics as Kalibr-style
``T_imu_cam`` and the time shift. ``config/robots/<robot>.yaml`` runs the nodes that
exist for a stereo + IMU robot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from percept.errors import ConfigError
from percept.synth.imu import ImuNoise

__all__ = ["imu_yaml", "robot_yaml", "write_text"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def imu_yaml(
    noise: ImuNoise,
    rate_hz: float,
    topic: str,
    frame_id: str,
    T_imu_cams: Sequence[tuple[str, npt.NDArray[np.float64]]],
    timeshift_cam_imu_s: float,
    noise_simulated: bool = True,
) -> str:
    """IMU noise, camera-IMU extrinsics and time shift (Kalibr names and units).

    Args:
        noise: the IMU's noise densities (what an estimator should assume).
        rate_hz: sample rate.
        topic: the IMU topic.
        frame_id: the IMU frame.
        T_imu_cams: (camera frame, (4, 4) float64 ``T_imu_cam``) pairs.
        timeshift_cam_imu_s: ``t_imu = t_cam + shift``, seconds.
        noise_simulated: False when the data were rendered without noise.

    Returns:
        The YAML text.
    """
    doc: dict[str, object] = {
        "rostopic": topic,
        "frame_id": frame_id,
        "update_rate": float(rate_hz),
        "accelerometer_noise_density": noise.accelerometer_noise_density,
        "accelerometer_random_walk": noise.accelerometer_random_walk,
        "gyroscope_noise_density": noise.gyroscope_noise_density,
        "gyroscope_random_walk": noise.gyroscope_random_walk,
        "noise_simulated": bool(noise_simulated),
        "timeshift_cam_imu": float(timeshift_cam_imu_s),
        "cameras": {
            name: {"T_imu_cam": np.asarray(T, dtype=np.float64).round(12).tolist()}
            for name, T in T_imu_cams
        },
    }
    header = (
        "# IMU of the simulated robot: noise densities in Kalibr's units (m/s^2/sqrt(Hz),\n"
        "# m/s^3/sqrt(Hz), rad/s/sqrt(Hz), rad/s^2/sqrt(Hz)); T_imu_cam takes camera-frame\n"
        "# points to the IMU frame; t_imu = t_cam + timeshift_cam_imu (seconds).\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def robot_yaml(
    robot: str, description: str, nodes: Sequence[dict[str, object]], record: Sequence[str]
) -> str:
    """A robot file (``percept.runtime.robot`` layout).

    Args:
        robot: robot name (the file's stem).
        description: one line.
        nodes: node entries (``type``, ``namespace``, ``threads``...).
        record: topics replay copies into its output.

    Returns:
        The YAML text.

    Raises:
        ConfigError: a robot name that is not a plain identifier.
    """
    if not _NAME.match(robot):
        msg = f"robot name must be letters, digits and _, starting with a letter; got {robot!r}"
        raise ConfigError(msg)
    doc = {
        "robot": robot,
        "description": description,
        "namespace": "",
        "record": list(record),
        "nodes": list(nodes),
    }
    header = (
        f"# Simulated robot written by `percept synth` (stereo + IMU). The same file drives\n"
        f"# `ros2 launch percept_ros perception.launch.py robot:={robot}` and\n"
        f"# `percept replay BAG --robot {robot}`.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=1000)


def write_text(path: Path, text: str) -> Path:
    """Write a file, creating its folder.

    Raises:
        ConfigError: the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot write: {err}"
        raise ConfigError(msg) from err
    return path
