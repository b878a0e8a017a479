"""The real-time profile robot file, and wall-clock replay through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from percept.cli.main import main
from percept.errors import BagError
from percept.nodes import NODE_TYPES
from percept.runtime.graph import robot_graph
from percept.runtime.robot import load_robot
from percept.tools.demo import make_pattern_bag
from percept.tools.replay import replay


def test_realtime_profile_loads_with_every_capability_wired() -> None:
    robot = load_robot("synth_rt")
    assert robot.robot == "synth_rt"
    graph = robot_graph(robot)  # validates every parameter against its declaration
    types = {n.entry.node_type for n in graph.nodes}
    assert types <= set(NODE_TYPES)
    assert {"stereo_rectify", "stereo_depth", "detector", "vio", "occupancy_map"} <= types
    published = {t for n in graph.nodes for t in n.publishes.values()}
    by_type = {n.entry.node_type: n for n in graph.nodes}
    depth = by_type["stereo_depth"].parameters
    assert depth["downscale"] == 2
    assert depth["publish_points"] is False
    det = by_type["detector"]
    assert det.parameters["depth_source"] == "depth"
    assert det.publishes["detections"] == "/detections"
    assert det.publishes["detections_3d"] == "/detections_3d"
    occ = by_type["occupancy_map"]
    assert occ.parameters["depth_stride"] == 4
    # mapping reads what stereo_depth publishes; VIO publishes /odom
    assert occ.subscribes["depth"] in published
    assert occ.subscribes["camera_info"] in published
    assert {"/odom", "/map", "/stereo/depth", "/stereo/disparity"} <= published
    # the same record list and sensors as the full-quality robot
    assert robot.record == load_robot("synth").record


@pytest.mark.slow
def test_wall_clock_replay_reports_timing_and_keeps_up_on_a_small_bag(tmp_path: Path) -> None:
    bag = make_pattern_bag(tmp_path / "p.mcap", seconds=1.0, rate_hz=10.0, width=64, height=48)
    out = tmp_path / "wc.mcap"
    assert (
        main(["-q", "replay", str(bag), "--robot", "example", "--wall-clock", "--out", str(out)])
        == 0
    )
    data = json.loads((tmp_path / "wc.timing.json").read_text())
    assert data["mode"] == "wall-clock"
    assert data["wall_s"] >= 0.85  # released on the bag's time, not as fast as possible
    assert data["dropped"] == 0  # 64x48 at 10 Hz: every node keeps up
    names = [n["name"] for n in data["nodes"]]
    assert names
    assert all(n["messages"] > 0 for n in data["nodes"])
    assert sum(n["cpu_share"] for n in data["nodes"]) == pytest.approx(1.0)
    # deterministic (default) mode reports the same accounting
    result = replay(bag, tmp_path / "det.mcap", load_robot("example"), diagnostics=False)
    assert not result.wall_clock
    assert [n.name for n in result.nodes] == names
    assert all(n.realtime_factor > 1.0 for n in result.nodes)
    assert result.realtime_factor > 1.0


def test_read_ahead_keeps_order_and_raises_the_readers_error() -> None:
    from percept.runtime.local import FedMessage
    from percept.tools.replay import _read_ahead

    msgs = [FedMessage("/t", "std_msgs/msg/String", i) for i in range(1000)]
    assert [m.recv_ns for m in _read_ahead(iter(msgs), depth=8)] == list(range(1000))

    def broken() -> Iterator[FedMessage]:
        yield msgs[0]
        raise BagError("cut")

    got = []
    with pytest.raises(BagError, match="cut"):
        got.extend(_read_ahead(broken()))
    assert len(got) == 1
    early = _read_ahead(iter(msgs), depth=4)
    assert next(early).recv_ns == 0
    early.close()  # the consumer stops: the reader thread ends too
