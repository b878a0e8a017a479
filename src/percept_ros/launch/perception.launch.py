"""Launch a robot's Percept graph: ``ros2 launch percept_ros perception.launch.py robot:=NAME``.

Reads ``config/robots/<robot>.yaml`` (the file ``percept replay --robot`` reads), checks
it with Percept's rules, resolves its graph with ``percept.runtime.graph.robot_graph``
(the function ``percept replay`` and ``percept graph`` use) and starts one
``percept_<type>`` process per node, or every node in one ``percept_graph_process``
(``one_process:=true``). Arguments follow nav2_bringup: ``namespace``,
``use_sim_time``, ``params_file`` (applied last), ``log_level``, and one
``enable_<subsystem>`` flag per subsystem. ``rviz:=true`` opens RViz on the shipped
configuration. With a board recording (``calibration_check_bag`` or
``calibration_check_images``) and ``calibration_check_board``, ``percept calibrate
check`` runs on the robot's calibration first and a failing check stops the launch with
its figures in the log (``calibration_check:=true`` requires the check, ``false`` skips
it). The project folder holding ``config/`` is ``$PERCEPT_CONFIG_ROOT``, else the first
parent of this file that has ``config/robots`` (the colcon workspace root when run from
``install/``), else of the working directory.
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchContext, LaunchDescription
from percept.errors import CalibrationError, ConfigError
from percept.runtime.graph import SUBSYSTEMS, robot_graph
from percept.runtime.robot import find_config_root, load_robot
from percept_ros.launch_graph import calibration_gate, launch_nodes, parse_flag, rviz_config

ARGUMENTS = (
    ("robot", "example", "robot file config/robots/<robot>.yaml (or a path to a .yaml)"),
    ("namespace", "", "namespace prefixed to the robot's graph"),
    ("use_sim_time", "false", "use /clock (bag replay, simulation) instead of wall time"),
    ("log_level", "info", "log level of every node: debug, info, warn, error, fatal"),
    ("params_file", "", "extra ROS 2 parameter file applied after the robot's (optional)"),
    *(
        (f"enable_{name}", "true", f"start the {name} nodes ({', '.join(types)})")
        for name, types in SUBSYSTEMS.items()
    ),
    ("one_process", "false", "all nodes in one process on one executor (percept_graph_process)"),
    ("rviz", "false", "open RViz with share/percept_ros/rviz/percept.rviz"),
    (
        "calibration_check",
        "auto",
        "check the calibration first: auto (when a board recording is given), true, false",
    ),
    ("calibration_check_bag", "", "bag with fresh views of the board (calibration gate)"),
    ("calibration_check_images", "", "folder of fresh board images (calibration gate)"),
    ("calibration_check_board", "", "the board: chessboard:COLSxROWS:SQUARE_M or charuco:..."),
    ("calibration_check_topics", "", "image topics in the bag (default: the rectifier's)"),
    ("calibration_dir", "", "calibration folder to check (default: the robot's)"),
    ("calibration_check_args", "", "more percept calibrate check options (--max-rms-px 0.5)"),
)


def _project_root(robot: str) -> Path | None:
    if robot.endswith((".yaml", ".yml")):
        return None
    try:
        return find_config_root(Path(__file__).resolve().parent)
    except ConfigError:
        return find_config_root()  # the working directory and its parents


def _share() -> Path | None:
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("percept_ros"))
    except Exception:  # not installed (run from the source tree)
        return None


def _rviz(context: LaunchContext, project: Path | None, use_sim_time: bool) -> list[object]:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    config = rviz_config(_share(), project)
    if config is None:
        return [LogInfo(msg="WARNING: rviz:=true but no percept.rviz found; RViz not started")]
    try:
        get_package_prefix("rviz2")
    except PackageNotFoundError:
        return [LogInfo(msg="WARNING: rviz:=true but rviz2 is not installed; RViz not started")]
    from launch_ros.actions import Node as LaunchNode

    return [
        LaunchNode(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", str(config)],
            parameters=[{"use_sim_time": use_sim_time}],
            output="screen",
        )
    ]


def _graph(context: LaunchContext) -> list[object]:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    robot = arg("robot")
    project = _project_root(robot)
    params_file = arg("params_file")
    use_sim_time = parse_flag(arg("use_sim_time"), "use_sim_time")
    graph = robot_graph(
        load_robot(robot, project),
        namespace=arg("namespace"),
        disabled=[s for s in SUBSYSTEMS if not parse_flag(arg(f"enable_{s}"), f"enable_{s}")],
        params_file=Path(params_file) if params_file else None,
    )
    gate = calibration_gate(
        graph,
        mode=arg("calibration_check"),
        bag=arg("calibration_check_bag"),
        images=arg("calibration_check_images"),
        board=arg("calibration_check_board"),
        topics=arg("calibration_check_topics").split(),
        calibration_dir=arg("calibration_dir"),
        extra_args=arg("calibration_check_args").split(),
    )
    if not gate.start:
        # Raising stops ros2 launch with exit status 1 and the message in its log.
        raise CalibrationError(f"refusing to start robot {graph.robot.robot}: {gate.message}")
    actions: list[object] = [LogInfo(msg=gate.message)] if gate.checked else []
    if graph.left_out:
        left_out = ", ".join(graph.left_out)
        actions.append(LogInfo(msg=f"left out ({', '.join(graph.disabled)}): {left_out}"))
    actions += launch_nodes(
        graph,
        use_sim_time=use_sim_time,
        log_level=arg("log_level"),
        one_process=parse_flag(arg("one_process"), "one_process"),
    )
    if parse_flag(arg("rviz"), "rviz"):
        actions += _rviz(context, project or graph.robot.path.resolve().parents[2], use_sim_time)
    return actions


def generate_launch_description() -> LaunchDescription:
    """Launch arguments, then the graph built from the robot file."""
    return LaunchDescription(
        [
            *(
                DeclareLaunchArgument(name, default_value=default, description=description)
                for name, default, description in ARGUMENTS
            ),
            OpaqueFunction(function=_graph),
        ]
    )
