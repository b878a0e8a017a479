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

import logging
from collections.abc import Callable

from percept.sync.base import SynchronizerBase, check_int

__all__ = ["ExactTimeSynchronizer"]

_LOGGER = logging.getLogger(__name__)


class ExactTimeSynchronizer(SynchronizerBase):
    """Emit one tuple of messages, one per input, whenever all inputs share a stamp.

    Same observable behaviour as ``message_filters.TimeSynchronizer`` (Python, Jazzy and
    Humble): same sets, same order, same queue trimming. Differences, all outside what
    message_filters defines:

    - Stamps are integer nanoseconds given by the caller, so there is no header parsing;
      a negative stamp raises ``ValueError`` (``rclpy.time.Time`` refuses it too).
    - Matched messages are removed from the queues before the callback runs, and the lock
      is released even if the callback raises (upstream leaves its lock held then).
    - ``n_inputs == 1`` is allowed, as upstream: every message is emitted on its own.

    The callback runs while the internal lock is held, as upstream, so callbacks are
    serialised; a callback must not call :meth:`add` on the same synchroniser.

    Attributes:
        sets_emitted: number of tuples passed to the callback.
        dropped: messages discarded without being used: evicted because the queue held
            more than ``queue_size`` messages, or replaced by a later message with the
            same stamp on the same input.
    """

    def __init__(
        self,
        n_inputs: int,
        queue_size: int,
        callback: Callable[[tuple[object, ...]], None],
    ) -> None:
        """Create the synchroniser.

        Args:
            n_inputs: number of inputs, >= 1.
            queue_size: messages kept per input while waiting for a match, >= 1
                (message_filters' ``queue_size``; 0 would discard every message).
            callback: called with a tuple of ``n_inputs`` messages in input order.

        Raises:
            ValueError: if an argument is out of range.
        """
        super().__init__(n_inputs, queue_size, callback)

    def add(self, index: int, stamp_ns: int, msg: object) -> None:
        """Feed one message; may call the callback.

        Args:
            index: input number, ``0 <= index < n_inputs``.
            stamp_ns: header stamp, integer nanoseconds, >= 0.
            msg: the message, passed through untouched.

        Raises:
            ValueError: if ``index`` or ``stamp_ns`` is out of range.
        """
        self._check_index(index)
        check_int("stamp_ns", stamp_ns, 0)
        with self._lock:
            self._store(index, stamp_ns, msg)
            shared = set(self._queues[0]).intersection(*self._queues[1:])
            matched: list[tuple[object, ...]] = []
            for stamp in sorted(shared):
                matched.append(tuple(queue.pop(stamp) for queue in self._queues))
            for msgs in matched:
                self.sets_emitted += 1
                self._callback(msgs)
