"""``python -m percept_ros.bench`` runs end to end (timings are its output, not asserted)."""

from __future__ import annotations

import pytest

from .ros_helpers import NEEDS_ROS

pytestmark = pytest.mark.ros

pytest.importorskip("rclpy", reason=NEEDS_ROS)
pytest.importorskip("message_filters", reason=NEEDS_ROS)
pytest.importorskip("tf2_ros", reason=NEEDS_ROS)

from percept_ros.bench import format_figures, run_bench  # noqa: E402


def test_bench_measures_both_paths_for_both_payloads() -> None:
    figures = run_bench(frames=2)
    assert [(f.payload, f.path) for f in figures] == [
        ("image", "receive"),
        ("image", "publish"),
        ("cloud", "receive"),
        ("cloud", "publish"),
    ]
    for f in figures:
        assert f.frames == 2
        assert f.bare_ms > 0
        assert f.adapter_ms > 0
    assert len(format_figures(figures).splitlines()) == 5
