"""Triangulate points from N observations each, with known camera poses.

As OpenVINS' ``FeatureInitializer`` (``single_triangulation`` + ``single_gaussnewton``,
docs/update-featinit.dox): a linear solution in the first (anchor) camera's frame, then
Gauss-Newton with Levenberg-Marquardt damping on the anchored inverse depth
``(alpha, beta, rho) = (x/z, y/z, 1/z)``, which stays well conditioned for far points.
The linear step is the homogeneous DLT (Hartley & Zisserman, alg. 12.1) on normalised
coordinates in the anchor frame (poses relative to the anchor, so large world
coordinates do not hurt its conditioning).

A point is rejected (``success`` False, ``reason`` says why) when it has fewer than two
observations, the viewing rays are nearly parallel (too little baseline for its
depth), the linear system is ill-conditioned, it lies behind or too close to a camera,
or beyond ``max_depth_m``.

:func:`triangulate_points` solves many tracks at once (an MSCKF update's 10-40),
without a loop over them: the tracks are padded to the longest by repeating their
anchor observation, weighted 0 in the linear system and the least squares, so one
batched SVD and, per iteration, one batched 3 x 3 solve serve them all; each track
keeps its own damping and stops on its own, and stopped tracks leave the working set.
Every per-track number is computed elementwise or summed over the observations in a
fixed order, so a track's result does not depend on the batch: bit for bit what it
gets alone, which is what :func:`triangulate_point` does. (Grouping the tracks by
observation count instead, with no padding, measured 2-3x slower: one pass per count.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from percept.features.config import TriangulationConfig

__all__ = [
    "REASONS",
    "Triangulation",
    "TriangulationBatch",
    "triangulate_point",
    "triangulate_points",
]

_FloatArray = npt.NDArray[np.float64]
_BoolArray = npt.NDArray[np.bool_]

#: Why a point failed, indexed by :attr:`TriangulationBatch.reason_code` (0: success).
REASONS: Final = (
    "",
    "fewer than 2 observations",
    "parallax too small",
    "ill-conditioned",
    "point at infinity",
    "behind the camera",
    "too far",
)
_FEW, _PARALLAX, _ILL, _INFINITY, _BEHIND, _FAR = range(1, 7)
#: LAPACK's SVD (gesdd) of a (m, 4) matrix starts with a QR when m >= 7: from 8 rows on
#: trailing zero rows leave its result bit for bit the same, below they do not.
_MIN_SVD_ROWS: Final = 8


@dataclass(frozen=True, slots=True, eq=False)
class Triangulation:
    """A triangulated point.

    Attributes:
        point_world: (3,) float64 position in the world frame, metres (NaN when no
            solution was found).
        reprojection_rms: RMS reprojection error over the observations, in their unit
            (pixels when ``K`` was given, normalised image coordinates otherwise).
        success: the point passed every check.
        reason: why it failed, empty on success.
    """

    point_world: _FloatArray
    reprojection_rms: float
    success: bool
    reason: str = ""


def triangulate_point(
    T_world_cam: npt.ArrayLike,
    uv: npt.ArrayLike,
    K: npt.ArrayLike | None = None,
    config: TriangulationConfig | None = None,
) -> Triangulation:
    """Triangulate one point seen by N cameras (:func:`triangulate_points` of one track).

    Args:
        T_world_cam: (N, 4, 4) float64 camera poses in the world frame (optical frames:
            z forward); the first is the anchor.
        uv: (N, 2) observations: pixels (x = column, y = row) when ``K`` is given,
            normalised image coordinates (x/z, y/z) otherwise.
        K: (3, 3) intrinsics shared by the observations (rectified images), or None.
        config: acceptance tests (default ``TriangulationConfig()``).

    Returns:
        The point, its reprojection RMS and whether it passed the checks.

    Raises:
        ValueError: shapes do not match.

    >>> T = np.stack([np.eye(4), np.eye(4)]); T[1, 0, 3] = 0.5
    >>> res = triangulate_point(T, [[0.1, 0.0], [-0.15, 0.0]])
    >>> res.success, np.round(res.point_world, 6).tolist()
    (True, [0.2, 0.0, 2.0])
    """
    T = np.asarray(T_world_cam, dtype=np.float64)
    obs = np.asarray(uv, dtype=np.float64)
    if T.ndim != 3 or T.shape[1:] != (4, 4) or obs.shape != (T.shape[0], 2):
        msg = f"T_world_cam must be (N, 4, 4) and uv (N, 2), got {T.shape} and {obs.shape}"
        raise ValueError(msg)
    return triangulate_points(T, obs, [T.shape[0]], K, config)[0]


@dataclass(frozen=True, slots=True, eq=False)
class TriangulationBatch:
    """Many triangulated points (:func:`triangulate_points`).

    Attributes:
        points_world: (T, 3) float64 positions in the world frame, metres (NaN where no
            solution was found, as :class:`Triangulation`).
        reprojection_rms: (T,) float64 RMS reprojection errors (NaN where the point
            failed before the refinement).
        success: (T,) bool: the point passed every check.
        reason_code: (T,) int8 index into :data:`REASONS` (0 on success).
    """

    points_world: _FloatArray
    reprojection_rms: _FloatArray
    success: _BoolArray
    reason_code: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.success.shape[0])

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why each point failed, empty on success (:data:`REASONS`)."""
        return tuple(REASONS[int(c)] for c in self.reason_code)

    def __getitem__(self, i: int) -> Triangulation:
        """Track ``i`` as a :class:`Triangulation`."""
        return Triangulation(
            self.points_world[i].copy(),
            float(self.reprojection_rms[i]),
            bool(self.success[i]),
            REASONS[int(self.reason_code[i])],
        )


