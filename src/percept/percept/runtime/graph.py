"""A robot's node graph, resolved once for ``ros2 launch``, ``percept replay``, ``percept graph``.

:func:`robot_graph` turns a loaded robot file into :class:`RobotGraph`: per node its
type, name, namespace, the topics it subscribes to and publishes after remaps (resolved
as rcl resolves them, :func:`percept.runtime.local.resolve_topic`), the remapping pairs
ROS gets, its parameters and OpenCV threads. The launch file builds its ``Node`` actions
from it, :func:`percept.tools.replay.build_runtime` its local runtime, and ``percept
graph`` prints it, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from percept.errors import ConfigError
from percept.runtime.local import resolve_topic
from percept.runtime.params import (
    key_matches,
    load_parameter_file,
    node_fqn,
    resolve_parameters,
    validate_values,
)

if TYPE_CHECKING:
    from percept.node import Node, ParamValue
    from percept.runtime.robot import NodeEntry, RobotConfig

__all__ = [
    "SUBSYSTEMS",
    "GraphNode",
    "RobotGraph",
    "join_namespace",
    "parameter_overrides",
    "robot_graph",
    "topic_remappings",
]

#: Subsystem -> node types it holds; ``enable_<subsystem>:=false`` leaves them out.
SUBSYSTEMS: dict[str, tuple[str, ...]] = {
    "rectify": ("rectify", "stereo_rectify"),
    "depth": ("stereo_depth",),
    "detection": ("detector",),
    "vio": ("vio",),
    "mapping": ("occupancy_map",),
}


def join_namespace(*parts: str) -> str:
    """Join namespaces into one absolute namespace, ``""`` when all are empty.

    >>> join_namespace("", "robot1/", "/camera")
    '/robot1/camera'
    >>> join_namespace("", "")
    ''
    """
    kept = [p.strip("/") for p in parts if p.strip("/")]
    return "/" + "/".join(kept) if kept else ""


def topic_remappings(
    node_cls: type[Node], remaps: Mapping[str, str], node_name: str = ""
) -> list[tuple[str, str]]:
    """ROS remapping pairs for a robot file's ``remappings`` of one node.

    Args:
        node_cls: the node class.
        remaps: ``{input/output name or declared topic: new topic}``.
        node_name: for the error message.

    Returns:
        ``(declared topic, new topic)`` for every input/output whose topic changes.

    Raises:
        ConfigError: a key matches no input/output name or declared topic (the local
            runtime refuses the same remap).

    >>> from percept.nodes.resize import ResizeNode
    >>> topic_remappings(ResizeNode, {"image": "camera/image_color"})
    [('image/image_raw', 'camera/image_color')]
    """
    node_name = node_name or node_cls.NAME
    declared = {i.name: i.topic for i in node_cls.INPUTS} | {
        o.name: o.topic for o in node_cls.OUTPUTS
    }
    unknown = [k for k in remaps if k not in declared and k not in declared.values()]
    if unknown:
        msg = (
            f"node {node_name}: remap keys {unknown} match no input/output "
            f"(declared: {sorted(declared)} with topics {sorted(declared.values())})"
        )
        raise ConfigError(msg)
    pairs: list[tuple[str, str]] = []
    for key, topic in declared.items():
        target = remaps.get(key, remaps.get(topic, topic))
        if target != topic and (topic, target) not in pairs:
            pairs.append((topic, target))
    return pairs


def parameter_overrides(entry: NodeEntry) -> dict[str, ParamValue]:
    """The values a robot file's ``parameters:`` changes beyond defaults and files.

    ``entry.params`` is defaults, then parameter files, then robot-file overrides; what
    differs from defaults + files is what the launch must pass as overrides.
    """
    base = resolve_parameters(entry.node_cls, entry.name, entry.namespace, entry.params_files)
    return {k: v for k, v in entry.params.items() if base.get(k) != v}


@dataclass(frozen=True)
class GraphNode:
    """One node of a robot graph, resolved.

    Attributes:
        entry: the robot file's entry (class, parameter files, robot-file remaps).
        namespace: absolute namespace (launch, robot and node namespaces), ``""``: root.
        subscribes: input name -> resolved topic.
        publishes: output name -> resolved topic.
        remappings: ``(declared topic, new topic)`` pairs ROS gets, in declaration order.
        parameters: every parameter's value (defaults, files, robot file, extra file).
        extra_files: the launch's extra parameter files, applied last.
    """

    entry: NodeEntry
    namespace: str
    subscribes: dict[str, str]
    publishes: dict[str, str]
    remappings: tuple[tuple[str, str], ...]
    parameters: dict[str, ParamValue]
    extra_files: tuple[Path, ...] = ()

    @property
    def node_type(self) -> str:
        """Key of ``percept.nodes.NODE_TYPES``."""
        return self.entry.node_type

    @property
    def node_cls(self) -> type[Node]:
        """The node class."""
        return self.entry.node_cls

    @property
    def name(self) -> str:
        """Node name."""
        return self.entry.name

    @property
    def full_name(self) -> str:
        """Fully qualified node name, ``/stereo/vio``."""
        return f"{self.namespace}/{self.name}"

    @property
    def threads(self) -> int:
        """OpenCV threads (0: OpenCV's default)."""
        return self.entry.threads

    @property
    def msg_types(self) -> dict[str, str]:
        """Resolved topic -> message type of every topic the node uses."""
        types = {self.subscribes[s.name]: s.msg_type for s in self.node_cls.INPUTS}
        types.update({self.publishes[s.name]: s.msg_type for s in self.node_cls.OUTPUTS})
        return types

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (``percept graph --json``)."""
        return {
            "type": self.node_type,
            "name": self.name,
            "full_name": self.full_name,
            "namespace": self.namespace,
            "subscribes": dict(self.subscribes),
            "publishes": dict(self.publishes),
            "msg_types": self.msg_types,
            "remappings": [list(pair) for pair in self.remappings],
            "parameters": dict(self.parameters),
            "params_files": [str(p) for p in (*self.entry.params_files, *self.extra_files)],
            "threads": self.threads,
        }


@dataclass(frozen=True)
class RobotGraph:
    """A robot file's graph as it runs.

    Attributes:
        robot: the robot file.
        namespace: launch namespace (before the robot's own).
        nodes: the nodes that run, in file order.
        left_out: full names of the nodes whose subsystem is disabled.
        disabled: the subsystems disabled, sorted.
        params_file: the extra parameter file applied last.
    """

    robot: RobotConfig
    namespace: str
    nodes: tuple[GraphNode, ...]
    left_out: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    params_file: Path | None = None

    def topics(self) -> dict[str, dict[str, object]]:
        """Resolved topic -> ``{"type", "publishers", "subscribers"}`` (full node names)."""
        out: dict[str, dict[str, object]] = {}
        for node in self.nodes:
            for topic, msgtype in node.msg_types.items():
                out.setdefault(topic, {"type": msgtype, "publishers": [], "subscribers": []})
            for topic in node.publishes.values():
                out[topic]["publishers"].append(node.full_name)  # type: ignore[attr-defined]
            for topic in node.subscribes.values():
                out[topic]["subscribers"].append(node.full_name)  # type: ignore[attr-defined]
        return dict(sorted(out.items()))

    def calibration_dir(self) -> Path | None:
        """The robot's calibration folder.

        The first non-empty ``calibration_dir`` node parameter, else
        ``calibration/<robot>`` beside the robot file's ``config/`` when it exists.
        """
        for node in self.nodes:
            value = node.parameters.get("calibration_dir")
            if isinstance(value, str) and value:
                return Path(value)
        folder = self.robot.path.resolve().parents[2] / "calibration" / self.robot.robot
        return folder if folder.is_dir() else None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (``percept graph --json``)."""
        return {
            "robot": self.robot.robot,
            "file": str(self.robot.path),
            "namespace": join_namespace(self.namespace, self.robot.namespace),
            "nodes": [n.to_dict() for n in self.nodes],
            "left_out": list(self.left_out),
            "disabled": list(self.disabled),
            "params_file": None if self.params_file is None else str(self.params_file),
            "topics": self.topics(),
        }


def robot_graph(
    robot: RobotConfig,
    *,
    namespace: str = "",
    disabled: Collection[str] = (),
    params_file: Path | None = None,
) -> RobotGraph:
    """Resolve a robot's graph as launch and replay run it.

    Args:
        robot: the loaded robot file (``percept.runtime.robot.load_robot``).
        namespace: launch namespace, prefixed to the robot's and each node's.
        disabled: subsystems (keys of :data:`SUBSYSTEMS`) whose nodes are left out.
        params_file: an extra ROS 2 parameter file applied after the robot's; checked
            with Percept's rules for every node.

    Raises:
        ConfigError: an unknown subsystem, a remap key matching nothing, or a bad value
            in the extra parameter file.
    """
    unknown = sorted(set(disabled) - SUBSYSTEMS.keys())
    if unknown:
        msg = f"unknown subsystems {unknown}; expected some of {sorted(SUBSYSTEMS)}"
        raise ConfigError(msg)
    left_types = {t for s in disabled for t in SUBSYSTEMS[s]}
    extra = (params_file,) if params_file is not None else ()
    nodes: list[GraphNode] = []
    left_out: list[str] = []
    for entry in robot.nodes:
        ns = join_namespace(namespace, robot.namespace, entry.namespace)
        if entry.node_type in left_types:
            left_out.append(f"{ns}/{entry.name}")
            continue
        remaps = entry.remappings
        topic_remappings(entry.node_cls, remaps, entry.name)  # refuses unknown keys
        declared = {s.name: s.topic for s in entry.node_cls.INPUTS}
        declared.update({s.name: s.topic for s in entry.node_cls.OUTPUTS})
        topics = {
            key: resolve_topic(remaps.get(key, remaps.get(topic, topic)), ns, entry.name)
            for key, topic in declared.items()
        }
        params = dict(entry.params)
        for path in extra:  # as rclpy: every matching block, in file order
            for key, block in load_parameter_file(path).items():
                if key_matches(key, node_fqn(entry.name, ns)):
                    where = f"{path}: {key}.ros__parameters"
                    params.update(validate_values(entry.node_cls, block, where))
        nodes.append(
            GraphNode(
                entry=entry,
                namespace=ns,
                subscribes={s.name: topics[s.name] for s in entry.node_cls.INPUTS},
                publishes={s.name: topics[s.name] for s in entry.node_cls.OUTPUTS},
                remappings=tuple(topic_remappings(entry.node_cls, remaps, entry.name)),
                parameters=params,
                extra_files=extra,
            )
        )
    return RobotGraph(
        robot, namespace, tuple(nodes), tuple(left_out), tuple(sorted(set(disabled))), params_file
    )
