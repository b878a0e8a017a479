"""``ros2 launch`` of the project's launch file, fed like a bag, against the local runtime.

The workspace is built with colcon, ``ros2 launch launch/perception.launch.py
robot:=example`` starts the example robot's graph (one process per node, and again
with ``one_process:=true``: both nodes in one ``percept_graph_process``), and a
publisher replays the demo's Bayer bag message by message (raw CDR, as ``ros2 bag
play`` does). ``ros2 topic echo`` shows the outputs, ``ros2 param set`` changes a
node, and the frames the ROS graph published are byte-identical to what the same
robot file produces under the local runtime (``percept replay``). Without starting
anything, the launch description's node actions equal ``robot_graph``'s for every shipped
robot, the enable flags leave nodes out, the calibration gate stops a launch on a failing
calibration, and replay.launch.py runs the graph on sim time behind ``ros2 bag play``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from percept import codecs
from percept.domain import Image
from percept.io.bag import BagReader
from percept.runtime.robot import load_robot
from percept.tools.demo import make_pattern_bag
from percept.tools.replay import build_runtime

from .ros_helpers import NEEDS_ROS, cli_report, default_sigint, ros2_command

pytestmark = [pytest.mark.ros, pytest.mark.colcon]

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason=NEEDS_ROS)
# Only looked up, never imported here: importing launch sets a logger class that stops
# propagation for every logger created afterwards in this process (caplog sees nothing).
if importlib.util.find_spec("launch_ros") is None:
    pytest.skip(NEEDS_ROS + "; and launch_ros", allow_module_level=True)

from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT_TOPIC = "/camera/resize/image_raw"
W, H = 160, 120


def _sourced_env(install: Path) -> dict[str, str]:
    """This environment with the colcon workspace's local_setup.sh sourced."""
    script = f'. "{install}/local_setup.sh" && env -0'
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, check=True, env=dict(os.environ)
    )
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


