"""ATE and RPE of a trajectory against ground truth, as evo's APE and RPE.

- ATE is evo's APE on the translation part, ``|p_est - p_ref|`` per pose after
  alignment; the rotation part is the angle of ``R_est^T R_ref``.
- RPE is evo's RPE: ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)`` over index pairs chosen on the
  (aligned) estimate by ``delta`` frames or metres of travelled path, consecutive or all
  pairs, translation ``|t(E)|`` and rotation angle of ``R(E)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.errors import EvalError
from percept.eval.trajectory.align import ALIGNMENTS, Alignment, Sim3, align_trajectory
from percept.eval.trajectory.poses import FloatArray, Trajectory
from percept.eval.trajectory.sync import associate
from percept.geometry import se3

__all__ = [
    "DELTA_UNITS",
    "DeltaUnit",
    "ErrorStats",
    "TrajectoryEvalConfig",
    "TrajectoryMetrics",
    "absolute_errors",
    "evaluate_trajectory",
    "relative_errors",
    "rpe_pairs",
]

DeltaUnit = Literal["frames", "m"]
#: Units of the RPE ``delta``: a number of poses, or metres of path on the estimate.
DELTA_UNITS: tuple[str, ...] = ("frames", "m")


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Summary statistics of an error array, as evo reports them.

    ``std`` is the population standard deviation (``np.std``), ``sse`` the sum of
    squares. Units are those of the errors (metres or degrees).
    """

    rmse: float
    mean: float
    median: float
    std: float
    min: float
    max: float
    sse: float
    count: int

    @classmethod
    def of(cls, errors: npt.ArrayLike) -> ErrorStats:
        """Statistics of a non-empty 1-D array.

        Raises:
            ValueError: ``errors`` is empty.
        """
        err = np.asarray(errors, dtype=np.float64).reshape(-1)
        if err.size == 0:
            msg = "cannot summarise an empty error array"
            raise ValueError(msg)
        sq = err**2
        return cls(
            rmse=math.sqrt(float(np.mean(sq))),
            mean=float(np.mean(err)),
            median=float(np.median(err)),
            std=float(np.std(err)),
            min=float(np.min(err)),
            max=float(np.max(err)),
            sse=float(np.sum(sq)),
            count=int(err.size),
        )

    def as_dict(self) -> dict[str, float]:
        """Plain dict for metrics.json."""
        return {
            "rmse": self.rmse,
            "mean": self.mean,
            "median": self.median,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "sse": self.sse,
            "count": self.count,
        }


def _angles_deg(R: FloatArray) -> FloatArray:
    """(N,) rotation angle of each (N, 3, 3) matrix, degrees."""
    if R.shape[0] == 0:
        return np.zeros(0)
    angles: FloatArray = np.degrees(np.linalg.norm(Rotation.from_matrix(R).as_rotvec(), axis=1))
    return angles


def absolute_errors(reference: Trajectory, estimate: Trajectory) -> tuple[FloatArray, FloatArray]:
    """Per-pose absolute errors of an associated, aligned pair (evo APE).

    Returns:
        ((N,) translation error, metres; (N,) rotation error ``angle(R_est^T R_ref)``,
        degrees).
    """
    if len(reference) != len(estimate):
        msg = f"paired trajectories needed, got {len(reference)} and {len(estimate)} poses"
        raise ValueError(msg)
    trans = np.linalg.norm(estimate.positions_m - reference.positions_m, axis=1)
    rel = np.einsum("nji,njk->nik", estimate.rotations, reference.rotations)
    return trans, _angles_deg(rel)


