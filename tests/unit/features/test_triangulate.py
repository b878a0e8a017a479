"""Triangulation of a point from N posed observations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.features import TriangulationConfig, triangulate_point, triangulate_points

K = np.array([[450.0, 0.0, 320.0], [0.0, 455.0, 240.0], [0.0, 0.0, 1.0]])


def _poses(rng: np.random.Generator, n: int, offset: np.ndarray) -> np.ndarray:
    """Cameras along 1 m, looking roughly along +z, far from the world origin."""
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = Rotation.from_rotvec(rng.normal(0, 0.1, (n, 3))).as_matrix()
    T[:, :3, 3] = offset + np.column_stack([np.linspace(0, 1, n), rng.normal(0, 0.1, (n, 2))])
    return T


def _observe(T: np.ndarray, point: np.ndarray) -> np.ndarray:
    p = np.einsum("nji,nj->ni", T[:, :3, :3], point - T[:, :3, 3])
    uvw = p @ K.T
    return uvw[:, :2] / uvw[:, 2:3]


def test_noiseless_points_come_back_within_1_mm() -> None:
    rng = np.random.default_rng(0)
    offset = np.array([100.0, -50.0, 20.0])
    for _ in range(20):
        T = _poses(rng, int(rng.integers(2, 8)), offset)
        point = offset + np.array([0.5, 0.0, 0.0]) + rng.uniform([-2, -2, 2], [2, 2, 15])
        uv = _observe(T, point)
        res = triangulate_point(T, uv, K)
        assert res.success, res.reason
        assert np.linalg.norm(res.point_world - point) < 1e-3
        assert res.reprojection_rms < 1e-6
        # The same in normalised coordinates.
        xy = (uv - K[:2, 2]) / np.diag(K)[:2]
        res_n = triangulate_point(T, xy)
        assert np.linalg.norm(res_n.point_world - point) < 1e-3


def test_noisy_point_is_refined_by_gauss_newton() -> None:
    rng = np.random.default_rng(1)
    T = _poses(rng, 6, np.zeros(3))
    point = np.array([0.3, -0.2, 6.0])
    uv = _observe(T, point) + rng.normal(0, 0.5, (6, 2))
    res = triangulate_point(T, uv, K)
    assert res.success
    assert 0.1 < res.reprojection_rms < 1.0
    assert np.linalg.norm(res.point_world - point) < 0.2


def test_point_behind_the_camera_is_rejected() -> None:
    T = np.tile(np.eye(4), (2, 1, 1))
    T[1, 0, 3] = 0.5
    point = np.array([0.2, 0.1, -3.0])
    p = point - T[:, :3, 3]
    xy = p[:, :2] / p[:, 2:3]
    res = triangulate_point(T, xy)
    assert not res.success
    assert res.reason == "behind the camera"


def test_rotation_only_and_single_views_are_rejected() -> None:
    T = np.tile(np.eye(4), (3, 1, 1))
    T[:, :3, :3] = Rotation.from_rotvec([[0, 0, 0], [0, 0.1, 0], [0.05, 0, 0]]).as_matrix()
    point = np.array([0.5, 0.2, 5.0])
    res = triangulate_point(T, _observe(T, point), K)
    assert not res.success
    assert res.reason == "parallax too small"
    one = triangulate_point(T[:1], _observe(T[:1], point), K)
    assert not one.success
    assert np.isnan(one.point_world).all()
    far = TriangulationConfig(max_depth_m=4.0)
    T[1, 0, 3] = 1.0
    assert triangulate_point(T, _observe(T, point), K, far).reason == "too far"
    with pytest.raises(ValueError, match=r"\(N, 4, 4\)"):
        triangulate_point(T, np.zeros((2, 2)))


# -- many tracks at once -----------------------------------------------------------------


def _legacy_triangulate(
    T: np.ndarray, xy: np.ndarray, cfg: TriangulationConfig
) -> tuple[np.ndarray, str]:
    """The per-track solver as it was before the batch (numpy BLAS calls, one track).

    Normalised coordinates; returns the point and the reason ("" on success).
    """
    n = T.shape[0]
    nan = np.full(3, np.nan)
    if n < 2:
        return nan, "fewer than 2 observations"
    rays = np.einsum("nij,nj->ni", T[:, :3, :3], np.concatenate([xy, np.ones((n, 1))], axis=1))
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    if np.arccos(float(np.clip((rays @ rays.T).min(), -1.0, 1.0))) < cfg.min_parallax_rad:
        return nan, "parallax too small"
    R_wc, t_wc = T[:, :3, :3], T[:, :3, 3]
    R = np.einsum("nji,jk->nik", R_wc, R_wc[0])
    t = np.einsum("nji,nj->ni", R_wc, t_wc[0] - t_wc)
    P = np.concatenate([R, t[:, :, None]], axis=2)
    A = np.concatenate([xy[:, 0:1] * P[:, 2] - P[:, 0], xy[:, 1:2] * P[:, 2] - P[:, 1]], axis=0)
    _u, s, vt = np.linalg.svd(A)
    if s[2] <= 0 or s[0] / s[2] > cfg.max_condition:
        return nan, "ill-conditioned"
    X = vt[-1]
    if abs(X[3]) < 1e-12 * np.abs(X[:3]).max():
        return nan, "point at infinity"
    p = X[:3] / X[3]
    if p[2] <= cfg.min_depth_m:
        return T[0, :3, :3] @ p + T[0, :3, 3], "behind the camera"

    def residuals(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h = R @ np.array([q[0], q[1], 1.0]) + q[2] * t
        z = h[:, 2]
        dproj = np.zeros((n, 2, 3))
        dproj[:, 0, 0] = dproj[:, 1, 1] = 1.0 / z
        dproj[:, :, 2] = -h[:, :2] / (z * z)[:, None]
        J = (dproj @ np.stack([R[:, :, 0], R[:, :, 1], t], axis=2)).reshape(-1, 3)
        return (h[:, :2] / z[:, None] - xy).reshape(-1), J, h

    q = np.array([p[0] / p[2], p[1] / p[2], 1.0 / p[2]])
    r, J, h = residuals(q)
    lam = 1e-3
    for _ in range(cfg.max_iterations):
        H = J.T @ J
        step = np.linalg.solve(H + lam * np.diag(np.diag(H) + 1e-12), -J.T @ r)
        r2, J2, h2 = residuals(q + step)
        if np.all(h2[:, 2] * (q + step)[2] > 0) and r2 @ r2 <= r @ r:
            q, r, J, h = q + step, r2, J2, h2
            lam = max(lam / 10.0, 1e-10)
            if np.linalg.norm(step) < cfg.step_tolerance * (1.0 + np.linalg.norm(q)):
                break
        else:
            lam *= 10.0
            if lam > 1e6:
                break
    p = np.array([q[0], q[1], 1.0]) / q[2]
    point = T[0, :3, :3] @ p + T[0, :3, 3]
    if q[2] <= 0 or np.any(h[:, 2] / q[2] <= cfg.min_depth_m):
        return point, "behind the camera"
    return point, "too far" if p[2] > cfg.max_depth_m else ""


def _random_tracks(seed: int, n_tracks: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Tracks of 1-22 views: well posed, far, behind, tiny baseline, near the baseline."""
    rng = np.random.default_rng(seed)
    poses, pixels = [], []
    for i in range(n_tracks):
        kind = i % 6
        n = int(rng.integers(1 if kind == 5 else 2, 23))
        offset = rng.normal(0, 50, 3)
        base = 1e-4 if kind == 3 else 1.0
        T = _poses(rng, n, offset)
        T[:, :3, 3] = offset + np.column_stack(
            [np.linspace(0, base, n), rng.normal(0, 0.1 * base, (n, 2))]
        )
        low, high = {
            1: ([-5, -5, 30], [5, 5, 120]),  # far: some beyond max_depth_m
            2: ([-2, -2, -8], [2, 2, -0.5]),  # behind
            4: ([3, -0.05, -0.05], [30, 0.05, 0.05]),  # along the baseline
            5: ([-2, -2, 0.2], [2, 2, 5]),
        }.get(kind, ([-2, -2, 2], [2, 2, 15]))
        point = offset + rng.uniform(low, high)
        p = np.einsum("nji,nj->ni", T[:, :3, :3], point - T[:, :3, 3])
        uvw = p @ K.T
        noise = float(rng.choice([0.0, 0.5, 2.0]))
        poses.append(T)
        pixels.append(uvw[:, :2] / uvw[:, 2:3] + rng.normal(0, noise, (n, 2)))
    return poses, pixels


