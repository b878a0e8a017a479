"""The synthetic board renderer puts corners where the camera model says they are."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from percept.calib.board import BoardSpec, detect_board
from percept.calib.render import (
    board_object_points,
    charuco_texture,
    chessboard_texture,
    project_points,
    random_board_poses,
    render_plane,
    texture_size_m,
    undistort_pixels,
)
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose

K = np.array([[520.0, 0.0, 322.0], [0.0, 515.0, 238.0], [0.0, 0.0, 1.0]])
MODELS = {
    "plumb_bob": [-0.25, 0.08, 0.001, -0.0005, -0.01],
    "rational_polynomial": [0.2, -0.1, 0.001, -0.0005, 0.01, 0.5, -0.05, 0.02],
    "equidistant": [0.05, -0.01, 0.002, -0.0005],
}


@pytest.mark.parametrize("distortion_model", sorted(MODELS))
def test_project_points_matches_opencv(distortion_model: str) -> None:
    model = CameraModel(640, 480, distortion_model, K, MODELS[distortion_model])
    rng = np.random.default_rng(0)
    pts = rng.uniform([-1, -1, 1], [1, 1, 3], (200, 3))
    zero = np.zeros(3)
    if distortion_model == "equidistant":
        ref, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), zero, zero, K, model.D)
    else:
        ref, _ = cv2.projectPoints(pts, zero, zero, K, model.D)
    np.testing.assert_allclose(project_points(pts, model), ref.reshape(-1, 2), atol=1e-9)


@pytest.mark.parametrize("distortion_model", sorted(MODELS))
def test_undistort_pixels_round_trips_within_0p001_px(distortion_model: str) -> None:
    model = CameraModel(640, 480, distortion_model, K, MODELS[distortion_model])
    uv = np.random.default_rng(1).uniform([20, 20], [620, 460], (500, 2))
    xy = undistort_pixels(uv, model)
    back = project_points(np.c_[xy, np.ones(len(xy))], model)
    np.testing.assert_allclose(back, uv, atol=1e-3)


@pytest.mark.parametrize("distortion_model", sorted(MODELS))
def test_rendered_chessboard_corners_land_within_0p2_px(distortion_model: str) -> None:
    model = CameraModel(640, 480, distortion_model, K, MODELS[distortion_model])
    texture, first = chessboard_texture(9, 6, 32)
    size_m = texture_size_m(texture, 32, 0.03)
    obj = board_object_points(9, 6, 0.03, first).astype(np.float64)
    for pose in random_board_poses(2, np.random.default_rng(2), model, size_m):
        image = render_plane(texture, size_m, pose, model)
        assert image.shape == (480, 640)
        assert image.dtype == np.uint8
        found, corners = cv2.findChessboardCorners(image, (9, 6))
        assert found
        corners = cv2.cornerSubPix(
            image, corners, (5, 5), (-1, -1), (cv2.TERM_CRITERIA_EPS | 1, 50, 1e-3)
        )
        T = pose.as_matrix()
        expected = project_points(obj @ T[:3, :3].T + T[:3, 3], model)
        np.testing.assert_allclose(corners.reshape(-1, 2), expected, atol=0.2)


def test_render_plane_shows_background_where_the_plane_is_not() -> None:
    model = CameraModel(320, 240, "plumb_bob", K / [[2], [2], [1]], np.zeros(5))
    texture = np.zeros((10, 10, 3), dtype=np.uint8)
    # A small black plane 1 m straight ahead: black in the middle, background around.
    pose = Pose(np.array([-0.05, -0.05, 1.0]))
    image = render_plane(texture, (0.1, 0.1), pose, model, background=200)
    assert image.shape == (240, 320, 3)
    assert (image[120, 160] == 0).all()
    assert (image[5, 5] == 200).all()
    # Behind the camera: background everywhere.
    behind = render_plane(texture, (0.1, 0.1), Pose(np.array([0.0, 0.0, -1.0])), model)
    assert (behind == 128).all()


def test_render_plane_raises_on_bad_texture() -> None:
    model = CameraModel(64, 48, "plumb_bob", K / [[10], [10], [1]], np.zeros(5))
    with pytest.raises(ValueError, match="uint8"):
        render_plane(np.zeros((4, 4), np.float32), (1.0, 1.0), Pose(), model)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="supersample"):
        render_plane(np.zeros((4, 4), np.uint8), (1.0, 1.0), Pose(), model, supersample=0)


def test_charuco_texture_is_detected_by_opencv() -> None:
    model = CameraModel(640, 480, "plumb_bob", K, np.zeros(5))
    texture, first = charuco_texture(7, 5, 60)
    assert first == 2.0
    size_m = texture_size_m(texture, 60, 0.04)
    pose = random_board_poses(1, np.random.default_rng(3), model, size_m, max_tilt_deg=20)[0]
    image = render_plane(texture, size_m, pose, model)
    # detect_board refines the corners: OpenCV 4.8's CharucoDetector is 0.5 px off.
    det = detect_board(image, BoardSpec("charuco", 7, 5, 0.04, 0.028, "DICT_5X5_100"))
    assert det is not None
    corners, ids = det.corners_uv, det.ids
    assert len(ids) >= 20
    obj = board_object_points(6, 4, 0.04, first).astype(np.float64)[ids]
    T = pose.as_matrix()
    expected = project_points(obj @ T[:3, :3].T + T[:3, 3], model)
    np.testing.assert_allclose(corners.reshape(-1, 2), expected, atol=0.3)


def test_random_board_poses_raises_when_the_board_cannot_fit() -> None:
    model = CameraModel(640, 480, "plumb_bob", K, np.zeros(5))
    with pytest.raises(ValueError, match="fit"):
        random_board_poses(
            1, np.random.default_rng(0), model, (2.0, 2.0), distance_m=(0.5, 0.6), max_tries=50
        )
