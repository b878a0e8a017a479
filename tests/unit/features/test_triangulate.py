"""Triangulation of a point from N posed observations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.features import TriangulationConfig, triangulate_point

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
