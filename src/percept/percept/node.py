"""The node model: what a Percept node declares and how it is called.

A node class declares its inputs, outputs, time-synchronised input groups, timers and
parameters as class attributes, and implements callbacks on decoded domain objects
(``percept.domain``). It never sees a ROS message, a transport or rclpy: a runtime
(``percept.runtime`` locally, ``percept_ros`` on ROS 2) wires it to topics.

Callbacks:
    * an input that is in no ``Sync`` group calls ``on_<input name>(obj)``;
    * a ``Sync`` group calls its ``callback`` with one object per input, in order;
    * a ``Timer`` calls its ``callback`` with no argument.

A callback returns ``None`` or a mapping ``{output name: domain object}`` (a list value
publishes several messages in order); ``context.publish`` does the same from anywhere.
A callback raises ``InputRejected`` for input it cannot use; the runtime counts and logs
it and the node carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeAlias, TypeVar

from percept.errors import ConfigError
from percept.params import (
    Parameter,
    ParamType,
    ParamValue,
    read_bool,
    read_float,
    read_int,
    read_str,
)

if TYPE_CHECKING:
    from percept.geometry.pose import Pose

__all__ = [
    "LATCHED",
    "RELIABLE",
    "SENSOR_DATA",
    "Input",
    "Node",
    "NodeContext",
    "Output",
    "ParamType",
    "ParamValue",
    "Parameter",
    "QosProfile",
    "Sync",
    "Timer",
]


@dataclass(frozen=True, slots=True)
class QosProfile:
    """The parts of a ROS 2 QoS profile that a node chooses.

    Attributes:
        reliability: ``reliable`` or ``best_effort``.
        durability: ``volatile`` or ``transient_local`` (latched).
        depth: history depth (KEEP_LAST); also the local runtime's queue depth.
    """

    reliability: Literal["reliable", "best_effort"] = "reliable"
    durability: Literal["volatile", "transient_local"] = "volatile"
    depth: int = 10

    def __post_init__(self) -> None:
        if self.depth < 1:
            msg = f"QoS depth must be >= 1, got {self.depth}"
            raise ValueError(msg)


# rclpy.qos.qos_profile_sensor_data: best effort, volatile, depth 5.
SENSOR_DATA = QosProfile("best_effort", "volatile", 5)
RELIABLE = QosProfile("reliable", "volatile", 10)
# Maps, static TF: late subscribers get the last message.
LATCHED = QosProfile("reliable", "transient_local", 1)


@dataclass(frozen=True, slots=True)
class Input:
    """A subscription.

    Attributes:
        name: the node-local name, used for the callback (``on_<name>``) and remaps.
        topic: default topic, relative (``left/image_raw``) so a namespace places it.
        msg_type: ROS type name, ``sensor_msgs/msg/Image``.
        qos: QoS of the subscription; sensor streams use ``SENSOR_DATA``.
        description: one line for README and ``--help``.
    """

    name: str
    topic: str
    msg_type: str
    qos: QosProfile = RELIABLE
    description: str = ""


@dataclass(frozen=True, slots=True)
class Output:
    """A publisher (same fields as ``Input``)."""

    name: str
    topic: str
    msg_type: str
    qos: QosProfile = RELIABLE
    description: str = ""


@dataclass(frozen=True, slots=True)
class Sync:
    """A group of inputs delivered together when their header stamps match.

    Semantics are those of message_filters' ``TimeSynchronizer`` (exact) and
    ``ApproximateTimeSynchronizer`` (approximate); see ``percept.sync``.

    Attributes:
        inputs: input names, in the order the callback takes them.
        callback: method name called with one decoded object per input.
        approximate: ApproximateTime policy when True, ExactTime when False.
        slop_s: largest stamp spread of a set, seconds (approximate only).
        queue_size: messages kept per input while waiting for a match.
        approximate_param: name of a bool parameter that overrides ``approximate``.
        slop_param: name of a double parameter (seconds) that overrides ``slop_s``.
        queue_size_param: name of an integer parameter that overrides ``queue_size``.
    """

    inputs: tuple[str, ...]
    callback: str
    approximate: bool = False
    slop_s: float = 0.0
    queue_size: int = 10
    approximate_param: str | None = None
    slop_param: str | None = None
    queue_size_param: str | None = None

    def resolve(self, params: Mapping[str, ParamValue]) -> tuple[bool, int, int]:
        """(approximate, slop_ns, queue_size) with parameter overrides applied."""
        approximate = self.approximate
        slop_s = self.slop_s
        queue_size = self.queue_size
        if self.approximate_param is not None:
            approximate = bool(params[self.approximate_param])
        if self.slop_param is not None:
            slop_s = float(params[self.slop_param])  # type: ignore[arg-type]
        if self.queue_size_param is not None:
            value = params[self.queue_size_param]
            queue_size = value if isinstance(value, int) else self.queue_size
        return approximate, round(slop_s * 1e9), queue_size


@dataclass(frozen=True, slots=True)
class Timer:
    """A periodic callback driven by the runtime's clock (message time in replay)."""

    period_s: float
    callback: str


class NodeContext(Protocol):
    """What a runtime gives a node: clock, logger, TF and publishing."""

    @property
    def logger(self) -> logging.Logger:
        """The node's logger (rclpy's logger on ROS 2)."""
        ...

    def now_ns(self) -> int:
        """Current time of the runtime's clock (message time in replay), nanoseconds."""
        ...

    def lookup_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> Pose:
        """``T_target_source`` at ``stamp_ns`` (0: latest); raises ``TransformError``."""
        ...

    def publish(self, output: str, obj: object) -> None:
        """Publish a domain object on a declared output."""
        ...


