"""Rendered calibration views with known cameras, shared by the calibration tests."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.board import BoardSpec, Detection, detect_board
from percept.calib.render import (
    chessboard_texture,
    random_board_poses,
    render_plane,
    texture_size_m,
)
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose

BOARD = BoardSpec("chessboard", 9, 6, 0.03)
SQUARE_PX = 32

CAMERAS = {
    "plumb_bob": CameraModel(
        640,
        480,
        "plumb_bob",
        [[520.0, 0.0, 322.0], [0.0, 515.0, 238.0], [0.0, 0.0, 1.0]],
        [-0.25, 0.08, 0.001, -0.0005, 0.0],
    ),
    "equidistant": CameraModel(
        640,
        480,
        "equidistant",
        [[300.0, 0.0, 318.0], [0.0, 302.0, 243.0], [0.0, 0.0, 1.0]],
        [0.05, -0.01, 0.002, -0.0005],
    ),
    "rational_polynomial": CameraModel(
        640,
        480,
        "rational_polynomial",
        [[520.0, 0.0, 322.0], [0.0, 515.0, 238.0], [0.0, 0.0, 1.0]],
        [0.3, -0.1, 0.001, -0.0005, 0.01, 0.6, -0.05, 0.03],
    ),
}


def T_right_left() -> npt.NDArray[np.float64]:
    """A 12 cm stereo rig with a small rotation (takes left points to the right camera)."""
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.array([0.01, -0.02, 0.005]))[0]
    T[:3, 3] = [-0.12, 0.001, -0.002]
    return T


@dataclass(frozen=True)
class Rendered:
    """Rendered views of BOARD through a known camera (and its right partner)."""

    camera: CameraModel
    poses: list[Pose]
    left: list[npt.NDArray[np.uint8]]
    right: list[npt.NDArray[np.uint8]]
    first_corner_sq: float

    def detections(self, side: str = "left") -> list[Detection]:
        images = self.left if side == "left" else self.right
        found = [detect_board(im, BOARD, source=f"{side}{i:02d}") for i, im in enumerate(images)]
        return [d for d in found if d is not None]

    def pairs(self) -> list[tuple[Detection, Detection]]:
        out = []
        for i, (a, b) in enumerate(zip(self.left, self.right, strict=True)):
            da = detect_board(a, BOARD, source=f"left{i:02d}")
            db = detect_board(b, BOARD, source=f"right{i:02d}")
            if da is not None and db is not None:
                out.append((da, db))
        return out


def render_views(
    camera: CameraModel, n: int, seed: int, *, stereo: bool = True, max_tilt_deg: float = 40.0
) -> Rendered:
    texture, first = chessboard_texture(BOARD.cols, BOARD.rows, SQUARE_PX)
    size_m = texture_size_m(texture, SQUARE_PX, BOARD.square_m)
    T_rl = T_right_left()
    poses = random_board_poses(
        n,
        np.random.default_rng(seed),
        camera,
        size_m,
        max_tilt_deg=max_tilt_deg,
        keep_out=[T_rl] if stereo else [],
    )
    # Poses are of the texture plane; the board frame starts at the first inner corner.
    left = [render_plane(texture, size_m, p, camera) for p in poses]
    right = (
        [
            render_plane(texture, size_m, Pose.from_matrix(T_rl @ p.as_matrix()), camera)
            for p in poses
        ]
        if stereo
        else []
    )
    return Rendered(camera, poses, left, right, first)


@functools.lru_cache(maxsize=8)
def rendered(name: str, n: int = 14, seed: int = 0) -> Rendered:
    """Stereo views of BOARD through CAMERAS[name], rendered once per test session."""
    return render_views(CAMERAS[name], n, seed)
