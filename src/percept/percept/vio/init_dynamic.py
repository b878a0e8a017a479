"""Moving-start initialisation: stereo-inertial alignment over a short window.

When the rig is not still (a robot already driving, a hand-held camera), the static
initialiser cannot see gravity. A stereo camera gives metric relative poses
(:class:`percept.vio.vo.StereoOdometry`), so the visual-inertial alignment of VINS-Mono
(Qin et al., "VINS-Mono", T-RO 2018, §V-B) becomes a small *linear* problem without
the scale unknown:

1. **Gyroscope bias.** Between consecutive frames the camera's relative rotation,
   moved to the IMU frame, must equal the integrated gyroscope: minimise
   ``Σ ||Log(ΔR_gyro(b_g)ᵀ ΔR_vision)||²`` over ``b_g`` (Gauss-Newton, numeric
   Jacobian through the propagator's own integration, with a weak prior).
2. **Velocity and gravity.** With ``α_k``, ``β_k`` the pre-integrated position and
   velocity from the first IMU frame (gravity removed), the IMU positions ``p_k`` from
   vision in the first camera frame ``A`` obey
   ``p_k - p_0 - R_A_i0 α_k = v_0 Δt_k + ½ g_A Δt_k²``: linear least squares in the
   initial velocity ``v_0`` and gravity ``g_A`` (6 unknowns, 3 equations per frame).
   Gravity is then scaled to its known magnitude and ``v_0`` solved again.
3. **World frame.** ``z`` against gravity, yaw 0 at the newest frame, origin at the
   first IMU position (REP 103/105: a gravity-aligned ``odom``).

The accelerometer bias is left at zero (not separable from gravity over a short
window); the filter estimates it. The alignment is refused, with the reason, when the
window is too short, a vision pose failed, gravity's magnitude comes out wrong or the
position residual is large.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.geometry import so3
from percept.vio.config import InitConfig, PropagatorConfig
from percept.vio.init_static import gravity_aligned_rotation, initial_covariance
from percept.vio.propagator import integrate_imu
from percept.vio.state import ImuState, State
from percept.vio.vo import VoStep

__all__ = ["DynamicInit", "initialize_dynamic"]

_log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class DynamicInit:
    """Result of the stereo-inertial alignment.

    Attributes:
        state: the state at the newest frame's IMU time, or None when refused.
        reason: empty on success, else why the alignment was refused.
        gravity_norm_m_s2: ``|g_A|`` before it was scaled to the known magnitude.
        residual_m: RMS position residual of the linear solve, metres.
        bias_gyro_rad_s: (3,) float64 estimated gyroscope bias.
        frames: camera frames used.
    """

    state: State | None
    reason: str
    gravity_norm_m_s2: float = float("nan")
    residual_m: float = float("nan")
    bias_gyro_rad_s: FloatArray | None = None
    frames: int = 0


def _preintegrate(
    stamps_ns: Sequence[int],
    imu: tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
    bias_gyro: FloatArray,
    config: PropagatorConfig,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rotations, positions and velocities from the first stamp, gravity removed."""
    t, gyro, accel = imu
    start = ImuState(int(stamps_ns[0]), bias_gyro_rad_s=bias_gyro)
    g = np.array([0.0, 0.0, -config.gravity_m_s2])
    Rs, alphas, betas = [np.eye(3)], [np.zeros(3)], [np.zeros(3)]
    state = start
    for a, b in itertools.pairwise(stamps_ns):
        sel = (t >= a) & (t <= b)
        ts = t[sel]
        g_mid = 0.5 * (gyro[sel][1:] + gyro[sel][:-1])
        a_mid = 0.5 * (accel[sel][1:] + accel[sel][:-1])
        state = integrate_imu(state, np.diff(ts), g_mid, a_mid, config, with_covariance=False).imu
        dt = (b - stamps_ns[0]) / 1e9
        Rs.append(state.R_world_imu)
        alphas.append(state.p_world_imu_m - 0.5 * g * dt * dt)
        betas.append(state.v_world_imu_m_s - g * dt)
    return np.stack(Rs), np.stack(alphas), np.stack(betas)


def _gyro_bias(
    stamps_ns: Sequence[int],
    imu: tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
    R_vis: FloatArray,
    config: PropagatorConfig,
    prior_sigma_rad_s: float,
) -> FloatArray:
    """Gauss-Newton on the relative-rotation residuals (numeric Jacobian)."""

    def residuals(b: FloatArray) -> FloatArray:
        Rg, _, _ = _preintegrate(stamps_ns, imu, b, config)
        rel_g = np.einsum("nji,njk->nik", Rg[:-1], Rg[1:])
        rel_v = np.einsum("nji,njk->nik", R_vis[:-1], R_vis[1:])
        err = so3.log(np.einsum("nji,njk->nik", rel_g, rel_v))
        return np.asarray(err, dtype=np.float64).reshape(-1)

    b = np.zeros(3)
    eps = 1e-4
    for _ in range(3):
        r0 = residuals(b)
        J = np.stack([(residuals(b + eps * e) - r0) / eps for e in np.eye(3)], axis=1)
        # Weak prior b ~ N(0, sigma^2) keeps a short, slow window well posed; the
        # rotation residuals are weighted as 1 mrad.
        w = 1e-3
        A = J.T @ J / w**2 + np.eye(3) / prior_sigma_rad_s**2
        step = -np.linalg.solve(A, J.T @ r0 / w**2 + b / prior_sigma_rad_s**2)
        b = b + step
        if np.linalg.norm(step) < 1e-7:
            break
    return b


