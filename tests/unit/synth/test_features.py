"""The feature-level VIO simulator: exact geometry, noise, bookkeeping, IMU, time, seeds."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import ImuSample
from percept.errors import ConfigError
from percept.features.klt import FeatureFrame
from percept.features.triangulate import triangulate_point
from percept.synth.features import FeatureSimConfig, FeatureSimulation, simulate_features
from percept.synth.imu import NO_NOISE
from percept.synth.scene import Scene
from percept.units import NS_PER_S
from percept.vio.config import PropagatorConfig
from percept.vio.propagator import integrate_imu
from percept.vio.state import ImuState

logger = logging.getLogger(__name__)

EXACT = {"pixel_noise_px": 0.0, "imu_noise": NO_NOISE}


def _sim(scene: Scene, **changes: object) -> FeatureSimulation:
    fields: dict[str, object] = {"seconds": 3.0}
    fields.update(changes)
    return simulate_features(FeatureSimConfig(**fields), scene)  # type: ignore[arg-type]


def _track(sim: FeatureSimulation, track_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame indices, left and right pixels of one track."""
    rows = [
        (k, f.uv_left[i], f.uv_right[i])
        for k, f in enumerate(sim.frames)
        for i in np.flatnonzero(f.ids == track_id)
    ]
    return (
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.float64),
    )


def _camera_depths(sim: FeatureSimulation, k: int, frame: FeatureFrame) -> np.ndarray:
    T = sim.T_world_cam[k]
    depth: np.ndarray = ((sim.landmarks_world_m[frame.ids] - T[:3, 3]) @ T[:3, :3])[:, 2]
    return depth


@pytest.fixture(scope="module")
def exact(scene0: Scene) -> FeatureSimulation:
    return _sim(scene0, motion="handheld", **EXACT)


def test_exact_observations_triangulate_to_the_landmark(exact: FeatureSimulation) -> None:
    # The nearest landmark of a full-length track: float32 pixels limit far ones.
    length = exact.config.max_track_length
    full = np.unique(np.concatenate([f.ids[f.ages == length] for f in exact.frames]))
    centres = exact.T_world_cam[:, :3, 3]
    nearest = np.linalg.norm(exact.landmarks_world_m[full, None] - centres, axis=2).min(axis=1)
    longest = int(full[np.argmin(nearest)])
    frames, uv_left, uv_right = _track(exact, longest)
    assert frames.size == exact.config.max_track_length  # a full-length track
    K = np.array(
        [[exact.camera.fx, 0, exact.camera.cx], [0, exact.camera.fy, exact.camera.cy], [0, 0, 1]]
    )
    T_left = exact.T_world_cam[frames]
    T_right = T_left.copy()
    T_right[:, :3, 3] += exact.camera.baseline_m * T_left[:, :3, 0]
    has_right = np.isfinite(uv_right[:, 0])
    result = triangulate_point(
        np.concatenate([T_left, T_right[has_right]]),
        np.concatenate([uv_left, uv_right[has_right]]),
        K,
    )
    assert result.success, result.reason
    error = np.linalg.norm(result.point_world - exact.landmarks_world_m[longest])
    assert error < 1e-6  # float32 pixels only
    assert result.reprojection_rms < 1e-3


def test_exact_observations_are_projections_of_the_landmarks(exact: FeatureSimulation) -> None:
    g = exact.camera
    worst = 0.0
    for k, frame in enumerate(exact.frames):
        T = exact.T_world_cam[k]
        p = (exact.landmarks_world_m[frame.ids] - T[:3, 3]) @ T[:3, :3]
        uv = np.stack([g.fx * p[:, 0] / p[:, 2] + g.cx, g.fy * p[:, 1] / p[:, 2] + g.cy], axis=1)
        worst = max(worst, float(np.abs(uv - frame.uv_left).max()))
        assert np.all(p[:, 2] > exact.config.min_depth_m)
        assert np.all((frame.uv_left >= 0) & (frame.uv_left <= [g.width - 1, g.height - 1]))
    assert worst < 1e-3


def test_disparity_is_focal_times_baseline_over_depth(exact: FeatureSimulation) -> None:
    g = exact.camera
    assert g.cx_offset_px == 0.0
    for k, frame in enumerate(exact.frames[::10]):
        right = frame.has_right
        depth = _camera_depths(exact, 10 * k, frame)[right]
        np.testing.assert_allclose(
            frame.disparity_px[right], g.fx * g.baseline_m / depth, atol=2e-3
        )
        np.testing.assert_allclose(frame.uv_right[right, 1], frame.uv_left[right, 1], atol=1e-3)
    stereo = np.mean([f.has_right.mean() for f in exact.frames])
    assert stereo > 0.8  # most features are seen by both cameras


