"""Scoring runs against ground truth: trajectories, disparity/depth, detections, maps.

Algorithms work on plain arrays and domain objects, one module each:
:mod:`~percept.eval.trajectory` (ATE/RPE as evo), :mod:`~percept.eval.detection`
(COCO mAP as pycocotools), :mod:`~percept.eval.disparity` (Middlebury bad-N, EPE,
depth error by range), :mod:`~percept.eval.occupancy` (map IoU),
:mod:`~percept.eval.tracking` (MOTA, IDF1, ID switches as py-motmetrics),
:mod:`~percept.eval.detection3d` (3D box centre error by range) and
:mod:`~percept.eval.latency` (per-node latency from /diagnostics).

:mod:`~percept.eval.metrics` puts each behind the metric interface (its topics, how it
collects messages, how it finishes, its JSON and report section) and holds the registry.
:mod:`~percept.eval.runner` scores a run's bag (``evaluate``) with :mod:`~.config`,
:mod:`~.stream`, :mod:`~.conditions` and :mod:`~.result`; :mod:`~.batch` scores many bags,
:mod:`~.files` scores files, and :mod:`~percept.eval.report` writes metrics.json and the
HTML report (:mod:`~.html`, :mod:`~.pictures`).
"""

__all__ = [
    "batch",
    "conditions",
    "config",
    "detection",
    "detection3d",
    "disparity",
    "files",
    "frames",
    "html",
    "latency",
    "metrics",
    "occupancy",
    "pictures",
    "report",
    "result",
    "runner",
    "stream",
    "tracking",
    "trajectory",
]
