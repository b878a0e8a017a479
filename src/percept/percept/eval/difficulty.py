"""Difficulty levels of 2D detection ground truth, after KITTI's (box height, occlusion).

KITTI's object benchmark (Geiger et al., CVPR 2012; devkit ``evaluate_object.cpp``:
``MIN_HEIGHT = {40, 25, 25}``, ``MAX_OCCLUSION = {0, 1, 2}``, ``MAX_TRUNCATION = {0.15,
0.3, 0.5}``) scores three levels: easy (box at least 40 px high, fully visible, at most
15 % truncated), moderate (25 px, partly occluded at most, 30 %) and hard (25 px,
difficult to see, 50 %). Ground truth outside a level is *ignored*, not removed: a
detection on it counts neither as a true nor as a false positive, and it is never a
miss; an unmatched detection lower than the level's height is ignored as well. This is
COCO's rule for boxes outside an area range (``CocoGroundTruth.ignore``,
``CocoParams.min_height_px``): the only difference to KITTI is that a low detection may
still match a box of the level before it is ignored (KITTI drops it before matching).

KITTI's occlusion flags are an annotator's judgement; the synthetic ground truth
measures the visible fraction instead (``percept.synth``: visible pixels over the pixels
the object would cover with nothing in front, on ``/ground_truth/left/detections_2d/
visibility``). The levels here:

========  =============  ================  =================================================
level     height (px)    visible fraction  KITTI counterpart
========  =============  ================  =================================================
all       any            any               every labelled box (>= 31 visible pixels)
moderate  >= 25          >= 0.5            partly occluded at most: half of it can be seen
easy      >= 40          >= 0.85           fully visible; 0.85 grants the 15 % KITTI's
                                           easy allows to truncation, and the few pixels
                                           that thin clutter and rack edges take
========  =============  ================  =================================================

Truncation by the image border is not in the visible fraction (the generator counts
pixels inside the image only), so no truncation limit applies. Ground truth without
visibility (bags written before the visibility topic, COCO files) is scored by height
alone, and :class:`LevelMetrics` says so (``visibility_known``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.domain import Detection2DArray
from percept.errors import EvalError
from percept.eval.detection import BoxSet, CocoGroundTruth, CocoMetrics, evaluate_coco

__all__ = [
    "DIFFICULTY_LEVELS",
    "DifficultyLevel",
    "LevelMetrics",
    "evaluate_levels",
    "level_ignored",
    "visible_fractions_of",
]


@dataclass(frozen=True, slots=True)
class DifficultyLevel:
    """Which ground-truth boxes a level counts.

    Attributes:
        name: ``moderate``, ``easy``...
        min_height_px: least box height, pixels (KITTI's ``MIN_HEIGHT``).
        min_visible: least visible fraction in [0, 1] (KITTI's ``MAX_OCCLUSION``).
    """

    name: str
    min_height_px: float
    min_visible: float

    def __post_init__(self) -> None:
        if self.min_height_px < 0 or not 0.0 <= self.min_visible <= 1.0:
            msg = (
                f"level {self.name}: min_height_px >= 0 and min_visible in [0, 1], got "
                f"{self.min_height_px}, {self.min_visible}"
            )
            raise ValueError(msg)

    def describe(self, visibility_known: bool = True) -> str:
        """The rule in words (``height >= 25 px, visible >= 50 %``)."""
        parts = [f"height >= {self.min_height_px:g} px"] if self.min_height_px > 0 else []
        if self.min_visible > 0:
            parts.append(
                f"visible >= {self.min_visible:.0%}"
                if visibility_known
                else "visibility unknown (height only)"
            )
        return ", ".join(parts) or "every box"


#: The levels every detection report shows after ``all``: moderate, then easy.
DIFFICULTY_LEVELS: tuple[DifficultyLevel, ...] = (
    DifficultyLevel("moderate", 25.0, 0.5),
    DifficultyLevel("easy", 40.0, 0.85),
)
_ALL = DifficultyLevel("all", 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class LevelMetrics:
    """COCO mAP of one difficulty level.

    Attributes:
        name: the level.
        rule: its definition in words.
        min_height_px: least box height.
        min_visible: least visible fraction.
        visibility_known: whether visible fractions were there (False: height only).
        boxes: ground-truth boxes counted.
        ignored: ground-truth boxes turned into ignore regions.
        map: mAP@0.5:0.95.
        map_50: mAP@0.5.
        per_class_ap50: class -> AP@0.5 (-1: no box of the class in the level).
    """

    name: str
    rule: str
    min_height_px: float
    min_visible: float
    visibility_known: bool
    boxes: int
    ignored: int
    map: float
    map_50: float
    per_class_ap50: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        """The metrics.json entry."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def visible_fractions_of(
    ground_truth: Sequence[Detection2DArray], visibility: Sequence[Detection2DArray]
) -> npt.NDArray[np.float64]:
    """Visible fraction of every ground-truth box, in ``coco_from_detection_arrays`` order.

    ``visibility`` frames repeat the ground-truth frames with the visible fraction as each
    detection's score; a frame pairs by equal header stamp, a detection by ``id`` (by
    position when the frame has no ids).

    Args:
        ground_truth: the ground-truth frames (any order; boxes are taken as the COCO
            conversion takes them: frames by stamp, detections with a hypothesis).
        visibility: the visibility frames.

    Returns:
        (N,) float64 in [0, 1], NaN for a box without a visible fraction.

    Raises:
        EvalError: a visibility frame whose boxes do not fit its ground-truth frame.
    """
    by_stamp = {f.header.stamp_ns: f for f in visibility}
    out: list[float] = []
    for frame in sorted(ground_truth, key=lambda f: f.header.stamp_ns):
        dets = [d for d in frame.detections if d.results]
        seen = by_stamp.get(frame.header.stamp_ns)
        if seen is None:
            out += [math.nan] * len(dets)
            continue
        values = [float(d.results[0].score) if d.results else math.nan for d in seen.detections]
        ids = [d.id for d in seen.detections]
        if all(d.id for d in dets) and len(set(ids)) == len(ids) and all(ids):
            lookup = dict(zip(ids, values, strict=True))
            out += [lookup.get(d.id, math.nan) for d in dets]
        elif len(seen.detections) == len(frame.detections):
            out += [v for v, d in zip(values, frame.detections, strict=True) if d.results]
        else:
            msg = (
                f"visibility frame at {frame.header.stamp_ns} ns has {len(seen.detections)} "
                f"boxes without ids for {len(frame.detections)} ground-truth boxes"
            )
            raise EvalError(msg)
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


def level_ignored(
    boxes: BoxSet, visible: npt.NDArray[np.floating] | None, level: DifficultyLevel
) -> npt.NDArray[np.bool_]:
    """(N,) ground-truth boxes outside ``level`` (unknown visibility: height alone).

    >>> b = BoxSet.build([1, 1, 1], [1, 1, 1], [[0, 0, 9, 50], [0, 0, 9, 30], [0, 0, 9, 50]])
    >>> level_ignored(b, np.array([0.9, 0.9, np.nan]), DIFFICULTY_LEVELS[1]).tolist()
    [False, True, False]
    """
    low = boxes.boxes_xywh[:, 3] < level.min_height_px
    if visible is None:
        return low
    vis = np.asarray(visible, dtype=np.float64).reshape(-1)
    if vis.shape[0] != len(boxes):
        msg = f"{vis.shape[0]} visible fractions for {len(boxes)} ground-truth boxes"
        raise EvalError(msg)
    hidden = np.isfinite(vis) & (vis < level.min_visible)
    return low | hidden


def evaluate_levels(
    ground_truth: CocoGroundTruth,
    detections: BoxSet,
    overall: CocoMetrics,
    visible: npt.NDArray[np.floating] | None,
    levels: Sequence[DifficultyLevel] = DIFFICULTY_LEVELS,
) -> tuple[LevelMetrics, ...]:
    """``all`` (from ``overall``) and each level's mAP@0.5 and mAP@0.5:0.95.

    Args:
        ground_truth: the ground truth ``overall`` was scored on.
        detections: the detections ``overall`` was scored on.
        overall: the evaluation of every box (its parameters are reused).
        visible: (N,) visible fraction per ground-truth box, NaN unknown; None: unknown.
        levels: the levels after ``all``.

    Returns:
        One entry per level, ``all`` first.
    """
    vis = None if visible is None else np.asarray(visible, dtype=np.float64).reshape(-1)
    known = vis is not None and bool(np.isfinite(vis).any())
    base_ignore = (
        np.zeros(len(ground_truth.boxes), dtype=bool)
        if ground_truth.ignore is None
        else np.asarray(ground_truth.ignore, dtype=bool)
    )
    counted_all = ~base_ignore & ~ground_truth.boxes.iscrowd
    out = [
        LevelMetrics(
            "all",
            _ALL.describe(),
            0.0,
            0.0,
            known,
            int(np.count_nonzero(counted_all)),
            0,
            overall.stats["map"],
            overall.stats["map_50"],
            dict(overall.per_class_ap50),
        )
    ]
    params = dataclasses.replace(overall.params, area_ranges=(("all", 0.0, 1e10),))
    for level in levels:
        outside = level_ignored(ground_truth.boxes, vis, level)
        gt = dataclasses.replace(ground_truth, ignore=base_ignore | outside)
        m = evaluate_coco(
            gt, detections, dataclasses.replace(params, min_height_px=level.min_height_px)
        )
        out.append(
            LevelMetrics(
                level.name,
                level.describe(known),
                level.min_height_px,
                level.min_visible,
                known,
                int(np.count_nonzero(counted_all & ~outside)),
                int(np.count_nonzero(counted_all & outside)),
                m.stats["map"],
                m.stats["map_50"],
                dict(m.per_class_ap50),
            )
        )
    return tuple(out)
