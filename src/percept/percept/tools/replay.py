"""Replay a bag through a robot's node graph, deterministically, into an MCAP bag.

The graph is the one ``ros2 launch`` starts on the robot (same robot file), run by the
local runtime on bag time. The output holds every node output, /diagnostics, and the
inputs the robot file (or the caller) asks to keep.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    LocalRuntime,
    resolve_topic,
)

if TYPE_CHECKING:
    from percept.domain import DiagnosticStatus
    from percept.runtime.robot import RobotConfig
    from percept.tools.perturb import Perturber

__all__ = ["ReplayResult", "build_runtime", "replay"]

logger = logging.getLogger(__name__)


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
    """

    out_path: Path
    fed: int = 0
    written: dict[str, int] = field(default_factory=dict)
    bag_duration_s: float = 0.0
    wall_s: float = 0.0
    truncated: bool = False
    diagnostics: list[DiagnosticStatus] = field(default_factory=list)


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

    Raises:
        BagError: input unreadable or output not writable.
        ConfigError: a remap names a topic the bag does not have.
    """
    from tqdm import tqdm

    remaps = dict(remaps or {})
    runtime = build_runtime(robot, diagnostics=diagnostics)
    graph_inputs = runtime.input_topics()
    keep = {resolve_topic(t) for t in (*robot.record, *keep_inputs)}
    outputs: set[str] = set()
    for host in runtime.hosts:
        outputs.update(
            t for k, t in host.topics.items() if k in {o.name for o in host.node_cls.OUTPUTS}
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
        unfed = sorted(set(graph_inputs) - set(to_graph.values()) - outputs)
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
        first_ns = last_ns = None
        for m in bag.messages(wanted, start_ns, stop_ns):
            first_ns = m.log_time_ns if first_ns is None else first_ns
            last_ns = m.log_time_ns
            if perturb is not None and perturb.wants(m.msgtype):
                ros_msg = (
                    m.msg if m.raw is None else get_typestore().deserialize_cdr(m.raw, m.msgtype)
                )
                changed = perturb.apply(m.topic, m.msgtype, codecs.decode(m.msgtype, ros_msg))
                if changed is not None:
                    runtime.feed(to_graph[m.topic], m.msgtype, m.log_time_ns, obj=changed)
            else:
                runtime.feed(to_graph[m.topic], m.msgtype, m.log_time_ns, raw=m.raw, obj=m.msg)
            runtime.spin_until_idle()
            result.fed += 1
            bar.update()
        bar.close()
        runtime.spin_until_idle()
        if diagnostics and runtime.hosts:
            runtime.emit_diagnostics()
        result.truncated = bag.truncated
        result.written = dict(writer.counts)
    result.diagnostics = [h.diagnostics() for h in runtime.hosts]
    result.bag_duration_s = 0.0 if first_ns is None else (last_ns - first_ns) / 1e9  # type: ignore[operator]
    result.wall_s = time.perf_counter() - started
    return result
