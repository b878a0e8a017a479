"""Disparity and depth metric: Middlebury scores and depth error by range, per frame.

The run's disparity (or depth) image is paired with the ground-truth depth by header
stamp while the bags stream, scored, and dropped: memory holds the frames waiting for a
partner and the worst frames' thumbnails. Ground truth of the raw camera is mapped into
the rectified frame when the camera_info says the two differ.
"""

from __future__ import annotations

import heapq
import logging
import math
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import CameraInfo, Disparity, Image
from percept.errors import EvalError
from percept.eval.disparity import (
    DepthBand,
    DisparityMetrics,
    depth_error_by_band,
    disparity_metrics,
    rectify_depth,
)
from percept.eval.frames import FrameScore, Shot
from percept.eval.html import esc, figure, fmt, table
from percept.eval.metrics.base import (
    CAMERA_INFO,
    IMAGE,
    Collector,
    Input,
    Metric,
    RunContext,
    SummaryRow,
)
from percept.eval.pictures import at_least, caption, colourise, shrink_values, write_png
from percept.eval.stream import StampJoin
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.config import EvalConfig
    from percept.eval.result import EvalResult
    from percept.geometry.camera import CameraModel

__all__ = ["DEPTH", "DISPARITY", "GT_DEPTH", "DepthMetric"]

logger = logging.getLogger(__name__)
DISPARITY = Input(
    "disparity", ("/disparity", "/stereo/disparity"), frozenset({codecs.DISPARITY_IMAGE})
)
DEPTH = Input(
    "depth",
    ("/depth", "/stereo/depth", "/depth/image_raw", "/depth/image_rect"),
    frozenset({codecs.IMAGE}),
)
GT_DEPTH = Input(
    "gt_depth",
    ("/ground_truth/left/depth", "/ground_truth/depth"),
    frozenset({codecs.IMAGE}),
    ground_truth=True,
)


def _depth_m(image: Image) -> npt.NDArray[np.float32]:
    """Depth image to float32 metres, Inf where unknown (0, NaN, Inf)."""
    data = np.asarray(image.data)
    if data.ndim != 2:
        msg = f"depth image must have one channel, got encoding {image.encoding}"
        raise EvalError(msg)
    if image.encoding in ("16UC1", "mono16"):
        depth = data.astype(np.float32) / np.float32(1000.0)  # REP 118: millimetres
    elif image.encoding in ("32FC1", "64FC1"):
        depth = data.astype(np.float32)
    else:
        msg = f"depth image encoding must be 32FC1 (m) or 16UC1 (mm), got {image.encoding}"
        raise EvalError(msg)
    depth[~(np.isfinite(depth) & (depth > 0))] = np.inf
    out: npt.NDArray[np.float32] = depth
    return out


def _disparity_px(disp: Disparity) -> npt.NDArray[np.float32]:
    """Disparity to float32 pixels, Inf where invalid (below min_disparity, non-finite)."""
    d = np.asarray(disp.image, dtype=np.float32).copy()
    d[~(np.isfinite(d) & (d >= disp.min_disparity) & (d > 0))] = np.inf
    out: npt.NDArray[np.float32] = d
    return out


def _is_identity_rectification(model: CameraModel) -> bool:
    """True when raw and rectified pixels coincide (no distortion, R = I, P = K)."""
    return bool(
        (model.D.size == 0 or not np.any(model.D))
        and np.allclose(model.R, np.eye(3))
        and np.allclose(model.P[:, :3], model.K)
    )


