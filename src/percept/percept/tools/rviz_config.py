"""RViz2 configuration files checked against the topics a robot graph publishes.

An ``.rviz`` file is YAML: ``Visualization Manager.Displays`` lists displays (nested in
``rviz_common/Group`` displays), each with a ``Class`` and, for displays that subscribe,
a ``Topic`` mapping (``Value`` and the QoS: ``Reliability Policy``, ``Durability
Policy``, ``Depth``). :func:`read_rviz` reads one; :func:`robot_publications` lists the
topics a robot file's nodes publish, resolved as rcl resolves them (namespace, node
outputs, remappings; the local runtime's rules), with whether each output is switched
on by the node's parameters; :func:`check_rviz` compares the two, so the shipped view
(``src/percept_ros/rviz/percept.rviz``) cannot drift from the nodes::

    problems = check_rviz(read_rviz(path), load_robot("synth"))

A display topic is resolved against the namespace RViz runs in (the graph's), so a
relative ``stereo/points2`` follows a launch ``namespace`` and an absolute ``/odom``
(a graph remapped to an absolute name) does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from percept import msgtypes
from percept.errors import ConfigError
from percept.runtime.graph import join_namespace, robot_graph
from percept.runtime.local import resolve_topic
from percept.runtime.robot import find_config_root

if TYPE_CHECKING:
    from percept.node import ParamValue, QosProfile
    from percept.runtime.robot import RobotConfig

__all__ = [
    "DISPLAY_TYPES",
    "OUTPUT_GATES",
    "RVIZ_CONFIG",
    "TOPICLESS_DISPLAYS",
    "Display",
    "Gate",
    "Publication",
    "RvizConfig",
    "check_rviz",
    "read_rviz",
    "robot_publications",
    "source_rviz_config",
]

#: The shipped view, relative to the project folder (installed by percept_ros's
#: setup.py to ``share/percept_ros/rviz/percept.rviz``).
RVIZ_CONFIG = Path("src/percept_ros/rviz/percept.rviz")

#: Display class -> the message types it can show (rviz_default_plugins'
#: plugins_description.xml; ``vision_msgs_rviz_plugins`` is an optional package).
DISPLAY_TYPES: dict[str, frozenset[str]] = {
    "rviz_default_plugins/Image": frozenset({msgtypes.IMAGE}),
    "rviz_default_plugins/Camera": frozenset({msgtypes.IMAGE}),
    "rviz_default_plugins/PointCloud2": frozenset({msgtypes.POINT_CLOUD2}),
    "rviz_default_plugins/LaserScan": frozenset({msgtypes.LASER_SCAN}),
    "rviz_default_plugins/Odometry": frozenset({msgtypes.ODOMETRY}),
    "rviz_default_plugins/Path": frozenset({msgtypes.PATH}),
    "rviz_default_plugins/Map": frozenset({msgtypes.OCCUPANCY_GRID}),
    "rviz_default_plugins/Marker": frozenset({"visualization_msgs/msg/Marker"}),
    "rviz_default_plugins/MarkerArray": frozenset({msgtypes.MARKER_ARRAY}),
    "rviz_default_plugins/Pose": frozenset({msgtypes.POSE_STAMPED}),
    "rviz_default_plugins/PoseWithCovariance": frozenset(
        {"geometry_msgs/msg/PoseWithCovarianceStamped"}
    ),
    "vision_msgs_rviz_plugins/Detection3DArray": frozenset({msgtypes.DETECTION3D_ARRAY}),
}

#: Displays with no topic of their own (TF reads /tf and /tf_static itself).
TOPICLESS_DISPLAYS = frozenset(
    {"rviz_default_plugins/TF", "rviz_default_plugins/Grid", "rviz_default_plugins/Axes"}
)

_GROUP = "rviz_common/Group"
_RELIABILITY = {"Reliable": "reliable", "Best Effort": "best_effort"}
_DURABILITY = {"Volatile": "volatile", "Transient Local": "transient_local"}


@dataclass(frozen=True)
class Gate:
    """The parameters that switch a declared output on.

    Attributes:
        params: the parameters ``test`` reads (a test checks the node declares them).
        test: True when the node publishes the output with these parameters.
        text: what switches it on, for messages (``publish_debug_image: true``).
    """

    params: tuple[str, ...]
    test: Callable[[Mapping[str, ParamValue]], bool]
    text: str


def _flag(name: str) -> Gate:
    return Gate((name,), lambda p: bool(p[name]), f"{name}: true")


def _has_depth(p: Mapping[str, ParamValue]) -> bool:
    return p["depth_source"] != "none"


#: (node type, output name) -> what switches the output on, as the node's code decides;
#: outputs not listed are always published.
OUTPUT_GATES: dict[tuple[str, str], Gate] = {
    ("stereo_depth", "disparity"): _flag("publish_disparity"),
    ("stereo_depth", "depth"): _flag("publish_depth"),
    ("stereo_depth", "depth_camera_info"): _flag("publish_depth"),
    ("stereo_depth", "points"): _flag("publish_points"),
    ("detector", "image_detections"): _flag("publish_debug_image"),
    ("detector", "detections_3d"): Gate(
        ("depth_source",), _has_depth, "depth_source: depth or disparity"
    ),
    ("detector", "markers"): Gate(
        ("depth_source", "publish_markers"),
        lambda p: _has_depth(p) and bool(p["publish_markers"]),
        "depth_source: depth or disparity, publish_markers: true",
    ),
    ("detector", "detections_3d_target"): Gate(
        ("depth_source", "target_frame_id"),
        lambda p: _has_depth(p) and bool(str(p["target_frame_id"]).strip()),
        "depth_source: depth or disparity, target_frame_id set",
    ),
    ("vio", "odom_imu"): _flag("publish_odom_imu"),
    ("vio", "path"): _flag("publish_path"),
    ("vio", "tf"): _flag("publish_tf"),
    ("vio", "debug_image"): _flag("publish_debug_image"),
    ("occupancy_map", "voxels"): _flag("enable_3d"),
}


@dataclass(frozen=True)
class Display:
    """One display of an ``.rviz`` file.

    Attributes:
        name: ``Name``, with its groups (``Stereo/Left rectified``).
        class_name: ``Class`` (``rviz_default_plugins/Image``).
        enabled: ``Enabled``.
        topic: ``Topic.Value`` as written (relative or absolute), None without one.
        reliability: ``reliable`` or ``best_effort``, None without a topic.
        durability: ``volatile`` or ``transient_local``, None without a topic.
        depth: ``Topic.Depth`` (history depth), None without a topic.
    """

    name: str
    class_name: str
    enabled: bool
    topic: str | None = None
    reliability: str | None = None
    durability: str | None = None
    depth: int | None = None


@dataclass(frozen=True)
class RvizConfig:
    """An ``.rviz`` file's fixed frame and displays (groups flattened)."""

    path: Path
    fixed_frame: str
    displays: tuple[Display, ...]


