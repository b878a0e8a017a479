"""Board specifications and detection (chessboard, partial ChArUco)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from percept.calib.board import BoardSpec, detect_board, parse_board
from percept.calib.render import (
    board_object_points,
    charuco_texture,
    project_points,
    random_board_poses,
    render_plane,
    texture_size_m,
)
from percept.errors import CalibrationError

from .calib_views import BOARD, CAMERAS, rendered


def test_parse_board_reads_chessboard_and_charuco() -> None:
    board = parse_board("chessboard:9x6:0.025")
    assert (board.kind, board.cols, board.rows, board.square_m) == ("chessboard", 9, 6, 0.025)
    assert board.n_corners == 54
    charuco = parse_board("charuco:7x5:0.04:0.028:dict_5x5_100")
    assert charuco.dictionary == "DICT_5X5_100"
    assert charuco.corner_grid == (6, 4)
    assert parse_board(str(charuco)) == charuco


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("checkers:9x6:0.025", "expected chessboard"),
        ("chessboard:9-6:0.025", "COLSxROWS"),
        ("chessboard:9x6:big", "numbers in metres"),
        ("chessboard:1x6:0.025", "at least 2x2"),
        ("charuco:7x5:0.04:0.05:DICT_5X5_100", "marker size"),
        ("charuco:7x5:0.04:0.03:DICT_9X9_1", "unknown ArUco dictionary"),
    ],
)
def test_parse_board_raises_on_bad_text(text: str, match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        parse_board(text)


def test_chessboard_corners_are_sub_pixel_and_top_first() -> None:
    views = rendered("plumb_bob")
    obj = board_object_points(BOARD.cols, BOARD.rows, BOARD.square_m, views.first_corner_sq)
    for image, pose in zip(views.left[:4], views.poses[:4], strict=True):
        # Turned upside down, the board is still reported from its upper end.
        for img, flip in ((image, False), (image[::-1, ::-1].copy(), True)):
            det = detect_board(img, BOARD)
            assert det is not None
            assert det.corners_uv[0, 1] < det.corners_uv[-1, 1]
            T = pose.as_matrix()
            truth = project_points(obj.astype(np.float64) @ T[:3, :3].T + T[:3, 3], views.camera)
            if flip:
                truth = np.array([639.0, 479.0]) - truth[::-1]
            np.testing.assert_allclose(det.corners_uv, truth, atol=0.15)


def test_colour_and_16_bit_images_are_detected() -> None:
    image = rendered("plumb_bob").left[0]
    colour = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    deep = image.astype(np.uint16) * 200
    for img in (colour, deep):
        det = detect_board(img, BOARD)
        assert det is not None
        assert det.is_complete(BOARD)


def test_no_board_gives_none_and_bad_shapes_raise() -> None:
    rng = np.random.default_rng(0)
    assert detect_board(rng.integers(0, 255, (480, 640), dtype=np.uint8), BOARD) is None
    assert detect_board(np.full((480, 640), 128, np.uint8), BOARD) is None
    with pytest.raises(ValueError, match="image must be"):
        detect_board(np.zeros((4, 4, 2, 2), np.uint8), BOARD)


def test_board_touching_the_border_is_not_used() -> None:
    image = rendered("plumb_bob").left[0]
    det = detect_board(image, BOARD)
    assert det is not None
    # Cut the image just inside the first corner: the board may still be found, but
    # a corner within 8 px of the edge is not trusted.
    x0 = int(det.corners_uv[:, 0].min()) - 4
    assert detect_board(np.ascontiguousarray(image[:, x0:]), BOARD) is None


def test_charuco_partial_view_is_usable() -> None:
    board = BoardSpec("charuco", 7, 5, 0.04, 0.028, "DICT_5X5_100")
    camera = CAMERAS["plumb_bob"]
    texture, first = charuco_texture(7, 5, 60, marker_ratio=0.7)
    size_m = texture_size_m(texture, 60, 0.04)
    pose = random_board_poses(1, np.random.default_rng(4), camera, size_m, max_tilt_deg=20)[0]
    T = pose.as_matrix()
    full = render_plane(texture, size_m, pose, camera)
    whole = detect_board(full, board)
    assert whole is not None
    assert whole.is_complete(board)
    # Cut the image through the middle of the board: the left half stays usable.
    cut = int(whole.corners_uv[:, 0].mean())
    det = detect_board(np.ascontiguousarray(full[:, :cut]), board)
    assert det is not None
    assert 8 <= len(det.ids) < board.n_corners
    assert det.image_size == (cut, 480)
    obj = board_object_points(6, 4, 0.04, first).astype(np.float64)[det.ids]
    truth = project_points(obj @ T[:3, :3].T + T[:3, 3], camera)
    np.testing.assert_allclose(det.corners_uv, truth, atol=0.3)
    np.testing.assert_allclose(
        det.object_points(board)[:, :2], (obj[:, :2] - first * 0.04), atol=1e-6
    )
