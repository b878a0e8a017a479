"""The tracker on real EuRoC MH_01 stereo (10 s hand-held, 10 Hz), rectified here."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import yaml

from percept.features import FeatureTracker, FeatureTrackerConfig
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.rectify import StereoRectifier

logger = logging.getLogger(__name__)


def _camera(folder: Path) -> tuple[CameraModel, np.ndarray]:
    """EuRoC ``sensor.yaml``: the camera model and ``T_body_cam`` (4, 4)."""
    data = yaml.safe_load((folder / "sensor.yaml").read_text().replace("%YAML:1.0", ""))
    fu, fv, cu, cv = data["intrinsics"]
    w, h = data["resolution"]
    K = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
    D = np.array([*data["distortion_coefficients"], 0.0])
    T_body_cam = np.asarray(data["T_BS"]["data"], dtype=np.float64).reshape(4, 4)
    return CameraModel(w, h, "plumb_bob", K, D), T_body_cam


def test_tracks_real_euroc_stereo(data_dir: Path) -> None:
    mav = data_dir / "vi_moving_euroc_mh01" / "mav0"
    left_model, T_body_left = _camera(mav / "cam0")
    right_model, T_body_right = _camera(mav / "cam1")
    T_right_left = Pose.from_matrix(np.linalg.inv(T_body_right) @ T_body_left)
    rectifier = StereoRectifier()
    names = sorted(p.name for p in (mav / "cam0" / "data").glob("*.png"))
    assert len(names) == 100
    tracker = FeatureTracker(FeatureTrackerConfig(num_features=200))
    counts, stereo, lifetimes = [], [], {}
    for name in names:
        raw_left = cv2.imread(str(mav / "cam0" / "data" / name), cv2.IMREAD_GRAYSCALE)
        raw_right = cv2.imread(str(mav / "cam1" / "data" / name), cv2.IMREAD_GRAYSCALE)
        left, right, _lm, _rm = rectifier.rectify(
            raw_left, raw_right, left_model, right_model, T_right_left
        )
        frame = tracker.track(int(name[:-4]), np.asarray(left), np.asarray(right))
        counts.append(frame.counts.tracked)
        stereo.append(frame.counts.stereo_matched / max(len(frame), 1))
        lifetimes.update(zip(frame.ids.tolist(), frame.ages.tolist(), strict=True))
    tracked = np.asarray(counts[1:])
    lengths = np.asarray(list(lifetimes.values()))
    logger.info(
        "EuRoC MH_01: tracked per frame median %.0f (min %d), stereo %.0f %%, "
        "track length median %.1f mean %.1f frames",
        np.median(tracked),
        tracked.min(),
        100 * np.median(stereo),
        np.median(lengths),
        lengths.mean(),
    )
    # Measured: tracked median 134 (min 33), stereo 55 %, track length median 1, mean 4.0
    # (fast hand-held motion at 10 Hz: up to 5.5 deg between frames).
    assert np.median(tracked) >= 110
    assert tracked.min() >= 20
    assert np.median(stereo) > 0.4
    assert lengths.mean() >= 3.0
