"""Helpers shared by the ROS tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys

import pytest

__all__ = [
    "LEGACY_LOCALHOST_DISTROS",
    "NEEDS_ROS",
    "cli_report",
    "dds_environment",
    "legacy_localhost_only",
    "ros2_command",
]

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


def cli_report(out: subprocess.CompletedProcess[str]) -> str:
    """What a failed CLI assertion shows: the command, its exit status and output tails."""
    return (
        f"{' '.join(out.args[1:])}\nexit status {out.returncode}\n"
        f"stdout: {out.stdout[-1500:]}\nstderr: {out.stderr[-2500:]}"
    )


#: Distributions whose discovery is limited with ``ROS_LOCALHOST_ONLY`` (no
#: ``ROS_AUTOMATIC_DISCOVERY_RANGE`` yet). Humble is the one still supported.
LEGACY_LOCALHOST_DISTROS = frozenset({"foxy", "galactic", "humble"})


def legacy_localhost_only(distro: str | None = None) -> bool:
    """Whether the sourced ROS 2 limits discovery with ``ROS_LOCALHOST_ONLY`` (Humble).

    ``ROS_DISTRO`` decides. A colcon build without ros_environment leaves it unset; then
    the distribution is told by type_description_interfaces, which arrived (Iron) with
    ``ROS_AUTOMATIC_DISCOVERY_RANGE``.
    """
    distro = os.environ.get("ROS_DISTRO", "") if distro is None else distro
    if distro:
        return distro.lower() in LEGACY_LOCALHOST_DISTROS
    return importlib.util.find_spec("type_description_interfaces") is None


def dds_environment(*, legacy: bool, rmw: str, cyclone_uri: str) -> dict[str, str | None]:
    """The variables that keep DDS on loopback (``None``: unset), by distribution and RMW.

    - Jazzy and later: ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (it only adds
      localhost as a static peer), plus the Cyclone file bound to ``lo``.
    - Humble with Cyclone DDS: the Cyclone file only. ``ROS_LOCALHOST_ONLY=1`` makes
      Humble's rmw_cyclonedds put its own ``127.0.0.1`` interface in front of the file,
      and Cyclone refuses ``lo`` selected twice (node creation fails).
    - Humble with another RMW (Fast DDS): ``ROS_LOCALHOST_ONLY=1``; the file is unused.
    """
    cyclone = rmw in ("", "rmw_cyclonedds_cpp")
    if not legacy:
        return {
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "ROS_LOCALHOST_ONLY": None,  # deprecated from Jazzy on
            "CYCLONEDDS_URI": cyclone_uri,
        }
    if cyclone:
        return {
            "ROS_AUTOMATIC_DISCOVERY_RANGE": None,
            "ROS_LOCALHOST_ONLY": None,
            "CYCLONEDDS_URI": cyclone_uri,
        }
    return {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": None,
        "ROS_LOCALHOST_ONLY": "1",
        "CYCLONEDDS_URI": None,
    }


def default_sigint() -> None:
    """``preexec_fn`` of a launched graph: SIGINT at its default and unblocked.

    A child inherits ignored signals and the signal mask across exec. Whatever the
    test process's state (rclpy, thread pools and earlier tests touch signals), the
    launched ``ros2 launch`` must see the Ctrl-C the teardown sends.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
