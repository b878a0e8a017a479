"""Robot file -> launch_ros ``Node`` actions, resolved as the local runtime resolves them.

The pure part (:func:`plan_nodes` and its helpers) turns a
:class:`percept.runtime.robot.RobotConfig` into :class:`NodeLaunch` records and needs no
ROS; :func:`launch_nodes` imports launch_ros only when it is called, from the launch
file. Remaps use the local runtime's rules: a key names an input/output or its declared
topic, the value is a topic resolved against the node's namespace (rcl expands a relative
remap target the same way), and a key that matches nothing is a configuration error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from percept.errors import ConfigError
from percept.runtime.params import resolve_parameters

if TYPE_CHECKING:
    from percept.node import Node, ParamValue
    from percept.runtime.robot import NodeEntry, RobotConfig

__all__ = [
    "LOG_LEVELS",
    "PACKAGE",
    "THREADS_ENV",
    "NodeLaunch",
    "join_namespace",
    "launch_nodes",
    "node_parameters",
    "parameter_overrides",
    "plan_nodes",
    "topic_remappings",
]

PACKAGE = "percept_ros"
#: Environment variable the console scripts read for cv2.setNumThreads
#: (``percept_ros.scripts.THREADS_ENV``; repeated here so planning imports no ROS code).
THREADS_ENV = "PERCEPT_THREADS"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")

ParameterEntry = str | dict[str, "ParamValue"]


@dataclass(frozen=True)
class NodeLaunch:
    """Everything ``launch_ros.actions.Node`` needs for one graph node.

    Attributes:
        executable: ``percept_<type>`` console script of the ``percept_ros`` package.
        name: node name.
        namespace: absolute namespace (``/camera``), ``""`` for the root.
        parameters: parameter files (paths, in order) then a dict of overrides.
        remappings: ``(declared topic, new topic)`` pairs, in declaration order.
        arguments: extra command-line arguments (``--ros-args --log-level info``).
        env: extra environment (``PERCEPT_THREADS``).
    """

    executable: str
    name: str
    namespace: str
    parameters: tuple[ParameterEntry, ...]
    remappings: tuple[tuple[str, str], ...]
    arguments: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


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


def node_parameters(
    entry: NodeEntry,
    *,
    use_sim_time: bool = False,
    extra_files: Sequence[Path] = (),
    namespace: str = "",
) -> list[ParameterEntry]:
    """``parameters=`` of one node: its files, its overrides (with use_sim_time), extras.

    Extra files (the launch ``params_file``) come last so they win, and are checked now
    with Percept's rules so a bad value fails the launch instead of one node.

    Raises:
        ConfigError: an extra file is unreadable or has a bad value for this node.
    """
    overrides: dict[str, ParamValue] = dict(parameter_overrides(entry))
    overrides["use_sim_time"] = use_sim_time
    if extra_files:
        resolve_parameters(
            entry.node_cls, entry.name, namespace or entry.namespace, tuple(extra_files)
        )
    return [*(str(p) for p in entry.params_files), overrides, *(str(p) for p in extra_files)]


def plan_nodes(
    robot: RobotConfig,
    *,
    namespace: str = "",
    use_sim_time: bool = False,
    log_level: str = "info",
    params_file: Path | None = None,
) -> list[NodeLaunch]:
    """One :class:`NodeLaunch` per node of the robot graph.

    Args:
        robot: the loaded robot file.
        namespace: launch namespace, prefixed to the robot's and each node's.
        use_sim_time: run the nodes on ``/clock``.
        log_level: ``--log-level`` of every node.
        params_file: an extra ROS 2 parameter file applied after the robot's.

    Raises:
        ConfigError: bad log level, remap or extra parameter file.
    """
    if log_level.lower() not in LOG_LEVELS:
        msg = f"log_level must be one of {list(LOG_LEVELS)}, got {log_level!r}"
        raise ConfigError(msg)
    extra = (params_file,) if params_file is not None else ()
    plans: list[NodeLaunch] = []
    for entry in robot.nodes:
        ns = join_namespace(namespace, robot.namespace, entry.namespace)
        env = {THREADS_ENV: str(entry.threads)} if entry.threads > 0 else {}
        plans.append(
            NodeLaunch(
                executable=f"percept_{entry.node_type}",
                name=entry.name,
                namespace=ns,
                parameters=tuple(
                    node_parameters(
                        entry, use_sim_time=use_sim_time, extra_files=extra, namespace=ns
                    )
                ),
                remappings=tuple(topic_remappings(entry.node_cls, entry.remappings, entry.name)),
                arguments=("--ros-args", "--log-level", log_level.lower()),
                env=env,
            )
        )
    return plans


def launch_nodes(
    robot: RobotConfig,
    *,
    namespace: str = "",
    use_sim_time: bool = False,
    log_level: str = "info",
    params_file: Path | None = None,
) -> list[object]:
    """``launch_ros.actions.Node`` actions for the robot graph (see :func:`plan_nodes`).

    Raises:
        ConfigError: see :func:`plan_nodes`.
    """
    from launch_ros.actions import Node as LaunchNode  # needs ROS 2; only from launch

    return [
        LaunchNode(
            package=PACKAGE,
            executable=plan.executable,
            name=plan.name,
            namespace=plan.namespace,
            parameters=list(plan.parameters),
            remappings=list(plan.remappings),
            arguments=list(plan.arguments),
            additional_env=dict(plan.env),
            output="screen",
        )
        for plan in plan_nodes(
            robot,
            namespace=namespace,
            use_sim_time=use_sim_time,
            log_level=log_level,
            params_file=params_file,
        )
    ]
