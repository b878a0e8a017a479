"""Static initialisation from a still IMU window, and the zero-velocity test.

As OpenVINS' ``ov_init/src/static/StaticInitializer.cpp``:

- **Still test** (:func:`still_test`): the window is split into an older and a newer half;
  each half's accelerometer spread (the sample standard deviation, norm over the axes;
  OpenVINS' ``init_imu_thresh``) and gyroscope spread must stay below their thresholds;
  the jerk test asks that the mean acceleration not move between the halves, and the
  mean's magnitude must be gravity's. A failed test says which check failed and by how
  much. With ``wait_for_jerk`` (OpenVINS' option) the newer half must instead *move*.
- **Initial state** (:func:`initialize_static`): gravity direction from the mean specific
  force of the still part, which at rest is ``R_world_imu^T (0, 0, g)``; ``R_world_imu``
  is built by Gram-Schmidt with yaw 0 (the IMU's x axis projected on the horizontal
  plane is the world's x; REP 103 world, z up), since yaw is unobservable; position and
  velocity zero; gyroscope bias = the mean angular rate. The accelerometer bias is left
  at 0: while still, a bias across gravity is indistinguishable from a tilt, so it is
  unobservable and left to the filter. Along gravity only ``|mean| - g`` can be read,
  and only when the local gravity is known better than the bias; it is reported
  (``StillTest.gravity_error_m_s2``), and used as OpenVINS does (``b_a = mean - R^T g``)
  when ``InitConfig.accel_bias_along_gravity`` is set.
- **Zero-velocity test** (:class:`ZeroVelocityDetector`, for a later ZUPT, as OpenVINS'
  ``UpdaterZeroVelocity``): the readings predicted for a still IMU are ``ω = b_g`` and
  ``a = b_a + R^T (0, 0, g)``; the residual's chi-square under the IMU noise (inflated
  by ``zupt_noise_multiplier``) is compared with its ``zupt_chi2_quantile`` quantile, and
  the estimated speed must be below ``zupt_max_velocity_m_s``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

from percept.units import NS_PER_S
from percept.vio.config import InitConfig, PropagatorConfig
from percept.vio.state import BA, BG, IMU_DIM, POS, THETA, VEL, ImuState, State

__all__ = [
    "StaticInit",
    "StillTest",
    "ZeroVelocityDetector",
    "ZeroVelocityTest",
    "gravity_aligned_rotation",
    "initialize_static",
    "still_test",
]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StillTest:
    """Whether an IMU window is still, and why not.

    Attributes:
        still: True when every check passed.
        reason: empty when still, else the failed check with the measured value and the
            threshold.
        accel_std_m_s2: accelerometer spread of the (older, newer) half, m/s^2.
        gyro_std_rad_s: gyroscope spread of the (older, newer) half, rad/s.
        accel_jump_m_s2: change of the mean acceleration between the halves, m/s^2.
        gravity_error_m_s2: ``|mean accel| - g`` over the still part, m/s^2.
    """

    still: bool
    reason: str
    accel_std_m_s2: tuple[float, float]
    gyro_std_rad_s: tuple[float, float]
    accel_jump_m_s2: float
    gravity_error_m_s2: float


@dataclass(frozen=True, slots=True, eq=False)
class StaticInit:
    """The result of a static initialisation attempt.

    Attributes:
        test: the still test of the window.
        state: the initial state at the window's newest stamp, None when not still.
    """

    test: StillTest
    state: State | None


def _window(
    stamps_ns: npt.ArrayLike, gyro_rad_s: npt.ArrayLike, accel_m_s2: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    t = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
    g = np.asarray(gyro_rad_s, dtype=np.float64)
    a = np.asarray(accel_m_s2, dtype=np.float64)
    n = t.shape[0]
    if g.shape != (n, 3) or a.shape != (n, 3):
        msg = f"gyro and accel must be ({n}, 3) for {n} stamps, got {g.shape} and {a.shape}"
        raise ValueError(msg)
    if n > 1 and np.any(np.diff(t) <= 0):
        msg = "IMU stamps must increase"
        raise ValueError(msg)
    return t, g, a


def _spread(x: FloatArray) -> float:
    """Norm over the axes of the per-axis sample standard deviation."""
    return float(np.linalg.norm(x.std(axis=0, ddof=1)))


def still_test(
    stamps_ns: npt.ArrayLike,
    gyro_rad_s: npt.ArrayLike,
    accel_m_s2: npt.ArrayLike,
    config: InitConfig | None = None,
    gravity_m_s2: float = 9.81,
) -> StillTest:
    """Test whether the newest ``window_s`` of IMU readings is still (module docstring).

    Args:
        stamps_ns: (N,) int64 increasing stamps, nanoseconds.
        gyro_rad_s: (N, 3) float64 angular rates, rad/s, IMU frame.
        accel_m_s2: (N, 3) float64 specific forces, m/s^2, IMU frame.
        config: thresholds and window length.
        gravity_m_s2: gravity magnitude.

    Returns:
        The test, with the reason when it fails (too few readings included).

    Raises:
        ValueError: on shape mismatches or stamps that do not increase.
    """
    cfg = config if config is not None else InitConfig()
    t, g, a = _window(stamps_ns, gyro_rad_s, accel_m_s2)
    nan2 = (float("nan"), float("nan"))
    if t.shape[0] == 0:
        return StillTest(False, "no IMU readings", nan2, nan2, float("nan"), float("nan"))
    window_ns = round(cfg.window_s * NS_PER_S)
    keep = t >= t[-1] - window_ns
    t, g, a = t[keep], g[keep], a[keep]
    n = t.shape[0]
    if n < cfg.min_samples or t[-1] - t[0] < 0.9 * window_ns:
        span_s = (t[-1] - t[0]) / NS_PER_S
        reason = (
            f"window too short: {n} readings over {span_s:.3f} s, need {cfg.min_samples} "
            f"over {cfg.window_s:.3f} s"
        )
        return StillTest(False, reason, nan2, nan2, float("nan"), float("nan"))
    older = t < t[0] + (t[-1] - t[0]) // 2
    a_std = (_spread(a[older]), _spread(a[~older]))
    g_std = (_spread(g[older]), _spread(g[~older]))
    jump = float(np.linalg.norm(a[~older].mean(axis=0) - a[older].mean(axis=0)))
    still_part = older if cfg.wait_for_jerk else np.ones(n, dtype=bool)
    grav_err = float(np.linalg.norm(a[still_part].mean(axis=0)) - gravity_m_s2)
    checks: list[tuple[bool, str]] = []
    if cfg.wait_for_jerk:
        checks += [
            (
                a_std[0] <= cfg.max_accel_std_m_s2,
                f"older half moves: accel std {a_std[0]:.3f} > {cfg.max_accel_std_m_s2} m/s^2",
            ),
            (
                g_std[0] <= cfg.max_gyro_std_rad_s,
                f"older half rotates: gyro std {g_std[0]:.4f} > {cfg.max_gyro_std_rad_s} rad/s",
            ),
            (
                a_std[1] > cfg.max_accel_std_m_s2,
                f"no jerk yet: newer half accel std {a_std[1]:.3f} <= "
                f"{cfg.max_accel_std_m_s2} m/s^2",
            ),
        ]
    else:
        for half, name in ((0, "older"), (1, "newer")):
            checks += [
                (
                    a_std[half] <= cfg.max_accel_std_m_s2,
                    f"{name} half moves: accel std {a_std[half]:.3f} > "
                    f"{cfg.max_accel_std_m_s2} m/s^2",
                ),
                (
                    g_std[half] <= cfg.max_gyro_std_rad_s,
                    f"{name} half rotates: gyro std {g_std[half]:.4f} > "
                    f"{cfg.max_gyro_std_rad_s} rad/s",
                ),
            ]
        checks.append(
            (
                jump <= cfg.max_accel_jump_m_s2,
                f"jerk: mean accel moved {jump:.3f} > {cfg.max_accel_jump_m_s2} m/s^2 "
                "between the halves",
            )
        )
    checks.append(
        (
            abs(grav_err) <= cfg.max_gravity_error_m_s2,
            f"|mean accel| differs from gravity by {grav_err:+.3f} m/s^2 "
            f"(limit {cfg.max_gravity_error_m_s2})",
        )
    )
    failed = [why for ok, why in checks if not ok]
    return StillTest(not failed, "; ".join(failed), a_std, g_std, jump, grav_err)


def gravity_aligned_rotation(accel_mean_m_s2: npt.ArrayLike) -> FloatArray:
    """``R_world_imu`` with yaw 0 from the specific force of an IMU at rest.

    At rest the accelerometer reads ``R_world_imu^T (0, 0, g)``, so the normalised mean
    is the world's z axis in the IMU frame. The world's x axis is the IMU's x axis made
    orthogonal to it (Gram-Schmidt, as OpenVINS' ``gram_schmidt``; the IMU's y axis when
    x is within 10 degrees of vertical) and y = z x x.

    Args:
        accel_mean_m_s2: (3,) float64 mean specific force, IMU frame.

    Returns:
        (3, 3) float64 ``R_world_imu``; ``R_world_imu @ accel_mean`` is along +z.

    Raises:
        ValueError: when the mean is not (3,) or is near zero.

    >>> R = gravity_aligned_rotation([0.0, 0.0, 9.81])
    >>> np.allclose(R, np.eye(3))
    True
    """
    a = np.asarray(accel_mean_m_s2, dtype=np.float64)
    if a.shape != (3,) or not np.linalg.norm(a) > 1e-3:
        msg = f"accel_mean_m_s2 must be a non-zero (3,) vector, got {a!r}"
        raise ValueError(msg)
    z = a / np.linalg.norm(a)
    e = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < np.cos(np.radians(10)) else np.eye(3)[1]
    x = e - (e @ z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def initialize_static(
    stamps_ns: npt.ArrayLike,
    gyro_rad_s: npt.ArrayLike,
    accel_m_s2: npt.ArrayLike,
    config: InitConfig | None = None,
    gravity_m_s2: float = 9.81,
) -> StaticInit:
    """The initial state from a still IMU window (module docstring).

    Args:
        stamps_ns: (N,) int64 increasing stamps, nanoseconds.
        gyro_rad_s: (N, 3) float64 angular rates, rad/s, IMU frame.
        accel_m_s2: (N, 3) float64 specific forces, m/s^2, IMU frame.
        config: thresholds, window and initial standard deviations.
        gravity_m_s2: gravity magnitude.

    Returns:
        The still test and, when still, the state at the newest stamp: yaw 0, zero
        position and velocity, gyro bias the mean rate, accel bias 0 (or along gravity,
        ``config.accel_bias_along_gravity``), covariance diagonal from
        ``config.sigma_*``.

    Raises:
        ValueError: on shape mismatches or stamps that do not increase.
    """
    cfg = config if config is not None else InitConfig()
    test = still_test(stamps_ns, gyro_rad_s, accel_m_s2, cfg, gravity_m_s2)
    if not test.still:
        _log.debug("static init refused: %s", test.reason)
        return StaticInit(test, None)
    t, g, a = _window(stamps_ns, gyro_rad_s, accel_m_s2)
    keep = t >= t[-1] - round(cfg.window_s * NS_PER_S)
    t, g, a = t[keep], g[keep], a[keep]
    if cfg.wait_for_jerk:
        # Only the older half is still; the newer half already moves.
        older = t < t[0] + (t[-1] - t[0]) // 2
        g, a = g[older], a[older]
    accel_mean = a.mean(axis=0)
    R = gravity_aligned_rotation(accel_mean)
    bias_accel = np.zeros(3)
    if cfg.accel_bias_along_gravity:
        bias_accel = accel_mean - R.T @ np.array([0.0, 0.0, gravity_m_s2])
    imu = ImuState(
        stamp_ns=int(t[-1]),
        R_world_imu=R,
        bias_gyro_rad_s=g.mean(axis=0),
        bias_accel_m_s2=bias_accel,
    )
    return StaticInit(test, State(imu, initial_covariance(R, cfg, cfg.sigma_velocity_m_s)))


def initial_covariance(
    R_world_imu: npt.ArrayLike, config: InitConfig, sigma_velocity_m_s: float
) -> FloatArray:
    """The (15, 15) covariance of a fresh start.

    Roll and pitch get ``sigma_rotation_rad`` and yaw ``sigma_yaw_rad`` about the
    *world* axes, turned into the filter's IMU-frame rotation error
    (``δθ_imu = Rᵀ δθ_world``); position, velocity and biases are diagonal.

    Args:
        R_world_imu: (3, 3) float64 orientation of the start.
        config: the ``sigma_*`` settings.
        sigma_velocity_m_s: velocity standard deviation, m/s.

    Returns:
        (15, 15) float64 symmetric covariance.
    """
    R = np.asarray(R_world_imu, dtype=np.float64)
    P = np.zeros((IMU_DIM, IMU_DIM))
    world = np.diag([config.sigma_rotation_rad**2] * 2 + [config.sigma_yaw_rad**2])
    P_theta = R.T @ world @ R
    P[THETA, THETA] = 0.5 * (P_theta + P_theta.T)
    P[POS, POS] = np.eye(3) * config.sigma_position_m**2
    P[VEL, VEL] = np.eye(3) * sigma_velocity_m_s**2
    P[BG, BG] = np.eye(3) * config.sigma_bias_gyro_rad_s**2
    P[BA, BA] = np.eye(3) * config.sigma_bias_accel_m_s2**2
    return P


@dataclass(frozen=True, slots=True)
class ZeroVelocityTest:
    """The zero-velocity test of a run of IMU readings against a state.

    Attributes:
        still: True when the chi-square and speed checks pass.
        chi2: the residual's chi-square (noise inflated), dimensionless.
        threshold: its quantile for ``dof`` degrees of freedom.
        dof: 6 per reading.
        speed_m_s: the state's speed, m/s.
        reason: empty when still, else what failed.
    """

    still: bool
    chi2: float
    threshold: float
    dof: int
    speed_m_s: float
    reason: str


class ZeroVelocityDetector:
    """IMU-based zero-velocity detection (OpenVINS ``UpdaterZeroVelocity``'s test).

    Args:
        config: ``zupt_*`` settings.
        propagator_config: IMU noise densities and gravity.
        rate_hz: IMU sample rate: the white noise of a reading has standard deviation
            ``density * sqrt(rate_hz)``.
    """

    def __init__(
        self,
        config: InitConfig | None = None,
        propagator_config: PropagatorConfig | None = None,
        rate_hz: float = 200.0,
    ) -> None:
        if not rate_hz > 0:
            msg = f"rate_hz must be > 0, got {rate_hz}"
            raise ValueError(msg)
        self.config = config if config is not None else InitConfig()
        self.propagator_config = (
            propagator_config if propagator_config is not None else PropagatorConfig()
        )
        alpha = self.config.zupt_noise_multiplier
        pc = self.propagator_config
        self.rate_hz = float(rate_hz)
        self._sigma_gyro = alpha * pc.gyroscope_noise_density * np.sqrt(rate_hz)
        self._sigma_accel = alpha * pc.accelerometer_noise_density * np.sqrt(rate_hz)
        self._thresholds: dict[int, float] = {}

    def _threshold(self, dof: int) -> float:
        value = self._thresholds.get(dof)
        if value is None:
            value = float(chi2.ppf(self.config.zupt_chi2_quantile, dof))
            self._thresholds[dof] = value
        return value

    def test(
        self, imu: ImuState, gyro_rad_s: npt.ArrayLike, accel_m_s2: npt.ArrayLike
    ) -> ZeroVelocityTest:
        """Whether the readings look like a still IMU with the state's biases and tilt.

        Args:
            imu: the current estimate (orientation, velocity, biases).
            gyro_rad_s: (N, 3) float64 angular rates since the last camera frame, rad/s.
            accel_m_s2: (N, 3) float64 specific forces, m/s^2.

        Returns:
            The test (chi-square, threshold, speed and the reason when not still).

        Raises:
            ValueError: on shape mismatches or no readings.
        """
        g = np.asarray(gyro_rad_s, dtype=np.float64)
        a = np.asarray(accel_m_s2, dtype=np.float64)
        if g.ndim != 2 or g.shape[1:] != (3,) or a.shape != g.shape or g.shape[0] == 0:
            msg = f"gyro and accel must be the same (N, 3), N > 0, got {g.shape} and {a.shape}"
            raise ValueError(msg)
        gravity_imu = imu.R_world_imu.T @ np.array([0.0, 0.0, self.propagator_config.gravity_m_s2])
        r_g = (g - imu.bias_gyro_rad_s) / self._sigma_gyro
        r_a = (a - imu.bias_accel_m_s2 - gravity_imu) / self._sigma_accel
        value = float(np.sum(r_g * r_g) + np.sum(r_a * r_a))
        dof = 6 * g.shape[0]
        threshold = self._threshold(dof)
        speed = float(np.linalg.norm(imu.v_world_imu_m_s))
        failed = []
        if value > threshold:
            failed.append(f"chi2 {value:.1f} > {threshold:.1f} ({dof} dof)")
        if speed > self.config.zupt_max_velocity_m_s:
            failed.append(f"speed {speed:.3f} > {self.config.zupt_max_velocity_m_s} m/s")
        return ZeroVelocityTest(not failed, value, threshold, dof, speed, "; ".join(failed))
