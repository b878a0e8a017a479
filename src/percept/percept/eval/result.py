"""What ``percept eval`` found: the result object and its metrics.json document."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from percept.domain import OccupancyGrid
from percept.eval.detection import BoxSet, CocoGroundTruth, CocoMetrics
from percept.eval.detection3d import Detection3DMetrics
from percept.eval.disparity import DepthBand, DisparityMetrics
from percept.eval.frames import FrameScore, Shot
from percept.eval.latency import NodeLatency
from percept.eval.metrics import METRICS
from percept.eval.occupancy import OccupancyMetrics
from percept.eval.tracking import TrackingMetrics
from percept.eval.trajectory import ConsistencyResult, TrajectoryMetrics
from percept.units import NS_PER_S

__all__ = ["WORST_METRICS", "EvalResult", "FrameScore", "Shot"]


@dataclass(eq=False)
class EvalResult:
    """Everything ``percept eval`` found, for metrics.json and the report.

    Attributes:
        run: what was scored (bag or file).
        ground_truth: against what.
        mode: ``bag``, ``trajectory``, ``coco`` or ``disparity``.
        topics: key -> topic used (bag mode).
        skipped: metric -> why it was not computed.
        notes: other remarks (frames without partner, resampled maps...).
        trajectory: ATE/RPE, if scored.
        consistency: NEES of the odometry's published pose covariance, if it has one.
        disparity: disparity scores pooled over frames, if scored.
        depth_bands: depth error per range band pooled over frames.
        depth_source: what the depth estimate came from.
        frames: family (``depth``, ``detection``) -> per-frame scores.
        detection: COCO metrics, if scored.
        detection_truth: the detection ground truth (for overlays).
        detection_boxes: the scored detections (for overlays).
        tracking: CLEAR MOT / IDF1 of the tracked detections, if scored.
        detection_3d: 3D centre error by range band, if scored.
        occupancy: map scores, if scored.
        maps: (estimate resampled onto the ground truth grid, ground truth).
        latency: node -> latency summary.
        conditions: condition -> metric -> per-band rows.
        shots: picture group -> frames to draw.
    """

    run: str
    ground_truth: str
    mode: str = "bag"
    topics: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    trajectory: TrajectoryMetrics | None = None
    consistency: ConsistencyResult | None = None
    disparity: DisparityMetrics | None = None
    depth_bands: list[DepthBand] = field(default_factory=list)
    depth_source: str = ""
    frames: dict[str, list[FrameScore]] = field(default_factory=dict)
    detection: CocoMetrics | None = None
    detection_truth: CocoGroundTruth | None = None
    detection_boxes: BoxSet | None = None
    tracking: TrackingMetrics | None = None
    detection_3d: Detection3DMetrics | None = None
    occupancy: OccupancyMetrics | None = None
    maps: tuple[npt.NDArray[np.int8], OccupancyGrid] | None = None
    latency: dict[str, NodeLatency] = field(default_factory=dict)
    conditions: dict[str, dict[str, list[dict[str, object]]]] = field(default_factory=dict)
    shots: dict[str, list[Shot]] = field(default_factory=dict)

    def worst(self, family: str, metric: str, count: int) -> list[FrameScore]:
        """The ``count`` frames of a family with the highest ``metric``.

        Trajectory poses come many per second: picks there are at least a twentieth of
        the sequence (and 1 s) apart, so that one bad moment is listed once.
        """
        rows = [
            f for f in self.frames.get(family, []) if math.isfinite(f.values.get(metric, math.nan))
        ]
        rows.sort(key=lambda f: (-f.values[metric], f.stamp_ns))
        if family != "trajectory" or not rows:
            return rows[:count]
        stamps = [f.stamp_ns for f in rows]
        gap = max(NS_PER_S, (max(stamps) - min(stamps)) // 20)
        picked: list[FrameScore] = []
        for f in rows:
            if all(abs(f.stamp_ns - p.stamp_ns) >= gap for p in picked):
                picked.append(f)
                if len(picked) == count:
                    break
        return picked

    def metrics(self) -> dict[str, object]:
        """The metrics.json document (NaN and Inf written as null)."""
        doc: dict[str, object] = {
            "run": self.run,
            "ground_truth": self.ground_truth,
            "mode": self.mode,
        }
        if self.topics:
            doc["topics"] = dict(sorted(self.topics.items()))
        for metric in METRICS:
            doc.update(metric.to_json(self))
        if self.conditions:
            doc["conditions"] = self.conditions
        worst = _worst_lists(self)
        if worst:
            doc["worst_frames"] = worst
        if self.skipped:
            doc["skipped"] = dict(sorted(self.skipped.items()))
        if self.notes:
            doc["notes"] = list(self.notes)
        cleaned = _jsonable(doc)
        assert isinstance(cleaned, dict)
        return cleaned


#: family -> metrics whose worst frames are listed (highest = worst), families by name.
WORST_METRICS: dict[str, tuple[str, ...]] = {
    m.name: m.worst_metrics for m in sorted(METRICS, key=lambda m: m.name) if m.worst_metrics
}


def _worst_lists(result: EvalResult) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for family, metrics in WORST_METRICS.items():
        for metric in metrics:
            rows = result.worst(family, metric, 10)
            if rows:
                out[f"{family}.{metric}"] = [
                    {"stamp_s": f.stamp_ns / NS_PER_S, **f.values} for f in rows
                ]
    return out


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
