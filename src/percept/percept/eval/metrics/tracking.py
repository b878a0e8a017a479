"""Tracking metric: CLEAR MOT and IDF1 of the run's tracked detections (py-motmetrics)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from percept.errors import EvalError
from percept.eval.difficulty import DIFFICULTY_LEVELS, DifficultyLevel
from percept.eval.frames import FrameScore
from percept.eval.html import fmt, table
from percept.eval.metrics.base import Collector, Metric, RunContext, SummaryRow
from percept.eval.metrics.detection import DETECTIONS, GT_DETECTIONS, GT_VISIBILITY, Detections
from percept.eval.tracking import NEAR_IOU, TrackingMetrics, evaluate_tracking
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.result import EvalResult

__all__ = ["TrackingMetric"]

TrackingResult = tuple[TrackingMetrics, list[tuple[int, dict[str, float]]], list[str]]


class _Tracks(Detections):
    def finish(self, result: EvalResult) -> None:
        cfg = self.context.config
        if not self.gt:
            result.skipped["tracking"] = "no ground-truth detection frames decoded"
            return

        def score(level: DifficultyLevel | None = None) -> TrackingResult:
            return evaluate_tracking(
                self.gt,
                self.run,
                max_diff_ns=cfg.frame_max_diff_ns,
                max_iou_distance=cfg.track_max_iou_distance,
                same_class=cfg.match_same_class,
                level=level,
                visibility=self.visibility,
            )

        try:
            metrics, per_frame, notes = score()
            levels = tuple(score(level)[0] for level in DIFFICULTY_LEVELS)
        except EvalError as err:
            result.skipped["tracking"] = str(err)
            return
        result.tracking = dataclasses.replace(metrics, levels=levels)
        result.notes += notes
        result.frames["tracking"] = [FrameScore(s, v) for s, v in per_frame]


class TrackingMetric(Metric):
    """MOTA, IDF1 and ID switches as py-motmetrics computes them (:mod:`percept.eval.tracking`)."""

    name = "tracking"
    run_inputs = (DETECTIONS,)
    gt_input = GT_DETECTIONS
    optional_inputs = (GT_VISIBILITY,)
    worst_metrics = ("switches",)

    def collector(self, context: RunContext) -> Collector:
        """Collects the detection frames."""
        return _Tracks(context)

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``tracking``: the CLEAR MOT and identity metrics."""
        if result.tracking is None:
            return {}
        return {"tracking": result.tracking.as_dict()}

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """MOTA, IDF1, ID switches; MOTA and IDF1 per difficulty level."""
        tr = result.tracking
        if tr is None:
            return []
        rows: list[SummaryRow] = [
            ("MOTA", fmt(tr.mota), ""),
            ("IDF1", fmt(tr.idf1), ""),
            ("ID switches", str(tr.num_switches), f"({tr.gt_tracks} true tracks)"),
        ]
        for label, total, causes in (
            ("tracking misses", tr.num_misses, tr.miss_causes),
            ("tracking false positives", tr.num_false_positives, tr.fp_causes),
        ):
            if causes:
                named = ", ".join(f"{n} {name}" for name, n in causes if n)
                rows.append((label, str(total), f"({named})"))
        for lv in tr.levels:
            rows.append((f"MOTA {lv.level}", fmt(lv.mota), f"({lv.level_rule})"))
            rows.append((f"IDF1 {lv.level}", fmt(lv.idf1), ""))
        return rows

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """The metrics table and the ID switches."""
        tr = result.tracking
        if tr is None:
            return ""
        keys = (
            "mota",
            "motp",
            "mean_match_iou",
            "idf1",
            "idp",
            "idr",
            "num_switches",
            "switches_per_100_tracks",
            "num_fragmentations",
            "num_false_positives",
            "num_misses",
            "num_matches",
            "num_objects",
            "num_predictions",
            "num_frames",
            "gt_tracks",
            "run_tracks",
            "mostly_tracked",
            "partially_tracked",
            "mostly_lost",
            "untracked_detections",
        )
        doc = tr.as_dict()
        parts = [
            "<h2>Tracking</h2>",
            "<p>CLEAR MOT and identity metrics (py-motmetrics) of the run's tracked detections "
            f"(those with a track id) against the ground-truth identities; a match needs IoU "
            f"&ge; {1 - tr.max_iou_distance:g}"
            f"{' and the same class' if tr.class_aware else ''}. MOTP is motmetrics' mean "
            "1 - IoU of the matches (lower is better); mean_match_iou is the MOTChallenge form."
            "</p>",
            table(["metric", "value"], [[k, doc[k]] for k in keys]),
        ]
        if tr.levels:
            parts.append(
                "<h3>Difficulty levels</h3><p>As the detection levels: ground truth outside a "
                "level is a distractor (it and the run boxes on it are left out, as "
                "MOTChallenge and KITTI do), as are unmatched run boxes lower than the "
                "level's height.</p>"
            )
            level_rows = [
                [
                    m.level,
                    m.level_rule,
                    m.mota,
                    m.idf1,
                    m.num_switches,
                    m.recall,
                    m.precision,
                    m.num_objects,
                    m.ignored_gt,
                ]
                for m in (tr, *tr.levels)
            ]
            header = ["level", "rule", "MOTA", "IDF1", "ID switches", "recall", "precision"]
            parts.append(table([*header, "boxes", "ignored"], level_rows))
        if tr.miss_causes or tr.fp_causes:
            parts.append(_causes_section(tr))
        if tr.switch_events:
            frames = result.frames.get("tracking", [])
            t0 = min(f.stamp_ns for f in frames) if frames else 0
            rows = [
                [f"{(s - t0) / NS_PER_S:.3f}", g, a or "-", b] for s, g, a, b in tr.switch_events
            ]
            parts.append("<h3>ID switches</h3>")
            parts.append(table(["t [s]", "true id", "from track", "to track"], rows))
        return "".join(parts)


