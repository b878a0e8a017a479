"""Robot file -> launch_ros actions, from the graph the local runtime also runs.

The pure part (:func:`plan_nodes`, :func:`plan_graph_process`, :func:`calibration_gate`,
:func:`rviz_config`) turns a :class:`percept.runtime.robot.RobotConfig` into
:class:`NodeLaunch` records through :func:`percept.runtime.graph.robot_graph` (the
function ``percept replay`` and ``percept graph`` use) and needs no ROS;
:func:`launch_nodes` imports launch_ros only when it is called, from the launch file.
Remaps use the local runtime's rules: a key names an input/output or its declared topic,
the value is a topic resolved against the node's namespace (rcl expands a relative remap
target the same way), and a key that matches nothing is a configuration error.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from percept.errors import ConfigError, PerceptError
from percept.runtime.graph import (
    SUBSYSTEMS,
    RobotGraph,
    join_namespace,
    parameter_overrides,
    robot_graph,
    topic_remappings,
)
from percept.runtime.params import resolve_parameters

if TYPE_CHECKING:
    from percept.node import ParamValue
    from percept.runtime.robot import NodeEntry, RobotConfig

__all__ = [
    "GRAPH_PROCESS",
    "LOG_LEVELS",
    "PACKAGE",
    "RVIZ_CONFIG",
    "SUBSYSTEMS",
    "THREADS_ENV",
    "GateDecision",
    "NodeLaunch",
    "calibration_gate",
    "join_namespace",
    "launch_nodes",
    "node_parameters",
    "parameter_overrides",
    "parse_flag",
    "plan_graph_process",
    "plan_nodes",
    "rviz_config",
    "topic_remappings",
]

PACKAGE = "percept_ros"
#: Environment variable the console scripts read for cv2.setNumThreads
#: (``percept_ros.scripts.THREADS_ENV``; repeated here so planning imports no ROS code).
THREADS_ENV = "PERCEPT_THREADS"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
#: Console script running every node of a robot in one process (``one_process:=true``).
GRAPH_PROCESS = "percept_graph_process"
#: RViz configuration: relative to the package share folder, then to the project folder
#: (the package's source, then a project-wide copy).
RVIZ_CONFIG = {
    "share": (Path("rviz/percept.rviz"),),
    "source": (Path("src/percept_ros/rviz/percept.rviz"), Path("config/rviz/percept.rviz")),
}

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


def parse_flag(text: str, name: str = "flag") -> bool:
    """A launch argument's boolean: true/false, 1/0, yes/no, on/off.

    Raises:
        ConfigError: anything else.
    """
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    msg = f"{name} must be true or false, got {text!r}"
    raise ConfigError(msg)


def _check_log_level(log_level: str) -> str:
    if log_level.lower() not in LOG_LEVELS:
        msg = f"log_level must be one of {list(LOG_LEVELS)}, got {log_level!r}"
        raise ConfigError(msg)
    return log_level.lower()


def plan_nodes(
    robot: RobotConfig | RobotGraph,
    *,
    namespace: str = "",
    use_sim_time: bool = False,
    log_level: str = "info",
    params_file: Path | None = None,
    disabled: Collection[str] = (),
) -> list[NodeLaunch]:
    """One :class:`NodeLaunch` per node of the robot graph (one process per node).

    Args:
        robot: the loaded robot file, or its graph already resolved (then ``namespace``,
            ``params_file`` and ``disabled`` come from it).
        namespace: launch namespace, prefixed to the robot's and each node's.
        use_sim_time: run the nodes on ``/clock``.
        log_level: ``--log-level`` of every node.
        params_file: an extra ROS 2 parameter file applied after the robot's.
        disabled: subsystems (``percept.runtime.graph.SUBSYSTEMS``) left out.

    Raises:
        ConfigError: bad log level, remap, subsystem or extra parameter file.
    """
    level = _check_log_level(log_level)
    graph = (
        robot
        if isinstance(robot, RobotGraph)
        else robot_graph(robot, namespace=namespace, disabled=disabled, params_file=params_file)
    )
    plans: list[NodeLaunch] = []
    for node in graph.nodes:
        env = {THREADS_ENV: str(node.threads)} if node.threads > 0 else {}
        plans.append(
            NodeLaunch(
                executable=f"percept_{node.node_type}",
                name=node.name,
                namespace=node.namespace,
                parameters=tuple(
                    node_parameters(
                        node.entry,
                        use_sim_time=use_sim_time,
                        extra_files=node.extra_files,
                        namespace=node.namespace,
                    )
                ),
                remappings=node.remappings,
                arguments=("--ros-args", "--log-level", level),
                env=env,
            )
        )
    return plans


def plan_graph_process(
    graph: RobotGraph, *, use_sim_time: bool = False, log_level: str = "info"
) -> NodeLaunch:
    """The one process of ``one_process:=true``: every node on one executor.

    ``percept_graph_process`` resolves the same graph again from these arguments
    (:func:`percept.runtime.graph.robot_graph`), so both modes run the same nodes.

    Raises:
        ConfigError: a bad log level.
    """
    level = _check_log_level(log_level)
    args = ["--robot", str(graph.robot.path)]
    if graph.namespace:
        args += ["--namespace", graph.namespace]
    if graph.disabled:
        args += ["--disable", ",".join(graph.disabled)]
    if graph.params_file is not None:
        args += ["--params-file", str(graph.params_file)]
    if use_sim_time:
        args.append("--use-sim-time")
    threads = max((n.threads for n in graph.nodes), default=0)
    return NodeLaunch(
        executable=GRAPH_PROCESS,
        name="",
        namespace="",
        parameters=(),
        remappings=(),
        arguments=(*args, "--ros-args", "--log-level", level),
        env={THREADS_ENV: str(threads)} if threads > 0 else {},
    )


@dataclass(frozen=True)
class GateDecision:
    """What the calibration gate decided.

    Attributes:
        start: start the graph.
        checked: the check ran.
        message: one or more lines for the launch log (the failing figures on a fail).
    """

    start: bool
    checked: bool
    message: str


def calibration_gate(
    graph: RobotGraph,
    *,
    mode: str = "auto",
    bag: str = "",
    images: str = "",
    board: str = "",
    topics: Sequence[str] = (),
    calibration_dir: str = "",
    extra_args: Sequence[str] = (),
) -> GateDecision:
    """Run ``percept calibrate check`` on the robot's calibration before a launch.

    Args:
        graph: the graph to start (its calibration folder: see
            :meth:`~percept.runtime.graph.RobotGraph.calibration_dir`).
        mode: ``true`` (check, refuse without a source), ``false`` (no check), ``auto``
            (check when a bag or an image folder is given).
        bag: a recording of the board (``--bag``).
        images: a folder of board images (``--images``).
        board: the board (``chessboard:COLSxROWS:SQUARE_M`` or ``charuco:...``).
        topics: image topics in the bag; default the stereo/mono rectifier's inputs.
        calibration_dir: overrides the robot's calibration folder.
        extra_args: more ``percept calibrate check`` options (``--max-rms-px 0.5``).

    Returns:
        ``start`` False when the check ran and failed, or could not run while required.
    """
    wanted = mode.strip().lower()
    if wanted == "auto":
        if not (bag or images):
            return GateDecision(True, False, "calibration check skipped: no board recording")
    elif not parse_flag(wanted, "calibration_check"):
        return GateDecision(True, False, "calibration check off")
    if not (bag or images):
        return GateDecision(
            False,
            False,
            "calibration_check:=true needs calibration_check_bag:=BAG or "
            "calibration_check_images:=DIR (fresh views of the board)",
        )
    if not board:
        return GateDecision(
            False, False, "the calibration check needs calibration_check_board:=SPEC"
        )
    folder = Path(calibration_dir) if calibration_dir else graph.calibration_dir()
    if folder is None:
        return GateDecision(
            False, False, f"robot {graph.robot.robot} has no calibration folder to check"
        )
    argv = ["--quiet", "calibrate", "check", "--calib", str(folder), "--board", board]
    if images:
        argv += ["--images", images]
    else:
        argv += ["--bag", bag, "--topics", *(topics or _image_topics(graph))]
    argv += list(extra_args)
    from percept.cli.main import build_parser  # the CLI's own check, options and messages

    out = io.StringIO()
    try:
        args = build_parser().parse_args(argv)
        with contextlib.redirect_stdout(out):
            status = int(args.run(args))
    except PerceptError as err:
        return GateDecision(False, True, f"calibration check of {folder} failed: {err}")
    except SystemExit:  # argparse refused an option
        return GateDecision(False, False, f"bad calibration check options: {argv[2:]}")
    summary = out.getvalue().strip()
    if status != 0:
        return GateDecision(False, True, f"calibration check of {folder} failed: {summary}")
    return GateDecision(True, True, f"calibration check of {folder} passed: {summary}")


def _image_topics(graph: RobotGraph) -> list[str]:
    """Raw image topics of the graph's rectifier: left and right, or the mono one."""
    for node in graph.nodes:
        if node.node_type == "stereo_rectify":
            return [node.subscribes["left_image"], node.subscribes["right_image"]]
    for node in graph.nodes:
        if node.node_type == "rectify":
            return [node.subscribes["image"]]
    return []


