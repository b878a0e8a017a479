"""percept_ros parts that run without ROS 2: import guard, console scripts, launch planning."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from percept.errors import ConfigError
from percept.nodes import NODE_TYPES, load_node_class
from percept.runtime.robot import load_robot

REPO = Path(__file__).resolve().parents[2]
PERCEPT_ROS = REPO / "src" / "percept_ros"


@pytest.fixture(autouse=True)
def _percept_ros_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import percept_ros from the source tree when it is not installed."""
    monkeypatch.syspath_prepend(str(PERCEPT_ROS))


def _setup_node_types() -> tuple[str, ...]:
    tree = ast.parse((PERCEPT_ROS / "setup.py").read_text(encoding="utf-8"))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "NODE_TYPES" for t in stmt.targets
        ):
            value: tuple[str, ...] = ast.literal_eval(stmt.value)
            return value
    pytest.fail("setup.py has no module-level NODE_TYPES")


def test_console_scripts_equal_node_types() -> None:
    assert sorted(_setup_node_types()) == sorted(NODE_TYPES)


def test_every_console_script_has_its_function() -> None:
    scripts = importlib.import_module("percept_ros.scripts")
    for node_type in _setup_node_types():
        assert callable(getattr(scripts, node_type)), node_type


def test_launch_file_installed_from_package(tmp_path: Path) -> None:
    assert (PERCEPT_ROS / "launch" / "perception.launch.py").is_file()
    setup_text = (PERCEPT_ROS / "setup.py").read_text(encoding="utf-8")
    assert "launch/perception.launch.py" in setup_text
    assert (PERCEPT_ROS / "resource" / "percept_ros").is_file()


