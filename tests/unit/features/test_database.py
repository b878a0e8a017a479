"""FeatureDatabase bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from percept.features import FeatureDatabase, FeatureFrame, TrackCounts


def _frame(stamp_ns: int, ids: list[int]) -> FeatureFrame:
    n = len(ids)
    uv = np.column_stack([np.asarray(ids, np.float32), np.full(n, stamp_ns, np.float32)])
    right = uv - np.array([5.0, 0.0], np.float32)
    right[np.asarray(ids) % 2 == 1] = np.nan
    return FeatureFrame(
        stamp_ns, np.asarray(ids, np.int64), uv, right, np.ones(n, np.int32), TrackCounts()
    )


def test_observations_of_a_track_come_in_stamp_order() -> None:
    db = FeatureDatabase()
    db.add(_frame(10, [3, 1, 2]))
    db.add(_frame(20, [2, 3]))
    db.add(_frame(30, [3, 4]))
    obs = db.observations(3)
    np.testing.assert_array_equal(obs.stamps_ns, [10, 20, 30])
    np.testing.assert_array_equal(obs.uv_left[:, 1], [10, 20, 30])
    assert np.isnan(obs.uv_right).all()
    obs2 = db.observations(2)
    np.testing.assert_allclose(obs2.uv_right, [[-3, 10], [-3, 20]])
    assert len(db.observations(99)) == 0
    np.testing.assert_array_equal(db.track_ids(), [1, 2, 3, 4])
    np.testing.assert_array_equal(db.tracks_seen_at(20), [2, 3])
    assert db.tracks_seen_at(25).size == 0


def test_tracks_lost_since_the_newest_frame() -> None:
    db = FeatureDatabase()
    db.add(_frame(10, [1, 2, 3]))
    db.add(_frame(20, [2, 3, 4]))
    db.add(_frame(30, [3, 5]))
    np.testing.assert_array_equal(db.tracks_lost_since(30), [1, 2, 4])
    np.testing.assert_array_equal(db.tracks_lost_since(20), [1])
    assert db.tracks_lost_since(10).size == 0
    np.testing.assert_array_equal(db.tracks_lost_since(40), [1, 2, 3, 4, 5])
    db.remove_tracks([1, 2, 4])
    assert db.tracks_lost_since(30).size == 0
    assert len(db.observations(2)) == 0


def test_clean_and_bound_drop_the_oldest_frames() -> None:
    db = FeatureDatabase(max_frames=3)
    for k in range(5):
        db.add(_frame(10 * (k + 1), [k, k + 1]))
    np.testing.assert_array_equal(db.stamps_ns, [30, 40, 50])
    np.testing.assert_array_equal(db.observations(3).stamps_ns, [30, 40])
    db.clean_older_than(50)
    np.testing.assert_array_equal(db.stamps_ns, [50])
    np.testing.assert_array_equal(db.track_ids(), [4, 5])
    assert len(db) == 1


def test_database_raises_on_bad_use() -> None:
    with pytest.raises(ValueError, match="max_frames"):
        FeatureDatabase(0)
    db = FeatureDatabase()
    db.add(_frame(10, [1]))
    with pytest.raises(ValueError, match="stamp order"):
        db.add(_frame(10, [2]))


class _PerFrameDatabase:
    """The database as it was stored before (one id-sorted block per frame, queried
    track by track): the reference the table must match to the bit."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.blocks: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def add(self, frame: FeatureFrame) -> None:
        order = np.argsort(frame.ids, kind="stable")
        self.blocks[frame.stamp_ns] = (
            frame.ids[order],
            frame.uv_left[order],
            frame.uv_right[order],
        )
        while len(self.blocks) > self.max_frames:
            del self.blocks[next(iter(self.blocks))]

    def observations(self, track_id: int) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
        stamps, left, right = [], [], []
        for stamp, (ids, uv_l, uv_r) in self.blocks.items():
            i = int(np.searchsorted(ids, track_id))
            if i < ids.shape[0] and ids[i] == track_id:
                stamps.append(stamp)
                left.append(uv_l[i])
                right.append(uv_r[i])
        return stamps, left, right

    def lost_since(self, stamp_ns: int) -> np.ndarray:
        older = [b[0] for s, b in self.blocks.items() if s < stamp_ns]
        newer = [b[0] for s, b in self.blocks.items() if s >= stamp_ns]
        if not older:
            return np.empty(0, np.int64)
        seen = np.unique(np.concatenate(older))
        return seen if not newer else np.setdiff1d(seen, np.concatenate(newer))

    def remove(self, drop: np.ndarray) -> None:
        for s, (ids, uv_l, uv_r) in self.blocks.items():
            keep = ~np.isin(ids, drop)
            self.blocks[s] = (ids[keep], uv_l[keep], uv_r[keep])

    def clean(self, stamp_ns: int) -> None:
        for s in [s for s in self.blocks if s < stamp_ns]:
            del self.blocks[s]


def test_table_matches_the_per_frame_reference_on_random_use() -> None:
    rng = np.random.default_rng(7)
    db, ref = FeatureDatabase(max_frames=12), _PerFrameDatabase(12)
    alive = list(range(40))
    next_id = 40
    for k in range(80):
        stamp = 1000 * (k + 1)
        # Tracks end, new ones start; ids arrive unordered, some right positions NaN.
        alive = [i for i in alive if rng.random() > 0.15]
        born = int(rng.integers(0, 10))
        alive += list(range(next_id, next_id + born))
        next_id += born
        ids = rng.permutation(np.asarray(alive, np.int64))
        uv = rng.uniform(0, 640, (ids.shape[0], 2)).astype(np.float32)
        right = uv - np.float32(5.0)
        right[rng.random(ids.shape[0]) < 0.3] = np.nan
        frame = FeatureFrame(stamp, ids, uv, right, np.ones(ids.shape[0], np.int32), TrackCounts())
        db.add(frame)
        ref.add(frame)
        lost = db.tracks_lost_since(stamp)
        np.testing.assert_array_equal(lost, ref.lost_since(stamp))
        assert lost.dtype == np.int64
        query = np.concatenate([lost, rng.integers(0, next_id + 5, 6)])
        many = db.observations_many(query)
        assert [t.track_id for t in many] == query.tolist()
        for t in many:
            stamps, left, right_ref = ref.observations(t.track_id)
            one = db.observations(t.track_id)
            for obs in (t, one):
                np.testing.assert_array_equal(obs.stamps_ns, stamps)
                assert obs.stamps_ns.dtype == np.int64
                assert obs.uv_left.shape == (len(stamps), 2)
                if stamps:
                    np.testing.assert_array_equal(obs.uv_left, np.stack(left))
                    np.testing.assert_array_equal(obs.uv_right, np.stack(right_ref))
        oldest = next(iter(ref.blocks))
        np.testing.assert_array_equal(db.tracks_seen_at(oldest), ref.blocks[oldest][0])
        np.testing.assert_array_equal(db.stamps_ns, list(ref.blocks))
        db.remove_tracks(lost)
        ref.remove(lost)
        if k % 7 == 6:
            cut = stamp - 5000
            db.clean_older_than(cut)
            ref.clean(cut)
        np.testing.assert_array_equal(
            db.track_ids(), np.unique(np.concatenate([b[0] for b in ref.blocks.values()]))
        )
        assert len(db) == len(ref.blocks)
    assert db.observations_many([]) == []
