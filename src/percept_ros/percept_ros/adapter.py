"""The one generic rclpy adapter: any Percept node class as a ROS 2 node.

``PerceptRosNode(node_cls)`` declares the node's parameters with descriptors, creates
its publishers and subscriptions with the declared QoS (relative topic names, so launch
namespaces and remappings place them as rcl resolves them), synchronises input groups
with message_filters, looks transforms up in tf2 and publishes /diagnostics once a
second. Everything the node does with a message goes through the same
:class:`percept.runtime.host.NodeHost` as the local runtime, so decoding, input checks,
error containment and diagnostics are identical on a robot and in replay.

This module is the only place (with :mod:`percept_ros.scripts` calling it) that imports
rclpy, message_filters and tf2_ros; importing it without a sourced ROS 2 raises an
ImportError that says so.
"""

from __future__ import annotations

import array
import functools
import importlib
import importlib.util
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import DiagnosticArray, Header
from percept.errors import CodecError, ConfigError, PerceptError, TransformError
from percept.nodes import load_node_class
from percept.runtime.host import NodeHost
from percept.runtime.params import validate_values

try:
    import message_filters
    import rclpy
    import tf2_ros
    from rcl_interfaces.msg import (
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        ParameterType,
        SetParametersResult,
    )
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.node import Node as RosNode
    from rclpy.parameter import Parameter as RosParameter
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.time import Time
except ImportError as _err:
    # Name rclpy when it is the one missing: that is what "source ROS 2" fixes.
    _missing = "rclpy" if importlib.util.find_spec("rclpy") is None else _err.name
    raise ImportError(
        f"percept_ros needs ROS 2 (rclpy) — source /opt/ros/<distro>/setup.bash "
        f"(humble, jazzy) and the workspace's install/setup.bash first; missing module: "
        f"{_missing or _err}",
        name=_missing,
    ) from _err

if TYPE_CHECKING:
    from percept.geometry.pose import Pose
    from percept.node import Node, Parameter, ParamValue, QosProfile

__all__ = ["PerceptRosNode", "RclpyMessageFactory", "RosLogHandler", "run", "to_ros_qos"]

DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0
_TF_MESSAGE = "tf2_msgs/msg/TFMessage"
_DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
_TF_STATIC = "/tf_static"

_ROS_PARAM_TYPES: dict[str, int] = {
    "bool": ParameterType.PARAMETER_BOOL,
    "integer": ParameterType.PARAMETER_INTEGER,
    "double": ParameterType.PARAMETER_DOUBLE,
    "string": ParameterType.PARAMETER_STRING,
    "bool_array": ParameterType.PARAMETER_BOOL_ARRAY,
    "integer_array": ParameterType.PARAMETER_INTEGER_ARRAY,
    "double_array": ParameterType.PARAMETER_DOUBLE_ARRAY,
    "string_array": ParameterType.PARAMETER_STRING_ARRAY,
}
_ROS_PARAM_ENUM: dict[str, RosParameter.Type] = {
    "bool_array": RosParameter.Type.BOOL_ARRAY,
    "integer_array": RosParameter.Type.INTEGER_ARRAY,
    "double_array": RosParameter.Type.DOUBLE_ARRAY,
    "string_array": RosParameter.Type.STRING_ARRAY,
}
# rcl_interfaces range bounds are float64/int64 fields; the generated setters refuse inf.
_DOUBLE_MAX = sys.float_info.max
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# ----------------------------------------------------------------------------- messages


