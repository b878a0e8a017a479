"""Association of two trajectories by stamp, as ``evo.core.sync``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from percept.errors import EvalError
from percept.eval.trajectory.poses import Trajectory

__all__ = ["associate"]


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
