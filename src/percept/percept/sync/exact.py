"""Exact-time synchronisation: message_filters' Python ``TimeSynchronizer``, in ints.

Reference: ``src/message_filters/__init__.py`` of ros2/message_filters, branch ``jazzy``
(4.11.2, commit d3eecd6e1103ac44bf4bb9216e89353998b4c152). The ``humble`` branch (4.3.5,
commit fc93cd991ffbb4be67db57ae91f1cde3a8719fc0) and ``rolling`` (commit
361e42c78ee08a7b63397a143eae87fda7514d61) contain the same algorithm; they differ only in
docstrings, log text and formatting.

The algorithm, per input message:

1. Store the message in the input's queue, a dict keyed by the stamp in integer
   nanoseconds. A second message with the same stamp on the same input replaces the first
   (the key keeps its place in the dict).
2. While the queue holds more than ``queue_size`` messages, delete the one with the
   smallest stamp (which may be the message that just arrived).
3. Every stamp present in all queues forms a set; sets are emitted in increasing stamp
   order and their messages deleted from every queue.
"""

from __future__ import annotations

from percept.sync.base import SynchronizerBase

__all__ = ["ExactTimeSynchronizer"]


class ExactTimeSynchronizer(SynchronizerBase):
    """Emit one tuple of messages, one per input, whenever all inputs share a stamp.

    Same observable behaviour as ``message_filters.TimeSynchronizer`` (Python, Jazzy and
    Humble): same sets, same order, same queue trimming. The differences, all outside
    what message_filters defines, the callback's lock and the counters are
    ``SynchronizerBase``'s; with ``n_inputs == 1`` every message is emitted on its own.
    """

    def _match(self, index: int, stamp_ns: int) -> list[tuple[object, ...]]:
        """Every stamp queued on all inputs, in increasing order (lock held)."""
        shared = set(self._queues[0]).intersection(*self._queues[1:])
        return [tuple(queue.pop(stamp) for queue in self._queues) for stamp in sorted(shared)]