class RclpyMessageFactory:
    """:class:`percept.codecs.MessageFactory` building rclpy message objects.

    Classes are imported by type name (``sensor_msgs/msg/Image`` ->
    ``sensor_msgs.msg.Image``) and cached. Array fields get the types the generated
    setters accept without checking element by element: ``array.array`` for ``uint8[]``,
    ``int8[]`` and ``float64[]``, numpy float64 for fixed ``float64[N]``.
    """

    def __init__(self) -> None:
        """Create a factory with an empty class cache."""
        self._classes: dict[str, type] = {}

    def message_class(self, msgtype: str) -> type:
        """The rclpy class of ``msgtype`` (``pkg/msg/Name``).

        Raises:
            CodecError: malformed name or the interface package is not installed.
        """
        cls = self._classes.get(msgtype)
        if cls is not None:
            return cls
        parts = msgtype.split("/")
        if len(parts) != 3 or not all(parts):
            msg = f"{msgtype!r}: expected a ROS 2 type name like 'sensor_msgs/msg/Image'"
            raise CodecError(msg)
        package, kind, name = parts
        try:
            found = getattr(importlib.import_module(f"{package}.{kind}"), name)
        except (ImportError, AttributeError) as err:
            msg = f"{msgtype}: message class not found; is the {package} package installed?"
            raise CodecError(msg) from err
        if not isinstance(found, type):
            msg = f"{msgtype}: {package}.{kind}.{name} is not a message class"
            raise CodecError(msg)
        self._classes[msgtype] = found
        return found

    def new(self, msgtype: str, /, **fields: object) -> object:
        """Build a message of ``msgtype`` from its fields.

        Raises:
            CodecError: unknown type or a field the generated class refuses.
        """
        cls = self.message_class(msgtype)
        # Jazzy's generated __init__ copies array fields (array.array('B', value)) before
        # the setter sees them; assigning after construction skips that copy, and the
        # setter keeps an array.array of the right typecode as it is.
        arrays = {k: v for k, v in fields.items() if isinstance(v, array.array)}
        try:
            out = cls(**{k: v for k, v in fields.items() if k not in arrays})
            for name, value in arrays.items():
                setattr(out, name, value)
        except (AssertionError, TypeError, ValueError, AttributeError) as err:
            msg = f"{msgtype}: cannot build message from fields {sorted(fields)}: {err}"
            raise CodecError(msg) from err
        return out

    def uint8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        """``uint8[]`` value: ``array.array('B')`` with the bytes of ``buf`` (one copy)."""
        out = array.array("B")
        out.frombytes(_as_bytes(buf))
        return out

    def int8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        """``int8[]`` value: ``array.array('b')`` with the bytes of ``buf``."""
        out = array.array("b")
        out.frombytes(_as_bytes(buf))
        return out

    def float_array(self, values: npt.NDArray[np.float64], /, *, fixed: bool) -> object:
        """``float64[N]`` (numpy, as rclpy stores them) or ``float64[]`` (``array('d')``)."""
        flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if fixed:
            return flat
        out = array.array("d")
        out.frombytes(flat.view(np.uint8).data)
        return out

    def byte(self, value: int, /) -> object:
        """ROS ``byte`` value: ``bytes`` of length 1."""
        return bytes((value,))


def _as_bytes(buf: bytes | memoryview | npt.NDArray[np.generic]) -> memoryview | bytes:
    if isinstance(buf, np.ndarray):
        return np.ascontiguousarray(buf).reshape(-1).view(np.uint8).data
    if isinstance(buf, memoryview):
        return buf.cast("B") if buf.c_contiguous else buf.tobytes()
    return buf


# ---------------------------------------------------------------------- QoS and logging


def to_ros_qos(qos: QosProfile) -> QoSProfile:
    """The rclpy QoSProfile of a Percept QosProfile (KEEP_LAST ``depth``)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=(
            ReliabilityPolicy.BEST_EFFORT
            if qos.reliability == "best_effort"
            else ReliabilityPolicy.RELIABLE
        ),
        durability=(
            DurabilityPolicy.TRANSIENT_LOCAL
            if qos.durability == "transient_local"
            else DurabilityPolicy.VOLATILE
        ),
    )


class RosLogHandler(logging.Handler):
    """Forwards ``logging`` records to an rclpy node logger at the matching severity.

    Args:
        ros_logger: ``node.get_logger()``; it applies ``--log-level`` itself.
    """

    def __init__(self, ros_logger: object) -> None:
        """Wrap ``ros_logger``."""
        super().__init__(logging.DEBUG)
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record."""
        try:
            text = self.format(record)
            level = record.levelno
            if level >= logging.CRITICAL:
                self.ros_logger.fatal(text)  # type: ignore[attr-defined]
            elif level >= logging.ERROR:
                self.ros_logger.error(text)  # type: ignore[attr-defined]
            elif level >= logging.WARNING:
                self.ros_logger.warning(text)  # type: ignore[attr-defined]
            elif level >= logging.INFO:
                self.ros_logger.info(text)  # type: ignore[attr-defined]
            else:
                self.ros_logger.debug(text)  # type: ignore[attr-defined]
        except Exception:  # logging must never take the node down
            self.handleError(record)


