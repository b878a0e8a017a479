"""Calibration-board views through the synthetic rig: detectable, with exact poses."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from percept.calib.board import detect_board, parse_board
from percept.calib.render import project_points
from percept.calib.yaml_io import read_camera_info_yaml
from percept.errors import ConfigError
from percept.io.sources import FolderStereoImages
from percept.synth.board import render_board_views
from percept.synth.rig import StereoRigConfig


@pytest.mark.parametrize(
    ("spec", "width", "height"),
    [
        ("chessboard:7x5:0.06", 320, 240),
        # ArUco markers need ~20 px to decode at the far end of the pose range.
        ("charuco:6x4:0.08:0.06:DICT_5X5_100", 640, 480),
    ],
)
def test_board_views_are_detected_where_the_true_pose_projects(
    tmp_path: Path, spec: str, width: int, height: int
) -> None:
    board = parse_board(spec)
    rig_config = StereoRigConfig(width=width, height=height)
    views = render_board_views(tmp_path, board, 2, rig=rig_config, seed=1)
    rig = views.rig
    assert len(FolderStereoImages(tmp_path).pairs()) == 2
    for (left_path, right_path), T_left_board in zip(views.pairs, views.T_left_board, strict=True):
        for path, model, T_cam_left in (
            (left_path, rig.left, np.eye(4)),
            (right_path, rig.right, rig.T_right_left),
        ):
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            assert image.shape == (height, width)
            found = detect_board(image, board)
            assert found is not None, path.name
            T = T_cam_left @ T_left_board
            points = board.object_points().astype(np.float64) @ T[:3, :3].T + T[:3, 3]
            truth = project_points(points, model)[found.ids]
            error = np.linalg.norm(found.corners_uv - truth, axis=1)
            assert np.median(error) < 0.3


def test_board_views_write_truth_and_poses(tmp_path: Path) -> None:
    views = render_board_views(
        tmp_path, parse_board("chessboard:6x4:0.05"), 1, rig=StereoRigConfig(width=160, height=120)
    )
    _, left = read_camera_info_yaml(tmp_path / "truth" / "left.yaml")
    assert left.allclose(views.rig.left, atol=1e-12)
    doc = yaml.safe_load((tmp_path / "board_poses.yaml").read_text())
    assert doc["board"] == "chessboard:6x4:0.05"
    np.testing.assert_allclose(doc["views"][0]["T_left_board"], views.T_left_board[0], atol=1e-9)


def test_board_views_raise_on_zero_views(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="board views must be >= 1"):
        render_board_views(tmp_path, parse_board("chessboard:6x4:0.05"), 0)
