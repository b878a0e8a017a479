"""Checks of an existing calibration on fresh views."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from percept.calib.check import CheckThresholds, check_mono, check_stereo
from percept.calib.solve import calibrate_stereo
from percept.geometry.camera import CameraModel

from .calib_views import BOARD, CAMERAS, render_views

# Fresh views: rendered with another seed than the ones a calibration would use.
FRESH = render_views(CAMERAS["plumb_bob"], 8, 11)


def test_true_camera_passes_on_fresh_views() -> None:
    result = check_mono(CAMERAS["plumb_bob"], FRESH.detections(), BOARD)
    assert result.passed, result.summary()
    assert result.metrics["camera_rms_px"] < 0.2
    assert result.summary().startswith("PASS")


def test_wrong_focal_length_fails_its_threshold() -> None:
    truth = CAMERAS["plumb_bob"]
    wrong = replace(truth, K=truth.K * np.array([[1.03], [1.03], [1.0]]), D=np.zeros(5))
    result = check_mono(wrong, FRESH.detections(), BOARD, CheckThresholds(max_rms_px=0.5))
    assert not result.passed
    assert "reprojection RMS on 8 fresh views" in result.failures[0]
    assert "FAIL" in result.summary()


def test_size_mismatch_and_bad_models_fail_without_solving() -> None:
    truth = CAMERAS["plumb_bob"]
    small = replace(truth, width=320, height=240)
    result = check_mono(small, FRESH.detections(), BOARD, name="cam.yaml")
    assert not result.passed
    assert "cam.yaml: images are 640x480 but the calibration is for 320x240" in result.failures
    nan_k = CameraModel(640, 480, "plumb_bob", np.full((3, 3), np.nan), np.zeros(5))
    assert any("NaN" in f for f in check_mono(nan_k, FRESH.detections(), BOARD).failures)
    uncalibrated = CameraModel(640, 480, "", np.eye(3), np.zeros(0))
    assert any(
        "distortion_model is empty" in f
        for f in check_mono(uncalibrated, FRESH.detections(), BOARD).failures
    )


def test_too_few_fresh_views_fail() -> None:
    result = check_mono(CAMERAS["plumb_bob"], FRESH.detections()[:2], BOARD)
    assert not result.passed
    assert "only 2 fresh views" in result.failures[0]


def test_stereo_check_passes_for_a_calibration_and_fails_for_a_swapped_pair() -> None:
    train = render_views(CAMERAS["plumb_bob"], 12, 12)
    calib = calibrate_stereo(train.pairs(), BOARD)
    fresh = FRESH.pairs()
    good = check_stereo(calib.left, calib.right, fresh, BOARD)
    assert good.passed, good.summary()
    assert good.metrics["epipolar_rms_px"] < 0.3
    assert good.metrics["baseline_m"] > 0.1
    # Rotating the right camera's rectification by 0.5 degree tilts its epipolar lines.
    angle = np.radians(0.5)
    tilt = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    bad_right = replace(calib.right, R=tilt @ calib.right.R)
    bad = check_stereo(calib.left, bad_right, fresh, BOARD)
    assert not bad.passed
    assert any("rectified epipolar RMS" in f for f in bad.failures)
    # A left camera given as the right one has no baseline.
    swapped = check_stereo(calib.left, calib.left, fresh, BOARD)
    assert any("no baseline" in f for f in swapped.failures)
