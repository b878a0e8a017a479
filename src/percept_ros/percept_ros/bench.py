"""Per-message cost of the adapter against bare rclpy, in one process and one run.

``python -m percept_ros.bench [--frames N] [--json FILE]`` (ROS 2 sourced) measures,
for a 1280x720 bgr8 image and a 300,000-point xyz+rgb cloud:

- *receive*: publish -> callback done, for a bare ``create_subscription`` callback and
  for a Percept node whose callback does nothing (the adapter's subscription, the
  NodeHost's stamp/input checks, decoding, the node call, diagnostics bookkeeping).
  Both run on one executor, alternating message by message, so machine load hits both
  alike. The publisher is in the same process, so the figure includes rmw
  serialisation and deserialisation, which bare rclpy pays too.
- *publish*: one ``publish`` call, for bare rclpy handed a ready message and for the
  adapter handed the domain object (it encodes it: one copy of the payload into an
  ``array.array``, then the same ``publish``).

Medians of wall and process-CPU time and their ratios are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from percept import codecs
from percept.domain import Header, Image, PointCloud
from percept.node import RELIABLE, Input, Node, Output
from percept_ros.adapter import PerceptRosNode, RclpyMessageFactory

import rclpy  # isort: skip  # after percept_ros.adapter, which explains a missing ROS
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor

__all__ = ["Figure", "main", "run_bench"]

_IMAGE = "sensor_msgs/msg/Image"
_CLOUD = "sensor_msgs/msg/PointCloud2"


@dataclass(frozen=True)
class Figure:
    """Median milliseconds per message (wall and CPU), bare rclpy and through the adapter."""

    payload: str
    path: str
    bare_ms: float
    adapter_ms: float
    bare_cpu_ms: float
    adapter_cpu_ms: float
    frames: int

    @property
    def ratio(self) -> float:
        """Adapter wall time over bare wall time."""
        return self.adapter_ms / self.bare_ms

    @property
    def cpu_ratio(self) -> float:
        """Adapter CPU time over bare CPU time."""
        return self.adapter_cpu_ms / self.bare_cpu_ms


def _node_class(msg_type: str, relay: bool) -> type[Node]:
    """A Percept node receiving ``msg_type``; returns it when ``relay``, else nothing."""

    class _Bench(Node):
        NAME = "bench_relay" if relay else "bench_sink"
        DESCRIPTION = "benchmark node"
        INPUTS: ClassVar[tuple[Input, ...]] = (Input("data", "bench/in", msg_type, RELIABLE),)
        OUTPUTS: ClassVar[tuple[Output, ...]] = (
            (Output("out", "bench/out", msg_type, RELIABLE),) if relay else ()
        )

        def setup(self) -> None:
            self.count = 0

        def on_data(self, obj: object) -> dict[str, object] | None:
            self.count += 1
            return {"out": obj} if relay else None

    return _Bench


def _sample(payload: str, factory: RclpyMessageFactory) -> object:
    rng = np.random.default_rng(0)
    header = Header(1, "camera_optical_frame")
    if payload == "image":
        data = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
        return codecs.encode(_IMAGE, Image(header, "bgr8", data), factory)
    xyz = rng.normal(size=(300_000, 3))
    rgb = rng.integers(0, 256, (300_000, 3))
    cloud: PointCloud = codecs.make_point_cloud(header, xyz, rgb)
    return codecs.encode(_CLOUD, cloud, factory)


def _round_trip(
    executor: SingleThreadedExecutor, publish: Callable[[], None], count: Callable[[], int]
) -> tuple[float, float]:
    """Wall and process-CPU milliseconds from publish to the callback having run.

    CPU time counts every thread of this process (the DDS threads included) and is
    barely touched by other processes' load, which wall time on a shared 2-core
    machine is not.
    """
    before = count()
    cpu0 = time.process_time()
    start = time.perf_counter()
    publish()
    deadline = start + 10.0
    while count() == before:
        executor.spin_once(timeout_sec=0.05)
        if time.perf_counter() > deadline:
            msg = "benchmark message lost (10 s without delivery)"
            raise RuntimeError(msg)
    return (time.perf_counter() - start) * 1e3, (time.process_time() - cpu0) * 1e3


def run_bench(frames: int = 30, payloads: Sequence[str] = ("image", "cloud")) -> list[Figure]:
    """Measure the receive and publish paths; one Figure per payload and path."""
    context = Context()
    rclpy.init(context=context)
    figures: list[Figure] = []
    try:
        factory = RclpyMessageFactory()
        for payload in payloads:
            msg_type = _IMAGE if payload == "image" else _CLOUD
            cls = factory.message_class(msg_type)
            msg = _sample(payload, factory)
            figures.append(_measure_receive(context, cls, msg_type, msg, frames, payload))
            figures.append(_measure_publish(context, cls, msg_type, msg, frames, payload))
    finally:
        context.try_shutdown()
    return figures


def _figure(
    name: str, path: str, bare: list[tuple[float, float]], ours: list[tuple[float, float]]
) -> Figure:
    return Figure(
        name,
        path,
        statistics.median(t[0] for t in bare),
        statistics.median(t[0] for t in ours),
        statistics.median(t[1] for t in bare),
        statistics.median(t[1] for t in ours),
        len(bare),
    )


_WARM_UP = 3  # rounds measured but not kept


@contextlib.contextmanager
def _nodes(
    context: Context, msg_type: str, *, relay: bool
) -> Iterator[tuple[Any, PerceptRosNode, SingleThreadedExecutor]]:
    """A bare rclpy node and a Percept node of ``msg_type`` on one executor, torn down after."""
    bare = rclpy.create_node("bench_bare", context=context)
    ours = PerceptRosNode(_node_class(msg_type, relay), namespace="/ours", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(bare)
    executor.add_node(ours)
    try:
        yield bare, ours, executor
    finally:
        executor.shutdown()
        ours.destroy_node()
        bare.destroy_node()


def _alternate(
    frames: int, measure: Callable[[bool], tuple[float, float]]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``measure(is_bare)`` for both sides each round, alternating which goes first.

    Alternating keeps either side from always finding warm caches. The first
    ``_WARM_UP`` rounds are dropped.
    """
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for i in range(frames + _WARM_UP):
        for is_bare in (True, False) if i % 2 else (False, True):
            t = measure(is_bare)
            if i >= _WARM_UP:
                times[is_bare].append(t)
    return times[True], times[False]