def test_pixel_noise_has_the_configured_sigma(scene0: Scene, exact: FeatureSimulation) -> None:
    noisy = dataclasses.replace(exact.config, pixel_noise_px=1.5)
    sim = simulate_features(noisy, scene0)
    d_left, d_right = [], []
    for a, b in zip(sim.frames, exact.frames, strict=True):
        np.testing.assert_array_equal(a.ids, b.ids)  # noise does not change the tracks
        d_left.append(a.uv_left - b.uv_left)
        right = b.has_right
        np.testing.assert_array_equal(a.has_right, right)
        d_right.append(a.uv_right[right] - b.uv_right[right])
    left, right_d = np.concatenate(d_left), np.concatenate(d_right)
    assert left.shape[0] > 5000
    for d in (left, right_d):
        assert abs(float(d.std()) - 1.5) < 0.03
        assert np.abs(d.mean(axis=0)).max() < 0.03
    n = min(left.shape[0], right_d.shape[0])
    assert abs(np.corrcoef(left[:n, 0], left[:n, 1])[0, 1]) < 0.03


def test_ids_and_ages_follow_the_tracks(scene0: Scene) -> None:
    sim = _sim(scene0, seconds=2.0, max_track_length=7, num_features=80)
    last_age: dict[int, int] = {}
    max_id = -1
    for k, frame in enumerate(sim.frames):
        c = frame.counts
        assert len(frame) == 80 == c.tracked + c.new
        assert frame.ids.dtype == np.int64
        assert frame.ages.dtype == np.int32
        assert frame.uv_left.dtype == np.float32
        assert frame.uv_right.dtype == np.float32
        assert c.stereo_matched == int(frame.has_right.sum())
        assert c.rejected_lr == len(frame) - c.stereo_matched
        tracked, new = frame.ids[: c.tracked], frame.ids[c.tracked :]
        assert np.all(frame.ages[c.tracked :] == 1)
        assert np.all(np.diff(new) == 1)
        assert new.size == 0 or new[0] == max_id + 1
        for i, age in zip(tracked.tolist(), frame.ages[: c.tracked].tolist(), strict=True):
            assert last_age[i] == age - 1  # seen in the previous frame, one frame younger
        assert np.all(frame.ages <= 7)
        previous = set(last_age) if k else set()
        assert c.lost_klt == len(previous - set(tracked.tolist())) if k else c.lost_klt == 0
        last_age = dict(zip(frame.ids.tolist(), frame.ages.tolist(), strict=True))
        max_id = max(max_id, int(frame.ids.max()))
    # Tracks that reached the maximum length ended there.
    for prev, frame in zip(sim.frames, sim.frames[1:], strict=False):
        full = prev.ids[prev.ages == 7]
        assert full.size == 0 or not np.isin(full, frame.ids).any()
    assert max_id + 1 == sim.landmarks_world_m.shape[0]


def test_noise_free_imu_integrates_to_the_ground_truth(exact: FeatureSimulation) -> None:
    stamps = np.array([s.header.stamp_ns for s in exact.imu])
    gyro = np.array([s.angular_velocity_rad_s for s in exact.imu])
    accel = np.array([s.linear_acceleration_m_s2 for s in exact.imu])
    first, last = 0, len(exact.frames) - 1
    i0, i1 = np.searchsorted(stamps, exact.stamps_ns[[first, last]])
    assert stamps[i0] == exact.stamps_ns[first]
    assert stamps[i1] == exact.stamps_ns[last]
    T0 = exact.T_world_imu[first]
    start = ImuState(exact.stamps_ns[first], T0[:3, :3], T0[:3, 3], exact.v_world_imu_m_s[first])
    out = integrate_imu(
        start,
        np.diff(stamps[i0 : i1 + 1]),
        (gyro[i0:i1] + gyro[i0 + 1 : i1 + 1]) / 2,
        (accel[i0:i1] + accel[i0 + 1 : i1 + 1]) / 2,
        PropagatorConfig(),
        with_covariance=False,
    ).imu
    T1 = exact.T_world_imu[last]
    assert out.stamp_ns == exact.stamps_ns[last]
    assert np.linalg.norm(out.p_world_imu_m - T1[:3, 3]) < 0.01  # 3 s, travelled ~2 m
    assert np.linalg.norm(out.v_world_imu_m_s - exact.v_world_imu_m_s[last]) < 0.01
    angle = Rotation.from_matrix(out.R_world_imu.T @ T1[:3, :3]).magnitude()
    assert angle < 1e-3
    assert np.all(exact.bias_gyro_rad_s == 0)
    assert np.all(exact.bias_accel_m_s2 == 0)


