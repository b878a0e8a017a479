"""Consistency of published covariances: NEES per frame, Monte-Carlo bands, ±3σ plots.

An estimator is consistent when its errors are as large as its covariance says. The
normalised estimation error squared ``e^T P^-1 e`` of a consistent estimator is
chi-square distributed with ``dof`` degrees of freedom, its mean is ``dof`` (3 for
position, 3 for orientation), and the average over N Monte-Carlo runs lies in the
two-sided band ``[chi2.ppf(a/2, N dof) / N, chi2.ppf(1 - a/2, N dof) / N]`` (Bar-Shalom,
Li, Kirubarajan, *Estimation with Applications to Tracking and Navigation*, 5.4.2).

The evaluation follows OpenVINS' ``ov_eval`` (``ResultTrajectory::calculate_nees`` and
``calculate_error``): associate by stamp, align the estimate to the ground truth (4-DoF
yaw + translation by default, SE(3) optional), then per frame

- position error ``e_p = p_gt - p'`` with ``p' = s R_a p + t_a`` the aligned estimate;
- orientation error ``dtheta = Log(R_gt R'^T)``, about the world axes;
- covariance: the ROS ``nav_msgs/Odometry`` convention as :class:`percept.domain.Odometry`
  documents it, ``pose_covariance`` (6, 6) in the order (x, y, z, rot_x, rot_y, rot_z),
  in the parent (odom) frame, the rotation part about the parent's axes (the world-frame,
  left perturbation ``R = Exp(dtheta) R_hat``); it is rotated into the aligned frame
  with the errors (``P' = R_a P R_a^T``, the position block times ``s^2``).

An estimator whose covariance is the right (body-frame) perturbation ``R = R_hat
Exp(dtheta_b)`` publishes ``R_hat P_b R_hat^T``. The ±3σ plots show each position axis
and roll, pitch, yaw (ZYX Euler angles, their covariance mapped from the world-frame
rotation block as ``ov_eval`` does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from percept.eval.pictures import line_plot
from percept.eval.trajectory.align import ALIGNMENTS, Alignment, Sim3, align_trajectory
from percept.eval.trajectory.poses import FloatArray, Trajectory
from percept.eval.trajectory.sync import associate
from percept.geometry import so3
from percept.units import NS_PER_S

__all__ = [
    "ConsistencyConfig",
    "ConsistencyResult",
    "MonteCarloNees",
    "chi2_band",
    "evaluate_consistency",
    "monte_carlo_nees",
    "nees",
    "rpy_covariance",
    "write_nees_plot",
    "write_sigma_plots",
]

#: Degrees of freedom of the position and of the orientation NEES.
DOF = 3
_AXES_POS = ("x", "y", "z")
_AXES_RPY = ("roll", "pitch", "yaw")


@dataclass(frozen=True, slots=True)
class ConsistencyConfig:
    """How to associate and align before computing NEES.

    Attributes:
        align: ``4dof`` (yaw + translation, OpenVINS' default for VIO), ``se3``,
            ``sim3``, ``origin`` or ``none``.
        n_to_align: poses used for alignment, counted from the start (-1: all).
        max_diff_ns: largest stamp difference of an associated pair, nanoseconds.
        offset_ns: added to the estimate's stamps before association, nanoseconds.
        confidence: probability mass of the two-sided chi-square band (0.95: 95 %).
    """

    align: Alignment = "4dof"
    n_to_align: int = -1
    max_diff_ns: int = 10_000_000
    offset_ns: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.align not in ALIGNMENTS:
            msg = f"align must be one of {ALIGNMENTS}, got {self.align!r}"
            raise ValueError(msg)
        if self.n_to_align == 0 or self.n_to_align < -1:
            msg = f"n_to_align must be -1 or >= 1, got {self.n_to_align}"
            raise ValueError(msg)
        if self.max_diff_ns < 0:
            msg = f"max_diff_ns must be >= 0, got {self.max_diff_ns}"
            raise ValueError(msg)
        if not 0.0 < self.confidence < 1.0:
            msg = f"confidence must be in (0, 1), got {self.confidence}"
            raise ValueError(msg)


def chi2_band(dof: int, samples: int = 1, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided band of the average of ``samples`` independent chi-square(``dof``) values.

    Args:
        dof: degrees of freedom of one NEES value (3 for position).
        samples: how many values are averaged (N runs, or N runs x T frames).
        confidence: probability mass inside the band.

    Returns:
        ``(chi2.ppf(a/2, samples dof) / samples, chi2.ppf(1 - a/2, samples dof) / samples)``
        with ``a = 1 - confidence``.

    >>> [round(v, 3) for v in chi2_band(3)]
    [0.216, 9.348]
    >>> [round(v, 3) for v in chi2_band(3, 10)]
    [1.679, 4.698]
    """
    if dof < 1 or samples < 1:
        msg = f"dof and samples must be >= 1, got {dof} and {samples}"
        raise ValueError(msg)
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must be in (0, 1), got {confidence}"
        raise ValueError(msg)
    alpha = 1.0 - confidence
    k = samples * dof
    lo, hi = chi2.ppf([alpha / 2, 1.0 - alpha / 2], k)
    return float(lo) / samples, float(hi) / samples


def nees(errors: npt.ArrayLike, covariances: npt.ArrayLike) -> FloatArray:
    """``e^T P^-1 e`` per row; NaN where ``P`` is not positive definite or not finite.

    Args:
        errors: (N, d) float64 errors.
        covariances: (N, d, d) float64 covariances (symmetrised here).

    Returns:
        (N,) float64 NEES.

    >>> float(nees([[1.0, 2.0]], [np.diag([1.0, 4.0])])[0])
    2.0
    """
    e = np.asarray(errors, dtype=np.float64)
    P = np.asarray(covariances, dtype=np.float64)
    if e.ndim != 2 or P.shape != (e.shape[0], e.shape[1], e.shape[1]):
        msg = f"errors (N, d) and covariances (N, d, d) expected, got {e.shape} and {P.shape}"
        raise ValueError(msg)
    out = np.full(e.shape[0], np.nan)
    ok = np.isfinite(e).all(axis=1) & np.isfinite(P).all(axis=(1, 2))
    if not ok.any():
        return out
    S = 0.5 * (P[ok] + np.swapaxes(P[ok], 1, 2))
    eig = np.linalg.eigvalsh(S)
    pd = eig[:, 0] > 1e-12 * np.maximum(eig[:, -1], np.finfo(np.float64).tiny)
    idx = np.flatnonzero(ok)[pd]
    if idx.size:
        x = np.linalg.solve(S[pd], e[idx][:, :, None])[:, :, 0]
        out[idx] = np.einsum("ni,ni->n", e[idx], x)
    return out


def rpy_covariance(rotations: npt.ArrayLike, covariances: npt.ArrayLike) -> FloatArray:
    """Covariance of roll, pitch, yaw from that of a world-frame rotation error.

    With ``R = Rz(yaw) Ry(pitch) Rx(roll)``, a small world-frame rotation ``dtheta``
    (``R -> Exp(dtheta) R``) changes the angles by ``E^-1 dtheta`` with
    ``E = [Rz Ry e_x, Rz e_y, e_z]``, so ``P_rpy = E^-1 P E^-T`` (as ``ov_eval``'s
    ``H_xyz2rpy``). Singular at pitch ±90°.

    Args:
        rotations: (N, 3, 3) float64 ``R_world_body``.
        covariances: (N, 3, 3) float64 world-frame rotation covariance, rad^2.

    Returns:
        (N, 3, 3) float64 covariance of (roll, pitch, yaw), rad^2.
    """
    R = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    P = np.asarray(covariances, dtype=np.float64).reshape(-1, 3, 3)
    yaw, pitch, _ = Rotation.from_matrix(R).as_euler("ZYX").T
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    E = np.zeros((R.shape[0], 3, 3))
    E[:, :, 0] = np.stack([cy * cp, sy * cp, -sp], axis=1)
    E[:, :, 1] = np.stack([-sy, cy, np.zeros_like(cy)], axis=1)
    E[:, 2, 2] = 1.0
    E_inv = np.linalg.inv(E)
    out: FloatArray = E_inv @ P @ np.swapaxes(E_inv, 1, 2)
    return out


def _rpy(R: FloatArray) -> FloatArray:
    """(N, 3) roll, pitch, yaw of ``R = Rz(yaw) Ry(pitch) Rx(roll)``, radians."""
    ypr: FloatArray = Rotation.from_matrix(R).as_euler("ZYX")
    rpy: FloatArray = np.ascontiguousarray(ypr[:, ::-1])
    return rpy


def _sigmas(P: FloatArray) -> FloatArray:
    """(N, 3) standard deviations from (N, 3, 3) covariances (NaN where negative)."""
    var = np.diagonal(P, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        out: FloatArray = np.sqrt(np.where(var >= 0.0, var, np.nan))
    return out


@dataclass(frozen=True, slots=True, eq=False)
class ConsistencyResult:
    """NEES of one run against ground truth, with the errors and ±σ behind it.

    Arrays run over the T associated frames, in the aligned (ground-truth) frame.

    Attributes:
        stamps_ns: (T,) int64 ground-truth stamps of the frames (as the ATE frames),
            or None for unstamped trajectories.
        nees_pos: (T,) position NEES, NaN where the covariance is unusable.
        nees_rot: (T,) orientation NEES, NaN likewise.
        errors_pos_m: (T, 3) ``p_gt - p'``, metres.
        errors_rot_rad: (T, 3) ``Log(R_gt R'^T)``, radians, world axes.
        sigmas_pos_m: (T, 3) standard deviations of x, y, z, metres.
        errors_rpy_rad: (T, 3) roll, pitch, yaw of truth minus estimate, wrapped, rad.
        sigmas_rpy_rad: (T, 3) their standard deviations, radians.
        alignment: the transform applied to the estimate.
        config: the settings used.
    """

    stamps_ns: npt.NDArray[np.int64] | None
    nees_pos: FloatArray
    nees_rot: FloatArray
    errors_pos_m: FloatArray
    errors_rot_rad: FloatArray
    sigmas_pos_m: FloatArray
    errors_rpy_rad: FloatArray
    sigmas_rpy_rad: FloatArray
    alignment: Sim3 = field(default_factory=Sim3)
    config: ConsistencyConfig = field(default_factory=ConsistencyConfig)

    def __len__(self) -> int:
        return int(self.nees_pos.shape[0])

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        """(T,) frames whose position and orientation NEES are both finite."""
        ok: npt.NDArray[np.bool_] = np.isfinite(self.nees_pos) & np.isfinite(self.nees_rot)
        return ok

    @property
    def mean_nees_pos(self) -> float:
        """Average position NEES over the valid frames (NaN if none)."""
        v = self.nees_pos[self.valid]
        return float(v.mean()) if v.size else math.nan

    @property
    def mean_nees_rot(self) -> float:
        """Average orientation NEES over the valid frames (NaN if none)."""
        v = self.nees_rot[self.valid]
        return float(v.mean()) if v.size else math.nan

    def frame_band(self) -> tuple[float, float]:
        """The band one frame's NEES (3 dof) falls in with ``confidence``."""
        return chi2_band(DOF, 1, self.config.confidence)

    def mean_band(self) -> tuple[float, float]:
        """The band of the average over the T valid frames if they were independent.

        A filter's errors are correlated in time, so this band is much too narrow for
        one run; it is reported for reference only.
        """
        return chi2_band(DOF, max(1, int(self.valid.sum())), self.config.confidence)

    def fraction_inside(self, which: Literal["pos", "rot"]) -> float:
        """Share of valid frames whose NEES lies in :meth:`frame_band` (ideal: confidence)."""
        values = (self.nees_pos if which == "pos" else self.nees_rot)[self.valid]
        if values.size == 0:
            return math.nan
        lo, hi = self.frame_band()
        return float(np.mean((values >= lo) & (values <= hi)))

    def as_dict(self) -> dict[str, object]:
        """Summary for metrics.json (no per-frame arrays)."""
        valid = self.valid
        lo, hi = self.frame_band()
        mlo, mhi = self.mean_band()

        def part(values: FloatArray, which: Literal["pos", "rot"]) -> dict[str, object]:
            v = values[valid]
            mean = float(v.mean()) if v.size else math.nan
            return {
                "nees_mean": mean,
                "nees_median": float(np.median(v)) if v.size else math.nan,
                "frames_inside_band": self.fraction_inside(which),
                "mean_inside_frame_band": bool(lo <= mean <= hi),
            }

        pos = part(self.nees_pos, "pos")
        pos["error_rmse_m"] = _rmse(self.errors_pos_m[valid])
        pos["sigma_mean_m"] = _mean(self.sigmas_pos_m[valid])
        rot = part(self.nees_rot, "rot")
        rot["error_rmse_deg"] = math.degrees(_rmse(self.errors_rot_rad[valid]))
        rot["sigma_rpy_mean_deg"] = math.degrees(_mean(self.sigmas_rpy_rad[valid]))
        return {
            "dof": DOF,
            "confidence": self.config.confidence,
            "frames": len(self),
            "valid_frames": int(valid.sum()),
            "frame_band": [lo, hi],
            "mean_band_independent": [mlo, mhi],
            "position": pos,
            "orientation": rot,
            "alignment": {
                "method": self.config.align,
                "scale": self.alignment.scale,
                "rotation": self.alignment.rotation.tolist(),
                "translation_m": self.alignment.translation_m.tolist(),
            },
        }


def _rmse(errors: FloatArray) -> float:
    """RMS of the vector norms of (N, 3) errors (NaN for none)."""
    if errors.size == 0:
        return math.nan
    return math.sqrt(float(np.mean(np.sum(errors**2, axis=1))))


def _mean(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _covariance_rows(estimate: Trajectory, matched: Trajectory) -> npt.NDArray[np.int64]:
    """Indices into ``estimate`` of the poses ``associate`` kept in ``matched``."""
    if estimate.stamps_ns is None or matched.stamps_ns is None:
        return np.arange(len(estimate), dtype=np.int64)
    idx = np.searchsorted(estimate.stamps_ns, matched.stamps_ns).astype(np.int64)
    return idx


def evaluate_consistency(
    estimate: Trajectory,
    covariances: npt.ArrayLike,
    reference: Trajectory,
    config: ConsistencyConfig | None = None,
) -> ConsistencyResult:
    """Associate, align and compute the NEES of position and orientation per frame.

    Args:
        estimate: the estimated poses ``T_world_body``, stamps strictly increasing.
        covariances: (N, 6, 6) float64 pose covariance per estimated pose, the
            nav_msgs/Odometry convention: order (x, y, z, rot_x, rot_y, rot_z), parent
            (world) frame, rotation as the left perturbation ``R = Exp(dtheta) R_hat``.
        reference: ground truth.
        config: association and alignment (default: 10 ms, 4-DoF, 95 %).

    Returns:
        per-frame NEES, errors and standard deviations in the aligned frame.

    Raises:
        ValueError: shapes disagree or the estimate's stamps do not increase.
        EvalError: no association or degenerate alignment.
    """
    cfg = config or ConsistencyConfig()
    P = np.asarray(covariances, dtype=np.float64)
    if P.shape != (len(estimate), 6, 6):
        msg = f"covariances must be ({len(estimate)}, 6, 6), got {P.shape}"
        raise ValueError(msg)
    if estimate.stamps_ns is not None and np.any(np.diff(estimate.stamps_ns) <= 0):
        msg = f"{estimate.name or 'estimate'}: stamps must increase strictly for NEES"
        raise ValueError(msg)
    ref, est = associate(reference, estimate, max_diff_ns=cfg.max_diff_ns, offset_ns=cfg.offset_ns)
    P = P[_covariance_rows(estimate, est)]
    aligned, tf = align_trajectory(est, ref, cfg.align, n_to_align=cfg.n_to_align)
    Ra = tf.rotation
    P_pos = (tf.scale**2) * np.einsum("ij,njk,lk->nil", Ra, P[:, :3, :3], Ra)
    P_rot = np.einsum("ij,njk,lk->nil", Ra, P[:, 3:, 3:], Ra)
    e_pos = ref.positions_m - aligned.positions_m
    e_rot = so3.log(ref.rotations @ np.swapaxes(aligned.rotations, 1, 2))
    e_rpy = _rpy(ref.rotations) - _rpy(aligned.rotations)
    e_rpy = (e_rpy + np.pi) % (2.0 * np.pi) - np.pi
    return ConsistencyResult(
        stamps_ns=ref.stamps_ns,
        nees_pos=nees(e_pos, P_pos),
        nees_rot=nees(e_rot, P_rot),
        errors_pos_m=e_pos,
        errors_rot_rad=e_rot,
        sigmas_pos_m=_sigmas(P_pos),
        errors_rpy_rad=e_rpy,
        sigmas_rpy_rad=_sigmas(rpy_covariance(aligned.rotations, P_rot)),
        alignment=tf,
        config=cfg,
    )


# --------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True, slots=True, eq=False)
class MonteCarloNees:
    """NEES of N runs on common frames: averages, chi-square bands, verdicts.

    Two bands are given. The per-frame band (N dof-3 values averaged) is the one each
    frame's run average should lie in with ``confidence``; :attr:`fraction_inside_pos`
    counts the frames that do. The band of the time-and-run average treats all N T
    values as independent; a filter's errors are correlated in time, so it is far
    narrower than the spread of that average really is: judge by the per-frame band.

    Attributes:
        stamps_ns: (T,) int64 common stamps, or None when associated by frame index.
        nees_pos: (N, T) position NEES of each run at each common frame.
        nees_rot: (N, T) orientation NEES likewise.
        confidence: probability mass of the bands.
    """

    stamps_ns: npt.NDArray[np.int64] | None
    nees_pos: FloatArray
    nees_rot: FloatArray
    confidence: float = 0.95

    @property
    def runs(self) -> int:
        """N, the number of runs."""
        return int(self.nees_pos.shape[0])

    @property
    def frames(self) -> int:
        """T, the number of common frames."""
        return int(self.nees_pos.shape[1])

    @property
    def mean_pos(self) -> FloatArray:
        """(T,) position NEES averaged over the runs."""
        out: FloatArray = self.nees_pos.mean(axis=0)
        return out

    @property
    def mean_rot(self) -> FloatArray:
        """(T,) orientation NEES averaged over the runs."""
        out: FloatArray = self.nees_rot.mean(axis=0)
        return out

    @property
    def average_pos(self) -> float:
        """Position NEES averaged over runs and frames."""
        return float(self.nees_pos.mean())

    @property
    def average_rot(self) -> float:
        """Orientation NEES averaged over runs and frames."""
        return float(self.nees_rot.mean())

    def frame_band(self) -> tuple[float, float]:
        """Band of one frame's average over the N runs (N x 3 dof)."""
        return chi2_band(DOF, self.runs, self.confidence)

    def total_band(self) -> tuple[float, float]:
        """Band of the average over runs and frames, as if independent (N T 3 dof)."""
        return chi2_band(DOF, self.runs * self.frames, self.confidence)

    def _fraction(self, mean: FloatArray) -> float:
        lo, hi = self.frame_band()
        return float(np.mean((mean >= lo) & (mean <= hi)))

    @property
    def fraction_inside_pos(self) -> float:
        """Share of frames whose run-averaged position NEES is in :meth:`frame_band`."""
        return self._fraction(self.mean_pos)

    @property
    def fraction_inside_rot(self) -> float:
        """Share of frames whose run-averaged orientation NEES is in :meth:`frame_band`."""
        return self._fraction(self.mean_rot)

    def _part(self, mean: FloatArray, average: float) -> dict[str, object]:
        flo, fhi = self.frame_band()
        tlo, thi = self.total_band()
        return {
            "average": average,
            "frames_inside_frame_band": self._fraction(mean),
            "inside_frame_band": bool(flo <= average <= fhi),
            "inside_total_band": bool(tlo <= average <= thi),
        }

    def as_dict(self) -> dict[str, object]:
        """Summary for a report: averages, both bands, verdicts (no per-frame arrays)."""
        return {
            "runs": self.runs,
            "frames": self.frames,
            "dof": DOF,
            "confidence": self.confidence,
            "frame_band": list(self.frame_band()),
            "total_band": list(self.total_band()),
            "position": self._part(self.mean_pos, self.average_pos),
            "orientation": self._part(self.mean_rot, self.average_rot),
        }

    def write_plot(self, path: Path) -> Path:
        """PNG of the run-averaged NEES over time with the per-frame band."""
        t, xlabel = _time_axis(self.stamps_ns, self.frames)
        return _nees_plot(
            path,
            t,
            self.mean_pos,
            self.mean_rot,
            self.frame_band(),
            title=f"NEES averaged over {self.runs} runs",
            band_label=f"{self.confidence:.0%} band of {self.runs} runs",
            xlabel=xlabel,
        )


def monte_carlo_nees(
    runs: Sequence[ConsistencyResult],
    *,
    by: Literal["stamp", "index"] = "stamp",
    confidence: float | None = None,
) -> MonteCarloNees:
    """Average the NEES of N runs of the same sequence frame by frame.

    Args:
        runs: one :class:`ConsistencyResult` per run (e.g. per noise seed).
        by: ``stamp``: frames whose ground-truth stamp every run has (exact);
            ``index``: the first T frames of each run, T the shortest run.
        confidence: of the bands; default the first run's.

    Returns:
        the per-run NEES on the common frames where every run's NEES is finite.

    Raises:
        ValueError: no runs, unstamped runs with ``by="stamp"``, or no common frame.
    """
    if not runs:
        msg = "monte_carlo_nees needs at least one run"
        raise ValueError(msg)
    conf = runs[0].config.confidence if confidence is None else confidence
    stamps: npt.NDArray[np.int64] | None
    if by == "stamp":
        stamp_lists = [r.stamps_ns for r in runs]
        if any(s is None for s in stamp_lists):
            msg = "runs without stamps can only be averaged by='index'"
            raise ValueError(msg)
        common = stamp_lists[0]
        assert common is not None
        for s in stamp_lists[1:]:
            assert s is not None
            common = np.intersect1d(common, s)
        cols = []
        for r in runs:
            assert r.stamps_ns is not None
            uniq, first = np.unique(r.stamps_ns, return_index=True)
            cols.append(first[np.searchsorted(uniq, common)])
        pos = np.stack([r.nees_pos[c] for r, c in zip(runs, cols, strict=True)])
        rot = np.stack([r.nees_rot[c] for r, c in zip(runs, cols, strict=True)])
        stamps = common.astype(np.int64)
    elif by == "index":
        n = min(len(r) for r in runs)
        pos = np.stack([r.nees_pos[:n] for r in runs])
        rot = np.stack([r.nees_rot[:n] for r in runs])
        first_stamps = runs[0].stamps_ns
        stamps = None if first_stamps is None else first_stamps[:n]
    else:
        msg = f"by must be 'stamp' or 'index', got {by!r}"
        raise ValueError(msg)
    keep = np.isfinite(pos).all(axis=0) & np.isfinite(rot).all(axis=0)
    if not keep.any():
        msg = f"no frame common to all {len(runs)} runs with a finite NEES"
        raise ValueError(msg)
    return MonteCarloNees(
        None if stamps is None else stamps[keep], pos[:, keep], rot[:, keep], conf
    )


# --------------------------------------------------------------------------- plots


def _time_axis(stamps_ns: npt.NDArray[np.int64] | None, n: int) -> tuple[FloatArray, str]:
    if stamps_ns is None or n == 0:
        return np.arange(n, dtype=np.float64), "frame"
    return (stamps_ns - stamps_ns[0]).astype(np.float64) / NS_PER_S, "time [s]"


def _nees_plot(
    path: Path,
    t: FloatArray,
    pos: FloatArray,
    rot: FloatArray,
    band: tuple[float, float],
    *,
    title: str,
    band_label: str,
    xlabel: str,
) -> Path:
    """NEES of position and orientation over time with the band shaded."""
    label = f"{band_label} [{band[0]:.3g}, {band[1]:.3g}]"
    figure_cls = _matplotlib_figure()
    if figure_cls is None:
        lo, hi = np.full_like(t, band[0]), np.full_like(t, band[1])
        return line_plot(
            path,
            [
                (t, pos, "NEES position"),
                (t, rot, "NEES orientation"),
                (t, hi, label),
                (t, lo, ""),
            ],
            title=title,
            xlabel=xlabel,
            ylabel="NEES",
        )
    fig = figure_cls(figsize=(6.4, 4.2), dpi=100)  # type: ignore[operator]
    ax = fig.add_subplot()
    ax.axhspan(band[0], band[1], color="#2ca02c", alpha=0.12, lw=0)
    for y in band:
        ax.axhline(y, color="#2ca02c", lw=0.8, ls="--", label=label)
        label = ""
    ax.axhline(DOF, color="#777777", lw=0.8, ls=":", label=f"dof = {DOF}")
    ax.plot(t, pos, color="#222222", lw=1.0, label="position")
    ax.plot(t, rot, color="#1f77b4", lw=1.0, label="orientation")
    finite = np.concatenate([pos[np.isfinite(pos)], rot[np.isfinite(rot)]])
    top = float(np.percentile(finite, 99)) if finite.size else band[1]
    ax.set_ylim(0.0, max(1.5 * band[1], 1.1 * top))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("NEES")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))
    return path


def write_nees_plot(result: ConsistencyResult, path: Path) -> Path:
    """PNG of one run's position and orientation NEES over time with the frame band."""
    t, xlabel = _time_axis(result.stamps_ns, len(result))
    return _nees_plot(
        path,
        t,
        result.nees_pos,
        result.nees_rot,
        result.frame_band(),
        title=f"NEES per frame ({result.config.align} alignment)",
        band_label=f"{result.config.confidence:.0%} band of one frame",
        xlabel=xlabel,
    )


def _matplotlib_figure() -> object | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def _sigma_panels(
    path: Path,
    t: FloatArray,
    errors: FloatArray,
    sigmas: FloatArray,
    names: tuple[str, ...],
    *,
    title: str,
    xlabel: str,
    unit: str,
) -> Path:
    """Three stacked panels: error per axis with its ±3σ envelope."""
    figure_cls = _matplotlib_figure()
    if figure_cls is not None:
        fig = figure_cls(figsize=(6.4, 7.2), dpi=100)  # type: ignore[operator]
        axes = fig.subplots(3, 1, sharex=True)
        for k, ax in enumerate(axes):
            ax.fill_between(
                t, -3 * sigmas[:, k], 3 * sigmas[:, k], color="#1f77b4", alpha=0.2, lw=0
            )
            ax.plot(t, 3 * sigmas[:, k], color="#1f77b4", lw=0.8, label="±3σ")
            ax.plot(t, -3 * sigmas[:, k], color="#1f77b4", lw=0.8)
            ax.plot(t, errors[:, k], color="#222222", lw=1.0, label="error")
            ax.set_ylabel(f"{names[k]} [{unit}]")
            ax.grid(alpha=0.3)
        axes[0].set_title(title)
        axes[0].legend(loc="upper right", fontsize=8)
        axes[-1].set_xlabel(xlabel)
        fig.tight_layout()
        fig.savefig(str(path))
        return path
    panels = []
    for k in range(3):
        part = path.with_name(f"{path.stem}_{k}{path.suffix}")
        line_plot(
            part,
            [
                (t, errors[:, k], "error"),
                (t, 3 * sigmas[:, k], "+3 sigma"),
                (t, -3 * sigmas[:, k], "-3 sigma"),
            ],
            title=f"{title}: {names[k]}",
            xlabel=xlabel,
            ylabel=unit,
        )
        image = cv2.imread(str(part))
        part.unlink()
        if image is None:
            msg = f"could not read back {part}"
            raise OSError(msg)
        panels.append(image)
    cv2.imwrite(str(path), np.vstack(panels))
    return path


def write_sigma_plots(
    result: ConsistencyResult, out_dir: Path, prefix: str = "consistency"
) -> tuple[Path, Path]:
    """The ±3σ plots of one run, as ``ov_eval``'s ``error_simulation`` draws them.

    Args:
        result: the run's consistency.
        out_dir: folder for the PNGs.
        prefix: file name prefix.

    Returns:
        (``<prefix>_position.png``: x, y, z errors in metres;
        ``<prefix>_orientation.png``: roll, pitch, yaw errors in degrees).
    """
    t, xlabel = _time_axis(result.stamps_ns, len(result))
    pos = _sigma_panels(
        out_dir / f"{prefix}_position.png",
        t,
        result.errors_pos_m,
        result.sigmas_pos_m,
        _AXES_POS,
        title=f"position error and ±3σ ({result.config.align})",
        xlabel=xlabel,
        unit="m",
    )
    rot = _sigma_panels(
        out_dir / f"{prefix}_orientation.png",
        t,
        np.degrees(result.errors_rpy_rad),
        np.degrees(result.sigmas_rpy_rad),
        _AXES_RPY,
        title=f"orientation error and ±3σ ({result.config.align})",
        xlabel=xlabel,
        unit="deg",
    )
    return pos, rot
