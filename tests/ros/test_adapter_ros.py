"""The rclpy adapter end to end: a resize node fed by a plain rclpy publisher."""

from __future__ import annotations

import array
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from .ros_helpers import NEEDS_ROS

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
pytest.importorskip("message_filters", reason=NEEDS_ROS)
pytest.importorskip("tf2_ros", reason=NEEDS_ROS)
sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason=NEEDS_ROS)
diagnostic_msgs = pytest.importorskip("diagnostic_msgs.msg", reason=NEEDS_ROS)

from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402

from percept import codecs  # noqa: E402
from percept.domain import Header, Image  # noqa: E402
from percept.errors import ConfigError  # noqa: E402
from percept.nodes.resize import ResizeNode  # noqa: E402
from percept_ros.adapter import PerceptRosNode, RclpyMessageFactory  # noqa: E402

W, H = 8, 6


def _image(stamp: Any) -> Any:
    msg = sensor_msgs.Image()
    msg.header.stamp = stamp
    msg.header.frame_id = "cam"
    msg.height, msg.width, msg.encoding, msg.step = H, W, "mono8", W
    msg.data = array.array("B", range(W * H))
    return msg


def _camera_info(stamp: Any) -> Any:
    msg = sensor_msgs.CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = "cam"
    msg.height, msg.width = H, W
    msg.distortion_model = "plumb_bob"
    msg.d = array.array("d", [0.0] * 5)
    msg.k = np.array([4.0, 0, 4, 0, 4, 3, 0, 0, 1])
    msg.r = np.eye(3).reshape(-1)
    msg.p = np.array([4.0, 0, 4, 0, 0, 4, 3, 0, 0, 0, 1, 0])
    return msg


class _Harness:
    """A plain rclpy node that feeds the resize node and records what comes out."""

    def __init__(self, context: Context, node: PerceptRosNode) -> None:
        self.node = node
        self.tester = rclpy.create_node("tester", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(node)
        self.executor.add_node(self.tester)
        self.images: list[Any] = []
        self.infos: list[Any] = []
        self.diagnostics: list[Any] = []
        qos = qos_profile_sensor_data
        self.pub_image = self.tester.create_publisher(sensor_msgs.Image, "image/image_raw", qos)
        self.pub_info = self.tester.create_publisher(
            sensor_msgs.CameraInfo, "image/camera_info", qos
        )
        self.tester.create_subscription(
            sensor_msgs.Image, "resize/image_raw", self.images.append, qos
        )
        self.tester.create_subscription(
            sensor_msgs.CameraInfo, "resize/camera_info", self.infos.append, qos
        )
        self.tester.create_subscription(
            diagnostic_msgs.DiagnosticArray, "/diagnostics", self.diagnostics.append, 10
        )

    def feed_until(self, done: Callable[[], bool], timeout_s: float = 15.0) -> bool:
        """Publish an image/camera_info pair every 0.1 s and spin until ``done``."""
        deadline = time.monotonic() + timeout_s
        next_pub = 0.0
        while time.monotonic() < deadline:
            if done():
                return True
            if time.monotonic() >= next_pub:
                stamp = self.tester.get_clock().now().to_msg()
                self.pub_image.publish(_image(stamp))
                self.pub_info.publish(_camera_info(stamp))
                next_pub = time.monotonic() + 0.1
            self.executor.spin_once(timeout_sec=0.02)
        return done()

    def close(self) -> None:
        self.executor.shutdown()
        self.tester.destroy_node()
        self.node.destroy_node()


@pytest.fixture
def harness(context: Context) -> Iterator[_Harness]:
    node = PerceptRosNode(
        ResizeNode,
        context=context,
        parameter_overrides=[
            Parameter("scale_width", value=0.5),
            Parameter("scale_height", value=0.5),
        ],
    )
    h = _Harness(context, node)
    yield h
    h.close()


def test_resize_node_publishes_resized_image_and_info(harness: _Harness) -> None:
    assert harness.feed_until(lambda: bool(harness.images) and bool(harness.infos))
    image = codecs.decode("sensor_msgs/msg/Image", harness.images[-1])
    assert (image.width, image.height) == (W // 2, H // 2)
    assert harness.infos[-1].width == W // 2
    np.testing.assert_allclose(harness.infos[-1].k[0], 2.0)


def test_parameter_set_at_run_time_takes_effect(harness: _Harness) -> None:
    assert harness.feed_until(lambda: bool(harness.images))
    (result,) = harness.node.set_parameters([Parameter("scale_width", value=0.25)])
    assert result.successful, result.reason
    assert harness.feed_until(lambda: harness.images[-1].width == 2)
    assert harness.node.host.node.params["scale_width"] == 0.25


def test_parameter_out_of_range_is_refused(harness: _Harness) -> None:
    (result,) = harness.node.set_parameters([Parameter("interpolation", value=9)])
    assert not result.successful
    assert harness.node.host.node.params["interpolation"] == 1


def test_sync_parameter_change_rebuilds_synchronizer(harness: _Harness) -> None:
    before = harness.node._synchronizers[0]
    (result,) = harness.node.set_parameters([Parameter("queue_size", value=7)])
    assert result.successful, result.reason
    assert harness.node._synchronizers[0] is not before
    assert harness.node._synchronizers[0].queue_size == 7
    harness.images.clear()
    assert harness.feed_until(lambda: bool(harness.images))


def test_diagnostics_published(harness: _Harness) -> None:
    def has_status() -> bool:
        return any("resize" in s.name for d in harness.diagnostics for s in d.status)

    assert harness.feed_until(has_status)


def test_parameter_override_raises_like_local_runtime(context: Context) -> None:
    with pytest.raises(ConfigError, match=r"scale_width must be double.*write 1.0, not 1"):
        PerceptRosNode(
            ResizeNode,
            "bad_resize",
            context=context,
            parameter_overrides=[Parameter("scale_width", value=1)],
        )


def test_unknown_parameter_override_raises(context: Context) -> None:
    with pytest.raises(ConfigError, match=r"\.scale: unknown parameter of resize"):
        PerceptRosNode(
            ResizeNode,
            "bad_resize",
            context=context,
            parameter_overrides=[Parameter("scale", value=2.0)],
        )


def test_factory_builds_rclpy_image_with_array_data() -> None:
    data = np.arange(W * H, dtype=np.uint8).reshape(H, W)
    msg = codecs.encode(
        "sensor_msgs/msg/Image", Image(Header(5, "cam"), "mono8", data), RclpyMessageFactory()
    )
    assert isinstance(msg, sensor_msgs.Image)
    assert isinstance(msg.data, array.array)
    assert bytes(msg.data) == data.tobytes()
