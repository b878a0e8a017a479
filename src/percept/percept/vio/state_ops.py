"""The generic EKF update of the error state (OpenVINS' ``StateHelper::EKFUpdate``).

Every measurement model of ``vio`` (MSCKF features, zero velocity, ...) linearises to
``r = H δx + n`` with ``n ~ N(0, R)`` over the full error state (IMU block and clones,
layout of :mod:`percept.vio.state`) and calls :func:`ekf_update`:

- innovation covariance ``S = H P Hᵀ + R``, factored once with Cholesky (a failed
  factorisation means ``S`` is not positive definite: the update is refused, it never
  falls back to an inverse);
- gain ``K = P Hᵀ S⁻¹`` by two triangular solves, never an explicit inverse;
- Joseph form ``P' = (I - K H) P (I - K H)ᵀ + K R Kᵀ``, then symmetrised: it stays
  positive semi-definite to rounding for any gain (OpenVINS uses ``P - K H P``, cheaper
  but it can lose definiteness); the state here is small (15 + 6·11 = 81), so the
  O(n³) of the Joseph form costs well under a millisecond;
- injection of ``δx = K r`` by the state's boxplus: ``R ← R Exp(δθ)`` for the IMU and
  every clone (right perturbation), positions, velocity and biases additive.

The covariance is not "reset" after injection (the Jacobian of the reset,
``I - ½[δθ]ₓ``, differs from identity by the size of the correction, which OpenVINS and
most MSCKFs also neglect).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import scipy.linalg

from percept.vio.state import State

__all__ = ["UpdateError", "ekf_update"]

_LOG = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


class UpdateError(ValueError):
    """The update cannot be done: shapes, non-finite inputs or ``S`` not positive definite."""


# LAPACK's Cholesky factorisation and solve, as scipy.linalg.cho_factor/cho_solve call
# them (same routines, same arguments), without their per-call checks and batching.
_POTRF, _POTRS = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potrs"), (np.empty(0),))


def _noise(R: npt.ArrayLike | float, m: int) -> FloatArray | float:
    """The measurement covariance: a scalar variance ``σ²`` (for ``σ² I``) or (m, m)."""
    R_arr = np.asarray(R, dtype=np.float64)
    if R_arr.ndim == 0:
        if not np.isfinite(R_arr) or float(R_arr) <= 0:
            msg = f"ekf_update: scalar noise variance must be finite and > 0, got {float(R_arr)}"
            raise UpdateError(msg)
        return float(R_arr)
    if R_arr.shape != (m, m):
        msg = f"ekf_update: R must be ({m}, {m}) or a scalar, got {R_arr.shape}"
        raise UpdateError(msg)
    if not np.all(np.isfinite(R_arr)):
        msg = "ekf_update: R must be finite"
        raise UpdateError(msg)
    out: FloatArray = 0.5 * (R_arr + R_arr.T)
    return out


def ekf_update(
    state: State, H_x: npt.ArrayLike, r: npt.ArrayLike, R: npt.ArrayLike | float
) -> State:
    """One EKF update of the error state, injected into the nominal state.

    Args:
        state: the prior state (nominal values and covariance ``P``, (n, n)).
        H_x: (m, n) float64 Jacobian of the measurement w.r.t. the full error state
            (IMU block, then clones; zeros where the measurement does not depend).
        r: (m,) float64 residual, measurement minus its prediction at the nominal state.
        R: (m, m) float64 measurement covariance, or a scalar variance ``σ²`` for
            ``σ² I``.

    Returns:
        The posterior state: nominal values moved by ``δx = K r`` (right perturbation
        for rotations), covariance by the Joseph form, symmetric. With ``m == 0`` the
        state itself.

    Raises:
        UpdateError: shapes that do not match, non-finite inputs, or an innovation
            covariance that is not positive definite.

    >>> from percept.vio.state import ImuState
    >>> s = State(ImuState(0), np.eye(15))
    >>> H = np.zeros((1, 15)); H[0, 3] = 1.0           # observe p_x
    >>> post = ekf_update(s, H, [0.5], 1.0)
    >>> round(float(post.imu.p_world_imu_m[0]), 12), round(float(post.covariance[3, 3]), 12)
    (0.25, 0.5)
    """
    P = state.covariance
    n = state.size
    H = np.asarray(H_x, dtype=np.float64)
    res = np.asarray(r, dtype=np.float64).reshape(-1)
    m = res.shape[0]
    if H.shape != (m, n):
        msg = f"ekf_update: H_x must be ({m}, {n}) for {m} residuals, got {H.shape}"
        raise UpdateError(msg)
    if m == 0:
        return state
    if not (np.all(np.isfinite(H)) and np.all(np.isfinite(res))):
        msg = "ekf_update: H_x and r must be finite"
        raise UpdateError(msg)
    R_m = _noise(R, m)
    HP = H @ P  # (m, n)
    S = HP @ H.T
    if isinstance(R_m, float):
        # σ² I: only the diagonal changes (adding the zeros off it changes nothing).
        S[np.diag_indices(m)] += R_m
    else:
        S += R_m
    S = 0.5 * (S + S.T)
    chol, info = _POTRF(S, lower=1, overwrite_a=0, clean=0)
    if info != 0:
        msg = f"ekf_update: innovation covariance ({m}x{m}) is not positive definite"
        raise UpdateError(msg)
    K_t, info = _POTRS(chol, HP, lower=1, overwrite_b=0)
    if info != 0:  # pragma: no cover - LAPACK argument errors cannot happen here
        msg = f"ekf_update: the Cholesky solve failed (LAPACK info {info})"
        raise UpdateError(msg)
    K = K_t.T  # (n, m) = P Hᵀ S⁻¹
    dx = K @ res
    A = np.eye(n) - K @ H
    # K (σ² I) Kᵀ: (σ² K) Kᵀ is K R Kᵀ to the bit (the products with zeros add nothing).
    KRK = (R_m * K) @ K.T if isinstance(R_m, float) else K @ R_m @ K.T
    P_post = A @ P @ A.T + KRK
    P_post = 0.5 * (P_post + P_post.T)
    diag = np.diag(P_post)
    if not np.all(np.isfinite(P_post)) or np.any(diag < 0):
        msg = "ekf_update: the posterior covariance is not finite or has a negative variance"
        raise UpdateError(msg)
    _LOG.debug("ekf_update: %d rows, |dx| = %.3g", m, float(np.linalg.norm(dx)))
    return replace(state.boxplus(dx), covariance=P_post)
