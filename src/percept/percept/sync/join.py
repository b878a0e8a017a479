"""Joining two streams by stamp: the newest item of one with its nearest in the other.

Unlike the synchronisers, which wait for every input to share a stamp, a
:class:`StampJoin` pairs an item of the primary stream (a detected frame) with the
secondary item (a depth image) nearest in time, within a tolerance the caller gives at
each match, and prefers the newest primary item: a pair that is complete late never
holds back a newer one.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

__all__ = ["StampJoin"]

_P = TypeVar("_P")
_S = TypeVar("_S")


class StampJoin(Generic[_P, _S]):
    """Pairs items of two streams whose int-ns stamps are within a tolerance.

    Each stream keeps its ``capacity`` newest items, in arrival order. A match takes
    the newest primary item that has a secondary item within the tolerance, and of
    those secondary items the nearest in time (the older one on a tie). The matched
    items and every item that arrived before them are then discarded: older items
    can only be worse partners of later ones.

    >>> join: StampJoin[str, str] = StampJoin()
    >>> join.add_primary(100, "frame")
    >>> join.pop_match(5) is None
    True
    >>> join.add_secondary(103, "depth")
    >>> join.pop_match(5)
    ('frame', 'depth')

    Args:
        capacity: items kept per stream, >= 1; the oldest goes when a new one comes.

    Raises:
        ValueError: ``capacity`` below 1.
    """

    def __init__(self, capacity: int = 5) -> None:
        if capacity < 1:
            msg = f"capacity must be >= 1, got {capacity}"
            raise ValueError(msg)
        self._primary: deque[tuple[int, _P]] = deque(maxlen=capacity)
        self._secondary: deque[tuple[int, _S]] = deque(maxlen=capacity)

    def add_primary(self, stamp_ns: int, item: _P) -> None:
        """Keep an item of the primary stream (the one whose newest item is matched)."""
        self._primary.append((stamp_ns, item))

    def add_secondary(self, stamp_ns: int, item: _S) -> None:
        """Keep an item of the secondary stream (matched to a primary item)."""
        self._secondary.append((stamp_ns, item))

    def pop_match(self, tolerance_ns: int) -> tuple[_P, _S] | None:
        """The newest primary item with its nearest secondary item, or None.

        Args:
            tolerance_ns: largest stamp difference of a pair, nanoseconds.

        Returns:
            ``(primary, secondary)``; both, and the items of each stream that arrived
            before them, are removed. None when no pair is within the tolerance
            (nothing is removed then).
        """
        for primary_index in range(len(self._primary) - 1, -1, -1):
            stamp_ns, primary = self._primary[primary_index]
            near = [
                (abs(secondary_stamp - stamp_ns), secondary_index)
                for secondary_index, (secondary_stamp, _) in enumerate(self._secondary)
                if abs(secondary_stamp - stamp_ns) <= tolerance_ns
            ]
            if not near:
                continue
            _, secondary_index = min(near)
            secondary = self._secondary[secondary_index][1]
            for _ in range(primary_index + 1):
                self._primary.popleft()
            for _ in range(secondary_index + 1):
                self._secondary.popleft()
            return primary, secondary
        return None
