"""Detection accuracy: COCO mAP@0.5 and mAP@0.5:0.95 with pycocotools' semantics.

The evaluation reproduces ``pycocotools.cocoeval.COCOeval`` for ``iouType="bbox"``:

- IoU of ``[x, y, w, h]`` boxes without the +1 pixel convention; a crowd ground-truth
  box is matched by intersection over the detection's area.
- Per image and category, detections sorted by score (stable) and cut to the largest
  ``maxDets``; greedy matching per IoU threshold, each detection taking the unmatched
  ground truth of highest IoU (ties to the later one), ordinary boxes before ignored
  ones (crowd, outside the area range, lower than ``min_height_px`` or marked
  ``ignore``). Detections matched to an ignored box, and unmatched detections outside
  the area range or lower than ``min_height_px``, are ignored.
- Per category, area range and ``maxDets``: detections of all images sorted by score,
  precision made monotone, sampled at 101 recall points; categories without ground
  truth are left out of the means (-1 in the arrays).

Ground truth and detections are read from COCO JSON (``instances_*.json`` and the result
list ``[{image_id, category_id, bbox, score}]``) or built from vision_msgs
``Detection2DArray`` frames.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from percept.domain import Detection2DArray
from percept.errors import EvalError

if TYPE_CHECKING:
    from percept.eval.difficulty import LevelMetrics

__all__ = [
    "AREA_RANGES",
    "BoxSet",
    "CocoGroundTruth",
    "CocoMetrics",
    "CocoParams",
    "ImageResult",
    "box_iou",
    "coco_from_detection_arrays",
    "coco_ground_truth_from_dict",
    "evaluate_coco",
    "load_coco_detections",
    "load_coco_ground_truth",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: COCO's area ranges, px^2: all, small (< 32^2), medium (32^2..96^2), large (> 96^2).
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e5**2),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}


@dataclass(frozen=True, slots=True, eq=False)
class BoxSet:
    """Axis-aligned boxes of many images (ground truth or detections), COCO layout.

    Attributes:
        image_ids: (N,) int64 image of each box.
        category_ids: (N,) int64 category of each box.
        boxes_xywh: (N, 4) float64 ``[x, y, w, h]``, pixels; (x, y) the top-left corner,
            x = column, y = row.
        scores: (N,) float64 confidence (ground truth: 1).
        areas: (N,) float64 area used for the area ranges, px^2 (detections: ``w * h``;
            COCO ground truth: the annotation's ``area``).
        iscrowd: (N,) bool crowd regions (ground truth only).
    """

    image_ids: IntArray
    category_ids: IntArray
    boxes_xywh: FloatArray
    scores: FloatArray
    areas: FloatArray
    iscrowd: BoolArray

    def __post_init__(self) -> None:
        n = int(np.asarray(self.image_ids).shape[0])
        arrays = {
            "image_ids": (np.asarray(self.image_ids, dtype=np.int64), (n,)),
            "category_ids": (np.asarray(self.category_ids, dtype=np.int64), (n,)),
            "boxes_xywh": (np.asarray(self.boxes_xywh, dtype=np.float64).reshape(-1, 4), (n, 4)),
            "scores": (np.asarray(self.scores, dtype=np.float64), (n,)),
            "areas": (np.asarray(self.areas, dtype=np.float64), (n,)),
            "iscrowd": (np.asarray(self.iscrowd, dtype=bool), (n,)),
        }
        for name, (arr, shape) in arrays.items():
            if arr.shape != shape:
                msg = f"BoxSet.{name} must have shape {shape}, got {arr.shape}"
                raise ValueError(msg)
            object.__setattr__(self, name, arr)
        if not np.isfinite(self.boxes_xywh).all() or not np.isfinite(self.scores).all():
            msg = "BoxSet boxes and scores must be finite"
            raise ValueError(msg)

    @classmethod
    def build(
        cls,
        image_ids: npt.ArrayLike,
        category_ids: npt.ArrayLike,
        boxes_xywh: npt.ArrayLike,
        scores: npt.ArrayLike | None = None,
        areas: npt.ArrayLike | None = None,
        iscrowd: npt.ArrayLike | None = None,
    ) -> BoxSet:
        """Boxes with defaults: score 1, area ``w * h``, not crowd."""
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        n = boxes.shape[0]
        return cls(
            np.asarray(image_ids, dtype=np.int64).reshape(n),
            np.asarray(category_ids, dtype=np.int64).reshape(n),
            boxes,
            np.ones(n) if scores is None else np.asarray(scores, dtype=np.float64),
            boxes[:, 2] * boxes[:, 3] if areas is None else np.asarray(areas, dtype=np.float64),
            np.zeros(n, dtype=bool) if iscrowd is None else np.asarray(iscrowd, dtype=bool),
        )

    def __len__(self) -> int:
        return int(self.image_ids.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class CocoGroundTruth:
    """The ground truth of a COCO evaluation.

    Attributes:
        boxes: annotated boxes (``scores`` all 1).
        image_ids: (I,) int64 every image evaluated, sorted, including images without
            boxes (detections there are false positives).
        categories: category id -> name; every category evaluated.
        file_names: image id -> file name (empty when unknown).
        stamps_ns: image id -> stamp, for images that came from messages.
        ignore: (N,) bool per box, or None: ignore regions (a difficulty level's boxes
            left out): matched by ordinary IoU like a box outside the area range, a
            detection on one counts neither way (KITTI's ignored ground truth).
    """

    boxes: BoxSet
    image_ids: IntArray
    categories: dict[int, str]
    file_names: dict[int, str] = field(default_factory=dict)
    stamps_ns: dict[int, int] = field(default_factory=dict)
    ignore: BoolArray | None = None


@dataclass(frozen=True, slots=True)
class CocoParams:
    """COCOeval parameters (defaults are pycocotools' for ``bbox``).

    Attributes:
        iou_thresholds: IoU thresholds, 0.50:0.05:0.95.
        recall_thresholds: recall sampling points, 0:0.01:1 (101).
        max_dets: detections kept per image and category, sorted ascending.
        area_ranges: name -> (min, max) px^2; must include ``all``.
        score_threshold: score from which a detection counts in the per-image failure
            analysis (not used by mAP).
        min_height_px: ground-truth boxes lower than this are ignore regions and
            unmatched detections lower than this are ignored (KITTI's ``MIN_HEIGHT`` of a
            difficulty level; 0: none).
    """

    iou_thresholds: tuple[float, ...] = tuple(
        np.linspace(0.5, 0.95, round((0.95 - 0.5) / 0.05) + 1, endpoint=True).tolist()
    )
    recall_thresholds: tuple[float, ...] = tuple(
        np.linspace(0.0, 1.00, round((1.00 - 0.0) / 0.01) + 1, endpoint=True).tolist()
    )
    max_dets: tuple[int, ...] = (1, 10, 100)
    area_ranges: tuple[tuple[str, float, float], ...] = tuple(
        (k, lo, hi) for k, (lo, hi) in AREA_RANGES.items()
    )
    score_threshold: float = 0.5
    min_height_px: float = 0.0

    def __post_init__(self) -> None:
        if not self.iou_thresholds or not all(0 < t <= 1 for t in self.iou_thresholds):
            msg = f"iou_thresholds must be in (0, 1], got {self.iou_thresholds}"
            raise ValueError(msg)
        if list(self.max_dets) != sorted(self.max_dets) or min(self.max_dets) < 1:
            msg = f"max_dets must be ascending and >= 1, got {self.max_dets}"
            raise ValueError(msg)
        if "all" not in [a[0] for a in self.area_ranges]:
            msg = "area_ranges must include 'all'"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class ImageResult:
    """One image's outcome at IoU 0.5, area ``all``, at ``CocoParams.score_threshold``.

    Attributes:
        image_id: the image.
        true_positives: detections matched to a ground-truth box.
        false_positives: detections matched to nothing.
        false_negatives: ground-truth boxes no detection matched.
        ground_truth: ground-truth boxes that count (not crowd).
    """

    image_id: int
    true_positives: int
    false_positives: int
    false_negatives: int
    ground_truth: int

    @property
    def errors(self) -> int:
        """False positives plus false negatives."""
        return self.false_positives + self.false_negatives


@dataclass(frozen=True, slots=True, eq=False)
class CocoMetrics:
    """COCO detection metrics.

    Attributes:
        stats: the 12 numbers ``COCOeval.summarize`` prints, by name: ``map``
            (IoU .50:.95), ``map_50``, ``map_75``, ``map_small``, ``map_medium``,
            ``map_large``, ``mar_1``, ``mar_10``, ``mar_100``, ``mar_small``,
            ``mar_medium``, ``mar_large``; -1 where nothing could be scored.
        per_class_ap: category name -> AP@[.50:.95] (area all, 100 dets), -1 if no GT.
        per_class_ap50: category name -> AP@.50.
        precision: (T, R, K, A, M) float64, as ``COCOeval.eval["precision"]``.
        recall: (T, K, A, M) float64, as ``COCOeval.eval["recall"]``.
        images: per-image outcome for the failure analysis, by image id.
        params: the parameters used.
        levels: mAP per difficulty level (:mod:`percept.eval.difficulty`), when scored.
    """

    stats: dict[str, float]
    per_class_ap: dict[str, float]
    per_class_ap50: dict[str, float]
    precision: FloatArray
    recall: FloatArray
    images: dict[int, ImageResult]
    params: CocoParams
    levels: tuple[LevelMetrics, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Summary for metrics.json (``levels`` by name when scored)."""
        doc: dict[str, object] = {
            **self.stats,
            "per_class_ap": self.per_class_ap,
            "per_class_ap50": self.per_class_ap50,
            "images": len(self.images),
        }
        if self.levels:
            doc["levels"] = {level.name: level.as_dict() for level in self.levels}
        return doc


# --------------------------------------------------------------------------- IoU


def box_iou(
    dets_xywh: npt.ArrayLike, gts_xywh: npt.ArrayLike, iscrowd: npt.ArrayLike
) -> FloatArray:
    """IoU between detections and ground-truth boxes, as pycocotools' ``bbIou``.

    Args:
        dets_xywh: (D, 4) ``[x, y, w, h]`` pixels.
        gts_xywh: (G, 4) ``[x, y, w, h]`` pixels.
        iscrowd: (G,) bool; for a crowd box the union is the detection's area.

    Returns:
        (D, G) float64 in [0, 1].

    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 2, 2]], [False]).round(4).tolist()
    [[0.3333]]
    """
    d = np.asarray(dets_xywh, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(gts_xywh, dtype=np.float64).reshape(-1, 4)
    crowd = np.asarray(iscrowd, dtype=bool).reshape(-1)
    w = np.minimum(d[:, None, 2] + d[:, None, 0], g[None, :, 2] + g[None, :, 0]) - np.maximum(
        d[:, None, 0], g[None, :, 0]
    )
    h = np.minimum(d[:, None, 3] + d[:, None, 1], g[None, :, 3] + g[None, :, 1]) - np.maximum(
        d[:, None, 1], g[None, :, 1]
    )
    inter = w * h
    da = (d[:, 2] * d[:, 3])[:, None]
    ga = (g[:, 2] * g[:, 3])[None, :]
    union = np.where(crowd[None, :], da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where((w > 0) & (h > 0), inter / union, 0.0)
    out: FloatArray = iou
    return out


# --------------------------------------------------------------------------- evaluation


@dataclass(slots=True)
class _ImageEval:
    """Matching of one image and category for one area range (pycocotools evaluateImg)."""

    scores: FloatArray  # (D,) sorted descending
    matched: BoolArray  # (T, D)
    ignored: BoolArray  # (T, D)
    gt_ignored: BoolArray  # (G,)
    gt_match_score: FloatArray  # (T, G) score of the matching detection, -inf if none


def _groups(image_ids: IntArray, category_ids: IntArray) -> dict[tuple[int, int], IntArray]:
    """(image, category) -> indices, each group in input order."""
    if image_ids.size == 0:
        return {}
    order = np.lexsort((category_ids, image_ids))  # stable: input order within a group
    img, cat = image_ids[order], category_ids[order]
    cuts = np.flatnonzero((np.diff(img) != 0) | (np.diff(cat) != 0)) + 1
    return {
        (int(img[chunk[0]]), int(cat[chunk[0]])): order[chunk]
        for chunk in np.split(np.arange(order.size), cuts)
    }


def _match(
    ious: FloatArray,
    gt_ignored: BoolArray,
    gt_crowd: BoolArray,
    det_scores: FloatArray,
    thresholds: FloatArray,
) -> tuple[BoolArray, BoolArray, FloatArray]:
    """Greedy matching of score-sorted detections for every IoU threshold at once.

    Ground truth must be sorted with ignored boxes last. Returns (matched (T, D),
    matched-to-ignored (T, D), gt_match_score (T, G)).
    """
    n_t = thresholds.size
    n_d, n_g = ious.shape
    taken = np.zeros((n_t, n_g), dtype=bool)
    gt_score = np.full((n_t, n_g), -np.inf)
    matched = np.zeros((n_t, n_d), dtype=bool)
    to_ignored = np.zeros((n_t, n_d), dtype=bool)
    if n_g == 0:
        return matched, to_ignored, gt_score
    limit = np.minimum(thresholds, 1 - 1e-10)[:, None]
    rows = np.arange(n_t)
    for d in range(n_d):
        row = ious[d][None, :]
        cand = (~taken | gt_crowd[None, :]) & (row >= limit)
        # Ordinary boxes first; among candidates the highest IoU, ties to the later box.
        best = np.full(n_t, -1)
        for group in (~gt_ignored, gt_ignored):
            c = cand & group[None, :]
            vals = np.where(c, row, -np.inf)
            last_max = n_g - 1 - np.argmax(vals[:, ::-1], axis=1)
            best = np.where((best < 0) & c.any(axis=1), last_max, best)
        hit = best >= 0
        if not hit.any():
            continue
        m = best[hit]
        matched[hit, d] = True
        to_ignored[hit, d] = gt_ignored[m]
        taken[rows[hit], m] = True
        gt_score[rows[hit], m] = det_scores[d]
    return matched, to_ignored, gt_score


def _evaluate_image(
    gt: BoxSet,
    gt_idx: IntArray,
    dets: BoxSet,
    det_idx: IntArray,
    area_range: tuple[float, float],
    thresholds: FloatArray,
    gt_ignore: BoolArray,
    min_height_px: float,
) -> _ImageEval:
    lo, hi = area_range
    g_area = gt.areas[gt_idx]
    g_low = gt.boxes_xywh[gt_idx, 3] < min_height_px
    g_ign_raw = gt.iscrowd[gt_idx] | (g_area < lo) | (g_area > hi) | gt_ignore[gt_idx] | g_low
    g_order = np.argsort(g_ign_raw, kind="mergesort")
    g_sel = gt_idx[g_order]
    g_ign = g_ign_raw[g_order]
    ious = box_iou(dets.boxes_xywh[det_idx], gt.boxes_xywh[g_sel], gt.iscrowd[g_sel])
    scores = dets.scores[det_idx]
    matched, to_ignored, gt_score = _match(ious, g_ign, gt.iscrowd[g_sel], scores, thresholds)
    d_area = dets.areas[det_idx]
    outside = (d_area < lo) | (d_area > hi) | (dets.boxes_xywh[det_idx, 3] < min_height_px)
    ignored = to_ignored | (~matched & outside[None, :])
    return _ImageEval(scores, matched, ignored, g_ign, gt_score)


def _mean_valid(values: FloatArray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def evaluate_coco(
    ground_truth: CocoGroundTruth, detections: BoxSet, params: CocoParams | None = None
) -> CocoMetrics:
    """COCO bbox evaluation (pycocotools ``COCOeval(gt, dt, "bbox")`` + ``summarize``).

    Args:
        ground_truth: boxes, the evaluated images and categories.
        detections: scored boxes; those of images or categories not in the ground truth
            are not scored.
        params: thresholds, maxDets and area ranges (pycocotools' defaults).

    Returns:
        the summary numbers, per-class AP, the precision/recall arrays and per-image
        outcomes.

    Raises:
        EvalError: detections on images the ground truth does not list.
    """
    p = params or CocoParams()
    gt = ground_truth.boxes
    image_ids = np.unique(ground_truth.image_ids)
    unknown = np.setdiff1d(np.unique(detections.image_ids), image_ids)
    if unknown.size:
        msg = (
            f"{unknown.size} detection image ids are not in the ground truth "
            f"(e.g. {int(unknown[0])}); match detections to ground-truth images first"
        )
        raise EvalError(msg)
    cat_ids = sorted(ground_truth.categories)
    thresholds = np.asarray(p.iou_thresholds, dtype=np.float64)
    rec_thr = np.asarray(p.recall_thresholds, dtype=np.float64)
    n_t, n_r, n_k, n_a, n_m = (
        thresholds.size,
        rec_thr.size,
        len(cat_ids),
        len(p.area_ranges),
        len(p.max_dets),
    )
    precision = -np.ones((n_t, n_r, n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))
    gt_groups = _groups(gt.image_ids, gt.category_ids)
    det_groups = _groups(detections.image_ids, detections.category_ids)
    max_det = p.max_dets[-1]
    empty = np.zeros(0, dtype=np.int64)
    all_index = [a[0] for a in p.area_ranges].index("all")
    per_image: dict[int, list[int]] = {int(i): [0, 0, 0, 0] for i in image_ids}
    gt_ignore = (
        np.zeros(len(gt), dtype=bool)
        if ground_truth.ignore is None
        else np.asarray(ground_truth.ignore, dtype=bool).reshape(len(gt))
    )

    for k, cat in enumerate(cat_ids):
        evals: list[list[_ImageEval]] = [[] for _ in range(n_a)]
        for img in image_ids.tolist():
            g_idx = gt_groups.get((img, cat), empty)
            d_idx = det_groups.get((img, cat), empty)
            if g_idx.size == 0 and d_idx.size == 0:
                continue
            order = np.argsort(-detections.scores[d_idx], kind="mergesort")
            d_idx = d_idx[order][:max_det]
            for a, (_, lo, hi) in enumerate(p.area_ranges):
                ev = _evaluate_image(
                    gt, g_idx, detections, d_idx, (lo, hi), thresholds, gt_ignore, p.min_height_px
                )
                evals[a].append(ev)
                if a == all_index:
                    _count_image(per_image[img], ev, p.score_threshold)
        for a in range(n_a):
            if not evals[a]:
                continue
            gt_ign = np.concatenate([e.gt_ignored for e in evals[a]])
            npig = int(np.count_nonzero(~gt_ign))
            if npig == 0:
                continue
            for m, md in enumerate(p.max_dets):
                scores = np.concatenate([e.scores[:md] for e in evals[a]])
                inds = np.argsort(-scores, kind="mergesort")
                dtm = np.concatenate([e.matched[:, :md] for e in evals[a]], axis=1)[:, inds]
                dtig = np.concatenate([e.ignored[:, :md] for e in evals[a]], axis=1)[:, inds]
                tps = dtm & ~dtig
                fps = ~dtm & ~dtig
                tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(np.float64)
                nd = tp_sum.shape[1]
                if nd == 0:
                    recall[:, k, a, m] = 0.0
                    precision[:, :, k, a, m] = 0.0
                    continue
                rc = tp_sum / npig
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                recall[:, k, a, m] = rc[:, -1]
                for t in range(n_t):
                    pos = np.searchsorted(rc[t], rec_thr, side="left")
                    precision[t, :, k, a, m] = np.where(
                        pos < nd, pr[t, np.minimum(pos, nd - 1)], 0.0
                    )

    stats = _summarize(precision, recall, thresholds, p)
    m100 = len(p.max_dets) - 1
    t50 = _threshold_index(thresholds, 0.5)
    per_class = {
        ground_truth.categories[c]: _mean_valid(precision[:, :, k, all_index, m100])
        for k, c in enumerate(cat_ids)
    }
    per_class50 = {
        ground_truth.categories[c]: (
            _mean_valid(precision[t50, :, k, all_index, m100]) if t50 is not None else -1.0
        )
        for k, c in enumerate(cat_ids)
    }
    images = {
        i: ImageResult(i, counts[0], counts[1], counts[2], counts[3])
        for i, counts in per_image.items()
    }
    return CocoMetrics(stats, per_class, per_class50, precision, recall, images, p)


def _count_image(counts: list[int], ev: _ImageEval, score_threshold: float) -> None:
    """Add one category's outcome at the first IoU threshold (0.5) to an image's counts."""
    kept = ev.scores >= score_threshold
    counts[0] += int(np.count_nonzero(ev.matched[0] & ~ev.ignored[0] & kept))
    counts[1] += int(np.count_nonzero(~ev.matched[0] & ~ev.ignored[0] & kept))
    found = ev.gt_match_score[0] >= score_threshold
    counts[2] += int(np.count_nonzero(~ev.gt_ignored & ~found))
    counts[3] += int(np.count_nonzero(~ev.gt_ignored))


def _threshold_index(thresholds: FloatArray, value: float) -> int | None:
    hits = np.flatnonzero(np.isclose(thresholds, value, rtol=0.0, atol=1e-9))
    return int(hits[0]) if hits.size else None


def _summarize(
    precision: FloatArray, recall: FloatArray, thresholds: FloatArray, p: CocoParams
) -> dict[str, float]:
    names = [a[0] for a in p.area_ranges]
    m_last = len(p.max_dets) - 1

    def ap(iou: float | None, area: str, m: int) -> float:
        if area not in names:
            return -1.0
        s = precision[:, :, :, names.index(area), m]
        if iou is not None:
            t = _threshold_index(thresholds, iou)
            if t is None:
                return -1.0
            s = s[t]
        return _mean_valid(s)

    def ar(area: str, m: int) -> float:
        if area not in names or m < 0:
            return -1.0
        return _mean_valid(recall[:, :, names.index(area), m])

    def m_of(count: int) -> int:
        return p.max_dets.index(count) if count in p.max_dets else -1

    return {
        "map": ap(None, "all", m_last),
        "map_50": ap(0.5, "all", m_last),
        "map_75": ap(0.75, "all", m_last),
        "map_small": ap(None, "small", m_last),
        "map_medium": ap(None, "medium", m_last),
        "map_large": ap(None, "large", m_last),
        "mar_1": ar("all", m_of(1)),
        "mar_10": ar("all", m_of(10)),
        "mar_100": ar("all", m_last),
        "mar_small": ar("small", m_last),
        "mar_medium": ar("medium", m_last),
        "mar_large": ar("large", m_last),
    }


# --------------------------------------------------------------------------- readers


def _load_json(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path}: cannot read {what}: {err}"
        raise EvalError(msg) from err


def _bbox(value: object, where: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        msg = f"{where}: bbox must be [x, y, w, h], got {value!r}"
        raise EvalError(msg)
    try:
        box = [float(v) for v in value]
    except (TypeError, ValueError) as err:
        msg = f"{where}: bbox must hold numbers, got {value!r}"
        raise EvalError(msg) from err
    if not all(math.isfinite(v) for v in box):
        msg = f"{where}: bbox must be finite, got {value!r}"
        raise EvalError(msg)
    return box


def coco_ground_truth_from_dict(doc: object, where: str = "ground truth") -> CocoGroundTruth:
    """Ground truth from a parsed COCO ``instances`` document.

    Uses ``images`` (all of them are evaluated), ``categories`` and ``annotations``
    (``image_id``, ``category_id``, ``bbox``, ``area`` — ``w * h`` when absent —,
    ``iscrowd``).

    Raises:
        EvalError: a required key is missing or malformed (message names it).
    """
    if not isinstance(doc, dict):
        msg = f"{where}: expected a COCO object with images, categories, annotations"
        raise EvalError(msg)
    try:
        images = {int(im["id"]): str(im.get("file_name", "")) for im in doc["images"]}
        categories = {int(c["id"]): str(c.get("name", c["id"])) for c in doc["categories"]}
        anns = list(doc["annotations"])
        img = [int(a["image_id"]) for a in anns]
        cat = [int(a["category_id"]) for a in anns]
        boxes = [
            _bbox(a["bbox"], f"{where}: annotation {a.get('id', i)}") for i, a in enumerate(anns)
        ]
        areas = [
            float(a["area"]) if "area" in a else boxes[i][2] * boxes[i][3]
            for i, a in enumerate(anns)
        ]
        crowd = [bool(a.get("iscrowd", 0)) for a in anns]
    except (KeyError, TypeError, ValueError) as err:
        msg = f"{where}: malformed COCO ground truth ({type(err).__name__}: {err})"
        raise EvalError(msg) from err
    missing = set(img) - set(images)
    if missing:
        msg = f"{where}: annotations refer to images not listed: {sorted(missing)[:5]}"
        raise EvalError(msg)
    boxes_set = BoxSet.build(img, cat, np.array(boxes).reshape(-1, 4), None, areas, crowd)
    return CocoGroundTruth(boxes_set, np.array(sorted(images), dtype=np.int64), categories, images)


def load_coco_ground_truth(path: Path | str) -> CocoGroundTruth:
    """Read COCO ground truth (``instances_*.json``).

    Raises:
        EvalError: unreadable or malformed file.
    """
    p = Path(path)
    return coco_ground_truth_from_dict(_load_json(p, "COCO ground truth"), str(p))


def load_coco_detections(path: Path | str, ground_truth: CocoGroundTruth) -> BoxSet:
    """Read detections: a COCO result list, or a COCO-style document to re-map.

    A result list ``[{"image_id", "category_id", "bbox", "score"}, ...]`` uses the
    ground truth's ids as they are. A document with its own ``images``, ``categories``
    and scored ``annotations`` (a detector's export) is matched to the ground truth by
    image ``file_name`` and category ``name``.

    Raises:
        EvalError: unreadable file, missing keys, or images/categories that cannot be
            matched to the ground truth.
    """
    p = Path(path)
    doc = _load_json(p, "COCO detections")
    try:
        if isinstance(doc, list):
            anns = doc
            img = [int(a["image_id"]) for a in anns]
            cat = [int(a["category_id"]) for a in anns]
        elif isinstance(doc, dict) and "annotations" in doc:
            anns = list(doc["annotations"])
            img_by_name = {name: i for i, name in ground_truth.file_names.items() if name}
            cat_by_name = {name: c for c, name in ground_truth.categories.items()}
            image_map = {}
            for im in doc.get("images", []):
                name = str(im.get("file_name", ""))
                if name not in img_by_name:
                    msg = f"{p}: detection image {name!r} is not in the ground truth"
                    raise EvalError(msg)
                image_map[int(im["id"])] = img_by_name[name]
            cat_map = {}
            for c in doc.get("categories", []):
                name = str(c.get("name", ""))
                if name in cat_by_name:
                    cat_map[int(c["id"])] = cat_by_name[name]
            img = [image_map.get(int(a["image_id"]), int(a["image_id"])) for a in anns]
            # categories the ground truth lacks are not scored (as pycocotools); -1 never is.
            cat = [cat_map.get(int(a["category_id"]), -1) for a in anns]
        else:
            msg = f"{p}: expected a COCO result list or a document with annotations"
            raise EvalError(msg)
        boxes = [_bbox(a["bbox"], f"{p}: detection {i}") for i, a in enumerate(anns)]
        scores = [float(a["score"]) for a in anns]
    except (KeyError, TypeError, ValueError) as err:
        msg = f"{p}: malformed COCO detections ({type(err).__name__}: {err})"
        raise EvalError(msg) from err
    return BoxSet.build(img, cat, np.array(boxes).reshape(-1, 4), scores)


def _top_hypothesis(det: object) -> tuple[str, float] | None:
    results = getattr(det, "results", ())
    if not results:
        return None
    best = results[0]
    return str(best.class_id), float(best.score)


def coco_from_detection_arrays(
    ground_truth: Sequence[Detection2DArray],
    detections: Sequence[Detection2DArray],
    *,
    max_diff_ns: int = 1_000_000,
) -> tuple[CocoGroundTruth, BoxSet, int]:
    """COCO ground truth and detections from vision_msgs Detection2DArray frames.

    Each ground-truth frame is an image; a detection frame belongs to the ground-truth
    frame with the nearest stamp within ``max_diff_ns``. Boxes use their best hypothesis
    (``results[0]``): ``class_id`` names the category, ``score`` scores it. Categories
    are the class ids seen in the ground truth.

    Args:
        ground_truth: frames of true boxes (``/ground_truth/detections_2d``).
        detections: frames a detector published (``/detections``).
        max_diff_ns: largest stamp difference between a detection frame and its image.

    Returns:
        (ground truth, detections, number of detection frames without a ground-truth
        frame, which are left out).
    """
    if not ground_truth:
        msg = "no ground-truth detection frames"
        raise EvalError(msg)
    gt_sorted = sorted(ground_truth, key=lambda f: f.header.stamp_ns)
    stamps = np.array([f.header.stamp_ns for f in gt_sorted], dtype=np.int64)
    names = sorted({hyp[0] for f in gt_sorted for d in f.detections if (hyp := _top_hypothesis(d))})
    cat_of = {name: i + 1 for i, name in enumerate(names)}
    g_img: list[int] = []
    g_cat: list[int] = []
    g_box: list[list[float]] = []
    for image_id, frame in enumerate(gt_sorted, start=1):
        for d in frame.detections:
            hyp = _top_hypothesis(d)
            if hyp is None:
                continue
            g_img.append(image_id)
            g_cat.append(cat_of[hyp[0]])
            g_box.append(_xywh(d.center_uv, d.size_uv))
    d_img: list[int] = []
    d_cat: list[int] = []
    d_box: list[list[float]] = []
    d_score: list[float] = []
    unmatched = 0
    for frame in detections:
        pos = int(np.searchsorted(stamps, frame.header.stamp_ns))
        near = [i for i in (pos - 1, pos) if 0 <= i < stamps.size]
        best = min(near, key=lambda i: abs(int(stamps[i]) - frame.header.stamp_ns))
        if abs(int(stamps[best]) - frame.header.stamp_ns) > max_diff_ns:
            unmatched += 1
            continue
        for d in frame.detections:
            hyp = _top_hypothesis(d)
            if hyp is None:
                continue
            d_img.append(best + 1)
            d_cat.append(cat_of.get(hyp[0], -1))
            d_box.append(_xywh(d.center_uv, d.size_uv))
            d_score.append(hyp[1])
    gt_boxes = BoxSet.build(g_img, g_cat, np.array(g_box).reshape(-1, 4))
    gt = CocoGroundTruth(
        gt_boxes,
        np.arange(1, len(gt_sorted) + 1, dtype=np.int64),
        {i: name for name, i in cat_of.items()},
        {},
        {i + 1: int(s) for i, s in enumerate(stamps)},
    )
    dets = BoxSet.build(d_img, d_cat, np.array(d_box).reshape(-1, 4), d_score)
    return gt, dets, unmatched


def _xywh(center_uv: tuple[float, float], size_uv: tuple[float, float]) -> list[float]:
    w, h = float(size_uv[0]), float(size_uv[1])
    return [float(center_uv[0]) - w / 2, float(center_uv[1]) - h / 2, w, h]
