"""Per-node latency from /diagnostics written by the runtime's NodeMonitor."""

from __future__ import annotations

import logging

import pytest

from percept.domain import DiagnosticArray, DiagnosticLevel, DiagnosticStatus, Header
from percept.eval.latency import latency_from_diagnostics
from percept.runtime.monitor import NodeMonitor

MS = 1_000_000


def test_latency_summary_from_monitor_statuses() -> None:
    monitor = NodeMonitor("/camera/debayer", ["image_raw"], logging.getLogger("test"))
    arrays = []
    for second in range(1, 4):
        for i in range(10):
            now = second * 1_000 * MS + i * 50 * MS
            monitor.received("image_raw", now, now)
            monitor.processed((second * 2 + (i % 2)) * MS)  # 2-3, 4-5, 6-7 ms
        monitor.rejected("image_raw", "bad step", second * 1_000 * MS)
        status = monitor.status(second * 1_000 * MS + 600 * MS)
        other = DiagnosticStatus(DiagnosticLevel.OK, "gpu_temp", values=(("temp_c", "51"),))
        arrays.append(DiagnosticArray(Header(second * 1_000 * MS, ""), (status, other)))
    nodes = latency_from_diagnostics(arrays)
    assert list(nodes) == ["/camera/debayer"]  # statuses without latency keys are skipped
    node = nodes["/camera/debayer"]
    assert node.reports == 3
    assert node.callbacks == 30
    assert node.received == 30
    assert node.rejected == 3
    assert node.latency_mean_ms == pytest.approx(4.5)  # last status: all 30 callbacks
    assert node.latency_max_ms == pytest.approx(7.0)
    assert node.mean_series_ms.tolist() == pytest.approx([2.5, 3.5, 4.5])
    assert node.worst_level == DiagnosticLevel.WARN  # recent rejections warn
    assert node.as_dict()["errors"] == 0
