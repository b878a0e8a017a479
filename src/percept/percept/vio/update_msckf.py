"""The MSCKF feature update (OpenVINS' ``UpdaterMSCKF``).

A track that is lost (or whose oldest observation leaves the clone window) constrains
the clones it was seen from. For each such track, as OpenVINS does:

1. **Triangulate** the point in the world from the clone poses
   (``T_world_cam = T_world_imu_clone @ T_imu_cam``, and the right camera
   ``T_world_cam @ T_left_right`` for stereo observations) with
   :func:`percept.features.triangulate_point` (linear + Gauss-Newton).
2. **Linearise** the reprojection of the point into every observation: residual
   ``r = z - h(x̂, p̂_f)`` in normalised image coordinates, Jacobians ``H_x`` w.r.t. the
   clone poses (right perturbation, :mod:`percept.vio.state`) and ``H_f`` w.r.t. the
   point. The rows are whitened by ``f / σ_px`` (x rows by ``fx``, y rows by ``fy``), so
   the noise is ``I``: pixel-scaled normalised residuals.
3. **Null-space projection** (docs/update-null.dox): ``r ≈ H_x δx + H_f δp_f + n``;
   with ``Q = [Q1 Q2]`` the complete QR of ``H_f`` (2m, 3), ``Q2ᵀ H_f = 0`` and
   ``Q2ᵀ r ≈ Q2ᵀ H_x δx + Q2ᵀ n``, ``2m - 3`` rows whose noise is still ``I`` (``Q2`` is
   orthonormal). OpenVINS does this with Givens rotations in place; here three
   Householder reflections in place, over every track of the same row count at once.
4. **Chi-square gate** per track: ``γ = rᵀ (H P Hᵀ + I)⁻¹ r`` against
   ``multiplier × chi2.ppf(0.95, dof)``, dof = ``2m - 3`` (OpenVINS' table, not
   msckf_vio's 5 % quantile).
5. **Stack and compress**: the surviving rows are stacked; when there are more rows
   than clone error dimensions, a QR of the stacked ``H`` keeps ``R`` and ``Q1ᵀ r``
   (docs/update-compress.dox), then one :func:`percept.vio.state_ops.ekf_update`.

Jacobians (``q = R_wiᵀ (p_f - p_wi)`` the point in the IMU frame,
``p_c = R_icᵀ (q - p_ic) - o`` in the camera, ``o = (B, 0, 0)`` for the right camera,
``Π`` the (2, 3) Jacobian of the projection ``(x/z, y/z)``)::

    ∂z/∂δθ_clone = Π R_icᵀ [q]ₓ      ∂z/∂δp_clone = -Π R_icᵀ R_wiᵀ      ∂z/∂p_f = Π R_icᵀ R_wiᵀ

First-estimate Jacobians (FEJ, wave2-research §1.4) need the clones' first estimates,
which :class:`percept.vio.state.Clone` does not keep yet: the Jacobians here are taken at
the current estimate (the standard EKF). The extrinsic ``T_imu_cam`` and the time offset
are not in the state yet either, so they have no columns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.stats

from percept.features.database import TrackObservations
from percept.features.triangulate import triangulate_point
from percept.geometry import so3
from percept.stereo.geometry import StereoGeometry
from percept.vio.state import CLONE_DIM, State
from percept.vio.state_ops import ekf_update
from percept.vio.update_config import UpdaterConfig

__all__ = [
    "FeatureLinearization",
    "UpdateStats",
    "linearize_feature",
    "msckf_update",
    "nullspace_project",
]

_LOG = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
_Index = npt.NDArray[np.intp]
_Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """What one MSCKF update did with the tracks it was given.

    Attributes:
        candidates: tracks offered.
        too_few_observations: tracks seen at fewer than ``min_observations`` clones.
        skipped: tracks over ``max_features`` (the shortest go).
        failed_triangulation: tracks whose point could not be triangulated (or whose
            ``H_f`` had no rank 3).
        gated: tracks rejected by the chi-square gate.
        used: tracks in the update.
        rows: rows of the stacked projected residual.
        rows_update: rows handed to the EKF after compression.
        used_ids: ids of the used tracks.
        gated_ids: ids of the gated tracks.
        failed_ids: ids of the tracks that failed triangulation.
    """

    candidates: int = 0
    too_few_observations: int = 0
    skipped: int = 0
    failed_triangulation: int = 0
    gated: int = 0
    used: int = 0
    rows: int = 0
    rows_update: int = 0
    used_ids: tuple[int, ...] = field(default=())
    gated_ids: tuple[int, ...] = field(default=())
    failed_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True, eq=False)
class FeatureLinearization:
    """One track's reprojection model at the nominal state (not whitened).

    Attributes:
        residual: (2m,) float64 ``z - h(x̂, p_f)``, normalised image coordinates; per
            observation ``[x, y]``, left observations first (oldest first), then right.
        H_x: (2m, n) float64 Jacobian w.r.t. the full error state (zero IMU columns).
        H_f: (2m, 3) float64 Jacobian w.r.t. the point in the world.
    """

    residual: FloatArray
    H_x: FloatArray
    H_f: FloatArray


def _project(
    R_wi: FloatArray,
    p_wi: FloatArray,
    R_ic: FloatArray,
    p_ic: FloatArray,
    offset: FloatArray,
    p_f: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Predicted normalised coordinates and Jacobians of M observations.

    Args:
        R_wi: (M, 3, 3) clone orientations.
        p_wi: (M, 3) clone positions.
        R_ic: (3, 3) camera orientation in the IMU frame.
        p_ic: (3,) camera position in the IMU frame.
        offset: (M, 3) position of the observing camera in the left camera frame
            (zero for the left camera, ``(B, 0, 0)`` for the right).
        p_f: (M, 3) point in the world.

    Returns:
        ``z`` (M, 2), ``∂z/∂[δθ, δp]`` (M, 2, 6), ``∂z/∂p_f`` (M, 2, 3), depth (M,).
    """
    d = p_f - p_wi
    q = np.einsum("mji,mj->mi", R_wi, d)  # R_wiᵀ (p_f - p_wi)
    p_c = (q - p_ic) @ R_ic - offset  # R_icᵀ (q - p_ic) - o, row-vector form
    z_c = p_c[:, 2]
    inv_z = 1.0 / z_c
    xy = p_c[:, :2] * inv_z[:, None]
    Pi = np.zeros((p_c.shape[0], 2, 3))
    Pi[:, 0, 0] = inv_z
    Pi[:, 1, 1] = inv_z
    Pi[:, :, 2] = -xy * inv_z[:, None]
    Pi_Ric = Pi @ R_ic.T  # Π R_icᵀ, (M, 2, 3)
    J_f = Pi_Ric @ np.transpose(R_wi, (0, 2, 1))  # Π R_icᵀ R_wiᵀ
    J_x = np.empty((p_c.shape[0], 2, 6))
    J_x[:, :, :3] = Pi_Ric @ so3.hat(q)
    J_x[:, :, 3:] = -J_f
    return xy, J_x, J_f, z_c