def _first_at_least(
    dist: FloatArray, base: FloatArray, delta: float, lo: npt.NDArray[np.int64], value: FloatArray
) -> npt.NDArray[np.int64]:
    """Per row i: the first k >= lo[i] with ``(dist[k] - base[i]) - delta >= value[i]``.

    Returns ``len(dist)`` where there is none. ``dist`` is non-decreasing and float
    rounding is monotone, so the expression is non-decreasing in k and a vectorised
    bisection finds the index a linear scan evaluating the same expression would.
    """
    n = dist.size
    lo = lo.copy()
    hi = np.full_like(lo, n)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        safe = np.minimum(mid, n - 1)
        ok = ((dist[safe] - base) - delta) >= value
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)


def rpe_pairs(
    trajectory: Trajectory,
    delta: float,
    delta_unit: DeltaUnit = "frames",
    *,
    all_pairs: bool = False,
    rel_delta_tol: float = 0.1,
) -> npt.NDArray[np.int64]:
    """Index pairs (i, j) for RPE, as evo's ``id_pairs_from_delta``.

    Args:
        trajectory: the poses the pairs are chosen on (evo: the aligned estimate).
        delta: pose distance, in frames (integer) or metres of travelled path.
        delta_unit: ``frames`` or ``m``.
        all_pairs: every start pose instead of consecutive, non-overlapping pairs.
        rel_delta_tol: with ``m`` and ``all_pairs``: accept a pair whose path length is
            within ``delta * rel_delta_tol`` of ``delta``.

    Returns:
        (P, 2) int64 index pairs.

    Raises:
        ValueError: bad delta or unit.
        EvalError: no pair fits (delta longer than the trajectory).
    """
    n = len(trajectory)
    if delta <= 0 or not math.isfinite(delta):
        msg = f"delta must be > 0, got {delta}"
        raise ValueError(msg)
    if delta_unit == "frames":
        if not float(delta).is_integer():
            msg = f"delta must be an integer number of frames, got {delta}"
            raise ValueError(msg)
        step = int(delta)
        if all_pairs:
            i = np.arange(max(0, n - step), dtype=np.int64)
            pairs = np.stack([i, i + step], axis=1)
        else:
            ids = np.arange(0, n, step, dtype=np.int64)
            pairs = np.stack([ids[:-1], ids[1:]], axis=1)
    elif delta_unit == "m":
        steps = np.linalg.norm(np.diff(trajectory.positions_m, axis=0), axis=1)
        if all_pairs:
            dist = np.concatenate([[0.0], np.cumsum(steps)])
            start = np.arange(n - 1, dtype=np.int64)
            base = dist[start]
            d = float(delta)
            # evo: argmin over k > i of |(dist[k] - dist[i]) - delta|, the earliest of
            # equal values. The signed difference g(k) is non-decreasing in k, so the
            # minimum is at the first k with g >= 0 or at the start of the run of equal
            # g just before it.
            above = _first_at_least(dist, base, d, start + 1, np.zeros(start.size))
            below = above - 1
            g_below = (dist[np.maximum(below, 0)] - base) - d
            below_first = _first_at_least(dist, base, d, start + 1, g_below)
            g_above = (dist[np.minimum(above, n - 1)] - base) - d
            err_above = np.where(above < n, np.abs(g_above), np.inf)
            err_below = np.where(below > start, np.abs(g_below), np.inf)
            use_below = err_below <= err_above
            best = np.where(use_below, below_first, above)
            err = np.where(use_below, err_below, err_above)
            keep = err <= delta * rel_delta_tol
            pairs = np.stack([start[keep], best[keep]], axis=1)
        else:
            # consecutive: accumulate step by step and restart at each pair end, the
            # same float sums as evo's filter_pairs_by_path.
            ends = [0]
            current = 0.0
            for k, length in enumerate(steps.tolist(), start=1):
                current += length
                if current >= delta:
                    ends.append(k)
                    current = 0.0
            arr = np.asarray(ends, dtype=np.int64)
            pairs = np.stack([arr[:-1], arr[1:]], axis=1)
    else:
        msg = f"delta_unit must be one of {DELTA_UNITS}, got {delta_unit!r}"
        raise ValueError(msg)
    if pairs.shape[0] == 0:
        msg = (
            f"RPE delta = {delta:g} {delta_unit} gives no pose pairs on "
            f"{trajectory.name or 'the estimate'} ({n} poses): use a smaller delta"
        )
        raise EvalError(msg)
    return pairs.astype(np.int64)


