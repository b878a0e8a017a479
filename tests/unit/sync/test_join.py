"""StampJoin: newest primary item first, nearest secondary item, bounded."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from percept.sync import StampJoin

MS = 1_000_000


def test_a_primary_item_waits_for_a_secondary_item_within_the_tolerance() -> None:
    join: StampJoin[str, str] = StampJoin()
    join.add_primary(100 * MS, "frame")
    join.add_secondary(120 * MS, "late depth")
    assert join.pop_match(10 * MS) is None
    join.add_secondary(105 * MS, "depth")
    assert join.pop_match(10 * MS) == ("frame", "depth")
    assert join.pop_match(10 * MS) is None


def test_the_tolerance_is_inclusive() -> None:
    join: StampJoin[str, str] = StampJoin()
    join.add_primary(100, "frame")
    join.add_secondary(110, "depth")
    assert join.pop_match(9) is None
    assert join.pop_match(10) == ("frame", "depth")


def test_the_newest_primary_item_with_a_partner_wins_and_older_ones_go() -> None:
    join: StampJoin[int, int] = StampJoin()
    for stamp in (100, 200, 300):
        join.add_primary(stamp, stamp)
    join.add_secondary(100, 100)
    join.add_secondary(200, 200)
    assert join.pop_match(0) == (200, 200)
    # Frame 100 and depth 100 were older than the pair: gone.
    join.add_secondary(100, 100)
    assert join.pop_match(0) is None
    join.add_secondary(300, 300)
    assert join.pop_match(0) == (300, 300)


def test_the_nearest_secondary_item_is_taken_and_the_older_one_on_a_tie() -> None:
    join: StampJoin[str, str] = StampJoin()
    join.add_primary(100, "frame")
    join.add_secondary(94, "far")
    join.add_secondary(97, "before")
    join.add_secondary(103, "after")
    assert join.pop_match(10) == ("frame", "before")
    # "after" arrived later than the match: it is kept.
    join.add_primary(103, "next")
    assert join.pop_match(0) == ("next", "after")


def test_each_stream_keeps_only_its_newest_items() -> None:
    join: StampJoin[int, int] = StampJoin(capacity=2)
    for stamp in (1, 2, 3):
        join.add_primary(stamp, stamp)
    join.add_secondary(1, 1)
    assert join.pop_match(0) is None  # primary 1 was pushed out
    join.add_secondary(2, 2)
    assert join.pop_match(0) == (2, 2)


def test_a_capacity_below_one_raises() -> None:
    with pytest.raises(ValueError, match="capacity must be >= 1, got 0"):
        StampJoin(capacity=0)


def _oracle_pairs(events: list[tuple[str, int]], tolerance: int) -> list[tuple[int, int]]:
    """ORACLE: DetectorNode's former ``_match_depth`` over deques of five, transcribed."""
    frames: deque[int] = deque(maxlen=5)
    depths: deque[int] = deque(maxlen=5)
    out: list[tuple[int, int]] = []
    for kind, stamp in events:
        (frames if kind == "frame" else depths).append(stamp)
        for fi in range(len(frames) - 1, -1, -1):
            near = [(abs(s - frames[fi]), di) for di, s in enumerate(depths)]
            near = [(d, di) for d, di in near if d <= tolerance]
            if not near:
                continue
            _, di = min(near)
            pair = (frames[fi], depths[di])
            for _ in range(fi + 1):
                frames.popleft()
            for _ in range(di + 1):
                depths.popleft()
            out.append(pair)
            break
    return out


@pytest.mark.parametrize("seed", range(20))
def test_pairs_equal_the_former_detector_join_on_random_streams(seed: int) -> None:
    rng = np.random.default_rng(seed)
    events: list[tuple[str, int]] = []
    for frame in range(60):
        stamp = frame * 33
        kinds = ["frame", "depth"] if rng.random() < 0.5 else ["depth", "frame"]
        for kind in kinds:
            if rng.random() < 0.8:
                jitter = int(rng.integers(-4, 5)) if kind == "depth" else 0
                delay = int(rng.integers(0, 4))
                events.insert(max(len(events) - delay, 0), (kind, stamp + jitter))
    join: StampJoin[int, int] = StampJoin()
    pairs = []
    for kind, stamp in events:
        if kind == "frame":
            join.add_primary(stamp, stamp)
        else:
            join.add_secondary(stamp, stamp)
        match = join.pop_match(3)
        if match is not None:
            pairs.append(match)
    assert pairs == _oracle_pairs(events, 3)
    assert pairs  # the streams overlap: some pairs form
