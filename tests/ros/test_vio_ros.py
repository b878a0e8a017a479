"""The vio node on the real ROS 2 install: through the rclpy adapter, and ``ros2 launch``.

1. ``PerceptRosNode(VioNode)`` is fed the unit tests' wall rig (tests/nodes/test_vio_node:
   a textured wall seen by a rectified stereo pair, an exact 200 Hz IMU) by a plain
   rclpy publisher, /tf_static from a static broadcaster: it publishes finite ``odom``
   with covariances, ``path`` and the ``odom -> base_link`` transform on /tf.
2. ``ros2 launch launch/perception.launch.py robot:=synth`` (the colcon-built workspace)
   is fed a short ``percept synth`` sequence, message by message as ``ros2 bag play``
   does (raw CDR, /tf_static latched): the graph's vio publishes ``/odom`` and the
   ``odom -> base_link`` transform.
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

import numpy as np
import pytest

from percept import codecs
from percept.domain import Odometry
from percept.io.bag import BagReader
from percept.msgtypes import CAMERA_INFO, IMAGE, IMU, TF_MESSAGE
from percept.runtime.robot import load_robot

from ..nodes.test_vio_node import PARAMS, START_NS, events, imu_sample, static_tf, stereo_set
from .ros_helpers import NEEDS_ROS, default_sigint

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
pytest.importorskip("message_filters", reason=NEEDS_ROS)
tf2_ros = pytest.importorskip("tf2_ros", reason=NEEDS_ROS)
nav_msgs = pytest.importorskip("nav_msgs.msg", reason=NEEDS_ROS)
tf2_msgs = pytest.importorskip("tf2_msgs.msg", reason=NEEDS_ROS)
sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason=NEEDS_ROS)

from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from percept.nodes.vio import VioNode  # noqa: E402
from percept_ros.adapter import PerceptRosNode, RclpyMessageFactory  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NS = "/rig"
#: The wall rig's sequence: 0.6 s still, then moving (tests/nodes/test_vio_node).
RIG_SECONDS = 2.4
STATIC_QOS = QoSProfile(
    depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
RELIABLE_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


class _Recorder:
    """Subscribes ``odom`` and ``/tf``; keeps what arrives (any thread)."""

    def __init__(self, node: Any, odom_topic: str, path_topic: str | None = None) -> None:
        self.odoms: list[Any] = []
        self.paths: list[Any] = []
        self.tf: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        node.create_subscription(nav_msgs.Odometry, odom_topic, self._on_odom, RELIABLE_QOS)
        node.create_subscription(tf2_msgs.TFMessage, "/tf", self._on_tf, RELIABLE_QOS)
        if path_topic is not None:
            node.create_subscription(nav_msgs.Path, path_topic, self._on_path, RELIABLE_QOS)

    def _on_odom(self, msg: Any) -> None:
        with self.lock:
            self.odoms.append(msg)

    def _on_path(self, msg: Any) -> None:
        with self.lock:
            self.paths.append(msg)

    def _on_tf(self, msg: Any) -> None:
        with self.lock:
            self.tf += [(t.header.frame_id, t.child_frame_id) for t in msg.transforms]


def _check_odometry(msgs: list[Any]) -> list[Odometry]:
    """Decoded odometry: finite, in odom -> base_link, with a pose covariance.

    The covariance is symmetric positive semi-definite with a positive position block (the
    yaw variance may be 0 at the start: odom's yaw is where the estimator began).
    """
    decoded = [codecs.decode("nav_msgs/msg/Odometry", m) for m in msgs]
    for odom in decoded:
        assert isinstance(odom, Odometry)
        assert odom.header.frame_id == "odom"
        assert odom.child_frame_id == "base_link"
        assert np.all(np.isfinite(odom.pose.as_matrix()))
        cov = odom.pose_covariance
        assert np.all(np.isfinite(cov))
        np.testing.assert_allclose(cov, cov.T, atol=1e-12)
        assert np.linalg.eigvalsh(cov).min() > -1e-12
        assert np.all(np.diag(cov)[:3] > 0)
    return decoded  # type: ignore[return-value]


# -- 1. the adapter ------------------------------------------------------------------------
@pytest.fixture
def vio_node(context: Context) -> Iterator[PerceptRosNode]:
    overrides = [Parameter(name, value=value) for name, value in PARAMS.items()]
    node = PerceptRosNode(
        VioNode, "vio", namespace=NS, context=context, parameter_overrides=overrides
    )
    yield node
    node.destroy_node()


def test_vio_node_through_the_adapter_publishes_odom_path_and_tf(
    context: Context, vio_node: PerceptRosNode
) -> None:
    assert vio_node.get_parameter("init_window_s").value == PARAMS["init_window_s"]
    assert vio_node.get_parameter("odom_frame").value == "odom"
    factory = RclpyMessageFactory()
    tester = rclpy.create_node("vio_feeder", namespace=NS, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(vio_node)
    executor.add_node(tester)
    try:
        recorder = _Recorder(tester, "odom", "path")
        broadcaster = tf2_ros.StaticTransformBroadcaster(tester)
        broadcaster.sendTransform(
            [codecs.encode("geometry_msgs/msg/TransformStamped", t, factory) for t in static_tf()]
        )
        imu_pub = tester.create_publisher(sensor_msgs.Imu, "imu/data", 1000)
        image_topics = {
            "left_image": ("left/image_rect", IMAGE),
            "left_camera_info": ("left/camera_info", CAMERA_INFO),
            "right_image": ("right/image_rect", IMAGE),
            "right_camera_info": ("right/camera_info", CAMERA_INFO),
        }
        msg_classes = {IMAGE: sensor_msgs.Image, CAMERA_INFO: sensor_msgs.CameraInfo}
        pubs = {
            name: tester.create_publisher(msg_classes[msgtype], topic, qos_profile_sensor_data)
            for name, (topic, msgtype) in image_topics.items()
        }
        # Let discovery match every publisher with the node's subscriptions first.
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not all(
            p.get_subscription_count() > 0 for p in (imu_pub, *pubs.values())
        ):
            executor.spin_once(timeout_sec=0.05)
        assert all(p.get_subscription_count() > 0 for p in (imu_pub, *pubs.values()))
        for kind, stamp in events(RIG_SECONDS):
            if kind == "imu":
                imu_pub.publish(codecs.encode(IMU, imu_sample(stamp), factory))
                continue
            for name, obj in stereo_set(stamp).items():
                pubs[name].publish(codecs.encode(image_topics[name][1], obj, factory))
            # Serve the pair before the next one (sensor-data queues hold 5).
            for _ in range(20):
                executor.spin_once(timeout_sec=0.005)
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and len(recorder.odoms) < 20:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        tester.destroy_node()
    odoms = _check_odometry(recorder.odoms)
    frames = round(RIG_SECONDS * 20) + 1
    assert len(odoms) >= frames // 2, f"{len(odoms)} odom messages of {frames} stereo pairs"
    stamps = [o.header.stamp_ns for o in odoms]
    assert stamps == sorted(stamps)
    assert stamps[0] >= START_NS
    assert ("odom", "base_link") in recorder.tf
    assert recorder.paths, "no path published"
    last_path = recorder.paths[-1]
    assert last_path.header.frame_id == "odom"
    assert len(last_path.poses) >= 2
    # The rig swings by tens of centimetres after its still start: odom moves too.
    positions = np.array([o.pose.translation_m for o in odoms])
    assert np.ptp(positions, axis=0).max() > 0.05


# -- 2. ros2 launch of the synth robot -----------------------------------------------------
#: The synth sequence the launched graph is fed: short and small, so that five node
#: processes keep up on two cores; long enough for the moving start (1 s window).
SYNTH = {"seconds": 4.0, "width": 320, "height": 240, "rate_hz": 10.0, "seed": 0}
#: Pause after each stereo set while feeding the launched graph, seconds.
FRAME_PAUSE_S = 0.3


def _sourced_env(install: Path) -> dict[str, str]:
    """This environment with the colcon workspace's local_setup.sh sourced."""
    script = f'. "{install}/local_setup.sh" && env -0'
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, check=True, env=dict(os.environ)
    )
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