@pytest.mark.parametrize(
    "config", [TriangulationConfig(), TriangulationConfig(max_condition=30.0, max_depth_m=40.0)]
)
def test_batch_equals_one_track_at_a_time(config: TriangulationConfig) -> None:
    """400 tracks at once give what each gives alone: bit for bit, every reason."""
    poses, pixels = _random_tracks(5, 400)
    counts = [len(T) for T in poses]
    batch = triangulate_points(np.concatenate(poses), np.concatenate(pixels), counts, K, config)
    single = [triangulate_point(T, uv, K, config) for T, uv in zip(poses, pixels, strict=True)]
    assert batch.reasons == tuple(r.reason for r in single)
    assert np.array_equal(batch.success, [r.success for r in single])
    points = np.stack([r.point_world for r in single])
    rms = np.array([r.reprojection_rms for r in single])
    np.testing.assert_array_equal(batch.points_world, points)  # NaN where NaN
    np.testing.assert_array_equal(batch.reprojection_rms, rms)
    assert batch[7].reason == single[7].reason
    expected = {"", "too far", "behind the camera", "parallax too small"}
    expected |= {"fewer than 2 observations"}
    if config.max_condition < 100:
        expected |= {"ill-conditioned"}
    assert expected <= set(batch.reasons)
    # The same in normalised coordinates, and against the per-track solver as it was:
    # the same verdicts; the points agree to the solver's own resolution (its last,
    # accepted or not, step is decided by costs equal to rounding: ~1e-9 of the inverse
    # depth, so ~1e-9 m x depth^2 / m).
    xy = [(uv - K[:2, 2]) / np.diag(K)[:2] for uv in pixels]
    norm = triangulate_points(np.concatenate(poses), np.concatenate(xy), counts, None, config)
    assert norm.reasons == batch.reasons
    for i, (T, obs) in enumerate(zip(poses, xy, strict=True)):
        point, reason = _legacy_triangulate(T, obs, config)
        assert reason == batch.reasons[i]
        np.testing.assert_array_equal(np.isnan(point), np.isnan(norm.points_world[i]))
        depth = float(np.nan_to_num(np.linalg.norm(point - T[0, :3, 3])))
        err = np.nan_to_num(np.abs(point - norm.points_world[i])).max()
        assert err <= 1e-9 + 1e-8 * depth**2, (i, reason, depth, err)


