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
import threading
from collections.abc import Callable

__all__ = ["ExactTimeSynchronizer"]

_LOGGER = logging.getLogger(__name__)


def _check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) >= ``minimum``.

    Raises:
        ValueError: if it is not.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name} must be an int, got {type(value).__name__} {value!r}"
        raise ValueError(msg)
    if value < minimum:
        msg = f"{name} must be >= {minimum}, got {value}"
        raise ValueError(msg)
    return value


class ExactTimeSynchronizer:
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
        self._n_inputs = _check_int("n_inputs", n_inputs, 1)
        self._queue_size = _check_int("queue_size", queue_size, 1)
        if not callable(callback):
            msg = f"callback must be callable, got {type(callback).__name__}"
            raise ValueError(msg)
        self._callback = callback
        self._lock = threading.Lock()
        self._queues: list[dict[int, object]] = [{} for _ in range(n_inputs)]
        self._latest: list[int | None] = [None] * n_inputs
        self.sets_emitted = 0
        self.dropped = 0

    @property
    def n_inputs(self) -> int:
        """Number of inputs."""
        return self._n_inputs

    @property
    def queue_size(self) -> int:
        """Messages kept per input."""
        return self._queue_size

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
        _check_int("stamp_ns", stamp_ns, 0)
        with self._lock:
            self._store(index, stamp_ns, msg)
            shared = set(self._queues[0]).intersection(*self._queues[1:])
            matched: list[tuple[object, ...]] = []
            for stamp in sorted(shared):
                matched.append(tuple(queue.pop(stamp) for queue in self._queues))
            for msgs in matched:
                self.sets_emitted += 1
                self._callback(msgs)

    def reset(self) -> None:
        """Forget queued messages and latest stamps (counters are kept)."""
        with self._lock:
            for queue in self._queues:
                queue.clear()
            self._latest = [None] * self._n_inputs

    def queued(self) -> tuple[int, ...]:
        """Messages waiting per input."""
        with self._lock:
            return tuple(len(queue) for queue in self._queues)

    def latest_stamps(self) -> tuple[int | None, ...]:
        """Largest stamp (ns) seen per input since the last reset, ``None`` if none yet.

        Kept after matching, so diagnostics can show stamp offsets between inputs that
        arrive but never synchronise.
        """
        with self._lock:
            return tuple(self._latest)

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            msg = f"index must be an int, got {type(index).__name__} {index!r}"
            raise ValueError(msg)
        if not 0 <= index < self._n_inputs:
            msg = f"index must be in [0, {self._n_inputs - 1}], got {index}"
            raise ValueError(msg)

    def _store(self, index: int, stamp_ns: int, msg: object) -> None:
        """Queue a message and trim the queue, as message_filters does (lock held)."""
        latest = self._latest[index]
        if latest is None or stamp_ns > latest:
            self._latest[index] = stamp_ns
        queue = self._queues[index]
        if stamp_ns in queue:
            # dict assignment keeps the key's original position, as upstream.
            self.dropped += 1
        queue[stamp_ns] = msg
        while len(queue) > self._queue_size:
            del queue[min(queue)]
            self.dropped += 1
