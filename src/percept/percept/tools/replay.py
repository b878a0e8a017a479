"""Replay a bag through a robot's node graph, deterministically, into an MCAP bag.

The graph is the one ``ros2 launch`` starts on the robot (same robot file), run by the
local runtime on bag time. The output holds every node output, /diagnostics, and the
inputs the robot file (or the caller) asks to keep. Large derived outputs (point clouds,
debug and annotated images: ``LARGE_OUTPUT_TYPES``, ``LARGE_OUTPUT_NAMES``) are recorded
only when the robot file's ``record`` list (or ``keep_inputs``) names their topic: at
640x480 and 10 Hz the cloud is 69 % of the demo replay (1.4 GiB of 2.0 before compression).

``wall_clock=True`` releases the bag's messages at their recorded times instead: a node
slower than its inputs drops frames (KEEP_LAST, newest wins) as on the robot. Either way
the result reports each node's busy wall time, CPU time, real-time factor and CPU share.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from percept import codecs
from percept.errors import ConfigError
from percept.io.bag import BagReader, BagWriter
from percept.io.typestore import get_typestore
from percept.runtime.local import (
    DIAGNOSTICS_TOPIC,
    TF_TOPICS,
    Envelope,
    FedMessage,
    LocalRuntime,
    resolve_topic,
)

if TYPE_CHECKING:
    from percept.domain import DiagnosticStatus
    from percept.runtime.robot import RobotConfig
    from percept.tools.perturb import Perturber

__all__ = [
    "LARGE_OUTPUT_NAMES",
    "LARGE_OUTPUT_TYPES",
    "NodeTiming",
    "ReplayResult",
    "build_runtime",
    "format_timing",
    "node_timings",
    "recorded_outputs",
    "replay",
    "timing_json",
    "write_timing",
]

logger = logging.getLogger(__name__)

#: Output message types recorded only on request (the robot file's ``record``).
LARGE_OUTPUT_TYPES = frozenset({codecs.POINT_CLOUD2})
#: Output names (node-local) recorded only on request: debug and annotated images.
LARGE_OUTPUT_NAMES = frozenset({"debug_image", "image_detections"})


@dataclass(frozen=True)
class NodeTiming:
    """One node's share of a replay.

    Attributes:
        name: node name.
        messages: inputs and timer wake-ups served.
        callbacks: node callbacks run (synchronised sets count once).
        busy_s: wall time serving them (decode, sync, callback, publish).
        cpu_s: process CPU time meanwhile (includes OpenCV / ONNX Runtime threads).
        realtime_factor: bag seconds / ``busy_s`` (>= 1: this node alone keeps up).
        cpu_share: ``busy_s`` / every node's ``busy_s``.
        dropped: input name -> messages dropped from its full KEEP_LAST queue.
    """

    name: str
    messages: int
    callbacks: int
    busy_s: float
    cpu_s: float
    realtime_factor: float
    cpu_share: float
    dropped: dict[str, int]


@dataclass
class ReplayResult:
    """What a replay did.

    Attributes:
        out_path: the bag written.
        fed: messages fed from the input bag.
        written: topic -> messages written.
        bag_duration_s: bag time replayed.
        wall_s: wall-clock time taken.
        truncated: the input bag ended early (damaged).
        diagnostics: the last diagnostic status of every node.
        wall_clock: messages were released at their recorded times (frames dropped
            where a node was slower), not one by one to completion.
        nodes: per-node accounting.
        lag_s: wall-clock mode: time the graph still worked after the last message.
    """

    out_path: Path
    fed: int = 0
    written: dict[str, int] = field(default_factory=dict)
    bag_duration_s: float = 0.0
    wall_s: float = 0.0
    truncated: bool = False
    diagnostics: list[DiagnosticStatus] = field(default_factory=list)
    wall_clock: bool = False
    nodes: list[NodeTiming] = field(default_factory=list)
    lag_s: float = 0.0

    @property
    def realtime_factor(self) -> float:
        """Whole graph: bag seconds / replay wall seconds (0 for an empty replay)."""
        return self.bag_duration_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def busy_s(self) -> float:
        """Every node's busy time: the graph's work on one executor thread."""
        return sum(n.busy_s for n in self.nodes)

    @property
    def dropped(self) -> int:
        """Messages dropped from full input queues, every node together."""
        return sum(sum(n.dropped.values()) for n in self.nodes)


def node_timings(runtime: LocalRuntime, bag_s: float) -> list[NodeTiming]:
    """Per-node accounting of ``runtime`` after replaying ``bag_s`` seconds of bag."""
    total_ns = sum(h.monitor.busy_ns for h in runtime.hosts)
    out = []
    for h in runtime.hosts:
        m = h.monitor
        busy_s = m.busy_ns / 1e9
        out.append(
            NodeTiming(
                name=h.name,
                messages=m.work_items,
                callbacks=m.callbacks,
                busy_s=busy_s,
                cpu_s=m.cpu_ns / 1e9,
                realtime_factor=bag_s / busy_s if busy_s > 0 else float("inf"),
                cpu_share=m.busy_ns / total_ns if total_ns > 0 else 0.0,
                dropped={k: v.dropped for k, v in m.inputs.items() if v.dropped},
            )
        )
    return out


def format_timing(result: ReplayResult) -> list[str]:
    """The per-node table and the graph line, one string per line."""
    mode = "wall-clock" if result.wall_clock else "deterministic"
    lines = [
        f"{'node':<22} {'msgs':>6} {'busy_s':>8} {'cpu_s':>8} {'RTF':>7} {'share':>6}  dropped",
    ]
    for n in result.nodes:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(n.dropped.items())) or "0"
        rtf = f"{n.realtime_factor:7.2f}" if n.realtime_factor != float("inf") else "    inf"
        lines.append(
            f"{n.name:<22} {n.messages:>6} {n.busy_s:>8.2f} {n.cpu_s:>8.2f} {rtf}"
            f" {n.cpu_share:>6.1%}  {drops}"
        )
    busy = result.busy_s
    busy_rtf = result.bag_duration_s / busy if busy > 0 else float("inf")
    lines.append(
        f"{'graph (' + mode + ')':<22} {result.fed:>6} {busy:>8.2f} "
        f"{sum(n.cpu_s for n in result.nodes):>8.2f} {busy_rtf:7.2f} {1.0 if busy else 0:>6.1%}"
        f"  {result.dropped}"
    )
    lines.append(
        f"bag {result.bag_duration_s:.2f} s replayed in {result.wall_s:.2f} s wall: "
        f"real-time factor {result.realtime_factor:.2f}"
        + (f", lag after the last message {result.lag_s:.2f} s" if result.wall_clock else "")
    )
    return lines


def timing_json(result: ReplayResult) -> dict[str, object]:
    """The accounting as JSON-ready data (``percept replay`` writes it beside the bag)."""
    return {
        "mode": "wall-clock" if result.wall_clock else "deterministic",
        "bag_s": result.bag_duration_s,
        "wall_s": result.wall_s,
        "realtime_factor": result.realtime_factor,
        "busy_s": result.busy_s,
        "lag_s": result.lag_s,
        "dropped": result.dropped,
        "fed": result.fed,
        "nodes": [
            {**asdict(n), "realtime_factor": min(n.realtime_factor, 1e9)} for n in result.nodes
        ],
    }


def _read_ahead(items: Iterator[FedMessage], depth: int = 512) -> Iterator[FedMessage]:
    """Iterate ``items`` in a reader thread, as ``ros2 bag play`` reads in its own process.

    The order is kept, so deterministic replay writes the same bytes, only sooner. In
    wall-clock mode the bag's decompression and parsing must not stall the executor
    (it would drop frames that the robot, whose camera driver is another process, would
    not); node callbacks release the GIL in OpenCV, NumPy and ONNX Runtime.
    """
    q: queue.Queue[FedMessage | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(None)
        except BaseException as err:  # handed to the consumer and raised there
            q.put(err)

    thread = threading.Thread(target=work, name="bag-reader", daemon=True)
    thread.start()
    try:
        while True:
            got = q.get()
            if got is None:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        thread.join(timeout=5.0)


def recorded_outputs(runtime: LocalRuntime, keep: set[str]) -> tuple[set[str], set[str]]:
    """The output topics a replay records, and the large ones it leaves out.

    Args:
        runtime: the graph.
        keep: resolved topics the robot file (or the caller) asks to keep.

    Returns:
        ``(recorded, left_out)``: every node output's topic, except point clouds and
        debug/annotated images not named in ``keep``.
    """
    recorded: set[str] = set()
    left_out: set[str] = set()
    for host in runtime.hosts:
        for spec in host.node_cls.OUTPUTS:
            topic = host.topics.get(spec.name)
            if topic is None:
                continue
            large = spec.msg_type in LARGE_OUTPUT_TYPES or spec.name in LARGE_OUTPUT_NAMES
            (left_out if large and topic not in keep else recorded).add(topic)
    return recorded, left_out - recorded


def build_runtime(robot: RobotConfig, *, diagnostics: bool = True) -> LocalRuntime:
    """A LocalRuntime holding the robot's graph (``percept.runtime.graph.robot_graph``)."""
    import cv2

    from percept.runtime.graph import robot_graph

    runtime = LocalRuntime(
        publish_diagnostics=diagnostics, logger=logging.getLogger(f"percept.{robot.robot}")
    )
    graph = robot_graph(robot)
    threads = [n.threads for n in graph.nodes if n.threads > 0]
    if threads:
        # One process runs every node here; give OpenCV the largest per-node budget.
        cv2.setNumThreads(max(threads))
    for node in graph.nodes:
        runtime.add_node(
            node.node_cls,
            node.parameters,
            name=node.name,
            namespace=node.namespace,
            remaps=node.entry.remappings,
        )
    return runtime


