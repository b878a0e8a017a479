"""Calibration-board views through the synthetic stereo rig, for calibration tests.

A chessboard or ChArUco board (``percept.calib.board.BoardSpec``) is held at random
poses in front of the rig (``percept.calib.render.random_board_poses``: the whole board
seen by both cameras), rendered through each camera's distortion
(``percept.calib.render.render_plane``, anti-aliased) and composited over a render of
the warehouse behind it, so detectors see real clutter around the board. The folder
gets ``left_NNN.png``/``right_NNN.png`` pairs (``percept calibrate`` pairs them by name),
the true calibration in ``truth/left.yaml`` and ``truth/right.yaml``, and
``board_poses.yaml`` with the board and every view's ``T_left_board``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import yaml

from percept.calib.board import BoardSpec
from percept.calib.render import (
    charuco_texture,
    chessboard_texture,
    random_board_poses,
    render_plane,
    texture_size_m,
)
from percept.calib.yaml_io import write_camera_info_yaml
from percept.errors import ConfigError
from percept.geometry.pose import Pose
from percept.synth.rig import StereoRig, StereoRigConfig, to_image
from percept.synth.trajectory import LoopTrajectory
from percept.synth.warehouse import build_scene

__all__ = ["BoardViews", "render_board_views"]


@dataclass
class BoardViews:
    """What ``render_board_views`` wrote.

    Attributes:
        folder: the output folder.
        pairs: (left, right) PNG paths, one pair per view.
        T_left_board: (4, 4) float64 pose of the board frame (corner 0 at the origin,
            as ``BoardSpec.object_points``) in the left optical frame, per view.
        rig: the rig that rendered them (its models are the true calibration).
    """

    folder: Path
    pairs: list[tuple[Path, Path]]
    T_left_board: list[npt.NDArray[np.float64]]
    rig: StereoRig


def _texture(board: BoardSpec, square_px: int) -> tuple[npt.NDArray[np.uint8], float]:
    if board.kind == "charuco":
        return charuco_texture(
            board.cols, board.rows, square_px, board.marker_m / board.square_m, board.dictionary
        )
    return chessboard_texture(board.cols, board.rows, square_px)


def render_board_views(
    out_dir: Path | str,
    board: BoardSpec,
    views: int = 20,
    *,
    rig: StereoRigConfig | None = None,
    seed: int = 0,
    scene: str = "warehouse",
    noise: bool = True,
) -> BoardViews:
    """Render ``views`` stereo pairs of a calibration board.

    Args:
        out_dir: folder for the PNGs and YAML files (created).
        board: the target.
        views: number of stereo pairs, >= 1.
        rig: the stereo rig (default ``StereoRigConfig()``); mono8 gives grey PNGs,
            bgr8 colour ones.
        seed: board poses, lighting and background.
        scene: background scene kind.
        noise: add sensor noise.

    Returns:
        The files and the true board poses.

    Raises:
        ConfigError: fewer than one view, or a board too big to fit both views.
    """
    if views < 1:
        msg = f"board views must be >= 1, got {views}"
        raise ConfigError(msg)
    folder = Path(out_dir)
    stereo = StereoRig(rig)
    cfg = stereo.config
    world = build_scene(scene, seed)
    trajectory = LoopTrajectory(world.loop, "ground", seed)
    rng = np.random.default_rng([seed, 0xB0A4D])
    # About 4 texture pixels per image pixel across a square at the nearest distance.
    square_px = max(20, int(4 * 0.7 * cfg.width / max(board.cols + 1, 1)))
    texture, first_sq = _texture(board, square_px)
    size_m = texture_size_m(texture, square_px, board.square_m)
    try:
        poses = random_board_poses(views, rng, stereo.left, size_m, keep_out=[stereo.T_right_left])
    except ValueError as err:
        msg = f"board {board}: {err}"
        raise ConfigError(msg) from err
    # Plane frame (texture corner at the origin) -> board frame (corner 0 at the origin).
    T_plane_board = np.eye(4)
    T_plane_board[:2, 3] = first_sq * board.square_m
    white = np.full_like(texture, 255)
    folder.mkdir(parents=True, exist_ok=True)
    pairs: list[tuple[Path, Path]] = []
    T_left_boards: list[npt.NDArray[np.float64]] = []
    times = rng.uniform(0.0, 120.0, views)
    for i, (pose, t) in enumerate(zip(poses, times, strict=True)):
        background = stereo.render(world, trajectory.sample([t]).matrices()[0])
        exposure = 0.2 / max(float(np.median(background.left)), 1e-6)
        gain = rng.uniform(0.6, 0.95)  # board brightness: white paper under the lamps
        offset = rng.uniform(10.0, 40.0)
        T_left_plane = pose.as_matrix()
        images = []
        for T_cam_left, model, radiance in (
            (np.eye(4), stereo.left, background.left),
            (stereo.T_right_left, stereo.right, background.right),
        ):
            T_cam_plane = Pose.from_matrix(T_cam_left @ T_left_plane)
            board_img = render_plane(texture, size_m, T_cam_plane, model, background=0)
            alpha = render_plane(white, size_m, T_cam_plane, model, background=0)
            alpha_f = alpha.astype(np.float32) / 255.0
            board_f = offset * alpha_f + board_img.astype(np.float32) * (
                gain * (255 - offset) / 255
            )
            scene_img = to_image(radiance, exposure, "mono8").astype(np.float32)
            mixed = board_f + (1.0 - alpha_f) * scene_img
            if noise:
                mixed += rng.normal(0.0, 1.5, mixed.shape).astype(np.float32)
            mono = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
            images.append(
                mono if cfg.encoding == "mono8" else cv2.cvtColor(mono, cv2.COLOR_GRAY2BGR)
            )
        left_path = folder / f"left_{i:03d}.png"
        right_path = folder / f"right_{i:03d}.png"
        for path, image in ((left_path, images[0]), (right_path, images[1])):
            if not cv2.imwrite(str(path), image):
                msg = f"{path}: cannot write the image"
                raise ConfigError(msg)
        pairs.append((left_path, right_path))
        T_left_boards.append(T_left_plane @ T_plane_board)
    write_camera_info_yaml(folder / "truth" / "left.yaml", stereo.left, "left")
    write_camera_info_yaml(folder / "truth" / "right.yaml", stereo.right, "right")
    doc = {
        "board": str(board),
        "T_right_left": np.round(stereo.T_right_left, 12).tolist(),
        "views": [
            {"left": lp.name, "right": rp.name, "T_left_board": np.round(T, 12).tolist()}
            for (lp, rp), T in zip(pairs, T_left_boards, strict=True)
        ],
    }
    (folder / "board_poses.yaml").write_text(
        "# Board views rendered by percept synth: true board poses in the left optical frame\n"
        + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None),
        encoding="utf-8",
    )
    return BoardViews(folder, pairs, T_left_boards, stereo)
