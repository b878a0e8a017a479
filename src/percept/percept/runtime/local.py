"""The local runtime: a deterministic in-process executor over a topic bus.

It gives nodes the semantics they get on ROS 2 without ROS:

* topics resolved with namespaces and remaps as ``rcl`` resolves them;
* a bounded queue per subscription (KEEP_LAST ``depth``; overflow drops the oldest and is
  counted on /diagnostics), best-effort/reliable matching, transient-local (latched)
  publishers replaying their last messages to late subscribers;
* ExactTime / ApproximateTime synchronisation with message_filters' semantics;
* a TF buffer fed from ``/tf`` and ``/tf_static``;
* a clock driven by message time (the bag's receive time in replay), timers on it;
* /diagnostics from every node, once per ``diagnostics_period_s`` of that clock.

Callbacks run one at a time in arrival order; the same inputs in the same order give
byte-identical outputs. ``run_wall_clock`` instead releases messages at their receive
times scaled to wall time, so that a node slower than its inputs overflows its queues
and drops the oldest messages (KEEP_LAST, newest wins) as it would on the robot.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from percept import codecs
from percept.domain import DiagnosticArray, Header, TransformStamped
from percept.errors import CodecError, ConfigError, PerceptError
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.msgtypes import DIAGNOSTIC_ARRAY
from percept.node import RELIABLE, QosProfile
from percept.runtime.host import NodeHost
from percept.runtime.tf_buffer import TfBuffer
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from percept.geometry.pose import Pose
    from percept.node import Node, ParamValue

__all__ = ["Envelope", "FedMessage", "LocalRuntime", "WallClockRun", "resolve_topic"]

DIAGNOSTICS_TOPIC = "/diagnostics"
TF_TOPICS = ("/tf", "/tf_static")
#: QoS of tool subscriptions (recorders, tests): compatible with every publisher.
MONITOR = QosProfile("best_effort", "volatile", 1000)


def resolve_topic(name: str, namespace: str = "", node_name: str = "") -> str:
    """Expand a topic name as rcl does: absolute, relative to the namespace, or ``~``.

    >>> resolve_topic("left/image_raw", "/robot")
    '/robot/left/image_raw'
    >>> resolve_topic("/tf", "/robot")
    '/tf'
    """
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    if name.startswith("/"):
        return name
    if name.startswith("~"):
        return f"{ns}/{node_name}{name[1:]}"
    return f"{ns}/{name}"


@functools.cache
def _factory() -> RosbagsFactory:
    return RosbagsFactory(get_typestore())


class Envelope:
    """A message on the bus: CDR bytes, a ROS message or a domain object, converted lazily.

    Args:
        topic: resolved topic.
        msgtype: ROS type name.
        recv_ns: when the bus received it (bag receive time in replay).
        raw: serialised CDR bytes, when it came from a bag.
        obj: a ROS message (bag) or a domain object (published by a node).
    """

    __slots__ = ("_decoded", "msgtype", "obj", "raw", "recv_ns", "topic")

    def __init__(
        self,
        topic: str,
        msgtype: str,
        recv_ns: int,
        raw: bytes | None = None,
        obj: object | None = None,
    ) -> None:
        """Wrap a message."""
        self.topic = topic
        self.msgtype = msgtype
        self.recv_ns = recv_ns
        self.raw = raw
        self.obj = obj
        self._decoded: bool = obj is not None

    def message(self) -> object:
        """The message for a subscriber: the domain object, or the deserialised ROS message.

        Raises:
            CodecError: the CDR bytes do not deserialise as ``msgtype``.
        """
        if not self._decoded:
            assert self.raw is not None
            try:
                self.obj = get_typestore().deserialize_cdr(self.raw, self.msgtype)
            except Exception as err:
                msg = f"{self.topic}: {len(self.raw)} bytes are not a valid {self.msgtype}: {err}"
                raise CodecError(msg) from err
            self._decoded = True
        return self.obj

    def serialize(self) -> bytes:
        """CDR bytes of the message (encoding a domain object on first use)."""
        if self.raw is None:
            obj = self.obj
            domain_cls = codecs.DOMAIN_TYPES.get(self.msgtype)
            if domain_cls is not None and isinstance(obj, domain_cls):
                obj = codecs.encode(self.msgtype, obj, _factory())
            self.raw = bytes(get_typestore().serialize_cdr(obj, self.msgtype))
        return self.raw


@dataclass(frozen=True)
class FedMessage:
    """One external message for ``LocalRuntime.run_wall_clock``.

    Attributes:
        topic: resolved graph topic.
        msgtype: ROS type name.
        recv_ns: receive time in the recording.
        raw: CDR bytes, or None.
        obj: a ROS message or domain object, or None.
    """

    topic: str
    msgtype: str
    recv_ns: int
    raw: bytes | None = None
    obj: object | None = None


@dataclass
class WallClockRun:
    """What ``LocalRuntime.run_wall_clock`` did.

    Attributes:
        fed: messages released into the graph.
        wall_s: wall time from the first release to the last callback.
        lag_s: wall time the graph still worked after the last message was due.
        late_s: largest delay of a message's release behind its due time (the executor
            was inside one callback meanwhile).
    """

    fed: int = 0
    wall_s: float = 0.0
    lag_s: float = 0.0
    late_s: float = 0.0


@dataclass
class _Subscription:
    host: NodeHost | None
    input_name: str
    topic: str
    msgtype: str
    qos: QosProfile
    callback: Callable[[Envelope], None] | None = None
    queue: deque[Envelope] = field(default_factory=deque)


@dataclass
class _Publisher:
    topic: str
    msgtype: str
    qos: QosProfile
    latched: deque[Envelope] = field(default_factory=deque)


@dataclass
class _TimerState:
    host: NodeHost
    index: int
    period_ns: int
    next_ns: int | None = None


class LocalRuntime:
    """Runs nodes in-process on message time.

    Args:
        publish_diagnostics: publish each node's DiagnosticArray on /diagnostics.
        diagnostics_period_s: how often, in message time.
        logger: parent logger; each node gets ``<logger>.<node name>``.
    """

    def __init__(
        self,
        *,
        publish_diagnostics: bool = True,
        diagnostics_period_s: float = 1.0,
        logger: logging.Logger | None = None,
    ) -> None:
        """Create an empty graph."""
        self.logger = logger or logging.getLogger("percept.runtime")
        self.hosts: list[NodeHost] = []
        self.tf = TfBuffer()
        self._subs: dict[str, list[_Subscription]] = {}
        self._pubs: dict[tuple[int, str], _Publisher] = {}
        self._topic_types: dict[str, str] = {}
        self._ready: deque[_Subscription] = deque()
        self._timers: list[_TimerState] = []
        self._taps: list[Callable[[Envelope], None]] = []
        self._now_ns = 0
        self._clock_started = False
        self.publish_diagnostics = publish_diagnostics
        self.diagnostics_period_ns = round(diagnostics_period_s * NS_PER_S)
        self._next_diag_ns: int | None = None
        self._host_topics: dict[int, dict[str, str]] = {}
        self._qos_warned: set[tuple[str, str]] = set()
        #: Timers and diagnostics drain every queue after firing (deterministic mode);
        #: False in wall-clock mode, where the executor loop serves the queues.
        self._drain = True

    # -- HostServices --------------------------------------------------------------------
    def now_ns(self) -> int:
        """The message-time clock."""
        return self._now_ns

    def lookup_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> Pose:
        """TF lookup in the runtime's buffer."""
        return self.tf.lookup_transform(target_frame, source_frame, stamp_ns)

    def publish(self, host: NodeHost, output: str, obj: object) -> None:
        """Put a node's output on the bus."""
        pub = self._pubs[(id(host), output)]
        self._put(Envelope(pub.topic, pub.msgtype, self._now_ns, obj=obj), pub)

    # -- graph ---------------------------------------------------------------------------
    def add_node(
        self,
        node_cls: type[Node],
        params: Mapping[str, ParamValue],
        *,
        name: str | None = None,
        namespace: str = "",
        remaps: Mapping[str, str] | None = None,
    ) -> NodeHost:
        """Instantiate a node and wire its inputs and outputs.

        Args:
            node_cls: the node class.
            params: validated parameters (``percept.runtime.params.resolve_parameters``).
            name: node name, default ``node_cls.NAME``.
            namespace: ROS namespace for relative topics.
            remaps: ``{input/output name or declared topic: new topic}``.

        Raises:
            ConfigError: a remap names nothing the node declares, or two publishers
                disagree on a topic's type.
        """
        node_name = name or node_cls.NAME
        remaps = dict(remaps or {})
        declared = {s.name: s.topic for s in node_cls.INPUTS}
        declared.update({s.name: s.topic for s in node_cls.OUTPUTS})
        unknown = [k for k in remaps if k not in declared and k not in declared.values()]
        if unknown:
            msg = (
                f"node {node_name}: remap keys {unknown} match no input/output "
                f"(declared: {sorted(declared)} with topics {sorted(declared.values())})"
            )
            raise ConfigError(msg)
        topics: dict[str, str] = {}
        for key, topic in declared.items():
            target = remaps.get(key, remaps.get(topic, topic))
            topics[key] = resolve_topic(target, namespace, node_name)
        logger = self.logger.getChild(node_name)
        host = NodeHost(node_cls, node_name, params, self, logger, topics)
        self.hosts.append(host)
        self._host_topics[id(host)] = topics
        for spec in node_cls.OUTPUTS:
            self._declare_type(topics[spec.name], spec.msg_type, node_name)
            pub = _Publisher(topics[spec.name], spec.msg_type, spec.qos)
            self._pubs[(id(host), spec.name)] = pub
        for ispec in node_cls.INPUTS:
            self._declare_type(topics[ispec.name], ispec.msg_type, node_name)
            sub = _Subscription(host, ispec.name, topics[ispec.name], ispec.msg_type, ispec.qos)
            self._subs.setdefault(sub.topic, []).append(sub)
            self._replay_latched(sub)
        for index, timer in enumerate(node_cls.TIMERS):
            self._timers.append(_TimerState(host, index, round(timer.period_s * NS_PER_S)))
        return host

    def _declare_type(self, topic: str, msgtype: str, who: str) -> None:
        known = self._topic_types.setdefault(topic, msgtype)
        if known != msgtype:
            msg = f"node {who}: topic {topic} is {known} elsewhere in the graph, not {msgtype}"
            raise ConfigError(msg)

    def subscribe(
        self, topic: str, callback: Callable[[Envelope], None], qos: QosProfile = MONITOR
    ) -> None:
        """Call ``callback`` for every message on ``topic``, queued like a node's input.

        The default QoS (best effort, depth 1000) receives from every publisher, as
        ``ros2 topic echo`` and ``ros2 bag record`` adapt to what is offered.
        """
        sub = _Subscription(None, "", topic, self._topic_types.get(topic, ""), qos, callback)
        self._subs.setdefault(topic, []).append(sub)
        self._replay_latched(sub)

    def tap(self, callback: Callable[[Envelope], None]) -> None:
        """Call ``callback`` synchronously for every message put on the bus (recorders)."""
        self._taps.append(callback)

    def topic_types(self) -> dict[str, str]:
        """Resolved topic -> message type of every topic in the graph."""
        return dict(self._topic_types)

    def input_topics(self) -> dict[str, str]:
        """Topics some node subscribes to, with their types."""
        return {t: s[0].msgtype for t, s in self._subs.items() if s and s[0].host is not None}

    # -- feeding and spinning -------------------------------------------------------------
    def advance_clock(self, now_ns: int) -> None:
        """Move the clock forward (never back) and fire due timers and diagnostics."""
        if not self._clock_started:
            self._clock_started = True
            self._now_ns = now_ns
            for timer in self._timers:
                timer.next_ns = now_ns + timer.period_ns
            self._next_diag_ns = now_ns + self.diagnostics_period_ns
            return
        if now_ns < self._now_ns:
            return
        self._now_ns = now_ns
        for timer in self._timers:
            assert timer.next_ns is not None
            if now_ns >= timer.next_ns:
                # Like rclpy timers on sim time: one call per wake-up, no burst of backlog.
                missed = (now_ns - timer.next_ns) // timer.period_ns
                timer.next_ns += (missed + 1) * timer.period_ns
                timer.host.fire_timer(timer.index)
                if self._drain:
                    self.spin_until_idle()
        if self._next_diag_ns is not None and now_ns >= self._next_diag_ns:
            missed = (now_ns - self._next_diag_ns) // self.diagnostics_period_ns
            self._next_diag_ns += (missed + 1) * self.diagnostics_period_ns
            if self.publish_diagnostics:
                self.emit_diagnostics()

    def feed(
        self,
        topic: str,
        msgtype: str,
        recv_ns: int,
        *,
        raw: bytes | None = None,
        obj: object | None = None,
    ) -> None:
        """Inject one external message (a bag message, a test message) at ``recv_ns``.

        The clock moves to ``recv_ns`` first; call ``spin_until_idle`` (or use
        ``feed_and_spin``) to run the callbacks it triggers.
        """
        self.advance_clock(recv_ns)
        self._put(Envelope(topic, msgtype, recv_ns, raw=raw, obj=obj), None)

    def feed_and_spin(
        self,
        topic: str,
        msgtype: str,
        recv_ns: int,
        *,
        raw: bytes | None = None,
        obj: object | None = None,
    ) -> None:
        """``feed`` then ``spin_until_idle``."""
        self.feed(topic, msgtype, recv_ns, raw=raw, obj=obj)
        self.spin_until_idle()

    def _put(self, env: Envelope, pub: _Publisher | None) -> None:
        for tap in self._taps:
            tap(env)
        if env.topic in TF_TOPICS:
            self._update_tf(env)
        pub_qos = pub.qos if pub is not None else RELIABLE
        if pub is not None and pub_qos.durability == "transient_local":
            pub.latched.append(env)
            while len(pub.latched) > pub_qos.depth:
                pub.latched.popleft()
        for sub in self._subs.get(env.topic, ()):
            if sub.qos.reliability == "reliable" and pub_qos.reliability == "best_effort":
                self._warn_qos(env.topic, sub)
                continue
            self._enqueue(sub, env)

    def _warn_qos(self, topic: str, sub: _Subscription) -> None:
        key = (topic, sub.input_name)
        if key not in self._qos_warned:
            self._qos_warned.add(key)
            self.logger.warning(
                "%s: reliable subscription %s cannot receive from a best-effort publisher "
                "(incompatible QoS, as on ROS 2)",
                topic,
                sub.input_name,
            )

    def _enqueue(self, sub: _Subscription, env: Envelope) -> None:
        if sub.queue and len(sub.queue) >= sub.qos.depth:
            sub.queue.popleft()
            if sub.host is not None:
                sub.host.monitor.dropped(sub.input_name, now_ns=self._now_ns)
        sub.queue.append(env)
        self._ready.append(sub)

    def _replay_latched(self, sub: _Subscription) -> None:
        if sub.qos.durability != "transient_local":
            return
        for pub in self._pubs.values():
            if pub.topic == sub.topic:
                for env in pub.latched:
                    self._enqueue(sub, env)

    def _update_tf(self, env: Envelope) -> None:
        try:
            msg = env.message()
            decoded = msg if isinstance(msg, tuple) else codecs.decode(env.msgtype, msg)
            transforms: tuple[TransformStamped, ...] = decoded  # type: ignore[assignment]
            for t in transforms:
                self.tf.set_transform(t, "local", static=env.topic == "/tf_static")
        except PerceptError as err:
            self.logger.warning("%s: TF message ignored: %s", env.topic, err)

    def spin_once(self) -> bool:
        """Run one queued callback; False when nothing was queued."""
        while self._ready:
            sub = self._ready.popleft()
            if not sub.queue:
                continue  # its message was dropped by queue overflow
            env = sub.queue.popleft()
            if sub.callback is not None:
                sub.callback(env)
                return True
            assert sub.host is not None
            try:
                msg = env.message()
            except CodecError as err:
                now = self._now_ns
                sub.host.monitor.received(sub.input_name, now, None)
                sub.host.monitor.rejected(sub.input_name, str(err), now, env.topic)
                return True
            sub.host.deliver(sub.input_name, msg)
            return True
        return False

    def spin_until_idle(self, max_callbacks: int = 1_000_000) -> int:
        """Run callbacks until no queue holds anything; returns how many ran."""
        count = 0
        while count < max_callbacks and self.spin_once():
            count += 1
        return count

    def run_wall_clock(
        self,
        messages: Iterable[FedMessage],
        *,
        speed: float = 1.0,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> WallClockRun:
        """Replay ``messages`` on wall time through one executor thread, as on the robot.

        A message is released when the wall time since the first one reaches its
        receive-time offset divided by ``speed``; the runtime clock follows wall time
        (``first recv_ns + elapsed wall * speed``) and stamps the receive time of what
        is released and published. While a callback runs, messages that fall due wait;
        when a subscription's KEEP_LAST queue is full the oldest is dropped, counted on
        the input's ``dropped`` and raising the node's /diagnostics to WARN. Timers and
        diagnostics fire on this clock. The run ends when every message was released and
        every queue is empty.

        Args:
            messages: external messages in receive-time order.
            speed: playback rate (2.0: twice as fast as recorded).
            clock_ns: monotonic wall clock in nanoseconds (tests pass a fake one).
            sleep: waits this many seconds when nothing is due (tests pass a fake one).

        Raises:
            ValueError: ``speed`` is not positive.
        """
        if speed <= 0:
            msg = f"speed must be > 0, got {speed}"
            raise ValueError(msg)
        run = WallClockRun()
        it = iter(messages)
        pending = next(it, None)
        if pending is None:
            return run
        wall0 = clock_ns()
        bag0 = pending.recv_ns
        last_due = wall0
        self._drain = False
        try:
            while pending is not None or self._ready:
                now_wall = clock_ns()
                self.advance_clock(bag0 + round((now_wall - wall0) * speed))
                while pending is not None:
                    due = wall0 + round((pending.recv_ns - bag0) / speed)
                    if due > now_wall:
                        break
                    run.late_s = max(run.late_s, (now_wall - due) / NS_PER_S)
                    last_due = due
                    # Received now: the executor sees it only when it is free.
                    env = Envelope(
                        pending.topic,
                        pending.msgtype,
                        max(self._now_ns, pending.recv_ns),
                        raw=pending.raw,
                        obj=pending.obj,
                    )
                    self._put(env, None)
                    run.fed += 1
                    pending = next(it, None)
                if self.spin_once():
                    continue
                if pending is not None:
                    wait_ns = wall0 + round((pending.recv_ns - bag0) / speed) - clock_ns()
                    if wait_ns > 0:
                        sleep(wait_ns / NS_PER_S)
        finally:
            self._drain = True
        end = clock_ns()
        run.wall_s = (end - wall0) / NS_PER_S
        run.lag_s = max(0.0, (end - last_due) / NS_PER_S)
        return run

    # -- parameters and diagnostics -------------------------------------------------------
    def host(self, name: str) -> NodeHost:
        """The hosted node called ``name``."""
        for host in self.hosts:
            if host.name == name:
                return host
        msg = f"no node {name!r} in the graph (nodes: {[h.name for h in self.hosts]})"
        raise KeyError(msg)

    def set_parameters(self, node_name: str, values: Mapping[str, object]) -> str | None:
        """``ros2 param set`` for the local runtime; returns the refusal reason or None.

        Raises:
            ConfigError: unknown parameter, wrong type or out of range.
        """
        from percept.runtime.params import validate_values

        host = self.host(node_name)
        checked = validate_values(host.node_cls, values, f"set_parameters {node_name}")
        return host.set_parameters(checked)

    def emit_diagnostics(self) -> None:
        """Publish one DiagnosticArray per node on /diagnostics, now."""
        self._topic_types.setdefault(DIAGNOSTICS_TOPIC, DIAGNOSTIC_ARRAY)
        for host in self.hosts:
            array = DiagnosticArray(Header(self._now_ns, ""), (host.diagnostics(),))
            env = Envelope(DIAGNOSTICS_TOPIC, DIAGNOSTIC_ARRAY, self._now_ns, obj=array)
            self._put(env, None)
        if self._drain:
            self.spin_until_idle()
