"""Odometry of a body from a VIO estimate: pose and twist covariances, re-anchoring.

What :class:`~percept.nodes.vio.VioNode` needs to turn the estimator's IMU state and
its error-state covariance ([dtheta, dp, dv, db_g, db_a], dtheta the right, IMU-frame
perturbation ``R = R_hat Exp(dtheta)``) into nav_msgs/Odometry of ``base_link``:
the pose covariance in the parent frame, the twist and its covariance in the child
frame, and the yaw-and-translation transform that keeps ``odom`` continuous.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from percept.geometry import so3

if TYPE_CHECKING:
    from percept.vio.estimator import VioEstimate

__all__ = [
    "block_rotation",
    "pose_covariance",
    "symmetric",
    "twist_and_covariance",
    "yaw_and_translation",
]


def block_rotation(R: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(6, 6) float64 ``diag(R, R)``: rotates a pose or twist covariance."""
    G = np.zeros((6, 6))
    G[:3, :3] = R
    G[3:, 3:] = R
    return G


def symmetric(S: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``(S + S^T) / 2`` with round-off negative variances set to 0.

    A variance that is zero by construction (the start's yaw) comes out of the
    Jacobian products as -1e-24; consumers of nav_msgs/Odometry (robot_localization)
    reject negative variances, so the diagonal is clipped at 0.
    """
    out = np.asarray(0.5 * (S + S.T), dtype=np.float64)
    diag = np.einsum("ii->i", out)
    np.maximum(diag, 0.0, out=diag)
    return out


def pose_covariance(
    covariance: npt.NDArray[np.float64],
    R_world_imu: npt.NDArray[np.float64],
    t_imu_base_m: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Covariance of the base pose in the world frame, as nav_msgs/Odometry orders it.

    The estimator's orientation error is the right (IMU-frame) perturbation
    ``R = R_hat Exp(dtheta)``; a world-frame (left) perturbation ``Exp(dphi) R_hat`` has
    ``dphi = R dtheta``. The base sits at ``t_imu_base`` in the IMU frame, so its
    position error is ``dp - R [t_imu_base]x dtheta``.

    Args:
        covariance: (15, 15) float64 error-state covariance of [dtheta, dp, dv, db_g,
            db_a] (dtheta IMU frame, rad; dp world frame, m).
        R_world_imu: (3, 3) float64 orientation of the IMU in the world.
        t_imu_base_m: (3,) float64 base_link origin in the IMU frame, metres.

    Returns:
        (6, 6) float64 covariance of (x, y, z, rot_x, rot_y, rot_z), world frame,
        symmetric.
    """
    J = np.zeros((6, 15))
    J[:3, :3] = -R_world_imu @ so3.hat(t_imu_base_m)
    J[:3, 3:6] = np.eye(3)
    J[3:, :3] = R_world_imu
    return symmetric(J @ covariance @ J.T)


def twist_and_covariance(
    estimate: VioEstimate,
    R_base_imu: npt.NDArray[np.float64],
    t_imu_base_m: npt.NDArray[np.float64],
    gyro_white_var_rad2_s2: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Linear and angular velocity of base_link in its own frame, and their covariance.

    ``v_base = R_base_imu (R_world_imu^T v_world_imu + w x t_imu_base)``,
    ``w_base = R_base_imu w`` with ``w`` the bias-corrected gyro reading. The covariance
    comes from the estimator's (dtheta, dv, db_g) and the gyro's white noise (``w``
    is one reading).

    Args:
        estimate: the estimator's state.
        R_base_imu: (3, 3) float64 orientation of the IMU in base_link.
        t_imu_base_m: (3,) float64 base_link origin in the IMU frame, metres.
        gyro_white_var_rad2_s2: variance of one gyro reading's white noise, (rad/s)^2.

    Returns:
        ``linear_velocity_m_s`` (3,), ``angular_velocity_rad_s`` (3,), both base_link
        frame, and their (6, 6) covariance (vx, vy, vz, wx, wy, wz), symmetric.
    """
    R_wi = estimate.T_world_imu[:3, :3]
    v_imu = R_wi.T @ estimate.v_world_imu_m_s
    w_imu = np.asarray(estimate.angular_velocity_imu_rad_s, dtype=np.float64)
    linear = R_base_imu @ (v_imu + np.cross(w_imu, t_imu_base_m))
    angular = R_base_imu @ w_imu
    # Over [dtheta, dp, dv, db_g, db_a]: d(R^T v) = [v_imu]x dtheta + R^T dv and
    # d(w x t) = [t]x (db_g + n_g), dw = -(db_g + n_g).
    J = np.zeros((6, 15))
    J[:3, :3] = R_base_imu @ so3.hat(v_imu)
    J[:3, 6:9] = R_base_imu @ R_wi.T
    J[:3, 9:12] = R_base_imu @ so3.hat(t_imu_base_m)
    J[3:, 9:12] = -R_base_imu
    J_noise = np.vstack([R_base_imu @ so3.hat(t_imu_base_m), -R_base_imu])
    cov = J @ estimate.covariance @ J.T + gyro_white_var_rad2_s2 * (J_noise @ J_noise.T)
    return linear, angular, symmetric(cov)


def yaw_and_translation(T: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``T`` with its rotation reduced to the rotation about z (gravity stays z)."""
    yaw = math.atan2(T[1, 0], T[0, 0])
    out = np.eye(4)
    out[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    out[:3, 3] = T[:3, 3]
    return out
