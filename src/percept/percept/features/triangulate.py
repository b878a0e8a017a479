"""Triangulate one point from N observations with known camera poses.

As OpenVINS' ``FeatureInitializer`` (``single_triangulation`` + ``single_gaussnewton``,
docs/update-featinit.dox): a linear solution in the first (anchor) camera's frame, then
Gauss-Newton on the anchored inverse depth ``(alpha, beta, rho) = (x/z, y/z, 1/z)``,
which stays well conditioned for far points. The linear step is the homogeneous DLT
(Hartley & Zisserman, alg. 12.1) on normalised coordinates in the anchor frame (poses
relative to the anchor, so large world coordinates do not hurt its conditioning).

A point is rejected (``success`` False, ``reason`` says why) when it has fewer than two
observations, the viewing rays are nearly parallel (too little baseline for its
depth), the linear system is ill-conditioned, it lies behind or too close to a camera,
or beyond ``max_depth_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.features.config import TriangulationConfig

__all__ = ["Triangulation", "triangulate_point"]

_FloatArray = npt.NDArray[np.float64]


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


def _fail(reason: str, point: _FloatArray | None = None, rms: float = np.nan) -> Triangulation:
    p = np.full(3, np.nan) if point is None else point
    return Triangulation(p, float(rms), False, reason)


def _residuals(
    params: _FloatArray, R: _FloatArray, t: _FloatArray, xy: _FloatArray
) -> tuple[_FloatArray, _FloatArray, _FloatArray]:
    """Residuals (2N,), Jacobian (2N, 3) and scaled points (N, 3) at ``params``.

    ``h_i = R_i [alpha, beta, 1] + rho t_i`` is the point in camera i scaled by rho, so
    its projection is ``h[:2] / h[2]`` and ``dh / d(alpha, beta, rho) = [R_i e_x, R_i
    e_y, t_i]``.
    """
    alpha, beta, rho = params
    h = R @ np.array([alpha, beta, 1.0]) + rho * t
    z = h[:, 2]
    r = (h[:, :2] / z[:, None] - xy).reshape(-1)
    dh = np.stack([R[:, :, 0], R[:, :, 1], t], axis=2)  # (N, 3, 3)
    dproj = np.zeros((h.shape[0], 2, 3))
    dproj[:, 0, 0] = 1.0 / z
    dproj[:, 1, 1] = 1.0 / z
    dproj[:, :, 2] = -h[:, :2] / (z * z)[:, None]
    J = (dproj @ dh).reshape(-1, 3)
    return r, J, h


def triangulate_point(
    T_world_cam: npt.ArrayLike,
    uv: npt.ArrayLike,
    K: npt.ArrayLike | None = None,
    config: TriangulationConfig | None = None,
) -> Triangulation:
    """Triangulate one point seen by N cameras.

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
    cfg = config or TriangulationConfig()
    T = np.asarray(T_world_cam, dtype=np.float64)
    obs = np.asarray(uv, dtype=np.float64)
    if T.ndim != 3 or T.shape[1:] != (4, 4) or obs.shape != (T.shape[0], 2):
        msg = f"T_world_cam must be (N, 4, 4) and uv (N, 2), got {T.shape} and {obs.shape}"
        raise ValueError(msg)
    n = T.shape[0]
    K64 = None if K is None else np.asarray(K, dtype=np.float64).reshape(3, 3)
    if K64 is not None:
        xy = (obs - K64[:2, 2]) @ np.linalg.inv(K64[:2, :2]).T
    else:
        xy = obs
    if n < 2:
        return _fail("fewer than 2 observations")
    # Parallax: the widest angle between two viewing rays in the world frame.
    rays = np.einsum("nij,nj->ni", T[:, :3, :3], np.concatenate([xy, np.ones((n, 1))], axis=1))
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    cos_min = float(np.clip((rays @ rays.T).min(), -1.0, 1.0))
    if np.arccos(cos_min) < cfg.min_parallax_rad:
        return _fail("parallax too small")
    # Poses relative to the anchor: T_ci_anchor = inv(T_world_ci) @ T_world_anchor.
    R_wc, t_wc = T[:, :3, :3], T[:, :3, 3]
    R = np.einsum("nji,jk->nik", R_wc, R_wc[0])
    t = np.einsum("nji,nj->ni", R_wc, t_wc[0] - t_wc)
    P = np.concatenate([R, t[:, :, None]], axis=2)  # (N, 3, 4)
    A = np.concatenate([xy[:, 0:1] * P[:, 2] - P[:, 0], xy[:, 1:2] * P[:, 2] - P[:, 1]], axis=0)
    _u, s, vt = np.linalg.svd(A)
    if s[2] <= 0 or s[0] / s[2] > cfg.max_condition:
        return _fail("ill-conditioned")
    X = vt[-1]
    if abs(X[3]) < 1e-12 * np.abs(X[:3]).max():
        return _fail("point at infinity")
    p_anchor = X[:3] / X[3]
    if p_anchor[2] <= cfg.min_depth_m:
        return _fail("behind the camera", T[0, :3, :3] @ p_anchor + T[0, :3, 3])
    params = np.array([p_anchor[0] / p_anchor[2], p_anchor[1] / p_anchor[2], 1.0 / p_anchor[2]])
    r, J, h = _residuals(params, R, t, xy)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(cfg.max_iterations):
        H = J.T @ J
        # Levenberg-Marquardt damping keeps a step from jumping behind a camera.
        step = np.linalg.solve(H + lam * np.diag(np.diag(H) + 1e-12), -J.T @ r)
        trial = params + step
        r_new, J_new, h_new = _residuals(trial, R, t, xy)
        cost_new = float(r_new @ r_new)
        if np.all(h_new[:, 2] * trial[2] > 0) and cost_new <= cost:
            params, r, J, h, cost = trial, r_new, J_new, h_new, cost_new
            lam = max(lam / 10.0, 1e-10)
            if np.linalg.norm(step) < cfg.step_tolerance * (1.0 + np.linalg.norm(params)):
                break
        else:
            lam *= 10.0
            if lam > 1e6:
                break
    alpha, beta, rho = params
    p_anchor = np.array([alpha, beta, 1.0]) / rho
    point = T[0, :3, :3] @ p_anchor + T[0, :3, 3]
    if K64 is not None:
        proj = h[:, :2] / h[:, 2:3]
        pix = proj @ K64[:2, :2].T + K64[:2, 2]
        rms = float(np.sqrt(np.mean(np.sum((pix - obs) ** 2, axis=1))))
    else:
        rms = float(np.sqrt(cost / n))
    depths = h[:, 2] / rho
    if rho <= 0 or np.any(depths <= cfg.min_depth_m):
        return _fail("behind the camera", point, rms)
    if p_anchor[2] > cfg.max_depth_m:
        return _fail("too far", point, rms)
    return Triangulation(point, rms, True)