def initialize_dynamic(
    steps: Sequence[VoStep],
    imu: tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
    T_imu_cam: npt.ArrayLike,
    time_offset_ns: int = 0,
    config: InitConfig | None = None,
    propagator_config: PropagatorConfig | None = None,
) -> DynamicInit:
    """The state at the newest frame from a window of stereo-VO poses and the IMU.

    Args:
        steps: the window's stereo-odometry steps, oldest first (camera stamps).
        imu: ``(stamps_ns (M,) int64, gyro (M, 3), accel (M, 3))`` IMU readings covering
            the window (IMU clock), e.g. ``Propagator.readings``.
        T_imu_cam: (4, 4) float64 left optical frame in the IMU frame.
        time_offset_ns: ``td`` (``t_imu = t_cam + td``), nanoseconds.
        config: ``dynamic_*`` settings and initial standard deviations.
        propagator_config: gravity magnitude and the integration.

    Returns:
        The alignment (``state`` None with the reason when refused).
    """
    cfg = config if config is not None else InitConfig()
    pcfg = propagator_config if propagator_config is not None else PropagatorConfig()
    n = len(steps)
    if n < cfg.dynamic_min_frames:
        return DynamicInit(None, f"{n} frames < {cfg.dynamic_min_frames}", frames=n)
    failed = sum(not s.ok for s in steps[1:])
    if failed:
        return DynamicInit(None, f"stereo odometry failed on {failed} frames", frames=n)
    stamps = [int(s.stamp_ns) + int(time_offset_ns) for s in steps]
    t_imu = np.asarray(imu[0], dtype=np.int64)
    if t_imu.size < 2 or t_imu[0] > stamps[0] or t_imu[-1] < stamps[-1]:
        return DynamicInit(None, "IMU readings do not cover the window", frames=n)
    imu_arr = (t_imu, np.asarray(imu[1], np.float64), np.asarray(imu[2], np.float64))
    # The IMU's readings at the window's ends, interpolated into the arrays.
    ends = np.array(stamps, dtype=np.int64)
    extra = ends[~np.isin(ends, t_imu)]
    if extra.size:
        t_all = np.concatenate([t_imu, extra])
        order = np.argsort(t_all, kind="stable")
        g_all = np.stack([np.interp(t_all, t_imu, imu_arr[1][:, i]) for i in range(3)], axis=1)
        a_all = np.stack([np.interp(t_all, t_imu, imu_arr[2][:, i]) for i in range(3)], axis=1)
        imu_arr = (t_all[order], g_all[order], a_all[order])

    T_ic = np.asarray(T_imu_cam, dtype=np.float64)
    T_ci = np.linalg.inv(T_ic)
    T_A_i = np.stack([s.T_world_cam @ T_ci for s in steps])  # IMU poses in camera frame A
    R_A_i, p_A_i = T_A_i[:, :3, :3], T_A_i[:, :3, 3]

    bias_gyro = _gyro_bias(stamps, imu_arr, R_A_i, pcfg, cfg.sigma_bias_gyro_rad_s)
    _, alpha, beta = _preintegrate(stamps, imu_arr, bias_gyro, pcfg)

    dt = (np.asarray(stamps[1:], dtype=np.float64) - stamps[0]) / 1e9
    R0 = R_A_i[0]
    rhs = (p_A_i[1:] - p_A_i[0] - alpha[1:] @ R0.T).reshape(-1)
    A = np.zeros((3 * (n - 1), 6))
    eye = np.eye(3)
    A[:, :3] = np.kron(dt[:, None], eye)
    A[:, 3:] = np.kron(0.5 * dt[:, None] ** 2, eye)
    x, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    g_A = x[3:]
    g_norm = float(np.linalg.norm(g_A))
    if abs(g_norm - pcfg.gravity_m_s2) > cfg.dynamic_max_gravity_error_m_s2:
        return DynamicInit(
            None,
            f"gravity {g_norm:.2f} m/s^2 is not {pcfg.gravity_m_s2} +- "
            f"{cfg.dynamic_max_gravity_error_m_s2}",
            g_norm,
            frames=n,
            bias_gyro_rad_s=bias_gyro,
        )
    g_A = g_A * (pcfg.gravity_m_s2 / g_norm)
    v0, *_ = np.linalg.lstsq(A[:, :3], rhs - A[:, 3:] @ g_A, rcond=None)
    residual = rhs - A[:, :3] @ v0 - A[:, 3:] @ g_A
    rms = float(np.sqrt(np.mean(residual.reshape(-1, 3) ** 2) * 3))
    if rms > cfg.dynamic_max_residual_m:
        return DynamicInit(
            None,
            f"position residual {rms:.3f} m > {cfg.dynamic_max_residual_m} m",
            g_norm,
            rms,
            bias_gyro,
            n,
        )

    # World: z against gravity (the accelerometer at rest reads -g), yaw 0 at the newest
    # frame, origin at the first IMU position.
    R_world_A = gravity_aligned_rotation(-(R_A_i[-1].T @ g_A)) @ R_A_i[-1].T
    R_wi = R_world_A @ R_A_i[-1]
    v_A = v0 + g_A * dt[-1] + R0 @ beta[-1]
    imu_state = ImuState(
        stamp_ns=stamps[-1],
        R_world_imu=R_wi,
        p_world_imu_m=R_world_A @ (p_A_i[-1] - p_A_i[0]),
        v_world_imu_m_s=R_world_A @ v_A,
        bias_gyro_rad_s=bias_gyro,
    )
    P = initial_covariance(R_wi, cfg, cfg.dynamic_sigma_velocity_m_s)
    _log.info(
        "moving start: %d frames, |g| %.3f m/s^2, residual %.4f m, speed %.2f m/s",
        n,
        g_norm,
        rms,
        float(np.linalg.norm(v_A)),
    )
    return DynamicInit(State(imu_state, P), "", g_norm, rms, bias_gyro, n)
