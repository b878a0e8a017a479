"""Latency metric: per-node callback latency and message counts from /diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from percept import codecs
from percept.domain import DiagnosticArray
from percept.eval.html import figure, fmt, table
from percept.eval.latency import latency_from_diagnostics
from percept.eval.metrics.base import Collector, Input, Metric, RunContext, SummaryRow
from percept.eval.pictures import bar_plot

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.result import EvalResult

__all__ = ["DIAGNOSTICS", "LatencyMetric"]

DIAGNOSTICS = Input("diagnostics", ("/diagnostics",), frozenset({codecs.DIAGNOSTIC_ARRAY}))


class _Diagnostics(Collector):
    def __init__(self) -> None:
        self.arrays: list[DiagnosticArray] = []

    def add(self, key: str, obj: object) -> None:
        if isinstance(obj, DiagnosticArray):
            self.arrays.append(obj)

    def finish(self, result: EvalResult) -> None:
        result.latency = latency_from_diagnostics(self.arrays)
        if not result.latency:
            result.skipped["latency"] = "/diagnostics has no node latency values"


class LatencyMetric(Metric):
    """Node latency as the runtime's monitors report it (:mod:`percept.eval.latency`)."""

    name = "latency"
    run_inputs = (DIAGNOSTICS,)
    gt_input = None

    def collector(self, context: RunContext) -> Collector:
        """Collects the diagnostics arrays."""
        return _Diagnostics()

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``latency``: node -> latency summary."""
        if not result.latency:
            return {}
        return {"latency": {name: n.as_dict() for name, n in result.latency.items()}}

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """Mean and p95 latency per node."""
        return [
            (
                f"latency {name}",
                f"{fmt(node.latency_mean_ms, 3)} / {fmt(node.latency_p95_ms, 3)}",
                "ms mean / p95",
            )
            for name, node in result.latency.items()
        ]

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """Latency table and bar chart per node."""
        if not result.latency:
            return ""
        names = list(result.latency)
        nodes = list(result.latency.values())
        chart = bar_plot(
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
            + table(
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
            + figure(chart.name, "wall-clock callback latency from /diagnostics")
        )
