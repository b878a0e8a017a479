"""ByteTrack-style multi-object tracker (Zhang et al., ECCV 2022).

Each track has one ``filterpy`` KalmanFilter on a constant-velocity box state
``[cx, cy, a, h, vcx, vcy, va, vh]`` (centre, aspect ratio w / h, height, and their
velocities per frame), with ByteTrack's noise model (standard deviations proportional
to the box height: 1/20 for positions, 1/160 for velocities). Per frame:

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
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from percept.params import param

__all__ = ["ByteTracker", "TrackOutput", "TrackerConfig", "estimate_shift", "iou_matrix"]

_STD_POSITION = 1.0 / 20.0
_STD_VELOCITY = 1.0 / 160.0
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


def iou_matrix(
    a_xyxy: npt.NDArray[np.floating], b_xyxy: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """(N, M) IoU of two box sets (no +1 pixel term), fully vectorised.

    >>> iou_matrix(np.array([[0., 0, 2, 2]]), np.array([[1., 0, 3, 2], [5, 5, 6, 6]])).round(3)
    array([[0.333, 0.   ]])
    """
    a = np.asarray(a_xyxy, dtype=np.float64)[:, None, :]
    b = np.asarray(b_xyxy, dtype=np.float64)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    out = np.zeros(inter.shape, dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


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
    ratio = (d[:, 3] - d[:, 1])[None, :] / t_h[:, None]
    vec = d_c[None, :, :] - t_c[:, None, :]  # (N, M, 2)
    ok = (
        (np.asarray(track_classes)[:, None] == np.asarray(det_classes)[None, :])
        & (ratio > 0.67)
        & (ratio < 1.5)
        & (np.hypot(vec[..., 0], vec[..., 1]) <= max_shift_px)
    )
    track_of, _ = np.nonzero(ok)
    cand = vec[ok]  # (K, 2)
    if cand.shape[0] == 0:
        return zero, 0
    tol = np.maximum(2.0, 0.25 * t_h)[track_of]  # (K,) each pair's own tolerance
    close = np.hypot(*(cand[:, None, :] - cand[None, :, :]).transpose(2, 0, 1)) <= tol[None, :]
    onehot = np.zeros((cand.shape[0], t.shape[0]), dtype=bool)
    onehot[np.arange(cand.shape[0]), track_of] = True
    per_track = (close.astype(np.int32) @ onehot.astype(np.int32)) > 0  # (K, N)
    support = per_track.sum(axis=1)
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


def _to_xyah(box: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    w = max(float(box[2] - box[0]), 1e-3)
    h = max(float(box[3] - box[1]), 1e-3)
    return np.array([box[0] + w / 2, box[1] + h / 2, w / h, h], dtype=np.float64)


def _to_xyxy(state: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    cx, cy, a, h = (float(v) for v in np.asarray(state).reshape(-1)[:4])
    h = max(h, 1e-3)
    w = max(a, 1e-6) * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)


@dataclass
class _Track:
    kf: KalmanFilter
    class_id: int
    score: float
    hits: int = 1
    since_update: int = 0
    track_id: int = 0  # 0 until confirmed

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0

    def box(self) -> npt.NDArray[np.float64]:
        return _to_xyxy(self.kf.x)


def _new_filter(box: npt.NDArray[np.floating]) -> KalmanFilter:
    kf = KalmanFilter(dim_x=8, dim_z=4)
    kf.F = np.eye(8)
    kf.F[:4, 4:] = np.eye(4)
    kf.H = np.eye(4, 8)
    z = _to_xyah(box)
    kf.x = np.concatenate([z, np.zeros(4)]).reshape(8, 1)
    h = z[3]
    pos, vel = 2 * _STD_POSITION * h, 10 * _STD_VELOCITY * h
    std = np.array([pos, pos, 1e-2, pos, vel, vel, 1e-5, vel])
    kf.P = np.diag(std**2)
    return kf


# Noise variances as (terms scaled by h^2) + (constant terms): ByteTrack's model, with
# the aspect ratio's noise independent of the box size.
_P, _V = _STD_POSITION, _STD_VELOCITY
_Q_SCALED = np.diag(np.array([_P, _P, 0.0, _P, _V, _V, 0.0, _V]) ** 2)
_Q_FIXED = np.diag(np.array([0.0, 0.0, 1e-2, 0.0, 0.0, 0.0, 1e-5, 0.0]) ** 2)
_R_SCALED = np.diag(np.array([_P, _P, 0.0, _P]) ** 2)
_R_FIXED = np.diag(np.array([0.0, 0.0, 1e-1, 0.0]) ** 2)


def _predict(kf: KalmanFilter, steps: int) -> None:
    for _ in range(steps):
        h = float(kf.x[3, 0])
        kf.predict(Q=_Q_SCALED * (h * h) + _Q_FIXED)


def _update(kf: KalmanFilter, box: npt.NDArray[np.floating]) -> None:
    z = _to_xyah(box)
    h = float(z[3])
    kf.update(z.reshape(4, 1), R=_R_SCALED * (h * h) + _R_FIXED)


def _assign(
    tracks: list[_Track],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    min_iou: float,
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian matching on 1 - IoU: (matches (track, det), unmatched tracks, dets)."""
    if not tracks or not boxes.shape[0]:
        return [], list(range(len(tracks))), list(range(boxes.shape[0]))
    predicted = np.stack([t.box() for t in tracks])
    iou = iou_matrix(predicted, boxes)
    track_classes = np.array([t.class_id for t in tracks], dtype=np.int64)
    iou[track_classes[:, None] != classes[None, :]] = 0.0
    cost = 1.0 - iou
    cost[iou < min_iou] = 1e6  # forbidden pairs: never chosen over an allowed one
    rows, cols = linear_sum_assignment(cost)
    ok = iou[rows, cols] >= min_iou
    matches = [(int(r), int(c)) for r, c in zip(rows[ok], cols[ok], strict=True)]
    matched_t = {r for r, _ in matches}
    matched_d = {c for _, c in matches}
    return (
        matches,
        [i for i in range(len(tracks)) if i not in matched_t],
        [j for j in range(boxes.shape[0]) if j not in matched_d],
    )