# ----------------------------------------------------------------------------- parameters


def _descriptor(spec: Parameter) -> ParameterDescriptor:
    """ParameterDescriptor of a declared parameter: type, description, range, choices."""
    desc = ParameterDescriptor(
        name=spec.name,
        type=_ROS_PARAM_TYPES[spec.type],
        description=spec.description,
        read_only=spec.read_only,
    )
    base = spec.type.removesuffix("_array")
    bounded = spec.min_value is not None or spec.max_value is not None
    if bounded and base == "double":
        lo = -_DOUBLE_MAX if spec.min_value is None else float(spec.min_value)
        hi = _DOUBLE_MAX if spec.max_value is None else float(spec.max_value)
        desc.floating_point_range = [FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]
    elif bounded and base == "integer":
        lo_i = _INT64_MIN if spec.min_value is None else int(spec.min_value)
        hi_i = _INT64_MAX if spec.max_value is None else int(spec.max_value)
        desc.integer_range = [IntegerRange(from_value=lo_i, to_value=hi_i, step=0)]
    if spec.choices:
        desc.additional_constraints = f"one of {list(spec.choices)}"
    return desc


def _python_value(value: object) -> object:
    """A parameter value as Percept checks it: arrays (array.array, tuple) become lists."""
    if isinstance(value, array.array | tuple | list | np.ndarray):
        return [v.item() if isinstance(v, np.generic) else v for v in value]
    return value


# ----------------------------------------------------------------------------- the node


