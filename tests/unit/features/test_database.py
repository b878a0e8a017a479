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
