"""NodeHost: one node instance with everything both runtimes do the same way.

Decoding, input checks (stamps going backwards, NaN where it is not allowed, unusable
camera models), time synchronisation, callback dispatch, error containment and the
/diagnostics bookkeeping live here, so that the local runtime and the rclpy adapter
differ only in transport. A node never dies on bad input: every failure becomes a
counted, rate-limited rejection and the next message is served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from percept import codecs
from percept.domain import (
    CameraInfo,
    DiagnosticStatus,
    Image,
    ImuSample,
    Odometry,
)
from percept.errors import InputRejected, PerceptError
from percept.runtime.monitor import NodeMonitor
from percept.sync import ApproximateTimeSynchronizer, ExactTimeSynchronizer
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from percept.geometry.pose import Pose
    from percept.node import Node, ParamValue

__all__ = ["HostServices", "NodeHost", "check_input", "stamp_of"]

#: Stamps that jump back further than this start a new timeline (bag loop, restart)
#: instead of being rejected one by one.
TIME_RESET_NS = 2 * NS_PER_S
#: This many messages in a row stamped before the last accepted one also start a new
#: timeline: the last accepted stamp was the outlier.
BACKWARDS_BEFORE_RESET = 3


class HostServices(Protocol):
    """What a runtime provides to a NodeHost."""

    def now_ns(self) -> int:
        """The runtime clock."""
        ...

    def lookup_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> Pose:
        """TF lookup; raises TransformError."""
        ...

    def publish(self, host: NodeHost, output: str, obj: object) -> None:
        """Encode and send a domain object on one of the node's outputs."""
        ...


def stamp_of(obj: object) -> int | None:
    """Header stamp of a decoded domain object, None for headerless ones (TF lists)."""
    header = getattr(obj, "header", None)
    stamp = getattr(header, "stamp_ns", None)
    return stamp if isinstance(stamp, int) else None


def check_input(obj: object) -> str | None:
    """Why a decoded object is unusable input, or None.

    NaN is legal in depth images and point clouds (REP 117) but not in IMU samples,
    odometry or camera models.
    """
    if isinstance(obj, Image) and (obj.width == 0 or obj.height == 0):
        return f"empty image {obj.width}x{obj.height}"
    if isinstance(obj, CameraInfo):
        problems = obj.model.validate()
        if problems:
            return "camera_info unusable: " + "; ".join(problems)
    if isinstance(obj, ImuSample):
        arrays = [obj.angular_velocity_rad_s, obj.linear_acceleration_m_s2]
        if obj.orientation_xyzw is not None:
            arrays.append(obj.orientation_xyzw)
        if not all(np.isfinite(a).all() for a in arrays):
            return "IMU sample has NaN or Inf"
    if isinstance(obj, Odometry):
        arrays = [obj.pose.translation_m, obj.pose.quat_xyzw]
        arrays += [obj.linear_velocity_m_s, obj.angular_velocity_rad_s]
        if not all(np.isfinite(a).all() for a in arrays):
            return "odometry has NaN or Inf"
    return None


@dataclass
class _Context:
    """The NodeContext a hosted node sees."""

    host: NodeHost
    logger: logging.Logger

    def now_ns(self) -> int:
        return self.host.services.now_ns()

    def lookup_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> Pose:
        return self.host.services.lookup_transform(target_frame, source_frame, stamp_ns)

    def publish(self, output: str, obj: object) -> None:
        self.host.publish(output, obj)