@dataclass
class ByteTracker:
    """Tracks detections across frames; feed it every processed frame in order.

    Attributes:
        config: thresholds, birth and death settings.
    """

    config: TrackerConfig = field(default_factory=TrackerConfig)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1
    _stamps_ns: list[int] = field(default_factory=list)

    def reset(self) -> None:
        """Forget every track (a new sequence); ids continue from where they were."""
        self._tracks = []
        self._stamps_ns = []

    @property
    def confirmed_count(self) -> int:
        """Confirmed tracks alive (matched recently or coasting)."""
        return sum(t.confirmed for t in self._tracks)

    def _compensate(
        self, boxes: npt.NDArray[np.float32], classes: npt.NDArray[np.int64], steps: int
    ) -> None:
        """Move every track by the shift its recently seen members agree on."""
        recent = [t for t in self._tracks if t.since_update <= steps]
        if not recent:
            return
        predicted = np.stack([t.box() for t in recent])
        track_classes = np.array([t.class_id for t in recent], dtype=np.int64)
        shift, _ = estimate_shift(
            predicted, track_classes, boxes, classes, self.config.motion_max_shift_px * steps
        )
        if shift.any():
            for track in self._tracks:
                track.kf.x[0, 0] += shift[0]
                track.kf.x[1, 0] += shift[1]

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
        for track in self._tracks:
            _predict(track.kf, steps)
            track.since_update += steps

        high = np.flatnonzero(score >= cfg.high_score)
        if cfg.camera_motion:
            self._compensate(boxes[high], classes[high], steps)
        low = np.flatnonzero((score >= cfg.low_score) & (score < cfg.high_score))
        established = [t for t in self._tracks if t.confirmed]
        tentative = [t for t in self._tracks if not t.confirmed]
        track_ids = np.zeros(boxes.shape[0], dtype=np.int64)

        def matched(track: _Track, det: int) -> None:
            _update(track.kf, boxes[det])
            track.hits = track.hits + 1 if track.since_update <= steps else 1
            track.since_update = 0
            track.score = float(score[det])
            if not track.confirmed and track.hits >= cfg.min_hits:
                track.track_id = self._next_id
                self._next_id += 1
            track_ids[det] = track.track_id

        # 1. high-score detections vs established tracks (active and lost).
        m1, left_tracks, left_high = _assign(established, boxes[high], classes[high], cfg.match_iou)
        for ti, di in m1:
            matched(established[ti], int(high[di]))
        # 2. low-score detections vs established tracks that were active last frame.
        active = [established[i] for i in left_tracks if established[i].since_update <= steps]
        m2, _, _ = _assign(active, boxes[low], classes[low], cfg.low_match_iou)
        for ti, di in m2:
            matched(active[ti], int(low[di]))
        # 3. tentative tracks vs the high-score detections left.
        rest = high[left_high]
        m3, dead, left_rest = _assign(
            tentative, boxes[rest], classes[rest], cfg.tentative_match_iou
        )
        for ti, di in m3:
            matched(tentative[ti], int(rest[di]))
        dead_ids = {id(tentative[i]) for i in dead}
        # 4. births: the confident high-score detections nobody took.
        unclaimed = rest[left_rest]
        unclaimed = unclaimed[score[unclaimed] >= cfg.birth_score]
        born = [_Track(_new_filter(boxes[d]), int(classes[d]), float(score[d])) for d in unclaimed]
        if cfg.min_hits <= 1:
            for track, d in zip(born, unclaimed, strict=True):
                track.track_id = self._next_id
                self._next_id += 1
                track_ids[d] = track.track_id
        # 5. deaths: unmatched tentative tracks, and tracks unmatched for too long.
        self._tracks = [
            t for t in self._tracks if id(t) not in dead_ids and t.since_update <= cfg.max_age
        ] + born
        shown = np.flatnonzero(track_ids > 0)
        return TrackOutput(track_ids, boxes[shown], track_ids[shown])
