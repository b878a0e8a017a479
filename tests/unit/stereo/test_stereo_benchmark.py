"""``percept bench stereo`` runs end to end (timings themselves are not asserted)."""

from __future__ import annotations

from percept.benchmark.stereo import CONFIGS, format_stereo_report, run_stereo_benchmark


def test_stereo_benchmark_reports_every_configuration_and_cloud_layout() -> None:
    # Small pairs: the run checks that the node configured like bare SGBM gives bare
    # SGBM's disparity, and raises if the node rejects a pair.
    results = run_stereo_benchmark(repeats=1, sizes={(160, 120): 32})
    for name in CONFIGS:
        prefix = f"stereo_160x120.{name}"
        assert results[f"{prefix}.node_ms"] > 0
        assert results[f"{prefix}.bare_sgbm_ms"] > 0
        assert results[f"{prefix}.node_vs_sgbm"] > 0
    for layout in ("xyz", "xyzrgb"):
        assert results[f"stereo_160x120.cloud_{layout}.mpoints_per_s"] > 0
    report = format_stereo_report(results)
    assert "stereo_160x120.same_work" in report
    assert "stereo_160x120.cloud_xyzrgb" in report
