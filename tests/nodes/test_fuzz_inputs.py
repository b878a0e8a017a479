"""Malformed input never kills a node: >= 1,000 bad messages per input type.

Each malformed message (mutated fields of a valid message, or corrupt CDR bytes) goes
through the local runtime into a node; then a valid message follows and must be served.
Every message is counted on /diagnostics as received, and every one the node did not
process is counted as rejected. No exception escapes, and no callback errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest

from percept import codecs
from percept.domain import CameraInfo, Header, Image, ImuSample, TransformStamped
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.node import RELIABLE, Input, Node
from percept.nodes.debayer import DebayerNode
from percept.nodes.rectify import RectifyNode
from percept.nodes.resize import ResizeNode
from percept.nodes.stereo_depth import StereoDepthNode
from percept.nodes.vio import VioNode
from percept.testing import NodeHarness

from ..codec_samples import node_inputs
from .malformed import corrupt_cdr, mutate

N_BAD = 1000


def stereo_inputs(stamp: int) -> dict[str, object]:
    """A rectified, textured stereo pair (by input name): what stereo nodes accept."""
    lh, rh = Header(stamp, "left"), Header(stamp, "right")
    K = np.array([[300.0, 0, 32], [0, 300.0, 24], [0, 0, 1]])
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = P_left.copy()
    P_right[0, 3] = -30.0
    texture = np.random.default_rng(0).integers(0, 256, (48, 72), dtype=np.uint8)
    return {
        "left_image": Image(lh, "mono8", texture[:, 4:68]),
        "left_camera_info": CameraInfo(
            lh, CameraModel(64, 48, "plumb_bob", K, np.zeros(5), np.eye(3), P_left)
        ),
        "right_image": Image(rh, "mono8", texture[:, :64]),
        "right_camera_info": CameraInfo(
            rh, CameraModel(64, 48, "plumb_bob", K, np.zeros(5), np.eye(3), P_right)
        ),
    }


#: Nodes whose inputs must agree with each other (a stereo pair): valid inputs by name.
VALID_INPUTS: dict[type[Node], Callable[[int], dict[str, object]]] = {
    StereoDepthNode: stereo_inputs,
}


def _input_name(msgtype: str) -> str:
    return msgtype.split("/")[-1].lower()


class Sink(Node):
    """Subscribes to one topic of every message type the codecs handle."""

    NAME = "sink"
    INPUTS: ClassVar = tuple(
        Input(_input_name(t), _input_name(t), t, RELIABLE) for t in codecs.SUPPORTED_TYPES
    )

    def setup(self) -> None:
        self.served: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            key = name[3:]

            def callback(obj: object) -> None:
                self.served[key] = self.served.get(key, 0) + 1

            return callback
        raise AttributeError(name)


# Declared callbacks are looked up on the class; give Sink real methods.
for _spec in Sink.INPUTS:
    setattr(
        Sink,
        f"on_{_spec.name}",
        lambda self, obj, _k=_spec.name: self.served.__setitem__(_k, self.served.get(_k, 0) + 1),
    )


@pytest.mark.parametrize("msgtype", codecs.SUPPORTED_TYPES)
def test_sink_survives_1000_malformed_messages_per_type(msgtype: str) -> None:
    rng = np.random.default_rng(len(msgtype))
    h = NodeHarness(Sink)
    name = _input_name(msgtype)
    factory = RosbagsFactory(get_typestore())
    store = get_typestore()
    t = 1_000
    for i in range(N_BAD):
        good = codecs.encode(msgtype, node_inputs(t)[msgtype], factory)
        raw = bytes(store.serialize_cdr(good, msgtype))
        if i % 4 == 0:
            h.feed_cdr(name, corrupt_cdr(raw, rng), t)
        else:
            h.feed(name, mutate(good, rng), t)
        t += 1_000
        h.feed(name, codecs.encode(msgtype, node_inputs(t)[msgtype], factory), t)
        t += 1_000
    stats = h.host.monitor.inputs[name]
    served = h.node.served.get(name, 0)
    assert stats.received == 2 * N_BAD
    assert h.errors == 0
    assert served + stats.rejected == 2 * N_BAD
    # Every valid message after a bad one is served, except up to two after a bogus
    # stamp from the future (the third in a row resets the input's timeline).
    assert served >= 0.95 * N_BAD
    assert stats.rejected > N_BAD // 4  # most malformed messages were caught
    assert h.diagnostic_values()[f"{name}.rejected"] == str(stats.rejected)


@pytest.mark.parametrize(
    ("node_cls", "input_name", "msgtype"),
    [
        (DebayerNode, "image_raw", "sensor_msgs/msg/Image"),
        (ResizeNode, "image", "sensor_msgs/msg/Image"),
        (ResizeNode, "camera_info", "sensor_msgs/msg/CameraInfo"),
        (RectifyNode, "image", "sensor_msgs/msg/Image"),
        (RectifyNode, "camera_info", "sensor_msgs/msg/CameraInfo"),
        (StereoDepthNode, "left_image", "sensor_msgs/msg/Image"),
        (StereoDepthNode, "right_camera_info", "sensor_msgs/msg/CameraInfo"),
    ],
)
def test_real_nodes_survive_1000_malformed_messages(
    node_cls: type[Node], input_name: str, msgtype: str
) -> None:
    rng = np.random.default_rng(7)
    h: NodeHarness[Node] = NodeHarness(node_cls)
    factory = RosbagsFactory(get_typestore())
    t = 1_000

    def valid(stamp: int) -> dict[str, object]:
        inputs = VALID_INPUTS.get(node_cls)
        if inputs is not None:
            return inputs(stamp)
        objs = node_inputs(stamp)
        return {spec.name: objs[spec.msg_type] for spec in node_cls.INPUTS}

    def published() -> int:
        return sum(h.count(spec.name) for spec in node_cls.OUTPUTS)

    for _ in range(N_BAD):
        bad = mutate(codecs.encode(msgtype, valid(t)[input_name], factory), rng)
        h.feed(input_name, bad, t)
        t += 1_000
        before = published()
        objs = valid(t)
        # A valid message (with its partner for synchronised nodes) is served.
        for spec in node_cls.INPUTS:
            h.feed(spec.name, codecs.encode(spec.msg_type, objs[spec.name], factory), t)
        assert published() > before
        t += 1_000
    assert h.errors == 0
    assert h.rejections()[input_name].rejected >= N_BAD // 2


@pytest.mark.parametrize(
    ("input_name", "msgtype"),
    [
        ("imu", "sensor_msgs/msg/Imu"),
        ("left_image", "sensor_msgs/msg/Image"),
        ("right_camera_info", "sensor_msgs/msg/CameraInfo"),
    ],
)
def test_vio_node_survives_1000_malformed_messages(input_name: str, msgtype: str) -> None:
    """VioNode: a bad message, then valid IMU samples and stereo pairs, 1,000 times.

    The valid stream is a still rig (IMU every 10 ms, a pair every 40 ms); the node
    keeps serving it: the pairs go to the estimator, which initialises when still.
    """
    rng = np.random.default_rng(11)
    h = NodeHarness(VioNode, {"base_frame": "imu_link", "init_window_s": 0.5})
    h.feed_transforms([TransformStamped(Header(0, "imu_link"), "left", Pose())], 1)
    factory = RosbagsFactory(get_typestore())
    dt = 5_000_000
    t = dt

    def valid(stamp: int) -> dict[str, object]:
        imu = ImuSample(Header(stamp, "imu_link"), np.zeros(3), np.array([0.0, 0.0, 9.81]))
        return {"imu": imu, **stereo_inputs(stamp)}

    for i in range(N_BAD):
        bad = mutate(codecs.encode(msgtype, valid(t)[input_name], factory), rng)
        h.feed(input_name, bad, t)
        t += dt
        # A valid IMU sample every time, a valid stereo pair every fourth time.
        objs = valid(t)
        for spec in VioNode.INPUTS if i % 4 == 0 else VioNode.INPUTS[:1]:
            h.feed(spec.name, codecs.encode(spec.msg_type, objs[spec.name], factory), t)
        t += dt
    values = h.diagnostic_values()
    assert h.errors == 0
    assert h.rejections()[input_name].rejected >= N_BAD // 3
    assert int(values["frames_processed"]) >= 0.9 * N_BAD // 4
    assert values["nonfinite_withheld"] == "0"
