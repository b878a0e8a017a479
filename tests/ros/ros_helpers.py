"""Helpers shared by the ROS tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

__all__ = ["NEEDS_ROS", "ros2_command"]

#: Why a ROS test module skips: rclpy (or a message package) cannot be imported.
NEEDS_ROS = "needs ROS 2: source /opt/ros/<distro>/setup.bash (rclpy not importable)"


def ros2_command(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the ``ros2`` CLI with this interpreter (it has percept's dependencies).

    The ``ros2`` script of a source build names the build's Python; running it with
    ``sys.executable`` keeps one interpreter for the tests and the CLI.
    """
    ros2 = shutil.which("ros2")
    if ros2 is None:
        pytest.skip("the ros2 command is not on PATH (ros2cli not installed)")
    return subprocess.run(
        [sys.executable, ros2, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
