"""Launch a robot's Percept graph: ``ros2 launch percept_ros perception.launch.py robot:=NAME``.

Reads ``config/robots/<robot>.yaml`` (the file ``percept replay --robot`` reads), checks
it with Percept's rules and starts one ``percept_<type>`` process per node. The project
folder holding ``config/`` is ``$PERCEPT_CONFIG_ROOT``, else the first parent of this
file that has ``config/robots`` (the colcon workspace root when run from ``install/``),
else of the working directory.
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchContext, LaunchDescription
from percept.errors import ConfigError
from percept.runtime.robot import find_config_root, load_robot
from percept_ros.launch_graph import launch_nodes

ARGUMENTS = (
    ("robot", "example", "robot file config/robots/<robot>.yaml (or a path to a .yaml)"),
    ("namespace", "", "namespace prefixed to the robot's graph"),
    ("use_sim_time", "false", "use /clock (bag replay, simulation) instead of wall time"),
    ("log_level", "info", "log level of every node: debug, info, warn, error, fatal"),
    ("params_file", "", "extra ROS 2 parameter file applied after the robot's (optional)"),
)


def _graph(context: LaunchContext) -> list[object]:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    robot = arg("robot")
    root = None
    if not robot.endswith((".yaml", ".yml")):
        try:
            root = find_config_root(Path(__file__).resolve().parent)
        except ConfigError:
            root = find_config_root()  # the working directory and its parents
    params_file = arg("params_file")
    return launch_nodes(
        load_robot(robot, root),
        namespace=arg("namespace"),
        use_sim_time=arg("use_sim_time").strip().lower() in ("true", "1", "yes"),
        log_level=arg("log_level"),
        params_file=Path(params_file) if params_file else None,
    )


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
