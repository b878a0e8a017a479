"""Per-node latency and health from the /diagnostics a run recorded.

The node runtime (``percept.runtime.monitor``) publishes one DiagnosticStatus per node
about once a second, with ``latency_mean_ms``, ``latency_p95_ms`` and ``latency_max_ms``
over the node's last 1,000 callbacks, ``callbacks``, ``errors``, and per input
``<input>.received``, ``.rejected`` and ``.dropped``. The last status of a node sums up
the run; the series shows how latency moved over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from percept.domain import DiagnosticArray

__all__ = ["NodeLatency", "latency_from_diagnostics"]


@dataclass(frozen=True, slots=True, eq=False)
class NodeLatency:
    """One node's latency and health over a run.

    Attributes:
        name: the node's diagnostic name.
        reports: diagnostic statuses seen.
        latency_mean_ms: mean callback latency in the last status, ms.
        latency_p95_ms: 95th percentile in the last status, ms.
        latency_max_ms: largest ``latency_max_ms`` of any status, ms.
        callbacks: callbacks run (last status).
        errors: callback errors (last status).
        received: input messages received, all inputs (last status).
        rejected: input messages rejected, all inputs.
        dropped: input messages dropped from full queues, all inputs.
        worst_level: highest level seen (0 OK, 1 WARN, 2 ERROR, 3 STALE).
        last_message: the last status message.
        stamps_ns: (S,) int64 stamp of each status.
        mean_series_ms: (S,) float64 ``latency_mean_ms`` of each status.
        p95_series_ms: (S,) float64 ``latency_p95_ms`` of each status.
    """

    name: str
    reports: int
    latency_mean_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    callbacks: int
    errors: int
    received: int
    rejected: int
    dropped: int
    worst_level: int
    last_message: str
    stamps_ns: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    mean_series_ms: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    p95_series_ms: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def as_dict(self) -> dict[str, object]:
        """Summary for metrics.json."""
        return {
            "reports": self.reports,
            "latency_mean_ms": self.latency_mean_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_max_ms": self.latency_max_ms,
            "callbacks": self.callbacks,
            "errors": self.errors,
            "received": self.received,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "worst_level": self.worst_level,
            "last_message": self.last_message,
        }


def _number(values: dict[str, str], key: str) -> float:
    try:
        return float(values.get(key, "nan"))
    except ValueError:
        return float("nan")


def _total(values: dict[str, str], suffix: str) -> int:
    total = 0
    for key, value in values.items():
        if key.endswith(suffix) and not key.startswith("sync"):
            try:
                total += int(value)
            except ValueError:
                continue
    return total


def latency_from_diagnostics(arrays: Iterable[DiagnosticArray]) -> dict[str, NodeLatency]:
    """Latency and health per node from DiagnosticArray messages in time order.

    Statuses without latency keys (from other publishers) are skipped.

    Returns:
        node name -> its summary, sorted by name.
    """
    series: dict[str, list[tuple[int, dict[str, str], int, str]]] = {}
    for array in arrays:
        for status in array.status:
            values = dict(status.values)
            if "latency_mean_ms" not in values:
                continue
            series.setdefault(status.name, []).append(
                (array.header.stamp_ns, values, status.level, status.message)
            )
    out: dict[str, NodeLatency] = {}
    for name in sorted(series):
        items = series[name]
        _, last, _, message = items[-1]
        stamps = np.array([s for s, _, _, _ in items], dtype=np.int64)
        means = np.array([_number(v, "latency_mean_ms") for _, v, _, _ in items])
        p95 = np.array([_number(v, "latency_p95_ms") for _, v, _, _ in items])
        maxes = np.array([_number(v, "latency_max_ms") for _, v, _, _ in items])
        out[name] = NodeLatency(
            name=name,
            reports=len(items),
            latency_mean_ms=_number(last, "latency_mean_ms"),
            latency_p95_ms=_number(last, "latency_p95_ms"),
            latency_max_ms=float(np.nanmax(maxes)) if np.isfinite(maxes).any() else float("nan"),
            callbacks=int(_number(last, "callbacks")) if "callbacks" in last else 0,
            errors=int(_number(last, "errors")) if "errors" in last else 0,
            received=_total(last, ".received"),
            rejected=_total(last, ".rejected"),
            dropped=_total(last, ".dropped"),
            worst_level=max(level for _, _, level, _ in items),
            last_message=message,
            stamps_ns=stamps,
            mean_series_ms=means,
            p95_series_ms=p95,
        )
    return out
