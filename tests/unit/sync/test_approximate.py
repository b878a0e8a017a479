"""ApproximateTimeSynchronizer against message_filters' semantics (docs/sync_scenarios.md)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from percept.sync import ApproximateTimeSynchronizer, duration_s_to_ns

from .sync_fixtures import MS, Collector, check_random_run


def _make(n_inputs: int = 2, queue_size: int = 10, slop_ns: int = 10 * MS):
    collector = Collector()
    sync = ApproximateTimeSynchronizer(n_inputs, queue_size, slop_ns, collector)
    return sync, collector


class _OracleApproximate:
    """ORACLE: message_filters' (jazzy) ApproximateTimeSynchronizer.add, transcribed.

    A literal transcription with Python ints in place of rclpy Time/Duration.

    Kept deliberately naive (full itertools.product, list-based checks) so that it is an
    independent check of the optimised implementation.
    """

    def __init__(self, n_inputs: int, queue_size: int, slop_ns: int) -> None:
        self.queues: list[dict[int, object]] = [{} for _ in range(n_inputs)]
        self.queue_size = queue_size
        self.slop = slop_ns
        self.out: list[tuple[object, ...]] = []

    def add(self, msg: object, stamp: int, my_queue_index: int) -> None:
        my_queue = self.queues[my_queue_index]
        my_queue[stamp] = msg
        while len(my_queue) > self.queue_size:
            del my_queue[min(my_queue)]
        search_queues = self.queues[:my_queue_index] + self.queues[my_queue_index + 1 :]
        stamps = []
        for queue in search_queues:
            topic_stamps = []
            for s in queue:
                stamp_delta = abs(s - stamp)
                if stamp_delta > self.slop:
                    continue
                topic_stamps.append((s, stamp_delta))
            if not topic_stamps:
                return
            topic_stamps = sorted(topic_stamps, key=lambda x: x[1])
            stamps.append(topic_stamps)
        for vv in itertools.product(*[list(zip(*s, strict=True))[0] for s in stamps]):  # noqa: RUF015
            vv = list(vv)
            vv.insert(my_queue_index, stamp)
            qt = list(zip(self.queues, vv, strict=True))
            if (max(vv) - min(vv)) < self.slop and len([1 for q, t in qt if t not in q]) == 0:
                msgs = [q[t] for q, t in qt]
                self.out.append(tuple(msgs))
                for q, t in qt:
                    del q[t]
                break


def test_approximate_emits_in_order_perfect_match() -> None:
    sync, got = _make()
    for k in range(5):
        sync.add(0, k * 100 * MS, ("a", k))
        assert len(got.sets) == k
        sync.add(1, k * 100 * MS, ("b", k))
    assert got.sets == [(("a", k), ("b", k)) for k in range(5)]
    assert sync.sets_emitted == 5
    assert sync.queued() == (0, 0)


def test_approximate_emits_set_within_slop() -> None:
    sync, got = _make(slop_ns=10 * MS)
    sync.add(0, 1000 * MS, "a")
    sync.add(1, 1007 * MS, "b")
    assert got.sets == [("a", "b")]


def test_approximate_ignores_jitter_beyond_slop() -> None:
    sync, got = _make(slop_ns=10 * MS)
    sync.add(0, 1000 * MS, "a")
    sync.add(1, 1011 * MS, "b")
    assert got.sets == []
    assert sync.queued() == (1, 1)
    assert sync.latest_stamps() == (1000 * MS, 1011 * MS)


def test_approximate_never_matches_at_exactly_slop() -> None:
    # Candidates are taken with |dt| <= slop, but the span test is strict (< slop).
    sync, got = _make(slop_ns=10 * MS)
    sync.add(0, 1000 * MS, "a")
    sync.add(1, 1010 * MS, "b")
    assert got.sets == []
    sync.add(1, 1010 * MS - 1, "c")
    assert got.sets == [("a", "c")]


def test_approximate_with_zero_slop_never_emits() -> None:
    sync, got = _make(slop_ns=0)
    sync.add(0, 5, "a")
    sync.add(1, 5, "b")
    assert got.sets == []


def test_approximate_skips_dropped_messages_on_one_input() -> None:
    sync, got = _make(queue_size=3)
    for k in range(6):
        sync.add(0, k * 100 * MS, ("a", k))
        if k % 2 == 0:
            sync.add(1, k * 100 * MS + MS, ("b", k))
    assert got.sets == [(("a", k), ("b", k)) for k in (0, 2, 4)]
    assert sync.queued() == (3, 0)


def test_approximate_matches_out_of_order_arrival() -> None:
    sync, got = _make(queue_size=5)
    for k in (3, 0, 4, 1, 2):
        sync.add(0, k * 100 * MS, ("a", k))
    for k in (2, 4, 0, 3, 1):
        sync.add(1, k * 100 * MS + 2 * MS, ("b", k))
    assert got.sets == [(("a", k), ("b", k)) for k in (2, 4, 0, 3, 1)]


def test_approximate_queue_overflow_evicts_oldest_stamp() -> None:
    sync, got = _make(queue_size=2)
    sync.add(0, 300 * MS, "a3")
    sync.add(0, 100 * MS, "a1")
    sync.add(0, 200 * MS, "a2")  # evicts 100 ms, the smallest stamp, not the first arrival
    assert sync.dropped == 1
    sync.add(1, 100 * MS, "b1")
    assert got.sets == []
    sync.add(1, 300 * MS, "b3")
    assert got.sets == [("a3", "b3")]


def test_approximate_message_evicted_on_arrival_is_never_matched() -> None:
    sync, got = _make(queue_size=1)
    sync.add(1, 100 * MS, "b1")
    sync.add(0, 200 * MS, "a2")
    sync.add(0, 100 * MS, "a1")  # older than the queued 200 ms: evicted at once
    assert got.sets == []
    assert sync.dropped == 1
    assert sync.queued() == (1, 1)


def test_approximate_duplicate_stamp_replaces_message() -> None:
    sync, got = _make()
    sync.add(0, 100 * MS, "first")
    sync.add(0, 100 * MS, "second")
    assert sync.queued() == (1, 0)
    assert sync.dropped == 1
    sync.add(1, 100 * MS, "b")
    assert got.sets == [("second", "b")]


def test_approximate_prefers_closest_candidate_then_insertion_order() -> None:
    sync, got = _make(slop_ns=10 * MS)
    sync.add(1, 105 * MS, "b_late")
    sync.add(1, 95 * MS, "b_early")  # same distance as b_late, inserted second
    sync.add(1, 99 * MS, "b_close")
    sync.add(0, 100 * MS, "a")
    assert got.sets == [("a", "b_close")]
    sync.add(0, 100 * MS, "a2")
    assert got.sets[-1] == ("a2", "b_late")  # tie on |dt|: dict order wins


def test_approximate_duplicate_stamp_keeps_dict_position_for_ties() -> None:
    sync, got = _make(slop_ns=10 * MS)
    sync.add(1, 95 * MS, "b_early")
    sync.add(1, 105 * MS, "b_late")
    sync.add(1, 95 * MS, "b_early2")  # replaces, but 95 ms stays first in dict order
    sync.add(0, 100 * MS, "a")
    assert got.sets == [("a", "b_early2")]


def test_approximate_three_inputs_use_product_order() -> None:
    sync, got = _make(n_inputs=3, slop_ns=10 * MS)
    sync.add(0, 100 * MS, "a")
    sync.add(1, 92 * MS, "b92")
    sync.add(1, 101 * MS, "b101")
    sync.add(2, 108 * MS, "c108")
    # a and b find no partner on input 2. When c108 arrives its candidates are a=100
    # (8 ms) and b101 (7 ms); b92 is 16 ms away. Span 100..108 = 8 ms < 10 ms.
    assert got.sets == [("a", "b101", "c108")]
    assert sync.queued() == (0, 1, 0)


def test_approximate_three_inputs_need_all_within_slop() -> None:
    sync, got = _make(n_inputs=3, slop_ns=10 * MS)
    sync.add(0, 100 * MS, "a")
    sync.add(1, 91 * MS, "b")
    sync.add(2, 109 * MS, "c")  # each within 10 ms of a, but span 18 ms
    assert got.sets == []
    sync.add(2, 99 * MS, "c2")
    assert got.sets == [("a", "b", "c2")]


def test_approximate_single_input_emits_each_message() -> None:
    sync, got = _make(n_inputs=1)
    sync.add(0, 1, "x")
    assert got.sets == [("x",)]


def test_approximate_reset_clears_queues_and_latest_stamps() -> None:
    sync, got = _make()
    sync.add(0, 100 * MS, "a")
    sync.reset()
    assert sync.queued() == (0, 0)
    assert sync.latest_stamps() == (None, None)
    sync.add(1, 100 * MS, "b")
    assert got.sets == []


def test_approximate_latest_stamps_kept_after_match() -> None:
    sync, _ = _make()
    sync.add(0, 200 * MS, "a")
    sync.add(0, 100 * MS, "a_old")
    sync.add(1, 100 * MS, "b")
    assert sync.latest_stamps() == (200 * MS, 100 * MS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_inputs": 0}, "n_inputs must be >= 1, got 0"),
        ({"queue_size": 0}, "queue_size must be >= 1, got 0"),
        ({"slop_ns": -1}, "slop_ns must be >= 0, got -1"),
        ({"slop_ns": 0.1}, "slop_ns must be an int"),
    ],
)
def test_approximate_raises_on_bad_constructor_args(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"n_inputs": 2, "queue_size": 5, "slop_ns": MS}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ApproximateTimeSynchronizer(callback=lambda msgs: None, **args)  # type: ignore[arg-type]


def test_approximate_raises_on_bad_index_or_stamp() -> None:
    sync, _ = _make()
    with pytest.raises(ValueError, match=r"index must be in \[0, 1\], got 2"):
        sync.add(2, 0, "x")
    with pytest.raises(ValueError, match="stamp_ns must be >= 0, got -1"):
        sync.add(0, -1, "x")


def test_duration_s_to_ns_truncates_like_rclpy() -> None:
    assert duration_s_to_ns(0.1) == 100_000_000
    assert duration_s_to_ns(0.00013) == 129_999  # 0.00013 * 1e9 = 129999.99999999999


def test_approximate_callback_error_does_not_leave_lock_held() -> None:
    def boom(msgs: tuple[object, ...]) -> None:
        raise RuntimeError("callback failed")

    sync = ApproximateTimeSynchronizer(2, 5, MS, boom)
    sync.add(0, 0, "a")
    with pytest.raises(RuntimeError, match="callback failed"):
        sync.add(1, 0, "b")
    assert sync.queued() == (0, 0)  # lock released, set consumed


def _random_arrivals(
    rng: np.random.Generator, n_inputs: int, n_frames: int
) -> list[tuple[int, int, object]]:
    """Per input: a 10 Hz stream with jitter, drops, duplicate stamps, shuffled arrival."""
    arrivals: list[tuple[int, int, float, object]] = []
    for index in range(n_inputs):
        offset_ns = int(rng.integers(-8 * MS, 8 * MS))
        for k in range(n_frames):
            if rng.random() < 0.1:
                continue  # dropped
            jitter_ns = int(rng.integers(-6 * MS, 6 * MS))
            stamp = max(0, k * 100 * MS + offset_ns + jitter_ns)
            if rng.random() < 0.05:
                stamp = int(rng.integers(0, n_frames * 100 * MS))  # outlier
            arrival_s = stamp / 1e9 + float(rng.exponential(0.05))
            arrivals.append((index, stamp, arrival_s, (index, k)))
            if rng.random() < 0.03:
                arrivals.append((index, stamp, arrival_s + 0.001, (index, k, "dup")))
    arrivals.sort(key=lambda a: a[2])
    return [(index, stamp, msg) for index, stamp, _, msg in arrivals]


@pytest.mark.parametrize(
    ("n_inputs", "queue_size", "slop_ns"),
    [(2, 5, 10 * MS), (2, 1, 10 * MS), (3, 4, 15 * MS), (3, 10, 3 * MS), (4, 3, 20 * MS)],
)
def test_approximate_matches_oracle_on_long_random_sequence(
    n_inputs: int, queue_size: int, slop_ns: int
) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        arrivals = _random_arrivals(rng, n_inputs, 200)
        sync, got = _make(n_inputs, queue_size, slop_ns)
        oracle = _OracleApproximate(n_inputs, queue_size, slop_ns)
        for index, stamp, msg in arrivals:
            sync.add(index, stamp, msg)
            oracle.add(msg, stamp, index)
            assert got.sets == oracle.out
        assert sync.queued() == tuple(len(q) for q in oracle.queues)
        assert sync.sets_emitted == len(oracle.out)


def test_approximate_matches_oracle_on_dense_integer_stamps() -> None:
    # Small integer stamps make exact ties, equal distances and slop boundaries common.
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_inputs = int(rng.integers(1, 5))
        queue_size = int(rng.integers(1, 6))
        slop_ns = int(rng.integers(0, 6))
        sync, got = _make(n_inputs, queue_size, slop_ns)
        oracle = _OracleApproximate(n_inputs, queue_size, slop_ns)
        check_random_run(rng, sync, got, oracle, steps=60, stamps=30)
