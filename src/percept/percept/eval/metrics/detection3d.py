"""3D detection metric: box centre error by range against the ground-truth objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from percept import codecs
from percept.domain import Detection3DArray
from percept.errors import EvalError
from percept.eval.detection3d import evaluate_detections_3d
from percept.eval.html import esc, figure, fmt, table
from percept.eval.metrics.base import CAMERA_INFO, Collector, Input, Metric, RunContext, SummaryRow
from percept.eval.pictures import line_plot

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.result import EvalResult

__all__ = ["DETECTIONS_3D", "GT_DETECTIONS_3D", "Detection3DMetric"]

_TYPES = frozenset({codecs.DETECTION3D_ARRAY})
DETECTIONS_3D = Input("detections_3d", ("/detections_3d",), _TYPES)
GT_DETECTIONS_3D = Input(
    "gt_detections_3d",
    ("/ground_truth/left/detections_3d", "/ground_truth/detections_3d"),
    _TYPES,
    ground_truth=True,
)


class _Boxes(Collector):
    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.run: list[Detection3DArray] = []
        self.gt: list[Detection3DArray] = []

    def add(self, key: str, obj: object) -> None:
        if isinstance(obj, Detection3DArray):
            (self.run if key == DETECTIONS_3D.key else self.gt).append(obj)

    def finish(self, result: EvalResult) -> None:
        cfg, camera = self.context.config, self.context.camera
        if not self.gt:
            result.skipped["detection_3d"] = "no ground-truth 3D detection frames decoded"
            return
        rectification = None
        if cfg.detections_3d_rectified:
            gt_frame = self.gt[0].header.frame_id
            source = result.topics.get("camera_info", "camera_info")
            if camera is None:
                pass  # no calibration in the bags: compared as they are (as depth is)
            elif camera.header.frame_id != gt_frame:
                result.notes.append(
                    f"detection_3d: {source} is in frame {camera.header.frame_id!r}, the ground "
                    f"truth in {gt_frame!r}: compared without the rectification"
                )
            else:
                rectification = camera.model.R
        try:
            metrics, notes = evaluate_detections_3d(
                self.gt,
                self.run,
                rectification=rectification,
                gate_m=cfg.gate_3d_m,
                edges_m=cfg.range_edges_3d_m,
                max_diff_ns=cfg.frame_max_diff_ns,
                same_class=cfg.match_same_class,
            )
        except EvalError as err:
            result.skipped["detection_3d"] = str(err)
            return
        result.detection_3d = metrics
        result.notes += notes
        if metrics.rectified:
            result.notes.append(
                "detection_3d: ground-truth centres rotated into the rectified camera with the R "
                f"of {result.topics.get('camera_info')}"
            )


class Detection3DMetric(Metric):
    """Centre error by band of true depth (:mod:`percept.eval.detection3d`)."""

    name = "detection_3d"
    run_inputs = (DETECTIONS_3D,)
    gt_input = GT_DETECTIONS_3D
    extra_keys = frozenset({CAMERA_INFO.key})

    def collector(self, context: RunContext) -> Collector:
        """Collects the 3D detection frames."""
        return _Boxes(context)

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``detection_3d``: centre error per band and overall."""
        if result.detection_3d is None:
            return {}
        return {"detection_3d": result.detection_3d.as_dict()}

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """Median centre error and the fraction matched within the gate."""
        d3 = result.detection_3d
        if d3 is None:
            return []
        return [
            ("3D centre error median", fmt(d3.overall.median_m), "m"),
            ("3D matched within gate", fmt(d3.overall.recall), ""),
        ]

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """The error table by band and a plot of error against true depth."""
        d3 = result.detection_3d
        if d3 is None:
            return ""
        rows = [
            [
                b.band,
                b.objects,
                b.matched,
                b.recall,
                b.median_m,
                b.mean_m,
                b.p90_m,
                b.median_z_err_m,
                b.median_abs_z_err_m,
            ]
            for b in (*d3.bands, d3.overall)
        ]
        frame = (
            "the rectified camera of " if d3.rectified else ""
        ) + f"<code>{esc(d3.frame_id or '(no frame_id)')}</code>"
        parts = [
            "<h2>3D detection error</h2>",
            f"<p>Run box centres against ground-truth object centres in {frame}, {d3.frames} "
            f"frames; Hungarian matching on centre distance within {d3.gate_m:g} m"
            f"{', same class' if d3.class_aware else ''}. {d3.detections} run boxes, "
            f"{d3.unmatched_detections} matched to no object. Bands of true depth (z).</p>",
            table(
                [
                    "true depth",
                    "objects",
                    "matched",
                    "matched fraction",
                    "median [m]",
                    "mean [m]",
                    "p90 [m]",
                    "median z err [m]",
                    "median |z err| [m]",
                ],
                rows,
            ),
        ]
        if d3.errors_m.size:
            z, e = d3.gt_depth_m, d3.errors_m
            # band medians, placed at the median true depth of each band's matches
            edges = np.asarray(d3.edges_m, dtype=np.float64)
            band = np.searchsorted(edges, z, side="right") - 1
            used = np.unique(band)
            x = np.array([np.median(z[band == i]) for i in used])
            y = np.array([np.median(e[band == i]) for i in used])
            plot = line_plot(
                out_dir / "detection_3d_error.png",
                [(x, y, "median per band")],
                title="3D centre error vs true depth",
                xlabel="true depth z [m]",
                ylabel="centre error [m]",
                markers=(z, e, "matches"),
            )
            parts.append(figure(plot.name, "3D centre error of each match against its true depth"))
        return "".join(parts)
