"""Moving-start alignment: stereo VO of the first second plus the IMU, against the truth.

Gravity is checked as the world's z axis seen in the IMU frame, and the velocity and the
displacement in the IMU frame: both are free of the yaw the alignment chooses (yaw 0 at
the newest frame).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from percept.calib.imu import ImuNoise
from percept.synth.features import FeatureSimConfig, FeatureSimulation, simulate_features
from percept.synth.imu import NO_NOISE
from percept.synth.scene import Scene
from percept.synth.warehouse import build_warehouse
from percept.vio.config import InitConfig, PropagatorConfig
from percept.vio.init_dynamic import DynamicInit, initialize_dynamic
from percept.vio.init_static import initial_covariance
from percept.vio.state import BA, BG, IMU_DIM, POS, THETA, VEL
from percept.vio.vo import StereoOdometry, VoStep

#: Frames of the window: 1 s at 20 Hz (InitConfig.dynamic_window_s).
N_FRAMES = 21
ImuArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def scene() -> Scene:
    return build_warehouse(0)


@pytest.fixture(scope="module")
def sims(scene: Scene) -> dict[str, FeatureSimulation]:
    exact = {"pixel_noise_px": 0.0, "imu_noise": NO_NOISE}
    configs = {
        "ground": FeatureSimConfig(motion="ground", seconds=1.1, **exact),  # type: ignore[arg-type]
        "handheld": FeatureSimConfig(motion="handheld", seconds=1.1, **exact),  # type: ignore[arg-type]
        # Only a constant gyroscope bias (drawn with sigma 0.01 rad/s per axis).
        "gyro_bias": FeatureSimConfig(
            seconds=1.1,
            pixel_noise_px=0.0,
            imu_noise=ImuNoise(0.0, 0.0, 0.0, 0.0, 0.0, 0.01),
        ),
        # The IMU 13 ms after the camera: frame stamps fall between IMU readings.
        "shifted": FeatureSimConfig(
            motion="handheld",
            seconds=1.1,
            timeshift_cam_imu_s=0.013,
            **exact,  # type: ignore[arg-type]
        ),
        "imu_noise": FeatureSimConfig(seconds=1.1, pixel_noise_px=0.0),
        "noisy_ground": FeatureSimConfig(motion="ground", seconds=1.1),
        "noisy_handheld": FeatureSimConfig(motion="handheld", seconds=1.1),
    }
    return {name: simulate_features(cfg, scene) for name, cfg in configs.items()}


def _steps(sim: FeatureSimulation, n: int = N_FRAMES) -> list[VoStep]:
    vo = StereoOdometry(sim.camera)
    return [vo.feed(f) for f in sim.frames[:n]]


def _imu(sim: FeatureSimulation) -> ImuArrays:
    t = np.array([s.header.stamp_ns for s in sim.imu], dtype=np.int64)
    gyro = np.array([s.angular_velocity_rad_s for s in sim.imu])
    accel = np.array([s.linear_acceleration_m_s2 for s in sim.imu])
    return t, gyro, accel


def _align(sim: FeatureSimulation, config: InitConfig | None = None) -> DynamicInit:
    return initialize_dynamic(
        _steps(sim), _imu(sim), sim.T_imu_cam, sim.config.timeshift_ns, config
    )


def _errors(sim: FeatureSimulation, res: DynamicInit) -> tuple[float, float, float, float]:
    """Gravity direction (deg), IMU-frame velocity (m/s), speed (m/s), displacement (m)."""
    assert res.state is not None
    k = N_FRAMES - 1
    R_true = sim.T_world_imu[k, :3, :3]
    R = res.state.imu.R_world_imu
    up = np.array([0.0, 0.0, 1.0])
    cos = float(np.clip((R.T @ up) @ (R_true.T @ up), -1.0, 1.0))
    v_true = sim.v_world_imu_m_s[k]
    v = res.state.imu.v_world_imu_m_s
    dp_true = R_true.T @ (sim.T_world_imu[k, :3, 3] - sim.T_world_imu[0, :3, 3])
    return (
        float(np.degrees(np.arccos(cos))),
        float(np.linalg.norm(R.T @ v - R_true.T @ v_true)),
        abs(float(np.linalg.norm(v) - np.linalg.norm(v_true))),
        float(np.linalg.norm(R.T @ res.state.imu.p_world_imu_m - dp_true)),
    )


# -- exact data --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ground", "handheld", "shifted"])
def test_exact_data_gives_the_true_gravity_and_velocity(
    sims: dict[str, FeatureSimulation], name: str
) -> None:
    sim = sims[name]
    res = _align(sim)
    assert res.reason == ""
    assert res.state is not None
    assert res.frames == N_FRAMES
    # The state is at the newest frame's IMU time (camera stamp + td).
    assert res.state.stamp_ns == int(sim.stamps_ns[N_FRAMES - 1]) + sim.config.timeshift_ns
    assert res.state.time_offset_s is None
    assert res.state.clones == ()
    grav_deg, vel, speed, disp = _errors(sim, res)
    # Measured: < 1e-4 deg, < 1e-5 m/s, < 1e-5 m (the speed is 0.7-0.9 m/s).
    assert grav_deg < 0.1
    assert vel < 0.01
    assert speed < 0.01
    assert disp < 1e-3
    assert abs(res.gravity_norm_m_s2 - 9.81) < 0.01
    assert res.residual_m < 1e-3
    assert res.bias_gyro_rad_s is not None
    np.testing.assert_allclose(res.bias_gyro_rad_s, 0.0, atol=1e-4)
    np.testing.assert_array_equal(res.state.imu.bias_accel_m_s2, 0.0)
    # World frame: yaw 0 at the newest frame (the IMU's x axis has no world y part),
    # origin at the first IMU position.
    R = res.state.imu.R_world_imu
    assert abs(R[1, 0]) < 1e-9
    assert R[0, 0] > 0
    true_disp = sim.T_world_imu[N_FRAMES - 1, :3, 3] - sim.T_world_imu[0, :3, 3]
    assert abs(np.linalg.norm(res.state.imu.p_world_imu_m) - np.linalg.norm(true_disp)) < 1e-3


def test_a_constant_gyro_bias_is_recovered(sims: dict[str, FeatureSimulation]) -> None:
    sim = sims["gyro_bias"]
    b_true = sim.bias_gyro_rad_s[0]
    np.testing.assert_allclose(sim.bias_gyro_rad_s - b_true, 0.0, atol=1e-15)  # constant
    assert np.linalg.norm(b_true) > 0.01
    # With a negligible prior the bias comes back exactly and so does gravity.
    weak = _align(sim, InitConfig(sigma_bias_gyro_rad_s=1.0))
    assert weak.bias_gyro_rad_s is not None
    np.testing.assert_allclose(weak.bias_gyro_rad_s, b_true, atol=2e-5)
    grav_deg, vel, _, _ = _errors(sim, weak)
    assert grav_deg < 0.1
    assert vel < 0.01
    assert weak.state is not None
    np.testing.assert_allclose(weak.state.imu.bias_gyro_rad_s, weak.bias_gyro_rad_s)
    # The default prior N(0, 0.01^2) per axis against rotation residuals weighted as
    # 1 mrad shrinks the estimate: b = s b_true with s = 1 / (1 + w^2 / (sigma^2 sum dt^2))
    # = 1 / (1 + 1e-6 / (1e-4 * 20 * 0.05^2)) = 5/6 (the MAP estimate).
    default = _align(sim)
    assert default.bias_gyro_rad_s is not None
    np.testing.assert_allclose(default.bias_gyro_rad_s, b_true * 5 / 6, rtol=0.02)
    grav_deg, vel, _, _ = _errors(sim, default)
    assert grav_deg < 0.15  # measured 0.064 deg
    assert vel < 0.01  # measured 2.8 mm/s


# -- noise -------------------------------------------------------------------------------


def test_imu_noise_alone_barely_moves_the_alignment(sims: dict[str, FeatureSimulation]) -> None:
    sim = sims["imu_noise"]
    res = _align(sim)
    grav_deg, vel, _, disp = _errors(sim, res)
    # Measured (ADIS16448 noise, exact pixels): 0.030 deg, 1.4 mm/s.
    assert grav_deg < 0.1
    assert vel < 0.01
    assert disp < 1e-3


@pytest.mark.parametrize("name", ["noisy_ground", "noisy_handheld"])
def test_pixel_and_imu_noise_bound_the_alignment(
    sims: dict[str, FeatureSimulation], name: str
) -> None:
    # Default noise (1 px, ADIS16448). Measured over seeds 0-5: gravity 0.3-1.7 deg
    # (ground) and 0.1-1.4 deg (handheld); IMU-frame velocity 0.03-0.13 and 0.09-0.23
    # m/s. Nearly all of it comes from the VO: its per-frame rotation bias at 1 px
    # (depth fx B / d of a noisy disparity, test_vo) reads as a gyro bias of ~0.01 rad/s
    # and tilts gravity; the IMU noise alone gives 0.03 deg.
    sim = sims[name]
    res = _align(sim)
    assert res.state is not None, res.reason
    grav_deg, vel, speed, _ = _errors(sim, res)
    assert grav_deg < 2.5  # seed 0: 1.66 (ground), 1.24 (handheld)
    assert vel < 0.35  # seed 0: 0.12, 0.21
    assert speed < 0.2  # seed 0: 0.11, 0.09
    assert abs(res.gravity_norm_m_s2 - 9.81) < InitConfig().dynamic_max_gravity_error_m_s2
    assert res.residual_m < InitConfig().dynamic_max_residual_m


# -- covariance --------------------------------------------------------------------------


def test_covariance_follows_initial_covariance(sims: dict[str, FeatureSimulation]) -> None:
    cfg = InitConfig(
        sigma_rotation_rad=0.03, dynamic_sigma_velocity_m_s=0.2, sigma_bias_accel_m_s2=0.05
    )
    res = _align(sims["handheld"], cfg)
    assert res.state is not None
    P = res.state.covariance
    R = res.state.imu.R_world_imu
    assert P.shape == (IMU_DIM, IMU_DIM)
    np.testing.assert_array_equal(P, initial_covariance(R, cfg, cfg.dynamic_sigma_velocity_m_s))
    # Roll and pitch sigma_rotation_rad about the world axes, yaw and position known.
    np.testing.assert_allclose(
        R @ P[THETA, THETA] @ R.T, np.diag([0.03**2] * 2 + [0.0]), atol=1e-15
    )
    np.testing.assert_array_equal(P[POS, POS], 0.0)
    np.testing.assert_allclose(P[VEL, VEL], 0.2**2 * np.eye(3))
    np.testing.assert_allclose(P[BG, BG], cfg.sigma_bias_gyro_rad_s**2 * np.eye(3))
    np.testing.assert_allclose(P[BA, BA], 0.05**2 * np.eye(3))


# -- refusals ----------------------------------------------------------------------------


def test_too_few_frames_are_refused(sims: dict[str, FeatureSimulation]) -> None:
    sim = sims["ground"]
    res = initialize_dynamic(_steps(sim, 4), _imu(sim), sim.T_imu_cam)
    assert res.state is None
    assert res.reason == "4 frames < 5"
    assert res.frames == 4
    more = InitConfig(dynamic_min_frames=30)
    res = initialize_dynamic(_steps(sim), _imu(sim), sim.T_imu_cam, config=more)
    assert res.state is None
    assert res.reason == f"{N_FRAMES} frames < 30"


def test_imu_that_does_not_cover_the_window_is_refused(
    sims: dict[str, FeatureSimulation],
) -> None:
    sim = sims["ground"]
    steps = _steps(sim)
    t, g, a = _imu(sim)
    first, last = steps[0].stamp_ns, steps[-1].stamp_ns
    late = t > first
    early = t < last
    for keep in (late, early, np.zeros_like(late)):
        res = initialize_dynamic(steps, (t[keep], g[keep], a[keep]), sim.T_imu_cam)
        assert res.state is None
        assert res.reason == "IMU readings do not cover the window"
    # The time offset moves the window on the IMU clock: 0.5 s later is past the end.
    res = initialize_dynamic(steps, (t, g, a), sim.T_imu_cam, time_offset_ns=500_000_000)
    assert res.reason == "IMU readings do not cover the window"
    # Readings exactly at the window's ends are enough.
    tight = (t >= first) & (t <= last)
    assert initialize_dynamic(steps, (t[tight], g[tight], a[tight]), sim.T_imu_cam).reason == ""


def test_a_failed_odometry_step_is_refused(sims: dict[str, FeatureSimulation]) -> None:
    sim = sims["ground"]
    steps = _steps(sim)
    bad = list(steps)
    bad[5] = dataclasses.replace(steps[5], ok=False)
    bad[9] = dataclasses.replace(steps[9], ok=False)
    res = initialize_dynamic(bad, _imu(sim), sim.T_imu_cam)
    assert res.state is None
    assert res.reason == "stereo odometry failed on 2 frames"
    # The first step has no motion: its flag does not count.
    first = [dataclasses.replace(steps[0], ok=False), *steps[1:]]
    assert initialize_dynamic(first, _imu(sim), sim.T_imu_cam).reason == ""


def test_wrong_gravity_and_large_residuals_are_refused(
    sims: dict[str, FeatureSimulation],
) -> None:
    sim = sims["noisy_ground"]
    steps = _steps(sim)
    t, g, a = _imu(sim)
    # An accelerometer 20 % off: |g| of the solve is far from 9.81.
    res = initialize_dynamic(steps, (t, g, 1.2 * a), sim.T_imu_cam)
    assert res.state is None
    assert res.reason.startswith("gravity ")
    assert "is not 9.81 +- 0.5" in res.reason
    assert abs(res.gravity_norm_m_s2 - 9.81) > 0.5
    assert res.bias_gyro_rad_s is not None
    # Tight limits refuse the noisy window.
    free = initialize_dynamic(steps, (t, g, a), sim.T_imu_cam)
    assert free.state is not None
    # A limit below the noisy window's own |g| error refuses it.
    limit = 0.5 * abs(free.gravity_norm_m_s2 - 9.81)
    tight_g = InitConfig(dynamic_max_gravity_error_m_s2=limit)
    res = initialize_dynamic(steps, (t, g, a), sim.T_imu_cam, config=tight_g)
    assert res.state is None
    assert res.reason.startswith("gravity ")
    tight_r = InitConfig(dynamic_max_residual_m=1e-4)
    res = initialize_dynamic(steps, (t, g, a), sim.T_imu_cam, config=tight_r)
    assert res.state is None
    assert res.reason.startswith("position residual ")
    assert res.residual_m > 1e-4
    assert res.frames == N_FRAMES


def test_gravity_magnitude_comes_from_the_propagator_config(
    sims: dict[str, FeatureSimulation],
) -> None:
    # The simulator's gravity is 9.81: the pre-integration removes the gravity it
    # integrated, so the solve still finds 9.81, 0.31 from the 9.5 expected.
    sim = sims["ground"]
    pcfg = PropagatorConfig(gravity_m_s2=9.5)
    res = initialize_dynamic(
        _steps(sim), _imu(sim), sim.T_imu_cam, config=InitConfig(), propagator_config=pcfg
    )
    assert res.state is not None
    assert abs(res.gravity_norm_m_s2 - 9.81) < 0.01
    strict = InitConfig(dynamic_max_gravity_error_m_s2=0.1)
    res = initialize_dynamic(
        _steps(sim), _imu(sim), sim.T_imu_cam, config=strict, propagator_config=pcfg
    )
    assert res.state is None
    assert "is not 9.5 +- 0.1" in res.reason