def _residuals(
    params: _FloatArray, R: _FloatArray, t: _FloatArray, xy: _FloatArray, w: _FloatArray
) -> tuple[_FloatArray, _FloatArray, _FloatArray]:
    """Residuals, Jacobians and scaled points of G tracks padded to n observations.

    ``h_i = R_i [alpha, beta, 1] + rho t_i`` is the point in camera i scaled by rho, so
    its projection is ``h[:2] / h[2]`` and ``dh / d(alpha, beta, rho) = [R_i e_x, R_i
    e_y, t_i]``. The arrays are observation-major and every operation is elementwise
    per observation, so a track's numbers do not depend on the padding.

    Args:
        params: (G, 3) ``(alpha, beta, rho)``.
        R: (n, G, 3, 3) rotations anchor -> camera.
        t: (n, G, 3) anchor origin in the cameras.
        xy: (n, G, 2) normalised observations.
        w: (n, G, 1) weights (1 real, 0 padding).

    Returns:
        Residuals (n, G, 2), Jacobians (n, G, 2, 3), scaled points (n, G, 3).
    """
    alpha, beta, rho = params[:, 0, None], params[:, 1, None], params[:, 2, None]
    h = R[..., 0] * alpha + R[..., 1] * beta + R[..., 2] + rho * t
    z = h[..., 2:3]
    r = (h[..., :2] / z - xy) * w
    dh = np.stack([R[..., 0], R[..., 1], t], axis=-1)  # (n, G, 3, 3)
    J = (dh[..., :2, :] / z[..., None] - (h[..., :2] / (z * z))[..., None] * dh[..., 2:3, :]) * w[
        ..., None
    ]
    return r, J, h


def _matvec(M: _FloatArray, v: _FloatArray) -> _FloatArray:
    """``M @ v`` over the leading axes, (..., r, c) and (..., c), written out.

    Products summed in a fixed order, so a track's numbers never depend on how many
    others share the batch (a BLAS call may change its order with the sizes).
    """
    out = M[..., 0] * v[..., 0, None]
    for j in range(1, M.shape[-1]):
        out = out + M[..., j] * v[..., j, None]
    return out


