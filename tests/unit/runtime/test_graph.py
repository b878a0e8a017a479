"""One graph for launch, replay and ``percept graph``: robot_graph against the local runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percept.cli.main import main
from percept.errors import ConfigError
from percept.runtime.graph import SUBSYSTEMS, join_namespace, robot_graph
from percept.runtime.robot import load_robot
from percept.tools.replay import build_runtime

REPO = Path(__file__).resolve().parents[3]
ROBOTS = sorted(p.stem for p in (REPO / "config" / "robots").glob("*.yaml"))


@pytest.mark.parametrize("name", ROBOTS)
def test_replay_runtime_uses_the_graph_topics(name: str) -> None:
    robot = load_robot(name, REPO)
    graph = robot_graph(robot)
    runtime = build_runtime(robot, diagnostics=False)
    assert [h.name for h in runtime.hosts] == [n.name for n in graph.nodes]
    for host, node in zip(runtime.hosts, graph.nodes, strict=True):
        inputs = {s.name for s in host.node_cls.INPUTS}
        subscribed = {k: t for k, t in host.topics.items() if k in inputs}
        published = {k: t for k, t in host.topics.items() if k not in inputs}
        assert subscribed == node.subscribes, node.full_name
        assert published == node.publishes, node.full_name
        assert dict(host.node.params) == node.parameters, node.full_name
    # Every topic a host subscribes is in the graph's topic table with its subscribers.
    table = graph.topics()
    assert set(runtime.topic_types()) == set(table)
    for topic, msgtype in runtime.topic_types().items():
        assert table[topic]["type"] == msgtype


def test_namespace_prefixes_relative_topics_only() -> None:
    robot = load_robot("synth", REPO)
    plain = robot_graph(robot)
    spaced = robot_graph(robot, namespace="robot1")
    for a, b in zip(plain.nodes, spaced.nodes, strict=True):
        assert b.namespace == join_namespace("robot1", a.namespace)
        assert b.full_name == f"/robot1{a.full_name}"
        assert a.remappings == b.remappings
        declared = {s.name: s.topic for s in (*a.node_cls.INPUTS, *a.node_cls.OUTPUTS)}
        remaps = a.entry.remappings
        for key, topic in {**a.subscribes, **a.publishes}.items():
            target = remaps.get(key, remaps.get(declared[key], declared[key]))
            expected = topic if target.startswith("/") else f"/robot1{topic}"
            assert {**b.subscribes, **b.publishes}[key] == expected, (a.full_name, key)
    vio = next(n for n in spaced.nodes if n.node_type == "vio")
    assert vio.subscribes["imu"] == "/imu/data"  # an absolute remap ignores the namespace
    assert vio.publishes["odom"] == "/odom"
    assert vio.subscribes["left_image"] == "/robot1/stereo/left/image_rect"


def test_disabled_subsystems_leave_their_nodes_out() -> None:
    robot = load_robot("synth", REPO)
    graph = robot_graph(robot, disabled=["detection", "mapping"])
    types = [n.node_type for n in graph.nodes]
    assert types == ["stereo_rectify", "stereo_depth", "vio"]
    assert graph.left_out == ("/stereo/detector", "/stereo/detector_3d", "/occupancy_map")
    assert graph.disabled == ("detection", "mapping")
    assert set(SUBSYSTEMS) >= {"detection", "depth", "vio", "mapping"}
    with pytest.raises(ConfigError, match=r"unknown subsystems \['lidar'\]"):
        robot_graph(robot, disabled=["lidar"])


def test_extra_params_file_is_applied_last_and_checked(tmp_path: Path) -> None:
    robot = load_robot("example", REPO)
    extra = tmp_path / "extra.yaml"
    extra.write_text("/**/resize:\n  ros__parameters:\n    scale_width: 0.25\n", encoding="utf-8")
    graph = robot_graph(robot, params_file=extra)
    resize = next(n for n in graph.nodes if n.node_type == "resize")
    assert resize.parameters["scale_width"] == 0.25
    assert resize.extra_files == (extra,)
    debayer = next(n for n in graph.nodes if n.node_type == "debayer")
    assert debayer.parameters == dict(robot.nodes[0].params)
    extra.write_text("/**/resize:\n  ros__parameters:\n    scale_width: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="scale_width must be double"):
        robot_graph(robot, params_file=extra)


def test_calibration_dir_is_the_node_parameter_or_the_robot_folder() -> None:
    assert robot_graph(load_robot("euroc", REPO)).calibration_dir() == REPO / "calibration/euroc"
    assert robot_graph(load_robot("example", REPO)).calibration_dir() == (
        REPO / "calibration" / "example"
    )


def test_percept_graph_json_equals_the_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--robot", "euroc", "--namespace", "r1", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = robot_graph(load_robot("euroc", REPO), namespace="r1").to_dict()
    assert printed == json.loads(json.dumps(expected))
    rectify = printed["nodes"][0]
    assert rectify["full_name"] == "/r1/stereo/stereo_rectify"
    assert rectify["subscribes"]["left_image"] == "/cam0/image_raw"
    assert ["left/image_raw", "/cam0/image_raw"] in rectify["remappings"]
    assert printed["topics"]["/cam0/image_raw"]["subscribers"] == ["/r1/stereo/stereo_rectify"]


def test_percept_graph_text_lists_topics_remaps_and_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["graph", "--robot", "synth", "--disable", "detection"]) == 0
    out = capsys.readouterr().out
    assert "robot synth" in out
    assert "left out (detection): /stereo/detector, /stereo/detector_3d" in out
    assert "/stereo/vio  (vio, 1 OpenCV threads)" in out
    assert "subscribes /imu/data  [sensor_msgs/msg/Imu]  (imu)" in out
    assert "remap      imu/data -> /imu/data" in out
    assert "param      publish_debug_image = False" in out
    assert "/stereo/detector " not in out
