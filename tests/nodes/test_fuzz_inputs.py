"""Malformed input never kills a node: >= 1,000 bad messages per input type.

Each malformed message (mutated fields of a valid message, or corrupt CDR bytes) goes
through the local runtime into a node; then a valid message follows and must be served.
Every message is counted on /diagnostics as received, and every one the node did not
process is counted as rejected. No exception escapes, and no callback errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest

from percept import codecs
from percept.domain import (
    CameraInfo,
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    DiagnosticArray,
    DiagnosticStatus,
    Disparity,
    Header,
    Image,
    ImuSample,
    Marker,
    MarkerArray,
    ObjectHypothesis,
    OccupancyGrid,
    Odometry,
    Path,
    PoseStamped,
    TransformStamped,
)
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.image import compress_image
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.node import RELIABLE, Input, Node
from percept.nodes.debayer import DebayerNode
from percept.nodes.rectify import RectifyNode
from percept.nodes.resize import ResizeNode
from percept.nodes.stereo_depth import StereoDepthNode
from percept.runtime.local import LocalRuntime
from percept.runtime.params import resolve_parameters

N_BAD = 1000


def valid_objects(stamp: int) -> dict[str, object]:
    h = Header(stamp, "cam")
    K = np.array([[300.0, 0, 32], [0, 300.0, 24], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    model = CameraModel(64, 48, "plumb_bob", K, np.zeros(5), np.eye(3), P)
    pose = Pose([1.0, 2.0, 3.0], [0, 0, 0, 1])
    jpeg = compress_image(Image(h, "bgr8", np.zeros((8, 8, 3), np.uint8)), "jpeg")
    return {
        "sensor_msgs/msg/Image": Image(h, "bgr8", np.full((48, 64, 3), 7, np.uint8)),
        "sensor_msgs/msg/CompressedImage": jpeg,
        "sensor_msgs/msg/CameraInfo": CameraInfo(h, model),
        "sensor_msgs/msg/Imu": ImuSample(h, np.zeros(3), np.array([0, 0, 9.81])),
        "sensor_msgs/msg/PointCloud2": codecs.make_point_cloud(h, np.ones((10, 3), np.float32)),
        "stereo_msgs/msg/DisparityImage": Disparity(h, np.ones((4, 5), np.float32), 300.0, 0.1),
        "nav_msgs/msg/Odometry": Odometry(h, "base_link", pose),
        "nav_msgs/msg/Path": Path(h, (PoseStamped(h, pose),)),
        "nav_msgs/msg/OccupancyGrid": OccupancyGrid(h, 0.05, pose, np.zeros((3, 4), np.int8)),
        "geometry_msgs/msg/PoseStamped": PoseStamped(h, pose),
        "geometry_msgs/msg/TransformStamped": TransformStamped(h, "base_link", pose),
        "tf2_msgs/msg/TFMessage": (TransformStamped(h, "base_link", pose),),
        "vision_msgs/msg/Detection2DArray": Detection2DArray(
            h, (Detection2D((1.0, 2.0), (3.0, 4.0), (ObjectHypothesis("1", 0.9),)),)
        ),
        "vision_msgs/msg/Detection3DArray": Detection3DArray(
            h, (Detection3D(pose, np.ones(3), (ObjectHypothesis("1", 0.9),)),)
        ),
        "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray(
            h, (DiagnosticStatus(0, "n", "ok", "hw", (("k", "v"),)),)
        ),
        "visualization_msgs/msg/MarkerArray": MarkerArray(
            (Marker(h, "ns", 1, 1, pose=pose, text="car"),)
        ),
    }


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

JUNK: list[Any] = [
    None,
    -1,
    2**40,
    "",
    "???",
    1.5,
    float("nan"),
    [],
    [1, 2, 3],
    np.zeros(3),
    np.zeros(0, np.uint8),
    b"\x00" * 3,
    object(),
]


def _fields(msg: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(msg)] if dataclasses.is_dataclass(msg) else []


def mutate(msg: Any, rng: np.random.Generator, depth: int = 0) -> Any:
    """A copy of a rosbags message with one field replaced by junk, at any depth."""
    names = [n for n in _fields(msg) if n != "__msgtype__"]
    if not names:
        return JUNK[rng.integers(len(JUNK))]
    name = names[rng.integers(len(names))]
    value = getattr(msg, name)
    if dataclasses.is_dataclass(value) and rng.random() < 0.6 and depth < 4:
        new = mutate(value, rng, depth + 1)
    elif isinstance(value, np.ndarray) and value.size and rng.random() < 0.5:
        choice = rng.integers(3)
        if choice == 0:
            new = value[: rng.integers(value.size)]  # truncated
        elif choice == 1:
            new = value.astype(np.float64) * np.nan if value.dtype.kind == "f" else value[::2]
        else:
            new = np.concatenate([value, value])
    elif isinstance(value, list) and value and rng.random() < 0.5:
        new = [mutate(value[0], rng, depth + 1), *value[1:]]
    else:
        new = JUNK[rng.integers(len(JUNK))]
    return dataclasses.replace(msg, **{name: new})


def _bad_raw(raw: bytes, rng: np.random.Generator) -> bytes:
    if rng.random() < 0.5:
        return raw[: rng.integers(len(raw))]
    data = bytearray(raw)
    for _ in range(1 + rng.integers(8)):
        data[rng.integers(len(data))] = int(rng.integers(256))
    return bytes(data)


@pytest.mark.parametrize("msgtype", codecs.SUPPORTED_TYPES)
def test_sink_survives_1000_malformed_messages_per_type(msgtype: str) -> None:
    rng = np.random.default_rng(len(msgtype))
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Sink, resolve_parameters(Sink, "sink"))
    name = _input_name(msgtype)
    topic = f"/{name}"
    factory = RosbagsFactory(get_typestore())
    store = get_typestore()
    t = 1_000
    for i in range(N_BAD):
        good = codecs.encode(msgtype, valid_objects(t)[msgtype], factory)
        raw = bytes(store.serialize_cdr(good, msgtype))
        if i % 4 == 0:
            rt.feed_and_spin(topic, msgtype, t, raw=_bad_raw(raw, rng))
        else:
            rt.feed_and_spin(topic, msgtype, t, obj=mutate(good, rng))
        t += 1_000
        rt.feed_and_spin(
            topic, msgtype, t, obj=codecs.encode(msgtype, valid_objects(t)[msgtype], factory)
        )
        t += 1_000
    stats = host.monitor.inputs[name]
    served = host.node.served.get(name, 0)  # type: ignore[attr-defined]
    assert stats.received == 2 * N_BAD
    assert host.monitor.errors == 0
    assert served + stats.rejected == 2 * N_BAD
    # Every valid message after a bad one is served, except up to two after a bogus
    # stamp from the future (the third in a row resets the input's timeline).
    assert served >= 0.95 * N_BAD
    assert stats.rejected > N_BAD // 4  # most malformed messages were caught
    status = host.diagnostics()
    assert dict(status.values)[f"{name}.rejected"] == str(stats.rejected)


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
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(node_cls, resolve_parameters(node_cls, node_cls.NAME))
    topics = host.topics
    outputs: list[object] = []
    for spec in node_cls.OUTPUTS:
        rt.subscribe(topics[spec.name], outputs.append)
    factory = RosbagsFactory(get_typestore())
    t = 1_000

    def valid(stamp: int) -> dict[str, object]:
        inputs = VALID_INPUTS.get(node_cls)
        if inputs is not None:
            return inputs(stamp)
        objs = valid_objects(stamp)
        return {spec.name: objs[spec.msg_type] for spec in node_cls.INPUTS}

    for _ in range(N_BAD):
        bad = mutate(codecs.encode(msgtype, valid(t)[input_name], factory), rng)
        rt.feed_and_spin(topics[input_name], msgtype, t, obj=bad)
        t += 1_000
        before = len(outputs)
        objs = valid(t)
        # A valid message (with its partner for synchronised nodes) is served.
        for spec in node_cls.INPUTS:
            rt.feed_and_spin(
                topics[spec.name],
                spec.msg_type,
                t,
                obj=codecs.encode(spec.msg_type, objs[spec.name], factory),
            )
        assert len(outputs) > before
        t += 1_000
    assert host.monitor.errors == 0
    stats = host.monitor.inputs[input_name]
    assert stats.rejected >= N_BAD // 2
