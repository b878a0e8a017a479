"""Propagation: Φ against finite differences, Q against Monte-Carlo, dead reckoning on synth."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from percept.domain import Header, ImuSample
from percept.synth.imu import NO_NOISE, imu_kinematics, simulate_imu
from percept.synth.scene import AisleLoop
from percept.synth.trajectory import LoopTrajectory
from percept.vio.config import PropagatorConfig
from percept.vio.propagator import PropagationError, Propagator, integrate_imu
from percept.vio.state import IMU_DIM, POS, THETA, ImuState, State, augment_clone

RATE_NS = 5_000_000  # 200 Hz
T_BODY_IMU = np.array(
    [[0.0, -1.0, 0.0, 0.10], [1.0, 0.0, 0.0, 0.02], [0.0, 0.0, 1.0, 0.30], [0.0, 0.0, 0.0, 1.0]]
)


def _imu(seed: int = 0) -> ImuState:
    rng = np.random.default_rng(seed)
    return ImuState(
        0,
        Rotation.random(random_state=seed).as_matrix(),
        rng.normal(size=3),
        rng.normal(size=3),
        rng.normal(size=3) * 0.01,
        rng.normal(size=3) * 0.1,
    )


def _readings(n: int, rate_scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gyro = rng.normal(size=(n, 3)) * rate_scale
    accel = rng.normal(size=(n, 3)) * 3.0 + [0.0, 0.0, 9.81]
    return gyro, accel


def _numeric_transition(
    imu: ImuState, dt: np.ndarray, gyro: np.ndarray, accel: np.ndarray, cfg: PropagatorConfig
) -> np.ndarray:
    """Central differences of the mean, in the right perturbation of percept.vio.state."""
    nominal = integrate_imu(imu, dt, gyro, accel, cfg, with_covariance=False).imu
    eps = 1e-6
    out = np.zeros((IMU_DIM, IMU_DIM))
    for i in range(IMU_DIM):
        d = np.zeros(IMU_DIM)
        d[i] = eps
        plus = integrate_imu(imu.boxplus(d), dt, gyro, accel, cfg, with_covariance=False)
        minus = integrate_imu(imu.boxplus(-d), dt, gyro, accel, cfg, with_covariance=False)
        out[:, i] = (plus.imu.boxminus(nominal) - minus.imu.boxminus(nominal)) / (2 * eps)
    return out


@pytest.mark.parametrize(
    ("rate_scale", "steps"),
    [(0.5, 1), (0.5, 10), (40.0, 10)],
    ids=["one-step", "camera-interval", "fast-rotation-closed-form"],
)
def test_transition_matches_finite_differences_within_1e_6(rate_scale: float, steps: int) -> None:
    # 40 rad/s at 200 Hz is 0.2 rad per step: past the series switch (0.1), so both
    # branches of the closed forms are checked.
    cfg = PropagatorConfig()
    gyro, accel = _readings(steps, rate_scale, seed=steps)
    dt = np.full(steps, RATE_NS)
    analytic = integrate_imu(_imu(), dt, gyro, accel, cfg).transition
    numeric = _numeric_transition(_imu(), dt, gyro, accel, cfg)
    rel = np.abs(analytic - numeric).max() / np.abs(analytic).max()
    assert rel < 1e-6


def test_covariance_matches_monte_carlo_of_the_mean() -> None:
    # Noise 50x EuRoC's and a small prior, so that Q and P0 weigh alike over 10 steps.
    cfg = PropagatorConfig(
        gyroscope_noise_density=0.01,
        gyroscope_random_walk=1e-3,
        accelerometer_noise_density=0.1,
        accelerometer_random_walk=0.15,
    )
    steps, runs = 10, 2000
    dt_s = RATE_NS / 1e9
    imu = _imu(1)
    gyro, accel = _readings(steps, 1.0, seed=5)
    dt = np.full(steps, RATE_NS)
    sig0 = np.array([1e-3] * 3 + [1e-3] * 3 + [2e-3] * 3 + [1e-3] * 3 + [1e-2] * 3)
    P0 = np.diag(sig0**2)
    out = integrate_imu(imu, dt, gyro, accel, cfg)
    P = out.transition @ P0 @ out.transition.T + out.noise
    rng = np.random.default_rng(0)
    errors = np.empty((runs, IMU_DIM))
    for r in range(runs):
        x = imu.boxplus(rng.normal(size=IMU_DIM) * sig0)
        # White noise held over each step (variance sigma^2 / dt); the bias walks after
        # each step. A bias only acts through the readings (w - b_g, a - b_a), so the walk
        # so far is folded into the later readings and added to the state at the end:
        # the same as stepping one reading at a time, in one call.
        white_g = rng.normal(size=(steps, 3)) * cfg.gyroscope_noise_density / np.sqrt(dt_s)
        white_a = rng.normal(size=(steps, 3)) * cfg.accelerometer_noise_density / np.sqrt(dt_s)
        walk_g = rng.normal(size=(steps, 3)) * cfg.gyroscope_random_walk * np.sqrt(dt_s)
        walk_a = rng.normal(size=(steps, 3)) * cfg.accelerometer_random_walk * np.sqrt(dt_s)
        before_g = np.cumsum(walk_g, axis=0) - walk_g
        before_a = np.cumsum(walk_a, axis=0) - walk_a
        g = gyro + white_g - before_g
        a = accel + white_a - before_a
        x = integrate_imu(x, dt, g, a, cfg, with_covariance=False).imu
        end_walk = np.zeros(IMU_DIM)
        end_walk[9:12] = walk_g.sum(axis=0)
        end_walk[12:15] = walk_a.sum(axis=0)
        errors[r] = x.boxplus(end_walk).boxminus(out.imu)
    nees = np.einsum("ri,ij,rj->r", errors, np.linalg.inv(P), errors).mean()
    lo, hi = chi2.ppf([0.025, 0.975], IMU_DIM * runs) / runs
    assert lo < nees < hi, f"average NEES {nees:.3f} outside the 95 % band [{lo:.3f}, {hi:.3f}]"
    # Each variance within sampling error (sqrt(2/2000) = 3 %; 5 sigma).
    np.testing.assert_allclose(np.var(errors, axis=0), np.diag(P), rtol=0.16)


def _feed(prop: Propagator, stamps_ns: np.ndarray, gyro: np.ndarray, accel: np.ndarray) -> None:
    for t, g, a in zip(stamps_ns, gyro, accel, strict=True):
        assert prop.feed_imu(ImuSample(Header(int(t)), g, a))


@pytest.mark.parametrize("motion", ["ground", "handheld"])
def test_noiseless_synthetic_imu_dead_reckons_within_1_mm_over_2_s(motion: str) -> None:
    trajectory = LoopTrajectory(AisleLoop((0.0, 0.0), (6.0, 3.0), 1.0), motion, seed=2)
    stamps_ns = np.arange(0, 401) * RATE_NS + 1_000_000_000
    t_s = stamps_ns / 1e9
    meas = simulate_imu(trajectory, T_BODY_IMU, t_s, NO_NOISE)
    prop = Propagator()
    _feed(prop, stamps_ns, meas.angular_velocity_rad_s, meas.linear_acceleration_m_s2)
    # Camera stamps at 20 Hz, 1.7 ms off the IMU's: both ends are interpolated.
    frames_ns = stamps_ns[0] + 1_700_000 + np.arange(0, 40) * 50_000_000
    truth = imu_kinematics(trajectory, T_BODY_IMU, frames_ns / 1e9)
    state = State(
        ImuState(
            int(frames_ns[0]),
            truth.rotation[0].as_matrix(),
            truth.position_m[0],
            truth.velocity_m_s[0],
        ),
        np.eye(IMU_DIM) * 1e-6,
    )
    for stamp in frames_ns[1:]:
        state = prop.propagate(state, int(stamp))
    assert state.stamp_ns == frames_ns[-1]
    assert prop.last_gaps == ()
    np.testing.assert_allclose(state.imu.p_world_imu_m, truth.position_m[-1], atol=1e-3)
    np.testing.assert_allclose(state.imu.v_world_imu_m_s, truth.velocity_m_s[-1], atol=1e-3)
    rot_err = Rotation.from_matrix(truth.rotation[-1].as_matrix().T @ state.imu.R_world_imu)
    assert np.degrees(rot_err.magnitude()) < 0.01
    assert np.linalg.eigvalsh(state.covariance).min() > 0


def test_propagate_carries_clone_cross_covariance_by_the_transition() -> None:
    prop = Propagator()
    gyro, accel = _readings(11, 0.5, seed=3)
    stamps = np.arange(11) * RATE_NS
    _feed(prop, stamps, gyro, accel)
    P0 = np.diag(np.linspace(1e-4, 1e-2, IMU_DIM))
    start = augment_clone(State(_imu(), P0), 0)
    out = prop.propagate(start, int(stamps[-1]))
    ref = integrate_imu(
        start.imu,
        np.diff(stamps),
        0.5 * (gyro[1:] + gyro[:-1]),
        0.5 * (accel[1:] + accel[:-1]),
        prop.config,
    )
    c = out.clone_slice(0)
    pose = np.r_[THETA, POS]
    np.testing.assert_allclose(out.covariance[:IMU_DIM, c], ref.transition @ P0[:, pose])
    np.testing.assert_array_equal(out.covariance[c, c], P0[np.ix_(pose, pose)])
    np.testing.assert_allclose(
        out.covariance[:IMU_DIM, :IMU_DIM],
        ref.transition @ P0 @ ref.transition.T + ref.noise,
        rtol=1e-12,
    )
    # Cloning at the new stamp and marginalising nothing keeps the covariance SPD-able.
    assert np.allclose(out.covariance, out.covariance.T, atol=0.0)


def test_propagate_reports_an_imu_gap_and_invents_no_samples(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prop = Propagator()
    stamps = np.arange(0, 101) * RATE_NS
    keep = (stamps < 200_000_000) | (stamps > 300_000_000)  # 100 ms missing
    gyro, accel = _readings(int(keep.sum()), 0.1, seed=4)
    _feed(prop, stamps[keep], gyro, accel)
    n = len(prop)
    state = State(_imu(), np.eye(IMU_DIM) * 1e-4)
    with caplog.at_level(logging.WARNING, logger="percept.vio.propagator"):
        out = prop.propagate(state, 400_000_000)
    assert len(prop) == n
    assert [(g.start_ns, g.end_ns) for g in prop.last_gaps] == [(195_000_000, 305_000_000)]
    assert prop.last_gaps[0].duration_ns == 110_000_000
    assert prop.gap_count == 1
    assert "IMU gap" in caplog.text
    assert out.stamp_ns == 400_000_000
    # Past the newest reading the last one is held; beyond max_imu_gap_s that is a gap too.
    later = prop.propagate(out, 600_000_000)
    assert [(g.start_ns, g.end_ns) for g in prop.last_gaps] == [(500_000_000, 600_000_000)]
    assert later.stamp_ns == 600_000_000


def test_propagate_to_a_stamp_between_readings_interpolates_them() -> None:
    # Constant rate and force: the interpolated end reading equals both neighbours, so
    # stopping between readings and going on gives the one-go result.
    prop = Propagator()
    stamps = np.arange(0, 21) * RATE_NS
    gyro = np.tile([0.1, -0.2, 0.3], (21, 1))
    accel = np.tile([0.5, 0.2, 9.9], (21, 1))
    _feed(prop, stamps, gyro, accel)
    state = State(_imu(), np.eye(IMU_DIM) * 1e-4)
    direct = prop.propagate(state, 90_000_000)
    via = prop.propagate(prop.propagate(state, 42_500_001), 90_000_000)
    np.testing.assert_allclose(via.imu.p_world_imu_m, direct.imu.p_world_imu_m, atol=1e-12)
    np.testing.assert_allclose(via.imu.R_world_imu, direct.imu.R_world_imu, atol=1e-12)
    # Splitting an interval re-discretises its noise (the bias walk enters p and v one
    # step later): equal to first order in dt, 5e-11 apart here against 1e-4.
    np.testing.assert_allclose(via.covariance, direct.covariance, rtol=1e-4, atol=1e-10)


def test_feed_imu_refuses_old_duplicate_and_nan_readings() -> None:
    prop = Propagator()
    ok = ImuSample(Header(10), np.zeros(3), np.array([0.0, 0.0, 9.81]))
    assert prop.feed_imu(ok)
    assert not prop.feed_imu(ok)
    assert not prop.feed_imu(ImuSample(Header(5), np.zeros(3), np.zeros(3)))
    assert not prop.feed_imu(ImuSample(Header(20), np.full(3, np.nan), np.zeros(3)))
    assert prop.dropped_count == 3
    assert len(prop) == 1
    assert prop.newest_stamp_ns == 10


def test_propagate_raises_backwards_and_without_readings() -> None:
    prop = Propagator()
    state = State(ImuState(100), np.eye(IMU_DIM))
    with pytest.raises(PropagationError, match="no IMU readings"):
        prop.propagate(state, 200)
    with pytest.raises(ValueError, match="backwards"):
        prop.propagate(state, 50)
    assert prop.propagate(state, 100) is state


def test_integrate_imu_raises_on_bad_shapes_and_intervals() -> None:
    cfg = PropagatorConfig()
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        integrate_imu(ImuState(0), [1, 2], np.zeros((3, 3)), np.zeros((2, 3)), cfg)
    with pytest.raises(ValueError, match="dt_ns must be > 0"):
        integrate_imu(ImuState(0), [0], np.zeros((1, 3)), np.zeros((1, 3)), cfg)


def test_propagator_config_raises_on_negative_noise() -> None:
    with pytest.raises(ValueError, match="gyroscope_noise_density"):
        PropagatorConfig(gyroscope_noise_density=-1.0)
