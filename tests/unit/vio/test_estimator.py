"""VioEstimator on the feature-level simulator: accuracy, time offset, blackouts, inputs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pytest

from percept.domain import Header, ImuSample
from percept.eval.trajectory import Trajectory, TrajectoryEvalConfig, evaluate_trajectory
from percept.features.klt import FeatureFrame, TrackCounts
from percept.geometry import so3
from percept.synth.features import FeatureSimConfig, FeatureSimulation, simulate_features
from percept.synth.imu import NO_NOISE
from percept.vio.estimator import EstimatorConfig, VioEstimate, VioEstimator, VioStatus
from percept.vio.state import IMU_DIM, ImuState, State


def _run(
    sim: FeatureSimulation,
    config: EstimatorConfig | None = None,
    frames: Iterable[FeatureFrame] | None = None,
) -> tuple[VioEstimator, list[VioEstimate]]:
    """Feed a simulation in arrival order; frames wait until the IMU covers them."""
    est = VioEstimator(sim.camera, sim.T_imu_cam, config)
    replaced = {f.stamp_ns: f for f in frames} if frames is not None else {}
    pending: list[FeatureFrame] = []
    out: list[VioEstimate] = []
    for kind, obj in sim.stream():
        if kind == "imu":
            assert isinstance(obj, ImuSample)
            est.feed_imu(obj)
        else:
            assert isinstance(obj, FeatureFrame)
            pending.append(replaced.get(obj.stamp_ns, obj))
        while pending and est.imu_covers(pending[0].stamp_ns):
            e = est.feed_features(pending.pop(0))
            if e is not None:
                out.append(e)
    return est, out


def _ate(sim: FeatureSimulation, out: list[VioEstimate], align: str = "se3") -> tuple[float, float]:
    T = np.stack([e.T_world_imu for e in out])
    est = Trajectory(T[:, :3, 3], T[:, :3, :3], np.array([e.stamp_ns for e in out]), "vio")
    G = sim.T_world_imu
    ref = Trajectory(G[:, :3, 3], G[:, :3, :3], sim.stamps_ns, "truth")
    tm = evaluate_trajectory(est, ref, TrajectoryEvalConfig(align=align))  # type: ignore[arg-type]
    return tm.ate_m.rmse, float(tm.reference.path_lengths_m()[-1])


def _finite(out: list[VioEstimate]) -> bool:
    return all(
        np.all(np.isfinite(e.T_world_imu))
        and np.all(np.isfinite(e.covariance))
        and np.all(np.isfinite(e.v_world_imu_m_s))
        for e in out
    )


@pytest.fixture(scope="module")
def exact_sim() -> FeatureSimulation:
    return simulate_features(
        FeatureSimConfig(
            motion="ground", seconds=5.0, seed=3, imu_noise=NO_NOISE, pixel_noise_px=0.0
        )
    )


@pytest.fixture(scope="module")
def noisy_sim() -> FeatureSimulation:
    return simulate_features(FeatureSimConfig(motion="handheld", seconds=15.0, seed=4))


def test_exact_data_from_a_moving_start_is_tracked_to_the_millimetre(
    exact_sim: FeatureSimulation,
) -> None:
    est, out = _run(exact_sim, EstimatorConfig(estimate_time_offset=False))
    assert est.resets == 0
    assert len(out) >= len(exact_sim.frames) - 25  # the moving start takes ~1 s
    assert _finite(out)
    assert {e.status for e in out} == {VioStatus.TRACKING}
    ate, path = _ate(exact_sim, out)
    assert path > 3.0
    assert ate < 2e-3


def test_noisy_handheld_run_stays_within_half_a_percent_of_its_path(
    noisy_sim: FeatureSimulation,
) -> None:
    est, out = _run(noisy_sim)
    assert est.resets == 0
    assert _finite(out)
    ate_se3, path = _ate(noisy_sim, out, "se3")
    ate_4dof, _ = _ate(noisy_sim, out, "4dof")
    assert ate_se3 < 0.005 * path, (ate_se3, path)
    assert ate_4dof < 0.005 * path, (ate_4dof, path)
    # The gyro bias converges to the simulator's (zero initial bias plus a random walk).
    last = out[-1]
    i = int(np.searchsorted(noisy_sim.stamps_ns, last.stamp_ns))
    np.testing.assert_allclose(last.bias_gyro_rad_s, noisy_sim.bias_gyro_rad_s[i], atol=2e-3)
    # Covariances are symmetric and positive semi-definite.
    for e in out[::25]:
        np.testing.assert_allclose(e.covariance, e.covariance.T, atol=1e-12)
        assert np.linalg.eigvalsh(e.covariance).min() > -1e-12


def test_a_5_ms_camera_imu_shift_is_estimated_within_1_ms() -> None:
    sim = simulate_features(
        FeatureSimConfig(motion="handheld", seconds=15.0, seed=5, timeshift_cam_imu_s=0.005)
    )
    est, out = _run(sim)
    assert est.resets == 0
    td = np.array([e.time_offset_s for e in out])
    assert abs(td[-1] - 0.005) < 1e-3, td[-1]
    ate, path = _ate(sim, out)
    assert ate < 0.005 * path


def _blank(frame: FeatureFrame) -> FeatureFrame:
    """The frame of a black image: no features at all."""
    return FeatureFrame(
        frame.stamp_ns,
        np.zeros(0, np.int64),
        np.zeros((0, 2), np.float32),
        np.zeros((0, 2), np.float32),
        np.zeros(0, np.int32),
        TrackCounts(),
    )


def test_a_2_s_blackout_is_bridged_on_the_imu_and_flagged(
    noisy_sim: FeatureSimulation,
) -> None:
    t0 = noisy_sim.stamps_ns[0] + 5_000_000_000
    blackout = [_blank(f) for f in noisy_sim.frames if t0 <= f.stamp_ns < t0 + 2_000_000_000]
    est, out = _run(noisy_sim, frames=blackout)
    assert est.resets == 0
    assert _finite(out)
    during = [e for e in out if t0 + 500_000_000 <= e.stamp_ns < t0 + 2_000_000_000]
    after = [e for e in out if e.stamp_ns >= t0 + 3_000_000_000]
    assert during
    assert all(e.status is VioStatus.IMU_ONLY for e in during)
    assert all(e.status is VioStatus.TRACKING for e in after)
    ate, path = _ate(noisy_sim, out)
    assert ate < 0.02 * path  # 2 s of IMU-only drift, then tracking again


def test_a_blackout_longer_than_max_imu_only_resets_and_keeps_the_position(
    noisy_sim: FeatureSimulation,
) -> None:
    config = EstimatorConfig(max_imu_only_s=1.0)
    t0 = noisy_sim.stamps_ns[0] + 4_000_000_000
    blackout = [_blank(f) for f in noisy_sim.frames if t0 <= f.stamp_ns < t0 + 2_500_000_000]
    est, out = _run(noisy_sim, config, frames=blackout)
    assert est.resets == 1
    assert est.failures
    assert "no visual update" in next(iter(est.failures))
    assert _finite(out)
    before = [e for e in out if e.stamp_ns < t0 + 1_000_000_000]
    after = [e for e in out if e.stamp_ns > t0 + 2_500_000_000]
    assert before
    assert after
    # The new start continues from the last good position (odometry stays continuous).
    gap = np.linalg.norm(after[0].T_world_imu[:3, 3] - before[-1].T_world_imu[:3, 3])
    true_gap = np.linalg.norm(
        noisy_sim.T_world_imu[np.searchsorted(noisy_sim.stamps_ns, after[0].stamp_ns), :3, 3]
        - noisy_sim.T_world_imu[np.searchsorted(noisy_sim.stamps_ns, before[-1].stamp_ns), :3, 3]
    )
    assert gap < true_gap + 1.0


def test_inputs_the_estimator_refuses(exact_sim: FeatureSimulation) -> None:
    est = VioEstimator(exact_sim.camera, exact_sim.T_imu_cam)
    bad = ImuSample(Header(1, "imu"), np.array([np.nan, 0.0, 0.0]), np.zeros(3))
    with pytest.raises(ValueError, match="not finite"):
        est.feed_imu(bad)
    with pytest.raises(ValueError, match="IMU reaches only"):
        est.feed_features(exact_sim.frames[0])
    with pytest.raises(ValueError, match="T_imu_cam"):
        VioEstimator(exact_sim.camera, np.eye(3))
    with pytest.raises(ValueError, match="max_clones"):
        EstimatorConfig(max_clones=1)


def test_zero_velocity_rows_match_finite_differences(exact_sim: FeatureSimulation) -> None:
    est = VioEstimator(exact_sim.camera, exact_sim.T_imu_cam)
    R = so3.exp(np.array([0.2, -0.3, 1.1]))
    imu = ImuState(0, R, np.zeros(3), np.array([0.01, 0.0, -0.02]), np.full(3, 1e-3), np.zeros(3))
    state = State(imu, np.eye(IMU_DIM) * 1e-4)
    g = np.tile(np.array([1e-3, 2e-3, 0.0]), (10, 1))
    a = np.tile(R.T @ np.array([0.0, 0.0, 9.81]) + 0.02, (10, 1))
    H, r, _ = est._zupt_rows(state, g, a)

    def residual(delta: np.ndarray) -> np.ndarray:
        moved = replace(state, imu=state.imu.boxplus(delta))
        return est._zupt_rows(moved, g, a)[1]

    eps = 1e-6
    J = np.stack([(residual(eps * e) - r) / eps for e in np.eye(IMU_DIM)], axis=1)
    # r = z - h(x): its derivative is -H.
    np.testing.assert_allclose(-J, H, atol=1e-5)


def test_start_at_a_known_state_tracks_from_the_first_frame(
    noisy_sim: FeatureSimulation,
) -> None:
    est = VioEstimator(noisy_sim.camera, noisy_sim.T_imu_cam)
    T0 = noisy_sim.T_world_imu[0]
    imu = ImuState(
        int(noisy_sim.stamps_ns[0]),
        T0[:3, :3],
        T0[:3, 3],
        noisy_sim.v_world_imu_m_s[0],
        noisy_sim.bias_gyro_rad_s[0],
        noisy_sim.bias_accel_m_s2[0],
    )
    est.start_at(State(imu, np.eye(IMU_DIM) * 1e-8))
    out: list[VioEstimate] = []
    for kind, obj in noisy_sim.stream(latency_s=0.02):
        if kind == "imu":
            assert isinstance(obj, ImuSample)
            est.feed_imu(obj)
        elif isinstance(obj, FeatureFrame) and est.imu_covers(obj.stamp_ns):
            e = est.feed_features(obj)
            if e is not None:
                out.append(e)
        if len(out) >= 60:
            break
    assert out[0].stamp_ns == noisy_sim.stamps_ns[0]
    # No alignment: the estimate is in the simulator's world from the start.
    i = np.searchsorted(noisy_sim.stamps_ns, out[-1].stamp_ns)
    err = np.linalg.norm(out[-1].T_world_imu[:3, 3] - noisy_sim.T_world_imu[i, :3, 3])
    assert err < 0.05
