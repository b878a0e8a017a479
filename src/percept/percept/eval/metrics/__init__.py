"""The metrics of ``percept eval``, one module each behind :class:`~.base.Metric`.

``METRICS`` is the registry the runner, metrics.json and the report iterate, in this
order. A new metric is one module here and one line in ``METRICS``.
"""

from __future__ import annotations

from percept.eval.metrics.base import Metric
from percept.eval.metrics.depth import DepthMetric
from percept.eval.metrics.detection import DetectionMetric
from percept.eval.metrics.detection3d import Detection3DMetric
from percept.eval.metrics.latency import LatencyMetric
from percept.eval.metrics.occupancy import OccupancyMetric
from percept.eval.metrics.tracking import TrackingMetric
from percept.eval.metrics.trajectory import TrajectoryMetric

__all__ = ["METRICS", "Metric"]

#: Every metric, in the order of metrics.json, the summary and the report.
METRICS: tuple[Metric, ...] = (
    TrajectoryMetric(),
    DepthMetric(),
    DetectionMetric(),
    TrackingMetric(),
    Detection3DMetric(),
    OccupancyMetric(),
    LatencyMetric(),
)
