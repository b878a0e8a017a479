"""Scoring runs against ground truth: trajectories, disparity/depth, detections, maps.

Each metric lives in its own module and works on plain arrays and domain objects:
:mod:`~percept.eval.trajectory` (ATE/RPE as evo), :mod:`~percept.eval.detection`
(COCO mAP as pycocotools), :mod:`~percept.eval.disparity` (Middlebury bad-N, EPE,
depth error by range), :mod:`~percept.eval.occupancy` (map IoU),
:mod:`~percept.eval.tracking` (MOTA, IDF1, ID switches as py-motmetrics),
:mod:`~percept.eval.detection3d` (3D box centre error by range) and
:mod:`~percept.eval.latency` (per-node latency from /diagnostics).
:mod:`~percept.eval.runner` scores a run's bag (``evaluate``) or files, and
:mod:`~percept.eval.report` writes metrics.json and the HTML report.
"""

__all__ = [
    "detection",
    "detection3d",
    "disparity",
    "latency",
    "occupancy",
    "report",
    "runner",
    "tracking",
    "trajectory",
]
