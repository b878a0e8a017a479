"""Feature observations by track id and stamp: what an MSCKF update reads.

As OpenVINS' ``FeatureDatabase``, but stored as one table of rows (frame stamp, track
id, left and right positions), ordered by frame and, within a frame, by track id. Adding
a frame appends its rows; dropping old frames cuts a prefix; finding lost tracks,
forgetting used ones and gathering the observations of many tracks at once
(:meth:`FeatureDatabase.observations_many`) are each a few array operations over the
table, with no loop over tracks or frames. The database is bounded: it keeps at most
``max_frames`` frames (the oldest goes first), which the estimator sets to at least its
clone window.
"""

from __future__ import annotations

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


class FeatureDatabase:
    """Observations of the tracks over the last ``max_frames`` frames.

    >>> from percept.features.klt import TrackCounts
    >>> uv = np.zeros((2, 2), np.float32)
    >>> db = FeatureDatabase()
    >>> db.add(FeatureFrame(10, np.array([0, 1]), uv, uv, np.ones(2, np.int32), TrackCounts()))
    >>> db.add(FeatureFrame(20, np.array([1]), uv[:1], uv[:1], np.ones(1, np.int32), TrackCounts()))
    >>> db.tracks_lost_since(20).tolist(), len(db.observations(1))
    ([0], 2)
    >>> [len(t) for t in db.observations_many([1, 0, 7])]
    [2, 1, 0]
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
        # Kept frames (a frame stays kept when all its tracks are removed).
        self._stamps: list[int] = []
        # The table, one row per observation, by frame stamp then track id.
        self._frame = np.empty(0, np.int64)
        self._ids = np.empty(0, np.int64)
        self._uv_left = np.empty((0, 2), np.float32)
        self._uv_right = np.empty((0, 2), np.float32)

    def __len__(self) -> int:
        """Number of kept frames."""
        return len(self._stamps)

    @property
    def stamps_ns(self) -> npt.NDArray[np.int64]:
        """(F,) int64 stamps of the kept frames, increasing."""
        return np.array(self._stamps, dtype=np.int64).reshape(-1)

    def _keep_rows(self, keep: slice | npt.NDArray[np.bool_]) -> None:
        self._frame = self._frame[keep]
        self._ids = self._ids[keep]
        self._uv_left = self._uv_left[keep]
        self._uv_right = self._uv_right[keep]

    def add(self, frame: FeatureFrame) -> None:
        """Store a frame's observations (the oldest frame goes when over ``max_frames``).

        Raises:
            ValueError: ``frame.stamp_ns`` is not later than the newest kept frame.
        """
        stamp = int(frame.stamp_ns)
        if self._stamps and stamp <= self._stamps[-1]:
            newest = self._stamps[-1]
            msg = f"frames must be added in stamp order: {stamp} after {newest}"
            raise ValueError(msg)
        order = np.argsort(frame.ids, kind="stable")
        n = order.shape[0]
        self._frame = np.concatenate([self._frame, np.full(n, stamp, np.int64)])
        self._ids = np.concatenate([self._ids, np.asarray(frame.ids[order], dtype=np.int64)])
        self._uv_left = np.concatenate(
            [self._uv_left, np.asarray(frame.uv_left[order], dtype=np.float32).reshape(-1, 2)]
        )
        self._uv_right = np.concatenate(
            [self._uv_right, np.asarray(frame.uv_right[order], dtype=np.float32).reshape(-1, 2)]
        )
        self._stamps.append(stamp)
        if len(self._stamps) > self.max_frames:
            del self._stamps[: len(self._stamps) - self.max_frames]
            self._keep_rows(slice(self._first_row_at(self._stamps[0]), None))

    def _first_row_at(self, stamp_ns: int) -> int:
        """Index of the first row of a frame at or after ``stamp_ns``."""
        return int(np.searchsorted(self._frame, stamp_ns, side="left"))

    def track_ids(self) -> npt.NDArray[np.int64]:
        """(K,) int64 ids of every track with a kept observation, increasing."""
        return np.unique(self._ids)

    def observations(self, track_id: int) -> TrackObservations:
        """Every kept observation of a track (empty arrays for an unknown id)."""
        rows = np.flatnonzero(self._ids == track_id)
        return TrackObservations(
            int(track_id), self._frame[rows], self._uv_left[rows], self._uv_right[rows]
        )

    def observations_many(self, track_ids: npt.ArrayLike) -> list[TrackObservations]:
        """:meth:`observations` of many tracks at once, in the order given.

        One pass over the table: the rows of the wanted tracks, stably sorted by id (so
        each track's rows stay in stamp order), cut into one slice per track.

        Args:
            track_ids: (K,) int track ids (unknown ids give empty observations).

        Returns:
            K observations, the k-th of ``track_ids[k]``; their arrays are views of one
            gathered copy, never of the database's own storage.
        """
        want = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if want.shape[0] == 0:
            return []
        uniq = np.unique(want)
        slot = np.minimum(np.searchsorted(uniq, self._ids), uniq.shape[0] - 1)
        rows = np.flatnonzero(uniq[slot] == self._ids)
        rows = rows[np.argsort(self._ids[rows], kind="stable")]
        ids = self._ids[rows]
        stamps, left, right = self._frame[rows], self._uv_left[rows], self._uv_right[rows]
        starts = np.searchsorted(ids, want, side="left").tolist()
        ends = np.searchsorted(ids, want, side="right").tolist()
        return [
            TrackObservations(t, stamps[a:b], left[a:b], right[a:b])
            for t, a, b in zip(want.tolist(), starts, ends, strict=True)
        ]

    def tracks_seen_at(self, stamp_ns: int) -> npt.NDArray[np.int64]:
        """(K,) int64 ids observed in the frame at ``stamp_ns`` (empty if none kept)."""
        stamp = int(stamp_ns)
        start = self._first_row_at(stamp)
        end = int(np.searchsorted(self._frame, stamp, side="right"))
        seen: npt.NDArray[np.int64] = self._ids[start:end].copy()
        return seen

    def tracks_lost_since(self, stamp_ns: int) -> npt.NDArray[np.int64]:
        """Tracks with no observation at or after ``stamp_ns``.

        Called with the newest frame's stamp, these are the tracks that frame lost: the
        ones an MSCKF updates with and then removes.

        Returns:
            (K,) int64 ids, increasing.
        """
        cut = self._first_row_at(int(stamp_ns))
        lost: npt.NDArray[np.int64] = np.setdiff1d(self._ids[:cut], self._ids[cut:])
        return lost

    def remove_tracks(self, track_ids: npt.ArrayLike) -> None:
        """Forget every observation of the given tracks (after an update used them)."""
        drop = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if drop.size == 0:
            return
        self._keep_rows(~np.isin(self._ids, drop))

    def clean_older_than(self, stamp_ns: int) -> None:
        """Forget the frames before ``stamp_ns`` (a marginalised clone's and older)."""
        stamp = int(stamp_ns)
        self._stamps = [s for s in self._stamps if s >= stamp]
        self._keep_rows(slice(self._first_row_at(stamp), None))
