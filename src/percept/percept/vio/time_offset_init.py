"""A first camera-IMU time offset from the rotation the camera sees and the gyro measures.

The filter estimates ``td`` (Kalibr: ``t_imu = t_cam + td``) as a state, but starts it
at the configured value (0): with a real offset of a few milliseconds its first seconds
run on mis-timed IMU, and the error they leave in the trajectory stays. Before the filter
starts, the moving start has a window of stereo odometry; its frame-to-frame rotations
are compared here with the gyro integrated over the same intervals shifted by each
candidate ``td`` on a grid, and the best candidate, refined by a parabola through the
cost around the grid minimum, is the starting ``td`` (the cross-correlation of the
visual and inertial rotation rates of Kelly and Sukhatme, "A General Framework for
Temporal Calibration of Multiple Proprioceptive and Exteroceptive Sensors", ISER 2010,
and of Kalibr's initial guess, here on the rotation vectors, since the extrinsic
rotation is known, rather than on their magnitudes).

For a candidate ``td`` and frame interval ``k`` (camera stamps ``t_k``, ``t_{k+1}``), the
residual is ``r_k = Log(ΔR_gyro(t_k + td, t_{k+1} + td)ᵀ R_imu_cam ΔR_cam,k R_imu_camᵀ)``
with the gyro integrated as the propagator does (rate linear between readings). A constant gyro bias
adds ``-b Δt_k``; it is solved in closed form per candidate, so the cost
``Σ ||r_k + b Δt_k||²`` measures timing alone. The offset shows through the angular
acceleration only (``∂r_k/∂td ≈ ω(t_{k+1}) - ω(t_k)``), so the estimate carries a
standard deviation from the cost's curvature and the residual spread, and is refused,
with the reason, when the motion is too weak: too few valid frames, a slow rotation, a
minimum at the edge of the search, or a standard deviation over ``max_sigma_s``. Then the
filter starts at the configured offset, as without this step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.params import param
from percept.units import NS_PER_S
from percept.vio.vo import VoStep

__all__ = ["TimeOffsetEstimate", "TimeOffsetInitConfig", "estimate_time_offset"]

_log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TimeOffsetInitConfig:
    """The time-offset guess made before the filter starts (module docstring).

    Attributes:
        enabled: guess ``td`` at the moving start (with ``estimate_time_offset``).
        window_s: stereo odometry used, the newest this many seconds, s.
        max_offset_s: largest ``|td|`` searched, s.
        step_s: grid step of the search, s (refined by a parabola).
        min_frames: fewest valid frame intervals in the window.
        min_rate_rad_s: slowest RMS rotation rate that is motion, rad/s.
        max_sigma_s: largest standard deviation of an accepted guess, s.
    """

    enabled: bool = param(True, "guess the time offset from vision and gyro at the start")
    window_s: float = param(2.0, "stereo odometry window used, s", min_value=0.1)
    max_offset_s: float = param(0.05, "largest |td| searched, s", min_value=0.001)
    step_s: float = param(0.001, "grid step of the search, s", min_value=1e-5)
    min_frames: int = param(6, "fewest valid frame intervals", min_value=3)
    min_rate_rad_s: float = param(
        0.2, "slowest RMS rotation rate that is motion, rad/s", min_value=0.0
    )
    max_sigma_s: float = param(0.002, "largest sigma of an accepted guess, s", min_value=0.0)

    def __post_init__(self) -> None:
        if not 0 < self.step_s < self.max_offset_s:
            msg = (
                f"TimeOffsetInitConfig.step_s ({self.step_s}) must be in "
                f"(0, max_offset_s = {self.max_offset_s})"
            )
            raise ValueError(msg)
        if self.min_frames < 3:
            msg = f"TimeOffsetInitConfig.min_frames must be >= 3, got {self.min_frames}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class TimeOffsetEstimate:
    """The guess, or why there is none.

    Attributes:
        offset_s: ``td`` (``t_imu = t_cam + td``), s, or None when refused.
        sigma_s: its standard deviation, s (inf when refused before the search).
        reason: empty when accepted, else why not.
        intervals: frame intervals used.
        rate_rms_rad_s: RMS rotation rate over the window, rad/s.
        candidates_s: (C,) float64 the searched offsets, s.
        cost: (C,) float64 the cost of each (empty before the search).
    """

    offset_s: float | None
    sigma_s: float
    reason: str
    intervals: int
    rate_rms_rad_s: float
    candidates_s: FloatArray
    cost: FloatArray


def _refused(reason: str, intervals: int = 0, rate: float = 0.0) -> TimeOffsetEstimate:
    empty = np.zeros(0)
    return TimeOffsetEstimate(None, float("inf"), reason, intervals, rate, empty, empty)


def _orientation_track(stamps_ns: npt.NDArray[np.int64], gyro: FloatArray) -> Rotation:
    """``R(t_i)`` of the raw gyro integrated from the first reading.

    The rate is linear between readings, as the propagator's midpoint integration has
    it (a reading held until the next one would delay the gyro by half a sample).

    Args:
        stamps_ns: (M,) int64 increasing.
        gyro: (M, 3) float64 rad/s.

    Returns:
        M rotations, the first the identity.
    """
    dt = np.diff(stamps_ns).astype(np.float64) / NS_PER_S
    steps = Rotation.from_rotvec(0.5 * (gyro[:-1] + gyro[1:]) * dt[:, None]).as_matrix()
    out = np.empty((stamps_ns.shape[0], 3, 3))
    out[0] = np.eye(3)
    # A chain of products is sequential; M is a few hundred readings, once per start.
    for i, step in enumerate(steps):
        out[i + 1] = out[i] @ step
    return Rotation.from_matrix(out)


def _orientation_at(
    track: Rotation,
    stamps_ns: npt.NDArray[np.int64],
    gyro: FloatArray,
    at_ns: npt.NDArray[np.int64],
) -> Rotation:
    """``R(t)`` at stamps inside the readings: ``R(t_i) Exp(∫ ω)`` over ``[t_i, t]``.

    With the rate linear from ``ω_i`` to ``ω_{i+1}``, the integral over ``τ = t - t_i``
    of a step ``Δ`` is ``ω_i τ + (ω_{i+1} - ω_i) τ² / (2 Δ)``.
    """
    flat = at_ns.reshape(-1)
    last = stamps_ns.shape[0] - 2
    i = np.clip(np.searchsorted(stamps_ns, flat, side="right") - 1, 0, last)
    step = (stamps_ns[i + 1] - stamps_ns[i]).astype(np.float64) / NS_PER_S
    tau = (flat - stamps_ns[i]).astype(np.float64) / NS_PER_S
    w0, w1 = gyro[i], gyro[i + 1]
    angle = w0 * tau[:, None] + (w1 - w0) * (tau**2 / (2.0 * step))[:, None]
    return track[i] * Rotation.from_rotvec(angle)


def estimate_time_offset(
    steps: Sequence[VoStep],
    imu_stamps_ns: npt.NDArray[np.int64],
    gyro_rad_s: FloatArray,
    R_imu_cam: FloatArray,
    config: TimeOffsetInitConfig | None = None,
) -> TimeOffsetEstimate:
    """Guess ``td`` from stereo odometry steps and the gyro (module docstring).

    Args:
        steps: consecutive stereo odometry steps, oldest first; ``T_prev_cur`` of a
            step with ``ok`` is the camera motion since the step before it.
        imu_stamps_ns: (M,) int64 increasing IMU stamps.
        gyro_rad_s: (M, 3) float64 raw gyro readings (bias included), IMU frame.
        R_imu_cam: (3, 3) float64 rotation of the camera frame in the IMU frame.
        config: settings (default ``TimeOffsetInitConfig()``).

    Returns:
        The guess with its standard deviation, or the reason for none.
    """
    cfg = config if config is not None else TimeOffsetInitConfig()
    t_imu = np.asarray(imu_stamps_ns, dtype=np.int64)
    gyro = np.asarray(gyro_rad_s, dtype=np.float64)
    if t_imu.shape[0] < 2 or gyro.shape != (t_imu.shape[0], 3):
        return _refused(f"too few IMU readings ({t_imu.shape[0]})")
    if not steps:
        return _refused("no stereo odometry")
    newest = steps[-1].stamp_ns
    window = [s for s in steps if s.stamp_ns >= newest - round(cfg.window_s * NS_PER_S)]
    max_ns = round(cfg.max_offset_s * NS_PER_S)
    # Interval k ends at step k (>= 1) and starts at step k - 1; its rotation is valid
    # when PnP succeeded there and the shifted interval lies inside the IMU readings.
    t_end = np.array([s.stamp_ns for s in window[1:]], dtype=np.int64)
    t_start = np.array([s.stamp_ns for s in window[:-1]], dtype=np.int64)
    valid = np.array([s.ok for s in window[1:]], dtype=bool)
    valid &= (t_start - max_ns >= t_imu[0]) & (t_end + max_ns <= t_imu[-1]) & (t_end > t_start)
    n = int(np.count_nonzero(valid))
    if n < cfg.min_frames:
        return _refused(f"{n} valid frame intervals < {cfg.min_frames}", n)
    R_ic = np.asarray(R_imu_cam, dtype=np.float64)
    motions = np.stack([s.T_prev_cur[:3, :3] for s in window[1:]])[valid]
    dR_vis = Rotation.from_matrix(R_ic @ motions @ R_ic.T)
    t0, t1 = t_start[valid], t_end[valid]
    dt = (t1 - t0).astype(np.float64) / NS_PER_S
    rate = float(np.sqrt(np.mean(np.sum(dR_vis.as_rotvec() ** 2, axis=1) / dt**2)))
    if rate < cfg.min_rate_rad_s:
        return _refused(f"rotation too slow ({rate:.3f} < {cfg.min_rate_rad_s} rad/s)", n, rate)

    steps_n = round(cfg.max_offset_s / cfg.step_s)
    cand = np.arange(-steps_n, steps_n + 1, dtype=np.float64) * cfg.step_s
    shift = np.round(cand * NS_PER_S).astype(np.int64)[:, None]  # (C, 1)
    track = _orientation_track(t_imu, gyro)
    Ra = _orientation_at(track, t_imu, gyro, t0[None, :] + shift)
    Rb = _orientation_at(track, t_imu, gyro, t1[None, :] + shift)
    c = cand.shape[0]
    dR_vis_all = Rotation.concatenate([dR_vis] * c)
    r0 = ((Ra.inv() * Rb).inv() * dR_vis_all).as_rotvec().reshape(c, n, 3)
    # A constant bias adds -b dt_k to r_k: remove its least-squares fit per candidate.
    bias = -np.einsum("cnk,n->ck", r0, dt) / float(dt @ dt)
    r = r0 + bias[:, None, :] * dt[None, :, None]
    cost = np.sum(r**2, axis=(1, 2))
    j = int(np.argmin(cost))

    def refused(reason: str, sigma: float = float("inf")) -> TimeOffsetEstimate:
        return TimeOffsetEstimate(None, sigma, reason, n, rate, cand, cost)

    if j == 0 or j == cand.shape[0] - 1:
        return refused(f"cost minimum at the search edge ({cand[j] * 1e3:.1f} ms)")
    y0, y1, y2 = cost[j - 1], cost[j], cost[j + 1]
    curvature = (y0 - 2.0 * y1 + y2) / cfg.step_s**2  # d2 cost / d td2 = 2 J^T J
    if not curvature > 0:
        return refused("flat cost")
    offset = float(cand[j] + 0.5 * cfg.step_s * (y0 - y2) / (y0 - 2.0 * y1 + y2))
    # Least squares: var(td) = s^2 / (J^T J), s^2 the residual variance per row.
    sigma = float(np.sqrt((y1 / max(3 * n - 4, 1)) / (0.5 * curvature)))
    if not sigma <= cfg.max_sigma_s:
        reason = (
            f"motion too weak: sigma {sigma * 1e3:.2f} ms > {cfg.max_sigma_s * 1e3:.2f} ms "
            f"(guess {offset * 1e3:.2f} ms)"
        )
        return refused(reason, sigma)
    return TimeOffsetEstimate(offset, sigma, "", n, rate, cand, cost)