@pytest.fixture(scope="module")
def synth_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from percept.synth.generate import SynthConfig, default_rig, generate

    bag = tmp_path_factory.mktemp("synth") / "synth.mcap"
    config = SynthConfig(
        seconds=SYNTH["seconds"],
        seed=int(SYNTH["seed"]),
        motion="ground",
        robot_name="synth",
        camera_rate_hz=SYNTH["rate_hz"],
        rig=default_rig("ground", width=int(SYNTH["width"]), height=int(SYNTH["height"])),
    )
    generate(bag, config)
    return bag


class _Player:
    """Plays a bag's sensor topics once (raw CDR), pausing after each stereo set."""

    def __init__(self, bag: Path, topics: set[str]) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("bag_player", context=self.context)
        with BagReader(bag) as reader:
            self.messages = [
                (m.topic, m.msgtype, m.raw) for m in reader.messages() if m.topic in topics
            ]
        classes = {
            IMAGE: sensor_msgs.Image,
            CAMERA_INFO: sensor_msgs.CameraInfo,
            IMU: sensor_msgs.Imu,
            TF_MESSAGE: tf2_msgs.TFMessage,
        }
        self.publishers = {
            topic: self.node.create_publisher(
                classes[msgtype], topic, STATIC_QOS if topic == "/tf_static" else 1000
            )
            for topic, msgtype, _ in self.messages
        }
        self.recorder = _Recorder(self.node, "/odom")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def wait_for(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.1)
        return done()

    def play(self) -> None:
        """Publish in bag order; a pause after each right camera_info (a stereo set)."""
        for topic, _, raw in self.messages:
            self.publishers[topic].publish(raw)  # serialized bytes, as ros2 bag play
            if topic == "/stereo/right/camera_info":
                time.sleep(FRAME_PAUSE_S)

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def launched_synth(percept_install: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    if importlib.util.find_spec("launch_ros") is None:
        pytest.skip(NEEDS_ROS + "; and launch_ros")
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
            "robot:=synth",
            "log_level:=info",
        ],
        cwd=REPO,  # the robot file's calibration_dir is relative to the project folder
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
        proc.wait(timeout=90)  # five processes on a loaded 2-core machine stop slowly
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    text = (tmp_path / "launch.log").read_text()
    print(text[-4000:])  # shown by pytest when the test fails
    assert proc.returncode == 0, text[-4000:]
    assert "Traceback" not in text, text[-4000:]