def relative_errors(
    reference: Trajectory, estimate: Trajectory, pairs: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray]:
    """Relative pose errors over index pairs (evo RPE).

    ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)`` with Q the reference and P the estimate.

    Args:
        reference: ground truth, paired with ``estimate``.
        estimate: aligned estimate.
        pairs: (P, 2) index pairs from :func:`rpe_pairs`.

    Returns:
        ((P,) translation part ``|t(E)|``, metres; (P,) rotation angle of ``R(E)``, degrees).
    """
    Q, P = reference.matrices(), estimate.matrices()
    i, j = pairs[:, 0], pairs[:, 1]
    Q_rel = se3.inverse(Q[i]) @ Q[j]
    P_rel = se3.inverse(P[i]) @ P[j]
    E = se3.inverse(Q_rel) @ P_rel
    return np.linalg.norm(E[:, :3, 3], axis=1), _angles_deg(E[:, :3, :3])


@dataclass(frozen=True, slots=True)
class TrajectoryEvalConfig:
    """How to score a trajectory (evo's ``evo_ape`` / ``evo_rpe`` options).

    Attributes:
        max_diff_ns: largest stamp difference of an associated pair, nanoseconds.
        offset_ns: added to the estimate's stamps before association, nanoseconds.
        align: ``none``, ``origin``, ``se3``, ``sim3`` or ``4dof``.
        n_to_align: poses used for alignment, counted from the start (-1: all).
        delta: RPE pose distance.
        delta_unit: ``frames`` or ``m``.
        all_pairs: RPE over all pairs instead of consecutive ones.
        rel_delta_tol: relative path tolerance of all-pairs RPE in metres.
    """

    max_diff_ns: int = 10_000_000
    offset_ns: int = 0
    align: Alignment = "se3"
    n_to_align: int = -1
    delta: float = 1.0
    delta_unit: DeltaUnit = "frames"
    all_pairs: bool = False
    rel_delta_tol: float = 0.1

    def __post_init__(self) -> None:
        if self.max_diff_ns < 0:
            msg = f"max_diff_ns must be >= 0, got {self.max_diff_ns}"
            raise ValueError(msg)
        if self.align not in ALIGNMENTS:
            msg = f"align must be one of {ALIGNMENTS}, got {self.align!r}"
            raise ValueError(msg)
        if self.delta_unit not in DELTA_UNITS:
            msg = f"delta_unit must be one of {DELTA_UNITS}, got {self.delta_unit!r}"
            raise ValueError(msg)
        if not self.delta > 0:
            msg = f"delta must be > 0, got {self.delta}"
            raise ValueError(msg)
        if self.delta_unit == "frames" and not float(self.delta).is_integer():
            msg = f"delta must be an integer number of frames, got {self.delta}"
            raise ValueError(msg)
        if self.n_to_align == 0 or self.n_to_align < -1:
            msg = f"n_to_align must be -1 or >= 1, got {self.n_to_align}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class TrajectoryMetrics:
    """ATE and RPE of an estimate against ground truth.

    Attributes:
        ate_m: absolute translation error statistics, metres.
        ate_rot_deg: absolute rotation error statistics, degrees.
        rpe_trans_m: relative translation error statistics over ``rpe_pairs``, metres.
        rpe_rot_deg: relative rotation error statistics, degrees.
        alignment: the transform applied to the estimate.
        reference: associated ground truth poses.
        estimate: associated and aligned estimate.
        ate_errors_m: (N,) per-pose translation errors, metres.
        ate_rot_errors_deg: (N,) per-pose rotation errors, degrees.
        rpe_pairs: (P, 2) index pairs into ``reference`` / ``estimate``.
        rpe_errors_m: (P,) per-pair translation errors, metres.
        rpe_rot_errors_deg: (P,) per-pair rotation errors, degrees.
        reference_poses: poses in the ground truth before association.
        estimate_poses: poses in the estimate before association.
        config: the settings used.
    """

    ate_m: ErrorStats
    ate_rot_deg: ErrorStats
    rpe_trans_m: ErrorStats
    rpe_rot_deg: ErrorStats
    alignment: Sim3
    reference: Trajectory
    estimate: Trajectory
    ate_errors_m: FloatArray
    ate_rot_errors_deg: FloatArray
    rpe_pairs: npt.NDArray[np.int64]
    rpe_errors_m: FloatArray
    rpe_rot_errors_deg: FloatArray
    reference_poses: int
    estimate_poses: int
    config: TrajectoryEvalConfig

    def as_dict(self) -> dict[str, object]:
        """Summary for metrics.json (no per-pose arrays)."""
        cfg = self.config
        return {
            "ate_m": self.ate_m.as_dict(),
            "ate_rot_deg": self.ate_rot_deg.as_dict(),
            "rpe_trans_m": self.rpe_trans_m.as_dict(),
            "rpe_rot_deg": self.rpe_rot_deg.as_dict(),
            "matched_poses": len(self.reference),
            "reference_poses": self.reference_poses,
            "estimate_poses": self.estimate_poses,
            "path_length_m": float(self.reference.path_lengths_m()[-1]),
            "alignment": {
                "method": cfg.align,
                "scale": self.alignment.scale,
                "rotation": self.alignment.rotation.tolist(),
                "translation_m": self.alignment.translation_m.tolist(),
            },
            "settings": {
                "max_diff_s": cfg.max_diff_ns / 1e9,
                "offset_s": cfg.offset_ns / 1e9,
                "n_to_align": cfg.n_to_align,
                "delta": cfg.delta,
                "delta_unit": cfg.delta_unit,
                "all_pairs": cfg.all_pairs,
            },
        }


