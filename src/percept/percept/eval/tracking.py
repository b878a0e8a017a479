"""Multi-object tracking metrics (CLEAR MOT, IDF1) of tracked 2D detections.

A run's Detection2DArray frames (track id in ``Detection2D.id``, as the detector node's
tracker publishes them) are scored against ground-truth Detection2DArray frames whose
``id`` is the object's identity, stable over the sequence (``percept synth``). Frames are
paired by header stamp; the accumulation and the metric definitions are py-motmetrics'
(``MOTAccumulator``, ``mm.metrics``), with the distance ``1 - IoU`` of the boxes and no
match above ``max_iou_distance`` (0.5: IoU at least 0.5, as MOTChallenge). The IoU
matrix is computed here: motmetrics' own ``iou_matrix`` uses ``np.asfarray``, which
NumPy 2 removed.

Only run detections with a track id count (a detection without one is no track output);
they are already thresholded by the node that published them. Ground-truth frames
between the first and the last run frame are scored, a missing run frame among them as
a frame without output (all misses); frames outside the run's span are left out.

A difficulty level (:mod:`percept.eval.difficulty`, as the detection metric's) makes the
ground-truth boxes outside it distractors, as MOTChallenge does with occluded and
non-target objects (TrackEval's ``MotChallenge2DBox`` preprocessing) and KITTI's tracking
devkit with boxes under ``min_height`` or too occluded: per frame, run boxes are matched
to all ground truth (Hungarian, the same IoU gate); those matched to a distractor, and
unmatched ones lower than the level's height, are removed, then the distractors are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from percept.domain import Detection2DArray, Header
from percept.errors import EvalError
from percept.eval.difficulty import DifficultyLevel
from percept.geometry.boxes import iou_matrix

__all__ = [
    "FP_CAUSES",
    "MISS_CAUSES",
    "NEAR_IOU",
    "TrackingMetrics",
    "attribute_errors",
    "box_arrays",
    "evaluate_tracking",
    "iou_distances",
    "motmetrics_missing",
    "pair_frames",
    "paired_or_raise",
]

logger = logging.getLogger(__name__)

#: Metrics asked of motmetrics (its names).
_MM_METRICS: tuple[str, ...] = (
    "num_frames",
    "num_objects",
    "num_predictions",
    "num_matches",
    "num_unique_objects",
    "num_false_positives",
    "num_misses",
    "num_switches",
    "num_fragmentations",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "mota",
    "motp",
    "idf1",
    "idp",
    "idr",
    "precision",
    "recall",
)


#: Why a ground-truth box went unmatched, in the order they are tried (first fits wins):
#: a published detection of its class covers it but carries no track id; a tracked box of
#: its class covers it but was matched to another object; a box of its class
#: overlaps it by ``NEAR_IOU`` up to the match IoU; a box of another class covers it;
#: no published box is near it.
MISS_CAUSES: tuple[str, ...] = ("untracked", "taken", "mislocalised", "wrong_class", "undetected")
#: Why a tracked run box matched nothing, in the same manner: it covers a ground-truth box
#: of its class that another track was matched to; it overlaps one by ``NEAR_IOU`` up to
#: the match IoU; it covers one of another class; it is on the background.
FP_CAUSES: tuple[str, ...] = ("duplicate", "mislocalised", "wrong_class", "background")
#: Least IoU of a "mislocalised" box: the same object, placed too far off to match.
NEAR_IOU = 0.3


@dataclass(frozen=True, slots=True)
class TrackingMetrics:
    """CLEAR MOT and identity metrics of one sequence (py-motmetrics definitions).

    Attributes:
        mota: 1 - (misses + false positives + ID switches) / ground-truth objects.
        motp: mean ``1 - IoU`` of the matched pairs (motmetrics' MOTP: lower is better).
        mean_match_iou: ``1 - motp``, the MOTChallenge form of MOTP.
        idf1: identity F1 (IDF1); ``idp``, ``idr``: identity precision and recall.
        precision: matches / run detections; recall: matches / ground-truth objects.
        num_switches: ID switches (a ground-truth object matched to another track id).
        num_fragmentations: tracked-to-untracked interruptions of a ground-truth object.
        num_false_positives: run detections matched to nothing.
        num_misses: ground-truth objects matched to nothing.
        num_matches: matched pairs.
        num_objects: ground-truth objects summed over frames.
        num_predictions: run detections (with a track id) summed over frames.
        num_frames: frames scored.
        gt_tracks: distinct ground-truth objects (motmetrics' num_unique_objects).
        run_tracks: distinct run track ids.
        mostly_tracked, partially_tracked, mostly_lost: ground-truth tracks covered for
            >= 80 %, 20..80 % and < 20 % of their frames.
        switches_per_100_tracks: ``100 * num_switches / gt_tracks``.
        max_iou_distance: largest ``1 - IoU`` of a match.
        class_aware: whether matches were restricted to the same class.
        untracked_detections: run detections left out because they had no track id.
        switch_events: (stamp ns, ground-truth id, previous track id, new track id) of
            the first switches, in order.
        level: the difficulty level scored (``all``: every box).
        level_rule: its rule in words.
        ignored_gt: ground-truth boxes left out as distractors (outside the level).
        ignored_run: run boxes left out with them (on a distractor, or too low).
        levels: the same metrics per difficulty level (on the ``all`` result only).
        miss_causes: misses per cause (:data:`MISS_CAUSES`; on the ``all`` result only).
        fp_causes: false positives per cause (:data:`FP_CAUSES`; ``all`` only).
    """

    mota: float
    motp: float
    mean_match_iou: float
    idf1: float
    idp: float
    idr: float
    precision: float
    recall: float
    num_switches: int
    num_fragmentations: int
    num_false_positives: int
    num_misses: int
    num_matches: int
    num_objects: int
    num_predictions: int
    num_frames: int
    gt_tracks: int
    run_tracks: int
    mostly_tracked: int
    partially_tracked: int
    mostly_lost: int
    switches_per_100_tracks: float
    max_iou_distance: float
    class_aware: bool
    untracked_detections: int = 0
    switch_events: tuple[tuple[int, str, str, str], ...] = field(default=())
    level: str = "all"
    level_rule: str = "every box"
    ignored_gt: int = 0
    ignored_run: int = 0
    levels: tuple[TrackingMetrics, ...] = field(default=())
    miss_causes: tuple[tuple[str, int], ...] = field(default=())
    fp_causes: tuple[tuple[str, int], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """The metrics.json section (switch events as a list of dicts, levels by name)."""
        doc: dict[str, object] = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("switch_events", "class_aware", "levels", "miss_causes", "fp_causes")
        }
        if self.miss_causes or self.fp_causes:
            doc["miss_causes"] = dict(self.miss_causes)
            doc["fp_causes"] = dict(self.fp_causes)
        doc["class_aware"] = self.class_aware
        doc["switch_events"] = [
            {"stamp_s": s / 1e9, "gt_id": g, "from_track": a, "to_track": b}
            for s, g, a, b in self.switch_events
        ]
        if self.levels:
            doc["levels"] = {m.level: m.as_dict() for m in self.levels}
        return doc


def motmetrics_missing() -> str | None:
    """Why the tracking metrics cannot be computed here (None: motmetrics is installed)."""
    try:
        import motmetrics  # noqa: F401
    except ImportError as err:
        return (
            f"motmetrics is not installed ({err}); install it (pip install 'motmetrics>=1.4', "
            "in requirements-test.txt) to score tracking"
        )
    return None


def box_arrays(
    array: Detection2DArray, *, tracked_only: bool
) -> tuple[npt.NDArray[np.float64], list[str], list[str]]:
    """Boxes (N, 4) xyxy in pixels, ids and class ids of a Detection2DArray.

    Args:
        array: the frame.
        tracked_only: keep only detections with a non-empty ``id``.
    """
    dets = [d for d in array.detections if d.id or not tracked_only]
    if not dets:
        return np.zeros((0, 4)), [], []
    c = np.array([d.center_uv for d in dets], dtype=np.float64).reshape(-1, 2)
    s = np.array([d.size_uv for d in dets], dtype=np.float64).reshape(-1, 2)
    boxes = np.hstack([c - s / 2, c + s / 2])
    classes = [d.results[0].class_id if d.results else "" for d in dets]
    return boxes, [d.id for d in dets], classes


def iou_distances(
    gt_xyxy: npt.NDArray[np.float64],
    run_xyxy: npt.NDArray[np.float64],
    max_distance: float = 0.5,
    gt_classes: Sequence[str] | None = None,
    run_classes: Sequence[str] | None = None,
) -> npt.NDArray[np.float64]:
    """(N_gt, N_run) ``1 - IoU``, NaN where no match is allowed (motmetrics' convention).

    A pair is allowed when ``1 - IoU <= max_distance`` and, with classes given, the
    classes are equal.

    >>> iou_distances(np.array([[0., 0, 2, 2]]), np.array([[0., 0, 2, 1], [5, 5, 6, 6]]))
    array([[0.5, nan]])
    """
    dist = 1.0 - iou_matrix(gt_xyxy.reshape(-1, 4), run_xyxy.reshape(-1, 4))
    dist[dist > max_distance] = np.nan
    if gt_classes is not None and run_classes is not None and dist.size:
        same = (
            np.asarray(gt_classes, dtype=object)[:, None]
            == np.asarray(run_classes, dtype=object)[None, :]
        )
        dist[~same] = np.nan
    return dist


def attribute_errors(
    gt_xyxy: npt.NDArray[np.float64],
    gt_classes: Sequence[str],
    missed: npt.NDArray[np.bool_],
    run_xyxy: npt.NDArray[np.float64],
    run_classes: Sequence[str],
    tracked: npt.NDArray[np.bool_],
    false_positive: npt.NDArray[np.bool_],
    max_iou_distance: float = 0.5,
    class_aware: bool = True,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counts of one frame's misses and false positives by cause.

    The causes and their order are :data:`MISS_CAUSES` and :data:`FP_CAUSES`; a box takes
    the first that fits. "Covers" is the match rule (``1 - IoU <= max_iou_distance``),
    "near" an IoU from :data:`NEAR_IOU` up to it.

    Args:
        gt_xyxy: (G, 4) ground-truth boxes.
        gt_classes: (G,) their classes.
        missed: (G,) the ground-truth boxes the tracking left unmatched.
        run_xyxy: (R, 4) every published run box, with or without a track id.
        run_classes: (R,) their classes.
        tracked: (R,) which carry a track id.
        false_positive: (R,) the tracked boxes left unmatched.
        max_iou_distance: largest ``1 - IoU`` of a match.
        class_aware: whether a match needs the same class (else no box is "wrong class").

    Returns:
        ((len(MISS_CAUSES),) miss counts, (len(FP_CAUSES),) false-positive counts).

    >>> gt = np.array([[0., 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]])
    >>> run = np.array([[0., 0, 10, 10], [24, 0, 36, 10], [60, 0, 70, 10]])
    >>> m, f = attribute_errors(gt, ["a"] * 3, np.ones(3, bool), run, ["a"] * 3,
    ...     np.array([False, True, True]), np.array([False, True, True]))
    >>> dict(zip(MISS_CAUSES, m.tolist())), dict(zip(FP_CAUSES, f.tolist()))
    ... # doctest: +NORMALIZE_WHITESPACE
    ({'untracked': 1, 'taken': 0, 'mislocalised': 1, 'wrong_class': 0, 'undetected': 1},
     {'duplicate': 0, 'mislocalised': 1, 'wrong_class': 0, 'background': 1})
    """
    g = gt_xyxy.reshape(-1, 4)
    r = run_xyxy.reshape(-1, 4)
    iou = iou_matrix(g, r)  # (G, R)
    cover = (1.0 - iou) <= max_iou_distance
    near = (iou >= NEAR_IOU) & ~cover
    if class_aware and iou.size:
        same = (
            np.asarray(gt_classes, dtype=object)[:, None]
            == np.asarray(run_classes, dtype=object)[None, :]
        )
    else:
        same = np.ones(iou.shape, dtype=bool)
    trk = np.asarray(tracked, dtype=bool)[None, :]
    miss_tests = np.stack(
        [
            (cover & same & ~trk).any(axis=1),
            (cover & same & trk).any(axis=1),
            (near & same).any(axis=1),
            (cover & ~same).any(axis=1),
            np.ones(g.shape[0], dtype=bool),
        ]
    )  # (causes, G): the first true row is the cause
    fp_tests = np.stack(
        [
            (cover & same).any(axis=0),
            (near & same).any(axis=0),
            (cover & ~same).any(axis=0),
            np.ones(r.shape[0], dtype=bool),
        ]
    )
    miss_cause = np.argmax(miss_tests, axis=0)[np.asarray(missed, dtype=bool)]
    fp_cause = np.argmax(fp_tests, axis=0)[np.asarray(false_positive, dtype=bool)]
    return (
        np.bincount(miss_cause, minlength=len(MISS_CAUSES)).astype(np.int64),
        np.bincount(fp_cause, minlength=len(FP_CAUSES)).astype(np.int64),
    )


class _Stamped(Protocol):
    @property
    def header(self) -> Header: ...


_F = TypeVar("_F", bound=_Stamped)


def pair_frames(
    gt: Sequence[_F], run: Sequence[_F], max_diff_ns: int
) -> tuple[list[tuple[_F, _F | None]], int, int]:
    """Ground-truth frames in the run's span, each with its run frame (or None).

    A run frame pairs with at most one ground-truth frame, the nearest in stamp within
    ``max_diff_ns``; the span is the first to the last run stamp (widened by it).

    Returns:
        (pairs, ground-truth frames outside the run's span, run frames without a
        ground-truth frame).
    """
    gt = sorted(gt, key=lambda a: a.header.stamp_ns)
    run = sorted(run, key=lambda a: a.header.stamp_ns)
    if not run:
        return [], len(gt), 0
    r_stamps = np.array([a.header.stamp_ns for a in run], dtype=np.int64)
    lo, hi = int(r_stamps[0]) - max_diff_ns, int(r_stamps[-1]) + max_diff_ns
    pairs: list[tuple[_F, _F | None]] = []
    used: set[int] = set()
    outside = 0
    for g in gt:
        s = g.header.stamp_ns
        if not lo <= s <= hi:
            outside += 1
            continue
        k = int(np.searchsorted(r_stamps, s))
        near = [j for j in (k - 1, k) if 0 <= j < len(run) and j not in used]
        best = min(near, key=lambda j: abs(int(r_stamps[j]) - s), default=None)
        if best is not None and abs(int(r_stamps[best]) - s) <= max_diff_ns:
            used.add(best)
            pairs.append((g, run[best]))
        else:
            pairs.append((g, None))
    return pairs, outside, len(run) - len(used)


def paired_or_raise(
    gt: Sequence[_F],
    run: Sequence[_F],
    max_diff_ns: int,
    metric: str,
    what: str,
    when_missing: str,
    notes: list[str],
) -> list[tuple[_F, _F | None]]:
    """:func:`pair_frames` for one metric, with its notes and its errors.

    Args:
        gt: ground-truth frames.
        run: run frames.
        max_diff_ns: largest stamp difference of a pair.
        metric: the metric's name, which starts each note.
        what: the frames, for the messages (``"2D detection"``, ``"3D detection"``).
        when_missing: what a ground-truth frame without a run frame counts as.
        notes: the notes are appended here.

    Raises:
        EvalError: the run has no frame, or no ground-truth frame is in its span.
    """
    if not run:
        msg = f"the run published no {what} frames"
        raise EvalError(msg)
    pairs, outside, unpaired = pair_frames(gt, run, max_diff_ns)
    if not pairs:
        msg = f"no ground-truth {what} frame within the run's time span"
        raise EvalError(msg)
    if outside:
        notes.append(f"{metric}: {outside} ground-truth frames outside the run's span left out")
    if unpaired:
        notes.append(f"{metric}: {unpaired} run frames had no ground-truth frame by stamp")
    missing = sum(r is None for _, r in pairs)
    if missing:
        notes.append(f"{metric}: {missing} ground-truth frames had no run frame ({when_missing})")
    return pairs


def evaluate_tracking(
    gt: Sequence[Detection2DArray],
    run: Sequence[Detection2DArray],
    *,
    max_diff_ns: int = 1_000_000,
    max_iou_distance: float = 0.5,
    same_class: bool = True,
    max_switch_events: int = 20,
    level: DifficultyLevel | None = None,
    visibility: Sequence[Detection2DArray] = (),
) -> tuple[TrackingMetrics, list[tuple[int, dict[str, float]]], list[str]]:
    """MOTA, MOTP, IDF1, ID switches... of tracked run detections against ground truth.

    Args:
        gt: ground-truth frames (``id``: object identity).
        run: the run's frames (``id``: track id; detections without one are left out).
        max_diff_ns: largest stamp difference of a paired frame.
        max_iou_distance: largest ``1 - IoU`` of a match.
        same_class: match only detections of the ground truth's class. When no run class
            id ever equals a ground-truth one (e.g. indices against names), matching is
            class-agnostic and a note says so.
        max_switch_events: switch events kept for the report.
        level: score only the ground truth of this difficulty level, the rest as
            distractors (None: every box).
        visibility: ground-truth frames whose scores are the visible fractions (the
            boxes' ``id`` pairs them); without them a level goes by height alone.

    Returns:
        (metrics, per-frame ``(stamp, {switches, false_positives, misses})``, notes).

    Raises:
        EvalError: motmetrics is not installed, or no frame could be scored.
    """
    missing = motmetrics_missing()
    if missing is not None:
        raise EvalError(missing)
    import motmetrics as mm

    notes: list[str] = []
    pairs = paired_or_raise(
        gt, run, max_diff_ns, "tracking", "2D detection", "scored as no output", notes
    )
    frames = [
        (box_arrays(g, tracked_only=False), box_arrays(r, tracked_only=True) if r else None)
        for g, r in pairs
    ]
    tracked = sum(len(r[1]) for _, r in frames if r is not None)
    untracked = sum(len(r.detections) for _, r in pairs if r is not None) - tracked
    if not tracked and untracked:
        msg = (
            f"no run detection carries a track id ({untracked} detections with an empty "
            "Detection2D.id): is the tracker on?"
        )
        raise EvalError(msg)
    gt_classes = {c for (g, _) in frames for c in g[2]}
    run_classes = {c for _, r in frames if r is not None for c in r[2]}
    class_aware = same_class and not (run_classes and gt_classes.isdisjoint(run_classes))
    if same_class and not class_aware:
        notes.append(
            "tracking: run class ids share nothing with the ground truth's "
            f"({sorted(run_classes)[:5]} vs {sorted(gt_classes)[:5]}); matched across classes"
        )

    ignored_gt = ignored_run = 0
    if level is not None:
        visible = _visible_by_stamp(visibility)
        kept: list[_Pair] = []
        for (g, r), (gt_frame, _) in zip(frames, pairs, strict=True):
            g, r, n_gt, n_run = _drop_distractors(
                g,
                r,
                visible.get(gt_frame.header.stamp_ns, {}),
                level,
                max_iou_distance,
                class_aware,
            )
            kept.append((g, r))
            ignored_gt += n_gt
            ignored_run += n_run
        frames = kept
    # integer ids for motmetrics (it turns numeric-looking strings into floats)
    gt_names = sorted({o for (g, _) in frames for o in g[1]})
    run_names = sorted({h for _, r in frames if r is not None for h in r[1]})
    gt_index = {o: k for k, o in enumerate(gt_names)}
    run_index = {h: k for k, h in enumerate(run_names)}
    acc = mm.MOTAccumulator(auto_id=False)
    for i, ((g_boxes, g_ids, g_cls), r) in enumerate(frames):
        r_boxes, r_ids, r_cls = r if r is not None else (np.zeros((0, 4)), [], [])
        dist = iou_distances(
            g_boxes,
            r_boxes,
            max_iou_distance,
            g_cls if class_aware else None,
            r_cls if class_aware else None,
        )
        acc.update([gt_index[o] for o in g_ids], [run_index[h] for h in r_ids], dist, frameid=i)
    events = acc.mot_events
    stamps = [g.header.stamp_ns for g, _ in pairs]
    kinds = events["Type"].to_numpy().astype(str)
    frame_of = events.index.get_level_values(0).to_numpy().astype(np.int64)
    counts = {
        name: np.bincount(frame_of[kinds == kind], minlength=len(pairs))
        for name, kind in (("switches", "SWITCH"), ("false_positives", "FP"), ("misses", "MISS"))
    }
    per_frame = [
        (stamps[i], {name: float(c[i]) for name, c in counts.items()}) for i in range(len(pairs))
    ]
    # the track each ground-truth object was last matched to, for the switch events
    switch_events: list[tuple[int, str, str, str]] = []
    last: dict[str, str] = {}
    oids = events["OId"].to_numpy()
    hids = events["HId"].to_numpy()
    for f, kind, o, h in zip(frame_of, kinds, oids, hids, strict=True):
        if kind not in ("MATCH", "SWITCH"):
            continue
        obj, hyp = gt_names[int(o)], run_names[int(h)]
        if kind == "SWITCH" and len(switch_events) < max_switch_events:
            switch_events.append((stamps[int(f)], obj, last.get(obj, ""), hyp))
        last[obj] = hyp

    miss_causes: tuple[tuple[str, int], ...] = ()
    fp_causes: tuple[tuple[str, int], ...] = ()
    if level is None:
        miss_n, fp_n = _error_causes(
            pairs,
            frames,
            (frame_of, kinds, oids, hids),
            gt_names,
            run_names,
            max_iou_distance,
            class_aware,
        )
        miss_causes = tuple(zip(MISS_CAUSES, miss_n.tolist(), strict=True))
        fp_causes = tuple(zip(FP_CAUSES, fp_n.tolist(), strict=True))

    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=list(_MM_METRICS), name="run")
    row = {k: summary[k].iloc[0] for k in _MM_METRICS}

    def num(key: str) -> float:
        value = row[key]
        return float(value) if value is not None else float("nan")

    def count(key: str) -> int:
        value = num(key)
        return int(value) if np.isfinite(value) else 0

    gt_tracks = count("num_unique_objects")
    run_tracks = len(run_names)
    motp = num("motp")
    metrics = TrackingMetrics(
        mota=num("mota"),
        motp=motp,
        mean_match_iou=1.0 - motp,
        idf1=num("idf1"),
        idp=num("idp"),
        idr=num("idr"),
        precision=num("precision"),
        recall=num("recall"),
        num_switches=count("num_switches"),
        num_fragmentations=count("num_fragmentations"),
        num_false_positives=count("num_false_positives"),
        num_misses=count("num_misses"),
        num_matches=count("num_matches"),
        num_objects=count("num_objects"),
        num_predictions=count("num_predictions"),
        num_frames=count("num_frames"),
        gt_tracks=gt_tracks,
        run_tracks=run_tracks,
        mostly_tracked=count("mostly_tracked"),
        partially_tracked=count("partially_tracked"),
        mostly_lost=count("mostly_lost"),
        switches_per_100_tracks=(
            100.0 * count("num_switches") / gt_tracks if gt_tracks else float("nan")
        ),
        max_iou_distance=max_iou_distance,
        class_aware=class_aware,
        untracked_detections=untracked,
        switch_events=tuple(switch_events),
        level="all" if level is None else level.name,
        level_rule="every box" if level is None else level.describe(bool(visibility)),
        ignored_gt=ignored_gt,
        ignored_run=ignored_run,
        miss_causes=miss_causes,
        fp_causes=fp_causes,
    )
    return metrics, per_frame, notes


def _error_causes(
    pairs: Sequence[tuple[Detection2DArray, Detection2DArray | None]],
    frames: Sequence[_Pair],
    events: tuple[npt.NDArray[np.int64], npt.NDArray[np.str_], npt.NDArray[Any], npt.NDArray[Any]],
    gt_names: Sequence[str],
    run_names: Sequence[str],
    max_iou_distance: float,
    class_aware: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Misses and false positives of the whole run by cause (:func:`attribute_errors`)."""
    frame_of, kinds, oids, hids = events
    miss_n = np.zeros(len(MISS_CAUSES), dtype=np.int64)
    fp_n = np.zeros(len(FP_CAUSES), dtype=np.int64)
    # one pass over the events: each frame's slice of them, by frame id
    order = np.argsort(frame_of, kind="stable")
    bounds = np.searchsorted(frame_of[order], np.arange(len(frames) + 1))
    for i, ((g_boxes, g_ids, g_cls), _) in enumerate(frames):
        here = order[bounds[i] : bounds[i + 1]]
        missed_ids = {gt_names[int(o)] for o in oids[here[kinds[here] == "MISS"]]}
        fp_ids = {run_names[int(h)] for h in hids[here[kinds[here] == "FP"]]}
        if not missed_ids and not fp_ids:
            continue
        run = pairs[i][1]
        r_boxes, r_ids, r_cls = (
            box_arrays(run, tracked_only=False) if run is not None else (np.zeros((0, 4)), [], [])
        )
        m, f = attribute_errors(
            g_boxes,
            g_cls,
            np.array([o in missed_ids for o in g_ids], dtype=bool),
            r_boxes,
            r_cls,
            np.array([bool(h) for h in r_ids], dtype=bool),
            np.array([bool(h) and h in fp_ids for h in r_ids], dtype=bool),
            max_iou_distance,
            class_aware,
        )
        miss_n += m
        fp_n += f
    return miss_n, fp_n


_Boxes = tuple[npt.NDArray[np.float64], list[str], list[str]]
_Pair = tuple[_Boxes, _Boxes | None]


def _visible_by_stamp(visibility: Sequence[Detection2DArray]) -> dict[int, dict[str, float]]:
    """Visible fraction by stamp and ground-truth id (the visibility frames' scores)."""
    return {
        f.header.stamp_ns: {d.id: float(d.results[0].score) for d in f.detections if d.results}
        for f in visibility
    }


def _drop_distractors(
    gt: _Boxes,
    run: _Boxes | None,
    visible: dict[str, float],
    level: DifficultyLevel,
    max_iou_distance: float,
    class_aware: bool,
) -> tuple[_Boxes, _Boxes | None, int, int]:
    """One frame without the ground truth outside ``level`` and the run boxes on it.

    Returns:
        (ground truth kept, run kept, ground-truth boxes dropped, run boxes dropped).
    """
    from scipy.optimize import linear_sum_assignment

    g_boxes, g_ids, g_cls = gt
    vis = np.array([visible.get(i, np.nan) for i in g_ids], dtype=np.float64)
    heights = g_boxes[:, 3] - g_boxes[:, 1]
    out = (heights < level.min_height_px) | (np.isfinite(vis) & (vis < level.min_visible))
    if not out.any() and run is None:
        return gt, run, 0, 0
    drop_run = np.zeros(0, dtype=bool)
    if run is not None:
        r_boxes, r_ids, r_cls = run
        dist = iou_distances(
            g_boxes,
            r_boxes,
            max_iou_distance,
            g_cls if class_aware else None,
            r_cls if class_aware else None,
        )
        allowed = np.isfinite(dist)
        rows, cols = linear_sum_assignment(np.where(allowed, dist, 1e6))
        ok = allowed[rows, cols]
        rows, cols = rows[ok], cols[ok]
        matched = np.zeros(r_boxes.shape[0], dtype=bool)
        matched[cols] = True
        on_distractor = np.zeros(r_boxes.shape[0], dtype=bool)
        on_distractor[cols[out[rows]]] = True
        low = (r_boxes[:, 3] - r_boxes[:, 1]) < level.min_height_px
        drop_run = on_distractor | (~matched & low)
        keep = np.flatnonzero(~drop_run)
        run = (r_boxes[keep], [r_ids[k] for k in keep], [r_cls[k] for k in keep])
    keep_g = np.flatnonzero(~out)
    gt = (g_boxes[keep_g], [g_ids[k] for k in keep_g], [g_cls[k] for k in keep_g])
    return gt, run, int(np.count_nonzero(out)), int(np.count_nonzero(drop_run))
