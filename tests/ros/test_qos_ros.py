"""QoS through the adapter, and the zero-copy image path through rclpy.

- Sensor inputs are best-effort subscriptions: a reliable publisher (a bag player, a
  driver) still serves them.
- Latched outputs (transient-local: maps, /tf_static) reach subscribers that join late.
- A 1280x720 bgr8 image arriving through rclpy is decoded as a view of ``msg.data``
  (an ``array.array``), and publishing hands the generated class an ``array.array``,
  never a numpy array (its setter would check every element).
"""

from __future__ import annotations

import array
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest

from percept import codecs
from percept.domain import Header, Image, OccupancyGrid, TransformStamped
from percept.geometry.pose import Pose
from percept.node import LATCHED, Node, Output, Timer
from percept.nodes.resize import ResizeNode

from .ros_helpers import NEEDS_ROS

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason=NEEDS_ROS)
nav_msgs = pytest.importorskip("nav_msgs.msg", reason=NEEDS_ROS)
tf2_msgs = pytest.importorskip("tf2_msgs.msg", reason=NEEDS_ROS)

from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from percept_ros.adapter import PerceptRosNode, RclpyMessageFactory  # noqa: E402


def _spin_until(executor: Any, done: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        executor.spin_once(timeout_sec=0.02)
    return done()


class _Latcher(Node):
    """Publishes a map and a static transform once, on latched outputs."""

    NAME = "latcher"
    DESCRIPTION = "test node: one map and one static transform, latched"
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("map", "map", "nav_msgs/msg/OccupancyGrid", LATCHED, "the map"),
        Output("tf_static", "/tf_static", "tf2_msgs/msg/TFMessage", LATCHED, "static TF"),
    )
    TIMERS: ClassVar[tuple[Timer, ...]] = (Timer(0.05, "on_tick"),)

    def setup(self) -> None:
        self.sent = False

    def on_tick(self) -> dict[str, object] | None:
        if self.sent:
            return None
        self.sent = True
        grid = np.zeros((4, 5), np.int8)
        grid[1, 2] = 100
        header = Header(self.ctx.now_ns(), "map")
        static = TransformStamped(
            Header(0, "base_link"), "camera", Pose(np.array([0.1, 0.0, 0.5]), np.eye(4)[3])
        )
        return {
            "map": OccupancyGrid(header, 0.05, Pose(np.zeros(3), np.eye(4)[3]), grid, 0),
            "tf_static": (static,),
        }


def test_latched_outputs_reach_late_subscribers(context: Context) -> None:
    node = PerceptRosNode(_Latcher, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    assert _spin_until(executor, lambda: node.host.node.sent)  # type: ignore[attr-defined]
    for _ in range(20):
        executor.spin_once(timeout_sec=0.01)

    late = rclpy.create_node("late_subscriber", context=context)
    executor.add_node(late)
    latched = QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
    )
    maps: list[Any] = []
    statics: list[Any] = []
    late.create_subscription(nav_msgs.OccupancyGrid, "map", maps.append, latched)
    late.create_subscription(tf2_msgs.TFMessage, "/tf_static", statics.append, latched)
    assert _spin_until(executor, lambda: bool(maps) and bool(statics))
    grid = codecs.decode("nav_msgs/msg/OccupancyGrid", maps[0])
    assert grid.data[1, 2] == 100
    assert statics[0].transforms[0].child_frame_id == "camera"
    executor.shutdown()
    late.destroy_node()
    node.destroy_node()


def _camera_info(stamp: Any, w: int, h: int) -> Any:
    msg = sensor_msgs.CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = "cam"
    msg.height, msg.width = h, w
    msg.distortion_model = "plumb_bob"
    msg.d = array.array("d", [0.0] * 5)
    msg.k = np.array([w / 2, 0, w / 2, 0, w / 2, h / 2, 0, 0, 1])
    msg.r = np.eye(3).reshape(-1)
    msg.p = np.array([w / 2, 0, w / 2, 0, 0, w / 2, h / 2, 0, 0, 0, 1, 0])
    return msg


def test_best_effort_inputs_are_served_by_a_reliable_publisher(context: Context) -> None:
    node = PerceptRosNode(ResizeNode, context=context)
    tester = rclpy.create_node("reliable_driver", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(tester)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub_image = tester.create_publisher(sensor_msgs.Image, "image/image_raw", reliable)
    pub_info = tester.create_publisher(sensor_msgs.CameraInfo, "image/camera_info", reliable)
    got: list[Any] = []
    tester.create_subscription(
        sensor_msgs.Image, "resize/image_raw", got.append, qos_profile_sensor_data
    )
    factory = RclpyMessageFactory()
    deadline = time.monotonic() + 15
    while not got and time.monotonic() < deadline:
        stamp = tester.get_clock().now()
        image = Image(Header(stamp.nanoseconds, "cam"), "mono8", np.zeros((6, 8), np.uint8))
        pub_image.publish(codecs.encode("sensor_msgs/msg/Image", image, factory))
        pub_info.publish(_camera_info(stamp.to_msg(), 8, 6))
        _spin_until(executor, lambda: bool(got), 0.1)
    assert got, "the best-effort input never received the reliable publisher's messages"
    executor.shutdown()
    tester.destroy_node()
    node.destroy_node()


def test_720p_image_decodes_as_a_view_of_the_rclpy_buffer(context: Context) -> None:
    node = rclpy.create_node("zero_copy", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    factory = RclpyMessageFactory()
    msg = codecs.encode("sensor_msgs/msg/Image", Image(Header(1, "cam"), "bgr8", frame), factory)
    # One bytes copy into an array.array; the generated setter then only checks its
    # typecode (a numpy array would be checked element by element). Timed by
    # `python -m percept_ros.bench`.
    assert isinstance(msg.data, array.array)  # type: ignore[attr-defined]
    received: list[Any] = []
    node.create_subscription(sensor_msgs.Image, "big", received.append, 10)
    pub = node.create_publisher(sensor_msgs.Image, "big", 10)
    assert _spin_until(executor, lambda: pub.get_subscription_count() > 0)
    pub.publish(msg)
    assert _spin_until(executor, lambda: bool(received))
    incoming = received[0]
    assert isinstance(incoming.data, array.array)
    decoded = codecs.decode("sensor_msgs/msg/Image", incoming)
    assert np.shares_memory(decoded.data, np.frombuffer(incoming.data, np.uint8))
    np.testing.assert_array_equal(decoded.data, frame)
    executor.shutdown()
    node.destroy_node()