def test_timeshift_moves_imu_against_the_camera_as_kalibr(
    scene0: Scene, exact: FeatureSimulation
) -> None:
    shift = 0.01  # two IMU periods: t_imu = t_cam + shift
    sim = simulate_features(dataclasses.replace(exact.config, timeshift_cam_imu_s=shift), scene0)
    np.testing.assert_array_equal(sim.stamps_ns, exact.stamps_ns)  # camera clock unchanged
    for a, b in zip(sim.frames, exact.frames, strict=True):
        np.testing.assert_array_equal(a.uv_left, b.uv_left)
    ref = {s.header.stamp_ns: s.angular_velocity_rad_s for s in exact.imu}
    matched = 0
    for s in sim.imu:
        earlier = s.header.stamp_ns - round(shift * NS_PER_S)
        if earlier in ref:  # the reading stamped t measures the motion at t - shift
            np.testing.assert_allclose(s.angular_velocity_rad_s, ref[earlier], atol=1e-12)
            matched += 1
    assert matched > 500
    # The stream brings the IMU up to the frame's stamp + shift before the frame.
    last_imu = 0
    for kind, item in sim.stream():
        if kind == "imu":
            assert isinstance(item, ImuSample)
            last_imu = item.header.stamp_ns
        else:
            assert isinstance(item, FeatureFrame)
            assert last_imu >= item.stamp_ns + round(shift * NS_PER_S)
            assert last_imu - NS_PER_S // 200 < item.stamp_ns + round(shift * NS_PER_S)


def test_stream_merges_every_input_in_stamp_order(exact: FeatureSimulation) -> None:
    events = list(exact.stream())
    kinds = [kind for kind, _ in events]
    assert kinds.count("features") == len(exact.frames)
    assert kinds.count("imu") == len(exact.imu)
    assert kinds[0] == "imu"  # IMU starts before the first frame
    imu_stamps = [item.header.stamp_ns for _, item in events if isinstance(item, ImuSample)]
    assert np.all(np.diff(imu_stamps) > 0)


def test_stream_latency_hands_more_imu_before_each_frame(exact: FeatureSimulation) -> None:
    late = NS_PER_S // 50  # 20 ms
    final = exact.imu[-1].header.stamp_ns  # the IMU ends a sample after the last frame
    last_imu = 0
    for kind, item in exact.stream(latency_s=0.02):
        if isinstance(item, ImuSample):
            last_imu = item.header.stamp_ns
        else:
            assert kind == "features"
            assert min(item.stamp_ns + late, final) <= last_imu
            assert last_imu < item.stamp_ns + late + NS_PER_S // 200
    with pytest.raises(ValueError, match="latency_s"):
        next(exact.stream(latency_s=-0.01))


def test_seeds_give_independent_runs_and_repeat_exactly(scene0: Scene) -> None:
    a = _sim(scene0, seconds=1.0)
    again = _sim(scene0, seconds=1.0)
    b = _sim(scene0, seconds=1.0, seed=1)
    for x, y in zip(a.frames, again.frames, strict=True):
        np.testing.assert_array_equal(x.ids, y.ids)
        np.testing.assert_array_equal(x.uv_left, y.uv_left)
        np.testing.assert_array_equal(x.uv_right, y.uv_right)
    np.testing.assert_array_equal(a.landmarks_world_m, again.landmarks_world_m)
    for s, t in zip(a.imu, again.imu, strict=True):
        np.testing.assert_array_equal(s.linear_acceleration_m_s2, t.linear_acceleration_m_s2)
    np.testing.assert_array_equal(a.T_world_imu, b.T_world_imu)  # same path
    assert not np.allclose(a.landmarks_world_m[:50], b.landmarks_world_m[:50])
    gyro_a = np.array([s.angular_velocity_rad_s for s in a.imu])
    gyro_b = np.array([s.angular_velocity_rad_s for s in b.imu])
    assert not np.allclose(gyro_a, gyro_b)


def test_estimator_geometry_matches_the_rig(exact: FeatureSimulation) -> None:
    T = exact.T_imu_cam
    assert T.shape == (4, 4)
    np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-12)
    g = exact.camera
    assert (g.width, g.height) == (640, 480)
    assert g.baseline_m == pytest.approx(0.12)
    # The camera looks along the body's forward axis (world horizontal, handheld).
    forward = exact.T_world_cam[:, :3, 2]
    assert np.abs(forward[:, 2]).max() < 0.3


@pytest.mark.parametrize("motion", ["ground", "handheld"])
def test_sixty_seconds_simulate_quickly(scene0: Scene, motion: str) -> None:
    start = time.perf_counter()
    sim = simulate_features(FeatureSimConfig(motion=motion), scene0)
    elapsed = time.perf_counter() - start
    counts = np.array([len(f) for f in sim.frames])
    final_age: dict[int, int] = {}
    for f in sim.frames:
        final_age.update(zip(f.ids.tolist(), f.ages.tolist(), strict=True))
    logger.info(
        "%s 60 s: %.2f s, %.1f features/frame, mean track %.1f frames",
        motion,
        elapsed,
        counts.mean(),
        np.mean(list(final_age.values())),
    )
    assert len(sim.frames) == 1200
    assert counts.mean() > 140
    assert np.mean(list(final_age.values())) > 10


def test_config_raises_on_bad_values(scene0: Scene) -> None:
    with pytest.raises(ConfigError, match="motion"):
        FeatureSimConfig(motion="flying")
    with pytest.raises(ConfigError, match="max_depth_m"):
        FeatureSimConfig(min_depth_m=2.0, max_depth_m=1.0)
    with pytest.raises(ValueError, match="seed"):
        simulate_features(FeatureSimConfig(trajectory_seed=3, seconds=1.0), scene0)
