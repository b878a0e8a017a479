"""A MEMS IMU simulated from an analytic trajectory.

The IMU measures, in its own frame ``imu_link``, the angular velocity and the specific
force ``f = R_world_imu^T (a_imu - g)`` with gravity ``g = (0, 0, -9.81)`` m/s^2 along
-z of the world (REP 103), so an IMU at rest reads +9.81 on its up axis. The lever arm
between ``base_link`` and ``imu_link`` is exact (centripetal and tangential terms).

Noise model (the continuous-time model Kalibr, OpenVINS and the EuRoC dataset use):
white noise of density ``sigma`` gives discrete samples with standard deviation
``sigma / sqrt(dt)``; biases random-walk with increments of ``sigma_b * sqrt(dt)``.

Default levels (``ADIS16448_EUROC``) are those of the Analog Devices ADIS16448 of the
EuRoC MAV dataset's VI-Sensor, as the dataset states them in
``mav0/imu0/sensor.yaml`` (Burri et al., "The EuRoC micro aerial vehicle datasets",
IJRR 2016):

======================  ==============  =================
gyroscope noise         1.6968e-04      rad / s / sqrt(Hz)
gyroscope random walk   1.9393e-05      rad / s^2 / sqrt(Hz)
accelerometer noise     2.0000e-03      m / s^2 / sqrt(Hz)
accelerometer r. walk   3.0000e-03      m / s^3 / sqrt(Hz)
======================  ==============  =================

These are the values the EuRoC authors publish for that IMU (from its datasheet, with
the random walks inflated as Kalibr advises for real-world use); Kalibr, OpenVINS and
VINS configurations for EuRoC use the same numbers. Initial biases are zero by default
(``ImuNoise.accelerometer_bias_m_s2`` and ``gyroscope_bias_rad_s`` draw them).

Time offset: ``timeshift_cam_imu_s`` follows Kalibr, ``t_imu = t_cam + shift``: the
sample stamped ``t`` measures the motion at camera (true) time ``t - shift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.calib.imu import ImuNoise
from percept.synth.trajectory import LoopTrajectory

__all__ = [
    "ADIS16448_EUROC",
    "GRAVITY_M_S2",
    "NO_NOISE",
    "ImuKinematics",
    "ImuMeasurements",
    "imu_kinematics",
    "simulate_imu",
]

#: Standard gravity used by the simulator, m/s^2, along -z of the world.
GRAVITY_M_S2: Final = 9.81


#: EuRoC's ADIS16448 levels with zero initial bias (see the module docstring).
ADIS16448_EUROC: Final = ImuNoise()
#: A perfect IMU.
NO_NOISE: Final = ImuNoise(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True, eq=False)
class ImuKinematics:
    """True motion of ``imu_link`` at N times (what the IMU would measure without noise).

    Attributes:
        t_s: (N,) float64 true times, seconds.
        position_m: (N, 3) float64 ``imu_link`` origin, world frame.
        velocity_m_s: (N, 3) float64, world frame.
        rotation: N rotations ``R_world_imu``.
        angular_velocity_rad_s: (N, 3) float64, imu frame.
        specific_force_m_s2: (N, 3) float64 ``R^T (a - g)``, imu frame.
    """

    t_s: npt.NDArray[np.float64]
    position_m: npt.NDArray[np.float64]
    velocity_m_s: npt.NDArray[np.float64]
    rotation: Rotation
    angular_velocity_rad_s: npt.NDArray[np.float64]
    specific_force_m_s2: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class ImuMeasurements:
    """Simulated IMU samples.

    Attributes:
        stamp_s: (N,) float64 sample stamps on the IMU clock, seconds from the start.
        angular_velocity_rad_s: (N, 3) float64 gyroscope readings, imu frame.
        linear_acceleration_m_s2: (N, 3) float64 accelerometer readings (specific force),
            imu frame.
        gyroscope_bias_rad_s: (N, 3) float64 true gyroscope bias at each sample.
        accelerometer_bias_m_s2: (N, 3) float64 true accelerometer bias.
    """

    stamp_s: npt.NDArray[np.float64]
    angular_velocity_rad_s: npt.NDArray[np.float64]
    linear_acceleration_m_s2: npt.NDArray[np.float64]
    gyroscope_bias_rad_s: npt.NDArray[np.float64]
    accelerometer_bias_m_s2: npt.NDArray[np.float64]


def imu_kinematics(
    trajectory: LoopTrajectory, T_body_imu: npt.NDArray[np.float64], t_s: npt.ArrayLike
) -> ImuKinematics:
    """Exact motion of an IMU rigidly mounted on the trajectory's body.

    Args:
        trajectory: the body (``base_link``) trajectory.
        T_body_imu: (4, 4) float64 pose of ``imu_link`` in ``base_link``.
        t_s: (N,) true times, seconds.

    Returns:
        The IMU's kinematics.
    """
    s = trajectory.sample(t_s)
    R_wb = s.rotation
    lever_w = R_wb.apply(np.tile(T_body_imu[:3, 3], (s.t_s.shape[0], 1)))
    omega_w = s.angular_velocity_rad_s
    alpha_w = s.angular_acceleration_rad_s2
    position = s.position_m + lever_w
    velocity = s.velocity_m_s + np.cross(omega_w, lever_w)
    accel = (
        s.acceleration_m_s2
        + np.cross(alpha_w, lever_w)
        + np.cross(omega_w, np.cross(omega_w, lever_w))
    )
    R_wi = R_wb * Rotation.from_matrix(T_body_imu[:3, :3])
    gravity = np.array([0.0, 0.0, -GRAVITY_M_S2])
    return ImuKinematics(
        t_s=s.t_s,
        position_m=position,
        velocity_m_s=velocity,
        rotation=R_wi,
        angular_velocity_rad_s=R_wi.inv().apply(omega_w),
        specific_force_m_s2=R_wi.inv().apply(accel - gravity),
    )


def _random_walk(
    rng: np.random.Generator, n: int, sigma0: float, density: float, dt: float
) -> npt.NDArray[np.float64]:
    start = rng.standard_normal(3) * sigma0
    steps = rng.standard_normal((n, 3)) * (density * np.sqrt(dt))
    steps[0] = 0.0
    out: npt.NDArray[np.float64] = start + np.cumsum(steps, axis=0)
    return out


def simulate_imu(
    trajectory: LoopTrajectory,
    T_body_imu: npt.NDArray[np.float64],
    stamp_s: npt.ArrayLike,
    noise: ImuNoise = ADIS16448_EUROC,
    rng: np.random.Generator | None = None,
    timeshift_cam_imu_s: float = 0.0,
) -> ImuMeasurements:
    """IMU samples at the given stamps.

    Args:
        trajectory: the body (``base_link``) trajectory.
        T_body_imu: (4, 4) float64 pose of ``imu_link`` in ``base_link``.
        stamp_s: (N,) float64 sample stamps, seconds, evenly spaced (the rate sets the
            discrete noise levels).
        noise: noise densities; ``NO_NOISE`` gives exact readings.
        rng: generator for the noise (required unless ``noise`` is all zero).
        timeshift_cam_imu_s: Kalibr's ``t_imu = t_cam + shift``.

    Returns:
        The measurements and the true biases.

    Raises:
        ValueError: fewer than two stamps, uneven spacing, or noise without ``rng``.
    """
    stamps = np.asarray(stamp_s, dtype=np.float64).reshape(-1)
    if stamps.shape[0] < 2:
        msg = f"simulate_imu needs at least 2 stamps, got {stamps.shape[0]}"
        raise ValueError(msg)
    dts = np.diff(stamps)
    dt = float(np.mean(dts))
    if not dt > 0 or np.abs(dts - dt).max() > 1e-6 * dt + 1e-12:
        msg = "simulate_imu stamps must be increasing and evenly spaced"
        raise ValueError(msg)
    kin = imu_kinematics(trajectory, T_body_imu, stamps - timeshift_cam_imu_s)
    n = stamps.shape[0]
    noisy = any(getattr(noise, name) > 0 for name in noise.__slots__)
    if not noisy:
        zeros = np.zeros((n, 3))
        return ImuMeasurements(
            stamps, kin.angular_velocity_rad_s, kin.specific_force_m_s2, zeros, zeros.copy()
        )
    if rng is None:
        msg = "simulate_imu needs an rng when noise is on"
        raise ValueError(msg)
    gyro_bias = _random_walk(rng, n, noise.gyroscope_bias_rad_s, noise.gyroscope_random_walk, dt)
    accel_bias = _random_walk(
        rng, n, noise.accelerometer_bias_m_s2, noise.accelerometer_random_walk, dt
    )
    gyro_white = rng.standard_normal((n, 3)) * (noise.gyroscope_noise_density / np.sqrt(dt))
    accel_white = rng.standard_normal((n, 3)) * (noise.accelerometer_noise_density / np.sqrt(dt))
    return ImuMeasurements(
        stamp_s=stamps,
        angular_velocity_rad_s=kin.angular_velocity_rad_s + gyro_bias + gyro_white,
        linear_acceleration_m_s2=kin.specific_force_m_s2 + accel_bias + accel_white,
        gyroscope_bias_rad_s=gyro_bias,
        accelerometer_bias_m_s2=accel_bias,
    )