def replay(
    bag_path: Path,
    out_path: Path,
    robot: RobotConfig,
    *,
    remaps: Mapping[str, str] | None = None,
    keep_inputs: Sequence[str] = (),
    start_s: float | None = None,
    duration_s: float | None = None,
    diagnostics: bool = True,
    overwrite: bool = False,
    progress: bool = False,
    perturb: Perturber | None = None,
    wall_clock: bool = False,
    speed: float = 1.0,
) -> ReplayResult:
    """Run ``robot``'s graph on ``bag_path`` and write what it published to ``out_path``.

    Args:
        bag_path: any bag ``rosbags`` reads.
        out_path: output bag (``.mcap``: one file; otherwise a rosbag2 folder).
        robot: the robot graph (``percept.runtime.robot.load_robot``).
        remaps: bag topic -> graph topic (``/cam0/image_raw`` -> ``/left/image_raw``).
        keep_inputs: graph input topics to copy into the output, besides ``robot.record``.
        start_s: skip this many seconds from the bag start.
        duration_s: replay at most this many seconds.
        diagnostics: record /diagnostics (wall-clock latencies make it differ between
            runs; everything else is byte-identical run to run).
        overwrite: replace an existing output.
        progress: show a progress bar on stderr.
        perturb: seeded perturbations applied to the inputs before the graph sees them
            (kept inputs are recorded perturbed).
        wall_clock: release messages at their recorded times (scaled by ``speed``)
            through one executor thread; slow nodes drop frames as on the robot and the
            output's receive times show the lag. Not deterministic.
        speed: wall-clock playback rate.

    Raises:
        BagError: input unreadable or output not writable.
        ConfigError: a remap names a topic the bag does not have.
    """
    from tqdm import tqdm

    remaps = dict(remaps or {})
    runtime = build_runtime(robot, diagnostics=diagnostics)
    graph_inputs = runtime.input_topics()
    keep = {resolve_topic(t) for t in (*robot.record, *keep_inputs)}
    outputs, left_out = recorded_outputs(runtime, keep)
    if left_out:
        logger.info(
            "not recorded (large; name them in the robot file's record list to keep them): %s",
            ", ".join(sorted(left_out)),
        )
    if diagnostics:
        outputs.add(DIAGNOSTICS_TOPIC)
    result = ReplayResult(out_path)
    started = time.perf_counter()
    with BagReader(bag_path) as bag, BagWriter(out_path, overwrite=overwrite) as writer:
        bag_topics = bag.topics()
        missing = [t for t in remaps if t not in bag_topics]
        if missing:
            msg = (
                f"--remap names topics not in {bag_path}: {missing} (bag has {sorted(bag_topics)})"
            )
            raise ConfigError(msg)
        # Some recorders store topics without the leading slash; the graph resolves names.
        to_graph = {t: resolve_topic(remaps.get(t, t)) for t in bag_topics}
        wanted = [
            t for t, g in to_graph.items() if g in graph_inputs or g in keep or g in TF_TOPICS
        ]
        # a node's input fed by another node's output (recorded or not) is not missing
        unfed = sorted(set(graph_inputs) - set(to_graph.values()) - outputs - set(left_out))
        if unfed:
            logger.warning("graph inputs not in the bag (nothing will arrive): %s", unfed)

        def record(env: Envelope) -> None:
            if env.topic in outputs or env.topic in keep:
                writer.write(env.topic, env.msgtype, env.recv_ns, env.serialize())

        runtime.tap(record)
        start_ns = bag.start_ns + round(start_s * 1e9) if start_s else None
        stop_ns = None
        if duration_s is not None:
            stop_ns = (start_ns or bag.start_ns) + round(duration_s * 1e9)
        total = sum(c.msgcount for c in bag.connections() if c.topic in wanted)
        bar = tqdm(
            total=total,
            unit="msg",
            desc=f"replay {Path(bag_path).name}",
            disable=not progress or not sys.stderr.isatty(),
            file=sys.stderr,
        )
        span: list[int] = []

        def fed() -> Iterator[FedMessage]:
            for m in bag.messages(wanted, start_ns, stop_ns):
                if span:
                    span[1:] = [m.log_time_ns]
                else:
                    span.append(m.log_time_ns)
                result.fed += 1
                bar.update()
                if perturb is not None and perturb.wants(m.msgtype):
                    ros_msg = (
                        m.msg
                        if m.raw is None
                        else get_typestore().deserialize_cdr(m.raw, m.msgtype)
                    )
                    changed = perturb.apply(m.topic, m.msgtype, codecs.decode(m.msgtype, ros_msg))
                    if changed is not None:
                        yield FedMessage(to_graph[m.topic], m.msgtype, m.log_time_ns, obj=changed)
                else:
                    yield FedMessage(to_graph[m.topic], m.msgtype, m.log_time_ns, m.raw, m.msg)

        if wall_clock:
            result.lag_s = runtime.run_wall_clock(_read_ahead(fed()), speed=speed).lag_s
        else:
            for f in _read_ahead(fed()):
                runtime.feed(f.topic, f.msgtype, f.recv_ns, raw=f.raw, obj=f.obj)
                runtime.spin_until_idle()
        bar.close()
        runtime.spin_until_idle()
        if diagnostics and runtime.hosts:
            runtime.emit_diagnostics()
        result.truncated = bag.truncated
        result.written = dict(writer.counts)
    result.diagnostics = [h.diagnostics() for h in runtime.hosts]
    result.bag_duration_s = (span[-1] - span[0]) / 1e9 if span else 0.0
    result.wall_s = time.perf_counter() - started
    result.wall_clock = wall_clock
    result.nodes = node_timings(runtime, result.bag_duration_s)
    return result


def write_timing(result: ReplayResult, path: Path) -> None:
    """Write ``timing_json(result)`` to ``path``."""
    path.write_text(json.dumps(timing_json(result), indent=2) + "\n")
