"""Pictures for the reports: plots, colour maps, captions, thumbnails, PNG files.

Plots (lines, bars) use matplotlib with the Agg backend when it is installed (evo brings
it) and simple OpenCV drawings otherwise; images are always drawn with OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "THUMB_WIDTH_PX",
    "at_least",
    "bar_plot",
    "caption",
    "colourise",
    "line_plot",
    "shrink_values",
    "thumbnail",
    "write_png",
]

_SERIES_COLOURS: tuple[str, ...] = ("#222222", "#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_BGR = {
    "#222222": (34, 34, 34),
    "#1f77b4": (180, 119, 31),
    "#d62728": (40, 39, 214),
    "#2ca02c": (44, 160, 44),
    "#9467bd": (189, 103, 148),
}
#: Width of thumbnails and of the value arrays kept per frame for the report.
THUMB_WIDTH_PX = 320


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


def line_plot(
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


def bar_plot(
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


def caption(
    image: npt.NDArray[np.uint8], text: str, *, box_pad_px: int = 8
) -> npt.NDArray[np.uint8]:
    """A copy of ``image`` with ``text`` in white on a black box at the top left.

    The box is ``box_pad_px + 7`` px per character wide.
    """
    out: npt.NDArray[np.uint8] = image.copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], box_pad_px + 7 * len(text)), 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def at_least(image: npt.NDArray[np.uint8], width: int) -> npt.NDArray[np.uint8]:
    """Enlarge (nearest) an image narrower than ``width`` so that it stays readable."""
    if image.shape[1] >= width:
        return image
    size = (width, round(image.shape[0] * width / image.shape[1]))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_NEAREST), dtype=np.uint8)


def write_png(out_dir: Path, name: str, image: npt.NDArray[np.uint8]) -> str:
    """Write ``image`` as ``out_dir/name``; returns ``name`` (for a link)."""
    cv2.imwrite(str(out_dir / name), image)
    return name


def thumbnail(image: npt.NDArray[np.uint8], width: int = THUMB_WIDTH_PX) -> npt.NDArray[np.uint8]:
    """``image`` resized (area interpolation) to ``width`` px, aspect ratio kept."""
    h, w = image.shape[:2]
    size = (width, max(1, round(h * width / w)))
    out = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(out, dtype=np.uint8)


def shrink_values(
    array: npt.NDArray[np.generic], max_width: int = THUMB_WIDTH_PX
) -> npt.NDArray[np.generic]:
    """Downscale (nearest, so Inf stays Inf) to at most ``max_width`` columns."""
    h, w = array.shape[:2]
    if w <= max_width:
        return np.ascontiguousarray(array)
    size = (max_width, max(1, round(h * max_width / w)))
    out: npt.NDArray[np.generic] = cv2.resize(
        np.asarray(array),
        size,
        interpolation=cv2.INTER_NEAREST,  # type: ignore[call-overload]
    )
    return out
