"""Trajectories and the simulated IMU: exact derivatives, integration, noise levels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from percept.calib.imu import ImuNoise
from percept.synth.imu import (
    ADIS16448_EUROC,
    GRAVITY_M_S2,
    NO_NOISE,
    imu_kinematics,
    simulate_imu,
)
from percept.synth.scene import AisleLoop
from percept.synth.trajectory import LoopTrajectory

LOOP = AisleLoop((0.0, 0.0), (9.0, 4.2), clearance_m=1.2)
# A mount with a lever arm and a rotation, so the test covers both.
T_BODY_IMU = np.eye(4)
T_BODY_IMU[:3, :3] = Rotation.from_euler("xyz", [0.1, -0.2, 1.2]).as_matrix()
T_BODY_IMU[:3, 3] = (0.12, -0.05, 0.3)


def _quat_mul(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hamilton product of xyzw quaternions."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def _rotate(q: npt.NDArray[np.float64], v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x, y, z, w = q
    u = np.array([x, y, z])
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


def _integrate_rk4(
    stamps: npt.NDArray[np.float64],
    gyro: npt.NDArray[np.float64],
    accel: npt.NDArray[np.float64],
    p0: npt.NDArray[np.float64],
    v0: npt.NDArray[np.float64],
    q0: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Strapdown RK4, measurements linearly interpolated at the half step."""
    g = np.array([0.0, 0.0, -GRAVITY_M_S2])

    def deriv(
        v: npt.NDArray[np.float64],
        q: npt.NDArray[np.float64],
        w: npt.NDArray[np.float64],
        f: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.float64], ...]:
        return v, _rotate(q, f) + g, 0.5 * _quat_mul(q, np.append(w, 0.0))

    p, v, q = p0.copy(), v0.copy(), q0.copy()
    positions, quats = [p.copy()], [q.copy()]
    for k in range(stamps.shape[0] - 1):
        dt = stamps[k + 1] - stamps[k]
        w0, w1, f0, f1 = gyro[k], gyro[k + 1], accel[k], accel[k + 1]
        wm, fm = (w0 + w1) / 2, (f0 + f1) / 2
        k1 = deriv(v, q, w0, f0)
        k2 = deriv(v + dt / 2 * k1[1], q + dt / 2 * k1[2], wm, fm)
        k3 = deriv(v + dt / 2 * k2[1], q + dt / 2 * k2[2], wm, fm)
        k4 = deriv(v + dt * k3[1], q + dt * k3[2], w1, f1)
        p = p + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        q = q + dt / 6 * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2])
        q /= np.linalg.norm(q)
        positions.append(p.copy())
        quats.append(q.copy())
    return np.array(positions), np.array(quats)


@pytest.mark.parametrize("motion", ["ground", "handheld"])
def test_noise_free_imu_integrates_to_the_trajectory_within_1cm_over_10s(motion: str) -> None:
    trajectory = LoopTrajectory(LOOP, motion, seed=3)
    stamps = np.arange(2001) / 200.0  # 10 s at 200 Hz
    imu = simulate_imu(trajectory, T_BODY_IMU, stamps, NO_NOISE)
    truth = imu_kinematics(trajectory, T_BODY_IMU, stamps)
    positions, quats = _integrate_rk4(
        stamps,
        imu.angular_velocity_rad_s,
        imu.linear_acceleration_m_s2,
        truth.position_m[0],
        truth.velocity_m_s[0],
        truth.rotation[0].as_quat(),
    )
    position_error = np.linalg.norm(positions - truth.position_m, axis=1)
    angle_error = (Rotation.from_quat(quats).inv() * truth.rotation).magnitude()
    travelled = np.linalg.norm(np.diff(truth.position_m, axis=0), axis=1).sum()
    assert travelled > 4.0  # a real trajectory, not a robot standing still
    assert position_error.max() < 0.01  # measured: 4e-7 m ground, 2e-4 m handheld
    assert angle_error.max() < 1e-4


@pytest.mark.parametrize("motion", ["ground", "handheld"])
def test_trajectory_derivatives_match_finite_differences(motion: str) -> None:
    trajectory = LoopTrajectory(LOOP, motion, seed=1)
    t = np.linspace(0.0, 30.0, 50)
    h = 1e-5
    s, s_minus, s_plus = (trajectory.sample(t + d) for d in (0.0, -h, h))
    velocity = (s_plus.position_m - s_minus.position_m) / (2 * h)
    np.testing.assert_allclose(s.velocity_m_s, velocity, atol=1e-6)
    acceleration = (s_plus.velocity_m_s - s_minus.velocity_m_s) / (2 * h)
    np.testing.assert_allclose(s.acceleration_m_s2, acceleration, atol=1e-6)
    # Angular velocity (world): R' R^T = [omega]x.
    dR = (s_plus.rotation.as_matrix() - s_minus.rotation.as_matrix()) / (2 * h)
    skew = dR @ np.transpose(s.rotation.as_matrix(), (0, 2, 1))
    omega = np.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], axis=1)
    np.testing.assert_allclose(s.angular_velocity_rad_s, omega, atol=1e-6)
    alpha = (s_plus.angular_velocity_rad_s - s_minus.angular_velocity_rad_s) / (2 * h)
    np.testing.assert_allclose(s.angular_acceleration_rad_s2, alpha, atol=1e-5)


