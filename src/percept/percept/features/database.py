"""Feature observations by track id and stamp: what an MSCKF update reads.

As OpenVINS' ``FeatureDatabase``, but stored per frame: each :class:`FeatureFrame`
added becomes one block of arrays sorted by track id, so adding a frame, dropping old
frames and finding lost tracks are array operations; a track's observations are one
binary search per kept frame. The database is bounded: it keeps at most
``max_frames`` frames (the oldest goes first), which the estimator sets to at least its
clone window.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.features.klt import FeatureFrame

__all__ = ["FeatureDatabase", "TrackObservations"]


@dataclass(frozen=True, slots=True, eq=False)
class TrackObservations:
    """Every kept observation of one track, oldest first.

    Attributes:
        track_id: the track.
        stamps_ns: (M,) int64 frame stamps, increasing, nanoseconds.
        uv_left: (M, 2) float32 rectified left positions, pixels.
        uv_right: (M, 2) float32 rectified right positions, pixels; NaN without a
            stereo match.
    """

    track_id: int
    stamps_ns: npt.NDArray[np.int64]
    uv_left: npt.NDArray[np.float32]
    uv_right: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.stamps_ns.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class _Block:
    """One frame's observations, sorted by id."""

    ids: npt.NDArray[np.int64]
    uv_left: npt.NDArray[np.float32]
    uv_right: npt.NDArray[np.float32]

    def without(self, drop: npt.NDArray[np.int64]) -> _Block:
        keep = ~np.isin(self.ids, drop)
        return _Block(self.ids[keep], self.uv_left[keep], self.uv_right[keep])


class FeatureDatabase:
    """Observations of the tracks over the last ``max_frames`` frames.

    >>> from percept.features.klt import TrackCounts
    >>> uv = np.zeros((2, 2), np.float32)
    >>> db = FeatureDatabase()
    >>> db.add(FeatureFrame(10, np.array([0, 1]), uv, uv, np.ones(2, np.int32), TrackCounts()))
    >>> db.add(FeatureFrame(20, np.array([1]), uv[:1], uv[:1], np.ones(1, np.int32), TrackCounts()))
    >>> db.tracks_lost_since(20).tolist(), len(db.observations(1))
    ([0], 2)
    """

    def __init__(self, max_frames: int = 30) -> None:
        """Start empty.

        Args:
            max_frames: frames kept at most (>= 1).

        Raises:
            ValueError: ``max_frames < 1``.
        """
        if max_frames < 1:
            msg = f"max_frames must be >= 1, got {max_frames}"
            raise ValueError(msg)
        self.max_frames = max_frames
        self._blocks: OrderedDict[int, _Block] = OrderedDict()

    def __len__(self) -> int:
        """Number of kept frames."""
        return len(self._blocks)

    @property
    def stamps_ns(self) -> npt.NDArray[np.int64]:
        """(F,) int64 stamps of the kept frames, increasing."""
        return np.fromiter(self._blocks.keys(), np.int64, len(self._blocks))

    def add(self, frame: FeatureFrame) -> None:
        """Store a frame's observations (the oldest frame goes when over ``max_frames``).

        Raises:
            ValueError: ``frame.stamp_ns`` is not later than the newest kept frame.
        """
        if self._blocks and frame.stamp_ns <= next(reversed(self._blocks)):
            newest = next(reversed(self._blocks))
            msg = f"frames must be added in stamp order: {frame.stamp_ns} after {newest}"
            raise ValueError(msg)
        order = np.argsort(frame.ids, kind="stable")
        self._blocks[int(frame.stamp_ns)] = _Block(
            np.asarray(frame.ids[order], dtype=np.int64),
            np.asarray(frame.uv_left[order], dtype=np.float32),
            np.asarray(frame.uv_right[order], dtype=np.float32),
        )
        while len(self._blocks) > self.max_frames:
            self._blocks.popitem(last=False)

    def track_ids(self) -> npt.NDArray[np.int64]:
        """(K,) int64 ids of every track with a kept observation, increasing."""
        if not self._blocks:
            return np.empty(0, np.int64)
        return np.unique(np.concatenate([b.ids for b in self._blocks.values()]))

    def observations(self, track_id: int) -> TrackObservations:
        """Every kept observation of a track (empty arrays for an unknown id)."""
        stamps: list[int] = []
        left: list[npt.NDArray[np.float32]] = []
        right: list[npt.NDArray[np.float32]] = []
        # One binary search per kept frame; the frames are few (the clone window).
        for stamp, block in self._blocks.items():
            i = int(np.searchsorted(block.ids, track_id))
            if i < block.ids.shape[0] and block.ids[i] == track_id:
                stamps.append(stamp)
                left.append(block.uv_left[i])
                right.append(block.uv_right[i])
        if not stamps:
            empty = np.empty((0, 2), np.float32)
            return TrackObservations(int(track_id), np.empty(0, np.int64), empty, empty.copy())
        return TrackObservations(
            int(track_id),
            np.asarray(stamps, dtype=np.int64),
            np.stack(left).astype(np.float32),
            np.stack(right).astype(np.float32),
        )

    def tracks_seen_at(self, stamp_ns: int) -> npt.NDArray[np.int64]:
        """(K,) int64 ids observed in the frame at ``stamp_ns`` (empty if none kept)."""
        block = self._blocks.get(int(stamp_ns))
        return np.empty(0, np.int64) if block is None else block.ids.copy()

    def tracks_lost_since(self, stamp_ns: int) -> npt.NDArray[np.int64]:
        """Tracks with no observation at or after ``stamp_ns``.

        Called with the newest frame's stamp, these are the tracks that frame lost: the
        ones an MSCKF updates with and then removes.

        Returns:
            (K,) int64 ids, increasing.
        """
        older = [b.ids for s, b in self._blocks.items() if s < stamp_ns]
        newer = [b.ids for s, b in self._blocks.items() if s >= stamp_ns]
        if not older:
            return np.empty(0, np.int64)
        seen_before = np.unique(np.concatenate(older))
        if not newer:
            return seen_before
        return np.setdiff1d(seen_before, np.concatenate(newer), assume_unique=False)

    def remove_tracks(self, track_ids: npt.ArrayLike) -> None:
        """Forget every observation of the given tracks (after an update used them)."""
        drop = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if drop.size == 0:
            return
        for stamp, block in self._blocks.items():
            self._blocks[stamp] = block.without(drop)

    def clean_older_than(self, stamp_ns: int) -> None:
        """Forget the frames before ``stamp_ns`` (a marginalised clone's and older)."""
        for stamp in [s for s in self._blocks if s < stamp_ns]:
            del self._blocks[stamp]
