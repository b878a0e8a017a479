"""Detection metric: COCO mAP of the run's 2D detections against the ground-truth boxes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import Detection2DArray, Image
from percept.errors import CodecError
from percept.eval.detection import coco_from_detection_arrays, evaluate_coco
from percept.eval.difficulty import evaluate_levels, visible_fractions_of
from percept.eval.frames import FrameScore, Shot
from percept.eval.html import figure, fmt, table
from percept.eval.metrics.base import IMAGE, Collector, Input, Metric, RunContext, SummaryRow
from percept.eval.pictures import write_png
from percept.eval.stream import decode
from percept.image import convert_image
from percept.io.bag import BagReader
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.config import EvalConfig
    from percept.eval.detection import CocoMetrics
    from percept.eval.result import EvalResult

__all__ = ["DETECTIONS", "GT_DETECTIONS", "GT_VISIBILITY", "DetectionMetric", "Detections"]

DETECTIONS = Input("detections", ("/detections",), frozenset({codecs.DETECTION2D_ARRAY}))
GT_DETECTIONS = Input(
    "gt_detections",
    (
        "/ground_truth/left/detections_2d",
        "/ground_truth/detections_2d",
        "/ground_truth/detections",
    ),
    frozenset({codecs.DETECTION2D_ARRAY}),
    ground_truth=True,
)
#: The visible fraction of each ground-truth box (``percept synth``: the boxes again,
#: score = visible fraction), for the difficulty levels; optional.
GT_VISIBILITY = Input(
    "gt_visibility",
    ("/ground_truth/left/detections_2d/visibility",),
    frozenset({codecs.DETECTION2D_ARRAY}),
    ground_truth=True,
)


class Detections(Collector):
    """The run's and the true 2D detection frames (shared base of detection and tracking)."""

    def __init__(self, context: RunContext) -> None:
        """Collect for the run of ``context``."""
        self.context = context
        self.run: list[Detection2DArray] = []
        self.gt: list[Detection2DArray] = []
        self.visibility: list[Detection2DArray] = []

    def add(self, key: str, obj: object) -> None:
        """Keep a detection frame of the run, of the ground truth or of its visibility."""
        if isinstance(obj, Detection2DArray):
            if key == GT_VISIBILITY.key:
                self.visibility.append(obj)
            else:
                (self.run if key == DETECTIONS.key else self.gt).append(obj)

    def finish(self, result: EvalResult) -> None:
        """COCO evaluation, per-frame failures, worst frames (with their camera image)."""
        cfg = self.context.config
        if not self.gt:
            result.skipped["detection"] = "no ground-truth detection frames decoded"
            return
        gt, dets, unmatched = coco_from_detection_arrays(
            self.gt, self.run, max_diff_ns=cfg.frame_max_diff_ns
        )
        if unmatched:
            result.notes.append(
                f"detection: {unmatched} run frames had no ground-truth frame within "
                f"{cfg.frame_max_diff_ns / 1e6:g} ms and were left out"
            )
        metrics = evaluate_coco(gt, dets, cfg.coco)
        # Without visible fractions (older bags) the levels go by height and say so.
        visible = visible_fractions_of(self.gt, self.visibility) if self.visibility else None
        metrics = dataclasses.replace(metrics, levels=evaluate_levels(gt, dets, metrics, visible))
        result.detection, result.detection_truth, result.detection_boxes = metrics, gt, dets
        frames = [
            FrameScore(
                i,
                {
                    "errors": float(r.errors),
                    "false_positives": float(r.false_positives),
                    "false_negatives": float(r.false_negatives),
                    "true_positives": float(r.true_positives),
                },
            )
            for i, r in sorted(metrics.images.items())
        ]
        # per-frame rows carry the frame's stamp; the image id is kept for the overlays
        result.frames["detection"] = [
            FrameScore(gt.stamps_ns[f.stamp_ns], f.values) for f in frames
        ]
        worst = [f for f in frames if f.values["errors"] > 0]
        worst = sorted(worst, key=lambda f: (-f.values["errors"], f.stamp_ns))[: cfg.worst_frames]
        picks = worst or frames[:1]
        result.shots["detection"] = [
            Shot(
                gt.stamps_ns[f.stamp_ns],
                "worst errors" if worst else "first frame",
                f.values["errors"],
                image_id=f.stamp_ns,
            )
            for f in picks
        ]
        if result.shots.get("detection") and IMAGE.key in result.topics:
            with BagReader(self.context.run_path) as reader:
                _fetch_missing_images(
                    reader,
                    result.topics[IMAGE.key],
                    [s.stamp_ns for s in result.shots["detection"]],
                    cfg,
                    result,
                )