def test_ground_robot_stays_on_the_floor_and_heads_along_its_velocity() -> None:
    s = LoopTrajectory(LOOP, "ground", seed=5).sample(np.linspace(0.0, 60.0, 200))
    np.testing.assert_allclose(s.position_m[:, 2], 0.0, atol=1e-12)
    forward = s.rotation.apply(np.tile([1.0, 0.0, 0.0], (200, 1)))
    direction = s.velocity_m_s / np.linalg.norm(s.velocity_m_s, axis=1, keepdims=True)
    np.testing.assert_allclose(forward, direction, atol=1e-9)
    speed = np.linalg.norm(s.velocity_m_s, axis=1)
    assert 0.3 < speed.min() < speed.max() < 2.0


def test_trajectory_stays_within_the_loop_clearance() -> None:
    loop_points = LOOP.polyline(4000)
    for motion in ("ground", "handheld"):
        s = LoopTrajectory(LOOP, motion, seed=2).sample(np.linspace(0.0, 120.0, 600))
        dist = np.linalg.norm(s.position_m[:, None, :2] - loop_points[None], axis=2).min(axis=1)
        assert dist.max() < 0.5 * LOOP.clearance_m


def test_imu_at_the_same_place_as_the_body_reads_gravity_up_in_a_level_frame() -> None:
    trajectory = LoopTrajectory(LOOP, "ground", seed=0)
    truth = imu_kinematics(trajectory, np.eye(4), np.linspace(0.0, 5.0, 11))
    # A level ground robot: vertical specific force is exactly +g.
    np.testing.assert_allclose(truth.specific_force_m_s2[:, 2], GRAVITY_M_S2, atol=1e-12)
    np.testing.assert_allclose(truth.angular_velocity_rad_s[:, :2], 0.0, atol=1e-12)


def test_noise_matches_the_stated_densities() -> None:
    trajectory = LoopTrajectory(LOOP, "handheld", seed=0)
    rate = 200.0
    stamps = np.arange(40000) / rate
    noise = ADIS16448_EUROC
    rng = np.random.default_rng(0)
    imu = simulate_imu(trajectory, T_BODY_IMU, stamps, noise, rng)
    truth = simulate_imu(trajectory, T_BODY_IMU, stamps, NO_NOISE)
    gyro_white = (
        imu.angular_velocity_rad_s - truth.angular_velocity_rad_s - imu.gyroscope_bias_rad_s
    )
    accel_white = (
        imu.linear_acceleration_m_s2 - truth.linear_acceleration_m_s2 - imu.accelerometer_bias_m_s2
    )
    np.testing.assert_allclose(
        gyro_white.std(axis=0), noise.gyroscope_noise_density * np.sqrt(rate), rtol=0.03
    )
    np.testing.assert_allclose(
        accel_white.std(axis=0), noise.accelerometer_noise_density * np.sqrt(rate), rtol=0.03
    )
    gyro_steps = np.diff(imu.gyroscope_bias_rad_s, axis=0)
    accel_steps = np.diff(imu.accelerometer_bias_m_s2, axis=0)
    np.testing.assert_allclose(
        gyro_steps.std(axis=0), noise.gyroscope_random_walk / np.sqrt(rate), rtol=0.03
    )
    np.testing.assert_allclose(
        accel_steps.std(axis=0), noise.accelerometer_random_walk / np.sqrt(rate), rtol=0.03
    )


def test_initial_bias_is_drawn_with_the_configured_spread() -> None:
    trajectory = LoopTrajectory(LOOP, "ground", seed=0)
    noise = ImuNoise(0.0, 0.0, 0.0, 0.0, accelerometer_bias_m_s2=0.05, gyroscope_bias_rad_s=0.01)
    biases = np.array(
        [
            simulate_imu(
                trajectory, np.eye(4), [0.0, 0.005], noise, np.random.default_rng(i)
            ).gyroscope_bias_rad_s[0]
            for i in range(300)
        ]
    )
    assert biases.std() == pytest.approx(0.01, rel=0.1)


def test_timeshift_delays_what_each_stamp_measures() -> None:
    trajectory = LoopTrajectory(LOOP, "handheld", seed=4)
    stamps = np.arange(100) / 200.0
    shift = 0.013
    shifted = simulate_imu(trajectory, T_BODY_IMU, stamps, NO_NOISE, timeshift_cam_imu_s=shift)
    reference = simulate_imu(trajectory, T_BODY_IMU, stamps - shift, NO_NOISE)
    np.testing.assert_allclose(shifted.angular_velocity_rad_s, reference.angular_velocity_rad_s)
    np.testing.assert_allclose(shifted.linear_acceleration_m_s2, reference.linear_acceleration_m_s2)
    np.testing.assert_array_equal(shifted.stamp_s, stamps)


def test_simulate_imu_raises_on_uneven_stamps() -> None:
    trajectory = LoopTrajectory(LOOP, "ground")
    with pytest.raises(ValueError, match="evenly spaced"):
        simulate_imu(trajectory, np.eye(4), [0.0, 0.005, 0.02], NO_NOISE)


def test_simulate_imu_raises_without_rng_when_noisy() -> None:
    trajectory = LoopTrajectory(LOOP, "ground")
    with pytest.raises(ValueError, match="needs an rng"):
        simulate_imu(trajectory, np.eye(4), [0.0, 0.005], ADIS16448_EUROC)


def test_imu_noise_raises_on_negative_density() -> None:
    with pytest.raises(ValueError, match="gyroscope_noise_density must be finite and >= 0"):
        ImuNoise(gyroscope_noise_density=-1.0)


def test_trajectory_raises_on_unknown_motion() -> None:
    with pytest.raises(ValueError, match="motion must be one of"):
        LoopTrajectory(LOOP, "flying")
