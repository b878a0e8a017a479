"""Synthetic ground-truthed robot sequences: scenes, stereo rig, trajectories, IMU.

``generate`` renders a warehouse (Open3D ray casting) seen by a stereo rig on a ground
robot or a handheld rig, with a 200 Hz IMU, into an MCAP bag with ground truth (pose,
depth, 2-D/3-D boxes, occupancy grid); ``render_board_views`` renders calibration
target views through the same rig; ``simulate_features`` simulates the tracked stereo
features and IMU samples a VIO estimator consumes, without rendering. Modules import
Open3D lazily (at scene build).
"""

from __future__ import annotations

from percept.calib.imu import ImuNoise
from percept.synth.board import BoardViews, render_board_views
from percept.synth.features import FeatureSimConfig, FeatureSimulation, simulate_features
from percept.synth.generate import SynthConfig, SynthResult, default_rig, generate
from percept.synth.imu import ADIS16448_EUROC, NO_NOISE, simulate_imu
from percept.synth.rig import StereoRig, StereoRigConfig
from percept.synth.scene import CLASS_NAMES, Scene
from percept.synth.trajectory import LoopTrajectory
from percept.synth.warehouse import build_scene

__all__ = [
    "ADIS16448_EUROC",
    "CLASS_NAMES",
    "NO_NOISE",
    "BoardViews",
    "FeatureSimConfig",
    "FeatureSimulation",
    "ImuNoise",
    "LoopTrajectory",
    "Scene",
    "StereoRig",
    "StereoRigConfig",
    "SynthConfig",
    "SynthResult",
    "build_scene",
    "default_rig",
    "generate",
    "render_board_views",
    "simulate_features",
    "simulate_imu",
]
