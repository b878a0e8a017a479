"""State, boxplus/boxminus and clone augmentation/marginalisation (covariance algebra)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.vio.state import (
    CLONE_DIM,
    IMU_DIM,
    POS,
    THETA,
    Clone,
    ImuState,
    State,
    augment_clone,
    marginalize_oldest_clone,
)


def _imu(stamp_ns: int = 0, seed: int = 0) -> ImuState:
    rng = np.random.default_rng(seed)
    return ImuState(
        stamp_ns,
        Rotation.random(random_state=seed).as_matrix(),
        rng.normal(size=3),
        rng.normal(size=3),
        rng.normal(size=3) * 0.01,
        rng.normal(size=3) * 0.1,
    )


def _random_spd(n: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T / n + 1e-3 * np.eye(n)


def _is_spd(P: np.ndarray) -> bool:
    return bool(np.allclose(P, P.T, atol=0.0) and np.linalg.eigvalsh(P).min() > 0)


def test_boxminus_inverts_boxplus() -> None:
    imu = _imu()
    delta = np.random.default_rng(3).normal(size=IMU_DIM) * 0.1
    np.testing.assert_allclose(imu.boxplus(delta).boxminus(imu), delta, atol=1e-12)


def test_boxplus_perturbs_rotation_on_the_right() -> None:
    imu = _imu()
    delta = np.zeros(IMU_DIM)
    delta[THETA] = [0.0, 0.0, 0.1]
    expected = imu.R_world_imu @ Rotation.from_rotvec([0.0, 0.0, 0.1]).as_matrix()
    np.testing.assert_allclose(imu.boxplus(delta).R_world_imu, expected, atol=1e-15)


def test_quat_xyzw_is_hamilton_of_the_rotation() -> None:
    imu = _imu()
    R = Rotation.from_quat(imu.quat_xyzw).as_matrix()
    np.testing.assert_allclose(R, imu.R_world_imu, atol=1e-12)
    assert imu.T_world_imu.shape == (4, 4)


def test_imu_state_raises_on_a_non_rotation() -> None:
    with pytest.raises(ValueError, match="rotation matrix"):
        ImuState(0, 2.0 * np.eye(3))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        ImuState(0, np.eye(3), np.zeros(4))


def test_state_raises_on_a_covariance_of_the_wrong_layout() -> None:
    with pytest.raises(ValueError, match=r"\(15, 15\)"):
        State(_imu(), np.eye(14))
    asym = np.eye(IMU_DIM)
    asym[0, 1] = 1.0
    with pytest.raises(ValueError, match="symmetric"):
        State(_imu(), asym)
    clone = Clone(5, np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="increase"):
        State(_imu(5), np.eye(IMU_DIM + 2 * CLONE_DIM), (clone, clone))


def test_augment_clone_copies_the_pose_rows_and_stays_spd() -> None:
    P = _random_spd(IMU_DIM, 1)
    state = State(_imu(100), P)
    out = augment_clone(state, 100)
    assert out.size == IMU_DIM + CLONE_DIM
    assert out.clone_stamps_ns == (100,)
    c = out.clone_slice(100)
    pose = np.r_[THETA, POS]
    np.testing.assert_array_equal(out.covariance[:IMU_DIM, :IMU_DIM], P)
    np.testing.assert_array_equal(out.covariance[c, :IMU_DIM], P[pose, :])
    np.testing.assert_array_equal(out.covariance[c, c], P[np.ix_(pose, pose)])
    np.testing.assert_array_equal(out.clones[0].R_world_imu, state.imu.R_world_imu)
    # A clone duplicates two rows: the covariance is singular but PSD and symmetric.
    assert np.allclose(out.covariance, out.covariance.T, atol=0.0)
    assert np.linalg.eigvalsh(out.covariance).min() > -1e-12


def test_augment_clone_cross_covariance_matches_monte_carlo() -> None:
    # Sample the IMU error, clone it, measure the empirical covariance of the stack.
    P = _random_spd(IMU_DIM, 2)
    out = augment_clone(State(_imu(7), P), 7)
    rng = np.random.default_rng(0)
    e = rng.multivariate_normal(np.zeros(IMU_DIM), P, size=20000)
    stacked = np.hstack([e, e[:, np.r_[THETA, POS]]])
    emp = np.cov(stacked.T)
    np.testing.assert_allclose(emp, out.covariance, atol=0.05 * np.abs(P).max())


def test_augment_clone_raises_before_propagation_and_on_old_stamps() -> None:
    state = State(_imu(100), np.eye(IMU_DIM))
    with pytest.raises(ValueError, match="propagate to the clone stamp first"):
        augment_clone(state, 99)
    once = augment_clone(state, 100)
    with pytest.raises(ValueError, match="not newer"):
        augment_clone(once, 100)


def test_marginalize_oldest_clone_keeps_the_rest_unchanged() -> None:
    # A full-rank covariance over IMU + 3 clones (as after propagation and updates).
    imu = _imu(30)
    clones = tuple(Clone(s, np.eye(3), np.full(3, float(s))) for s in (10, 20, 30))
    n = IMU_DIM + 3 * CLONE_DIM
    P = _random_spd(n, 4)
    state = State(imu, P, clones)
    out = marginalize_oldest_clone(state)
    assert out.clone_stamps_ns == (20, 30)
    keep = np.r_[0:IMU_DIM, IMU_DIM + CLONE_DIM : n]
    np.testing.assert_array_equal(out.covariance, P[np.ix_(keep, keep)])
    assert _is_spd(out.covariance)
    # Cross-covariance of the IMU with the clone at 30 is where it was.
    np.testing.assert_array_equal(
        out.covariance[:IMU_DIM, out.clone_slice(30)], P[:IMU_DIM, state.clone_slice(30)]
    )
    with pytest.raises(ValueError, match="no clone"):
        marginalize_oldest_clone(State(imu, np.eye(IMU_DIM)))


def test_clone_slice_raises_for_an_unknown_stamp() -> None:
    with pytest.raises(KeyError, match="no clone at stamp 5"):
        State(_imu(), np.eye(IMU_DIM)).clone_slice(5)


def test_state_boxplus_moves_clones_with_their_own_errors() -> None:
    state = augment_clone(State(_imu(3), np.eye(IMU_DIM)), 3)
    delta = np.zeros(state.size)
    delta[IMU_DIM : IMU_DIM + 3] = [0.1, 0.0, 0.0]
    delta[IMU_DIM + 3 : IMU_DIM + 6] = [1.0, 2.0, 3.0]
    out = state.boxplus(delta)
    np.testing.assert_array_equal(out.imu.R_world_imu, state.imu.R_world_imu)
    expected = state.clones[0].R_world_imu @ Rotation.from_rotvec([0.1, 0, 0]).as_matrix()
    np.testing.assert_allclose(out.clones[0].R_world_imu, expected, atol=1e-15)
    np.testing.assert_allclose(
        out.clones[0].p_world_imu_m, state.imu.p_world_imu_m + np.array([1, 2, 3])
    )