def _observation_rows(
    state: State,
    clone_idx: npt.NDArray[np.intp],
    right: npt.NDArray[np.bool_],
    xy_meas: FloatArray,
    p_f: FloatArray,
    T_imu_cam: FloatArray,
    baseline_m: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Residuals and Jacobians of M observations (clone ``clone_idx``, side ``right``).

    Returns:
        residual (M, 2), clone Jacobian (M, 2, 6), point Jacobian (M, 2, 3), depth (M,).
    """
    R_all = np.stack([c.R_world_imu for c in state.clones]) if state.clones else np.empty((0, 3, 3))
    p_all = np.stack([c.p_world_imu_m for c in state.clones]) if state.clones else np.empty((0, 3))
    offset = np.zeros((clone_idx.shape[0], 3))
    offset[right, 0] = baseline_m
    xy, J_x, J_f, depth = _project(
        R_all[clone_idx], p_all[clone_idx], T_imu_cam[:3, :3], T_imu_cam[:3, 3], offset, p_f
    )
    return xy_meas - xy, J_x, J_f, depth


def _track_rows(
    state: State,
    track: TrackObservations,
    camera: StereoGeometry,
    use_stereo: bool,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_], FloatArray]:
    """A track's observations at clone stamps: clone index, right flag, normalised xy."""
    stamps = np.asarray(state.clone_stamps_ns, dtype=np.int64)
    obs_stamps = np.asarray(track.stamps_ns, dtype=np.int64)
    pos = np.searchsorted(stamps, obs_stamps)
    pos_c = np.minimum(pos, max(stamps.shape[0] - 1, 0))
    at_clone = (pos < stamps.shape[0]) & (stamps[pos_c] == obs_stamps) if stamps.size else pos < 0
    idx_left = pos_c[at_clone].astype(np.intp)
    uv_l = np.asarray(track.uv_left, dtype=np.float64)[at_clone]
    xy_l = np.column_stack(
        [(uv_l[:, 0] - camera.cx) / camera.fx, (uv_l[:, 1] - camera.cy) / camera.fy]
    )
    if not use_stereo:
        return idx_left, np.zeros(idx_left.shape[0], bool), xy_l
    uv_r = np.asarray(track.uv_right, dtype=np.float64)[at_clone]
    has_r = np.all(np.isfinite(uv_r), axis=1)
    cx_r = camera.cx - camera.cx_offset_px
    xy_r = np.column_stack(
        [(uv_r[has_r, 0] - cx_r) / camera.fx, (uv_r[has_r, 1] - camera.cy) / camera.fy]
    )
    idx = np.concatenate([idx_left, idx_left[has_r]])
    right = np.concatenate([np.zeros(idx_left.shape[0], bool), np.ones(int(has_r.sum()), bool)])
    return idx, right, np.concatenate([xy_l, xy_r])


def _camera_poses(state: State, T_imu_cam: FloatArray, baseline_m: float) -> FloatArray:
    """(2, k, 4, 4) ``T_world_cam`` of the left (0) and right (1) camera at every clone."""
    T_wi = np.empty((len(state.clones), 4, 4))
    for i, c in enumerate(state.clones):
        T_wi[i] = c.T_world_imu
    T_lr = np.eye(4)
    T_lr[0, 3] = baseline_m
    T_wc = T_wi @ T_imu_cam
    return np.stack([T_wc, T_wc @ T_lr])


def linearize_feature(
    state: State,
    track: TrackObservations,
    p_world_f: npt.ArrayLike,
    camera: StereoGeometry,
    T_imu_cam: npt.ArrayLike,
    use_stereo: bool = True,
) -> FeatureLinearization:
    """The reprojection residual and Jacobians of one track at the nominal state.

    Only observations at clone stamps are used.

    Args:
        state: the state with the clones the track was seen from.
        track: the track's observations (rectified pixels).
        p_world_f: (3,) float64 the point in the world, metres.
        camera: the rectified stereo pair.
        T_imu_cam: (4, 4) float64 pose of the left camera (optical frame) in the IMU
            frame.
        use_stereo: add the right-image observations.

    Returns:
        The residual and the Jacobians, normalised image coordinates.
    """
    T = np.asarray(T_imu_cam, dtype=np.float64)
    idx, right, xy = _track_rows(state, track, camera, use_stereo)
    p_f = np.broadcast_to(np.asarray(p_world_f, dtype=np.float64), (idx.shape[0], 3))
    r, J_x, J_f, _ = _observation_rows(state, idx, right, xy, p_f, T, camera.baseline_m)
    m = idx.shape[0]
    H_x = np.zeros((m, 2, state.size))
    cols = state.clone_start + CLONE_DIM * idx[:, None] + np.arange(CLONE_DIM)
    H_x[np.arange(m)[:, None, None], np.arange(2)[None, :, None], cols[:, None, :]] = J_x
    return FeatureLinearization(r.reshape(-1), H_x.reshape(2 * m, -1), J_f.reshape(2 * m, 3))


def nullspace_project(
    H_f: npt.ArrayLike, H_x: npt.ArrayLike, r: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Project a stack of linearised tracks onto the left null space of their ``H_f``.

    Three Householder reflections triangularise each ``H_f`` and are applied to
    ``[H_x r]`` in place, vectorised over the stack (OpenVINS applies Givens rotations
    in place for the same result): the rows below the third are ``Q2ᵀ [H_x r]`` for an
    orthonormal basis ``Q2`` of the left null space of ``H_f``, so ``Q2ᵀ H_f = 0`` and
    white noise stays white.

    Args:
        H_f: (g, m, 3) float64 point Jacobians (rank 3 each), m > 3.
        H_x: (g, m, n) float64 state Jacobians.
        r: (g, m) float64 residuals.

    Returns:
        ``H_x`` (g, m - 3, n), ``r`` (g, m - 3) projected, and the (g,) ratio
        ``|R[2, 2]| / |R[0, 0]|`` of ``H_f``'s triangular factor (near 0: ``H_f`` has no
        rank 3).
    """
    Hf = np.asarray(H_f, dtype=np.float64)
    Hx = np.asarray(H_x, dtype=np.float64)
    n = Hx.shape[2]
    A = np.concatenate([Hf, Hx, np.asarray(r, dtype=np.float64)[:, :, None]], axis=2)
    diag = np.zeros((A.shape[0], 3))
    for j in range(3):
        x = A[:, j:, j]
        norm = np.linalg.norm(x, axis=1)
        alpha = np.where(x[:, 0] >= 0, -norm, norm)
        v = x.copy()
        v[:, 0] -= alpha
        vv = np.einsum("gi,gi->g", v, v)
        beta = np.divide(2.0, vv, out=np.zeros_like(vv), where=vv > 0)
        w = np.einsum("gi,gik->gk", v, A[:, j:, :])
        A[:, j:, :] -= (beta[:, None] * v)[:, :, None] * w[:, None, :]
        diag[:, j] = np.where(vv > 0, alpha, x[:, 0])
    rank_ratio = np.abs(diag[:, 2]) / np.maximum(np.abs(diag[:, 0]), 1e-300)
    return A[:, 3:, 3 : 3 + n], A[:, 3:, 3 + n], rank_ratio


def msckf_update(
    state: State,
    tracks: Sequence[TrackObservations],
    camera: StereoGeometry,
    T_imu_cam: npt.ArrayLike,
    config: UpdaterConfig | None = None,
) -> tuple[State, UpdateStats]:
    """Update the state with tracks that left the window (OpenVINS ``UpdaterMSCKF``).

    Args:
        state: the state; its clones are the frames the tracks may be seen at.
        tracks: the tracks to use (observations at stamps that are not clones are
            ignored), rectified pixels.
        camera: the rectified stereo pair (intrinsics of the left image, baseline).
        T_imu_cam: (4, 4) float64 pose of the left camera (optical frame) in the IMU
            frame.
        config: the update's settings (default ``UpdaterConfig()``).

    Returns:
        The updated state (the same state when no track survives) and what happened to
        the tracks.

    Raises:
        ValueError: ``T_imu_cam`` is not (4, 4).
        percept.vio.state_ops.UpdateError: the EKF update failed (non-finite values).
    """
    cfg = config or UpdaterConfig()
    T_ic = np.asarray(T_imu_cam, dtype=np.float64)
    if T_ic.shape != (4, 4):
        msg = f"T_imu_cam must be (4, 4), got {T_ic.shape}"
        raise ValueError(msg)
    B = camera.baseline_m
    k = len(state.clones)

    # 1. Observations at clones; the longest tracks first, at most max_features.
    rows_of: list[tuple[TrackObservations, _Index, _Mask, FloatArray]] = []
    too_few = 0
    for track in tracks:
        idx, right, xy = _track_rows(state, track, camera, cfg.use_stereo)
        n_left = int(np.count_nonzero(~right))
        if n_left < cfg.min_observations:
            too_few += 1
            continue
        rows_of.append((track, idx, right, xy))
    rows_of.sort(key=lambda item: -int(np.count_nonzero(~item[2])))
    skipped = max(len(rows_of) - cfg.max_features, 0)
    rows_of = rows_of[: cfg.max_features]

    # 2. Triangulate (one small solve per track, as OpenVINS).
    good: list[tuple[int, _Index, _Mask, FloatArray, FloatArray]] = []
    failed: list[int] = []
    T_wc_all = _camera_poses(state, T_ic, B)
    for track, idx, right, xy in rows_of:
        tri = triangulate_point(T_wc_all[right.astype(np.intp), idx], xy, None, cfg.triangulation)
        if not tri.success:
            failed.append(track.track_id)
            continue
        good.append((track.track_id, idx, right, xy, tri.point_world))

    if not good:
        stats = UpdateStats(len(tracks), too_few, skipped, len(failed), failed_ids=tuple(failed))
        return state, stats

    # 3. Linearise every observation at once, whitened to unit noise.
    n_obs = np.array([g[1].shape[0] for g in good])
    idx_all = np.concatenate([g[1] for g in good])
    right_all = np.concatenate([g[2] for g in good])
    xy_all = np.concatenate([g[3] for g in good])
    p_f_all = np.repeat(np.stack([g[4] for g in good]), n_obs, axis=0)
    r_obs, J_x, J_f, _ = _observation_rows(state, idx_all, right_all, xy_all, p_f_all, T_ic, B)
    scale = np.array([camera.fx, camera.fy]) / cfg.sigma_px
    r_obs = r_obs * scale
    J_x = J_x * scale[None, :, None]
    J_f = J_f * scale[None, :, None]
    M = idx_all.shape[0]
    n_c = CLONE_DIM * k
    Hc = np.zeros((M, 2, n_c))
    cols = CLONE_DIM * idx_all[:, None] + np.arange(CLONE_DIM)
    Hc[np.arange(M)[:, None, None], np.arange(2)[None, :, None], cols[:, None, :]] = J_x
    Hc_rows = Hc.reshape(2 * M, n_c)
    Hf_rows = J_f.reshape(2 * M, 3)
    r_rows = r_obs.reshape(2 * M)
    starts = 2 * np.concatenate([[0], np.cumsum(n_obs)[:-1]])

    # 4. Null-space projection and chi-square gate, batched by row count.
    P_cc = state.covariance[state.clone_start :, state.clone_start :]
    ids = np.array([g[0] for g in good])
    keep_H: list[FloatArray] = []
    keep_r: list[FloatArray] = []
    used: list[int] = []
    gated: list[int] = []
    for m2 in np.unique(2 * n_obs):
        members = np.flatnonzero(2 * n_obs == m2)
        rows = starts[members][:, None] + np.arange(m2)
        Hx_p, r_p, rank_ratio = nullspace_project(Hf_rows[rows], Hc_rows[rows], r_rows[rows])
        ok_rank = rank_ratio > 1e-9
        failed.extend(int(i) for i in ids[members[~ok_rank]])
        members, Hx_p, r_p = members[ok_rank], Hx_p[ok_rank], r_p[ok_rank]
        if members.size == 0:
            continue
        dof = int(m2) - 3
        S = Hx_p @ P_cc @ np.transpose(Hx_p, (0, 2, 1)) + np.eye(dof)
        gamma = np.einsum("gi,gi->g", r_p, np.linalg.solve(S, r_p[:, :, None])[:, :, 0])
        threshold = cfg.chi2_multiplier * float(scipy.stats.chi2.ppf(cfg.chi2_quantile, dof))
        passed = gamma <= threshold
        gated.extend(int(i) for i in ids[members[~passed]])
        used.extend(int(i) for i in ids[members[passed]])
        keep_H.append(Hx_p[passed].reshape(-1, n_c))
        keep_r.append(r_p[passed].reshape(-1))

    n_rows = int(sum(h.shape[0] for h in keep_H))
    if n_rows == 0:
        stats = UpdateStats(
            len(tracks),
            too_few,
            skipped,
            len(failed),
            len(gated),
            gated_ids=tuple(gated),
            failed_ids=tuple(failed),
        )
        return state, stats

    # 5. Stack, compress when taller than the clone error, one EKF update.
    H_c = np.concatenate(keep_H)
    r = np.concatenate(keep_r)
    if H_c.shape[0] > n_c:
        # QR of [H r] keeps R and Q1ᵀ r without forming Q (as OpenVINS' Givens on both).
        R_aug: FloatArray = np.asarray(np.linalg.qr(np.column_stack([H_c, r]), mode="r"))
        H_c, r = R_aug[:n_c, :n_c], R_aug[:n_c, n_c]
    H_full = np.zeros((H_c.shape[0], state.size))
    H_full[:, state.clone_start :] = H_c
    posterior = ekf_update(state, H_full, r, 1.0)
    stats = UpdateStats(
        len(tracks),
        too_few,
        skipped,
        len(failed),
        len(gated),
        len(used),
        n_rows,
        int(H_c.shape[0]),
        tuple(used),
        tuple(gated),
        tuple(failed),
    )
    _LOG.debug(
        "msckf_update: %d tracks used, %d gated, %d failed, %d rows -> %d",
        stats.used,
        stats.gated,
        stats.failed_triangulation,
        stats.rows,
        stats.rows_update,
    )
    return posterior, stats