class NodeHost:
    """Runs one node: decode, check, synchronise, call, publish, count.

    Args:
        node_cls: the node class.
        name: node name (may differ from ``node_cls.NAME`` when a robot file renames it).
        params: validated parameter values (``percept.runtime.params``).
        services: clock, TF and publishing of the runtime.
        logger: the node's logger.
        topics: input/output name -> resolved topic, for log lines.
        local_sync: synchronise in-process (local runtime); False when the runtime
            synchronises itself (message_filters) and calls ``deliver_set``.
    """

    def __init__(
        self,
        node_cls: type[Node],
        name: str,
        params: Mapping[str, ParamValue],
        services: HostServices,
        logger: logging.Logger,
        topics: Mapping[str, str] | None = None,
        *,
        local_sync: bool = True,
    ) -> None:
        """Create the node instance and its synchronisers."""
        node_cls.validate_declarations()
        self.node_cls = node_cls
        self.name = name
        self.services = services
        self.logger = logger
        self.topics = dict(topics or {})
        self.monitor = NodeMonitor(name, [i.name for i in node_cls.INPUTS], logger)
        self._last_stamp: dict[str, int] = {}
        self._backwards: dict[str, int] = {}
        self._syncs: list[ExactTimeSynchronizer | ApproximateTimeSynchronizer] = []
        self._sync_index: dict[str, tuple[int, int]] = {}
        self.local_sync = local_sync
        self._busy_depth = 0
        self.node = node_cls(_Context(self, logger), params)
        self._build_syncs()

    # -- synchronisers -------------------------------------------------------------------
    def _build_syncs(self) -> None:
        self._syncs = []
        self.monitor.syncs = []
        for gi, group in enumerate(self.node_cls.SYNCS):
            approximate, slop_ns, queue_size = group.resolve(self.node.params)
            self.monitor.add_sync(group.inputs, slop_ns, approximate)
            for pos, input_name in enumerate(group.inputs):
                self._sync_index[input_name] = (gi, pos)

            def emit(msgs: tuple[object, ...], gi: int = gi) -> None:
                self._call_set(gi, msgs)

            sync: ExactTimeSynchronizer | ApproximateTimeSynchronizer
            if approximate:
                sync = ApproximateTimeSynchronizer(len(group.inputs), queue_size, slop_ns, emit)
            else:
                sync = ExactTimeSynchronizer(len(group.inputs), queue_size, emit)
            self._syncs.append(sync)

    def sync_settings(self, index: int) -> tuple[bool, int, int]:
        """(approximate, slop_ns, queue_size) of sync group ``index`` right now."""
        return self.node_cls.SYNCS[index].resolve(self.node.params)

    # -- accounting ----------------------------------------------------------------------
    @contextmanager
    def busy(self) -> Iterator[None]:
        """Count the enclosed work as this node's: wall time and process CPU time.

        Process CPU time includes OpenCV's and ONNX Runtime's worker threads, which is
        this node's work when one executor thread serves every node (the local runtime)
        or when the node has a process of its own. Nested uses count once.
        """
        self._busy_depth += 1
        if self._busy_depth > 1:
            try:
                yield
            finally:
                self._busy_depth -= 1
            return
        wall0 = time.perf_counter_ns()
        cpu0 = time.process_time_ns()
        try:
            yield
        finally:
            self._busy_depth -= 1
            self.monitor.account(time.perf_counter_ns() - wall0, time.process_time_ns() - cpu0)

    # -- inputs --------------------------------------------------------------------------
    def _topic(self, name: str) -> str:
        return self.topics.get(name, name)

    def _decode(self, input_name: str, msg: object) -> object | None:
        """Decode and check one message; None (after counting) when rejected."""
        spec = self.node_cls.input(input_name)
        now = self.services.now_ns()
        domain_cls = codecs.DOMAIN_TYPES.get(spec.msg_type)
        try:
            if domain_cls is not None and isinstance(msg, domain_cls):
                obj: object = msg
            else:
                obj = codecs.decode(spec.msg_type, msg)
        except PerceptError as err:
            self.monitor.received(input_name, now, None)
            self.monitor.rejected(input_name, str(err), now, self._topic(input_name))
            return None
        except Exception as err:  # a codec bug must not kill the node either
            self.monitor.received(input_name, now, None)
            self.monitor.rejected(
                input_name,
                f"undecodable: {type(err).__name__}: {err}",
                now,
                self._topic(input_name),
            )
            return None
        stamp = stamp_of(obj)
        self.monitor.received(input_name, now, stamp)
        problem = check_input(obj)
        if problem is None and stamp is not None:
            problem = self._check_stamp(input_name, stamp, now)
        if problem is not None:
            self.monitor.rejected(input_name, problem, now, self._topic(input_name))
            return None
        return obj

    def _check_stamp(self, input_name: str, stamp: int, now: int) -> str | None:
        if stamp < 0:
            return f"negative stamp {stamp} ns"
        last = self._last_stamp.get(input_name)
        if last is not None and stamp < last:
            back = last - stamp
            self._backwards[input_name] = self._backwards.get(input_name, 0) + 1
            # A large jump, or several messages in a row behind one stamp (a lone bogus
            # stamp from the future), starts a new timeline instead of blocking the input.
            if back > TIME_RESET_NS or self._backwards[input_name] >= BACKWARDS_BEFORE_RESET:
                self.monitor.time_reset(input_name, now, back)
                self._last_stamp.clear()
                self._backwards.clear()
                for sync in self._syncs:
                    sync.reset()
            else:
                return f"stamp went backwards by {back / 1e6:.3f} ms (last {last}, got {stamp})"
        self._backwards.pop(input_name, None)
        self._last_stamp[input_name] = stamp
        return None

    def deliver(self, input_name: str, msg: object) -> None:
        """One message (ROS message or domain object) arrived on ``input_name``."""
        with self.busy():
            self._deliver(input_name, msg)

    def _deliver(self, input_name: str, msg: object) -> None:
        obj = self._decode(input_name, msg)
        if obj is None:
            return
        where = self._sync_index.get(input_name)
        if where is None:
            self._invoke(f"on_{input_name}", (obj,), input_name)
            return
        gi, pos = where
        if not self.local_sync:
            msg_ = f"input {input_name} is synchronised by the runtime; use deliver_set"
            raise RuntimeError(msg_)
        stamp = stamp_of(obj)
        if stamp is None:
            self.monitor.rejected(
                input_name,
                "headerless message cannot be synchronised",
                self.services.now_ns(),
                self._topic(input_name),
            )
            return
        self._syncs[gi].add(pos, stamp, obj)

    def deliver_set(self, group_index: int, msgs: tuple[object, ...]) -> None:
        """A set matched by an external synchroniser (message_filters)."""
        group = self.node_cls.SYNCS[group_index]
        objs = []
        with self.busy():
            for input_name, msg in zip(group.inputs, msgs, strict=True):
                obj = self._decode(input_name, msg)
                if obj is None:
                    return
                objs.append(obj)
            self._call_set(group_index, tuple(objs))

    def _call_set(self, group_index: int, objs: tuple[object, ...]) -> None:
        group = self.node_cls.SYNCS[group_index]
        self.monitor.sync_emitted(group_index, self.services.now_ns())
        self._invoke(group.callback, objs, group.inputs[0])

    def fire_timer(self, index: int) -> None:
        """Run timer ``index``'s callback."""
        with self.busy():
            self._invoke(self.node_cls.TIMERS[index].callback, (), None)

    def _invoke(self, method: str, args: tuple[object, ...], input_name: str | None) -> None:
        start = time.perf_counter_ns()
        now = self.services.now_ns()
        try:
            result = getattr(self.node, method)(*args)
        except InputRejected as err:
            if input_name is not None:
                self.monitor.rejected(input_name, str(err), now, self._topic(input_name))
            return
        except Exception as err:
            self.monitor.failed(f"{self.name}.{method}", err, now)
            return
        finally:
            self.monitor.processed(time.perf_counter_ns() - start)
        if result:
            for output, value in result.items():
                values = value if isinstance(value, list) else [value]
                for item in values:
                    self.publish(output, item)

    # -- outputs, parameters, diagnostics ---------------------------------------------
    def publish(self, output: str, obj: object) -> None:
        """Send ``obj`` on a declared output through the runtime."""
        self.node_cls.output(output)  # raises KeyError for an undeclared output
        self.services.publish(self, output, obj)
        self.monitor.published_one(output)

    def set_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        """Apply a run-time change; returns the reason when it is refused.

        Values must already be validated against the declarations.
        """
        read_only = [k for k in changed if self.node_cls.parameter(k).read_only]
        if read_only:
            return f"read-only parameters cannot change at run time: {read_only}"
        before = dict(self.node.params)
        try:
            reason = self.node.on_parameters(changed)
        except Exception as err:
            self.node.params = before
            return f"{type(err).__name__}: {err}"
        if reason is not None:
            self.node.params = before
            return reason
        touched = set(changed)
        for group in self.node_cls.SYNCS:
            if touched & {group.approximate_param, group.slop_param, group.queue_size_param}:
                self._build_syncs()
                break
        return None

    def diagnostics(self) -> DiagnosticStatus:
        """Current diagnostic status, with sync stamps and the node's own values."""
        now = self.services.now_ns()
        extra: list[tuple[str, str]] = []
        for i, sync in enumerate(self._syncs):
            extra.append((f"sync{i}.queued", " ".join(map(str, sync.queued()))))
            extra.append((f"sync{i}.dropped", str(sync.dropped)))
        summary: tuple[int, str] | None = None
        try:
            extra += self.node.diagnostic_values()
            summary = self.node.diagnostic_summary()
        except Exception as err:
            self.monitor.failed(f"{self.name}.diagnostic_values", err, now)
        return self.monitor.status(now, extra, summary)