OutputMap: TypeAlias = Mapping[str, object]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_SpecT = TypeVar("_SpecT", bound=_Named)


def _declared(specs: tuple[_SpecT, ...], name: str, missing: str) -> _SpecT:
    """The declaration called ``name``; KeyError ``"<missing> '<name>'"`` when there is none."""
    for spec in specs:
        if spec.name == name:
            return spec
    msg = f"{missing} {name!r}"
    raise KeyError(msg)


class Node:
    """Base class of every Percept node.

    Subclasses set the class attributes and implement the callbacks they declare.
    """

    #: Default node name (ROS node name and parameter-file key).
    NAME: ClassVar[str] = ""
    #: One-line summary, used in README tables and console-script help.
    DESCRIPTION: ClassVar[str] = ""
    INPUTS: ClassVar[tuple[Input, ...]] = ()
    OUTPUTS: ClassVar[tuple[Output, ...]] = ()
    SYNCS: ClassVar[tuple[Sync, ...]] = ()
    TIMERS: ClassVar[tuple[Timer, ...]] = ()
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = ()

    def __init__(self, context: NodeContext, params: Mapping[str, ParamValue]) -> None:
        """Create the node with validated parameter values (defaults filled in)."""
        self.ctx = context
        self.params: dict[str, ParamValue] = dict(params)
        self.setup()

    # -- typed parameter access --------------------------------------------------------
    def param_bool(self, name: str) -> bool:
        """Current value of a bool parameter."""
        return read_bool(self.params, name)

    def param_int(self, name: str) -> int:
        """Current value of an integer parameter."""
        return read_int(self.params, name)

    def param_float(self, name: str) -> float:
        """Current value of a double parameter."""
        return read_float(self.params, name)

    def param_str(self, name: str) -> str:
        """Current value of a string parameter."""
        return read_str(self.params, name)

    # -- hooks -----------------------------------------------------------------------
    def setup(self) -> None:
        """Called once after construction; allocate state from ``self.params`` here."""

    def on_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        """Accept (return None) or refuse (return the reason) a run-time change.

        The default accepts and stores the values, then calls ``setup`` again so that
        state derived from parameters is rebuilt.
        """
        self.params.update(changed)
        self.setup()
        return None

    def diagnostic_values(self) -> list[tuple[str, str]]:
        """Extra key/values for this node's /diagnostics status."""
        return []

    def diagnostic_summary(self) -> tuple[int, str] | None:
        """The node's own health: (``DiagnosticLevel``, message), or None when fine.

        A level above the runtime's own (input and callback counters) sets the status,
        e.g. ERROR "model_path not set" for a node that cannot work until configured.
        """
        return None

    # -- declarations ----------------------------------------------------------------
    @classmethod
    def input(cls, name: str) -> Input:
        """The declared input called ``name``."""
        return _declared(cls.INPUTS, name, f"{cls.__name__} has no input")

    @classmethod
    def output(cls, name: str) -> Output:
        """The declared output called ``name``."""
        return _declared(cls.OUTPUTS, name, f"{cls.__name__} has no output")

    @classmethod
    def parameter(cls, name: str) -> Parameter:
        """The declared parameter called ``name``."""
        return _declared(cls.PARAMETERS, name, f"{cls.__name__} has no parameter")

    @classmethod
    def sync_of(cls, input_name: str) -> Sync | None:
        """The Sync group an input belongs to, if any."""
        for group in cls.SYNCS:
            if input_name in group.inputs:
                return group
        return None

    @classmethod
    def validate_declarations(cls) -> None:
        """Check that the declarations are consistent; raise ConfigError otherwise."""
        where = f"node class {cls.__module__}.{cls.__qualname__}"
        if not cls.NAME:
            msg = f"{where}: NAME must be set"
            raise ConfigError(msg)
        names = [i.name for i in cls.INPUTS]
        for label, items in (
            ("input", names),
            ("output", [o.name for o in cls.OUTPUTS]),
            ("parameter", [p.name for p in cls.PARAMETERS]),
        ):
            dupes = sorted({n for n in items if items.count(n) > 1})
            if dupes:
                msg = f"{where}: duplicate {label} names {dupes}"
                raise ConfigError(msg)
        seen: set[str] = set()
        for group in cls.SYNCS:
            for name in group.inputs:
                if name not in names:
                    msg = f"{where}: Sync names unknown input {name!r}"
                    raise ConfigError(msg)
                if name in seen:
                    msg = f"{where}: input {name!r} is in two Sync groups"
                    raise ConfigError(msg)
                seen.add(name)
            _require_method(cls, group.callback, where)
            for pname in (group.approximate_param, group.slop_param, group.queue_size_param):
                if pname is not None:
                    cls.parameter(pname)
        for name in names:
            if name not in seen:
                _require_method(cls, f"on_{name}", where)
        for timer in cls.TIMERS:
            _require_method(cls, timer.callback, where)
            if timer.period_s <= 0:
                msg = f"{where}: timer {timer.callback} period_s must be > 0"
                raise ConfigError(msg)


def _require_method(cls: type, name: str, where: str) -> None:
    if not callable(getattr(cls, name, None)):
        msg = f"{where}: callback method {name}() is declared but not defined"
        raise ConfigError(msg)
