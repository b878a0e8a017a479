"""A rectified synthetic stereo rig with exact ground truth, for the front-end tests.

Frames are rendered by ``percept.synth`` (the warehouse, raw distorted images) and
rectified with the rig's own camera_info R and P, as a node would. Ground truth comes
from ray casting through rectified pixels, so it needs no interpolation of a depth map.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from percept.rectify import StereoRectifier, rectify_image
from percept.synth.generate import default_rig
from percept.synth.rig import StereoRig, to_image
from percept.synth.trajectory import LoopTrajectory
from percept.synth.warehouse import build_warehouse

FloatArray = npt.NDArray[np.float64]


class SynthStereo:
    """Render rectified mono pairs at any ``base_link`` pose, with ray-cast ground truth."""

    def __init__(self, width: int = 320, height: int = 240, seed: int = 0) -> None:
        self.scene = build_warehouse(seed)
        self.trajectory = LoopTrajectory(self.scene.loop, "handheld", seed)
        self.rig = StereoRig(default_rig("handheld", width=width, height=height))
        self.maps = StereoRectifier().maps(self.rig.left, self.rig.right)
        left_rect, right_rect = self.maps[0].rectified, self.maps[1].rectified
        #: (3, 3) intrinsics of both rectified images.
        self.K = np.asarray(left_rect.P[:3, :3], dtype=np.float64)
        #: stereo baseline, metres.
        self.baseline_m = float(-right_rect.P[0, 3] / right_rect.P[0, 0])
        T_raw_rect = np.eye(4)
        T_raw_rect[:3, :3] = np.asarray(self.rig.left.R).T
        #: (4, 4) rectified left camera in ``base_link``.
        self.T_base_rect = self.rig.T_base_left @ T_raw_rect
        first = self.rig.render(self.scene, self.pose(0.0))
        luminance = first.left @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        self.exposure = 0.2 / float(np.median(luminance))

    def pose(self, t_s: float) -> FloatArray:
        """(4, 4) ``T_world_base`` on the trajectory at ``t_s``."""
        return np.asarray(self.trajectory.sample([t_s]).matrices()[0], dtype=np.float64)

    def T_world_cam(self, T_world_base: FloatArray) -> FloatArray:
        """(4, 4) pose of the rectified left camera."""
        return np.asarray(T_world_base @ self.T_base_rect, dtype=np.float64)

    def render(
        self, T_world_base: FloatArray, rng: np.random.Generator | None = None
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """Rectified (left, right) (H, W) uint8 mono images at a pose."""
        out = self.rig.render(self.scene, T_world_base)
        images = [to_image(r, self.exposure, "mono8", rng) for r in (out.left, out.right)]
        left = np.asarray(rectify_image(images[0], self.maps[0]), dtype=np.uint8)
        right = np.asarray(rectify_image(images[1], self.maps[1]), dtype=np.uint8)
        return left, right

    def cast(self, T_world_base: FloatArray, uv: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """World points seen at rectified left pixels: ((N, 3) world, (N,) z-depth).

        NaN where a ray hits nothing.
        """
        T = self.T_world_cam(T_world_base)
        pix = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        xy1 = np.concatenate([pix, np.ones((pix.shape[0], 1))], axis=1) @ np.linalg.inv(self.K).T
        rays = np.empty((pix.shape[0], 6), dtype=np.float32)
        rays[:, :3] = T[:3, 3]
        rays[:, 3:] = xy1 @ T[:3, :3].T
        hits = self.scene.cast(rays)
        z = np.where(hits.valid, hits.t_hit.astype(np.float64), np.nan)
        points = T[:3, 3] + z[:, None] * (xy1 @ T[:3, :3].T)
        return points, z

    def project(self, T_world_base: FloatArray, points_world: FloatArray) -> FloatArray:
        """(N, 2) rectified left pixels of world points."""
        T_cam_world = np.linalg.inv(self.T_world_cam(T_world_base))
        p = points_world @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
        uvw = p @ self.K.T
        return np.asarray(uvw[:, :2] / uvw[:, 2:3], dtype=np.float64)

    def visible(self, T_world_base: FloatArray, points_world: FloatArray) -> npt.NDArray[np.bool_]:
        """(N,) bool: the point is the first surface on its ray (not occluded)."""
        uv = self.project(T_world_base, points_world)
        _p, z = self.cast(T_world_base, uv)
        T_cam_world = np.linalg.inv(self.T_world_cam(T_world_base))
        z_true = points_world @ T_cam_world[2, :3] + T_cam_world[2, 3]
        return np.asarray(np.abs(z - z_true) < 1e-3 * np.maximum(z_true, 1.0))
