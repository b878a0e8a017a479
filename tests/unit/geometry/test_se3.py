"""se3 helpers against SciPy and numpy: round trips, near 0 and pi, batch shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.geometry import se3, so3


def _transforms(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    R = Rotation.random(n, random_state=seed).as_matrix()
    return se3.from_rotation_translation(R, rng.normal(size=(n, 3)))


def test_from_rotation_translation_builds_a_homogeneous_matrix() -> None:
    T = se3.from_rotation_translation(so3.exp([0.1, 0.2, 0.3]), [1.0, 2.0, 3.0])
    expected = np.eye(4)
    expected[:3, :3] = Rotation.from_rotvec([0.1, 0.2, 0.3]).as_matrix()
    expected[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(T, expected)


def test_inverse_matches_numpy_inverse_for_a_batch() -> None:
    T = _transforms(20)
    np.testing.assert_allclose(se3.inverse(T), np.linalg.inv(T), atol=1e-12)
    np.testing.assert_allclose(
        se3.compose(T, se3.inverse(T)), np.tile(np.eye(4), (20, 1, 1)), atol=1e-12
    )


def test_compose_chains_frames() -> None:
    T_a_b, T_b_c = _transforms(2, seed=1)
    p_c = np.array([[0.5, -1.0, 2.0]])
    via_b = se3.transform_points(T_a_b, se3.transform_points(T_b_c, p_c))
    np.testing.assert_allclose(
        se3.transform_points(se3.compose(T_a_b, T_b_c), p_c), via_b, atol=1e-12
    )


def test_transform_points_rotates_then_translates() -> None:
    T = se3.from_rotation_translation(so3.exp([0.0, 0.0, np.pi / 2]), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(
        se3.transform_points(T, [[1.0, 0.0, 0.0]]), [[1.0, 1.0, 0.0]], atol=1e-15
    )
    assert se3.transform_points(T, np.zeros((2, 5, 3))).shape == (2, 5, 3)


def test_exp_rotation_matches_scipy_and_log_round_trips() -> None:
    rng = np.random.default_rng(4)
    xi = np.concatenate(
        [rng.normal(size=(100, 3)), Rotation.random(100, random_state=4).as_rotvec()], axis=1
    )
    T = se3.exp(xi)
    np.testing.assert_allclose(
        T[:, :3, :3], Rotation.from_rotvec(xi[:, 3:]).as_matrix(), atol=1e-15
    )
    np.testing.assert_allclose(se3.log(T), xi, atol=1e-10)


def test_exp_matches_the_matrix_exponential() -> None:
    from scipy.linalg import expm

    xi = np.array([0.3, -0.1, 0.7, 0.5, -1.2, 0.4])
    twist = np.zeros((4, 4))
    twist[:3, :3] = so3.hat(xi[3:])
    twist[:3, 3] = xi[:3]
    np.testing.assert_allclose(se3.exp(xi), expm(twist), atol=1e-12)


@pytest.mark.parametrize("angle_rad", [0.0, 1e-12, 1e-6, 1e-4, 2e-4])
def test_exp_and_log_are_stable_near_zero(angle_rad: float) -> None:
    xi = np.array([1.0, -2.0, 0.5, 0.0, 0.6, 0.8 * 1.0])
    xi[3:] *= angle_rad
    np.testing.assert_allclose(se3.log(se3.exp(xi)), xi, atol=1e-12)


@pytest.mark.parametrize("delta_rad", [0.0, 1e-9, 1e-6, 1e-3])
def test_log_is_stable_near_pi(delta_rad: float) -> None:
    axis = np.array([2.0, -1.0, 2.0]) / 3.0
    xi = np.concatenate([[0.4, 0.1, -0.3], axis * (np.pi - delta_rad)])
    T = se3.exp(xi)
    back = se3.log(T)
    assert np.all(np.isfinite(back))
    np.testing.assert_allclose(se3.exp(back), T, atol=1e-9)


def test_batch_shapes_pass_through() -> None:
    xi = np.random.default_rng(5).normal(size=(2, 3, 6))
    assert se3.exp(xi).shape == (2, 3, 4, 4)
    assert se3.log(se3.exp(xi)).shape == (2, 3, 6)
    assert se3.inverse(se3.exp(xi)).shape == (2, 3, 4, 4)


@pytest.mark.parametrize(
    ("function", "args", "match"),
    [
        (se3.inverse, (np.eye(3),), r"T_a_b must have shape \(\.\.\., 4, 4\), got \(3, 3\)"),
        (se3.compose, (np.eye(4), np.eye(3)), r"T_b_c must have shape"),
        (se3.transform_points, (np.eye(4), np.zeros((2, 2))), r"points_b \(\.\.\., 3\)"),
        (se3.exp, (np.zeros(3),), r"xi must have shape \(\.\.\., 6\), got \(3,\)"),
        (se3.log, (np.zeros(6),), r"T must have shape"),
        (se3.from_rotation_translation, (np.eye(3), np.zeros(2)), r"t \(\.\.\., 3\)"),
    ],
)
def test_se3_raises_on_wrong_shape(function, args, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        function(*args)
