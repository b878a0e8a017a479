"""Occupancy mapping, ROS-free: a 2-D log-odds grid for nav2, a 3-D voxel map, map files.

Depth (clouds, scans) and sensor poses in, maps out; the node ``occupancy_map`` wraps it.
"""

from __future__ import annotations

__all__: list[str] = []