def evaluate_trajectory(
    estimate: Trajectory,
    reference: Trajectory,
    config: TrajectoryEvalConfig | None = None,
) -> TrajectoryMetrics:
    """Associate, align, and compute ATE and RPE (evo ``evo_ape`` + ``evo_rpe``).

    Args:
        estimate: the trajectory being scored.
        reference: ground truth.
        config: association, alignment and RPE settings (defaults: 10 ms, SE(3), 1 frame).

    Returns:
        statistics and the per-pose errors.

    Raises:
        EvalError: no association, degenerate alignment, or no RPE pair.
    """
    cfg = config or TrajectoryEvalConfig()
    ref, est = associate(reference, estimate, max_diff_ns=cfg.max_diff_ns, offset_ns=cfg.offset_ns)
    aligned, tf = align_trajectory(est, ref, cfg.align, n_to_align=cfg.n_to_align)
    ate, ate_rot = absolute_errors(ref, aligned)
    pairs = rpe_pairs(
        aligned, cfg.delta, cfg.delta_unit, all_pairs=cfg.all_pairs, rel_delta_tol=cfg.rel_delta_tol
    )
    rpe, rpe_rot = relative_errors(ref, aligned, pairs)
    return TrajectoryMetrics(
        ate_m=ErrorStats.of(ate),
        ate_rot_deg=ErrorStats.of(ate_rot),
        rpe_trans_m=ErrorStats.of(rpe),
        rpe_rot_deg=ErrorStats.of(rpe_rot),
        alignment=tf,
        reference=ref,
        estimate=aligned,
        ate_errors_m=ate,
        ate_rot_errors_deg=ate_rot,
        rpe_pairs=pairs,
        rpe_errors_m=rpe,
        rpe_rot_errors_deg=rpe_rot,
        reference_poses=len(reference),
        estimate_poses=len(estimate),
        config=cfg,
    )
