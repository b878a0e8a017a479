"""ROS 2 test set-up: DDS kept on the loopback interface, a random domain per session.

How DDS is kept on loopback depends on the distribution (ros_helpers.dds_environment):
Humble has ``ROS_LOCALHOST_ONLY``, Jazzy ``ROS_AUTOMATIC_DISCOVERY_RANGE``.

These tests need a sourced ROS 2 (rclpy, message_filters, tf2_ros, the message
packages); each module skips with a reason where rclpy cannot be imported.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .ros_helpers import dds_environment, legacy_localhost_only

if TYPE_CHECKING:
    from rclpy.context import Context

REPO = Path(__file__).resolve().parents[2]

# Loopback only, so a test run never talks to (or disturbs) robots on the network.
_CYCLONEDDS_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<CycloneDDS xmlns="https://cdds.io/config">
  <Domain Id="any">
    <General>
      <Interfaces><NetworkInterface name="lo"/></Interfaces>
      <AllowMulticast>false</AllowMulticast>
    </General>
    <Discovery>
      <ParticipantIndex>auto</ParticipantIndex>
      <Peers><Peer address="127.0.0.1"/></Peers>
      <MaxAutoParticipantIndex>100</MaxAutoParticipantIndex>
    </Discovery>
  </Domain>
</CycloneDDS>
"""


@pytest.fixture(scope="session", autouse=True)
def ros_loopback_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Set the DDS environment before any rclpy context is created; yields the domain id."""
    xml = tmp_path_factory.mktemp("dds") / "cyclonedds.xml"
    xml.write_text(_CYCLONEDDS_XML, encoding="utf-8")
    domain = random.SystemRandom().randint(1, 101)  # 0..101 is the portable range
    settings = dds_environment(
        legacy=legacy_localhost_only(), rmw=_rmw_implementation(), cyclone_uri=f"file://{xml}"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROS_DOMAIN_ID", str(domain))
        for name, value in settings.items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        mp.syspath_prepend(str(REPO / "src" / "percept_ros"))
        yield domain


def _rmw_implementation() -> str:
    """The RMW the tests will use: ``RMW_IMPLEMENTATION``, else the install's default.

    Loading rclpy reads no DDS variable (that happens at init and node creation), so
    asking it here, before they are set, is safe. Empty when rclpy cannot be imported.
    """
    chosen = os.environ.get("RMW_IMPLEMENTATION", "")
    if chosen:
        return chosen
    try:
        import rclpy

        return str(rclpy.get_rmw_implementation_identifier())
    except Exception:  # no ROS 2 here: the ros test modules skip anyway
        return ""


@pytest.fixture
def context() -> Iterator[Context]:
    """A fresh rclpy context per test (imported here: modules without rclpy skip first)."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    ctx.try_shutdown()


@pytest.fixture(scope="session")
def percept_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace built by colcon against the sourced ROS 2 (its install/ folder)."""
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.skip("colcon is not installed (pip install colcon-core colcon-ros)")
    base = tmp_path_factory.mktemp("colcon")
    result = subprocess.run(
        [
            colcon,
            "--log-base",
            str(base / "log"),
            "build",
            "--base-paths",
            str(REPO / "src"),
            "--build-base",
            str(base / "build"),
            "--install-base",
            str(base / "install"),
            "--event-handlers",
            "console_direct-",
        ],
        cwd=base,
        env={**os.environ, "COLCON_HOME": str(base / "colcon_home")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return base / "install"
