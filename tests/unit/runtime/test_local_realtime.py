"""Per-node accounting and wall-clock replay of the local runtime, on a fake slow node."""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import pytest

from percept.domain import DiagnosticLevel, Header, Image
from percept.node import SENSOR_DATA, Input, Node, Output, Parameter
from percept.runtime.local import FedMessage, LocalRuntime
from percept.runtime.params import resolve_parameters
from percept.tools.replay import ReplayResult, format_timing, node_timings, timing_json

IMG = "sensor_msgs/msg/Image"
MS = 1_000_000


class Sleeper(Node):
    """Sleeps ``work_ms`` in each callback, then relays the image (a slow node)."""

    NAME = "sleeper"
    INPUTS: ClassVar = (Input("image_in", "image_in", IMG, SENSOR_DATA),)
    OUTPUTS: ClassVar = (Output("image_out", "image_out", IMG, SENSOR_DATA),)
    PARAMETERS: ClassVar = (
        Parameter("work_ms", "double", 1.0, "sleep per callback", min_value=0.0, max_value=1e3),
    )

    def on_image_in(self, img: Image) -> dict[str, object]:
        time.sleep(float(self.params["work_ms"]) / 1e3)  # type: ignore[arg-type]
        return {"image_out": img}


def frames(n: int, period_ms: float) -> list[FedMessage]:
    data = np.zeros((4, 6), np.uint8)
    return [
        FedMessage(
            "/image_in", IMG, round(i * period_ms * MS), obj=Image(Header(i, "c"), "mono8", data)
        )
        for i in range(n)
    ]


def graph(work_ms: float) -> tuple[LocalRuntime, list[int]]:
    rt = LocalRuntime(diagnostics_period_s=0.1)
    rt.add_node(Sleeper, resolve_parameters(Sleeper, "sleeper", overrides={"work_ms": work_ms}))
    out: list[int] = []
    rt.subscribe("/image_out", lambda env: out.append(env.message().header.stamp_ns))  # type: ignore[attr-defined]
    return rt, out


def test_deterministic_mode_serves_every_frame_and_accounts_busy_time() -> None:
    rt, out = graph(work_ms=20.0)
    for f in frames(10, 10.0):  # inputs faster than the node: deterministic waits anyway
        rt.feed_and_spin(f.topic, f.msgtype, f.recv_ns, obj=f.obj)
    assert out == list(range(10))
    mon = rt.host("sleeper").monitor
    assert (mon.work_items, mon.callbacks, mon.inputs["image_in"].dropped) == (10, 10, 0)
    assert mon.busy_ns >= 10 * 20 * MS
    assert mon.cpu_ns < mon.busy_ns / 2  # sleeping is wall time, not CPU
    (timing,) = node_timings(rt, bag_s=0.09)
    assert timing.realtime_factor == pytest.approx(0.09 / timing.busy_s)
    assert timing.realtime_factor < 0.5
    assert timing.cpu_share == 1.0


def test_wall_clock_slow_node_drops_oldest_and_says_so_on_diagnostics() -> None:
    rt, out = graph(work_ms=25.0)
    run = rt.run_wall_clock(frames(40, 5.0))  # 200 Hz in, 40 Hz out
    dropped = rt.host("sleeper").monitor.inputs["image_in"].dropped
    assert dropped > 0
    assert len(out) + dropped == 40
    assert out == sorted(out)
    assert out[-1] == 39  # newest wins: the last frame is always served
    assert run.fed == 40
    assert run.wall_s >= 0.195
    status = rt.host("sleeper").diagnostics()
    assert status.level == DiagnosticLevel.WARN
    assert "dropped: image_in" in status.message
    assert dict(status.values)["image_in.dropped"] == str(dropped)
    (timing,) = node_timings(rt, bag_s=0.195)
    assert timing.dropped == {"image_in": dropped}


def test_wall_clock_waits_for_due_times_scaled_by_speed() -> None:
    rt, out = graph(work_ms=0.0)
    started = time.perf_counter()
    run = rt.run_wall_clock(frames(20, 10.0), speed=2.0)  # 0.19 s of bag at 2x
    assert time.perf_counter() - started >= 0.09
    assert run.wall_s >= 0.09
    assert out == sorted(out)
    assert out[-1] == 19


def fake_clock_run(cost_ms: float, period_ms: float, n: int) -> tuple[LocalRuntime, int]:
    """Frames every ``period_ms`` into a node whose callback costs ``cost_ms`` of a fake clock."""
    now = [0]

    class Busy(Sleeper):
        def on_image_in(self, img: Image) -> dict[str, object]:
            now[0] += round(cost_ms * MS)
            return {"image_out": img}

    rt = LocalRuntime(diagnostics_period_s=0.05)
    rt.add_node(Busy, resolve_parameters(Busy, "sleeper"))

    def sleep(s: float) -> None:
        now[0] += round(s * 1e9)

    rt.run_wall_clock(frames(n, period_ms), clock_ns=lambda: now[0], sleep=sleep)
    return rt, now[0]


def test_wall_clock_fast_node_drops_nothing() -> None:
    rt, end_ns = fake_clock_run(cost_ms=4.0, period_ms=10.0, n=30)
    mon = rt.host("sleeper").monitor
    assert (mon.callbacks, mon.inputs["image_in"].dropped) == (30, 0)
    assert end_ns == 29 * 10 * MS + 4 * MS  # the last frame served as it came
    assert mon.work_items == 30
    assert rt.host("sleeper").diagnostics().level == DiagnosticLevel.OK


def test_wall_clock_slow_node_on_a_fake_clock_serves_one_in_three() -> None:
    rt, end_ns = fake_clock_run(cost_ms=30.0, period_ms=10.0, n=60)
    mon = rt.host("sleeper").monitor
    dropped = mon.inputs["image_in"].dropped
    assert mon.callbacks + dropped == 60
    # 600 ms of frames, 30 ms a callback: about 20 served, the KEEP_LAST 5 queue lagging.
    assert 18 <= mon.callbacks <= 26
    assert end_ns > 590 * MS
    assert rt.host("sleeper").diagnostics().level == DiagnosticLevel.WARN


def test_timing_table_and_json() -> None:
    rt, _ = graph(work_ms=1.0)
    for f in frames(5, 10.0):
        rt.feed_and_spin(f.topic, f.msgtype, f.recv_ns, obj=f.obj)
    result = ReplayResult(out_path=None, fed=5, bag_duration_s=0.04, wall_s=0.02)  # type: ignore[arg-type]
    result.nodes = node_timings(rt, 0.04)
    lines = format_timing(result)
    assert lines[1].startswith("sleeper")
    assert "real-time factor 2.00" in lines[-1]
    data = timing_json(result)
    assert data["mode"] == "deterministic"
    assert data["nodes"][0]["messages"] == 5  # type: ignore[index]


def test_speed_must_be_positive() -> None:
    rt, _ = graph(work_ms=0.0)
    with pytest.raises(ValueError, match="speed"):
        rt.run_wall_clock(frames(2, 10.0), speed=0.0)
