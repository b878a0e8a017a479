"""metrics.json, a text summary and an HTML report with pictures for ``percept eval``.

Plots (trajectory top view, error over time, latency) use matplotlib with the Agg
backend when it is installed (evo brings it) and simple OpenCV drawings otherwise;
images (colour maps, detection overlays, maps) are always drawn with OpenCV. Nothing is
drawn for a metric that was not computed; the report says why it was skipped.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.eval.runner import EvalResult, Shot

__all__ = ["format_summary", "write_outputs"]

logger = logging.getLogger(__name__)
_NS = 1_000_000_000
Colour = tuple[int, int, int]
_SERIES_COLOURS: tuple[str, ...] = ("#222222", "#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_BGR = {
    "#222222": (34, 34, 34),
    "#1f77b4": (180, 119, 31),
    "#d62728": (40, 39, 214),
    "#2ca02c": (44, 160, 44),
    "#9467bd": (189, 103, 148),
}


# --------------------------------------------------------------------------- text


def _fmt(value: object, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.4e}"
    return str(value)


def _summary_rows(result: EvalResult) -> list[tuple[str, str, str]]:
    """(metric, value, unit) rows of the headline numbers."""
    rows: list[tuple[str, str, str]] = []
    tm = result.trajectory
    if tm is not None:
        align = tm.config.align
        for name in ("rmse", "mean", "median", "std", "min", "max"):
            rows.append((f"ATE {name} ({align})", _fmt(getattr(tm.ate_m, name)), "m"))
        unit = "frames" if tm.config.delta_unit == "frames" else "m"
        rows.append(
            (f"RPE trans rmse (delta {tm.config.delta:g} {unit})", _fmt(tm.rpe_trans_m.rmse), "m")
        )
        rows.append(("RPE rot rmse", _fmt(tm.rpe_rot_deg.rmse), "deg"))
        rows.append(("matched poses", str(len(tm.reference)), ""))
        if align == "sim3":
            rows.append(("Sim(3) scale", _fmt(tm.alignment.scale, 6), ""))
    dm = result.disparity
    if dm is not None:
        for t in dm.thresholds_px:
            rows.append((f"bad-{t:g} (holes count)", _fmt(dm.bad_total_pct[t]), "%"))
        for t in dm.thresholds_px:
            rows.append((f"bad-{t:g} (valid only)", _fmt(dm.bad_valid_pct[t]), "%"))
        rows.append(("EPE", _fmt(dm.epe_px), "px"))
        rows.append(("density", _fmt(dm.density_pct), "%"))
    for band in result.depth_bands:
        rows.append(
            (
                f"depth abs rel {band.name}",
                _fmt(band.abs_rel_mean),
                f"({band.pixels} px, {_fmt(band.density_pct, 3)} % dense)",
            )
        )
    cm = result.detection
    if cm is not None:
        rows.append(("mAP@0.5:0.95", _fmt(cm.stats["map"]), ""))
        rows.append(("mAP@0.5", _fmt(cm.stats["map_50"]), ""))
        rows.append(("mAP@0.75", _fmt(cm.stats["map_75"]), ""))
        rows.append(("mAR@100", _fmt(cm.stats["mar_100"]), ""))
    tr = result.tracking
    if tr is not None:
        rows.append(("MOTA", _fmt(tr.mota), ""))
        rows.append(("IDF1", _fmt(tr.idf1), ""))
        rows.append(("ID switches", str(tr.num_switches), f"({tr.gt_tracks} true tracks)"))
    d3 = result.detection_3d
    if d3 is not None:
        rows.append(("3D centre error median", _fmt(d3.overall.median_m), "m"))
        rows.append(("3D matched within gate", _fmt(d3.overall.recall), ""))
    om = result.occupancy
    if om is not None:
        rows.append(("occupied IoU", _fmt(om.occupied_iou), ""))
        rows.append(("free IoU", _fmt(om.free_iou), ""))
        rows.append(("map coverage", _fmt(om.coverage_pct), "%"))
    for name, node in result.latency.items():
        rows.append(
            (
                f"latency {name}",
                f"{_fmt(node.latency_mean_ms, 3)} / {_fmt(node.latency_p95_ms, 3)}",
                "ms mean / p95",
            )
        )
    return rows


def format_summary(result: EvalResult) -> str:
    """Plain-text summary: the headline numbers, then skipped metrics and notes."""
    rows = _summary_rows(result)
    lines = [f"run:          {result.run}", f"ground truth: {result.ground_truth}"]
    if rows:
        width = max(len(r[0]) for r in rows)
        lines += [f"{name:<{width}}  {value:>12}  {unit}".rstrip() for name, value, unit in rows]
    for metric, reason in sorted(result.skipped.items()):
        lines.append(f"skipped {metric}: {reason}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _matplotlib() -> object | None:
    """The matplotlib Figure class with the Agg canvas, or None when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def _line_plot(
    path: Path,
    series: Sequence[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    equal: bool = False,
    markers: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None = None,
) -> Path:
    """Lines (x, y, label) and optional marker points; PNG via matplotlib or OpenCV."""
    figure_cls = _matplotlib()
    if figure_cls is not None:
        fig = figure_cls(figsize=(6.4, 4.2), dpi=100)  # type: ignore[operator]
        ax = fig.add_subplot()
        for i, (x, y, label) in enumerate(series):
            ax.plot(x, y, color=_SERIES_COLOURS[i % len(_SERIES_COLOURS)], lw=1.2, label=label)
        if markers is not None and markers[0].size:
            ax.plot(markers[0], markers[1], "o", color="#d62728", ms=5, label=markers[2])
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if equal:
            ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(str(path))
        return path
    return _cv_line_plot(
        path, series, title=title, xlabel=xlabel, ylabel=ylabel, equal=equal, markers=markers
    )


def _cv_line_plot(
    path: Path,
    series: Sequence[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    equal: bool,
    markers: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None,
) -> Path:
    """The OpenCV fallback: axes box, min/max tick labels, polylines, legend."""
    w, h, left, right, top, bottom = 640, 420, 70, 20, 40, 50
    img = np.full((h, w, 3), 255, np.uint8)
    xs = np.concatenate([s[0] for s in series]) if series else np.zeros(1)
    ys = np.concatenate([s[1] for s in series]) if series else np.zeros(1)
    ok = np.isfinite(xs) & np.isfinite(ys)
    x0, x1 = (float(xs[ok].min()), float(xs[ok].max())) if ok.any() else (0.0, 1.0)
    y0, y1 = (float(ys[ok].min()), float(ys[ok].max())) if ok.any() else (0.0, 1.0)
    x1, y1 = (x1 if x1 > x0 else x0 + 1.0), (y1 if y1 > y0 else y0 + 1.0)
    pw, ph = w - left - right, h - top - bottom
    if equal:
        scale = min(pw / (x1 - x0), ph / (y1 - y0))
        sx = sy = scale
    else:
        sx, sy = pw / (x1 - x0), ph / (y1 - y0)

    def to_px(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
        return np.stack([left + (x - x0) * sx, top + ph - (y - y0) * sy], -1).astype(np.int32)

    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title, (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{x0:.3g}", (left, h - 30), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{x1:.3g}", (left + pw - 40, h - 30), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, (left + pw // 2 - 30, h - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{y1:.3g}", (5, top + 10), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{y0:.3g}", (5, top + ph), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (5, top + ph // 2), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (x, y, label) in enumerate(series):
        colour = _BGR[_SERIES_COLOURS[i % len(_SERIES_COLOURS)]]
        keep = np.isfinite(x) & np.isfinite(y)
        pts = to_px(x[keep], y[keep])
        if pts.shape[0] >= 2:
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
        cv2.putText(
            img, label, (left + pw - 150, top + 15 + 16 * i), font, 0.4, colour, 1, cv2.LINE_AA
        )
    if markers is not None:
        for p in to_px(markers[0], markers[1]):
            cv2.circle(img, (int(p[0]), int(p[1])), 4, (40, 39, 214), -1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)
    return path


def _bar_plot(
    path: Path,
    labels: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    ylabel: str,
) -> Path:
    """Grouped bars (one group per label); matplotlib or OpenCV."""
    figure_cls = _matplotlib()
    n = max(1, len(groups))
    if figure_cls is not None:
        fig = figure_cls(figsize=(6.4, 3.6), dpi=100)  # type: ignore[operator]
        ax = fig.add_subplot()
        x = np.arange(len(labels))
        for i, (name, values) in enumerate(groups):
            ax.bar(
                x + (i - (n - 1) / 2) * 0.8 / n,
                values,
                0.8 / n,
                label=name,
                color=_SERIES_COLOURS[(i + 1) % len(_SERIES_COLOURS)],
            )
        ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(str(path))
        return path
    w, h = 640, 360
    img = np.full((h, w, 3), 255, np.uint8)
    values = [v for _, vals in groups for v in vals if math.isfinite(v)]
    vmax = max(values, default=1.0) or 1.0
    slot = (w - 80) / max(1, len(labels))
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, f"{title} ({ylabel}, max {vmax:.3g})", (10, 20), font, 0.5, (0, 0, 0), 1)
    for j, label in enumerate(labels):
        for i, (_, vals) in enumerate(groups):
            v = vals[j] if math.isfinite(vals[j]) else 0.0
            x0 = int(60 + j * slot + i * slot * 0.8 / n)
            top = int(h - 60 - (h - 100) * v / vmax)
            colour = _BGR[_SERIES_COLOURS[(i + 1) % len(_SERIES_COLOURS)]]
            cv2.rectangle(img, (x0, top), (int(x0 + slot * 0.8 / n) - 2, h - 60), colour, -1)
        cv2.putText(img, label[-18:], (int(60 + j * slot), h - 40), font, 0.35, (0, 0, 0), 1)
    cv2.imwrite(str(path), img)
    return path


# --------------------------------------------------------------------------- images


def colourise(
    values: npt.NDArray[np.generic], vmin: float, vmax: float, colormap: int = cv2.COLORMAP_TURBO
) -> npt.NDArray[np.uint8]:
    """(H, W) values to (H, W, 3) bgr8 with ``colormap`` over [vmin, vmax]; unknown black."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.zeros(v.shape, np.uint8)
    scaled[ok] = np.clip((v[ok] - vmin) / span * 255.0, 0, 255).astype(np.uint8)
    out = np.asarray(cv2.applyColorMap(scaled, colormap), dtype=np.uint8)
    out[~ok] = 0
    return out


def _label(img: npt.NDArray[np.uint8], text: str) -> npt.NDArray[np.uint8]:
    out: npt.NDArray[np.uint8] = img.copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], 8 + 7 * len(text)), 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _at_least(image: npt.NDArray[np.uint8], width: int) -> npt.NDArray[np.uint8]:
    """Enlarge (nearest) an image narrower than ``width`` so that it stays readable."""
    if image.shape[1] >= width:
        return image
    size = (width, round(image.shape[0] * width / image.shape[1]))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_NEAREST), dtype=np.uint8)


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
    images = [_label(_at_least(p, 240), text) for p, text in panels]
    h = max(p.shape[0] for p in images)
    padded = [np.pad(p, ((0, h - p.shape[0]), (0, 4), (0, 0)), constant_values=255) for p in images]
    return np.hstack(padded)


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


def _map_overlay(result: EvalResult) -> npt.NDArray[np.uint8] | None:
    """The map against the ground truth, as a picture.

    Ground truth in grey levels; estimated occupied cells green (right) or red (wrong);
    true occupied cells the estimate missed in blue; free cells it never saw pale.
    """
    if result.maps is None:
        return None
    from percept.eval.occupancy import FREE, OCCUPIED, UNKNOWN, classify_cells

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


# --------------------------------------------------------------------------- html


def _write_png(out_dir: Path, name: str, image: npt.NDArray[np.uint8]) -> str:
    cv2.imwrite(str(out_dir / name), image)
    return name


def _figure(name: str, caption: str, width: int = 480) -> str:
    return (
        f'<figure><a href="{html.escape(name)}"><img src="{html.escape(name)}" width="{width}"></a>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _trajectory_section(result: EvalResult, out_dir: Path) -> str:
    tm = result.trajectory
    if tm is None:
        return ""
    ref, est = tm.reference, tm.estimate
    if ref.stamps_ns is not None and result.frames.get("trajectory"):
        index = {int(s): i for i, s in enumerate(ref.stamps_ns)}
        picks = result.worst("trajectory", "ate_m", 5)
        worst = np.array([index[f.stamp_ns] for f in picks], dtype=np.int64)
    else:
        worst = np.argsort(-tm.ate_errors_m, kind="stable")[:5]
    top = _line_plot(
        out_dir / "trajectory_top.png",
        [
            (ref.positions_m[:, 0], ref.positions_m[:, 1], "ground truth"),
            (est.positions_m[:, 0], est.positions_m[:, 1], f"estimate ({tm.config.align})"),
        ],
        title="trajectory, top view",
        xlabel="x [m]",
        ylabel="y [m]",
        equal=True,
        markers=(est.positions_m[worst, 0], est.positions_m[worst, 1], "worst ATE"),
    )
    if ref.stamps_ns is not None:
        t = (ref.stamps_ns - ref.stamps_ns[0]) / _NS
        t_rpe = t[tm.rpe_pairs[:, 1]]
        xlabel = "time [s]"
    else:
        t = np.arange(len(ref), dtype=np.float64)
        t_rpe = t[tm.rpe_pairs[:, 1]]
        xlabel = "pose index"
    err = _line_plot(
        out_dir / "trajectory_error.png",
        [(t, tm.ate_errors_m, "ATE"), (t_rpe, tm.rpe_errors_m, "RPE translation")],
        title="error over time",
        xlabel=xlabel,
        ylabel="error [m]",
        markers=(t[worst], tm.ate_errors_m[worst], "worst ATE"),
    )
    rows = [
        [
            name,
            getattr(tm.ate_m, name),
            getattr(tm.rpe_trans_m, name),
            getattr(tm.ate_rot_deg, name),
            getattr(tm.rpe_rot_deg, name),
        ]
        for name in ("rmse", "mean", "median", "std", "min", "max")
    ]
    worst_rows = [[f"{t[i]:.3f}", tm.ate_errors_m[i]] for i in worst]
    return (
        "<h2>Trajectory</h2>"
        f"<p>{len(tm.reference)} of {tm.estimate_poses} estimated poses associated with ground "
        f"truth ({tm.reference_poses} poses) within {tm.config.max_diff_ns / 1e6:g} ms; "
        f"alignment {tm.config.align}, scale {tm.alignment.scale:.6g}; RPE delta "
        f"{tm.config.delta:g} {tm.config.delta_unit}"
        f"{' (all pairs)' if tm.config.all_pairs else ''}.</p>"
        + _table(["stat", "ATE [m]", "RPE trans [m]", "ATE rot [deg]", "RPE rot [deg]"], rows)
        + _figure(top.name, "aligned estimate and ground truth, x-y; red: worst ATE poses")
        + _figure(err.name, "ATE per pose and RPE per pair over time")
        + "<h3>Worst poses</h3>"
        + _table([xlabel, "ATE [m]"], worst_rows)
    )


def _depth_section(result: EvalResult, out_dir: Path) -> str:
    if result.disparity is None and not result.depth_bands:
        return ""
    parts = ["<h2>Disparity and depth</h2>"]
    if result.depth_source:
        parts.append(f"<p>Estimate from <code>{html.escape(result.depth_source)}</code>.</p>")
    dm = result.disparity
    if dm is not None:
        rows = [[f"bad-{t:g}", dm.bad_total_pct[t], dm.bad_valid_pct[t]] for t in dm.thresholds_px]
        parts.append(
            "<p>Middlebury conventions: unknown ground truth left out; pixels without an "
            f"estimate count as bad in the first column. EPE {_fmt(dm.epe_px)} px, RMS "
            f"{_fmt(dm.rms_px)} px, density {_fmt(dm.density_pct)} % of {dm.scored_px} px.</p>"
            + _table(["threshold", "bad % (holes count)", "bad % (valid only)"], rows)
        )
    if result.depth_bands:
        rows = [
            [b.name, b.pixels, b.density_pct, b.abs_rel_mean, b.abs_err_mean_m, b.rmse_m]
            for b in result.depth_bands
        ]
        parts.append(
            "<h3>Depth error by range</h3>"
            + _table(
                ["true depth", "pixels", "density %", "abs rel", "abs err [m]", "RMSE [m]"], rows
            )
        )
    for i, shot in enumerate(result.shots.get("depth", [])):
        strip = _depth_strip(shot)
        if strip is None:
            continue
        name = _write_png(out_dir, f"depth_{i}.png", strip)
        when = f"t = {shot.stamp_ns / _NS:.3f} s" if shot.stamp_ns else ""
        value = f", {_fmt(shot.value)}" if math.isfinite(shot.value) else ""
        parts.append(_figure(name, f"{shot.title}{value} {when}".strip(), width=960))
    return "".join(parts)


def _detection_section(result: EvalResult, out_dir: Path) -> str:
    cm = result.detection
    if cm is None:
        return ""
    s = cm.stats
    rows = [[k, v] for k, v in s.items()]
    per_class = [[name, cm.per_class_ap[name], cm.per_class_ap50[name]] for name in cm.per_class_ap]
    parts = [
        "<h2>Detection</h2>",
        f"<p>COCO evaluation (pycocotools semantics), {len(cm.images)} images. Per-image "
        f"failures counted at IoU 0.5 and score &ge; {cm.params.score_threshold:g}.</p>",
        _table(["metric", "value"], rows),
        "<h3>Per class</h3>",
        _table(["class", "AP@[.5:.95]", "AP@.5"], per_class),
    ]
    for i, shot in enumerate(result.shots.get("detection", [])):
        overlay = _detection_overlay(result, shot)
        if overlay is None:
            continue
        name = _write_png(out_dir, f"detection_{i}.png", overlay)
        img = cm.images.get(shot.image_id or -1)
        counts = (
            f": {img.false_positives} false positives, {img.false_negatives} missed"
            if img is not None
            else ""
        )
        when = f" at t = {shot.stamp_ns / _NS:.3f} s" if shot.stamp_ns else ""
        parts.append(_figure(name, f"{shot.title}{when}{counts}; green truth, red detections"))
    return "".join(parts)


def _tracking_section(result: EvalResult) -> str:
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
        _table(["metric", "value"], [[k, doc[k]] for k in keys]),
    ]
    if tr.switch_events:
        frames = result.frames.get("tracking", [])
        t0 = min(f.stamp_ns for f in frames) if frames else 0
        rows = [[f"{(s - t0) / _NS:.3f}", g, a or "-", b] for s, g, a, b in tr.switch_events]
        parts.append("<h3>ID switches</h3>")
        parts.append(_table(["t [s]", "true id", "from track", "to track"], rows))
    return "".join(parts)


def _detection_3d_section(result: EvalResult, out_dir: Path) -> str:
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
    ) + f"<code>{html.escape(d3.frame_id or '(no frame_id)')}</code>"
    parts = [
        "<h2>3D detection error</h2>",
        f"<p>Run box centres against ground-truth object centres in {frame}, {d3.frames} "
        f"frames; Hungarian matching on centre distance within {d3.gate_m:g} m"
        f"{', same class' if d3.class_aware else ''}. {d3.detections} run boxes, "
        f"{d3.unmatched_detections} matched to no object. Bands of true depth (z).</p>",
        _table(
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
        plot = _line_plot(
            out_dir / "detection_3d_error.png",
            [(x, y, "median per band")],
            title="3D centre error vs true depth",
            xlabel="true depth z [m]",
            ylabel="centre error [m]",
            markers=(z, e, "matches"),
        )
        parts.append(_figure(plot.name, "3D centre error of each match against its true depth"))
    return "".join(parts)


def _map_section(result: EvalResult, out_dir: Path) -> str:
    om = result.occupancy
    if om is None:
        return ""
    parts = [
        "<h2>Map</h2>",
        _table(["metric", "value"], [[k, v] for k, v in om.as_dict().items()]),
    ]
    overlay = _map_overlay(result)
    if overlay is not None:
        name = _write_png(out_dir, "map.png", overlay)
        parts.append(
            _figure(
                name,
                "ground truth (black occupied, white free, grey unknown); "
                "estimate occupied: green right, red wrong; blue missed; pale: free, unexplored",
            )
        )
    return "".join(parts)


def _latency_section(result: EvalResult, out_dir: Path) -> str:
    if not result.latency:
        return ""
    names = list(result.latency)
    nodes = list(result.latency.values())
    chart = _bar_plot(
        out_dir / "latency.png",
        names,
        [
            ("mean", [n.latency_mean_ms for n in nodes]),
            ("p95", [n.latency_p95_ms for n in nodes]),
            ("max", [n.latency_max_ms for n in nodes]),
        ],
        title="callback latency per node",
        ylabel="ms",
    )
    rows = [
        [
            n.name,
            n.latency_mean_ms,
            n.latency_p95_ms,
            n.latency_max_ms,
            n.callbacks,
            n.received,
            n.rejected,
            n.dropped,
            n.errors,
            n.last_message,
        ]
        for n in nodes
    ]
    return (
        "<h2>Latency</h2>"
        + _table(
            [
                "node",
                "mean ms",
                "p95 ms",
                "max ms",
                "callbacks",
                "received",
                "rejected",
                "dropped",
                "errors",
                "status",
            ],
            rows,
        )
        + _figure(chart.name, "wall-clock callback latency from /diagnostics")
    )


def _failures_section(result: EvalResult) -> str:
    parts: list[str] = []
    for condition, metrics in sorted(result.conditions.items()):
        for metric, rows in metrics.items():
            table_rows = [
                [r.get("band"), r.get("frames", r.get("pixels")), r.get("mean")] for r in rows
            ]
            parts.append(f"<h3>{html.escape(metric)} by {html.escape(condition)}</h3>")
            parts.append(_table(["band", "frames", "mean"], table_rows))
    worst = result.metrics().get("worst_frames", {})
    assert isinstance(worst, dict)
    for metric, rows in worst.items():
        top = rows[:5]
        if not top:
            continue
        keys = [k for k in top[0] if k != "stamp_s"]
        parts.append(f"<h3>Worst frames: {html.escape(metric)}</h3>")
        parts.append(_table(["t [s]", *keys], [[r["stamp_s"], *(r[k] for k in keys)] for r in top]))
    if not parts:
        return ""
    return "<h2>Failure analysis</h2>" + "".join(parts)


def write_outputs(result: EvalResult, out_dir: Path | str) -> Path:
    """Write ``metrics.json``, ``report.html`` and the pictures into ``out_dir``.

    Returns:
        the report path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = result.metrics()
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    summary = _table(["metric", "value", "unit"], _summary_rows(result))
    skipped = "".join(
        f"<li><b>{html.escape(m)}</b>: {html.escape(r)}</li>"
        for m, r in sorted(result.skipped.items())
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    topics = "".join(
        f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>"
        for k, v in sorted(result.topics.items())
    )
    sections = [
        _trajectory_section(result, out),
        _depth_section(result, out),
        _detection_section(result, out),
        _tracking_section(result),
        _detection_3d_section(result, out),
        _map_section(result, out),
        _latency_section(result, out),
        _failures_section(result),
    ]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>percept eval</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
figure{{display:inline-block;margin:.5em;vertical-align:top}} figcaption{{font-size:85%}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{padding:2px 8px;text-align:left;
border-bottom:1px solid #ddd}}</style></head><body>
<h1>percept eval</h1>
<p>Run <code>{html.escape(result.run)}</code> against
<code>{html.escape(result.ground_truth)}</code>.</p>
<h2>Summary</h2>{summary}
{f"<h3>Not scored</h3><ul>{skipped}</ul>" if skipped else ""}
{f"<h3>Notes</h3><ul>{notes}</ul>" if notes else ""}
{f"<h3>Topics</h3><ul>{topics}</ul>" if topics else ""}
{"".join(sections)}
<h2>metrics.json</h2><p><a href="metrics.json">metrics.json</a></p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