def _matmat(M: _FloatArray, N: _FloatArray) -> _FloatArray:
    """``M @ N`` over the leading axes, (..., r, c) and (..., c, k), as :func:`_matvec`."""
    out = M[..., :, 0, None] * N[..., 0, None, :]
    for j in range(1, M.shape[-1]):
        out = out + M[..., :, j, None] * N[..., j, None, :]
    return out


def _sum_obs(x: _FloatArray) -> _FloatArray:
    """Sum (n, G, 2, ...) over the observations and the x/y rows: (G, ...).

    numpy sums over a leading axis in order, one slice after the other, as long as
    the inner loop runs over the trailing axes (the x/y axis keeps it there even for
    one track), so zero padding appended to the observations changes nothing.
    """
    per_row: _FloatArray = np.sum(x, axis=0)
    out: _FloatArray = per_row[:, 0] + per_row[:, 1]
    return out


def _normal_equations(
    params: _FloatArray, R: _FloatArray, t: _FloatArray, xy: _FloatArray, w: _FloatArray
) -> tuple[_FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """``JᵀJ`` (G, 3, 3), ``Jᵀr`` (G, 3), cost (G,) and scaled points (n, G, 3)."""
    r, J, h = _residuals(params, R, t, xy, w)
    return (
        _sum_obs(J[..., :, None] * J[..., None, :]),
        _sum_obs(J * r[..., None]),
        _sum_obs(r * r),
        h,
    )


def _refine(
    params: _FloatArray,
    R: _FloatArray,
    t: _FloatArray,
    xy: _FloatArray,
    w: _FloatArray,
    cfg: TriangulationConfig,
) -> _FloatArray:
    """Levenberg-Marquardt on the anchored inverse depth of G tracks at once.

    Each track keeps its own damping (from 1e-3, /10 on an accepted step, x10 on a
    rejected one) and stops on its own (an accepted step below the tolerance, or the
    damping past 1e6); a step is accepted when it does not raise the cost and keeps
    the point in front of every camera. Stopped tracks leave the working set.

    Args:
        params: (G, 3) starting ``(alpha, beta, rho)``.
        R: (n, G, 3, 3) rotations anchor -> camera.
        t: (n, G, 3) anchor origin in the cameras.
        xy: (n, G, 2) normalised observations.
        w: (n, G, 1) weights (1 real, 0 padding).
        cfg: iterations and step tolerance.

    Returns:
        (G, 3) the refined parameters.
    """
    out: _FloatArray = params.copy()
    ids = np.arange(params.shape[0])
    H, g, cost, _ = _normal_equations(params, R, t, xy, w)
    lam = np.full(params.shape[0], 1e-3)
    eye = np.eye(3)
    for _ in range(cfg.max_iterations):
        # Levenberg-Marquardt damping keeps a step from jumping behind a camera.
        damping = (np.diagonal(H, axis1=1, axis2=2) + 1e-12)[:, :, None] * eye
        step = np.linalg.solve(H + lam[:, None, None] * damping, -g[:, :, None])[:, :, 0]
        trial = params + step
        H_new, g_new, cost_new, h_new = _normal_equations(trial, R, t, xy, w)
        accept = np.all(h_new[..., 2] * trial[:, 2] > 0, axis=0) & (cost_new <= cost)
        params = np.where(accept[:, None], trial, params)
        H = np.where(accept[:, None, None], H_new, H)
        g = np.where(accept[:, None], g_new, g)
        cost = np.where(accept, cost_new, cost)
        lam = np.where(accept, np.maximum(lam / 10.0, 1e-10), lam * 10.0)
        small = np.linalg.norm(step, axis=1) < cfg.step_tolerance * (
            1.0 + np.linalg.norm(params, axis=1)
        )
        going = ~np.where(accept, small, lam > 1e6)
        out[ids] = params
        if not going.all():
            if not going.any():
                break
            ids, params, H, g = ids[going], params[going], H[going], g[going]
            cost, lam = cost[going], lam[going]
            R, t, xy, w = R[:, going], t[:, going], xy[:, going], w[:, going]
    return out


def triangulate_points(
    T_world_cam: npt.ArrayLike,
    uv: npt.ArrayLike,
    counts: npt.ArrayLike,
    K: npt.ArrayLike | None = None,
    config: TriangulationConfig | None = None,
) -> TriangulationBatch:
    """Triangulate many points at once.

    The observations of the tracks are stacked, track after track; ``counts[i]`` is
    the number of observations of track ``i``, whose first is its anchor. A track's
    result does not depend on the other tracks in the batch (bit for bit).

    Args:
        T_world_cam: (M, 4, 4) float64 camera poses in the world frame (optical frames:
            z forward), one per observation.
        uv: (M, 2) observations: pixels (x = column, y = row) when ``K`` is given,
            normalised image coordinates (x/z, y/z) otherwise.
        counts: (T,) int observations per track, summing to M.
        K: (3, 3) intrinsics shared by the observations (rectified images), or None.
        config: acceptance tests (default ``TriangulationConfig()``).

    Returns:
        The points, their reprojection RMS, success flags and reason codes, per track.
        A track with a non-finite value fails as ill-conditioned.

    Raises:
        ValueError: shapes do not match, or ``counts`` is negative or does not sum to M.

    >>> T = np.stack([np.eye(4), np.eye(4), np.eye(4)]); T[1:, 0, 3] = 0.5
    >>> res = triangulate_points(T, [[0.1, 0.0], [-0.15, 0.0], [0.0, 0.0]], [2, 1])
    >>> res.success.tolist(), res.reasons[1], np.round(res.points_world[0], 6).tolist()
    ([True, False], 'fewer than 2 observations', [0.2, 0.0, 2.0])
    """
    cfg = config or TriangulationConfig()
    T = np.asarray(T_world_cam, dtype=np.float64)
    obs = np.asarray(uv, dtype=np.float64)
    n_obs = np.asarray(counts, dtype=np.int64).reshape(-1)
    if T.ndim != 3 or T.shape[1:] != (4, 4) or obs.shape != (T.shape[0], 2):
        msg = f"T_world_cam must be (M, 4, 4) and uv (M, 2), got {T.shape} and {obs.shape}"
        raise ValueError(msg)
    if np.any(n_obs < 0) or int(n_obs.sum()) != T.shape[0]:
        msg = f"counts must be >= 0 and sum to {T.shape[0]}, got {n_obs.tolist()}"
        raise ValueError(msg)
    n_tracks = n_obs.shape[0]
    K64 = None if K is None else np.asarray(K, dtype=np.float64).reshape(3, 3)
    if K64 is None:
        xy_all = obs
    else:
        K_inv = np.asarray(np.linalg.inv(K64[:2, :2]), dtype=np.float64)
        xy_all = _matvec(K_inv, obs - K64[:2, 2])
    points = np.full((n_tracks, 3), np.nan)
    rms = np.full(n_tracks, np.nan)
    code = np.full(n_tracks, _FEW, dtype=np.int8)
    tracks = np.flatnonzero(n_obs >= 2)
    if tracks.size == 0:
        return TriangulationBatch(points, rms, code == 0, code)

    # Observation-major (n, G) blocks padded with the anchor observation (weight 0).
    n_t = n_obs[tracks]
    slot = np.arange(int(n_t.max()))[:, None]
    valid = slot < n_t  # (n, G)
    first = (np.cumsum(n_obs) - n_obs)[tracks]
    rows = np.where(valid, first + slot, first)
    R_wc, t_wc, xy = T[rows, :3, :3], T[rows, :3, 3], xy_all[rows]
    w = valid.astype(np.float64)[..., None]

    # Parallax: the widest angle between two viewing rays (padding repeats a ray).
    rays = R_wc[..., 0] * xy[..., 0:1] + R_wc[..., 1] * xy[..., 1:2] + R_wc[..., 2]
    rays /= np.linalg.norm(rays, axis=2, keepdims=True)
    cos_min = np.clip(np.sum(rays[:, None] * rays[None], axis=3).min(axis=(0, 1)), -1.0, 1.0)
    bad = np.where(np.arccos(cos_min) < cfg.min_parallax_rad, _PARALLAX, 0)

    # Poses relative to the anchor: T_ci_anchor = inv(T_world_ci) @ T_world_anchor.
    R = _matmat(np.swapaxes(R_wc, 2, 3), R_wc[0])
    t = _matvec(np.swapaxes(R_wc, 2, 3), t_wc[0] - t_wc)
    # Homogeneous DLT (x and y rows per observation); padding rows are zero and trail,
    # at least _MIN_SVD_ROWS rows: the SVD of a track's rows does not see the padding.
    P = np.concatenate([R, t[..., None]], axis=3)  # (n, G, 3, 4)
    A = np.stack(
        [xy[..., 0:1] * P[..., 2, :] - P[..., 0, :], xy[..., 1:2] * P[..., 2, :] - P[..., 1, :]],
        axis=1,
    )
    A = (A * w[:, None]).transpose(2, 0, 1, 3).reshape(tracks.size, -1, 4)
    if A.shape[1] < _MIN_SVD_ROWS:
        A = np.concatenate([A, np.zeros((A.shape[0], _MIN_SVD_ROWS - A.shape[1], 4))], axis=1)
    finite = np.isfinite(A).all(axis=(1, 2))
    _u, s, vt = np.linalg.svd(np.where(finite[:, None, None], A, 0.0), full_matrices=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        ill = (s[:, 2] <= 0) | (s[:, 0] / s[:, 2] > cfg.max_condition)
        bad = np.where((bad == 0) & ill, _ILL, bad)
        X = vt[:, -1]
        at_inf = np.abs(X[:, 3]) < 1e-12 * np.abs(X[:, :3]).max(axis=1)
        bad = np.where((bad == 0) & at_inf, _INFINITY, bad)
        p_lin = X[:, :3] / X[:, 3:4]
    anchor_R, anchor_t = R_wc[0], t_wc[0]
    behind = (bad == 0) & (p_lin[:, 2] <= cfg.min_depth_m)
    bad = np.where(behind, _BEHIND, bad)
    points[tracks[behind]] = _matvec(anchor_R[behind], p_lin[behind]) + anchor_t[behind]
    code[tracks] = bad

    # Levenberg-Marquardt on the anchored inverse depth where the linear step passed.
    go = np.flatnonzero(bad == 0)
    if go.size == 0:
        return TriangulationBatch(points, rms, code == 0, code)
    p0 = p_lin[go]
    params0 = np.column_stack([p0[:, 0] / p0[:, 2], p0[:, 1] / p0[:, 2], 1.0 / p0[:, 2]])
    w_go = w[:, go]
    R_go, t_go, xy_go = R[:, go], t[:, go], xy[:, go]
    params = _refine(params0, R_go, t_go, xy_go, w_go, cfg)
    _H, _g, cost, h = _normal_equations(params, R_go, t_go, xy_go, w_go)
    rho = params[:, 2]
    p_anchor = params.copy()
    p_anchor[:, 2] = 1.0
    p_anchor /= rho[:, None]
    done = tracks[go]
    points[done] = _matvec(anchor_R[go], p_anchor) + anchor_t[go]
    if K64 is not None:
        pix = _matvec(K64[:2, :2], h[..., :2] / h[..., 2:3]) + K64[:2, 2]
        rms[done] = np.sqrt(_sum_obs((pix - obs[rows[:, go]]) ** 2 * w_go) / n_t[go])
    else:
        rms[done] = np.sqrt(cost / n_t[go])
    with np.errstate(divide="ignore", invalid="ignore"):
        depths = h[..., 2] / rho  # padding repeats the anchor's depth
        behind = (rho <= 0) | np.any(depths <= cfg.min_depth_m, axis=0)
    far = p_anchor[:, 2] > cfg.max_depth_m
    code[done] = np.where(behind, _BEHIND, np.where(far, _FAR, 0))
    return TriangulationBatch(points, rms, code == 0, code)