class _DepthFrames(Collector):
    """Per-frame depth/disparity scoring while streaming."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.config: EvalConfig = context.config
        self.camera: CameraInfo | None = context.camera
        self.join = StampJoin(self.config.frame_max_diff_ns, self.config.join_window_ns)
        self.frames: list[FrameScore] = []
        self.disparity: list[DisparityMetrics] = []
        self.bands: list[list[DepthBand]] = []
        self.worst: list[tuple[float, int, int, Shot]] = []
        self.first: Shot | None = None
        self.shape_mismatch = 0
        self.undecodable = 0
        self.rectified = 0
        self.frame_mismatch = 0

    def add(self, key: str, obj: object) -> None:
        stamp = obj.header.stamp_ns  # type: ignore[attr-defined]
        pair = self.join.add("gt" if key == GT_DEPTH.key else "run", stamp, obj)
        if pair is None:
            return
        try:
            self.score(*pair)
        except EvalError as err:
            self.undecodable += 1
            if self.undecodable == 1:
                logger.warning("depth frame at %d ns not scored: %s", stamp, err)

    def _ground_truth(self, image: Image) -> npt.NDArray[np.float32]:
        """True depth in the frame the run's estimate is in (rectified when calibrated)."""
        z = _depth_m(image)
        cam = self.camera
        if cam is None or _is_identity_rectification(cam.model):
            return z
        if cam.header.frame_id and image.header.frame_id != cam.header.frame_id:
            self.frame_mismatch += 1
            return z
        self.rectified += 1
        return rectify_depth(z, cam.model)

    def score(self, gt_obj: object, run_obj: object) -> None:
        assert isinstance(gt_obj, Image)
        z_gt = self._ground_truth(gt_obj)
        arrays: dict[str, npt.NDArray[np.generic]]
        values: dict[str, float] = {}
        if isinstance(run_obj, Disparity):
            d = _disparity_px(run_obj)
            if d.shape != z_gt.shape:
                self.shape_mismatch += 1
                return
            fb = run_obj.focal_length_px * run_obj.baseline_m
            if not fb > 0:
                msg = f"disparity has focal length x baseline = {fb}: cannot convert depth"
                raise EvalError(msg)
            d_gt = np.full(z_gt.shape, np.inf, dtype=np.float32)
            known = np.isfinite(z_gt)
            d_gt[known] = np.float32(fb) / z_gt[known]
            m = disparity_metrics(d, d_gt, thresholds_px=self.config.thresholds_px)
            self.disparity.append(m)
            z = np.full(d.shape, np.inf, dtype=np.float32)
            ok = np.isfinite(d)
            z[ok] = np.float32(fb) / d[ok]
            values.update(
                {
                    "epe_px": m.epe_px,
                    "density_pct": m.density_pct,
                    **{f"bad_{t:g}_total_pct": v for t, v in m.bad_total_pct.items()},
                }
            )
            arrays = {"disparity": shrink_values(d), "gt_disparity": shrink_values(d_gt)}
        else:
            assert isinstance(run_obj, Image)
            z = _depth_m(run_obj)
            if z.shape != z_gt.shape:
                self.shape_mismatch += 1
                return
            arrays = {}
        bands = depth_error_by_band(z, z_gt, self.config.depth_bands_m)
        self.bands.append(bands)
        valid = sum(b.valid_px for b in bands)
        values["abs_rel_mean"] = sum(b.abs_rel_sum for b in bands) / valid if valid else math.nan
        arrays.update(depth=shrink_values(z), gt_depth=shrink_values(z_gt))
        stamp = gt_obj.header.stamp_ns
        self.frames.append(FrameScore(stamp, values))
        key = "bad_2_total_pct" if "bad_2_total_pct" in values else "abs_rel_mean"
        value = values.get(key, math.nan)
        if self.first is None:
            self.first = Shot(stamp, "first frame", math.nan, arrays)
        if math.isfinite(value) and self.config.worst_frames:
            # min-heap of the worst frames; ties keep the earlier frame
            item = (value, -stamp, len(self.frames), Shot(stamp, f"worst {key}", value, arrays))
            if len(self.worst) < self.config.worst_frames:
                heapq.heappush(self.worst, item)
            elif item[:2] > self.worst[0][:2]:
                heapq.heapreplace(self.worst, item)

    def close(self, result: EvalResult) -> None:
        join = self.join
        join.finish()
        if join.unmatched["run"] or join.unmatched["gt"]:
            result.notes.append(
                f"depth: {join.unmatched['run']} run frames and {join.unmatched['gt']} "
                "ground-truth frames found no partner by stamp"
            )
        if self.rectified:
            result.notes.append(
                f"depth: ground truth of the raw camera mapped into the rectified frame of "
                f"{result.topics.get('camera_info')} (distortion and R) for {self.rectified} "
                "frames"
            )
        if self.frame_mismatch:
            result.notes.append(
                f"depth: {self.frame_mismatch} ground-truth frames are not in the camera_info's "
                "frame and were compared pixel for pixel"
            )
        if self.shape_mismatch:
            result.notes.append(
                f"depth: {self.shape_mismatch} frames differ in size from the ground truth "
                "(different camera or resolution) and were not scored"
            )

    def finish(self, result: EvalResult) -> None:
        if DISPARITY.key not in self.context.keys:
            result.skipped["disparity"] = "the run publishes depth but no disparity image"
        if not self.bands:
            result.skipped["depth"] = "no run frame matched a ground-truth depth frame by stamp"
            return
        result.frames["depth"] = self.frames
        result.depth_bands = [
            DepthBand.pool([f[i] for f in self.bands])
            for i in range(len(self.config.depth_bands_m))
        ]
        result.depth_source = result.topics.get("disparity") or result.topics.get("depth", "")
        if self.disparity:
            result.disparity = DisparityMetrics.pool(self.disparity)
        shots = [] if self.first is None else [self.first]
        shots += [w[3] for w in sorted(self.worst, key=lambda w: (-w[0], -w[1]))]
        result.shots["depth"] = shots


