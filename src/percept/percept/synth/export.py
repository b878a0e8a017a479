"""Files that come with a synthetic sequence: the robot file, and writing text files.

``calibration/<robot>/left.yaml`` and ``right.yaml`` are written by
``percept.calib.yaml_io`` (camera_calibration_parsers layout), ``imu.yaml`` by
``percept.calib.imu`` (Kalibr names and units, ``T_imu_cam``, time shift).
``config/robots/<robot>.yaml`` runs the nodes that exist for a stereo + IMU robot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from percept.errors import ConfigError

__all__ = ["robot_yaml", "write_text"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


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
