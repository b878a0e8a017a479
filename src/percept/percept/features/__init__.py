"""The visual front end of VIO, reusable on its own (as OpenVINS' ``ov_core``).

Modules: ``config`` (settings), ``detect`` (grid-bucketed corners), ``klt`` (the
:class:`FeatureTracker`: temporal KLT with a forward-backward check and an IMU rotation
seed, RANSAC, left-right matching along rectified rows, track ids and ages),
``database`` (observations by track id and stamp, for an MSCKF), ``triangulate``
(linear + Levenberg-Marquardt, one track or many at once) and ``draw`` (the track
debug image).

Images are rectified (H, W) uint8 mono; pixel positions are ``uv`` (x = column, y =
row) float32; stamps are int nanoseconds.
"""

from __future__ import annotations

from percept.features.config import DETECTORS, FeatureTrackerConfig, TriangulationConfig
from percept.features.database import FeatureDatabase, TrackObservations
from percept.features.detect import detect_corners, occupancy_mask
from percept.features.draw import draw_tracks
from percept.features.klt import FeatureFrame, FeatureTracker, TrackCounts
from percept.features.triangulate import (
    Triangulation,
    TriangulationBatch,
    triangulate_point,
    triangulate_points,
)

__all__ = [
    "DETECTORS",
    "FeatureDatabase",
    "FeatureFrame",
    "FeatureTracker",
    "FeatureTrackerConfig",
    "TrackCounts",
    "TrackObservations",
    "Triangulation",
    "TriangulationBatch",
    "TriangulationConfig",
    "detect_corners",
    "draw_tracks",
    "occupancy_mask",
    "triangulate_point",
    "triangulate_points",
]
