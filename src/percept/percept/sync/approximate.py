"""Approximate-time sync: message_filters' Python ``ApproximateTimeSynchronizer``, in ints.

Reference: ``src/message_filters/__init__.py`` of ros2/message_filters, branch ``jazzy``
(4.11.2, commit d3eecd6e1103ac44bf4bb9216e89353998b4c152). Humble (4.3.5, commit
fc93cd991ffbb4be67db57ae91f1cde3a8719fc0) and rolling (commit
361e42c78ee08a7b63397a143eae87fda7514d61) hold the same algorithm. None of these versions
has a ``sync_arrival_time`` option; the only way to use arrival time there is
``allow_headerless=True``, which stamps header-less messages with ``ROSClock().now()``.
Percept never does that: the caller always passes a stamp (see ``DESIGN.md``). This is
*not* the C++ ``ApproximateTime`` policy, which uses a different algorithm.

The algorithm, per message arriving on input ``i`` with stamp ``t``:

1. Store it in input ``i``'s queue, a dict keyed by stamp (ns); a message with a stamp
   already queued on that input replaces the old one, the key keeping its dict position.
2. While the queue holds more than ``queue_size`` messages, delete the smallest stamp
   (possibly the new message, which then cannot be matched).
3. For every other input ``j`` in index order, the candidates are its queued stamps ``s``
   with ``|s - t| <= slop`` (inclusive), in dict (insertion) order, then stably sorted by
   ``|s - t|``; equal distances keep insertion order. If some input has no candidate,
   nothing happens.
4. Combinations of candidates are tried in ``itertools.product`` order (the first other
   input varies slowest). The first whose stamps, together with ``t``, span strictly less
   than ``slop`` (``max - min < slop``) is emitted in input order and its messages are
   deleted from all queues; at most one set per message. Other queued messages stay.

Consequences worth knowing: ``slop_ns == 0`` never emits (the span test is strict); two
inputs exactly ``slop_ns`` apart never match; a message is only ever matched at its own
arrival, never later when another message is evicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from percept.sync.base import SynchronizerBase, check_int

__all__ = ["ApproximateTimeSynchronizer", "duration_s_to_ns"]


def duration_s_to_ns(duration_s: float) -> int:
    """Convert seconds to integer nanoseconds exactly as ``rclpy.duration.Duration`` does.

    ``Duration(seconds=s)`` computes ``int(s * 1e9)``, truncating towards zero, so
    ``0.00013`` s becomes 129_999 ns. Use this to turn an ``approximate_sync`` slop parameter into
    ``slop_ns`` when the result must match message_filters bit for bit.

    Args:
        duration_s: duration in seconds.

    Returns:
        The duration in nanoseconds.

    >>> duration_s_to_ns(0.00013)
    129999
    """
    return int(duration_s * 1e9)


def _first_match(
    candidates: Sequence[Sequence[int]], stamp_ns: int, slop_ns: int
) -> tuple[int, ...] | None:
    """First combination, in ``itertools.product`` order, spanning less than ``slop_ns``.

    A depth-first search in the same lexicographic order as ``itertools.product``; a
    branch whose partial span already reaches ``slop_ns`` is skipped, since adding stamps
    can only widen the span, so the first hit equals the first hit of a full product.

    Args:
        candidates: candidate stamps (ns) per other input, in trial order.
        stamp_ns: stamp of the message that just arrived.
        slop_ns: the slop; the span must be strictly smaller.

    Returns:
        One stamp per other input, or ``None``.
    """
    chosen: list[int] = []

    def search(depth: int, low: int, high: int) -> bool:
        if depth == len(candidates):
            return True
        for stamp in candidates[depth]:
            new_low = min(low, stamp)
            new_high = max(high, stamp)
            if new_high - new_low >= slop_ns:
                continue
            chosen.append(stamp)
            if search(depth + 1, new_low, new_high):
                return True
            chosen.pop()
        return False

    if slop_ns <= 0:  # the span test is strict: even the new message alone fails
        return None
    return tuple(chosen) if search(0, stamp_ns, stamp_ns) else None


class ApproximateTimeSynchronizer(SynchronizerBase):
    """Emit one tuple of messages, one per input, whose stamps lie within a slop.

    Same observable behaviour as ``message_filters.ApproximateTimeSynchronizer`` (Python,
    Jazzy and Humble) with integer-nanosecond stamps: same candidate order, same
    tie-breaking, same deletions (see the module docstring). Differences, all outside
    what message_filters defines, besides ``SynchronizerBase``'s (which also describes
    the callback's lock and the counters):

    - There is no ``allow_headerless`` path (a header-less message would be stamped with
      wall-clock time upstream, which breaks replay).
    - ``slop_ns`` is integer nanoseconds; convert a float ``slop_s`` with
      :func:`duration_s_to_ns` to reproduce ``rclpy.duration.Duration`` truncation.
    - With ``n_inputs == 1`` each message is emitted alone when ``slop_ns > 0``.
    - At most one set is emitted per message.
    """

    def __init__(
        self,
        n_inputs: int,
        queue_size: int,
        slop_ns: int,
        callback: Callable[[tuple[object, ...]], None],
    ) -> None:
        """Create the synchroniser.

        Args:
            n_inputs: number of inputs, >= 1 (see ``SynchronizerBase``).
            queue_size: messages kept per input, >= 1 (see ``SynchronizerBase``).
            slop_ns: the largest stamp difference still synchronised, integer
                nanoseconds, >= 0 (``0`` is accepted, as upstream, but never matches).
            callback: called with a tuple of ``n_inputs`` messages in input order.

        Raises:
            ValueError: if an argument is out of range.
        """
        super().__init__(n_inputs, queue_size, callback)
        self._slop_ns = check_int("slop_ns", slop_ns, 0)

    @property
    def slop_ns(self) -> int:
        """The slop, integer nanoseconds."""
        return self._slop_ns

    def _match(self, index: int, stamp_ns: int) -> list[tuple[object, ...]]:
        """The first set within the slop that the new message completes, if any."""
        if stamp_ns not in self._queues[index]:
            return []  # evicted on arrival: upstream can never match it either
        candidates: list[list[int]] = []
        for other, queue in enumerate(self._queues):
            if other == index:
                continue
            near = [s for s in queue if abs(s - stamp_ns) <= self._slop_ns]
            if not near:
                return []
            near.sort(key=lambda s: abs(s - stamp_ns))  # stable: ties keep dict order
            candidates.append(near)
        others = _first_match(candidates, stamp_ns, self._slop_ns)
        if others is None:
            return []
        stamps = [*others[:index], stamp_ns, *others[index:]]
        return [tuple(queue.pop(s) for queue, s in zip(self._queues, stamps, strict=True))]