@pytest.mark.colcon
@pytest.mark.slow
def test_ros2_launch_of_the_synth_robot_publishes_odom_and_tf(
    launched_synth: subprocess.Popen[str], synth_bag: Path
) -> None:
    robot = load_robot("synth")
    assert "vio" in [n.node_type for n in robot.nodes]
    sensors = {"/stereo/left/image_raw", "/stereo/left/camera_info", "/imu/data", "/tf_static"}
    sensors |= {"/stereo/right/image_raw", "/stereo/right/camera_info"}
    player = _Player(synth_bag, sensors)
    try:
        # Every node process is up when its subscriptions see the player's publishers.
        inputs = ("/imu/data", "/stereo/left/image_raw", "/stereo/right/camera_info")
        assert player.wait_for(
            lambda: all(player.publishers[t].get_subscription_count() > 0 for t in inputs),
            timeout_s=120,
        ), "the launched graph did not subscribe to the sensor topics"
        assert player.wait_for(lambda: player.node.count_publishers("/odom") > 0, timeout_s=60), (
            "nothing publishes /odom"
        )
        # Every node of the robot file is up, under its name and namespace.
        expected = {
            "/" + "/".join(p for p in (n.namespace.strip("/"), n.name) if p) for n in robot.nodes
        }

        def running() -> set[str]:
            return {
                f"{ns.rstrip('/')}/{name}"
                for name, ns in player.node.get_node_names_and_namespaces()
            }

        assert player.wait_for(lambda: expected <= running(), timeout_s=60), (
            f"not running: {sorted(expected - running())}"
        )
        assert player.node.count_publishers("/map") > 0, "nothing publishes /map"
        assert launched_synth.poll() is None, "ros2 launch exited"
        player.play()
        assert player.wait_for(lambda: len(player.recorder.odoms) >= 5, timeout_s=60), (
            f"{len(player.recorder.odoms)} /odom messages"
        )
        assert player.wait_for(lambda: ("odom", "base_link") in player.recorder.tf, 10)
        assert launched_synth.poll() is None, "ros2 launch exited"
        with player.recorder.lock:
            odoms = _check_odometry(list(player.recorder.odoms))
        stamps = [o.header.stamp_ns for o in odoms]
        assert stamps == sorted(stamps)
    finally:
        player.close()