class PerceptRosNode(RosNode):  # type: ignore[misc]  # rclpy ships no stubs
    """An rclpy node running one Percept node class through a NodeHost.

    Args:
        node_cls: the Percept node class.
        node_name: ROS node name, default ``node_cls.NAME`` (launch renames with
            ``__node:=``).
        **kwargs: passed to ``rclpy.node.Node`` (``namespace``, ``context``,
            ``parameter_overrides``, ``cli_args``...).

    Raises:
        ConfigError: a parameter override is unknown, mistyped or out of range; the
            message reads as the local runtime's.
    """

    def __init__(
        self, node_cls: type[Node], node_name: str | None = None, **kwargs: object
    ) -> None:
        """Declare parameters, create the host, then wire topics, timers and TF."""
        super().__init__(node_name or node_cls.NAME, **kwargs)
        node_cls.validate_declarations()
        self.node_cls = node_cls
        self.factory = RclpyMessageFactory()
        params = self._declare_parameters()

        self.tf_buffer = tf2_ros.Buffer()
        self.tf_listener = tf2_ros.TransformListener(self.tf_buffer, self)

        topics = {i.name: self._resolve(i.topic) for i in node_cls.INPUTS} | {
            o.name: self._resolve(o.topic) for o in node_cls.OUTPUTS
        }
        self.percept_logger = self._make_logger()
        self._percept_publishers: dict[str, object] = {}
        self._static_tf: dict[str, tf2_ros.StaticTransformBroadcaster] = {}
        self._msg_classes: dict[str, type] = {}
        self.host = NodeHost(
            node_cls, self.get_name(), params, self, self.percept_logger, topics, local_sync=False
        )
        self._create_outputs()
        self._sync_relays: list[list[message_filters.SimpleFilter]] = []
        self._synchronizers: list[object] = []
        self._sync_subscribers: list[message_filters.Subscriber] = []
        self._plain_subscriptions: list[object] = []
        self._create_inputs()
        self._percept_timers = [
            self.create_timer(timer.period_s, functools.partial(self.host.fire_timer, index))
            for index, timer in enumerate(node_cls.TIMERS)
        ]
        self._diagnostics_pub = self.create_publisher(
            self.factory.message_class(_DIAGNOSTIC_ARRAY), DIAGNOSTICS_TOPIC, 10
        )
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self.publish_diagnostics)
        # Registered last: rclpy also runs these callbacks for declare_parameter.
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # -- set-up ------------------------------------------------------------------------
    def _resolve(self, topic: str) -> str:
        resolve = getattr(self, "resolve_topic_name", None)  # rclpy >= Humble
        return str(resolve(topic)) if resolve is not None else topic

    def _make_logger(self) -> logging.Logger:
        logger = logging.getLogger(f"percept_ros.{self.get_fully_qualified_name()}")
        logger.handlers.clear()
        logger.addHandler(RosLogHandler(self.get_logger()))
        logger.setLevel(logging.DEBUG)  # rclpy's --log-level filters
        logger.propagate = False
        return logger

    def _declare_parameters(self) -> dict[str, ParamValue]:
        """Validate the ROS overrides with Percept's checks, then declare every parameter."""
        declared = {p.name for p in self.node_cls.PARAMETERS}
        # rclpy keeps the --params-file / -p values it was started with here; there is
        # no public accessor before a parameter is declared.
        overrides: Mapping[str, RosParameter] = getattr(self, "_parameter_overrides", {})
        ours: dict[str, object] = {}
        for name, param in overrides.items():
            if name in declared:
                ours[name] = _python_value(param.value)
            elif not (name.startswith("qos_overrides.") or self.has_parameter(name)):
                ours[name] = _python_value(param.value)  # unknown: validate_values refuses it
        where = f"parameter overrides of {self.get_fully_qualified_name()}"
        values: dict[str, ParamValue] = {p.name: p.default for p in self.node_cls.PARAMETERS}
        values.update(validate_values(self.node_cls, ours, where))
        for spec in self.node_cls.PARAMETERS:
            value = values[spec.name]
            if isinstance(value, list) and not value:
                # rclpy infers BYTE_ARRAY from [], so declare the type and leave it unset.
                self.declare_parameter(
                    spec.name, _ROS_PARAM_ENUM[spec.type], _descriptor(spec), ignore_override=True
                )
            else:
                self.declare_parameter(spec.name, value, _descriptor(spec), ignore_override=True)
        return values

    def _create_outputs(self) -> None:
        for spec in self.node_cls.OUTPUTS:
            self._msg_classes[spec.name] = self.factory.message_class(spec.msg_type)
            if spec.msg_type == _TF_MESSAGE and self._resolve(spec.topic) == _TF_STATIC:
                # Static TF accumulates frames and latches them, as tf2's broadcaster does.
                self._static_tf[spec.name] = tf2_ros.StaticTransformBroadcaster(self)
                continue
            self._percept_publishers[spec.name] = self.create_publisher(
                self._msg_classes[spec.name], spec.topic, to_ros_qos(spec.qos)
            )

    def _create_inputs(self) -> None:
        for spec in self.node_cls.INPUTS:
            if self.node_cls.sync_of(spec.name) is None:
                self._plain_subscriptions.append(
                    self.create_subscription(
                        self.factory.message_class(spec.msg_type),
                        spec.topic,
                        functools.partial(self.host.deliver, spec.name),
                        to_ros_qos(spec.qos),
                    )
                )
        for gi, group in enumerate(self.node_cls.SYNCS):
            self._sync_relays.append([])
            for pos, input_name in enumerate(group.inputs):
                spec = self.node_cls.input(input_name)
                sub = message_filters.Subscriber(
                    self,
                    self.factory.message_class(spec.msg_type),
                    spec.topic,
                    qos_profile=to_ros_qos(spec.qos),
                )
                sub.registerCallback(self._relay, gi, pos)
                self._sync_subscribers.append(sub)
        self._build_synchronizers()

    def _build_synchronizers(self) -> None:
        """(Re)build one message_filters synchroniser per Sync group.

        Subscriptions stay; each group's subscribers feed relay filters, and a rebuild
        swaps relays and synchroniser, so queued messages of the old settings are dropped.
        """
        self._synchronizers = []
        for gi, group in enumerate(self.node_cls.SYNCS):
            approximate, slop_ns, queue_size = self.host.sync_settings(gi)
            relays = [message_filters.SimpleFilter() for _ in group.inputs]
            sync: message_filters.TimeSynchronizer
            if approximate:
                sync = message_filters.ApproximateTimeSynchronizer(
                    relays, queue_size, slop_ns / 1e9
                )
            else:
                sync = message_filters.TimeSynchronizer(relays, queue_size)
            sync.registerCallback(self._on_synced, gi)
            self._sync_relays[gi] = relays
            self._synchronizers.append(sync)

    def _relay(self, msg: object, group_index: int, position: int) -> None:
        self._sync_relays[group_index][position].signalMessage(msg)

    def _on_synced(self, *args: object) -> None:
        group_index = args[-1]
        assert isinstance(group_index, int)
        self.host.deliver_set(group_index, tuple(args[:-1]))

    # -- parameters ---------------------------------------------------------------------
    def _on_set_parameters(self, parameters: Sequence[RosParameter]) -> SetParametersResult:
        """``ros2 param set``: Percept's checks, then the node's own acceptance."""
        declared = {p.name for p in self.node_cls.PARAMETERS}
        changed = {p.name: _python_value(p.value) for p in parameters if p.name in declared}
        if not changed:
            return SetParametersResult(successful=True)
        try:
            checked = validate_values(
                self.node_cls, changed, f"set_parameters {self.get_fully_qualified_name()}"
            )
        except ConfigError as err:
            return SetParametersResult(successful=False, reason=str(err))
        reason = self.host.set_parameters(checked)
        if reason is not None:
            return SetParametersResult(successful=False, reason=reason)
        sync_params = {
            name
            for group in self.node_cls.SYNCS
            for name in (group.approximate_param, group.slop_param, group.queue_size_param)
            if name is not None
        }
        if sync_params & set(checked):
            self._build_synchronizers()
        return SetParametersResult(successful=True)

    # -- HostServices -------------------------------------------------------------------
    def now_ns(self) -> int:
        """The node clock (``/clock`` when ``use_sim_time`` is true), nanoseconds."""
        return int(self.get_clock().now().nanoseconds)

    def lookup_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> Pose:
        """``T_target_source`` at ``stamp_ns`` (0: latest) from tf2.

        Raises:
            TransformError: tf2 cannot give the transform (unknown frame, extrapolation).
        """
        try:
            msg = self.tf_buffer.lookup_transform(
                target_frame, source_frame, Time(nanoseconds=stamp_ns)
            )
        except tf2_ros.TransformException as err:
            text = f"{target_frame} <- {source_frame} at {stamp_ns} ns: {err}"
            raise TransformError(text) from err
        transform = codecs.decode("geometry_msgs/msg/TransformStamped", msg)
        return transform.transform  # type: ignore[attr-defined,no-any-return]

    def publish(self, host: NodeHost, output: str, obj: object) -> None:
        """Encode a domain object and publish it; failures are counted, never raised."""
        spec = self.node_cls.output(output)
        try:
            cls = self._msg_classes[output]
            msg = obj if isinstance(obj, cls) else codecs.encode(spec.msg_type, obj, self.factory)
            static = self._static_tf.get(output)
            if static is not None:
                static.sendTransform(list(msg.transforms))  # type: ignore[attr-defined]
            else:
                self._percept_publishers[output].publish(msg)  # type: ignore[attr-defined]
        except PerceptError as err:
            host.monitor.failed(f"{host.name}.publish({output})", err, self.now_ns())
        except Exception as err:  # an encoder or rmw error must not kill the node
            host.monitor.failed(f"{host.name}.publish({output})", err, self.now_ns())

    def publish_diagnostics(self) -> None:
        """Publish the node's DiagnosticArray on /diagnostics."""
        now = self.now_ns()
        array_ = DiagnosticArray(Header(now, ""), (self.host.diagnostics(),))
        try:
            self._diagnostics_pub.publish(codecs.encode(_DIAGNOSTIC_ARRAY, array_, self.factory))
        except PerceptError as err:
            self.host.monitor.failed(f"{self.host.name}.diagnostics", err, now)


# -------------------------------------------------------------------------------- main


def run(node_type: str, args: list[str] | None = None) -> int:
    """Run one node type as a ROS 2 process until shutdown.

    Args:
        node_type: a key of ``percept.nodes.NODE_TYPES``.
        args: command line for ``rclpy.init`` (default ``sys.argv``).

    Returns:
        Process exit status: 0, or 1 after a one-line configuration error.
    """
    rclpy.init(args=args)
    node: PerceptRosNode | None = None
    try:
        node = PerceptRosNode(load_node_class(node_type))
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except PerceptError as err:
        rclpy.logging.get_logger(f"percept_{node_type}").fatal(str(err))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # A second Ctrl-C (a terminal and ros2 launch both forward SIGINT) must not
        # turn a clean shutdown into a traceback.
        try:
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
        except KeyboardInterrupt:
            pass
    return 0