class _Player:
    """Replays a bag's messages (raw CDR) in a loop at the bag's rate; records outputs."""

    def __init__(self, bag: Path) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("bag_player", context=self.context)
        with BagReader(bag) as reader:
            self.messages = [(m.topic, m.msgtype, m.log_time_ns, m.raw) for m in reader.messages()]
        classes = {"sensor_msgs/msg/Image": sensor_msgs.Image}
        classes["sensor_msgs/msg/CameraInfo"] = sensor_msgs.CameraInfo
        self.publishers = {
            topic: self.node.create_publisher(classes[msgtype], topic, 10)  # reliable
            for topic, msgtype, _, _ in self.messages
        }
        self.outputs: dict[int, Any] = {}
        self.node.create_subscription(
            sensor_msgs.Image, OUT_TOPIC, self._on_output, qos_profile_sensor_data
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_output(self, msg: Any) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.outputs[stamp] = msg

    def _run(self) -> None:
        period_s = 0.1
        while not self._stop.is_set():
            for topic, _, _, raw in self.messages:
                if self._stop.is_set():
                    return
                self.publishers[topic].publish(raw)  # serialized bytes, as ros2 bag play
                if topic.endswith("camera_info"):
                    deadline = time.monotonic() + period_s
                    while time.monotonic() < deadline and not self._stop.is_set():
                        self.executor.spin_once(timeout_sec=0.01)

    def wait_for(self, done: Callable[[], bool], timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.1)
        return done()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture(params=["false", "true"], ids=["per_node", "one_process"])
def launched(
    percept_install: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[subprocess.Popen[str]]:
    ros2 = shutil.which("ros2")
    if ros2 is None:
        pytest.skip("the ros2 command is not on PATH (ros2cli not installed)")
    env = _sourced_env(percept_install)
    log = (tmp_path / "launch.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            ros2,
            "launch",
            str(REPO / "launch" / "perception.launch.py"),
            "robot:=example",
            "log_level:=info",
            f"one_process:={request.param}",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    yield proc
    proc.send_signal(signal.SIGINT)  # ros2 launch forwards it to the nodes, as on Ctrl-C
    try:
        proc.wait(timeout=60)  # a loaded 2-core machine shuts 3 processes down slowly
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    text = (tmp_path / "launch.log").read_text()
    print(text[-3000:])  # shown by pytest when the test fails
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


def _local_outputs(bag: Path) -> dict[int, Image]:
    """The same robot file under the local runtime: resized frames by stamp."""
    runtime = build_runtime(load_robot("example"), diagnostics=False)
    got: dict[int, Image] = {}
    runtime.subscribe(OUT_TOPIC, lambda env: got.__setitem__(env.obj.header.stamp_ns, env.obj))
    with BagReader(bag) as reader:
        for m in reader.messages():
            runtime.feed_and_spin(m.topic, m.msgtype, m.log_time_ns, raw=m.raw)
    return got


def test_launch_file_brings_up_the_graph_like_the_local_runtime(
    launched: subprocess.Popen[str], tmp_path: Path
) -> None:
    bag = make_pattern_bag(tmp_path / "pattern.mcap", seconds=2.0, width=W, height=H)
    expected = _local_outputs(bag)
    assert len(expected) == 20

    nodes = ros2_command("node", "list", "--no-daemon", "--spin-time", "5")
    assert nodes.returncode == 0, cli_report(nodes)
    assert "/camera/debayer" in nodes.stdout, cli_report(nodes)
    assert "/camera/resize" in nodes.stdout, cli_report(nodes)

    player = _Player(bag)
    try:
        assert player.wait_for(lambda: len(player.outputs) >= 10), "no output from the graph"
        assert launched.poll() is None, "ros2 launch exited"
        compared = 0
        for stamp, msg in list(player.outputs.items()):
            ros_image = codecs.decode("sensor_msgs/msg/Image", msg)
            assert stamp in expected
            assert ros_image.encoding == expected[stamp].encoding
            assert ros_image.data.tobytes() == expected[stamp].data.tobytes(), stamp
            compared += 1
        assert compared >= 10

        echo = ros2_command(
            "topic", "echo", "--once", "--no-daemon", "--field", "width", OUT_TOPIC,
            timeout_s=60,
        )  # fmt: skip
        assert echo.returncode == 0, cli_report(echo)
        assert echo.stdout.split()[0] == str(W // 2), cli_report(echo)

        changed = ros2_command(
            "param", "set", "--no-daemon", "/camera/resize", "scale_width", "0.25"
        )
        assert changed.returncode == 0, cli_report(changed)
        assert "Set parameter successful" in changed.stdout, cli_report(changed)
        player.outputs.clear()
        assert player.wait_for(
            lambda: any(m.width == W // 4 for m in list(player.outputs.values()))
        )
        echo = ros2_command(
            "topic", "echo", "--once", "--no-daemon", "--field", "width", OUT_TOPIC,
            timeout_s=60,
        )  # fmt: skip
        assert echo.returncode == 0, cli_report(echo)
        assert echo.stdout.split()[0] == str(W // 4), cli_report(echo)
    finally:
        player.close()
    for stamp in expected:
        assert isinstance(expected[stamp], Image)


# -- the launch description against robot_graph (no process started) ---------------------

ROBOTS = sorted(p.stem for p in (REPO / "config" / "robots").glob("*.yaml"))


def _launch_actions(launch_file: Path, *args: str) -> dict[str, Any]:
    """The actions ``ros2 launch launch_file args`` would start (tests/ros/launch_actions.py)."""
    import json

    script = Path(__file__).with_name("launch_actions.py")
    out = subprocess.run(
        [sys.executable, str(script), str(launch_file), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode in (0, 3), out.stderr[-3000:]
    doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


@pytest.mark.parametrize("name", ROBOTS)
def test_launch_node_actions_equal_robot_graph(name: str) -> None:
    from percept.runtime.graph import parameter_overrides, robot_graph

    launched = _launch_actions(
        REPO / "launch" / "perception.launch.py",
        f"robot:={name}", "namespace:=r1", "use_sim_time:=true", "log_level:=warn",
    )  # fmt: skip
    graph = robot_graph(load_robot(name, REPO), namespace="r1")
    expected = [
        {
            "package": "percept_ros",
            "executable": f"percept_{n.node_type}",
            "name": n.full_name,
            "namespace": n.namespace,
            "remappings": [list(r) for r in n.remappings],
            "parameters": [
                *(str(p) for p in n.entry.params_files),
                {**parameter_overrides(n.entry), "use_sim_time": True},
            ],
            "arguments": ["--ros-args", "--log-level", "warn"],
        }
        for n in graph.nodes
    ]
    assert launched["nodes"] == expected


def test_enable_flags_and_one_process() -> None:
    launch_file = REPO / "launch" / "perception.launch.py"
    launched = _launch_actions(
        launch_file, "robot:=synth", "enable_detection:=false", "enable_mapping:=false"
    )
    assert [n["executable"] for n in launched["nodes"]] == [
        "percept_stereo_rectify", "percept_stereo_depth", "percept_vio",
    ]  # fmt: skip
    assert any("/stereo/detector_3d" in line for line in launched["logs"])
    one = _launch_actions(launch_file, "robot:=synth", "one_process:=true", "enable_vio:=false")
    (node,) = one["nodes"]
    assert node["executable"] == "percept_graph_process"
    assert node["arguments"][:4] == [
        "--robot",
        str(REPO / "config/robots/synth.yaml"),
        "--disable",
        "vio",
    ]
    rviz = _launch_actions(launch_file, "robot:=example", "rviz:=true")
    rviz_nodes = [n for n in rviz["nodes"] if n["executable"] == "rviz2"]
    if rviz_nodes:  # rviz2 installed: started on the shipped configuration
        assert rviz_nodes[0]["arguments"][0] == "-d"
        assert rviz_nodes[0]["arguments"][1].endswith("percept.rviz")
    else:
        assert any("rviz2 is not installed" in line for line in rviz["logs"]), rviz["logs"]


@pytest.mark.parametrize(("k1_error", "starts"), [(0.0, True), (0.5, False)])
def test_calibration_gate_stops_the_launch(tmp_path: Path, k1_error: float, starts: bool) -> None:
    from ..unit.test_percept_ros_without_ros import _gate_project

    root, images = _gate_project(tmp_path, k1_error)
    launched = _launch_actions(
        REPO / "launch" / "perception.launch.py",
        f"robot:={root / 'config' / 'robots' / 'bot.yaml'}",
        f"calibration_check_images:={images}",
        "calibration_check_board:=chessboard:9x6:0.03",
    )
    if starts:
        assert [n["executable"] for n in launched["nodes"]] == ["percept_resize"]
        assert any("passed: PASS" in line for line in launched["logs"]), launched["logs"]
    else:
        assert "nodes" not in launched
        assert launched["error"].startswith("CalibrationError: refusing to start robot bot")
        assert "reprojection RMS on 4 fresh views is" in launched["error"]


def test_replay_launch_plays_the_bag_on_sim_time(tmp_path: Path) -> None:
    replay_file = REPO / "launch" / "replay.launch.py"
    graph_only = _launch_actions(replay_file, "robot:=example", "play:=false", "rviz:=false")
    assert [n["name"] for n in graph_only["nodes"]] == ["/camera/debayer", "/camera/resize"]
    assert all(n["parameters"][1]["use_sim_time"] is True for n in graph_only["nodes"])
    bag = make_pattern_bag(tmp_path / "pattern.mcap", seconds=0.5, width=W, height=H)
    played = _launch_actions(replay_file, "robot:=example", f"bag:={bag}", "rate:=2.0")
    if "error" in played:  # no rosbag2 in this install: the launch says what to install
        assert "ros2 bag is not installed" in played["error"]
    else:
        (cmd,) = played["processes"]
        assert cmd[:6] == ["ros2", "bag", "play", str(bag), "--clock", "--rate"]
        assert cmd[6] == "2.0"
