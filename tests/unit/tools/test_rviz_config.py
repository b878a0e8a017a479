"""The shipped RViz view against the synth robot's graph (percept.tools.rviz_config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from percept.errors import ConfigError
from percept.nodes import load_node_class
from percept.runtime.robot import RobotConfig, load_robot, with_parameters
from percept.tools.rviz_config import (
    DISPLAY_TYPES,
    OUTPUT_GATES,
    RvizConfig,
    check_rviz,
    read_rviz,
    robot_publications,
    source_rviz_config,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def synth() -> RobotConfig:
    return load_robot("synth", REPO)


@pytest.fixture(scope="module")
def shipped() -> RvizConfig:
    return read_rviz(source_rviz_config(REPO))


def _edited(tmp_path: Path, name: str, **changes: Any) -> RvizConfig:
    """The shipped file with one display (by Name) changed: ``topic=``, ``qos=``, keys."""
    doc = yaml.safe_load(source_rviz_config(REPO).read_text(encoding="utf-8"))

    def walk(items: list[dict[str, Any]]) -> bool:
        for item in items:
            if item.get("Name") == name and "Displays" not in item:
                if "topic" in changes:
                    item["Topic"]["Value"] = changes.pop("topic")
                item["Topic"].update(changes.pop("qos", {}))
                item.update(changes)
                return True
            if walk(item.get("Displays", [])):
                return True
        return False

    assert walk(doc["Visualization Manager"]["Displays"]), name
    path = tmp_path / "edited.rviz"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return read_rviz(path)


@pytest.mark.parametrize("namespace", ["", "robot1"])
def test_shipped_view_fits_the_synth_graph(
    shipped: RvizConfig, synth: RobotConfig, namespace: str
) -> None:
    # Relative display topics follow a launch namespace; absolute remaps stay put.
    assert check_rviz(shipped, synth, namespace) == []


def test_shipped_view_shows_every_product_stream(shipped: RvizConfig, synth: RobotConfig) -> None:
    by_class = {d.class_name for d in shipped.displays}
    assert {"rviz_default_plugins/TF", "rviz_default_plugins/Grid"} <= by_class
    topics = {d.topic: d for d in shipped.displays if d.topic is not None}
    enabled = {t for t, d in topics.items() if d.enabled}
    # Published by the synth graph with its parameters: shown.
    assert {
        "stereo/left/image_rect",
        "stereo/right/image_rect",
        "stereo/depth",
        "stereo/points2",
        "/detections_3d",
        "/odom",
        "/path",
        "/map",
    } <= enabled
    # Switched off in the synth robot file: present, disabled until the flag is set.
    assert {
        "stereo/image_detections",
        "stereo/markers",
        "stereo/debug_image",
        "voxels",
    } <= set(topics) - enabled
    params = {e.node_type: e.params for e in synth.nodes}
    assert shipped.fixed_frame == params["occupancy_map"]["map_frame"]
    assert shipped.fixed_frame == params["vio"]["odom_frame"]


def test_map_is_latched_and_sensor_streams_best_effort(
    shipped: RvizConfig, synth: RobotConfig
) -> None:
    pubs = robot_publications(synth)
    (map_display,) = [d for d in shipped.displays if d.class_name.endswith("/Map")]
    assert (map_display.durability, map_display.reliability) == ("transient_local", "reliable")
    checked = 0
    for display in shipped.displays:
        if display.topic is None:
            continue
        topic = display.topic if display.topic.startswith("/") else f"/{display.topic}"
        for pub in pubs[topic]:
            if pub.qos.reliability == "best_effort":
                assert display.reliability == "best_effort", display.name
                checked += 1
            assert (display.durability == "transient_local") == (
                pub.qos.durability == "transient_local"
            ), display.name
    assert checked >= 6  # the pair, depth, points, annotated image, VIO tracks


def test_display_on_an_unpublished_topic_fails_naming_it(
    tmp_path: Path, synth: RobotConfig
) -> None:
    rviz = _edited(tmp_path, "Point cloud", topic="stereo/points_nobody")
    (problem,) = check_rviz(rviz, synth)
    assert "'Stereo/Point cloud'" in problem
    assert "/stereo/points_nobody" in problem
    assert "published by no node of synth" in problem


def test_display_of_the_wrong_type_fails(tmp_path: Path, synth: RobotConfig) -> None:
    rviz = _edited(
        tmp_path, "Left rectified", topic="/odom", qos={"Reliability Policy": "Reliable"}
    )
    (problem,) = check_rviz(rviz, synth)
    assert "'Stereo/Left rectified'" in problem
    assert "nav_msgs/msg/Odometry" in problem
    assert "sensor_msgs/msg/Image" in problem


@pytest.mark.parametrize(
    ("name", "qos", "expected"),
    [
        ("Occupancy map", {"Durability Policy": "Volatile"}, "set Transient Local"),
        ("Point cloud", {"Reliability Policy": "Reliable"}, "set Best Effort"),
        ("VIO path", {"Durability Policy": "Transient Local"}, "set Volatile"),
    ],
)
def test_qos_that_misses_the_publisher_fails(
    tmp_path: Path, synth: RobotConfig, name: str, qos: dict[str, str], expected: str
) -> None:
    (problem,) = check_rviz(_edited(tmp_path, name, qos=qos), synth)
    assert name in problem
    assert expected in problem


def test_enabled_display_of_a_switched_off_output_fails(tmp_path: Path, synth: RobotConfig) -> None:
    rviz = _edited(tmp_path, "Voxels (occupancy_map enable_3d)", Enabled=True)
    (problem,) = check_rviz(rviz, synth)
    assert "/voxels" in problem
    assert "enable_3d: true" in problem
    # Switching the output on in the robot makes the same view fit.
    on = with_parameters(synth, {"occupancy_map.enable_3d": True})
    assert check_rviz(rviz, on) == []


def test_topicless_and_unknown_displays(tmp_path: Path, synth: RobotConfig) -> None:
    doc = yaml.safe_load(source_rviz_config(REPO).read_text(encoding="utf-8"))
    doc["Visualization Manager"]["Displays"][1]["Topic"] = {"Value": "/tf"}  # TF
    doc["Visualization Manager"]["Displays"].append(
        {"Class": "some_plugins/Thing", "Name": "Thing", "Topic": {"Value": "/odom"}}
    )
    path = tmp_path / "bad.rviz"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    problems = check_rviz(read_rviz(path), synth)
    assert len(problems) == 2
    assert "'TF'" in problems[0]
    assert "takes no topic" in problems[0]
    assert "unknown display class" in problems[1]


def test_disabled_group_disables_its_displays(tmp_path: Path) -> None:
    doc = yaml.safe_load(source_rviz_config(REPO).read_text(encoding="utf-8"))
    for item in doc["Visualization Manager"]["Displays"]:
        if item.get("Name") == "VIO":
            item["Enabled"] = False
    path = tmp_path / "off.rviz"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    vio = [d for d in read_rviz(path).displays if d.name.startswith("VIO/")]
    assert len(vio) == 3
    assert not any(d.enabled for d in vio)


def test_not_an_rviz_file(tmp_path: Path) -> None:
    path = tmp_path / "robot.yaml"
    path.write_text("robot: x\nnodes: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="Visualization Manager"):
        read_rviz(path)
    path.write_text("Visualization Manager: {Displays: [{Name: x}]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="has no Class"):
        read_rviz(path)


def test_gates_name_declared_outputs_and_parameters() -> None:
    for (node_type, output), gate in OUTPUT_GATES.items():
        cls = load_node_class(node_type)
        assert output in {o.name for o in cls.OUTPUTS}, (node_type, output)
        declared = {p.name for p in cls.PARAMETERS}
        assert set(gate.params) <= declared, (node_type, gate.params)


def test_publications_follow_namespaces_and_remaps(synth: RobotConfig) -> None:
    pubs = robot_publications(synth, "robot1")
    assert pubs["/robot1/stereo/points2"][0].node == "/robot1/stereo/stereo_depth"
    assert pubs["/odom"][0].output == "odom"  # absolute remap: no namespace
    assert "/robot1/odom" not in pubs
    assert pubs["/map"][0].qos.durability == "transient_local"
    # Two detectors declare stereo/markers; neither publishes it with synth's parameters.
    assert [p.published for p in pubs["/robot1/stereo/markers"]] == [False, False]


def test_display_types_cover_what_the_nodes_publish() -> None:
    shown = set().union(*DISPLAY_TYPES.values())
    assert {
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/PointCloud2",
        "nav_msgs/msg/Odometry",
        "nav_msgs/msg/Path",
        "nav_msgs/msg/OccupancyGrid",
        "visualization_msgs/msg/MarkerArray",
        "vision_msgs/msg/Detection3DArray",
    } <= shown


def test_package_installs_the_view() -> None:
    setup_py = (REPO / "src/percept_ros/setup.py").read_text(encoding="utf-8")
    assert '(f"share/{PACKAGE}/rviz", ["rviz/percept.rviz"])' in setup_py
    assert source_rviz_config(REPO) == REPO / "src/percept_ros/rviz/percept.rviz"