def _measure_receive(
    context: Context, cls: type, msg_type: str, msg: object, frames: int, name: str
) -> Figure:
    with _nodes(context, msg_type, relay=False) as (bare, ours, executor):
        got = [0]

        def bump(_msg: object) -> None:
            got[0] += 1

        pub_bare = bare.create_publisher(cls, "/bare/bench/in", 10)
        pub_ours = bare.create_publisher(cls, "/ours/bench/in", 10)
        bare.create_subscription(cls, "/bare/bench/in", bump, 10)
        sink: Any = ours.host.node
        _wait_for_subscribers(executor, pub_bare, pub_ours)

        def measure(is_bare: bool) -> tuple[float, float]:
            if is_bare:
                return _round_trip(executor, lambda: pub_bare.publish(msg), lambda: got[0])
            return _round_trip(executor, lambda: pub_ours.publish(msg), lambda: sink.count)

        return _figure(name, "receive", *_alternate(frames, measure))


def _measure_publish(
    context: Context, cls: type, msg_type: str, msg: object, frames: int, name: str
) -> Figure:
    with _nodes(context, msg_type, relay=True) as (bare, ours, executor):
        obj = codecs.decode(msg_type, msg)
        pub_bare = bare.create_publisher(cls, "/bare/bench/out", 10)
        # A subscriber on each, so both publishes really serialise and send.
        bare.create_subscription(cls, "/bare/bench/out", lambda _m: None, 10)
        bare.create_subscription(cls, "/ours/bench/out", lambda _m: None, 10)
        pub_ours: Any = ours._percept_publishers["out"]
        _wait_for_subscribers(executor, pub_bare, pub_ours)

        def measure(is_bare: bool) -> tuple[float, float]:
            cpu0, start = time.process_time(), time.perf_counter()
            if is_bare:
                pub_bare.publish(msg)
            else:
                ours.publish(ours.host, "out", obj)
            t = ((time.perf_counter() - start) * 1e3, (time.process_time() - cpu0) * 1e3)
            for _ in range(3):  # let the subscribers take it, off the clock
                executor.spin_once(timeout_sec=0.01)
            return t

        return _figure(name, "publish", *_alternate(frames, measure))


def _wait_for_subscribers(executor: SingleThreadedExecutor, *publishers: Any) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in publishers):
        executor.spin_once(timeout_sec=0.05)


def format_figures(figures: Sequence[Figure]) -> str:
    """The figures as a text table."""
    head = ("payload", "path", "bare ms", "adapter ms", "ratio", "bare cpu", "adapter cpu", "ratio")
    lines = ["{:<9}{:<9}{:>9}{:>12}{:>7}{:>10}{:>13}{:>7}".format(*head)]
    for f in figures:
        lines.append(
            f"{f.payload:<9}{f.path:<9}{f.bare_ms:>9.2f}{f.adapter_ms:>12.2f}{f.ratio:>7.2f}"
            f"{f.bare_cpu_ms:>10.2f}{f.adapter_cpu_ms:>13.2f}{f.cpu_ratio:>7.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m percept_ros.bench``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=30, help="messages per measurement")
    parser.add_argument("--payload", choices=("image", "cloud"), action="append")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = run_bench(args.frames, args.payload or ("image", "cloud"))
    sys.stdout.write(format_figures(figures) + "\n")
    if args.json:
        rows = [{**f.__dict__, "ratio": f.ratio, "cpu_ratio": f.cpu_ratio} for f in figures]
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
