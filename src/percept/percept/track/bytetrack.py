"""ByteTrack-style multi-object tracker (Zhang et al., ECCV 2022).

Each track has a constant-velocity Kalman filter on its box state
``[cx, cy, a, h, vcx, vcy, va, vh]`` (centre, aspect ratio w / h, height, and their
velocities per frame), with ByteTrack's noise model (standard deviations proportional
to the box height: 1/20 for positions, 1/160 for velocities). The filters of all tracks
step together, stacked (:mod:`percept.track.kalman`: no maintained library batches Kalman
filters across tracks; ``filterpy``'s ``KalmanFilter``, one per track stepped from Python,
cost about 20 ms of a 300-track frame, and it remains the reference the batch is tested
against).
Tracks are kept as arrays (one row each), so a frame costs a few array operations
whatever the number of tracks. Per frame:

1. every track predicts (several steps when frames were skipped, judged from stamps);
   with ``camera_motion`` on, the image shift that the camera's own motion gives every
   box is then estimated from the detections (:func:`estimate_shift`) and applied to
   all tracks, as BoT-SORT's camera-motion compensation does from the image;
2. high-score detections are matched to active and lost tracks by Hungarian
   assignment (``scipy.optimize.linear_sum_assignment``) on 1 - IoU;
3. low-score detections are matched to the active tracks still unmatched (the "BYTE"
   step: occluded or blurred objects keep their ids);
4. tentative tracks take what is left of the high-score detections; the others die;
5. high-score detections left over scoring at least ``high_score + 0.1`` (ByteTrack's
   ``det_thresh``) start tentative tracks; a track is confirmed, and
   gets the next id, after ``min_hits`` consecutive matches; a track unmatched for more
   than ``max_age`` frames is removed.

Matching is class-aware (a track never takes a detection of another class). Ids are
stable integers from 1, written as text into ``Detection2D.id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from percept.geometry.boxes import iou_matrix
from percept.params import param
from percept.track import kalman

__all__ = ["ByteTracker", "TrackOutput", "TrackerConfig", "estimate_shift", "iou_matrix"]

#: Stamps of recent frames kept to estimate the frame period (for skipped frames).
_PERIOD_WINDOW = 30


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Birth, death and matching settings.

    The defaults are chosen on rendered validation sequences (``percept synth`` seeds
    810-812, the demo's settings, the shipped detector through the detector node): mean
    MOTA over a grid of thresholds, matching IoU, births, ``min_hits`` and ``max_age``.
    With camera-motion compensation, ``high_score`` 0.45 (births from 0.55), ``low_score``
    0.2 and a first-association IoU of 0.1 gave 0.605 against 0.596 for ByteTrack's
    0.5 / 0.1 / 0.2 (0.561 without compensation), 49 ID switches against 153 in all.

    Attributes:
        high_score: detections at or above this take part in the first association
            and may start tracks (ByteTrack's ``track_thresh``).
        low_score: detections from this up to ``high_score`` take part in the second
            association only.
        match_iou: least IoU of a first-association match (ByteTrack: 1 - 0.8 = 0.2;
            0.1 once camera motion is compensated).
        low_match_iou: least IoU of a second-association match (ByteTrack: 1 - 0.5).
        tentative_match_iou: least IoU for a tentative track (ByteTrack: 1 - 0.7).
        min_hits: consecutive matches that confirm a track (then it gets an id).
        max_age: frames a track survives without a match.
        new_track_score: least score of a detection that starts a track; None for
            ``high_score + 0.1`` (ByteTrack's ``det_thresh``).
        camera_motion: estimate the shift a moving camera gives every box from the
            high-score detections (:func:`estimate_shift`) and move all tracks by it
            before matching.
        motion_max_shift_px: largest shift looked for, pixels per frame.
    """

    high_score: float = param(
        0.45, "score that first-matches tracks (+0.1 starts them)", min_value=0.0, max_value=1.0
    )
    low_score: float = param(
        0.2, "least score matched to existing tracks", min_value=0.0, max_value=1.0
    )
    match_iou: float = 0.1
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    min_hits: int = param(2, "matches that confirm a track", min_value=1, max_value=100)
    max_age: int = param(30, "frames a track lives without a match", min_value=0, max_value=10000)
    new_track_score: float | None = None
    camera_motion: bool = param(
        True, "move all tracks by the image shift the detections agree on (moving camera)"
    )
    motion_max_shift_px: float = 64.0

    @property
    def birth_score(self) -> float:
        """Least score that starts a track."""
        if self.new_track_score is not None:
            return self.new_track_score
        return min(self.high_score + 0.1, 1.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score <= self.high_score <= 1.0:
            msg = (
                f"tracker: need 0 <= low_score <= high_score <= 1, got {self.low_score}, "
                f"{self.high_score}"
            )
            raise ValueError(msg)
        if self.min_hits < 1 or self.max_age < 0:
            msg = f"tracker: min_hits >= 1 and max_age >= 0, got {self.min_hits}, {self.max_age}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class TrackOutput:
    """What the tracker says about one frame's detections.

    Attributes:
        track_ids: (N,) int64 per input detection: its confirmed track's id, or 0.
        boxes_xyxy: (M, 4) float32 boxes of the confirmed tracks matched this frame
            (the detections' boxes).
        ids: (M,) int64 their track ids.
    """

    track_ids: npt.NDArray[np.int64]
    boxes_xyxy: npt.NDArray[np.float32]
    ids: npt.NDArray[np.int64]


def estimate_shift(
    tracks_xyxy: npt.NDArray[np.floating],
    track_classes: npt.NDArray[np.integer],
    dets_xyxy: npt.NDArray[np.floating],
    det_classes: npt.NDArray[np.integer],
    max_shift_px: float = 64.0,
    min_support: int = 3,
) -> tuple[npt.NDArray[np.float64], int]:
    """The image shift most tracks agree on, from their predicted boxes and detections.

    A translation-only model of the camera's motion, fitted like a one-point RANSAC:
    every pair of a track and a detection of its class and of a similar height (0.67 to
    1.5 times) within ``max_shift_px`` proposes its centre displacement; a proposal's
    support is the number of tracks with a pair within ``max(2, 0.25 * height)`` pixels
    of it. The best proposal wins only when it has ``min_support`` tracks and more than
    the zero shift (the prediction as it is) has; the shift is then the median of its
    inliers' displacements, one per track.

    Args:
        tracks_xyxy: (N, 4) predicted track boxes, pixels.
        track_classes: (N,) their classes.
        dets_xyxy: (M, 4) detection boxes, pixels.
        det_classes: (M,) their classes.
        max_shift_px: largest displacement considered.
        min_support: least number of agreeing tracks.

    Returns:
        ((2,) shift ``(du, dv)`` in pixels, the number of tracks supporting it; 0 and
        ``(0, 0)`` when no shift beats the prediction).

    >>> t = np.array([[0, 0, 10, 10], [50, 0, 60, 10], [0, 50, 10, 60]], dtype=float)
    >>> shift, n = estimate_shift(t, np.zeros(3, int), t + [7, 3, 7, 3], np.zeros(3, int))
    >>> shift.tolist(), n
    ([7.0, 3.0], 3)
    """
    zero = np.zeros(2, dtype=np.float64)
    t = np.asarray(tracks_xyxy, dtype=np.float64).reshape(-1, 4)
    d = np.asarray(dets_xyxy, dtype=np.float64).reshape(-1, 4)
    if t.shape[0] < min_support or d.shape[0] == 0:
        return zero, 0
    t_c, d_c = (t[:, :2] + t[:, 2:]) / 2, (d[:, :2] + d[:, 2:]) / 2
    t_h = np.maximum(t[:, 3] - t[:, 1], 1e-3)
    # pairs of one class first (row-major, as np.nonzero gives them), then the rest
    pair_t, pair_d = np.nonzero(
        np.asarray(track_classes)[:, None] == np.asarray(det_classes)[None, :]
    )
    ratio = (d[:, 3] - d[:, 1])[pair_d] / t_h[pair_t]
    vec = d_c[pair_d] - t_c[pair_t]  # (P, 2)
    ok = (ratio > 0.67) & (ratio < 1.5) & (np.hypot(vec[:, 0], vec[:, 1]) <= max_shift_px)
    track_of = pair_t[ok]
    cand = vec[ok]  # (K, 2)
    if cand.shape[0] == 0:
        return zero, 0
    tol = np.maximum(2.0, 0.25 * t_h)[track_of]  # (K,) each pair's own tolerance
    close = np.hypot(cand[:, None, 0] - cand[None, :, 0], cand[:, None, 1] - cand[None, :, 1])
    close = close <= tol[None, :]  # (K, K): pair j agrees with proposal k
    # support: the tracks with a pair agreeing; pairs come grouped by track (row-major)
    starts = np.flatnonzero(np.r_[True, track_of[1:] != track_of[:-1]])
    support = np.logical_or.reduceat(close, starts, axis=1).sum(axis=1)
    at_zero = np.zeros(t.shape[0], dtype=bool)
    at_zero[track_of[np.hypot(cand[:, 0], cand[:, 1]) <= tol]] = True
    # most support; among equals the smallest shift
    best = int(np.lexsort((np.hypot(cand[:, 0], cand[:, 1]), -support))[0])
    if support[best] < min_support or support[best] <= int(at_zero.sum()):
        return zero, 0
    # one inlier per track: its pair nearest the winning proposal
    inlier = close[best]
    err = np.where(inlier, np.hypot(*(cand - cand[best]).T), np.inf)
    order = np.lexsort((err, track_of))
    first = order[np.r_[True, track_of[order][1:] != track_of[order][:-1]]]
    first = first[np.isfinite(err[first])]
    return np.median(cand[first], axis=0), int(support[best])


def _assign(
    predicted_xyxy: npt.NDArray[np.float64],
    track_classes: npt.NDArray[np.int64],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    min_iou: float,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Hungarian matching on 1 - IoU.

    Args:
        predicted_xyxy: (N, 4) predicted track boxes.
        track_classes: (N,) their classes.
        boxes: (M, 4) detection boxes.
        classes: (M,) their classes.
        min_iou: least IoU of a match.

    Returns:
        (matched tracks (K,), their detections (K,), in increasing track order;
        unmatched tracks; unmatched detections), indices into the inputs.
    """
    n, m = predicted_xyxy.shape[0], boxes.shape[0]
    if not n or not m:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.arange(n), np.arange(m)
    iou = iou_matrix(predicted_xyxy, boxes)
    iou[track_classes[:, None] != classes[None, :]] = 0.0
    cost = 1.0 - iou
    cost[iou < min_iou] = 1e6  # forbidden pairs: never chosen over an allowed one
    rows, cols = linear_sum_assignment(cost)
    ok = iou[rows, cols] >= min_iou
    rows, cols = rows[ok], cols[ok]
    left_t = np.ones(n, dtype=bool)
    left_t[rows] = False
    left_d = np.ones(m, dtype=bool)
    left_d[cols] = False
    return rows, cols, np.flatnonzero(left_t), np.flatnonzero(left_d)


@dataclass
class ByteTracker:
    """Tracks detections across frames; feed it every processed frame in order.

    The tracks are rows of stacked arrays: Kalman states ``_x`` (T, 8) and covariances
    ``_p`` (T, 8, 8), classes, last scores, consecutive hits, frames since the last
    match, and ids (0 while tentative).

    Attributes:
        config: thresholds, birth and death settings.
    """

    config: TrackerConfig = field(default_factory=TrackerConfig)
    _x: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 8)))
    _p: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 8, 8)))
    _class: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _score: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    _hits: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _since: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _id: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _next_id: int = 1
    _stamps_ns: list[int] = field(default_factory=list)

    def _keep(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> None:
        """Keep only the tracks ``rows`` selects (a mask or indices)."""
        self._x, self._p = self._x[rows], self._p[rows]
        self._class, self._score = self._class[rows], self._score[rows]
        self._hits, self._since, self._id = self._hits[rows], self._since[rows], self._id[rows]

    def reset(self) -> None:
        """Forget every track (a new sequence); ids continue from where they were."""
        self._keep(np.zeros(0, dtype=np.intp))
        self._stamps_ns = []

    @property
    def confirmed_count(self) -> int:
        """Confirmed tracks alive (matched recently or coasting)."""
        return int(np.count_nonzero(self._id))

    def _compensate(
        self, boxes: npt.NDArray[np.float32], classes: npt.NDArray[np.int64], steps: int
    ) -> None:
        """Move every track by the shift its recently seen members agree on."""
        recent = np.flatnonzero(self._since <= steps)
        if not recent.size:
            return
        shift, _ = estimate_shift(
            kalman.xyah_to_boxes(self._x[recent]),
            self._class[recent],
            boxes,
            classes,
            self.config.motion_max_shift_px * steps,
        )
        if shift.any():
            self._x[:, :2] += shift

    def _steps(self, stamp_ns: int | None) -> int:
        """Frames since the last update, from stamps (1 when unknown)."""
        if stamp_ns is None:
            return 1
        stamps = self._stamps_ns
        if stamps and stamp_ns <= stamps[-1]:
            self.reset()  # time went back: a new sequence
        steps = 1
        if len(stamps) >= 2:
            deltas = np.diff(np.asarray(stamps, dtype=np.int64))
            period = float(np.median(deltas[deltas > 0])) if (deltas > 0).any() else 0.0
            if period > 0 and stamps:
                steps = max(1, round((stamp_ns - stamps[-1]) / period))
        stamps.append(stamp_ns)
        del stamps[:-_PERIOD_WINDOW]
        return steps

    def update(
        self,
        boxes_xyxy: npt.NDArray[np.floating],
        scores: npt.NDArray[np.floating],
        class_ids: npt.NDArray[np.integer],
        stamp_ns: int | None = None,
    ) -> TrackOutput:
        """Advance one frame.

        Args:
            boxes_xyxy: (N, 4) detection boxes, pixels.
            scores: (N,) confidences; below ``config.low_score`` they are ignored.
            class_ids: (N,) classes.
            stamp_ns: frame stamp; frames skipped between updates are predicted over.

        Returns:
            Track ids per detection (0: not part of a confirmed track) and the
            confirmed tracks' boxes this frame.
        """
        cfg = self.config
        boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        score = np.asarray(scores, dtype=np.float32).reshape(-1)
        classes = np.asarray(class_ids, dtype=np.int64).reshape(-1)
        steps = self._steps(stamp_ns)
        if self._x.shape[0]:
            self._x, self._p = kalman.predict(self._x, self._p, steps)
            self._since += steps

        high = np.flatnonzero(score >= cfg.high_score)
        if cfg.camera_motion:
            self._compensate(boxes[high], classes[high], steps)
        low = np.flatnonzero((score >= cfg.low_score) & (score < cfg.high_score))
        predicted = kalman.xyah_to_boxes(self._x)
        established = np.flatnonzero(self._id > 0)
        tentative = np.flatnonzero(self._id == 0)

        def assign(
            tracks: npt.NDArray[np.intp], dets: npt.NDArray[np.intp], min_iou: float
        ) -> tuple[
            npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]
        ]:
            """Matched tracks, their detections, unmatched tracks and detections (all rows)."""
            rows, cols, left_t, left_d = _assign(
                predicted[tracks], self._class[tracks], boxes[dets], classes[dets], min_iou
            )
            return tracks[rows], dets[cols], tracks[left_t], dets[left_d]

        # 1. high-score detections vs established tracks (active and lost).
        t1, d1, left_tracks, left_high = assign(established, high, cfg.match_iou)
        # 2. low-score detections vs established tracks that were active last frame.
        active = left_tracks[self._since[left_tracks] <= steps]
        t2, d2, _, _ = assign(active, low, cfg.low_match_iou)
        # 3. tentative tracks vs the high-score detections left.
        t3, d3, dead, unclaimed = assign(tentative, left_high, cfg.tentative_match_iou)
        tracks, dets = np.concatenate([t1, t2, t3]), np.concatenate([d1, d2, d3])
        self._x[tracks], self._p[tracks] = kalman.update(
            self._x[tracks], self._p[tracks], boxes[dets]
        )
        self._hits[tracks] = np.where(self._since[tracks] <= steps, self._hits[tracks] + 1, 1)
        self._since[tracks] = 0
        self._score[tracks] = score[dets]
        # ids in match order: stage by stage, tracks in increasing order within one
        confirm = tracks[(self._id[tracks] == 0) & (self._hits[tracks] >= cfg.min_hits)]
        self._id[confirm] = self._next_id + np.arange(confirm.size)
        self._next_id += int(confirm.size)
        track_ids = np.zeros(boxes.shape[0], dtype=np.int64)
        track_ids[dets] = self._id[tracks]
        # 4. births: the confident high-score detections nobody took.
        unclaimed = unclaimed[score[unclaimed] >= cfg.birth_score]
        born_x, born_p = kalman.initiate(boxes[unclaimed])
        born_id = np.zeros(unclaimed.size, dtype=np.int64)
        if cfg.min_hits <= 1:
            born_id = self._next_id + np.arange(unclaimed.size, dtype=np.int64)
            self._next_id += int(unclaimed.size)
            track_ids[unclaimed] = born_id
        # 5. deaths: unmatched tentative tracks, and tracks unmatched for too long.
        alive = self._since <= cfg.max_age
        alive[dead] = False
        self._keep(alive)
        self._x = np.concatenate([self._x, born_x])
        self._p = np.concatenate([self._p, born_p])
        self._class = np.concatenate([self._class, classes[unclaimed]])
        self._score = np.concatenate([self._score, score[unclaimed].astype(np.float64)])
        self._hits = np.concatenate([self._hits, np.ones(unclaimed.size, dtype=np.int64)])
        self._since = np.concatenate([self._since, np.zeros(unclaimed.size, dtype=np.int64)])
        self._id = np.concatenate([self._id, born_id])
        shown = np.flatnonzero(track_ids > 0)
        return TrackOutput(track_ids, boxes[shown], track_ids[shown])
