"""Static initialisation, the still test and the zero-velocity test; EuRoC V1_01's still start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import Header, ImuSample
from percept.synth.imu import ADIS16448_EUROC, GRAVITY_M_S2, simulate_imu
from percept.synth.scene import AisleLoop
from percept.synth.trajectory import LoopTrajectory
from percept.vio.config import InitConfig, PropagatorConfig
from percept.vio.init_static import (
    ZeroVelocityDetector,
    gravity_aligned_rotation,
    initialize_static,
    still_test,
)
from percept.vio.propagator import Propagator
from percept.vio.state import ImuState

RATE_HZ = 200.0
DT_S = 1.0 / RATE_HZ
EUROC = "euroc_v1_01_easy_micro/mav0"


def _still_imu(
    R_world_imu: np.ndarray,
    seconds: float,
    bias_gyro: np.ndarray,
    bias_accel: np.ndarray,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A still IMU with EuRoC's ADIS16448 white noise (percept.synth.imu's model)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE_HZ) + 1
    stamps = 1_000_000_000 + np.arange(n, dtype=np.int64) * 5_000_000
    noise = ADIS16448_EUROC
    gyro = bias_gyro + rng.normal(size=(n, 3)) * noise.gyroscope_noise_density / np.sqrt(DT_S)
    f = R_world_imu.T @ np.array([0.0, 0.0, GRAVITY_M_S2])
    accel = (
        f + bias_accel + rng.normal(size=(n, 3)) * noise.accelerometer_noise_density / np.sqrt(DT_S)
    )
    return stamps, gyro, accel


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    c = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def test_static_init_on_noisy_still_imu_finds_gravity_within_0p1_deg() -> None:
    R_true = Rotation.from_euler("ZYX", [0.7, 0.2, -0.3]).as_matrix()
    bias_gyro = np.array([0.01, -0.02, 0.005])
    stamps, gyro, accel = _still_imu(R_true, 2.0, bias_gyro, np.zeros(3))
    result = initialize_static(stamps, gyro, accel)
    assert result.test.still, result.test.reason
    assert result.state is not None
    imu = result.state.imu
    # World z seen from the IMU (row 2 of R_world_imu): yaw does not enter.
    assert _angle_deg(imu.R_world_imu[2], R_true[2]) < 0.1
    # Gyro bias within 4 sigma of the mean of 401 readings of white noise.
    sigma = ADIS16448_EUROC.gyroscope_noise_density / np.sqrt(DT_S) / np.sqrt(len(stamps))
    np.testing.assert_allclose(imu.bias_gyro_rad_s, bias_gyro, atol=4 * sigma)
    np.testing.assert_array_equal(imu.bias_accel_m_s2, np.zeros(3))
    np.testing.assert_array_equal(imu.v_world_imu_m_s, np.zeros(3))
    assert imu.stamp_ns == stamps[-1]
    P = result.state.covariance
    assert np.all(np.linalg.eigvalsh(P) > -1e-15)
    # The start is the gauge: yaw (about world z) and position known exactly there;
    # roll and pitch keep sigma_rotation_rad.
    P_world = imu.R_world_imu @ P[:3, :3] @ imu.R_world_imu.T
    assert abs(P_world[2, 2]) < 1e-15
    np.testing.assert_allclose(np.diag(P_world)[:2], 0.02**2)
    np.testing.assert_array_equal(P[3:6, 3:6], np.zeros((3, 3)))


def test_an_accel_bias_across_gravity_tilts_the_estimate_by_its_angle() -> None:
    # Unobservable while still: the bias reads as a tilt of atan(|b_perp| / g).
    bias_accel = np.array([0.1, 0.0, 0.0])
    stamps, gyro, accel = _still_imu(np.eye(3), 2.0, np.zeros(3), bias_accel, seed=1)
    result = initialize_static(stamps, gyro, accel)
    assert result.state is not None
    tilt = _angle_deg(result.state.imu.R_world_imu[2], np.array([0.0, 0.0, 1.0]))
    assert tilt == pytest.approx(np.degrees(np.arctan(0.1 / GRAVITY_M_S2)), abs=0.02)


def test_accel_bias_along_gravity_as_openvins_reads_the_magnitude_error() -> None:
    stamps, gyro, accel = _still_imu(np.eye(3), 2.0, np.zeros(3), np.array([0.0, 0.0, 0.05]))
    cfg = InitConfig(accel_bias_along_gravity=True)
    result = initialize_static(stamps, gyro, accel, cfg)
    assert result.state is not None
    np.testing.assert_allclose(result.state.imu.bias_accel_m_s2, [0.0, 0.0, 0.05], atol=5e-3)


def test_gravity_aligned_rotation_has_yaw_0() -> None:
    R_true = Rotation.from_euler("ZYX", [1.2, -0.4, 0.25]).as_matrix()
    R = gravity_aligned_rotation(R_true.T @ [0.0, 0.0, 9.81])
    np.testing.assert_allclose(R @ (R_true.T @ [0.0, 0.0, 9.81]), [0.0, 0.0, 9.81], atol=1e-12)
    # The IMU's x axis, seen in the world, has no y component: heading 0.
    assert abs((R @ [1.0, 0.0, 0.0])[1]) < 1e-12
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    # An IMU whose x axis points up falls back to its y axis.
    R_up = gravity_aligned_rotation([9.81, 0.0, 0.0])
    np.testing.assert_allclose(R_up @ [9.81, 0.0, 0.0], [0.0, 0.0, 9.81], atol=1e-12)
    with pytest.raises(ValueError, match="non-zero"):
        gravity_aligned_rotation([0.0, 0.0, 0.0])


def test_still_test_says_a_moving_imu_moves() -> None:
    trajectory = LoopTrajectory(AisleLoop((0.0, 0.0), (6.0, 3.0), 1.0), "handheld", seed=0)
    t_s = np.arange(401) * DT_S
    meas = simulate_imu(trajectory, np.eye(4), t_s, ADIS16448_EUROC, np.random.default_rng(0))
    stamps = np.round(t_s * 1e9).astype(np.int64)
    test = still_test(stamps, meas.angular_velocity_rad_s, meas.linear_acceleration_m_s2)
    assert not test.still
    assert "jerk" in test.reason or "moves" in test.reason or "rotates" in test.reason
    result = initialize_static(stamps, meas.angular_velocity_rad_s, meas.linear_acceleration_m_s2)
    assert result.state is None


def test_still_test_catches_a_slow_tilt_with_the_jerk_check() -> None:
    stamps, gyro, accel = _still_imu(np.eye(3), 2.0, np.zeros(3), np.zeros(3), seed=2)
    tilted = Rotation.from_euler("x", 2.0, degrees=True).as_matrix()
    half = len(stamps) // 2
    accel[half:] = accel[half:] @ tilted  # rows: R^T f for the newer half
    test = still_test(stamps, gyro, accel)
    assert not test.still
    assert test.reason.startswith("jerk: mean accel moved")
    assert test.accel_jump_m_s2 == pytest.approx(np.radians(2.0) * 9.81, rel=0.1)


def test_still_test_refuses_a_short_window_and_a_wrong_gravity() -> None:
    stamps, gyro, accel = _still_imu(np.eye(3), 0.5, np.zeros(3), np.zeros(3))
    assert still_test(stamps, gyro, accel).reason.startswith("window too short")
    stamps, gyro, accel = _still_imu(np.eye(3), 2.0, np.zeros(3), np.zeros(3))
    test = still_test(stamps, gyro, 0.9 * accel)
    assert not test.still
    assert "differs from gravity" in test.reason
    assert not still_test(stamps[:0], gyro[:0], accel[:0]).still


def test_wait_for_jerk_starts_on_the_motion_from_the_older_half() -> None:
    stamps, gyro, accel = _still_imu(np.eye(3), 2.0, np.zeros(3), np.zeros(3), seed=3)
    cfg = InitConfig(wait_for_jerk=True)
    assert still_test(stamps, gyro, accel, cfg).reason.startswith("no jerk yet")
    half = len(stamps) // 2
    accel[half + 5 :] += np.random.default_rng(0).normal(size=(len(stamps) - half - 5, 3)) * 2.0
    result = initialize_static(stamps, gyro, accel, cfg)
    assert result.test.still, result.test.reason
    assert result.state is not None
    assert _angle_deg(result.state.imu.R_world_imu[2], np.array([0.0, 0.0, 1.0])) < 0.1


def test_zero_velocity_detector_accepts_still_and_rejects_motion() -> None:
    R_true = Rotation.from_euler("ZYX", [0.3, 0.1, 0.2]).as_matrix()
    bias_gyro = np.array([0.002, -0.001, 0.003])
    stamps, gyro, accel = _still_imu(R_true, 1.0, bias_gyro, np.zeros(3), seed=4)
    imu = ImuState(int(stamps[-1]), R_true, bias_gyro_rad_s=bias_gyro)
    detector = ZeroVelocityDetector(InitConfig(zupt_noise_multiplier=1.0))
    still = detector.test(imu, gyro[-10:], accel[-10:])
    assert still.still, still.reason
    assert still.dof == 60
    moving = detector.test(imu, gyro[-10:] + 0.05, accel[-10:] + np.array([0.3, 0.0, 0.0]))
    assert not moving.still
    assert moving.reason.startswith("chi2")
    fast = ImuState(imu.stamp_ns, R_true, v_world_imu_m_s=np.array([0.5, 0.0, 0.0]))
    assert "speed" in detector.test(fast, gyro[-10:], accel[-10:]).reason
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        detector.test(imu, gyro[:0], accel[:0])


def test_init_config_raises_on_bad_values() -> None:
    with pytest.raises(ValueError, match="window_s"):
        InitConfig(window_s=0.0)
    with pytest.raises(ValueError, match="zupt_chi2_quantile"):
        InitConfig(zupt_chi2_quantile=1.0)


def _euroc(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    root = data_dir / EUROC
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    csv = root / "imu0" / "data.csv"
    stamps = np.loadtxt(csv, delimiter=",", dtype=np.int64, usecols=0)
    values = np.loadtxt(csv, delimiter=",", usecols=range(1, 7))
    # OpenVINS' re-estimated state at the frames: time, p, q_wxyz, v, b_g, b_a.
    gt = np.loadtxt(
        root / "state_groundtruth_estimate0" / "openvins_state_at_frames.csv", delimiter=","
    )
    return stamps, values[:, :3], values[:, 3:], gt


def test_euroc_v1_01_still_start_gravity_within_1_deg_and_gyro_bias(data_dir: Path) -> None:
    stamps, gyro, accel, gt = _euroc(data_dir)
    # The MAV stands with its rotors spinning: OpenVINS' EuRoC still threshold (1.5 m/s^2).
    cfg = InitConfig(window_s=4.0, max_accel_std_m_s2=1.5)
    result = initialize_static(stamps, gyro, accel, cfg)
    assert result.test.still, result.test.reason
    assert result.state is not None
    R_gt = Rotation.from_quat(gt[:, [5, 6, 7, 4]])  # wxyz -> xyzw
    up_gt = R_gt.inv().apply([0.0, 0.0, 1.0]).mean(axis=0)
    angle = _angle_deg(result.state.imu.R_world_imu[2], up_gt)
    # Measured: 0.62 deg (OpenVINS' accel bias, [-0.017, 0.062, 0.036] m/s^2, is in it).
    assert angle < 1.0
    bias_gt = gt[:, 11:14].mean(axis=0)
    # Measured: 1.7e-3 rad/s from OpenVINS' estimate [-0.0023, 0.0215, 0.0769].
    assert np.linalg.norm(result.state.imu.bias_gyro_rad_s - bias_gt) < 3e-3


def test_euroc_v1_01_imu_only_drift_over_3_s(data_dir: Path) -> None:
    stamps, gyro, accel, _ = _euroc(data_dir)
    first = stamps <= stamps[0] + 1_000_000_000
    cfg = InitConfig(window_s=1.0, max_accel_std_m_s2=1.5)
    result = initialize_static(stamps[first], gyro[first], accel[first], cfg)
    assert result.state is not None
    prop = Propagator(PropagatorConfig())
    for t, g, a in zip(stamps, gyro, accel, strict=True):
        prop.feed_imu(ImuSample(Header(int(t)), g, a))
    state = result.state
    for frame in range(state.stamp_ns + 50_000_000, int(stamps[-1]) + 1, 50_000_000):
        state = prop.propagate(state, frame)
    assert (state.stamp_ns - result.state.stamp_ns) == 3_000_000_000
    assert prop.gap_count == 0
    drift = float(np.linalg.norm(state.imu.p_world_imu_m))
    # Measured: 0.167 m (0.148 m of it vertical: |mean accel| is 9.78, not 9.81), 0.077 m
    # with the OpenVINS accel bias along gravity. The filter must cover it: within 3 sigma.
    assert drift < 0.3
    sigma = np.sqrt(np.diag(state.covariance)[3:6])
    assert np.all(np.abs(state.imu.p_world_imu_m) < 3 * sigma)
