from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from percept.domain import (
    DiagnosticArray,
    DiagnosticLevel,
    Header,
    Image,
    OccupancyGrid,
    TransformStamped,
)
from percept.errors import ConfigError, InputRejected
from percept.geometry.pose import Pose
from percept.node import LATCHED, RELIABLE, SENSOR_DATA, Input, Node, Output, Parameter, Sync, Timer
from percept.runtime.local import Envelope, LocalRuntime, resolve_topic
from percept.runtime.params import resolve_parameters

IMG = "sensor_msgs/msg/Image"
MS = 1_000_000


def image(stamp_ns: int, value: int = 0, frame: str = "cam") -> Image:
    return Image(Header(stamp_ns, frame), "mono8", np.full((4, 6), value, np.uint8))


class Relay(Node):
    NAME = "relay"
    INPUTS: ClassVar = (Input("image_in", "image_in", IMG, SENSOR_DATA),)
    OUTPUTS: ClassVar = (Output("image_out", "image_out", IMG, SENSOR_DATA),)
    PARAMETERS: ClassVar = (
        Parameter("offset", "integer", 0, "added to pixels", min_value=0, max_value=100),
    )

    def on_image_in(self, img: Image) -> dict[str, object]:
        if int(img.data[0, 0]) == 255:
            msg = "saturated"
            raise InputRejected(msg)
        data = img.data + np.uint8(self.params["offset"])
        return {"image_out": Image(img.header, img.encoding, data)}


class Pair(Node):
    NAME = "pair"
    INPUTS: ClassVar = (
        Input("left", "left/image", IMG, SENSOR_DATA),
        Input("right", "right/image", IMG, SENSOR_DATA),
    )
    OUTPUTS: ClassVar = (Output("sum", "sum", IMG),)
    SYNCS: ClassVar = (
        Sync(
            ("left", "right"),
            "on_pair",
            approximate=True,
            slop_s=0.01,
            queue_size=5,
            slop_param="slop_s",
        ),
    )
    PARAMETERS: ClassVar = (
        Parameter("slop_s", "double", 0.01, "sync slop", min_value=0.0, max_value=1.0),
    )

    def on_pair(self, left: Image, right: Image) -> dict[str, object]:
        return {"sum": Image(left.header, "mono8", left.data + right.data)}


class Mapper(Node):
    NAME = "mapper"
    INPUTS: ClassVar = ()
    OUTPUTS: ClassVar = (Output("map", "map", "nav_msgs/msg/OccupancyGrid", LATCHED),)
    TIMERS: ClassVar = (Timer(0.5, "on_timer"),)

    def setup(self) -> None:
        self.ticks = 0

    def on_timer(self) -> None:
        self.ticks += 1
        grid = np.full((2, 3), self.ticks, np.int8)
        self.ctx.publish("map", OccupancyGrid(Header(self.ctx.now_ns(), "map"), 0.1, Pose(), grid))


def params(cls: type[Node], **overrides: object) -> dict[str, object]:
    return resolve_parameters(cls, cls.NAME, overrides=overrides)  # type: ignore[return-value]


def collect(rt: LocalRuntime, topic: str) -> list[Envelope]:
    got: list[Envelope] = []
    rt.subscribe(topic, got.append)
    return got


def test_resolve_topic_follows_rcl_rules() -> None:
    assert resolve_topic("image", "") == "/image"
    assert resolve_topic("left/image", "/robot/") == "/robot/left/image"
    assert resolve_topic("/abs", "robot") == "/abs"
    assert resolve_topic("~/debug", "robot", "node") == "/robot/node/debug"


def test_relay_processes_in_order_and_applies_parameters() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    rt.add_node(Relay, params(Relay, offset=3), namespace="cam")
    out = collect(rt, "/cam/image_out")
    for i in range(3):
        rt.feed_and_spin("/cam/image_in", IMG, i * MS, obj=image(i * MS, i))
    assert [int(e.obj.data[0, 0]) for e in out] == [3, 4, 5]  # type: ignore[union-attr]


def test_set_parameters_takes_effect_and_validates() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    rt.add_node(Relay, params(Relay))
    out = collect(rt, "/image_out")
    assert rt.set_parameters("relay", {"offset": 10}) is None
    rt.feed_and_spin("/image_in", IMG, 1, obj=image(1, 1))
    assert int(out[0].obj.data[0, 0]) == 11  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="offset must be <= 100"):
        rt.set_parameters("relay", {"offset": 1000})


def test_queue_depth_drops_oldest_and_counts_drops() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Relay, params(Relay))
    out = collect(rt, "/image_out")
    for i in range(8):  # SENSOR_DATA depth is 5: without spinning, 3 are dropped
        rt.feed("/image_in", IMG, i, obj=image(i, i))
    rt.spin_until_idle()
    assert [int(e.obj.data[0, 0]) for e in out] == [3, 4, 5, 6, 7]  # type: ignore[union-attr]
    assert host.monitor.inputs["image_in"].dropped == 3


def test_remap_by_input_name_and_unknown_remap_raises() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Relay, params(Relay), remaps={"image_in": "/camera/image_raw"})
    assert host.topics["image_in"] == "/camera/image_raw"
    with pytest.raises(ConfigError, match="match no input/output"):
        rt.add_node(Relay, params(Relay), name="r2", remaps={"imag_in": "/x"})


