"""Occupancy mapping, ROS-free: a 2-D log-odds grid for nav2, a 3-D voxel map, map files.

Depth (clouds, scans) and sensor poses in, maps out; the node ``occupancy_map`` wraps it.
Split as nav2 and OctoMap split it: settings and sensor model (:mod:`.config`), grid
geometry (:mod:`.grid`), ray traversal (:mod:`.raycast`), the mappers
(:mod:`.occupancy2d`, :mod:`.band3d`, :mod:`.voxel3d`).
"""

from __future__ import annotations

from percept.mapping.band3d import BandMap2D
from percept.mapping.config import DECAY_MODELS, GRID_MODELS, MappingConfig
from percept.mapping.grid import GridGeometry
from percept.mapping.occupancy2d import InsertStats, OccupancyMap2D
from percept.mapping.raycast import Traversal, traverse_2d, traverse_3d
from percept.mapping.voxel3d import VoxelMap3D

__all__ = [
    "DECAY_MODELS",
    "GRID_MODELS",
    "BandMap2D",
    "GridGeometry",
    "InsertStats",
    "MappingConfig",
    "OccupancyMap2D",
    "Traversal",
    "VoxelMap3D",
    "traverse_2d",
    "traverse_3d",
]