@dataclass(frozen=True)
class Publication:
    """One node output on a resolved topic.

    Attributes:
        topic: the resolved topic (``/stereo/points2``).
        msg_type: ROS type name.
        qos: the publisher's QoS.
        node: the node's full name (``/stereo/stereo_depth``).
        node_type: the node type (``stereo_depth``).
        output: the output's name (``points``).
        published: whether the node's parameters switch the output on.
        gate: what switches it on (``""``: always published).
    """

    topic: str
    msg_type: str
    qos: QosProfile
    node: str
    node_type: str
    output: str
    published: bool
    gate: str = ""


def source_rviz_config(root: Path | None = None) -> Path:
    """The shipped ``percept.rviz`` in the source checkout (``RVIZ_CONFIG``).

    Raises:
        ConfigError: no project folder, or the file is missing.
    """
    path = (root or find_config_root()) / RVIZ_CONFIG
    if not path.is_file():
        msg = f"{path}: no such RViz configuration"
        raise ConfigError(msg)
    return path


def _display(item: Mapping[str, Any], prefix: str, where: str) -> Display:
    name = f"{prefix}{item.get('Name', '')}"
    class_name = item.get("Class")
    if not isinstance(class_name, str) or not class_name:
        msg = f"{where}: display {name!r} has no Class"
        raise ConfigError(msg)
    enabled = bool(item.get("Enabled", True))
    topic_doc = item.get("Topic")
    if topic_doc is None:
        return Display(name, class_name, enabled)
    if not isinstance(topic_doc, dict) or not isinstance(topic_doc.get("Value"), str):
        msg = f"{where}: display {name!r}: Topic must be a mapping with a string Value"
        raise ConfigError(msg)
    reliability = topic_doc.get("Reliability Policy", "Reliable")
    durability = topic_doc.get("Durability Policy", "Volatile")
    if reliability not in _RELIABILITY or durability not in _DURABILITY:
        msg = (
            f"{where}: display {name!r}: Reliability Policy must be one of "
            f"{sorted(_RELIABILITY)} and Durability Policy one of {sorted(_DURABILITY)}, "
            f"got {reliability!r}, {durability!r}"
        )
        raise ConfigError(msg)
    depth = topic_doc.get("Depth")
    return Display(
        name,
        class_name,
        enabled,
        topic_doc["Value"],
        _RELIABILITY[reliability],
        _DURABILITY[durability],
        int(depth) if depth is not None else None,
    )


def _walk(items: object, prefix: str, enabled: bool, where: str) -> list[Display]:
    if not isinstance(items, list):
        msg = f"{where}: Displays must be a list"
        raise ConfigError(msg)
    out: list[Display] = []
    for item in items:
        if not isinstance(item, dict):
            msg = f"{where}: every display must be a mapping"
            raise ConfigError(msg)
        if item.get("Class") == _GROUP:
            group_on = enabled and bool(item.get("Enabled", True))
            inner = f"{prefix}{item.get('Name', 'Group')}/"
            out.extend(_walk(item.get("Displays") or [], inner, group_on, where))
            continue
        display = _display(item, prefix, where)
        if not enabled and display.enabled:  # a display in a disabled group is off
            display = dataclasses.replace(display, enabled=False)
        out.append(display)
    return out


