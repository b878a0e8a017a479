"""Trajectory generators shared by the evaluation tests."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from percept.eval.trajectory import Trajectory

S = 1_000_000_000
T0_NS = 1_700_000_000 * S


def smooth_pose(t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A smooth 6-DoF motion: (N, 3) positions, m, and (N, 4) quaternions xyzw at t_s."""
    pos = np.stack(
        [
            3.0 * np.sin(0.21 * t_s) + 0.5 * t_s,
            2.0 * np.sin(0.33 * t_s + 0.4),
            0.4 * np.sin(0.5 * t_s) + 1.0,
        ],
        axis=1,
    )
    euler = np.stack(
        [0.6 * np.sin(0.17 * t_s), 0.1 * np.sin(0.4 * t_s), 0.08 * np.cos(0.3 * t_s)], axis=1
    )
    return pos, Rotation.from_euler("zyx", euler).as_quat()


def make_pair(
    seed: int,
    *,
    seconds: float = 20.0,
    gt_rate_hz: float = 100.0,
    est_rate_hz: float = 30.0,
    offset_s: float = 0.0,
    noise_m: float = 0.02,
    noise_rad: float = 0.01,
    scale: float = 1.0,
    gap_s: tuple[float, float] | None = None,
) -> tuple[Trajectory, Trajectory]:
    """(ground truth, estimate): the estimate noisy, drifting, in another frame and scale.

    The estimate's stamps are jittered and shifted by ``offset_s`` (its clock runs
    behind, so matching needs ``offset_ns = +offset_s``). ``gap_s`` removes a stretch of
    ground truth so that some estimated poses find no partner.
    """
    rng = np.random.default_rng(seed)
    t_gt = np.arange(0.0, seconds, 1.0 / gt_rate_hz)
    if gap_s is not None:
        t_gt = t_gt[(t_gt < gap_s[0]) | (t_gt > gap_s[1])]
    pos, quat = smooth_pose(t_gt)
    gt = Trajectory.from_quaternions(pos, quat, T0_NS + np.round(t_gt * S).astype(np.int64), "gt")
    t_est = np.arange(0.05, seconds - 0.05, 1.0 / est_rate_hz)
    t_est = t_est + rng.uniform(-0.002, 0.002, t_est.size)
    pos_e, quat_e = smooth_pose(t_est)
    drift = np.cumsum(rng.normal(0.0, noise_m / 4, (t_est.size, 3)), axis=0)
    pos_e = pos_e + drift + rng.normal(0.0, noise_m, pos_e.shape)
    rot_e = Rotation.from_rotvec(rng.normal(0.0, noise_rad, (t_est.size, 3))) * Rotation.from_quat(
        quat_e
    )
    # The estimate lives in its own world frame, at its own scale.
    R_est_world = Rotation.from_euler("zyx", rng.uniform(-np.pi, np.pi, 3))
    t_est_world = rng.uniform(-5.0, 5.0, 3)
    pos_e = scale * R_est_world.apply(pos_e) + t_est_world
    rot_e = R_est_world * rot_e
    stamps = T0_NS + np.round((t_est - offset_s) * S).astype(np.int64)
    est = Trajectory.from_quaternions(pos_e, rot_e.as_quat(), stamps, "est")
    return gt, est
