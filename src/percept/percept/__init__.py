"""Percept: a ROS 2 perception stack; this package is its ROS-free core.

The core (geometry, sync, calibration, stereo, detection, VIO, mapping), the node
classes, the message codecs, the local runtime and the ``percept`` CLI. Nothing here
imports rclpy or ROS message packages; ``percept_ros`` adapts the nodes to ROS 2.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