def read_rviz(path: Path) -> RvizConfig:
    """Read an ``.rviz`` file: fixed frame and displays, groups flattened.

    Raises:
        ConfigError: not YAML, or not shaped like an RViz2 configuration.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML: {err}"
        raise ConfigError(msg) from err
    manager = doc.get("Visualization Manager") if isinstance(doc, dict) else None
    if not isinstance(manager, dict):
        msg = f"{path}: no 'Visualization Manager' mapping; not an RViz2 configuration"
        raise ConfigError(msg)
    options = manager.get("Global Options") or {}
    fixed_frame = str(options.get("Fixed Frame", "")) if isinstance(options, dict) else ""
    displays = _walk(manager.get("Displays") or [], "", True, str(path))
    return RvizConfig(path, fixed_frame, tuple(displays))


def robot_publications(robot: RobotConfig, namespace: str = "") -> dict[str, list[Publication]]:
    """Every output of the robot's nodes, by resolved topic.

    Args:
        robot: a loaded robot file.
        namespace: launch namespace, prefixed to the robot's and each node's.

    Returns:
        resolved topic -> the outputs published on it (several nodes may declare one).
    """
    topics: dict[str, list[Publication]] = {}
    for node in robot_graph(robot, namespace=namespace).nodes:
        entry = node.entry
        for spec in entry.node_cls.OUTPUTS:
            gate = OUTPUT_GATES.get((entry.node_type, spec.name))
            pub = Publication(
                node.publishes[spec.name],
                spec.msg_type,
                spec.qos,
                node.full_name,
                entry.node_type,
                spec.name,
                gate is None or gate.test(entry.params),
                "" if gate is None else gate.text,
            )
            topics.setdefault(pub.topic, []).append(pub)
    return topics


def _qos_problem(display: Display, pub: Publication) -> str | None:
    """Why the display's subscription misses the publisher's messages, None if it gets them.

    DDS request/offered rules: a reliable subscription matches no best-effort
    publisher, a transient-local one no volatile publisher; and a volatile subscription
    to a latched (transient-local) publisher misses what came before it (the map).
    """
    offered = pub.qos
    if display.reliability == "reliable" and offered.reliability == "best_effort":
        return f"is Reliable but {pub.node} publishes Best Effort: set Best Effort"
    if display.durability == "transient_local" and offered.durability == "volatile":
        return f"is Transient Local but {pub.node} publishes Volatile: set Volatile"
    if display.durability == "volatile" and offered.durability == "transient_local":
        return f"is Volatile but {pub.node} latches it (Transient Local): set Transient Local"
    return None


def check_rviz(rviz: RvizConfig, robot: RobotConfig, namespace: str = "") -> list[str]:
    """What in the RViz configuration does not fit the robot's graph.

    For every display with a topic: the topic (resolved in the graph's namespace, where
    RViz runs) is published by a node of the robot, with a message type the display
    class can show and a QoS the display's subscription matches; an enabled display's
    output must be switched on by its node's parameters (a disabled one may wait for
    its flag). Topic-less displays (TF, Grid) must have no topic; unknown classes fail.

    Args:
        rviz: from :func:`read_rviz`.
        robot: a loaded robot file.
        namespace: launch namespace (RViz runs in it, under the robot's namespace).

    Returns:
        one message per problem, naming the display and the topic; empty when it fits.
    """
    publications = robot_publications(robot, namespace)
    rviz_ns = join_namespace(namespace, robot.namespace)
    problems: list[str] = []
    for display in rviz.displays:
        label = f"display {display.name!r} ({display.class_name})"
        if display.class_name in TOPICLESS_DISPLAYS:
            if display.topic is not None:
                problems.append(f"{label} takes no topic, has {display.topic!r}")
            continue
        accepted = DISPLAY_TYPES.get(display.class_name)
        if accepted is None:
            problems.append(f"{label}: unknown display class (known: {sorted(DISPLAY_TYPES)})")
            continue
        if display.topic is None:
            problems.append(f"{label} has no topic")
            continue
        topic = resolve_topic(display.topic, rviz_ns)
        pubs = publications.get(topic, [])
        if not pubs:
            problems.append(f"{label}: topic {topic} is published by no node of {robot.robot}")
            continue
        typed = [p for p in pubs if p.msg_type in accepted]
        if not typed:
            types = sorted({p.msg_type for p in pubs})
            problems.append(
                f"{label}: topic {topic} carries {types}, the display shows {sorted(accepted)}"
            )
            continue
        problems.extend(
            f"{label}: topic {topic} {why}"
            for why in (_qos_problem(display, p) for p in typed)
            if why is not None
        )
        if display.enabled and not any(p.published for p in typed):
            gates = "; ".join(f"{p.node} {p.gate}" for p in typed)
            problems.append(
                f"{label}: topic {topic} is not published with {robot.robot}'s parameters "
                f"(needs {gates}): disable the display or switch the output on"
            )
    return problems
