"""NodeHarness: one node on the local runtime, fed by hand, its outputs collected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytest

from percept.domain import Header, Image, TransformStamped
from percept.errors import ConfigError, InputRejected
from percept.geometry.pose import Pose
from percept.node import SENSOR_DATA, Input, Node, Output, Parameter, ParamValue
from percept.testing import InputRejections, NodeHarness

IMAGE = "sensor_msgs/msg/Image"


class Gain(Node):
    """Multiplies mono8 images by ``gain``; rejects other encodings; refuses gain 0."""

    NAME = "gain"
    INPUTS: ClassVar = (Input("image", "image", IMAGE, SENSOR_DATA),)
    OUTPUTS: ClassVar = (Output("image_out", "image_gain", IMAGE, SENSOR_DATA),)
    PARAMETERS: ClassVar = (Parameter("gain", "integer", 2, "factor", min_value=0, max_value=4),)

    def on_image(self, image: Image) -> dict[str, object]:
        if image.encoding != "mono8":
            msg = f"gain needs mono8, got {image.encoding}"
            raise InputRejected(msg)
        return {"image_out": Image(image.header, "mono8", image.data * self.param_int("gain"))}

    def on_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        if changed.get("gain") == 0:
            return "gain 0 blanks every image"
        return super().on_parameters(changed)

    def diagnostic_values(self) -> list[tuple[str, str]]:
        return [("gain", str(self.param_int("gain")))]


def image(stamp: int, encoding: str = "mono8") -> Image:
    return Image(Header(stamp, "cam"), encoding, np.ones((2, 2), np.uint8))


def test_outputs_are_collected_per_output_in_order() -> None:
    h = NodeHarness(Gain, {"gain": 3})
    h.feed("image", image(10))
    h.feed("image", image(20))
    assert h.count("image_out") == 2
    first, second = h.outputs("image_out")
    assert isinstance(first, Image)
    assert isinstance(second, Image)
    assert [first.header.stamp_ns, second.header.stamp_ns] == [10, 20]
    assert h.last("image_out") is second
    np.testing.assert_array_equal(second.data, np.full((2, 2), 3, np.uint8))
    assert isinstance(h.node, Gain)
    assert h.errors == 0


def test_receive_times_default_to_one_nanosecond_after_the_clock() -> None:
    h = NodeHarness(Gain)
    assert h.feed("image", image(1)) == 1
    assert h.feed("image", image(2), 500) == 500
    assert h.feed("image", image(3)) == 501
    h.feed_all({"image": image(4)})
    assert h.now_ns == 502


def test_feeding_without_spinning_queues_until_spin() -> None:
    h = NodeHarness(Gain)
    h.feed("image", image(1), spin=False)
    h.feed("image", image(2), spin=False)
    assert h.count("image_out") == 0
    assert h.spin() == 4  # two node callbacks, two harness subscriptions
    assert h.count("image_out") == 2


def test_wire_gives_outputs_as_a_subscriber_decodes_them() -> None:
    local, wire = NodeHarness(Gain), NodeHarness(Gain, wire=True)
    for h in (local, wire):
        h.feed("image", image(7))
    published, decoded = local.last("image_out"), wire.last("image_out")
    assert isinstance(published, Image)
    assert isinstance(decoded, Image)
    assert decoded is not wire.envelopes["image_out"][0].obj
    assert decoded.header == published.header
    np.testing.assert_array_equal(decoded.data, published.data)


def test_rejections_count_node_refusals_and_bad_cdr_with_the_last_reason() -> None:
    h = NodeHarness(Gain)
    assert h.rejections() == {"image": InputRejections(0, "")}
    h.feed("image", image(1, "8UC1"))
    assert h.rejections()["image"] == (1, "gain needs mono8, got 8UC1")
    h.feed_cdr("image", b"\x00\x01\x00")
    count, reason = h.rejections()["image"]
    assert count == 2
    assert "3 bytes are not a valid sensor_msgs/msg/Image" in reason
    assert h.count("image_out") == 0
    assert h.errors == 0
    assert h.diagnostic_values()["image.rejected"] == "2"


def test_diagnostics_carry_the_node_values() -> None:
    h = NodeHarness(Gain, {"gain": 4})
    assert h.diagnostics().name == "gain"
    assert h.diagnostic_values()["gain"] == "4"


def test_parameters_are_validated_and_changes_can_be_refused() -> None:
    with pytest.raises(ConfigError, match="gain"):
        NodeHarness(Gain, {"gain": 9})
    with pytest.raises(ConfigError, match="colour"):
        NodeHarness(Gain, {"colour": True})
    h = NodeHarness(Gain)
    assert h.set_parameters({"gain": 0}) == "gain 0 blanks every image"
    assert h.set_parameters({"gain": 1}) is None
    assert h.diagnostic_values()["gain"] == "1"


def test_name_namespace_and_remaps_place_the_topics() -> None:
    h = NodeHarness(Gain, name="front_gain", namespace="robot", remaps={"image": "/cam/image"})
    assert h.topics == {"image": "/cam/image", "image_out": "/robot/image_gain"}
    assert h.diagnostics().name == "front_gain"
    h.feed("image", image(1))
    assert h.count("image_out") == 1


def test_last_says_when_nothing_was_published() -> None:
    h = NodeHarness(Gain)
    with pytest.raises(IndexError, match="gain: nothing published on output 'image_out'"):
        h.last("image_out")
    with pytest.raises(KeyError, match="no input 'depth'"):
        h.feed("depth", image(1))


def test_transforms_go_into_the_runtime_tf_buffer() -> None:
    pose = Pose([1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 1.0])
    h = NodeHarness(Gain)
    assert h.feed_transforms([TransformStamped(Header(0, "base_link"), "cam", pose)], 5) == 5
    found = h.runtime.lookup_transform("base_link", "cam", 5)
    np.testing.assert_allclose(found.as_matrix(), pose.as_matrix())
