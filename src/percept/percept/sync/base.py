"""Queues shared by the synchronisers: message_filters' per-input dicts keyed by stamp."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable

__all__ = ["SynchronizerBase"]


def check_int(name: str, value: object, minimum: int) -> int:
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


class SynchronizerBase(abc.ABC):
    """Per-input queues, counters and the lock of a message_filters-style synchroniser.

    Subclasses implement ``_match``, which finds the sets a new message completes.
    Differences from message_filters common to both synchronisers:

    - Stamps are integer nanoseconds given by the caller, so there is no header parsing;
      a negative stamp raises ``ValueError`` (``rclpy.time.Time`` refuses it too).
    - Matched messages are removed from the queues before the callback runs, and the lock
      is released even if the callback raises (upstream leaves its lock held then).
    - ``n_inputs == 1`` is allowed, as upstream.

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
        """Create the synchroniser, with empty queues.

        Args:
            n_inputs: number of inputs, >= 1.
            queue_size: messages kept per input while waiting for a match, >= 1
                (message_filters' ``queue_size``; 0 would discard every message).
            callback: called with a tuple of ``n_inputs`` messages in input order.

        Raises:
            ValueError: if an argument is out of range.
        """
        self._n_inputs = check_int("n_inputs", n_inputs, 1)
        self._queue_size = check_int("queue_size", queue_size, 1)
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

    def add(self, index: int, stamp_ns: int, msg: object) -> None:
        """Feed one message; calls the callback once per set it completes.

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
            for msgs in self._match(index, stamp_ns):
                self.sets_emitted += 1
                self._callback(msgs)

    @abc.abstractmethod
    def _match(self, index: int, stamp_ns: int) -> list[tuple[object, ...]]:
        """Sets, in input order, that the message just stored completes (lock held).

        Their messages are removed from the queues before this returns.

        Args:
            index: the input the message came on.
            stamp_ns: its stamp, integer nanoseconds.
        """

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