def _depth_strip(shot: Shot, max_err_px: float = 4.0) -> npt.NDArray[np.uint8] | None:
    """Estimate | ground truth | error panels of one depth/disparity frame."""
    panels: list[tuple[npt.NDArray[np.uint8], str]] = []
    a = shot.arrays
    if "disparity" in a and "gt_disparity" in a:
        gt = np.asarray(a["gt_disparity"], dtype=np.float64)
        vmax = (
            float(np.nanmax(np.where(np.isfinite(gt), gt, np.nan)))
            if np.isfinite(gt).any()
            else 1.0
        )
        est = np.asarray(a["disparity"], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            err = np.abs(est - gt)
        panels += [
            (colourise(est, 0.0, vmax), "disparity"),
            (colourise(gt, 0.0, vmax), f"GT disparity 0-{vmax:.0f} px"),
            (
                colourise(err, 0.0, max_err_px, cv2.COLORMAP_INFERNO),
                f"|error| 0-{max_err_px:g} px",
            ),
        ]
    if "depth" in a and "gt_depth" in a:
        gt_z = np.asarray(a["gt_depth"], dtype=np.float64)
        z = np.asarray(a["depth"], dtype=np.float64)
        zmax = (
            float(np.nanpercentile(gt_z[np.isfinite(gt_z)], 98))
            if np.isfinite(gt_z).any()
            else 10.0
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(z - gt_z) / gt_z
        panels += [
            (colourise(z, 0.0, zmax), "depth"),
            (colourise(gt_z, 0.0, zmax), f"GT depth 0-{zmax:.1f} m"),
            (colourise(rel, 0.0, 0.1, cv2.COLORMAP_INFERNO), "|rel error| 0-10 %"),
        ]
    if not panels:
        return None
    images = [caption(at_least(p, 240), text) for p, text in panels]
    h = max(p.shape[0] for p in images)
    padded = [np.pad(p, ((0, h - p.shape[0]), (0, 4), (0, 0)), constant_values=255) for p in images]
    return np.hstack(padded)


class DepthMetric(Metric):
    """Middlebury bad-N and EPE, depth error by range (:mod:`~percept.eval.disparity`)."""

    name = "depth"
    run_inputs = (DISPARITY, DEPTH)
    gt_input = GT_DEPTH
    extra_keys = frozenset({IMAGE.key, CAMERA_INFO.key})
    split_metrics = ("bad_2_total_pct", "abs_rel_mean")
    worst_metrics = ("bad_2_total_pct", "epe_px", "abs_rel_mean")

    def collector(self, context: RunContext) -> Collector:
        """Pairs and scores frames as they stream."""
        return _DepthFrames(context)

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``disparity`` (pooled scores, frame count) and ``depth_by_range``."""
        doc: dict[str, object] = {}
        if result.disparity is not None:
            doc["disparity"] = {
                **result.disparity.as_dict(),
                "frames": len(result.frames.get("depth", [])),
            }
        if result.depth_bands:
            doc["depth_by_range"] = {
                "source": result.depth_source,
                **{b.name: b.as_dict() for b in result.depth_bands},
            }
        return doc

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """Bad-pixel percentages, EPE, density, relative depth error per band."""
        rows: list[SummaryRow] = []
        dm = result.disparity
        if dm is not None:
            for t in dm.thresholds_px:
                rows.append((f"bad-{t:g} (holes count)", fmt(dm.bad_total_pct[t]), "%"))
            for t in dm.thresholds_px:
                rows.append((f"bad-{t:g} (valid only)", fmt(dm.bad_valid_pct[t]), "%"))
            rows.append(("EPE", fmt(dm.epe_px), "px"))
            rows.append(("density", fmt(dm.density_pct), "%"))
        for band in result.depth_bands:
            rows.append(
                (
                    f"depth abs rel {band.name}",
                    fmt(band.abs_rel_mean),
                    f"({band.pixels} px, {fmt(band.density_pct, 3)} % dense)",
                )
            )
        return rows

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """Score tables and estimate | truth | error strips of the first and worst frames."""
        if result.disparity is None and not result.depth_bands:
            return ""
        parts = ["<h2>Disparity and depth</h2>"]
        if result.depth_source:
            parts.append(f"<p>Estimate from <code>{esc(result.depth_source)}</code>.</p>")
        dm = result.disparity
        if dm is not None:
            rows = [
                [f"bad-{t:g}", dm.bad_total_pct[t], dm.bad_valid_pct[t]] for t in dm.thresholds_px
            ]
            parts.append(
                "<p>Middlebury conventions: unknown ground truth left out; pixels without an "
                f"estimate count as bad in the first column. EPE {fmt(dm.epe_px)} px, RMS "
                f"{fmt(dm.rms_px)} px, density {fmt(dm.density_pct)} % of {dm.scored_px} px.</p>"
                + table(["threshold", "bad % (holes count)", "bad % (valid only)"], rows)
            )
        if result.depth_bands:
            rows = [
                [b.name, b.pixels, b.density_pct, b.abs_rel_mean, b.abs_err_mean_m, b.rmse_m]
                for b in result.depth_bands
            ]
            parts.append(
                "<h3>Depth error by range</h3>"
                + table(
                    ["true depth", "pixels", "density %", "abs rel", "abs err [m]", "RMSE [m]"],
                    rows,
                )
            )
        for i, shot in enumerate(result.shots.get("depth", [])):
            strip = _depth_strip(shot)
            if strip is None:
                continue
            name = write_png(out_dir, f"depth_{i}.png", strip)
            when = f"t = {shot.stamp_ns / NS_PER_S:.3f} s" if shot.stamp_ns else ""
            value = f", {fmt(shot.value)}" if math.isfinite(shot.value) else ""
            parts.append(figure(name, f"{shot.title}{value} {when}".strip(), width=960))
        return "".join(parts)

    def range_conditions(self, result: EvalResult) -> dict[str, list[dict[str, object]]]:
        """``depth.abs_rel_mean`` per band of true depth."""
        if not result.depth_bands:
            return {}
        return {
            "depth.abs_rel_mean": [
                {
                    "band": b.name,
                    "frames": len(result.frames.get("depth", [])),
                    "pixels": b.pixels,
                    "mean": b.abs_rel_mean,
                }
                for b in result.depth_bands
            ]
        }
