"""The generic EKF update: gain, Joseph covariance, injection on SO(3), refusals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.transform import Rotation

from percept.geometry import so3
from percept.vio.state import IMU_DIM, POS, THETA, VEL, Clone, ImuState, State
from percept.vio.state_ops import UpdateError, ekf_update


def _state(n_clones: int = 2, seed: int = 0) -> State:
    rng = np.random.default_rng(seed)
    imu = ImuState(
        100,
        Rotation.random(random_state=seed).as_matrix(),
        rng.normal(size=3),
        rng.normal(size=3),
    )
    clones = tuple(
        Clone(
            10 * (i + 1), Rotation.random(random_state=seed + i + 1).as_matrix(), rng.normal(size=3)
        )
        for i in range(n_clones)
    )
    n = IMU_DIM + 6 * n_clones
    a = rng.normal(size=(n, n))
    P = a @ a.T / n * 0.01 + 1e-4 * np.eye(n)
    return State(imu, P, clones)


def test_matches_the_textbook_kalman_update() -> None:
    s = _state()
    rng = np.random.default_rng(1)
    m = 7
    H = rng.normal(size=(m, s.size))
    r = rng.normal(size=m) * 0.01
    Rn = np.diag(rng.uniform(0.5, 2.0, m)) * 1e-3
    post = ekf_update(s, H, r, Rn)
    P = s.covariance
    S = H @ P @ H.T + Rn
    K = P @ H.T @ np.linalg.inv(S)
    np.testing.assert_allclose(post.covariance, P - K @ H @ P, atol=1e-12)
    dx = K @ r
    np.testing.assert_allclose(post.imu.p_world_imu_m, s.imu.p_world_imu_m + dx[POS], atol=1e-12)
    np.testing.assert_allclose(
        post.imu.v_world_imu_m_s, s.imu.v_world_imu_m_s + dx[VEL], atol=1e-12
    )
    # Right perturbation on the IMU and on every clone.
    np.testing.assert_allclose(post.imu.R_world_imu, s.imu.R_world_imu @ so3.exp(dx[THETA]))
    for i, (c0, c1) in enumerate(zip(s.clones, post.clones, strict=True)):
        d = dx[IMU_DIM + 6 * i : IMU_DIM + 6 * i + 6]
        np.testing.assert_allclose(c1.R_world_imu, c0.R_world_imu @ so3.exp(d[:3]), atol=1e-12)
        np.testing.assert_allclose(c1.p_world_imu_m, c0.p_world_imu_m + d[3:], atol=1e-12)
        assert c1.stamp_ns == c0.stamp_ns


def test_scalar_noise_and_covariance_stays_symmetric_psd() -> None:
    s = _state(n_clones=11, seed=3)
    rng = np.random.default_rng(2)
    # A very informative update (tiny noise, many rows) is where P - KHP loses definiteness.
    H = rng.normal(size=(200, s.size))
    post = ekf_update(s, H, rng.normal(size=200) * 1e-6, 1e-12)
    P = post.covariance
    assert np.array_equal(P, P.T)
    assert np.linalg.eigvalsh(P).min() > -1e-14
    assert np.all(np.diag(P) <= np.diag(s.covariance) + 1e-15)


def test_clone_rotation_measurement_moves_that_clone_by_exp() -> None:
    s = _state(n_clones=2, seed=5)
    H = np.zeros((3, s.size))
    sl = s.clone_slice(20)
    H[:, sl.start : sl.start + 3] = np.eye(3)
    target = np.array([0.01, -0.02, 0.005])
    post = ekf_update(s, H, target, 1e-14)  # near-perfect measurement of δθ of clone 2
    got = so3.log(s.clones[1].R_world_imu.T @ post.clones[1].R_world_imu)
    np.testing.assert_allclose(got, target, atol=1e-9)


def test_no_rows_returns_the_same_state() -> None:
    s = _state()
    assert ekf_update(s, np.zeros((0, s.size)), np.zeros(0), 1.0) is s


@pytest.mark.parametrize(
    ("H_shape", "R", "match"),
    [
        ((3, 10), 1.0, "must be"),
        ((3, None), -1.0, "scalar noise"),
        ((3, None), np.eye(2), "R must be"),
        ((3, None), -np.eye(3) * 10, "not positive definite"),
    ],
)
def test_refuses_bad_inputs(H_shape: tuple[int, int | None], R: object, match: str) -> None:
    s = _state()
    H = np.ones((H_shape[0], H_shape[1] or s.size))
    with pytest.raises(UpdateError, match=match):
        ekf_update(s, H, np.zeros(3), R)  # type: ignore[arg-type]


def test_refuses_non_finite_residual() -> None:
    s = _state()
    with pytest.raises(UpdateError, match="finite"):
        ekf_update(s, np.ones((1, s.size)), [np.nan], 1.0)


@pytest.mark.parametrize("scalar_noise", [True, False])
def test_matches_the_scipy_cholesky_joseph_reference_to_the_bit(scalar_noise: bool) -> None:
    s = _state(n_clones=5, seed=3)
    rng = np.random.default_rng(5)
    m = 20
    H = rng.normal(size=(m, s.size))
    r = rng.normal(size=m) * 0.01
    R: float | np.ndarray = 1.0 if scalar_noise else np.diag(rng.uniform(0.5, 2.0, m))
    post = ekf_update(s, H, r, R)
    # The reference: scipy's cho_factor/cho_solve and the Joseph form with a full R.
    R_m = np.eye(m) if scalar_noise else np.asarray(R)
    P = s.covariance
    HP = H @ P
    S = HP @ H.T + R_m
    S = 0.5 * (S + S.T)
    K = scipy.linalg.cho_solve(scipy.linalg.cho_factor(S, lower=True), HP).T
    A = np.eye(s.size) - K @ H
    P_ref = A @ P @ A.T + K @ R_m @ K.T
    np.testing.assert_array_equal(post.covariance, 0.5 * (P_ref + P_ref.T))
    np.testing.assert_array_equal(post.imu.p_world_imu_m, s.boxplus(K @ r).imu.p_world_imu_m)