def rviz_config(share: Path | None, project: Path | None) -> Path | None:
    """The RViz configuration: the installed package's, else the source tree's.

    ``share/percept_ros/rviz/percept.rviz``, else ``src/percept_ros/rviz/percept.rviz``
    or ``config/rviz/percept.rviz`` in the project folder, whichever exists first.

    Args:
        share: ``share/percept_ros`` of the install (None when not installed).
        project: the project folder holding ``config/``.
    """
    candidates = []
    if share is not None:
        candidates += [share / p for p in RVIZ_CONFIG["share"]]
    if project is not None:
        candidates += [project / p for p in RVIZ_CONFIG["source"]]
    return next((c for c in candidates if c.is_file()), None)


def launch_nodes(
    robot: RobotConfig | RobotGraph,
    *,
    namespace: str = "",
    use_sim_time: bool = False,
    log_level: str = "info",
    params_file: Path | None = None,
    disabled: Collection[str] = (),
    one_process: bool = False,
) -> list[object]:
    """``launch_ros.actions.Node`` actions for the robot graph (see :func:`plan_nodes`).

    Args:
        robot: see :func:`plan_nodes`.
        namespace: see :func:`plan_nodes`.
        use_sim_time: see :func:`plan_nodes`.
        log_level: see :func:`plan_nodes`.
        params_file: see :func:`plan_nodes`.
        disabled: see :func:`plan_nodes`.
        one_process: one ``percept_graph_process`` for every node instead of one
            process per node.

    Raises:
        ConfigError: see :func:`plan_nodes`.
    """
    from launch_ros.actions import Node as LaunchNode  # needs ROS 2; only from launch

    graph = (
        robot
        if isinstance(robot, RobotGraph)
        else robot_graph(robot, namespace=namespace, disabled=disabled, params_file=params_file)
    )
    if one_process:
        plan = plan_graph_process(graph, use_sim_time=use_sim_time, log_level=log_level)
        return [
            LaunchNode(
                package=PACKAGE,
                executable=plan.executable,
                arguments=list(plan.arguments),
                additional_env=dict(plan.env),
                output="screen",
            )
        ]
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
        for plan in plan_nodes(graph, use_sim_time=use_sim_time, log_level=log_level)
    ]