def test_adapter_import_raises_on_missing_rclpy(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import rclpy` fail even where ROS 2 is sourced.
    monkeypatch.setitem(sys.modules, "rclpy", None)
    monkeypatch.delitem(sys.modules, "percept_ros.adapter", raising=False)
    with pytest.raises(ImportError, match=r"needs ROS 2 \(rclpy\).*source /opt/ros/") as info:
        importlib.import_module("percept_ros.adapter")
    assert "missing module: rclpy" in str(info.value)


def test_percept_ros_package_imports_without_ros() -> None:
    # A fresh process: in this one, earlier tests may have imported rclpy already.
    code = (
        "import importlib, sys\n"
        "for name in ('percept_ros', 'percept_ros.scripts', 'percept_ros.launch_graph'):\n"
        "    importlib.import_module(name)\n"
        "ros = ('rclpy', 'message_filters', 'tf2_ros', 'tf2_py', 'cv_bridge', 'launch_ros')\n"
        "tops = {m.split('.')[0] for m in sys.modules}\n"
        "bad = sorted(t for t in tops if t in ros or t.endswith('_msgs'))\n"
        "assert not bad, f'imported ROS modules: {bad}'\n"
    )
    path = os.pathsep.join(filter(None, [str(PERCEPT_ROS), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_topic_remappings_accept_names_and_topics() -> None:
    from percept_ros.launch_graph import topic_remappings

    resize = load_node_class("resize")
    pairs = topic_remappings(resize, {"image/image_raw": "image_color", "camera_info_out": "x"})
    assert pairs == [("image/image_raw", "image_color"), ("resize/camera_info", "x")]


def test_topic_remappings_raise_on_unknown_key() -> None:
    from percept_ros.launch_graph import topic_remappings

    with pytest.raises(ConfigError, match=r"remap keys \['nope'\] match no input/output"):
        topic_remappings(load_node_class("resize"), {"nope": "x"})


def test_join_namespace_makes_one_absolute_namespace() -> None:
    from percept_ros.launch_graph import join_namespace

    assert join_namespace("/r1/", "", "camera") == "/r1/camera"
    assert join_namespace("", "") == ""


def _write_robot(root: Path, body: str) -> Path:
    (root / "config" / "robots").mkdir(parents=True)
    (root / "config" / "resize.yaml").write_text(
        "resize:\n  ros__parameters:\n    scale_width: 0.5\n    scale_height: 0.5\n",
        encoding="utf-8",
    )
    path = root / "config" / "robots" / "bot.yaml"
    path.write_text(body, encoding="utf-8")
    return path


ROBOT = """\
robot: bot
namespace: bot
nodes:
  - type: resize
    namespace: camera
    threads: 2
    parameters: {scale_width: 0.25, interpolation: 1}
    remappings: {image: image_color}
"""


def test_plan_nodes_resolves_namespace_params_and_remaps(tmp_path: Path) -> None:
    from percept_ros.launch_graph import plan_nodes

    _write_robot(tmp_path, ROBOT)
    robot = load_robot("bot", tmp_path)
    (plan,) = plan_nodes(robot, namespace="fleet", use_sim_time=True, log_level="debug")
    assert plan.executable == "percept_resize"
    assert plan.name == "resize"
    assert plan.namespace == "/fleet/bot/camera"
    # The file, then only what the robot file changes (interpolation 1 is the default).
    assert plan.parameters == (
        str(tmp_path / "config" / "resize.yaml"),
        {"scale_width": 0.25, "use_sim_time": True},
    )
    assert plan.remappings == (("image/image_raw", "image_color"),)
    assert plan.arguments == ("--ros-args", "--log-level", "debug")
    assert plan.env == {"PERCEPT_THREADS": "2"}


def test_plan_nodes_raises_on_bad_extra_params_file(tmp_path: Path) -> None:
    from percept_ros.launch_graph import plan_nodes

    _write_robot(tmp_path, ROBOT)
    extra = tmp_path / "extra.yaml"
    extra.write_text("/**:\n  ros__parameters:\n    scale_width: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"extra.yaml: /\*\*.ros__parameters.scale_width"):
        plan_nodes(load_robot("bot", tmp_path), params_file=extra)


def test_plan_nodes_appends_extra_params_file_last(tmp_path: Path) -> None:
    from percept_ros.launch_graph import plan_nodes

    _write_robot(tmp_path, ROBOT)
    extra = tmp_path / "extra.yaml"
    extra.write_text("resize:\n  ros__parameters:\n    scale_width: 2.0\n", encoding="utf-8")
    (plan,) = plan_nodes(load_robot("bot", tmp_path), params_file=extra)
    assert plan.parameters[-1] == str(extra)


def test_plan_nodes_raises_on_bad_log_level(tmp_path: Path) -> None:
    from percept_ros.launch_graph import plan_nodes

    _write_robot(tmp_path, ROBOT)
    with pytest.raises(ConfigError, match="log_level must be one of"):
        plan_nodes(load_robot("bot", tmp_path), log_level="loud")


def test_example_robot_plans_every_node() -> None:
    from percept_ros.launch_graph import plan_nodes

    robot = load_robot("example", REPO)
    plans = plan_nodes(robot)
    assert [p.executable for p in plans] == [f"percept_{n.node_type}" for n in robot.nodes]
    assert all(p.executable.removeprefix("percept_") in NODE_TYPES for p in plans)


# -- one graph, launch options and the calibration gate (issue 19) -----------------------


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (REPO / "config" / "robots").glob("*.yaml"))
)
def test_launch_plans_equal_the_graph(name: str) -> None:
    from percept.runtime.graph import robot_graph
    from percept_ros.launch_graph import plan_nodes

    robot = load_robot(name, REPO)
    graph = robot_graph(robot, namespace="r1")
    plans = plan_nodes(robot, namespace="r1")
    assert [(p.executable, p.name, p.namespace, p.remappings) for p in plans] == [
        (f"percept_{n.node_type}", n.name, n.namespace, n.remappings) for n in graph.nodes
    ]


def test_disabled_subsystems_are_not_launched() -> None:
    from percept.runtime.graph import robot_graph
    from percept_ros.launch_graph import plan_graph_process, plan_nodes

    robot = load_robot("synth", REPO)
    plans = plan_nodes(robot, disabled=["detection", "vio"])
    assert [p.executable for p in plans] == [
        "percept_stereo_rectify",
        "percept_stereo_depth",
        "percept_occupancy_map",
    ]
    graph = robot_graph(robot, namespace="r1", disabled=["vio", "detection"])
    one = plan_graph_process(graph, use_sim_time=True, log_level="warn")
    assert one.executable == "percept_graph_process"
    assert one.arguments == (
        "--robot", str(robot.path), "--namespace", "r1", "--disable", "detection,vio",
        "--use-sim-time", "--ros-args", "--log-level", "warn",
    )  # fmt: skip
    assert one.env == {"PERCEPT_THREADS": "1"}


def test_graph_process_gives_each_node_its_own_remaps() -> None:
    from percept.runtime.graph import robot_graph
    from percept_ros.graph_process import node_arguments, parse_args

    graph = robot_graph(load_robot("euroc", REPO))
    rectify = graph.nodes[0]
    assert node_arguments(rectify) == [
        "--ros-args",
        *("-r", "left/image_raw:=/cam0/image_raw", "-r", "left/camera_info:=/cam0/camera_info"),
        *("-r", "right/image_raw:=/cam1/image_raw", "-r", "right/camera_info:=/cam1/camera_info"),
    ]
    options = parse_args(["--robot", "euroc", "--disable", "vio", "--use-sim-time"])
    assert (options.robot, options.disable, options.use_sim_time) == ("euroc", "vio", True)


def test_setup_installs_replay_launch_and_graph_process() -> None:
    setup_text = (PERCEPT_ROS / "setup.py").read_text(encoding="utf-8")
    assert "launch/replay.launch.py" in setup_text
    assert "percept_graph_process = {PACKAGE}.graph_process:main" in setup_text
    assert (PERCEPT_ROS / "launch" / "replay.launch.py").is_file()
    assert (REPO / "launch" / "replay.launch.py").is_file()


def test_rviz_config_prefers_the_installed_share(tmp_path: Path) -> None:
    from percept_ros.launch_graph import rviz_config

    share, project = tmp_path / "share", tmp_path / "project"
    assert rviz_config(share, project) is None
    (project / "config" / "rviz").mkdir(parents=True)
    (project / "config" / "rviz" / "percept.rviz").write_text("x", encoding="utf-8")
    assert rviz_config(share, project) == project / "config" / "rviz" / "percept.rviz"
    (share / "rviz").mkdir(parents=True)
    (share / "rviz" / "percept.rviz").write_text("x", encoding="utf-8")
    assert rviz_config(share, project) == share / "rviz" / "percept.rviz"
    assert rviz_config(None, None) is None
    shipped = REPO / "src" / "percept_ros" / "rviz" / "percept.rviz"
    assert rviz_config(None, REPO) == (shipped if shipped.is_file() else None)


def _gate_project(tmp_path: Path, k1_error: float) -> tuple[Path, Path]:
    """A robot with calibration/bot/camera.yaml (k1 off by k1_error) and board images."""
    import cv2

    from percept.calib.yaml_io import write_camera_info_yaml
    from percept.geometry.camera import CameraModel

    from .calib.calib_views import CAMERAS, render_views

    _write_robot(tmp_path, ROBOT)
    true = CAMERAS["plumb_bob"]
    D = true.D.copy()
    D[0] += k1_error
    camera = CameraModel(true.width, true.height, true.distortion_model, true.K, D)
    write_camera_info_yaml(tmp_path / "calibration" / "bot" / "camera.yaml", camera, "camera")
    images = tmp_path / "fresh"
    images.mkdir()
    for i, image in enumerate(render_views(true, 4, 21, stereo=False).left):
        cv2.imwrite(str(images / f"img{i:02d}.png"), image)
    return tmp_path, images


@pytest.mark.parametrize(("k1_error", "passes"), [(0.0, True), (0.5, False)])
def test_calibration_gate_stops_a_failing_calibration(
    tmp_path: Path, k1_error: float, passes: bool
) -> None:
    from percept.runtime.graph import robot_graph
    from percept_ros.launch_graph import calibration_gate

    root, images = _gate_project(tmp_path, k1_error)
    graph = robot_graph(load_robot("bot", root))
    assert graph.calibration_dir() == root / "calibration" / "bot"
    board = "chessboard:9x6:0.03"
    gate = calibration_gate(graph, mode="auto", images=str(images), board=board)
    assert gate.checked
    assert gate.start is passes, gate.message
    if passes:
        assert "passed: PASS" in gate.message
    else:
        # The failing figure is in the message the launch logs.
        assert "reprojection RMS on 4 fresh views is" in gate.message, gate.message
        assert "limit 1 px" in gate.message
    off = calibration_gate(graph, mode="false", images=str(images), board=board)
    assert (off.start, off.checked) == (True, False)


def test_calibration_gate_needs_a_source_when_required(tmp_path: Path) -> None:
    from percept.runtime.graph import robot_graph
    from percept_ros.launch_graph import calibration_gate

    _write_robot(tmp_path, ROBOT)
    graph = robot_graph(load_robot("bot", tmp_path))
    skipped = calibration_gate(graph)  # auto without a recording: no check, start
    assert (skipped.start, skipped.checked) == (True, False)
    required = calibration_gate(graph, mode="true", board="chessboard:9x6:0.03")
    assert not required.start
    assert "calibration_check_bag:=BAG" in required.message
    no_folder = calibration_gate(graph, mode="true", images=str(tmp_path), board="x")
    assert not no_folder.start
    assert "no calibration folder" in no_folder.message
    with pytest.raises(ConfigError, match="calibration_check must be true or false"):
        calibration_gate(graph, mode="maybe")
