"""Camera calibration: board detection, view selection, mono/stereo solvers, YAML I/O.

The pieces, bottom up: ``render`` draws boards through a known camera (tests),
``board`` finds chessboards and ChArUco boards, ``views`` selects views and reports
coverage as ROS cameracalibrator does, ``solve`` calibrates (plumb_bob,
rational_polynomial, fisheye; mono and stereo), ``yaml_io`` reads and writes the
camera_calibration_parsers YAML format, ``report`` draws the PNG report, ``check``
validates a calibration on fresh views, and ``session`` / ``sources`` tie them together
for ``percept calibrate`` and the calibration node. ``imu`` reads and writes IMU
calibrations (noise, rate, ``T_imu_cam``, time shift) in Kalibr's names and units.
"""

from __future__ import annotations

from percept.calib.board import BoardSpec, Detection, detect_board, parse_board
from percept.calib.check import CheckResult, CheckThresholds, check_mono, check_stereo
from percept.calib.imu import ImuCalibration, ImuNoise, imu_yaml, read_imu_yaml
from percept.calib.session import MonoSession, SelectionConfig, StereoSession
from percept.calib.solve import (
    CalibrationConfig,
    MonoCalibration,
    StereoCalibration,
    calibrate_mono,
    calibrate_stereo,
)
from percept.calib.views import Coverage, ViewSelector, view_params
from percept.calib.yaml_io import read_camera_info_yaml, write_camera_info_yaml

__all__ = [
    "BoardSpec",
    "CalibrationConfig",
    "CheckResult",
    "CheckThresholds",
    "Coverage",
    "Detection",
    "ImuCalibration",
    "ImuNoise",
    "MonoCalibration",
    "MonoSession",
    "SelectionConfig",
    "StereoCalibration",
    "StereoSession",
    "ViewSelector",
    "calibrate_mono",
    "calibrate_stereo",
    "check_mono",
    "check_stereo",
    "detect_board",
    "imu_yaml",
    "parse_board",
    "read_camera_info_yaml",
    "read_imu_yaml",
    "view_params",
    "write_camera_info_yaml",
]
