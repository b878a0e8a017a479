"""so3 helpers against SciPy's Rotation: round trips, near 0 and pi, batch shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.geometry import so3


def _rotvecs(n: int, seed: int = 0) -> np.ndarray:
    return np.asarray(Rotation.random(n, random_state=seed).as_rotvec())


def test_hat_gives_the_cross_product() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5, 3))
    np.testing.assert_allclose(np.einsum("nij,nj->ni", so3.hat(a), b), np.cross(a, b), atol=1e-15)


def test_vee_inverts_hat_for_a_batch() -> None:
    w = np.random.default_rng(1).normal(size=(2, 4, 3))
    assert so3.hat(w).shape == (2, 4, 3, 3)
    np.testing.assert_array_equal(so3.vee(so3.hat(w)), w)


def test_exp_matches_scipy_from_rotvec() -> None:
    w = _rotvecs(50)
    np.testing.assert_allclose(so3.exp(w), Rotation.from_rotvec(w).as_matrix(), atol=1e-15)


def test_log_round_trips_exp_within_1e12_rad() -> None:
    w = _rotvecs(200, seed=2)
    np.testing.assert_allclose(so3.log(so3.exp(w)), w, atol=1e-12)


@pytest.mark.parametrize("angle_rad", [0.0, 1e-12, 1e-8, 1e-5])
def test_exp_and_log_are_stable_near_zero(angle_rad: float) -> None:
    w = np.array([0.6, -0.8, 0.0]) * angle_rad
    R = so3.exp(w)
    # First order: the second-order term is angle**2 / 2.
    np.testing.assert_allclose(R, np.eye(3) + so3.hat(w), atol=angle_rad**2 + 1e-15)
    np.testing.assert_allclose(so3.log(R), w, atol=1e-15)


@pytest.mark.parametrize("delta_rad", [0.0, 1e-9, 1e-6, 1e-3])
def test_log_is_stable_near_pi(delta_rad: float) -> None:
    axis = np.array([1.0, 2.0, -2.0]) / 3.0
    w = axis * (np.pi - delta_rad)
    got = so3.log(so3.exp(w))
    # At pi, w and -w are the same rotation.
    assert np.linalg.norm(got) == pytest.approx(np.pi - delta_rad, abs=1e-9)
    np.testing.assert_allclose(so3.exp(got), so3.exp(w), atol=1e-12)


def test_quaternion_round_trips_against_scipy() -> None:
    rot = Rotation.random(30, random_state=3)
    q = rot.as_quat(canonical=True)
    np.testing.assert_allclose(so3.matrix_from_quat_xyzw(q), rot.as_matrix(), atol=1e-15)
    np.testing.assert_allclose(so3.quat_xyzw_from_matrix(rot.as_matrix()), q, atol=1e-15)


def test_quaternion_is_hamilton_xyzw() -> None:
    # 90 degrees about z: Hamilton (x, y, z, w) = (0, 0, sin 45, cos 45); x goes to y.
    q = [0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)]
    np.testing.assert_allclose(
        so3.matrix_from_quat_xyzw(q) @ [1.0, 0.0, 0.0], [0, 1, 0], atol=1e-15
    )


def test_batch_shapes_pass_through() -> None:
    w = _rotvecs(6).reshape(2, 3, 3)
    assert so3.exp(w).shape == (2, 3, 3, 3)
    assert so3.log(so3.exp(w)).shape == (2, 3, 3)
    assert so3.quat_xyzw_from_matrix(so3.exp(w)).shape == (2, 3, 4)
    assert so3.matrix_from_quat_xyzw(np.tile([0.0, 0.0, 0.0, 1.0], (5, 1))).shape == (5, 3, 3)


@pytest.mark.parametrize(
    ("function", "value", "match"),
    [
        (so3.hat, np.zeros(4), r"omega must have shape \(\.\.\., 3\), got \(4,\)"),
        (so3.vee, np.zeros((3, 4)), r"omega_hat must have shape \(\.\.\., 3, 3\)"),
        (so3.exp, np.zeros((2, 2)), r"rotvec_rad must have shape"),
        (so3.log, np.zeros(3), r"R must have shape \(\.\.\., 3, 3\), got \(3,\)"),
        (so3.matrix_from_quat_xyzw, np.zeros(3), r"quat_xyzw must have shape \(\.\.\., 4\)"),
    ],
)
def test_so3_raises_on_wrong_shape(function, value, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        function(value)
