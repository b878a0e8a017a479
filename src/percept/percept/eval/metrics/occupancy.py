"""Map metric: occupied and free IoU of the run's occupancy grid against the true map."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept import codecs
from percept.domain import Header, OccupancyGrid
from percept.errors import EvalError
from percept.eval.html import figure, fmt, table
from percept.eval.metrics.base import Collector, Input, Metric, RunContext, SummaryRow
from percept.eval.occupancy import (
    FREE,
    OCCUPIED,
    UNKNOWN,
    classify_cells,
    occupancy_metrics,
    resample_grid,
)
from percept.eval.pictures import write_png
from percept.eval.trajectory import yaw_alignment
from percept.geometry.pose import Pose

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.result import EvalResult

__all__ = ["GT_MAP", "GT_MAP_VISIBLE", "MAP", "OccupancyMetric"]

MAP = Input("map", ("/map",), frozenset({codecs.OCCUPANCY_GRID}))
GT_MAP = Input(
    "gt_map", ("/ground_truth/map",), frozenset({codecs.OCCUPANCY_GRID}), ground_truth=True
)
#: The occupied cells a perfect depth sensor saw (``percept synth``), read when present.
GT_MAP_VISIBLE = Input(
    "gt_map_visible",
    ("/ground_truth/map_visible",),
    frozenset({codecs.OCCUPANCY_GRID}),
    ground_truth=True,
)


class _Maps(Collector):
    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.run: OccupancyGrid | None = None
        self.gt: OccupancyGrid | None = None
        self.visible: OccupancyGrid | None = None

    def add(self, key: str, obj: object) -> None:
        if isinstance(obj, OccupancyGrid):  # the last map counts
            if key == MAP.key:
                self.run = obj
            elif key == GT_MAP_VISIBLE.key:
                self.visible = obj
            else:
                self.gt = obj

    def finish(self, result: EvalResult) -> None:
        cfg = self.context.config
        if self.run is None or self.gt is None:
            result.skipped["occupancy"] = "no map decoded on the run or ground-truth topic"
            return
        run = self.run
        try:
            if run.header.frame_id and self.gt.header.frame_id not in ("", run.header.frame_id):
                run = self._aligned(run, result)
            result.occupancy = occupancy_metrics(
                run,
                self.gt,
                occupied_min=cfg.occupied_min,
                free_max=cfg.free_max,
                visible=self.visible,
            )
            result.maps = (resample_grid(run, self.gt), self.gt)
        except EvalError as err:
            result.skipped["occupancy"] = str(err)

    def _aligned(self, run: OccupancyGrid, result: EvalResult) -> OccupancyGrid:
        """The run's map moved into the ground truth's frame by the trajectory alignment.

        A map built on odometry lives in ``odom``; the ground truth in ``map``. The
        trajectory metric associated the same run's odometry with the ground-truth
        poses; a yaw-and-translation fit of those pairs (the 4-DoF alignment of
        visual-inertial odometry) moves the grid's origin.

        Raises:
            EvalError: no trajectory alignment between these two frames.
        """
        assert self.gt is not None
        run_frame, gt_frame = self.context.pose_frames
        tm = result.trajectory
        if tm is None or (run_frame, gt_frame) != (run.header.frame_id, self.gt.header.frame_id):
            msg = (
                f"map frames differ: estimate in {run.header.frame_id!r}, ground truth in "
                f"{self.gt.header.frame_id!r}, and no trajectory alignment between them "
                f"(odometry frames: run {run_frame!r}, ground truth {gt_frame!r})"
            )
            raise EvalError(msg)
        # A yaw-and-translation fit of the associated positions (grids are planar; the
        # trajectory's own alignment may be SE(3) or Sim(3)).
        a = tm.alignment
        raw = (tm.estimate.positions_m - a.translation_m) @ a.rotation / a.scale
        fit = yaw_alignment(raw, tm.reference.positions_m)
        T_gt_run = fit.as_matrix()
        yaw = float(np.arctan2(T_gt_run[1, 0], T_gt_run[0, 0]))
        T_planar = Pose(
            np.array([T_gt_run[0, 3], T_gt_run[1, 3], 0.0]),
            Rotation.from_euler("z", yaw).as_quat(),
        )
        result.notes.append(
            f"map: {run.header.frame_id} -> {gt_frame} by the trajectory alignment "
            f"(yaw {np.degrees(yaw):.2f} deg, xy {T_gt_run[0, 3]:.3f}, {T_gt_run[1, 3]:.3f} m)"
        )
        return dataclasses.replace(
            run,
            header=Header(run.header.stamp_ns, gt_frame),
            origin=T_planar @ run.origin,
        )


def _map_overlay(result: EvalResult) -> npt.NDArray[np.uint8] | None:
    """The map against the ground truth, as a picture.

    Ground truth in grey levels; estimated occupied cells green (right) or red (wrong);
    true occupied cells the estimate missed in blue; free cells it never saw pale.
    """
    if result.maps is None:
        return None
    est_values, gt_grid = result.maps
    est = classify_cells(est_values)
    gt = classify_cells(gt_grid.data)
    img = np.full((*gt.shape, 3), 160, np.uint8)
    img[gt == 0] = (255, 255, 255)
    img[gt == OCCUPIED] = (40, 40, 40)
    img[(est == OCCUPIED) & (gt == OCCUPIED)] = (60, 200, 60)
    img[(est == OCCUPIED) & (gt != OCCUPIED) & (gt != UNKNOWN)] = (40, 40, 230)
    img[(est != OCCUPIED) & (gt == OCCUPIED)] = (230, 120, 30)
    img[(est == UNKNOWN) & (gt == FREE)] = (200, 225, 235)  # not explored by the run
    img = np.flipud(img)  # row 0 is the grid origin (bottom); images start at the top
    scale = max(1, 480 // max(img.shape[:2]))
    out = cv2.resize(
        np.ascontiguousarray(img),
        (img.shape[1] * scale, img.shape[0] * scale),
        interpolation=cv2.INTER_NEAREST,
    )
    return np.asarray(out, dtype=np.uint8)


class OccupancyMetric(Metric):
    """Occupied/free IoU and coverage (:mod:`percept.eval.occupancy`)."""

    name = "occupancy"
    run_inputs = (MAP,)
    gt_input = GT_MAP
    optional_inputs = (GT_MAP_VISIBLE,)

    def collector(self, context: RunContext) -> Collector:
        """Keeps the last map of the run and of the ground truth."""
        return _Maps(context)

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``occupancy``: the map scores."""
        if result.occupancy is None:
            return {}
        return {"occupancy": result.occupancy.as_dict()}

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """Occupied IoU, free IoU, coverage."""
        om = result.occupancy
        if om is None:
            return []
        return [
            ("occupied IoU", fmt(om.occupied_iou), ""),
            ("free IoU", fmt(om.free_iou), ""),
            ("occupied IoU (observed area)", fmt(om.observed_occupied_iou), ""),
            ("free IoU (observed area)", fmt(om.observed_free_iou), ""),
            ("occupied IoU (visible surfaces)", fmt(om.visible_occupied_iou), ""),
            ("map coverage", fmt(om.coverage_pct), "%"),
            (
                "false occupied (observed area)",
                f"{om.false_occupied_cells} ({om.false_occupied_near} near a surface)",
                "cells",
            ),
            ("missed occupied (observed area)", str(om.missed_occupied_cells), "cells"),
        ]

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """The scores and the map against the ground truth."""
        om = result.occupancy
        if om is None:
            return ""
        parts = [
            "<h2>Map</h2>",
            table(["metric", "value"], [[k, v] for k, v in om.as_dict().items()]),
        ]
        overlay = _map_overlay(result)
        if overlay is not None:
            name = write_png(out_dir, "map.png", overlay)
            parts.append(
                figure(
                    name,
                    "ground truth (black occupied, white free, grey unknown); estimate "
                    "occupied: green right, red wrong; blue missed; pale: free, unexplored",
                )
            )
        return "".join(parts)
