"""Trajectory accuracy: association, Umeyama alignment, ATE and RPE with evo's semantics.

The definitions follow evo (MichaelGrupp/evo) so that numbers can be compared with what
users already run:

- association (``evo.core.sync.associate_trajectories``): the trajectory with fewer
  poses is matched against the longer one; each of its stamps takes the nearest stamp of
  the other within ``max_diff`` (after adding ``offset`` to the estimate's stamps), ties
  going to the earlier stamp; a pose of the longer trajectory may serve several matches.
- alignment (``PosePath3D.align``): Umeyama's least-squares similarity on positions;
  SE(3), Sim(3) (``correct_scale``) or, for VIO whose gravity direction is observable,
  4-DoF yaw + translation (as in rpg_trajectory_evaluation's ``posyaw``).
- ATE is evo's APE on the translation part, ``|p_est - p_ref|`` per pose after
  alignment; the rotation part is the angle of ``R_est^T R_ref``.
- RPE is evo's RPE: ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)`` over index pairs chosen on the
  (aligned) estimate by ``delta`` frames or metres of travelled path, consecutive or all
  pairs, translation ``|t(E)|`` and rotation angle of ``R(E)``.

Files are read in the formats evo reads: TUM (``t x y z qx qy qz qw``, seconds), EuRoC
CSV (``state_groundtruth_estimate0/data.csv``: ``t[ns], p xyz, q wxyz, ...``) and KITTI
poses (12 numbers, a row-major 3x4 ``T_world_cam`` per line, no stamps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.errors import EvalError

__all__ = [
    "ALIGNMENTS",
    "DELTA_UNITS",
    "TRAJECTORY_FORMATS",
    "Alignment",
    "ErrorStats",
    "Sim3",
    "Trajectory",
    "TrajectoryEvalConfig",
    "TrajectoryMetrics",
    "absolute_errors",
    "align_trajectory",
    "associate",
    "evaluate_trajectory",
    "read_euroc_csv",
    "read_kitti_poses",
    "read_trajectory",
    "read_tum",
    "relative_errors",
    "rpe_pairs",
    "umeyama",
    "write_euroc_csv",
    "write_kitti_poses",
    "write_trajectory",
    "write_tum",
    "yaw_alignment",
]

Alignment = Literal["none", "origin", "se3", "sim3", "4dof"]
#: Alignments :func:`align_trajectory` knows.
ALIGNMENTS: tuple[str, ...] = ("none", "origin", "se3", "sim3", "4dof")
DeltaUnit = Literal["frames", "m"]
#: Units of the RPE ``delta``: a number of poses, or metres of path on the estimate.
DELTA_UNITS: tuple[str, ...] = ("frames", "m")
TrajectoryFormat = Literal["tum", "euroc", "kitti"]
#: File formats :func:`read_trajectory` and :func:`write_trajectory` know.
TRAJECTORY_FORMATS: tuple[str, ...] = ("tum", "euroc", "kitti")

_NS = 1_000_000_000
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """A sequence of poses ``T_world_body``, optionally stamped.

    Rotations are kept as matrices, as evo keeps them, so that a KITTI file's slightly
    non-orthonormal matrices are used as written.

    Attributes:
        positions_m: (N, 3) float64 body origin in the world frame, metres.
        rotations: (N, 3, 3) float64 ``R_world_body``.
        stamps_ns: (N,) int64 stamps, nanoseconds, increasing; None for an unstamped
            path (KITTI), which can only be paired index by index.
        name: where it came from (file, topic), for reports.
    """

    positions_m: FloatArray
    rotations: FloatArray
    stamps_ns: npt.NDArray[np.int64] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions_m, dtype=np.float64)
        rot = np.asarray(self.rotations, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] == 0:
            msg = f"positions_m must be (N, 3) with N >= 1, got shape {pos.shape}"
            raise ValueError(msg)
        if rot.shape != (pos.shape[0], 3, 3):
            msg = f"rotations must be ({pos.shape[0]}, 3, 3), got shape {rot.shape}"
            raise ValueError(msg)
        if not (np.isfinite(pos).all() and np.isfinite(rot).all()):
            msg = f"{self.name or 'trajectory'}: poses contain NaN or Inf"
            raise ValueError(msg)
        object.__setattr__(self, "positions_m", pos)
        object.__setattr__(self, "rotations", rot)
        if self.stamps_ns is not None:
            stamps = np.asarray(self.stamps_ns, dtype=np.int64)
            if stamps.shape != (pos.shape[0],):
                msg = f"stamps_ns must be ({pos.shape[0]},), got shape {stamps.shape}"
                raise ValueError(msg)
            object.__setattr__(self, "stamps_ns", stamps)

    @classmethod
    def from_quaternions(
        cls,
        positions_m: npt.ArrayLike,
        quat_xyzw: npt.ArrayLike,
        stamps_ns: npt.ArrayLike | None = None,
        name: str = "",
    ) -> Trajectory:
        """Build from positions and Hamilton quaternions.

        Args:
            positions_m: (N, 3) metres, world frame.
            quat_xyzw: (N, 4) Hamilton quaternions ``R_world_body``, xyzw (ROS/SciPy
                order); normalised here.
            stamps_ns: (N,) integer nanoseconds, or None.
            name: label for reports.

        Raises:
            ValueError: shapes disagree or a quaternion is zero.
        """
        quat = np.asarray(quat_xyzw, dtype=np.float64).reshape(-1, 4)
        rot = Rotation.from_quat(quat).as_matrix()
        stamps = None if stamps_ns is None else np.asarray(stamps_ns, dtype=np.int64)
        return cls(np.asarray(positions_m, dtype=np.float64), rot, stamps, name)

    @classmethod
    def from_matrices(
        cls, T_world_body: npt.ArrayLike, stamps_ns: npt.ArrayLike | None = None, name: str = ""
    ) -> Trajectory:
        """Build from (N, 4, 4) or (N, 3, 4) homogeneous transforms ``T_world_body``."""
        T = np.asarray(T_world_body, dtype=np.float64)
        if T.ndim != 3 or T.shape[1:] not in ((4, 4), (3, 4)):
            msg = f"T_world_body must be (N, 4, 4) or (N, 3, 4), got shape {T.shape}"
            raise ValueError(msg)
        stamps = None if stamps_ns is None else np.asarray(stamps_ns, dtype=np.int64)
        return cls(T[:, :3, 3].copy(), T[:, :3, :3].copy(), stamps, name)

    def __len__(self) -> int:
        return int(self.positions_m.shape[0])

    @property
    def quat_xyzw(self) -> FloatArray:
        """(N, 4) Hamilton quaternions, xyzw, of the (re-orthonormalised) rotations."""
        quat: FloatArray = Rotation.from_matrix(self.rotations).as_quat()
        return quat

    @property
    def stamps_s(self) -> FloatArray | None:
        """(N,) stamps in seconds (float64), or None."""
        if self.stamps_ns is None:
            return None
        return self.stamps_ns.astype(np.float64) / _NS

    def matrices(self) -> FloatArray:
        """(N, 4, 4) float64 ``T_world_body``."""
        T = np.zeros((len(self), 4, 4))
        T[:, :3, :3] = self.rotations
        T[:, :3, 3] = self.positions_m
        T[:, 3, 3] = 1.0
        return T

    def take(self, indices: npt.ArrayLike) -> Trajectory:
        """The poses at ``indices`` (an index array), in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        stamps = None if self.stamps_ns is None else self.stamps_ns[idx]
        return Trajectory(self.positions_m[idx], self.rotations[idx], stamps, self.name)

    def path_lengths_m(self) -> FloatArray:
        """(N,) distance travelled from the first pose, metres."""
        steps = np.linalg.norm(np.diff(self.positions_m, axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    def speeds_m_s(self) -> FloatArray:
        """(N,) speed at each pose from neighbouring poses (central differences), m/s.

        Raises:
            ValueError: the trajectory has no stamps or fewer than two poses.
        """
        if self.stamps_ns is None or len(self) < 2:
            msg = f"{self.name or 'trajectory'}: speeds need stamps and two poses or more"
            raise ValueError(msg)
        t = self.stamps_s
        assert t is not None
        vel = np.gradient(self.positions_m, t, axis=0) if np.all(np.diff(t) > 0) else None
        if vel is None:
            msg = f"{self.name or 'trajectory'}: stamps must increase to compute speeds"
            raise ValueError(msg)
        speeds: FloatArray = np.linalg.norm(vel, axis=1)
        return speeds


@dataclass(frozen=True, slots=True, eq=False)
class Sim3:
    """A similarity ``x -> scale * R @ x + t`` applied to an estimate to align it.

    Attributes:
        rotation: (3, 3) float64.
        translation_m: (3,) float64, metres.
        scale: dimensionless, 1 for rigid alignments.
    """

    rotation: FloatArray = field(default_factory=lambda: np.eye(3))
    translation_m: FloatArray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0

    def apply(self, trajectory: Trajectory) -> Trajectory:
        """The trajectory with every pose mapped: ``T' = [R, t] @ [R_i, s p_i]``."""
        pos = self.scale * trajectory.positions_m @ self.rotation.T + self.translation_m
        rot = np.einsum("ij,njk->nik", self.rotation, trajectory.rotations)
        return Trajectory(pos, rot, trajectory.stamps_ns, trajectory.name)

    def as_matrix(self) -> FloatArray:
        """(4, 4) float64 ``[[s R, t], [0, 1]]``."""
        T = np.eye(4)
        T[:3, :3] = self.scale * self.rotation
        T[:3, 3] = self.translation_m
        return T


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


# --------------------------------------------------------------------------- association


def _match_stamps(
    short_ns: npt.NDArray[np.int64],
    long_ns: npt.NDArray[np.int64],
    max_diff_ns: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Match stamps as evo's ``matching_time_indices`` (offset already applied)."""
    if long_ns.size == 0 or short_ns.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    if np.all(np.diff(long_ns) >= 0):
        in_range = (short_ns >= long_ns[0] - max_diff_ns) & (short_ns <= long_ns[-1] + max_diff_ns)
        idx = np.minimum(np.searchsorted(long_ns, short_ns, side="right"), long_ns.size - 1)
        diff_ub = long_ns[idx] - short_ns
        has_lb = idx > 0
        diff_lb = np.where(
            has_lb, short_ns - long_ns[np.maximum(idx - 1, 0)], np.iinfo(np.int64).max
        )
        take_ub = (diff_ub <= max_diff_ns) & (diff_ub < diff_lb)
        take_lb = ~take_ub & (diff_lb <= max_diff_ns) & (diff_lb <= diff_ub)
        ok = in_range & (take_ub | take_lb)
        best = np.where(take_ub, idx, idx - 1)
        return np.flatnonzero(ok).astype(np.int64), best[ok].astype(np.int64)
    # Unsorted stamps: nearest by exhaustive search (first of equal distances), in
    # blocks to bound memory.
    first: list[npt.NDArray[np.int64]] = []
    second: list[npt.NDArray[np.int64]] = []
    block = max(1, 4_000_000 // long_ns.size)
    for start in range(0, short_ns.size, block):
        chunk = short_ns[start : start + block]
        diffs = np.abs(long_ns[None, :] - chunk[:, None])
        nearest = np.argmin(diffs, axis=1)
        ok = diffs[np.arange(chunk.size), nearest] <= max_diff_ns
        first.append(np.flatnonzero(ok).astype(np.int64) + start)
        second.append(nearest[ok].astype(np.int64))
    return np.concatenate(first), np.concatenate(second)


def associate(
    reference: Trajectory,
    estimate: Trajectory,
    *,
    max_diff_ns: int = 10_000_000,
    offset_ns: int = 0,
) -> tuple[Trajectory, Trajectory]:
    """Pair poses of two trajectories by stamp, as ``evo.core.sync.associate_trajectories``.

    Unstamped trajectories (KITTI) are paired index by index and must have equal length.

    Args:
        reference: ground truth.
        estimate: the trajectory being scored.
        max_diff_ns: largest accepted stamp difference, nanoseconds (evo ``--t_max_diff``,
            default 0.01 s).
        offset_ns: added to the estimate's stamps before matching (evo ``--t_offset``);
            the returned trajectories keep their own stamps.

    Returns:
        (reference, estimate) reduced to the matched poses, pair by pair.

    Raises:
        EvalError: nothing matches, or unstamped trajectories differ in length.
    """
    if reference.stamps_ns is None or estimate.stamps_ns is None:
        if len(reference) != len(estimate):
            msg = (
                f"{estimate.name or 'estimate'} ({len(estimate)} poses) and "
                f"{reference.name or 'reference'} ({len(reference)} poses): trajectories "
                "without stamps are paired index by index and must have the same length"
            )
            raise EvalError(msg)
        return reference, estimate
    if max_diff_ns < 0:
        msg = f"max_diff_ns must be >= 0, got {max_diff_ns}"
        raise ValueError(msg)
    second_longer = len(estimate) > len(reference)
    short, long = (reference, estimate) if second_longer else (estimate, reference)
    offset = offset_ns if second_longer else -offset_ns
    assert short.stamps_ns is not None
    assert long.stamps_ns is not None
    idx_short, idx_long = _match_stamps(short.stamps_ns, long.stamps_ns + offset, max_diff_ns)
    if idx_short.size == 0:
        msg = (
            f"no matching stamps between {reference.name or 'reference'} and "
            f"{estimate.name or 'estimate'} within {max_diff_ns / 1e9:g} s "
            f"(offset {offset_ns / 1e9:g} s); check the time bases or raise the max difference"
        )
        raise EvalError(msg)
    short_m, long_m = short.take(idx_short), long.take(idx_long)
    return (short_m, long_m) if second_longer else (long_m, short_m)


# --------------------------------------------------------------------------- alignment


def umeyama(source: npt.ArrayLike, target: npt.ArrayLike, *, with_scale: bool = False) -> Sim3:
    """Least-squares similarity taking ``source`` points onto ``target`` (Umeyama 1991).

    Args:
        source: (N, 3) points, e.g. estimated positions.
        target: (N, 3) points, e.g. ground-truth positions.
        with_scale: also estimate the scale (Sim(3)); otherwise it is 1 (SE(3)).

    Returns:
        the transform minimising ``sum |target_i - (s R source_i + t)|^2``.

    Raises:
        EvalError: the points are degenerate (collinear or fewer than three distinct).

    >>> pts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> round(umeyama(pts, 2 * pts + 1, with_scale=True).scale, 9)
    2.0
    """
    x = np.asarray(source, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        msg = f"source and target must both be (N, 3), got {x.shape} and {y.shape}"
        raise ValueError(msg)
    n = x.shape[0]
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mean_x, y - mean_y
    sigma_x = float(np.sum(xc**2)) / n  # eq. 36
    cov = yc.T @ xc / n  # eq. 38
    u, d, vt = np.linalg.svd(cov)
    # evo's rank test, plus a relative one: collinear points leave rounding noise in d[1].
    if np.count_nonzero(d > np.finfo(d.dtype).eps) < 2 or d[1] <= 1e-12 * d[0]:
        msg = f"Umeyama alignment impossible: degenerate point set ({n} positions, collinear?)"
        raise EvalError(msg)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0.0:
        s[2, 2] = -1.0  # a rotation, not a reflection (Kabsch)
    rot = u @ s @ vt
    scale = float(np.trace(np.diag(d) @ s)) / sigma_x if with_scale else 1.0
    return Sim3(rot, mean_y - scale * rot @ mean_x, scale)


def yaw_alignment(source: npt.ArrayLike, target: npt.ArrayLike) -> Sim3:
    """Least-squares rotation about z plus translation taking ``source`` onto ``target``.

    The 4-DoF alignment for visual-inertial odometry, whose roll and pitch are observable
    from gravity: world z must be up in both trajectories.

    Args:
        source: (N, 3) points, e.g. estimated positions.
        target: (N, 3) points.

    Returns:
        ``Sim3`` with a yaw-only rotation and scale 1.

    >>> pts = np.array([[1.0, 0, 0], [0, 2, 0], [0, 0, 3]])
    >>> R = Rotation.from_euler("z", 30, degrees=True).as_matrix()
    >>> tf = yaw_alignment(pts, pts @ R.T + [1, 2, 3])
    >>> round(float(Rotation.from_matrix(tf.rotation).as_euler("zyx", degrees=True)[0]), 6)
    30.0
    """
    x = np.asarray(source, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        msg = f"source and target must both be (N, 3), got {x.shape} and {y.shape}"
        raise ValueError(msg)
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    # maximise trace(Rz(yaw) H) with H = sum x_i y_i^T: c (H00 + H11) + s (H01 - H10).
    H = (x - mean_x).T @ (y - mean_y)
    yaw = math.atan2(H[0, 1] - H[1, 0], H[0, 0] + H[1, 1])
    rot = Rotation.from_euler("z", yaw).as_matrix()
    return Sim3(rot, mean_y - rot @ mean_x, 1.0)


def align_trajectory(
    estimate: Trajectory,
    reference: Trajectory,
    method: Alignment = "se3",
    *,
    n_to_align: int = -1,
) -> tuple[Trajectory, Sim3]:
    """Align an associated estimate to its reference (evo ``-a``, ``-as``, ``--align_origin``).

    Args:
        estimate: poses paired one to one with ``reference`` (see :func:`associate`).
        reference: ground truth.
        method: ``none``; ``origin`` (first poses made equal); ``se3``; ``sim3``
            (scale too, for monocular); ``4dof`` (yaw and translation, for VIO).
        n_to_align: align on the first n poses only (-1: all), as evo's ``--n_to_align``.

    Returns:
        (aligned estimate, the transform applied).

    Raises:
        ValueError: unknown method or unpaired trajectories.
        EvalError: degenerate positions.
    """
    if len(estimate) != len(reference):
        msg = f"align needs paired trajectories, got {len(estimate)} and {len(reference)} poses"
        raise ValueError(msg)
    if method == "none":
        return estimate, Sim3()
    if method == "origin":
        T = reference.matrices()[0] @ _se3_inverse(estimate.matrices()[:1])[0]
        tf = Sim3(T[:3, :3].copy(), T[:3, 3].copy(), 1.0)
        return tf.apply(estimate), tf
    n = len(estimate) if n_to_align == -1 else n_to_align
    if not 1 <= n <= len(estimate):
        msg = f"n_to_align must be -1 or 1..{len(estimate)}, got {n_to_align}"
        raise ValueError(msg)
    src, dst = estimate.positions_m[:n], reference.positions_m[:n]
    if method in ("se3", "sim3"):
        tf = umeyama(src, dst, with_scale=method == "sim3")
    elif method == "4dof":
        tf = yaw_alignment(src, dst)
    else:
        msg = f"alignment must be one of {ALIGNMENTS}, got {method!r}"
        raise ValueError(msg)
    return tf.apply(estimate), tf


# --------------------------------------------------------------------------- errors


def _se3_inverse(T: FloatArray) -> FloatArray:
    """(N, 4, 4) inverses of rigid transforms, as evo's ``se3_inverse`` (R^T)."""
    inv = np.zeros_like(T)
    rt = np.transpose(T[:, :3, :3], (0, 2, 1))
    inv[:, :3, :3] = rt
    inv[:, :3, 3] = -np.einsum("nij,nj->ni", rt, T[:, :3, 3])
    inv[:, 3, 3] = 1.0
    return inv


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
    Q_rel = _se3_inverse(Q[i]) @ Q[j]
    P_rel = _se3_inverse(P[i]) @ P[j]
    E = _se3_inverse(Q_rel) @ P_rel
    return np.linalg.norm(E[:, :3, 3], axis=1), _angles_deg(E[:, :3, :3])


# --------------------------------------------------------------------------- evaluation


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


# --------------------------------------------------------------------------- files


def _rows(path: Path, delimiter: str | None, columns: int, what: str) -> list[list[str]]:
    """Non-comment, non-blank rows of a text file split into fields."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        msg = f"{path}: cannot read {what} file: {err}"
        raise EvalError(msg) from err
    rows: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f.strip() for f in stripped.split(delimiter)]
        if len(fields) < columns or (what != "EuRoC CSV" and len(fields) != columns):
            msg = (
                f"{path}:{number}: {what} rows have {columns} values"
                f"{' or more' if what == 'EuRoC CSV' else ''}, got {len(fields)}"
            )
            raise EvalError(msg)
        rows.append(fields)
    if not rows:
        msg = f"{path}: no poses in {what} file"
        raise EvalError(msg)
    return rows


def _floats(rows: list[list[str]], cols: slice, path: Path, what: str) -> FloatArray:
    try:
        return np.array([[float(v) for v in r[cols]] for r in rows], dtype=np.float64)
    except ValueError as err:
        msg = f"{path}: {what} file has a non-numeric value: {err}"
        raise EvalError(msg) from err


def _stamp_ns(text: str, unit_ns: int, path: Path) -> int:
    """Exact decimal stamp (``1305031102.175304``, ``1.4e9``) to integer nanoseconds."""
    try:
        return int((Decimal(text) * unit_ns).to_integral_value())
    except (InvalidOperation, ValueError) as err:
        msg = f"{path}: bad timestamp {text!r}"
        raise EvalError(msg) from err


def read_tum(path: Path | str) -> Trajectory:
    """Read a TUM RGB-D trajectory: ``t tx ty tz qx qy qz qw`` per line.

    ``t`` in seconds (decimal or scientific notation, converted exactly to
    nanoseconds), positions in metres, Hamilton quaternions xyzw; ``#`` lines are
    comments. Fields may be separated by any whitespace.

    Raises:
        EvalError: unreadable file or rows without 8 numbers.
    """
    p = Path(path)
    rows = _rows(p, None, 8, "TUM")
    stamps = np.array([_stamp_ns(r[0], _NS, p) for r in rows], dtype=np.int64)
    values = _floats(rows, slice(1, 8), p, "TUM")
    return _from_quat(values[:, :3], values[:, 3:7], stamps, p)


def _from_quat(
    pos: FloatArray, quat_xyzw: FloatArray, stamps: npt.NDArray[np.int64] | None, path: Path
) -> Trajectory:
    norms = np.linalg.norm(quat_xyzw, axis=1)
    bad = np.flatnonzero(~(norms > 1e-12))
    if bad.size:
        msg = f"{path}: pose {int(bad[0])} has a zero or invalid quaternion"
        raise EvalError(msg)
    try:
        return Trajectory.from_quaternions(pos, quat_xyzw, stamps, name=str(path))
    except ValueError as err:
        msg = f"{path}: {err}"
        raise EvalError(msg) from err


def read_euroc_csv(path: Path | str) -> Trajectory:
    """Read an EuRoC/ASL CSV trajectory (``state_groundtruth_estimate0/data.csv``).

    Columns: ``timestamp [ns], p_RS_R_x, p_RS_R_y, p_RS_R_z [m], q_RS_w, q_RS_x, q_RS_y,
    q_RS_z`` and optionally more (velocity, biases), which are ignored; ``#`` lines are
    comments. The same layout serves estimates (8 columns). Note the quaternion order
    **wxyz** here.

    Raises:
        EvalError: unreadable file or rows with fewer than 8 numbers.
    """
    p = Path(path)
    rows = _rows(p, ",", 8, "EuRoC CSV")
    stamps = np.array([_stamp_ns(r[0], 1, p) for r in rows], dtype=np.int64)
    values = _floats(rows, slice(1, 8), p, "EuRoC CSV")
    quat_xyzw = values[:, [4, 5, 6, 3]]
    return _from_quat(values[:, :3], quat_xyzw, stamps, p)


def read_kitti_poses(path: Path | str) -> Trajectory:
    """Read KITTI odometry poses: a row-major 3x4 ``T_world_cam`` (12 numbers) per line.

    There are no stamps: KITTI poses are paired index by index.

    Raises:
        EvalError: unreadable file or rows without 12 numbers.
    """
    p = Path(path)
    rows = _rows(p, None, 12, "KITTI")
    values = _floats(rows, slice(0, 12), p, "KITTI")
    try:
        return Trajectory.from_matrices(values.reshape(-1, 3, 4), None, name=str(p))
    except ValueError as err:
        msg = f"{p}: {err}"
        raise EvalError(msg) from err


def read_trajectory(path: Path | str, fmt: TrajectoryFormat) -> Trajectory:
    """Read a trajectory file of format ``tum``, ``euroc`` or ``kitti``.

    Raises:
        EvalError: unknown format or unreadable file.
    """
    if fmt == "tum":
        return read_tum(path)
    if fmt == "euroc":
        return read_euroc_csv(path)
    if fmt == "kitti":
        return read_kitti_poses(path)
    msg = f"trajectory format must be one of {TRAJECTORY_FORMATS}, got {fmt!r}"
    raise EvalError(msg)


def _stamp_text(stamp_ns: int) -> str:
    sign = "-" if stamp_ns < 0 else ""
    sec, frac = divmod(abs(int(stamp_ns)), _NS)
    return f"{sign}{sec}.{frac:09d}"


def _need_stamps(trajectory: Trajectory, fmt: str) -> npt.NDArray[np.int64]:
    if trajectory.stamps_ns is None:
        msg = f"{trajectory.name or 'trajectory'}: {fmt} files need stamps"
        raise EvalError(msg)
    return trajectory.stamps_ns


def write_tum(path: Path | str, trajectory: Trajectory) -> Path:
    """Write ``t tx ty tz qx qy qz qw`` lines (t in seconds, exact to the nanosecond).

    Raises:
        EvalError: the trajectory has no stamps.
    """
    stamps = _need_stamps(trajectory, "TUM")
    values = np.hstack([trajectory.positions_m, trajectory.quat_xyzw])
    lines = [
        " ".join([_stamp_text(int(t)), *(repr(float(v)) for v in row)])
        for t, row in zip(stamps, values, strict=True)
    ]
    out = Path(path)
    out.write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_euroc_csv(path: Path | str, trajectory: Trajectory) -> Path:
    """Write the EuRoC CSV pose columns (``t[ns], p xyz, q wxyz``) with the ASL header.

    Raises:
        EvalError: the trajectory has no stamps.
    """
    stamps = _need_stamps(trajectory, "EuRoC CSV")
    q = trajectory.quat_xyzw[:, [3, 0, 1, 2]]
    values = np.hstack([trajectory.positions_m, q])
    header = (
        "#timestamp [ns], p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], "
        "q_RS_w [], q_RS_x [], q_RS_y [], q_RS_z []"
    )
    lines = [
        ",".join([str(int(t)), *(repr(float(v)) for v in row)])
        for t, row in zip(stamps, values, strict=True)
    ]
    out = Path(path)
    out.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_kitti_poses(path: Path | str, trajectory: Trajectory) -> Path:
    """Write KITTI poses: the first three rows of each ``T_world_body``, 12 numbers a line."""
    rows = trajectory.matrices()[:, :3, :].reshape(-1, 12)
    lines = [" ".join(repr(float(v)) for v in row) for row in rows]
    out = Path(path)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_trajectory(path: Path | str, trajectory: Trajectory, fmt: TrajectoryFormat) -> Path:
    """Write ``trajectory`` as ``tum``, ``euroc`` or ``kitti``.

    Raises:
        EvalError: unknown format, or a stamped format for an unstamped trajectory.
    """
    if fmt == "tum":
        return write_tum(path, trajectory)
    if fmt == "euroc":
        return write_euroc_csv(path, trajectory)
    if fmt == "kitti":
        return write_kitti_poses(path, trajectory)
    msg = f"trajectory format must be one of {TRAJECTORY_FORMATS}, got {fmt!r}"
    raise EvalError(msg)