#: What each cause means, for the report (misses, then false positives).
_MISS_TEXT = {
    "untracked": "a published detection of its class covers it, without a track id "
    "(below the birth score, or not taken by a track)",
    "taken": "a tracked box of its class covers it, matched to another object",
    "mislocalised": f"a box of its class overlaps it by IoU {NEAR_IOU:g} up to the match IoU",
    "wrong_class": "a box of another class covers it",
    "undetected": "no published box near it",
}
_FP_TEXT = {
    "duplicate": "covers an object of its class that another track matched",
    "mislocalised": f"overlaps an object of its class by IoU {NEAR_IOU:g} up to the match IoU",
    "wrong_class": "covers an object of another class",
    "background": "overlaps no object enough",
}


def _causes_section(tr: TrackingMetrics) -> str:
    """Misses and false positives by cause: what limits MOTA."""

    def rows(
        causes: tuple[tuple[str, int], ...], total: int, text: dict[str, str]
    ) -> list[list[object]]:
        return [
            [name, n, f"{n / total:.0%}" if total else "-", text.get(name, "")]
            for name, n in causes
        ]

    head = ["cause", "boxes", "share", "meaning"]
    return "".join(
        [
            "<h3>Why boxes are missed or false</h3><p>Each miss and false positive above, "
            "by the first cause that fits, judged on every box the run published (tracked "
            "or not). Published detections are only those above the node's score "
            "threshold or claimed by a track, so an undetected box may still have had a "
            "weaker detection.</p>",
            f"<p>Misses ({tr.num_misses}):</p>",
            table(head, rows(tr.miss_causes, tr.num_misses, _MISS_TEXT)),
            f"<p>False positives ({tr.num_false_positives}):</p>",
            table(head, rows(tr.fp_causes, tr.num_false_positives, _FP_TEXT)),
        ]
    )
