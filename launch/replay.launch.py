"""``ros2 launch launch/replay.launch.py bag:=BAG robot:=NAME`` from a source checkout.

A thin alias of the launch file the percept_ros package installs
(src/percept_ros/launch/replay.launch.py), which holds the arguments and the logic.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PACKAGE_LAUNCH = (
    Path(__file__).resolve().parents[1] / "src" / "percept_ros" / "launch" / "replay.launch.py"
)
_spec = importlib.util.spec_from_file_location("percept_ros_replay_launch", _PACKAGE_LAUNCH)
if _spec is None or _spec.loader is None:
    raise ImportError(f"cannot load the percept_ros launch file {_PACKAGE_LAUNCH}")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

generate_launch_description = _module.generate_launch_description
ARGUMENTS = _module.ARGUMENTS
