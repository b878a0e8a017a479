"""ExactTimeSynchronizer against message_filters' semantics (docs/sync_scenarios.md)."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest

from percept.sync import ExactTimeSynchronizer

from .sync_fixtures import MS, Collector, check_random_run


def _make(n_inputs: int = 2, queue_size: int = 10):
    collector = Collector()
    return ExactTimeSynchronizer(n_inputs, queue_size, collector), collector


class _OracleExact:
    """ORACLE: message_filters' (jazzy) TimeSynchronizer.add, transcribed.

    A literal transcription with Python ints in place of rclpy Time.
    """

    def __init__(self, n_inputs: int, queue_size: int) -> None:
        self.queues: list[dict[int, object]] = [{} for _ in range(n_inputs)]
        self.queue_size = queue_size
        self.out: list[tuple[object, ...]] = []

    def add(self, msg: object, stamp: int, my_queue_index: int) -> None:
        my_queue = self.queues[my_queue_index]
        my_queue[stamp] = msg
        while len(my_queue) > self.queue_size:
            del my_queue[min(my_queue)]
        common = reduce(set.intersection, [set(q) for q in self.queues])
        for t in sorted(common):
            msgs = [q[t] for q in self.queues]
            self.out.append(tuple(msgs))
            for q in self.queues:
                del q[t]


def test_exact_emits_in_order_perfect_match() -> None:
    sync, got = _make()
    for k in range(4):
        sync.add(0, k * 100 * MS, ("a", k))
        sync.add(1, k * 100 * MS, ("b", k))
    assert got.sets == [(("a", k), ("b", k)) for k in range(4)]
    assert sync.sets_emitted == 4


def test_exact_ignores_stamps_one_ns_apart() -> None:
    sync, got = _make()
    sync.add(0, 100 * MS, "a")
    sync.add(1, 100 * MS + 1, "b")
    assert got.sets == []
    assert sync.queued() == (1, 1)
    assert sync.latest_stamps() == (100 * MS, 100 * MS + 1)


def test_exact_skips_dropped_messages_on_one_input() -> None:
    sync, got = _make(queue_size=2)
    for k in range(5):
        sync.add(0, k, ("a", k))
        if k != 2:
            sync.add(1, k, ("b", k))
    assert [s[0] for s in got.sets] == [("a", k) for k in (0, 1, 3, 4)]
    assert sync.queued() == (1, 0)


def test_exact_matches_out_of_order_arrival() -> None:
    sync, got = _make()
    for k in (2, 0, 1):
        sync.add(0, k, ("a", k))
    for k in (1, 2, 0):
        sync.add(1, k, ("b", k))
    assert got.sets == [(("a", k), ("b", k)) for k in (1, 2, 0)]


def test_exact_queue_overflow_evicts_smallest_stamp() -> None:
    sync, got = _make(queue_size=2)
    sync.add(0, 30, "a30")
    sync.add(0, 10, "a10")
    sync.add(0, 20, "a20")
    assert sync.dropped == 1
    sync.add(1, 10, "b10")
    assert got.sets == []
    sync.add(1, 20, "b20")
    assert got.sets == [("a20", "b20")]


def test_exact_duplicate_stamp_replaces_message() -> None:
    sync, got = _make()
    sync.add(0, 5, "first")
    sync.add(0, 5, "second")
    sync.add(1, 5, "b")
    assert got.sets == [("second", "b")]
    assert sync.dropped == 1


def test_exact_three_inputs_wait_for_all() -> None:
    sync, got = _make(n_inputs=3)
    sync.add(0, 7, "a")
    sync.add(2, 7, "c")
    assert got.sets == []
    sync.add(1, 7, "b")
    assert got.sets == [("a", "b", "c")]


def test_exact_reset_clears_queues() -> None:
    sync, got = _make()
    sync.add(0, 7, "a")
    sync.reset()
    sync.add(1, 7, "b")
    assert got.sets == []
    assert sync.queued() == (0, 1)


@pytest.mark.parametrize(
    ("n_inputs", "queue_size", "match"),
    [(0, 5, "n_inputs must be >= 1, got 0"), (2, 0, "queue_size must be >= 1, got 0")],
)
def test_exact_raises_on_bad_constructor_args(n_inputs: int, queue_size: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExactTimeSynchronizer(n_inputs, queue_size, lambda msgs: None)


def test_exact_raises_on_negative_stamp() -> None:
    sync, _ = _make()
    with pytest.raises(ValueError, match="stamp_ns must be >= 0, got -5"):
        sync.add(0, -5, "x")


def test_exact_matches_oracle_on_long_random_sequence() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_inputs = int(rng.integers(1, 5))
        queue_size = int(rng.integers(1, 6))
        sync, got = _make(n_inputs, queue_size)
        check_random_run(rng, sync, got, _OracleExact(n_inputs, queue_size), steps=80, stamps=20)