def test_reliable_subscription_gets_nothing_from_best_effort_publisher() -> None:
    class Strict(Relay):
        NAME = "strict"
        INPUTS: ClassVar = (Input("image_in", "image_out", IMG, RELIABLE),)
        OUTPUTS: ClassVar = (Output("image_out", "strict_out", IMG),)

    rt = LocalRuntime(publish_diagnostics=False)
    rt.add_node(Relay, params(Relay))  # publishes best effort on /image_out
    strict = rt.add_node(Strict, params(Strict))
    rt.feed_and_spin("/image_in", IMG, 1, obj=image(1))
    assert strict.monitor.inputs["image_in"].received == 0


def test_approximate_sync_pairs_within_slop_and_reports_stall() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Pair, params(Pair))
    out = collect(rt, "/sum")
    for i in range(5):
        t = i * 100 * MS
        rt.feed_and_spin("/left/image", IMG, t, obj=image(t, 1))
        rt.feed_and_spin("/right/image", IMG, t + 3 * MS, obj=image(t + 3 * MS, 2))
    assert len(out) == 5
    # Right camera stamped by another clock: 50 ms off, far beyond the 10 ms slop.
    for i in range(5, 40):
        t = i * 100 * MS
        rt.feed_and_spin("/left/image", IMG, t, obj=image(t, 1))
        rt.feed_and_spin("/right/image", IMG, t + MS, obj=image(t + 50 * MS, 2))
    status = host.diagnostics()
    assert len(out) == 5
    assert status.level == DiagnosticLevel.WARN
    assert "produced no set" in status.message
    assert "right +50.0 ms" in status.message
    assert "slop 10.0 ms" in status.message
    # Widening the slop at run time rebuilds the synchroniser.
    assert rt.set_parameters("pair", {"slop_s": 0.1}) is None
    t = 40 * 100 * MS
    rt.feed_and_spin("/left/image", IMG, t, obj=image(t, 1))
    rt.feed_and_spin("/right/image", IMG, t + MS, obj=image(t + 50 * MS, 2))
    assert len(out) == 6


def test_rejections_are_counted_and_next_message_served() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Relay, params(Relay))
    out = collect(rt, "/image_out")
    rt.feed_and_spin("/image_in", IMG, 10, obj=image(10, 255))  # node rejects
    rt.feed_and_spin("/image_in", IMG, 11, obj=image(5, 1))  # stamp backwards
    rt.feed_and_spin("/image_in", IMG, 12, raw=b"\x00\x01garbage")  # bad CDR
    rt.feed_and_spin("/image_in", IMG, 13, obj=image(20, 2))
    stats = host.monitor.inputs["image_in"]
    assert stats.rejected == 3
    assert "not a valid sensor_msgs/msg/Image" in stats.last_reason
    assert [int(e.obj.data[0, 0]) for e in out] == [2]  # type: ignore[union-attr]


def test_timers_run_on_message_time_and_latched_output_reaches_late_subscriber() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Mapper, params(Mapper))
    for t in range(0, 2001, 100):
        rt.advance_clock(t * MS)
    assert host.node.ticks == 4  # type: ignore[attr-defined]
    late: list[Envelope] = []
    rt.subscribe("/map", late.append, qos=LATCHED)
    rt.spin_until_idle()
    assert len(late) == 1
    assert int(late[0].obj.data[0, 0]) == 4  # type: ignore[union-attr]


def test_diagnostics_published_per_period_of_message_time() -> None:
    rt = LocalRuntime(publish_diagnostics=True, diagnostics_period_s=1.0)
    rt.add_node(Relay, params(Relay))
    diags = collect(rt, "/diagnostics")
    for i in range(31):
        t = i * 100 * MS
        rt.feed_and_spin("/image_in", IMG, t, obj=image(t))
    assert len(diags) == 3
    array = diags[-1].obj
    assert isinstance(array, DiagnosticArray)
    values = dict(array.status[0].values)
    assert values["image_in.received"] == "30"  # t=3.0 s message comes after
    assert float(values["image_in.rate_hz"]) == pytest.approx(10.0)
    assert float(values["latency_p95_ms"]) >= 0.0
    # And it serialises like any message.
    assert len(diags[-1].serialize()) > 100


def test_tf_topics_feed_the_buffer() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    tf = (TransformStamped(Header(0, "base_link"), "camera", Pose([0.1, 0, 0.5], [0, 0, 0, 1])),)
    rt.feed_and_spin("/tf_static", "tf2_msgs/msg/TFMessage", 0, obj=tf)
    pose = rt.lookup_transform("base_link", "camera", 0)
    np.testing.assert_allclose(pose.translation_m, [0.1, 0, 0.5])


def test_rejection_warns_then_clears_while_counters_keep_history() -> None:
    rt = LocalRuntime(publish_diagnostics=False)
    host = rt.add_node(Relay, params(Relay))
    rt.feed_and_spin("/image_in", IMG, 0, obj=image(0, 255))  # rejected by the node
    status = host.diagnostics()
    assert status.level == DiagnosticLevel.WARN
    for i in range(1, 40):  # 3.9 s of good input at 10 Hz
        t = i * 100 * MS
        rt.feed_and_spin("/image_in", IMG, t, obj=image(t, 1))
    status = host.diagnostics()
    assert status.level == DiagnosticLevel.OK
    assert dict(status.values)["image_in.rejected"] == "1"
