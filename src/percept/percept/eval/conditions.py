"""Failure analysis: per-frame scores split by speed, image brightness and range."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from percept.domain import Image
from percept.eval.metrics import METRICS
from percept.eval.metrics.base import Collector
from percept.image import convert_image

if TYPE_CHECKING:
    from percept.eval.config import EvalConfig
    from percept.eval.result import EvalResult
    from percept.eval.trajectory import Trajectory

__all__ = ["Brightness", "split_by_conditions"]


def _brightness(image: Image) -> float:
    data = np.asarray(image.data)
    if data.dtype != np.uint8 or image.encoding.startswith("bayer"):
        data = convert_image(image, "mono8").data  # type: ignore[assignment]
    return float(np.mean(data[::4, ::4]))


class Brightness(Collector):
    """Mean grey level of each camera image, by stamp.

    ``add`` raises ``CodecError`` for an image it cannot convert (counted as undecodable).
    """

    def __init__(self) -> None:
        """Start with no images."""
        self.by_stamp: dict[int, float] = {}

    def add(self, key: str, obj: object) -> None:
        """Measure an image."""
        if isinstance(obj, Image):
            self.by_stamp[obj.header.stamp_ns] = _brightness(obj)

    def finish(self, result: EvalResult) -> None:
        """Nothing to score: :func:`split_by_conditions` reads ``by_stamp``."""


def _band_label(edges: Sequence[float], i: int, unit: str) -> str:
    hi = f"{edges[i + 1]:g}" if i + 1 < len(edges) else "inf"
    return f"{edges[i]:g}-{hi} {unit}".strip()


def _split(
    values: npt.NDArray[np.float64],
    keys: npt.NDArray[np.float64],
    edges: Sequence[float],
    unit: str,
) -> list[dict[str, object]]:
    """Mean of ``values`` per band of ``keys``."""
    ok = np.isfinite(values) & np.isfinite(keys)
    band = np.searchsorted(np.asarray(edges), keys, side="right") - 1
    rows: list[dict[str, object]] = []
    for i in range(len(edges)):
        sel = ok & (band == i)
        n = int(np.count_nonzero(sel))
        rows.append(
            {
                "band": _band_label(edges, i, unit),
                "frames": n,
                "mean": float(np.mean(values[sel])) if n else None,
            }
        )
    return rows


def split_by_conditions(
    result: EvalResult, gt: Trajectory | None, brightness: dict[int, float], cfg: EvalConfig
) -> None:
    """Fill ``result.conditions``: per-frame scores by speed, brightness and range bands.

    Args:
        result: the scored result (its per-frame scores are split).
        gt: the true motion (speed at each frame), or None.
        brightness: stamp -> mean grey level of the camera image at that stamp.
        cfg: the band edges and the largest stamp difference to an image.
    """
    speed_at = None
    if gt is not None and len(gt) >= 2 and gt.stamps_ns is not None:
        t = gt.stamps_ns.astype(np.float64)
        try:
            speeds = gt.speeds_m_s()
        except ValueError:
            speeds = None
        if speeds is not None:

            def speed_at(stamps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
                inside = (stamps >= t[0]) & (stamps <= t[-1])
                return np.where(inside, np.interp(stamps, t, speeds), np.nan)

    b_stamps = np.array(sorted(brightness), dtype=np.int64)
    b_values = np.array([brightness[s] for s in b_stamps], dtype=np.float64)

    def brightness_at(stamps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if b_stamps.size == 0:
            return np.full(stamps.shape, np.nan)
        pos = np.clip(np.searchsorted(b_stamps, stamps), 1, max(1, b_stamps.size - 1))
        lo = np.clip(pos - 1, 0, b_stamps.size - 1)
        hi = np.clip(pos, 0, b_stamps.size - 1)
        near = np.where(np.abs(b_stamps[lo] - stamps) <= np.abs(b_stamps[hi] - stamps), lo, hi)
        ok = np.abs(b_stamps[near] - stamps) <= cfg.frame_max_diff_ns
        return np.where(ok, b_values[near], np.nan)

    families = {m.name: m.split_metrics for m in METRICS if m.split_metrics}
    for family, metrics in families.items():
        frames = result.frames.get(family, [])
        if not frames:
            continue
        stamps = np.array([f.stamp_ns for f in frames], dtype=np.float64)
        for metric in metrics:
            values = np.array([f.values.get(metric, np.nan) for f in frames], dtype=np.float64)
            if not np.isfinite(values).any():
                continue
            if speed_at is not None:
                result.conditions.setdefault("speed", {})[f"{family}.{metric}"] = _split(
                    values, speed_at(stamps), cfg.speed_edges_m_s, "m/s"
                )
            if family != "trajectory" and b_stamps.size:
                result.conditions.setdefault("brightness", {})[f"{family}.{metric}"] = _split(
                    values, brightness_at(stamps), cfg.brightness_edges, ""
                )
    for owner in METRICS:
        rows = owner.range_conditions(result)
        if rows:
            result.conditions.setdefault("range", {}).update(rows)
