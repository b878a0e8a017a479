"""Settings of the VIO back end's propagation and static initialisation.

One frozen config per component, as OpenVINS has one options struct per component
(``ov_msckf/src/state/StateOptions.h``, ``ov_init/src/init/InertialInitializerOptions.h``).

IMU noise is given as Kalibr's continuous-time densities; the defaults are those of the
ADIS16448 of the EuRoC MAV dataset (``mav0/imu0/sensor.yaml``, the same numbers OpenVINS'
``config/euroc_mav/kalibr_imu_chain.yaml`` and ``percept.synth.imu.ADIS16448_EUROC`` use).
The propagator discretises them as OpenVINS does (Trawny & Roumeliotis eqs. 129-130):
white noise of density ``sigma`` over a step ``dt`` has variance ``sigma**2 / dt``, a bias
random walk of density ``sigma_b`` adds ``sigma_b**2 * dt``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from percept.params import param

__all__ = ["InitConfig", "PropagatorConfig"]


def _check_positive(config: object, names: tuple[str, ...], allow_zero: bool = False) -> None:
    for name in names:
        value = getattr(config, name)
        ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
        if not ok:
            bound = ">= 0" if allow_zero else "> 0"
            msg = f"{type(config).__name__}.{name} must be finite and {bound}, got {value}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class PropagatorConfig:
    """How IMU samples move the state and its covariance forward.

    Attributes:
        gyroscope_noise_density: gyroscope white noise, rad/s/sqrt(Hz).
        gyroscope_random_walk: gyroscope bias diffusion, rad/s^2/sqrt(Hz).
        accelerometer_noise_density: accelerometer white noise, m/s^2/sqrt(Hz).
        accelerometer_random_walk: accelerometer bias diffusion, m/s^3/sqrt(Hz).
        gravity_m_s2: magnitude of gravity; the world's gravity is ``(0, 0, -g)``
            (REP 103: z up), so an IMU at rest reads ``+g`` on its up axis.
        max_imu_gap_s: two consecutive IMU samples further apart than this are a gap:
            the propagator integrates across it with the two samples it has (it invents
            none) and reports it (``Propagator.last_gaps``, a warning log line).
        buffer_s: IMU history kept behind the newest propagation target, seconds.
    """

    gyroscope_noise_density: float = param(
        1.6968e-4, "gyroscope white noise, rad/s/sqrt(Hz)", min_value=0.0
    )
    gyroscope_random_walk: float = param(
        1.9393e-5, "gyroscope bias diffusion, rad/s^2/sqrt(Hz)", min_value=0.0
    )
    accelerometer_noise_density: float = param(
        2.0e-3, "accelerometer white noise, m/s^2/sqrt(Hz)", min_value=0.0
    )
    accelerometer_random_walk: float = param(
        3.0e-3, "accelerometer bias diffusion, m/s^3/sqrt(Hz)", min_value=0.0
    )
    gravity_m_s2: float = param(9.81, "gravity magnitude, m/s^2", min_value=9.0, max_value=10.5)
    max_imu_gap_s: float = param(
        0.05, "consecutive IMU samples further apart are a reported gap, s", min_value=0.0
    )
    buffer_s: float = param(
        2.0, "IMU history kept behind the newest propagation target, s", min_value=0.0
    )

    def __post_init__(self) -> None:
        _check_positive(
            self,
            (
                "gyroscope_noise_density",
                "gyroscope_random_walk",
                "accelerometer_noise_density",
                "accelerometer_random_walk",
                "buffer_s",
            ),
            allow_zero=True,
        )
        _check_positive(self, ("gravity_m_s2", "max_imu_gap_s"))


@dataclass(frozen=True, slots=True)
class InitConfig:
    """Static initialisation and the zero-velocity test.

    The still test follows OpenVINS' ``StaticInitializer``: the window is split into an
    older and a newer half and the accelerometer's sample standard deviation of each
    half (OpenVINS' ``init_imu_thresh``, which it calls a variance) is compared with a
    threshold. Percept adds a gyroscope spread test, a jerk test (the mean
    acceleration must not move between the halves) and a gravity-magnitude test.

    Attributes:
        window_s: still window, seconds (OpenVINS ``init_window_time``: 2 s, halves of 1 s).
        max_accel_std_m_s2: largest accelerometer standard deviation of a still half
            (norm over the three axes), m/s^2. OpenVINS uses 1.0 in simulation and 1.5 on
            EuRoC, whose MAV stands with its rotors spinning (0.2-0.9 m/s^2 measured on
            V1_01's first 4 s); the ADIS16448's white noise at 200 Hz alone gives
            ``2e-3 * sqrt(200) * sqrt(3) = 0.05``.
        max_gyro_std_rad_s: largest gyroscope standard deviation of a still half (norm
            over the axes), rad/s.
        max_accel_jump_m_s2: largest change of the mean acceleration between the halves
            (the jerk test), m/s^2; 0.2 m/s^2 is about 1.2 degrees of tilt.
        max_gravity_error_m_s2: largest ``| |mean accel| - g |``, m/s^2 (bias and scale
            error of a real accelerometer stay well below).
        wait_for_jerk: OpenVINS' ``wait_for_jerk``: initialise only when the older half
            is still and the newer half moves (``max_accel_std_m_s2`` exceeded), so the
            filter starts with the motion; the older half gives gravity and bias.
        min_samples: fewest IMU samples in the window.
        accel_bias_along_gravity: set the accelerometer bias to ``mean - R^T (0, 0, g)``
            as OpenVINS does, which is ``|mean| - g`` along gravity: right only when the
            local gravity is known better than the bias (local g varies by +-0.03 m/s^2
            over the Earth); off, the bias starts at 0.
        sigma_rotation_rad: initial standard deviation of roll and pitch (the tilt
            gravity gives), rad
            (OpenVINS: 0.02).
        sigma_yaw_rad: initial standard deviation of yaw, rad. The start defines the
            odometry frame's yaw (and origin), so both are known exactly there: 0 makes
            the covariance describe drift from the start, which is what the odometry's
            consumers and a NEES against ground truth aligned at the first pose expect.
        sigma_position_m: initial standard deviation of the position, m (0: the origin
            is the start; OpenVINS uses 0.05).
        sigma_velocity_m_s: initial standard deviation of the velocity, m/s (0.01).
        sigma_bias_gyro_rad_s: initial standard deviation of the gyroscope bias, rad/s.
        sigma_bias_accel_m_s2: initial standard deviation of the accelerometer bias,
            m/s^2 (the bias is not observable while still, so this is its prior).
        zupt_noise_multiplier: zero-velocity chi-square test: IMU noise inflated by
            this factor (OpenVINS ``zupt_noise_multiplier``: 10 on EuRoC; its docs say
            real data needs 50-100 for the raw densities).
        zupt_chi2_quantile: zero-velocity chi-square test quantile (0.95).
        zupt_max_velocity_m_s: zero-velocity test: largest speed of the estimate that
            may be still (OpenVINS ``zupt_max_velocity``: 0.1).
        dynamic_window_s: moving start (``init_dynamic``): length of the stereo-inertial
            alignment window, seconds.
        dynamic_min_frames: moving start: fewest camera frames in the window.
        dynamic_max_gravity_error_m_s2: moving start: largest ``| |g_A| - g |`` of the
            unconstrained solve, m/s^2.
        dynamic_max_residual_m: moving start: largest RMS position residual, metres.
        dynamic_sigma_velocity_m_s: moving start: initial velocity sigma, m/s.
    """

    window_s: float = param(2.0, "still window, s", min_value=0.01)
    max_accel_std_m_s2: float = param(
        1.0, "largest accel standard deviation of a still half, m/s^2", min_value=0.0
    )
    max_gyro_std_rad_s: float = param(
        0.1, "largest gyro standard deviation of a still half, rad/s", min_value=0.0
    )
    max_accel_jump_m_s2: float = param(
        0.2, "largest change of the mean accel between the halves, m/s^2", min_value=0.0
    )
    max_gravity_error_m_s2: float = param(0.5, "largest | |mean accel| - g |, m/s^2", min_value=0.0)
    wait_for_jerk: bool = param(False, "start only when the newer half of the window moves")
    min_samples: int = param(20, "fewest IMU samples in the window", min_value=4)
    accel_bias_along_gravity: bool = param(
        False, "start the accel bias at |mean accel| - g along gravity (OpenVINS)"
    )
    sigma_rotation_rad: float = param(0.02, "initial orientation sigma, rad", min_value=0.0)
    sigma_yaw_rad: float = param(0.0, "initial yaw sigma, rad", min_value=0.0)
    sigma_position_m: float = param(0.0, "initial position sigma, m", min_value=0.0)
    sigma_velocity_m_s: float = param(0.01, "initial velocity sigma, m/s", min_value=0.0)
    sigma_bias_gyro_rad_s: float = param(0.01, "initial gyro bias sigma, rad/s", min_value=0.0)
    sigma_bias_accel_m_s2: float = param(0.1, "initial accel bias sigma, m/s^2", min_value=0.0)
    zupt_noise_multiplier: float = param(
        10.0, "zero-velocity test: IMU noise inflation", min_value=1.0
    )
    zupt_chi2_quantile: float = param(
        0.95, "zero-velocity test: chi-square quantile", min_value=0.5, max_value=0.9999
    )
    zupt_max_velocity_m_s: float = param(
        0.1, "zero-velocity test: largest estimated speed, m/s", min_value=0.0
    )
    dynamic_window_s: float = param(1.0, "moving start: alignment window, s", min_value=0.05)
    dynamic_min_frames: int = param(5, "moving start: fewest frames in the window", min_value=3)
    dynamic_max_gravity_error_m_s2: float = param(
        0.5, "moving start: largest | |g| - g | before scaling, m/s^2", min_value=0.0
    )
    dynamic_max_residual_m: float = param(
        0.05, "moving start: largest RMS position residual, m", min_value=0.0
    )
    dynamic_sigma_velocity_m_s: float = param(
        0.15, "moving start: initial velocity sigma, m/s", min_value=0.0
    )

    def __post_init__(self) -> None:
        floats = tuple(f.name for f in fields(self) if isinstance(getattr(self, f.name), float))
        _check_positive(self, floats, allow_zero=True)
        _check_positive(self, ("window_s", "zupt_noise_multiplier"))
        if self.dynamic_min_frames < 3:
            msg = f"InitConfig.dynamic_min_frames must be >= 3, got {self.dynamic_min_frames}"
            raise ValueError(msg)
        if self.min_samples < 4:
            msg = f"InitConfig.min_samples must be >= 4, got {self.min_samples}"
            raise ValueError(msg)
        if not 0.5 <= self.zupt_chi2_quantile < 1.0:
            q = self.zupt_chi2_quantile
            msg = f"InitConfig.zupt_chi2_quantile must be in [0.5, 1), got {q}"
            raise ValueError(msg)