def test_batch_edge_cases() -> None:
    rng = np.random.default_rng(3)
    T = _poses(rng, 4, np.zeros(3))
    point = np.array([0.3, -0.2, 6.0])
    uv = _observe(T, point)
    # A non-finite observation fails its own track (ill-conditioned), not the others.
    bad = uv.copy()
    bad[1, 0] = np.nan
    res = triangulate_points(np.concatenate([T, T, T]), np.concatenate([uv, bad, uv]), [4, 4, 4], K)
    assert res.success.tolist() == [True, False, True]
    assert res.reasons[1] == "ill-conditioned"
    assert np.isnan(res.points_world[1]).all()
    assert np.isnan(res.reprojection_rms[1])
    np.testing.assert_array_equal(res.points_world[0], triangulate_point(T, uv, K).point_world)
    assert len(res) == 3
    assert res[0].success
    assert res[0].reason == ""
    # Empty tracks and an empty batch.
    empty = triangulate_points(T, uv, [0, 4, 0], K)
    assert empty.success.tolist() == [False, True, False]
    assert empty.reasons[0] == "fewer than 2 observations"
    none = triangulate_points(np.empty((0, 4, 4)), np.empty((0, 2)), [], K)
    assert len(none) == 0
    assert none.points_world.shape == (0, 3)
    with pytest.raises(ValueError, match="sum to 4"):
        triangulate_points(T, uv, [2, 1], K)
    with pytest.raises(ValueError, match="sum to 4"):
        triangulate_points(T, uv, [5, -1], K)
    with pytest.raises(ValueError, match=r"\(M, 4, 4\)"):
        triangulate_points(T, uv[:3], [3], K)
