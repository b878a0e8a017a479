"""Replay a bag through a robot's graph on sim time: ``ros2 launch percept_ros replay.launch.py``.

    ros2 launch percept_ros replay.launch.py bag:=run.mcap robot:=synth [rviz:=false]

``ros2 bag play BAG --clock`` publishes the bag's messages at their recorded rate
(``rate``) with ``/clock``, and perception.launch.py starts the robot's graph with
``use_sim_time:=true``, so the nodes see bag time as ``percept replay`` does. Every
other perception.launch.py argument (``namespace``, ``enable_<subsystem>``,
``one_process``, ``params_file``, the calibration gate...) is passed through. ``ros2 bag``
needs rosbag2 and, for ``.mcap``, its MCAP storage plugin
(``ros-$ROS_DISTRO-rosbag2 ros-$ROS_DISTRO-rosbag2-storage-mcap``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from launch import LaunchContext, LaunchDescription
from percept_ros.launch_graph import parse_flag

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "percept_ros_perception_launch", _HERE / "perception.launch.py"
)
if _spec is None or _spec.loader is None:
    raise ImportError(f"cannot load {_HERE / 'perception.launch.py'}")
_perception = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_perception)

#: Arguments of this file; the graph's are perception.launch.py's (rviz defaults on).
PLAY_ARGUMENTS = (
    ("bag", "", "the bag to play (rosbag2 folder or .mcap)"),
    ("rate", "1.0", "playback rate (ros2 bag play --rate)"),
    ("start_offset", "0.0", "seconds to skip from the bag start (--start-offset)"),
    ("loop", "false", "play the bag in a loop (--loop)"),
    ("remap", "", "space-separated bag topic remaps FROM:=TO (--remap)"),
    ("play", "true", "start ros2 bag play (false: the graph on sim time only; play elsewhere)"),
)
GRAPH_ARGUMENTS = tuple(
    (name, "true" if name == "rviz" else default, description)
    for name, default, description in _perception.ARGUMENTS
    if name != "use_sim_time"
)
ARGUMENTS = PLAY_ARGUMENTS + GRAPH_ARGUMENTS


def play_command(
    bag: str, *, rate: str = "1.0", start_offset: str = "0.0", loop: bool = False, remap: str = ""
) -> list[str]:
    """The ``ros2 bag play`` command line (``--clock``: the graph runs on bag time)."""
    cmd = ["ros2", "bag", "play", bag, "--clock", "--rate", rate, "--start-offset", start_offset]
    if loop:
        cmd.append("--loop")
    pairs = remap.split()
    if pairs:
        cmd += ["--remap", *pairs]
    return cmd


def _player(context: LaunchContext) -> list[object]:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    if not parse_flag(arg("play"), "play"):
        return []
    bag = arg("bag")
    if not bag:
        raise ValueError("replay.launch.py needs bag:=PATH")
    if not Path(bag).exists():
        raise FileNotFoundError(f"bag:={bag} does not exist")
    try:
        get_package_prefix("ros2bag")
    except PackageNotFoundError as err:
        msg = (
            "ros2 bag is not installed: apt install ros-$ROS_DISTRO-rosbag2 "
            "ros-$ROS_DISTRO-rosbag2-storage-mcap (or use percept replay, no ROS needed)"
        )
        raise RuntimeError(msg) from err
    cmd = play_command(
        bag,
        rate=arg("rate"),
        start_offset=arg("start_offset"),
        loop=parse_flag(arg("loop"), "loop"),
        remap=arg("remap"),
    )
    return [ExecuteProcess(cmd=cmd, name="bag_play", output="screen")]


def generate_launch_description() -> LaunchDescription:
    """Arguments, the graph on sim time, then the player."""
    graph = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(_HERE / "perception.launch.py")),
        launch_arguments=[
            *((name, LaunchConfiguration(name)) for name, _, _ in GRAPH_ARGUMENTS),
            ("use_sim_time", "true"),
        ],
    )
    return LaunchDescription(
        [
            *(
                DeclareLaunchArgument(name, default_value=default, description=description)
                for name, default, description in ARGUMENTS
            ),
            graph,
            OpaqueFunction(function=_player),
        ]
    )
