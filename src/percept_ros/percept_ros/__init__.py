"""percept_ros: every Percept node as a ROS 2 node.

:mod:`percept_ros.adapter` is the one generic rclpy adapter (it needs a sourced ROS 2);
:mod:`percept_ros.scripts` holds the ``percept_<type>`` console scripts;
:mod:`percept_ros.launch_graph` turns a robot file into launch_ros ``Node`` actions.
Importing this package itself needs no ROS.
"""

from __future__ import annotations

__all__: list[str] = []
