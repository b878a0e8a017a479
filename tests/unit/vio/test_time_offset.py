"""The camera-IMU time offset in the state: layout, cloning, marginalisation, propagation.

With ``td`` in the state the error is ``[δθ, δp, δv, δb_g, δb_a, δtd, clones...]``
(``15 + 1 + 6k``); a clone holds the IMU pose at ``t_cam + td``, so its error takes
``ω δtd`` and ``v δtd`` (percept.vio.state's docstring).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import Header, ImuSample
from percept.features.database import TrackObservations
from percept.geometry import so3
from percept.vio.config import PropagatorConfig
from percept.vio.propagator import Propagator, integrate_imu
from percept.vio.state import (
    CLONE_DIM,
    IMU_DIM,
    POS,
    TD,
    THETA,
    Clone,
    ImuState,
    State,
    augment_clone,
    marginalize_oldest_clone,
    time_offset_ns,
    with_time_offset,
)
from percept.vio.update_msckf import UpdateStats, msckf_update

from .test_update_msckf import CAMERA, T_IMU_CAM, _points, _sample_estimate, _tracks, _truth_state

TD_S = 0.0123
TD_NS = 12_300_000


def _imu(stamp_ns: int, seed: int = 0) -> ImuState:
    rng = np.random.default_rng(seed)
    return ImuState(
        stamp_ns,
        Rotation.random(random_state=seed).as_matrix(),
        rng.normal(size=3),
        rng.normal(size=3) * 2.0,
        rng.normal(size=3) * 0.01,
        rng.normal(size=3) * 0.1,
    )


def _spd(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(n, n))
    out: np.ndarray = scale * (a @ a.T / n + 1e-3 * np.eye(n))
    return out


def _state_with_clones(k: int, seed: int = 1, td: float | None = None) -> State:
    """A state at 100k ns with k clones at 100, 200, ... ns and a full-rank covariance."""
    stamps = [100 * (i + 1) for i in range(k)]
    clones = tuple(
        Clone(s, Rotation.random(random_state=seed + s).as_matrix(), np.full(3, s / 100.0))
        for s in stamps
    )
    n = IMU_DIM + (0 if td is None else 1) + CLONE_DIM * k
    imu_stamp = (stamps[-1] if stamps else 0) + 1000
    return State(_imu(imu_stamp, seed), _spd(n, seed), clones, td)


# -- layout ------------------------------------------------------------------------------


def test_with_time_offset_inserts_one_uncorrelated_row_before_the_clones() -> None:
    state = _state_with_clones(2)
    out = with_time_offset(state, TD_S, 0.002)
    assert out.time_offset_s == TD_S
    assert out.size == IMU_DIM + 1 + 2 * CLONE_DIM == 28
    assert out.clone_start == IMU_DIM + 1 == TD + 1
    P, Q = state.covariance, out.covariance
    np.testing.assert_array_equal(Q[:IMU_DIM, :IMU_DIM], P[:IMU_DIM, :IMU_DIM])
    np.testing.assert_array_equal(Q[IMU_DIM + 1 :, IMU_DIM + 1 :], P[IMU_DIM:, IMU_DIM:])
    np.testing.assert_array_equal(Q[:IMU_DIM, IMU_DIM + 1 :], P[:IMU_DIM, IMU_DIM:])
    assert Q[TD, TD] == pytest.approx(0.002**2)
    np.testing.assert_array_equal(np.delete(Q[TD], TD), 0.0)
    np.testing.assert_array_equal(np.delete(Q[:, TD], TD), 0.0)
    assert out.imu is state.imu
    assert out.clones == state.clones
    for i, stamp in enumerate(out.clone_stamps_ns):
        assert out.clone_slice(stamp) == slice(16 + 6 * i, 22 + 6 * i)
        assert state.clone_slice(stamp) == slice(15 + 6 * i, 21 + 6 * i)
    assert time_offset_ns(out) == TD_NS
    assert time_offset_ns(state) == 0


def test_with_time_offset_replaces_an_existing_offset() -> None:
    state = _state_with_clones(2, td=0.5)  # a random covariance: td correlated with all
    out = with_time_offset(state, -0.004, 0.001)
    assert out.size == state.size
    assert out.time_offset_s == -0.004
    assert time_offset_ns(out) == -4_000_000
    keep = np.delete(np.arange(state.size), TD)
    np.testing.assert_array_equal(
        out.covariance[np.ix_(keep, keep)], state.covariance[np.ix_(keep, keep)]
    )
    assert out.covariance[TD, TD] == pytest.approx(1e-6)
    np.testing.assert_array_equal(np.delete(out.covariance[TD], TD), 0.0)


def test_state_rejects_a_covariance_without_the_td_row_and_a_non_finite_offset() -> None:
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        State(_imu(0), np.eye(IMU_DIM), (), 0.01)
    with pytest.raises(ValueError, match="finite"):
        State(_imu(0), np.eye(IMU_DIM + 1), (), float("nan"))


# -- cloning -----------------------------------------------------------------------------


def _clone_jacobian(state: State, omega: np.ndarray) -> np.ndarray:
    J = np.zeros((CLONE_DIM, state.size))
    J[:3, THETA] = np.eye(3)
    J[3:, POS] = np.eye(3)
    J[:3, TD] = omega
    J[3:, TD] = state.imu.v_world_imu_m_s
    return J


def test_augment_clone_with_time_offset_is_j_p_jt() -> None:
    base = _state_with_clones(2, seed=3, td=TD_S)
    stamp = 5000
    state = replace(base, imu=replace(base.imu, stamp_ns=stamp + TD_NS))
    omega = np.array([0.3, -1.2, 0.7])
    out = augment_clone(state, stamp, omega)
    n = state.size
    assert out.size == n + CLONE_DIM
    assert out.time_offset_s == TD_S
    assert out.clone_stamps_ns[-1] == stamp  # the camera stamp
    J = _clone_jacobian(state, omega)
    P = state.covariance
    expected = np.block([[P, P @ J.T], [J @ P, J @ P @ J.T]])
    np.testing.assert_allclose(out.covariance, expected, rtol=1e-12, atol=1e-14)
    assert out.clone_slice(stamp) == slice(n, n + CLONE_DIM)
    np.testing.assert_array_equal(out.clones[-1].R_world_imu, state.imu.R_world_imu)
    np.testing.assert_array_equal(out.clones[-1].p_world_imu_m, state.imu.p_world_imu_m)


def test_augment_clone_with_time_offset_matches_monte_carlo() -> None:
    # The true clone is the true IMU pose at t + δtd:
    # R Exp(δθ) Exp(ω δtd), p + δp + v δtd. Its error against the nominal clone, stacked
    # with the IMU and td errors, has the augmented covariance.
    imu = _imu(7 + TD_NS, seed=4)
    scale = np.r_[[0.02] * 3, [0.05] * 3, [0.1] * 3, [0.01] * 3, [0.1] * 3, [0.005]]
    C = _spd(IMU_DIM + 1, 5)
    d = np.sqrt(np.diag(C))
    P = (C / np.outer(d, d)) * np.outer(scale, scale)  # a correlated covariance
    state = State(imu, P, (), TD_S)
    omega = np.array([0.8, -0.5, 1.5])
    out = augment_clone(state, 7, omega)
    rng = np.random.default_rng(11)
    n_samples = 40_000
    dx = rng.multivariate_normal(np.zeros(IMU_DIM + 1), P, size=n_samples)
    R = imu.R_world_imu
    R_true = R @ so3.exp(dx[:, THETA]) @ so3.exp(omega * dx[:, TD, None])
    p_true = imu.p_world_imu_m + dx[:, POS] + imu.v_world_imu_m_s * dx[:, TD, None]
    clone_err = np.hstack(
        [so3.log(np.einsum("ji,njk->nik", R, R_true)), p_true - imu.p_world_imu_m]
    )
    samples = np.hstack([dx, clone_err])
    emp = np.cov(samples.T)
    A = out.covariance
    # Standard error of a sample covariance: sqrt((P_ii P_jj + P_ij^2) / N).
    var = np.diag(A)
    se = np.sqrt((np.outer(var, var) + A**2) / n_samples)
    z = np.abs(emp - A) / se
    assert z.max() < 5.0, f"max |z| {z.max():.2f}"
    # Without the td terms the clone block would be far off (the model is needed).
    J0 = _clone_jacobian(state, np.zeros(3))
    J0[3:, TD] = 0.0
    wrong = J0 @ P @ J0.T
    c = slice(IMU_DIM + 1, IMU_DIM + 1 + CLONE_DIM)
    assert (np.abs(emp[c, c] - wrong) / se[c, c]).max() > 20.0


def test_augment_clone_with_time_offset_checks_stamp_and_rate() -> None:
    state = State(_imu(5000 + TD_NS), np.eye(IMU_DIM + 1), (), TD_S)
    with pytest.raises(ValueError, match="angular velocity"):
        augment_clone(state, 5000)
    with pytest.raises(ValueError, match="propagate to the clone stamp first"):
        augment_clone(state, 5000 + TD_NS, np.zeros(3))  # the IMU stamp is not the camera's
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        augment_clone(state, 5000, np.zeros(4))
    # Without a time offset the rate is not needed and is ignored.
    plain = State(_imu(5000), np.eye(IMU_DIM))
    a = augment_clone(plain, 5000)
    b = augment_clone(plain, 5000, np.ones(3))
    np.testing.assert_array_equal(a.covariance, b.covariance)


# -- marginalisation and boxplus ---------------------------------------------------------


def test_marginalize_oldest_clone_keeps_the_time_offset() -> None:
    state = _state_with_clones(3, seed=6, td=TD_S)
    out = marginalize_oldest_clone(state)
    assert out.time_offset_s == TD_S
    assert out.clone_stamps_ns == (200, 300)
    keep = np.r_[0 : IMU_DIM + 1, IMU_DIM + 1 + CLONE_DIM : state.size]
    np.testing.assert_array_equal(out.covariance, state.covariance[np.ix_(keep, keep)])
    np.testing.assert_array_equal(out.covariance[TD], state.covariance[TD, keep])
    assert out.clone_slice(300) == slice(22, 28)
    np.testing.assert_array_equal(
        out.covariance[out.clone_slice(300), TD], state.covariance[state.clone_slice(300), TD]
    )


def test_state_boxplus_moves_the_time_offset_by_its_error() -> None:
    state = _state_with_clones(2, seed=7, td=TD_S)
    delta = np.zeros(state.size)
    delta[TD] = 0.002
    delta[IMU_DIM + 1 + CLONE_DIM + 3 : IMU_DIM + 1 + 2 * CLONE_DIM] = [1.0, 2.0, 3.0]
    out = state.boxplus(delta)
    assert out.time_offset_s == pytest.approx(TD_S + 0.002, abs=1e-15)
    # The td element moves nothing else; the clone rows start after it.
    np.testing.assert_array_equal(out.imu.R_world_imu, state.imu.R_world_imu)
    np.testing.assert_array_equal(out.imu.p_world_imu_m, state.imu.p_world_imu_m)
    np.testing.assert_array_equal(out.clones[0].p_world_imu_m, state.clones[0].p_world_imu_m)
    np.testing.assert_allclose(
        out.clones[1].p_world_imu_m, state.clones[1].p_world_imu_m + np.array([1.0, 2.0, 3.0])
    )
    np.testing.assert_array_equal(out.covariance, state.covariance)
    # The IMU part of the error is the first 15 elements.
    delta = np.zeros(state.size)
    delta[POS] = [0.5, 0.0, 0.0]
    moved = state.boxplus(delta)
    assert moved.time_offset_s == TD_S
    np.testing.assert_allclose(
        moved.imu.p_world_imu_m, state.imu.p_world_imu_m + np.array([0.5, 0, 0])
    )
    # Without a time offset it stays None.
    plain = _state_with_clones(1, seed=8)
    assert plain.boxplus(np.zeros(plain.size)).time_offset_s is None
    with pytest.raises(ValueError, match="delta must have shape"):
        state.boxplus(np.zeros(state.size - 1))


# -- propagation -------------------------------------------------------------------------


def test_propagate_keeps_the_time_offset_and_moves_its_correlation() -> None:
    cfg = PropagatorConfig()
    prop = Propagator(cfg)
    rng = np.random.default_rng(9)
    stamps = np.arange(0, 60_000_000, 5_000_000)
    gyro = rng.normal(size=(stamps.size, 3)) * 0.3
    accel = rng.normal(size=(stamps.size, 3)) + np.array([0.0, 0.0, 9.81])
    for t, g, a in zip(stamps, gyro, accel, strict=True):
        prop.feed_imu(ImuSample(Header(int(t), "imu_link"), g, a))
    clone = Clone(0, np.eye(3), np.zeros(3))
    n = IMU_DIM + 1 + CLONE_DIM
    P = _spd(n, 10, scale=1e-3)
    state = State(ImuState(2_500_000), P, (clone,), TD_S)
    end = 52_500_000
    out = prop.propagate(state, end)
    assert out.time_offset_s == TD_S
    assert out.size == n
    assert out.clones == state.clones
    # Φ of the same readings (the propagator holds the mean of two readings).
    t_r, g_r, a_r = prop.readings(2_500_000, end)
    mid_g, mid_a = 0.5 * (g_r[1:] + g_r[:-1]), 0.5 * (a_r[1:] + a_r[:-1])
    res = integrate_imu(state.imu, np.diff(t_r), mid_g, mid_a, cfg)
    phi, q = res.transition, res.noise
    Q = out.covariance
    np.testing.assert_allclose(Q[:IMU_DIM, :IMU_DIM], phi @ P[:IMU_DIM, :IMU_DIM] @ phi.T + q)
    np.testing.assert_allclose(Q[:IMU_DIM, TD], phi @ P[:IMU_DIM, TD], rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(Q[TD, :IMU_DIM], Q[:IMU_DIM, TD])
    np.testing.assert_array_equal(Q[IMU_DIM:, IMU_DIM:], P[IMU_DIM:, IMU_DIM:])


# -- MSCKF update ------------------------------------------------------------------------


Update = tuple[State, list[TrackObservations], State, UpdateStats]


@pytest.fixture(scope="module")
def update_without_td() -> Update:
    rng = np.random.default_rng(12)
    estimate = _sample_estimate(_truth_state(), rng)
    tracks = _tracks(_points(20, seed=13), rng)
    plain, stats = msckf_update(estimate, tracks, CAMERA, T_IMU_CAM)
    return estimate, tracks, plain, stats


@pytest.mark.parametrize("sigma_td_s", [0.0, 0.003])
def test_msckf_update_ignores_an_uncorrelated_time_offset(
    update_without_td: Update, sigma_td_s: float
) -> None:
    # The update's H has no td column: with td uncorrelated (or of zero variance) the
    # posterior is the one without td, and td and its variance are unchanged.
    estimate, tracks, plain, stats = update_without_td
    assert stats.used > 15
    with_td = with_time_offset(estimate, TD_S, sigma_td_s)
    post, stats_td = msckf_update(with_td, tracks, CAMERA, T_IMU_CAM)
    assert stats_td.used_ids == stats.used_ids
    assert stats_td.rows_update == stats.rows_update
    assert post.time_offset_s == TD_S
    assert post.covariance[TD, TD] == pytest.approx(sigma_td_s**2, abs=1e-18)
    np.testing.assert_array_equal(np.delete(post.covariance[TD], TD), 0.0)
    keep = np.delete(np.arange(post.size), TD)
    np.testing.assert_allclose(post.covariance[np.ix_(keep, keep)], plain.covariance, atol=1e-12)
    np.testing.assert_allclose(post.imu.R_world_imu, plain.imu.R_world_imu, atol=1e-12)
    np.testing.assert_allclose(post.imu.p_world_imu_m, plain.imu.p_world_imu_m, atol=1e-12)
    np.testing.assert_allclose(post.imu.v_world_imu_m_s, plain.imu.v_world_imu_m_s, atol=1e-12)
    for a, b in zip(post.clones, plain.clones, strict=True):
        np.testing.assert_allclose(a.R_world_imu, b.R_world_imu, atol=1e-12)
        np.testing.assert_allclose(a.p_world_imu_m, b.p_world_imu_m, atol=1e-12)
