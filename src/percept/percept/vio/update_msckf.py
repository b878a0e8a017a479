"""The MSCKF feature update (OpenVINS' ``UpdaterMSCKF``).

A track that is lost (or whose oldest observation leaves the clone window) constrains
the clones it was seen from. For each such track, as OpenVINS does:

1. **Triangulate** the point in the world from the clone poses
   (``T_world_cam = T_world_imu_clone @ T_imu_cam``, and the right camera
   ``T_world_cam @ T_left_right`` for stereo observations) with
   :func:`percept.features.triangulate_points` (linear + Levenberg-Marquardt), every
   track of the update at once (the same result as one
   :func:`~percept.features.triangulate_point` per track, bit for bit).
2. **Linearise** the reprojection of the point into every observation: residual
   ``r = z - h(x̂, p̂_f)`` in normalised image coordinates, Jacobians ``H_x`` w.r.t. the
   clone poses (right perturbation, :mod:`percept.vio.state`) and ``H_f`` w.r.t. the
   point. The rows are whitened by ``f / σ_px`` (x rows by ``fx``, y rows by ``fy``), so
   the noise is ``I``: pixel-scaled normalised residuals.
3. **Null-space projection** (docs/update-null.dox): ``r ≈ H_x δx + H_f δp_f + n``;
   with ``Q = [Q1 Q2]`` the complete QR of ``H_f`` (2m, 3), ``Q2ᵀ H_f = 0`` and
   ``Q2ᵀ r ≈ Q2ᵀ H_x δx + Q2ᵀ n``, ``2m - 3`` rows whose noise is still ``I`` (``Q2`` is
   orthonormal). OpenVINS does this with Givens rotations in place; here three
   Householder reflections in place, over every track at once (the shorter ones
   padded with zero rows, which the reflections leave zero).
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

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.stats

from percept.features.database import TrackObservations
from percept.features.triangulate import triangulate_points
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


@dataclass(frozen=True, slots=True, eq=False)
class _Rows:
    """The observations at clone stamps of T tracks, track after track.

    Each track's rows are its left observations (oldest first), then its right ones.

    Attributes:
        clone: (M,) clone index of each row.
        right: (M,) the row is a right-image observation.
        xy: (M, 2) normalised image coordinates.
        counts: (T,) rows per track.
        n_left: (T,) left rows per track.
    """

    clone: _Index
    right: _Mask
    xy: FloatArray
    counts: npt.NDArray[np.int64]
    n_left: npt.NDArray[np.int64]

    def take(self, tracks: _Index) -> _Rows:
        """The rows of ``tracks`` (indices, in that order)."""
        starts = np.cumsum(self.counts) - self.counts
        counts = self.counts[tracks]
        offsets = np.cumsum(counts) - counts
        rows = np.repeat(starts[tracks] - offsets, counts) + np.arange(int(counts.sum()))
        return _Rows(self.clone[rows], self.right[rows], self.xy[rows], counts, self.n_left[tracks])


def _all_track_rows(
    state: State, tracks: Sequence[TrackObservations], camera: StereoGeometry, use_stereo: bool
) -> _Rows:
    """The observations of every track at clone stamps (one searchsorted, one sort).

    Observations at stamps that are not clones are dropped; right observations are the
    finite ones (with ``use_stereo``).
    """
    n = len(tracks)
    lengths = np.fromiter((len(t) for t in tracks), dtype=np.int64, count=n)
    if n == 0 or lengths.sum() == 0:
        zeros = np.zeros(n, dtype=np.int64)
        return _Rows(np.empty(0, np.intp), np.empty(0, bool), np.empty((0, 2)), zeros, zeros)
    owner = np.repeat(np.arange(n), lengths)
    obs_stamps = np.concatenate([t.stamps_ns for t in tracks]).astype(np.int64)
    uv_l = np.concatenate([t.uv_left for t in tracks]).astype(np.float64)
    stamps = np.asarray(state.clone_stamps_ns, dtype=np.int64)
    pos = np.searchsorted(stamps, obs_stamps)
    pos_c = np.minimum(pos, max(stamps.shape[0] - 1, 0))
    at_clone = (pos < stamps.shape[0]) & (stamps[pos_c] == obs_stamps) if stamps.size else pos < 0
    clone_l, owner_l = pos_c[at_clone].astype(np.intp), owner[at_clone]
    uv_l = uv_l[at_clone]
    xy_l = np.column_stack(
        [(uv_l[:, 0] - camera.cx) / camera.fx, (uv_l[:, 1] - camera.cy) / camera.fy]
    )
    n_left = np.bincount(owner_l, minlength=n).astype(np.int64)
    if not use_stereo:
        return _Rows(clone_l, np.zeros(clone_l.shape[0], bool), xy_l, n_left, n_left)
    uv_r = np.concatenate([t.uv_right for t in tracks]).astype(np.float64)[at_clone]
    has_r = np.all(np.isfinite(uv_r), axis=1)
    cx_r = camera.cx - camera.cx_offset_px
    xy_r = np.column_stack(
        [(uv_r[has_r, 0] - cx_r) / camera.fx, (uv_r[has_r, 1] - camera.cy) / camera.fy]
    )
    owner_all = np.concatenate([owner_l, owner_l[has_r]])
    right = np.concatenate([np.zeros(clone_l.shape[0], bool), np.ones(xy_r.shape[0], bool)])
    order = np.argsort(2 * owner_all + right, kind="stable")  # per track: left, then right
    return _Rows(
        np.concatenate([clone_l, clone_l[has_r]])[order],
        right[order],
        np.concatenate([xy_l, xy_r])[order],
        np.bincount(owner_all, minlength=n).astype(np.int64),
        n_left,
    )


@functools.lru_cache(maxsize=16)
def _chi2_quantiles(quantile: float, max_dof: int) -> FloatArray:
    """(max_dof + 1,) ``chi2.ppf(quantile, dof)`` for dof 0 .. max_dof (NaN at 0), cached."""
    table: FloatArray = np.asarray(
        scipy.stats.chi2.ppf(quantile, np.arange(max_dof + 1)), dtype=np.float64
    )
    table.flags.writeable = False
    return table


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
    rows = _all_track_rows(state, [track], camera, use_stereo)
    idx, right, xy = rows.clone, rows.right, rows.xy
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
    all_rows = _all_track_rows(state, tracks, camera, cfg.use_stereo)
    enough = np.flatnonzero(all_rows.n_left >= cfg.min_observations)
    too_few = len(tracks) - enough.size
    chosen = enough[np.argsort(-all_rows.n_left[enough], kind="stable")]
    skipped = max(chosen.size - cfg.max_features, 0)
    chosen = chosen[: cfg.max_features]
    sel = all_rows.take(chosen)

    # 2. Triangulate every track at once (OpenVINS solves one small system per track).
    T_wc_all = _camera_poses(state, T_ic, B)
    tri = triangulate_points(
        T_wc_all[sel.right.astype(np.intp), sel.clone],
        sel.xy,
        sel.counts,
        None,
        cfg.triangulation,
    )
    track_ids = np.fromiter((t.track_id for t in tracks), dtype=np.int64, count=len(tracks))
    failed = [int(i) for i in track_ids[chosen[~tri.success]]]
    ok = np.flatnonzero(tri.success)
    if ok.size == 0:
        stats = UpdateStats(len(tracks), too_few, skipped, len(failed), failed_ids=tuple(failed))
        return state, stats
    good = sel.take(ok)

    # 3. Linearise every observation at once, whitened to unit noise.
    n_obs = good.counts
    idx_all, right_all, xy_all = good.clone, good.right, good.xy
    p_f_all = np.repeat(tri.points_world[ok], n_obs, axis=0)
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

    # 4. Null-space projection and chi-square gate, every track at once, in the order of
    # their row counts. Tracks are padded with zero rows to the longest: zero rows stay
    # zero through the Householder reflections and only add an identity block to S.
    P_cc = state.covariance[state.clone_start :, state.clone_start :]
    m2 = 2 * n_obs
    order = np.argsort(m2, kind="stable")
    ids = track_ids[chosen[ok]][order]
    m2 = m2[order]
    slot = np.arange(int(m2.max()))
    zero_row = 2 * M  # an appended zero row stands in for the padding
    rows = np.where(slot < m2[:, None], starts[order][:, None] + slot, zero_row)
    Hx_p, r_p, rank_ratio = nullspace_project(
        np.vstack([Hf_rows, np.zeros((1, 3))])[rows],
        np.vstack([Hc_rows, np.zeros((1, n_c))])[rows],
        np.append(r_rows, 0.0)[rows],
    )
    ok_rank = rank_ratio > 1e-9
    dof = m2 - 3
    S = Hx_p @ P_cc @ np.transpose(Hx_p, (0, 2, 1)) + np.eye(Hx_p.shape[1])
    gamma = np.einsum("gi,gi->g", r_p, np.linalg.solve(S, r_p[:, :, None])[:, :, 0])
    threshold = cfg.chi2_multiplier * _chi2_quantiles(cfg.chi2_quantile, int(dof.max()))[dof]
    passed = ok_rank & (gamma <= threshold)
    failed.extend(int(i) for i in ids[~ok_rank])
    gated = [int(i) for i in ids[ok_rank & ~passed]]
    used = [int(i) for i in ids[passed]]
    real = slot[: Hx_p.shape[1]] < dof[:, None]  # (g, m_max - 3) rows that are not padding
    keep_H = [Hx_p[passed][real[passed]]]
    keep_r = [r_p[passed][real[passed]]]

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
