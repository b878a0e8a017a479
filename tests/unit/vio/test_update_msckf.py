"""MSCKF update: Jacobians, null-space projection, gating, and consistency (NEES).

The synthetic scenario: 11 clones along a gentle 3-D arc, 3-D points 3-9 m ahead of a
forward-looking stereo camera (fx = 458 px, B = 0.11 m, EuRoC-like), observations with
1 px noise; the estimate is the truth moved by a sample of a correlated prior.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, replace

import numpy as np
import pytest
import scipy.stats
from scipy.spatial.transform import Rotation

from percept.features import triangulate as triangulate_module
from percept.features.config import TriangulationConfig
from percept.features.database import TrackObservations
from percept.geometry import so3
from percept.stereo.geometry import StereoGeometry
from percept.vio import update_msckf as update_module
from percept.vio.state import CLONE_DIM, IMU_DIM, Clone, ImuState, State
from percept.vio.update_config import UpdaterConfig
from percept.vio.update_msckf import linearize_feature, msckf_update, nullspace_project

CAMERA = StereoGeometry(640, 480, 458.0, 457.0, 320.0, 240.0, 458.0, 0.11, 0.0)
N_CLONES = 11
#: Camera optical frame (z forward, x right, y down) in a z-up, x-forward IMU frame.
T_IMU_CAM = np.eye(4)
T_IMU_CAM[:3, :3] = np.column_stack([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
T_IMU_CAM[:3, 3] = [0.05, 0.02, -0.01]


def _truth_clones() -> tuple[Clone, ...]:
    k = np.arange(N_CLONES)
    yaw = 0.03 * k
    rot = Rotation.from_euler("zyx", np.column_stack([yaw, 0.01 * np.sin(k), 0.02 * np.cos(k)]))
    pos = np.column_stack([0.12 * k, 0.25 * np.sin(0.3 * k), 0.03 * k])
    return tuple(Clone(int(1e8) * (i + 1), rot[i].as_matrix(), pos[i]) for i in range(N_CLONES))


def _prior_covariance(rng_seed: int = 7) -> np.ndarray:
    """Correlated prior: clone errors a random walk, the IMU tied to the newest clone.

    Absolute errors of 0.01-0.02 rad and 3 cm (OpenVINS' initial sigmas), then per clone
    (0.1 s at 10 Hz) 0.6-1 mrad and 3 mm: what a gyro bias sigma of 0.01 rad/s and a
    velocity sigma of 0.03 m/s give. With relative steps 3x larger (2-3 mrad, 1 cm per
    clone) the linearisation error shows: the posterior NEES rises to about 77.
    """
    n = IMU_DIM + CLONE_DIM * N_CLONES
    A = np.zeros((n, n))
    walk0 = np.diag([0.01, 0.01, 0.02, 0.03, 0.03, 0.03])
    step = np.diag([6e-4, 6e-4, 1e-3, 3e-3, 3e-3, 3e-3])
    col = IMU_DIM
    for i in range(N_CLONES):
        rows = slice(IMU_DIM + CLONE_DIM * i, IMU_DIM + CLONE_DIM * (i + 1))
        if i == 0:
            A[rows, col : col + 6] = walk0
        else:
            prev = slice(rows.start - CLONE_DIM, rows.start)
            A[rows, :] = A[prev, :]
            A[rows, col : col + 6] = step
        col += 6
    last = slice(n - CLONE_DIM, n)
    A[:6, :] = A[last, :]
    A[:15, :15] += np.diag([1e-3] * 6 + [0.02] * 3 + [1e-3] * 3 + [0.02] * 3)
    rng = np.random.default_rng(rng_seed)
    A[:15, :15] += 1e-4 * rng.normal(size=(15, 15))
    P = A @ A.T
    return 0.5 * (P + P.T)


P0 = _prior_covariance()


def _truth_state() -> State:
    clones = _truth_clones()
    imu = ImuState(clones[-1].stamp_ns, clones[-1].R_world_imu, clones[-1].p_world_imu_m)
    return State(imu, P0, clones)


def _points(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [rng.uniform(4.0, 9.0, n), rng.uniform(-2.5, 2.5, n), rng.uniform(-1.2, 1.5, n)]
    )


def _pixels(clones: tuple[Clone, ...], points: np.ndarray, right: bool) -> np.ndarray:
    """(N_CLONES, n, 2) true pixels of ``points`` in the left or right image."""
    out = []
    for c in clones:
        T_wc = c.T_world_imu @ T_IMU_CAM
        p_c = (points - T_wc[:3, 3]) @ T_wc[:3, :3]
        if right:
            p_c = p_c - [CAMERA.baseline_m, 0.0, 0.0]
        assert np.all(p_c[:, 2] > 1.0)
        u = CAMERA.fx * p_c[:, 0] / p_c[:, 2] + CAMERA.cx - (CAMERA.cx_offset_px if right else 0)
        v = CAMERA.fy * p_c[:, 1] / p_c[:, 2] + CAMERA.cy
        out.append(np.column_stack([u, v]))
    return np.stack(out)


def _tracks(
    points: np.ndarray, rng: np.random.Generator, sigma_px: float = 1.0, first: int = 0
) -> list[TrackObservations]:
    """Tracks of every point: seen from clone ``first + (id % 3)`` on, right on even ids."""
    clones = _truth_clones()
    left = _pixels(clones, points, False) + rng.normal(0, sigma_px, (N_CLONES, len(points), 2))
    right = _pixels(clones, points, True) + rng.normal(0, sigma_px, (N_CLONES, len(points), 2))
    stamps = np.array([c.stamp_ns for c in clones], dtype=np.int64)
    tracks = []
    for j in range(len(points)):
        s = first + j % 3
        uv_r = right[s:, j].astype(np.float32)
        if j % 2:
            uv_r[:] = np.nan
        tracks.append(TrackObservations(j, stamps[s:], left[s:, j].astype(np.float32), uv_r))
    return tracks


def _sample_estimate(truth: State, rng: np.random.Generator) -> State:
    """The estimate whose error ``truth ⊟ estimate`` is a sample of the prior."""
    L = np.linalg.cholesky(truth.covariance + 1e-15 * np.eye(truth.size))
    delta = L @ rng.normal(size=truth.size)
    return truth.boxplus(-delta)  # R̂ = R Exp(-δθ)  <=>  R = R̂ Exp(δθ)


def _clone_error(truth: State, est: State) -> np.ndarray:
    """(6k,) ``truth ⊟ est`` of the clone poses (right perturbation)."""
    return np.concatenate(
        [
            np.r_[so3.log(e.R_world_imu.T @ t.R_world_imu), t.p_world_imu_m - e.p_world_imu_m]
            for t, e in zip(truth.clones, est.clones, strict=True)
        ]
    )


def _nees(truth: State, est: State) -> float:
    e = _clone_error(truth, est)
    P = est.covariance[IMU_DIM:, IMU_DIM:]
    return float(e @ np.linalg.solve(P, e))


def _residual(state: State, track: TrackObservations, p_f: np.ndarray) -> np.ndarray:
    return linearize_feature(state, track, p_f, CAMERA, T_IMU_CAM).residual


# -- Jacobians ---------------------------------------------------------------------------


def test_jacobians_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    truth = _truth_state()
    state = _sample_estimate(truth, rng)
    points = _points(4, seed=1)
    tracks = _tracks(points, rng)
    for track, p_f in zip(tracks[:2], points[:2], strict=True):  # one stereo, one mono
        lin = linearize_feature(state, track, p_f, CAMERA, T_IMU_CAM)
        eps = 1e-6
        H_num = np.zeros_like(lin.H_x)
        for j in range(state.size):
            d = np.zeros(state.size)
            d[j] = eps
            # r = z - h(x): H = dh/dδx = -(dr/dδx).
            H_num[:, j] = -(
                _residual(state.boxplus(d), track, p_f) - _residual(state.boxplus(-d), track, p_f)
            ) / (2 * eps)
        Hf_num = np.column_stack(
            [
                -(_residual(state, track, p_f + e) - _residual(state, track, p_f - e)) / (2 * eps)
                for e in np.eye(3) * eps
            ]
        )
        scale_x = np.abs(lin.H_x).max()
        assert np.abs(H_num - lin.H_x).max() < 1e-6 * scale_x
        assert np.abs(Hf_num - lin.H_f).max() < 1e-6 * np.abs(lin.H_f).max()
        assert np.all(lin.H_x[:, :IMU_DIM] == 0)
        rows = 2 * (len(track) + (0 if track.track_id % 2 else len(track)))
        assert lin.H_x.shape == (rows, state.size)


# -- null space --------------------------------------------------------------------------


def test_nullspace_projection_removes_the_feature() -> None:
    rng = np.random.default_rng(3)
    truth = _truth_state()
    points = _points(3, seed=4)
    tracks = _tracks(points, rng)
    lin = linearize_feature(truth, tracks[0], points[0], CAMERA, T_IMU_CAM)
    m = lin.H_f.shape[0]
    dx = rng.normal(size=truth.size) * 0.01
    Hx_p0, r_p0, ratio = nullspace_project(lin.H_f[None], lin.H_x[None], (lin.H_x @ dx)[None])
    assert Hx_p0.shape == (1, m - 3, truth.size)
    assert ratio[0] > 1e-3
    # The projection W (rows of Q2ᵀ) is orthonormal and annihilates H_f.
    W, _, _ = nullspace_project(lin.H_f[None], np.eye(m)[None], np.zeros((1, m)))
    np.testing.assert_allclose(W[0] @ W[0].T, np.eye(m - 3), atol=1e-12)
    assert np.abs(W[0] @ lin.H_f).max() < 1e-12 * np.abs(lin.H_f).max()
    np.testing.assert_allclose(Hx_p0[0], W[0] @ lin.H_x, atol=1e-12)
    # The same null space as LAPACK's complete QR (up to a rotation within it).
    Q, _ = np.linalg.qr(lin.H_f, mode="complete")
    np.testing.assert_allclose(W[0].T @ W[0], Q[:, 3:] @ Q[:, 3:].T, atol=1e-12)
    for _ in range(3):
        df = rng.normal(size=3)
        r = lin.H_x @ dx + lin.H_f @ df
        _, r_p, _ = nullspace_project(lin.H_f[None], lin.H_x[None], r[None])
        np.testing.assert_allclose(r_p, r_p0, atol=1e-12)
        np.testing.assert_allclose(r_p[0], Hx_p0[0] @ dx, atol=1e-12)
    # White noise stays white: the projected noise covariance is Q2ᵀ I Q2 = I.
    noise = rng.normal(size=(4000, m))
    _, r_n, _ = nullspace_project(
        np.broadcast_to(lin.H_f, (4000, m, 3)), np.zeros((4000, m, 1)), noise
    )
    cov = r_n.T @ r_n / 4000
    assert np.abs(cov - np.eye(m - 3)).max() < 0.1
    assert abs(r_n.mean()) < 0.01


# -- the update --------------------------------------------------------------------------


def _relative_pose_errors(truth: State, est: State) -> tuple[float, float]:
    """Mean rotation (rad) and position (m) error of the clone poses relative to clone 0."""
    rot, pos = [], []
    t0, e0 = truth.clones[0], est.clones[0]
    for t, e in zip(truth.clones[1:], est.clones[1:], strict=True):
        R_t, R_e = t0.R_world_imu.T @ t.R_world_imu, e0.R_world_imu.T @ e.R_world_imu
        p_t = t0.R_world_imu.T @ (t.p_world_imu_m - t0.p_world_imu_m)
        p_e = e0.R_world_imu.T @ (e.p_world_imu_m - e0.p_world_imu_m)
        rot.append(np.linalg.norm(so3.log(R_e.T @ R_t)))
        pos.append(np.linalg.norm(p_t - p_e))
    return float(np.mean(rot)), float(np.mean(pos))


def test_update_reduces_the_pose_error() -> None:
    rng = np.random.default_rng(10)
    truth = _truth_state()
    points = _points(40, seed=11)
    before, after = [], []
    for _ in range(10):
        est = _sample_estimate(truth, rng)
        post, stats = msckf_update(est, _tracks(points, rng), CAMERA, T_IMU_CAM)
        assert stats.used + stats.gated == 40
        assert stats.gated <= 6
        assert stats.failed_triangulation == 0
        assert stats.rows_update == min(stats.rows, CLONE_DIM * N_CLONES)
        # Vision observes relative poses: clone i w.r.t. clone 0.
        before.append(_relative_pose_errors(truth, est))
        after.append(_relative_pose_errors(truth, post))
        assert np.all(np.diag(post.covariance) <= np.diag(est.covariance) + 1e-15)
    rot_before, pos_before = np.mean(before, axis=0)
    rot_after, pos_after = np.mean(after, axis=0)
    assert rot_after < 0.5 * rot_before  # measured 4.1 -> 1.5 mrad
    assert pos_after < 0.5 * pos_before  # 2.0 -> 0.8 cm (stereo depth is weak at 4-9 m)


def test_posterior_nees_is_consistent_over_monte_carlo() -> None:
    """200 runs: average clone-pose NEES (dof 66) inside the 95 % chi-square band."""
    runs = 200
    dof = CLONE_DIM * N_CLONES
    rng = np.random.default_rng(2026)
    truth = _truth_state()
    points = _points(30, seed=5)
    nees_prior, nees_post, gated = [], [], 0
    for _ in range(runs):
        est = _sample_estimate(truth, rng)
        post, stats = msckf_update(est, _tracks(points, rng), CAMERA, T_IMU_CAM)
        assert stats.used + stats.gated == 30
        gated += stats.gated
        nees_prior.append(_nees(truth, est))
        nees_post.append(_nees(truth, post))
    # Measured: prior 65.6, posterior 65.9 (seeds 1-4: 66.2-67.0); 5.5 % gated.
    assert 0.035 < gated / (30 * runs) < 0.07  # the 95 % gate rejects ~5 % of good tracks
    lo, hi = scipy.stats.chi2.ppf([0.025, 0.975], runs * dof) / runs  # 64.4 .. 67.6
    assert lo < np.mean(nees_prior) < hi  # the sampling itself is right
    assert lo < np.mean(nees_post) < hi, (np.mean(nees_post), lo, hi)


def test_outlier_track_is_gated_and_the_rest_used() -> None:
    rng = np.random.default_rng(20)
    truth = _truth_state()
    points = _points(20, seed=21)
    tracks = _tracks(points, rng)
    bad = tracks[4]
    uv = bad.uv_left.copy()
    uv[5] += np.float32([20.0, 0.0])  # one observation 20 px off
    tracks[4] = replace(bad, uv_left=uv)
    est = _sample_estimate(truth, rng)
    post, stats = msckf_update(est, tracks, CAMERA, T_IMU_CAM)
    assert 4 in stats.gated_ids
    assert stats.used >= 18
    assert 4 not in stats.used_ids
    assert post is not est


def test_degenerate_track_is_rejected_without_nan() -> None:
    rng = np.random.default_rng(30)
    truth = _truth_state()
    points = np.vstack([_points(5, seed=31), [[5000.0, 10.0, 3.0]]])  # 5 km: no parallax
    tracks = _tracks(points, rng, sigma_px=0.0)
    est = _sample_estimate(truth, rng)
    post, stats = msckf_update(est, tracks, CAMERA, T_IMU_CAM)
    assert stats.failed_ids == (5,)
    assert stats.used == 5
    assert np.all(np.isfinite(post.covariance))
    assert all(np.all(np.isfinite(c.T_world_imu)) for c in post.clones)
    # Alone, it leaves the state as it was.
    same, stats1 = msckf_update(est, tracks[5:], CAMERA, T_IMU_CAM)
    assert same is est
    assert stats1.failed_triangulation == 1
    assert stats1.rows == 0


def test_short_tracks_cap_and_stamps_outside_the_window() -> None:
    rng = np.random.default_rng(40)
    truth = _truth_state()
    points = _points(12, seed=41)
    tracks = _tracks(points, rng)
    # A track seen once at a clone and at two stamps that are not clones.
    one = tracks[0]
    tracks[0] = replace(
        one,
        stamps_ns=np.array([5, one.stamps_ns[0], 10**12], dtype=np.int64),
        uv_left=one.uv_left[:3],
        uv_right=one.uv_right[:3],
    )
    cfg = UpdaterConfig(max_features=8, use_stereo=False)
    post, stats = msckf_update(_sample_estimate(truth, rng), tracks, CAMERA, T_IMU_CAM, cfg)
    assert stats.candidates == 12
    assert stats.too_few_observations == 1
    assert stats.skipped == 3
    assert stats.used + stats.gated == 8
    # Mono rows only: 2 per observation, minus 3 per track.
    lengths = {t.track_id: len(t) for t in tracks}
    expected = sum(2 * lengths[i] - 3 for i in stats.used_ids)
    assert stats.rows == expected
    assert post.size == truth.size


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="chi2_quantile"):
        UpdaterConfig(chi2_quantile=1.0)
    with pytest.raises(ValueError, match="sigma_px"):
        UpdaterConfig(sigma_px=0.0)
    with pytest.raises(ValueError, match="T_imu_cam"):
        msckf_update(_truth_state(), [], CAMERA, np.eye(3))


def test_no_tracks_or_no_clones_leave_the_state() -> None:
    truth = _truth_state()
    same, stats = msckf_update(truth, [], CAMERA, T_IMU_CAM)
    assert same is truth
    assert stats == msckf_update(truth, [], CAMERA, T_IMU_CAM)[1]
    assert stats.used == 0
    bare = State(truth.imu, P0[:IMU_DIM, :IMU_DIM])
    tracks = _tracks(_points(3, seed=50), np.random.default_rng(50))
    same, stats = msckf_update(bare, tracks, CAMERA, T_IMU_CAM)
    assert same is bare
    assert stats.too_few_observations == 3


# -- the batched steps against the per-track path ------------------------------------------


def _per_track_rows(
    state: State, tracks: Sequence[TrackObservations], camera: StereoGeometry, use_stereo: bool
) -> update_module._Rows:
    """The observations at clones one track at a time (the update's former loop)."""
    stamps = np.asarray(state.clone_stamps_ns, dtype=np.int64)
    clone, right, xy, counts, n_left = [], [], [], [], []
    for track in tracks:
        pos = np.searchsorted(stamps, track.stamps_ns)
        pos_c = np.minimum(pos, max(stamps.shape[0] - 1, 0))
        at = (
            (pos < stamps.shape[0]) & (stamps[pos_c] == track.stamps_ns) if stamps.size else pos < 0
        )
        uv_l = track.uv_left.astype(np.float64)[at]
        xy_l = (uv_l - [camera.cx, camera.cy]) / [camera.fx, camera.fy]
        uv_r = track.uv_right.astype(np.float64)[at]
        has_r = np.all(np.isfinite(uv_r), axis=1) & use_stereo
        cx_r = camera.cx - camera.cx_offset_px
        xy_r = (uv_r[has_r] - [cx_r, camera.cy]) / [camera.fx, camera.fy]
        clone += [pos_c[at], pos_c[at][has_r]]
        right += [np.zeros(xy_l.shape[0], bool), np.ones(xy_r.shape[0], bool)]
        xy += [xy_l, xy_r]
        counts.append(xy_l.shape[0] + xy_r.shape[0])
        n_left.append(xy_l.shape[0])
    return update_module._Rows(
        np.concatenate(clone).astype(np.intp),
        np.concatenate(right),
        np.concatenate(xy).reshape(-1, 2),
        np.array(counts, dtype=np.int64),
        np.array(n_left, dtype=np.int64),
    )


def _per_track_triangulation(
    T_world_cam: np.ndarray,
    xy: np.ndarray,
    counts: np.ndarray,
    K: None,
    config: TriangulationConfig,
) -> triangulate_module.TriangulationBatch:
    """One :func:`triangulate_point` per track (the update's former loop)."""
    ends = np.cumsum(counts)
    res = [
        triangulate_module.triangulate_point(T_world_cam[e - c : e], xy[e - c : e], K, config)
        for c, e in zip(counts, ends, strict=True)
    ]
    codes = [triangulate_module.REASONS.index(r.reason) for r in res]
    return triangulate_module.TriangulationBatch(
        np.array([r.point_world for r in res]).reshape(-1, 3),
        np.array([r.reprojection_rms for r in res]),
        np.array([r.success for r in res], dtype=bool),
        np.array(codes, dtype=np.int8),
    )


def test_batched_update_equals_the_per_track_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows and triangulation for all tracks at once: the same posterior, bit for bit."""
    rng = np.random.default_rng(60)
    truth = _truth_state()
    cases = []
    for trial in range(4):
        points = _points(40, seed=61 + trial)
        if trial % 4 == 3:
            points = np.vstack([points, [[5000.0, 10.0, 3.0]]])  # fails triangulation
        tracks = _tracks(points, rng, first=trial % 3)
        if trial % 4 == 1:  # seen once at a clone, and at stamps that are not clones
            one = tracks[0]
            stamps = np.array([5, one.stamps_ns[0], 10**12], dtype=np.int64)
            tracks[0] = replace(one, stamps_ns=stamps, uv_left=one.uv_left[:3])
            tracks[0] = replace(tracks[0], uv_right=one.uv_right[:3])
        cfg = UpdaterConfig(max_features=30 if trial % 2 else 40, use_stereo=trial % 4 != 2)
        cases.append((_sample_estimate(truth, rng), tracks, cfg))
    batched = [msckf_update(est, tracks, CAMERA, T_IMU_CAM, cfg) for est, tracks, cfg in cases]
    monkeypatch.setattr(update_module, "_all_track_rows", _per_track_rows)
    monkeypatch.setattr(update_module, "triangulate_points", _per_track_triangulation)
    for (est, tracks, cfg), (post, stats) in zip(cases, batched, strict=True):
        post_ref, stats_ref = msckf_update(est, tracks, CAMERA, T_IMU_CAM, cfg)
        assert astuple(stats) == astuple(stats_ref)
        assert stats.used > 20
        np.testing.assert_array_equal(post.covariance, post_ref.covariance)
        for c, c_ref in zip(post.clones, post_ref.clones, strict=True):
            np.testing.assert_array_equal(c.T_world_imu, c_ref.T_world_imu)
        np.testing.assert_array_equal(post.imu.v_world_imu_m_s, post_ref.imu.v_world_imu_m_s)
    assert any(s.failed_triangulation for _, s in batched)
    assert any(s.too_few_observations for _, s in batched)
    assert any(s.skipped for _, s in batched)
