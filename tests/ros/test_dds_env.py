"""The DDS settings the ros tests use, by distribution and RMW (no ROS 2 needed)."""

from __future__ import annotations

import pytest

from .ros_helpers import dds_environment, legacy_localhost_only

URI = "file:///tmp/cyclonedds.xml"


@pytest.mark.parametrize(
    ("distro", "legacy"),
    [("humble", True), ("Humble", True), ("foxy", True), ("iron", False), ("jazzy", False)],
)
def test_the_distribution_decides(distro: str, legacy: bool) -> None:
    assert legacy_localhost_only(distro) is legacy


def test_jazzy_uses_the_discovery_range_and_never_localhost_only() -> None:
    env = dds_environment(legacy=False, rmw="rmw_cyclonedds_cpp", cyclone_uri=URI)
    assert env == {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "ROS_LOCALHOST_ONLY": None,
        "CYCLONEDDS_URI": URI,
    }


@pytest.mark.parametrize("rmw", ["", "rmw_cyclonedds_cpp"])
def test_humble_with_cyclone_uses_the_interface_file_not_both(rmw: str) -> None:
    env = dds_environment(legacy=True, rmw=rmw, cyclone_uri=URI)
    # Both would select lo twice, which Cyclone refuses: no node could be created.
    assert env["CYCLONEDDS_URI"] == URI
    assert env["ROS_LOCALHOST_ONLY"] is None
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] is None


def test_humble_with_fast_dds_uses_localhost_only() -> None:
    env = dds_environment(legacy=True, rmw="rmw_fastrtps_cpp", cyclone_uri=URI)
    assert env == {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": None,
        "ROS_LOCALHOST_ONLY": "1",
        "CYCLONEDDS_URI": None,
    }