def _fetch_missing_images(
    reader: BagReader,
    topic: str | None,
    stamps: Sequence[int],
    cfg: EvalConfig,
    result: EvalResult,
) -> None:
    """Attach camera images at ``stamps`` to the detection shots (a second, light pass)."""
    if topic is None or not stamps:
        return
    wanted = set(stamps)
    got: dict[int, npt.NDArray[np.generic]] = {}
    for m in reader.messages([topic]):
        try:
            image = decode(m)
        except CodecError:
            continue
        if not isinstance(image, Image):
            continue
        near = [s for s in wanted if abs(s - image.header.stamp_ns) <= cfg.frame_max_diff_ns]
        if not near:
            continue
        try:
            bgr = convert_image(image, "bgr8").data
        except CodecError:
            continue
        for s in near:
            got[s] = np.asarray(bgr)
            wanted.discard(s)
        if not wanted:
            break
    for shot in result.shots.get("detection", []):
        if shot.stamp_ns in got:
            shot.arrays["image"] = got[shot.stamp_ns]


def _detection_overlay(result: EvalResult, shot: Shot) -> npt.NDArray[np.uint8] | None:
    """The frame with true boxes (green) and detections above the score threshold (red)."""
    gt, dets, metrics = result.detection_truth, result.detection_boxes, result.detection
    if gt is None or dets is None or metrics is None or shot.image_id is None:
        return None
    g_sel = gt.boxes.image_ids == shot.image_id
    d_sel = (dets.image_ids == shot.image_id) & (dets.scores >= metrics.params.score_threshold)
    boxes = np.vstack([gt.boxes.boxes_xywh[g_sel], dets.boxes_xywh[d_sel]])
    image = shot.arrays.get("image")
    if image is not None:
        canvas = np.asarray(image, dtype=np.uint8)
        if canvas.ndim == 2:
            canvas = np.asarray(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    else:  # no camera image in the bag: boxes on grey
        extent = (boxes[:, :2] + boxes[:, 2:]).max(axis=0) if boxes.size else np.array([320, 240])
        canvas = np.full((int(extent[1]) + 10, int(extent[0]) + 10, 3), 90, np.uint8)
    # draw at a readable size: small frames enlarged, large ones reduced to 640 px
    scale = 640 / canvas.shape[1] if canvas.shape[1] > 640 else max(1.0, 480 / canvas.shape[1])
    size = (round(canvas.shape[1] * scale), round(canvas.shape[0] * scale))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_NEAREST
    canvas = np.asarray(cv2.resize(canvas, size, interpolation=interp), dtype=np.uint8)
    names = gt.categories
    font = cv2.FONT_HERSHEY_SIMPLEX
    layers = (
        (gt.boxes.boxes_xywh[g_sel], gt.boxes.category_ids[g_sel], None, (60, 200, 60), 2),
        (dets.boxes_xywh[d_sel], dets.category_ids[d_sel], dets.scores[d_sel], (40, 40, 230), 1),
    )
    for xywh, cats, scores, colour, thickness in layers:
        for k, (box, cat) in enumerate(zip(xywh, cats, strict=True)):
            x, y, w, h = (round(float(v) * scale) for v in box)
            cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
            text = names.get(int(cat), str(cat))
            at = (x, y + h - 4)
            if scores is not None:
                text, at = f"{text} {scores[k]:.2f}", (x, max(10, y - 3))
            cv2.putText(canvas, text, at, font, 0.4, colour, 1, cv2.LINE_AA)
    return canvas


def _levels_html(cm: CocoMetrics) -> str:
    """The difficulty-level table (all / moderate / easy), empty when not scored."""
    if not cm.levels:
        return ""
    rows = [[lv.name, lv.rule, lv.boxes, lv.ignored, lv.map_50, lv.map] for lv in cm.levels]
    known = all(lv.visibility_known for lv in cm.levels)
    return (
        "<h3>Difficulty levels</h3><p>As KITTI's: ground truth outside a level is an ignore "
        "region (a detection on it counts neither way) and unmatched detections lower than "
        "the level's height are ignored"
        + ("" if known else "; the ground truth has no visible fractions, so height alone")
        + ".</p>"
        + table(["level", "rule", "boxes", "ignored", "mAP@0.5", "mAP@0.5:0.95"], rows)
    )


class DetectionMetric(Metric):
    """COCO mAP as pycocotools computes it (:mod:`percept.eval.detection`)."""

    name = "detection"
    run_inputs = (DETECTIONS,)
    gt_input = GT_DETECTIONS
    optional_inputs = (GT_VISIBILITY,)
    extra_keys = frozenset({IMAGE.key})
    split_metrics = ("errors",)
    worst_metrics = ("errors",)

    def collector(self, context: RunContext) -> Collector:
        """Collects the detection frames."""
        return Detections(context)

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``detection``: the COCO statistics, per class and per image."""
        if result.detection is None:
            return {}
        return {"detection": result.detection.as_dict()}

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """mAP@0.5:0.95, mAP@0.5, mAP@0.75, mAR@100, then both mAPs per difficulty level."""
        cm = result.detection
        if cm is None:
            return []
        rows: list[SummaryRow] = [
            ("mAP@0.5:0.95", fmt(cm.stats["map"]), ""),
            ("mAP@0.5", fmt(cm.stats["map_50"]), ""),
            ("mAP@0.75", fmt(cm.stats["map_75"]), ""),
            ("mAR@100", fmt(cm.stats["mar_100"]), ""),
        ]
        for level in cm.levels:
            rows.append((f"mAP@0.5 {level.name}", fmt(level.map_50), f"({level.rule})"))
            rows.append((f"mAP@0.5:0.95 {level.name}", fmt(level.map), ""))
        return rows

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """COCO tables and overlays of the worst frames."""
        cm = result.detection
        if cm is None:
            return ""
        s = cm.stats
        rows = [[k, v] for k, v in s.items()]
        per_class = [
            [name, cm.per_class_ap[name], cm.per_class_ap50[name]] for name in cm.per_class_ap
        ]
        parts = [
            "<h2>Detection</h2>",
            f"<p>COCO evaluation (pycocotools semantics), {len(cm.images)} images. Per-image "
            f"failures counted at IoU 0.5 and score &ge; {cm.params.score_threshold:g}.</p>",
            table(["metric", "value"], rows),
            _levels_html(cm),
            "<h3>Per class</h3>",
            table(["class", "AP@[.5:.95]", "AP@.5"], per_class),
        ]
        for i, shot in enumerate(result.shots.get("detection", [])):
            overlay = _detection_overlay(result, shot)
            if overlay is None:
                continue
            name = write_png(out_dir, f"detection_{i}.png", overlay)
            img = cm.images.get(shot.image_id or -1)
            counts = (
                f": {img.false_positives} false positives, {img.false_negatives} missed"
                if img is not None
                else ""
            )
            when = f" at t = {shot.stamp_ns / NS_PER_S:.3f} s" if shot.stamp_ns else ""
            parts.append(figure(name, f"{shot.title}{when}{counts}; green truth, red detections"))
        return "".join(parts)

    def range_conditions(self, result: EvalResult) -> dict[str, list[dict[str, object]]]:
        """``detection.map_by_box_size``: COCO's small, medium and large mAP."""
        if result.detection is None:
            return {}
        stats = result.detection.stats
        return {
            "detection.map_by_box_size": [
                # COCO's -1: no ground-truth box of that size
                {"band": name, "mean": stats[f"map_{name}"] if stats[f"map_{name}"] >= 0 else None}
                for name in ("small", "medium", "large")
            ]
        }
