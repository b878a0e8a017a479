"""``percept bench mapping`` runs end to end on a tiny cloud (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from percept.benchmark.mapping import format_mapping_report, room_view, run_mapping_benchmark
from percept.cli.main import main

PREFIX = "mapping_64x48"


def test_room_view_is_an_organised_cloud_inside_the_room() -> None:
    view = room_view(64, 48, dropout=0.1)
    assert view.points_m.shape == (48, 64, 3)
    assert view.points_m.dtype == np.float32
    valid = np.isfinite(view.points_m).all(axis=-1)
    assert 0.8 < valid.mean() < 0.97
    pts = view.points_m[valid]
    assert pts[:, 2].min() == pytest.approx(0.0, abs=1e-4)  # the floor is seen
    assert (pts[:, 0] <= 5.0 + 1e-4).all()
    assert (np.abs(pts[:, 1]) <= 3.0 + 1e-4).all()


def test_benchmark_times_the_grid_beside_bincount_and_octomap() -> None:
    results = run_mapping_benchmark(repeats=2, width=64, height=48)
    r = {k.split(".", 1)[1]: v for k, v in results.items() if k.startswith(PREFIX)}
    for key in (
        "grid_ms",
        "bincount_ms",
        "voxel3d_ms",
        "band3d_ms",
        "band3d_tsdf_ms",
        "grid_hz",
        "grid_vs_bincount",
        "band3d_vs_grid",
        "tsdf_vs_band3d",
    ):
        assert r[key] > 0.0, key
    assert r["points_in"] == 64 * 48
    assert r["points_used"] < r["points_in"]  # the 2 % dropped pixels
    assert r["points_used"] == (
        r["points_marked"] + r["points_ground"] + r["points_above"] + r["points_far"]
    )
    assert r["rays"] > 0
    assert r["cells_free"] > r["cells_hit"] > 0
    octomap = pytest.importorskip("pyoctomap")
    assert octomap is not None
    assert r["octomap_available"] == 1.0
    assert r["octomap_ms"] > 0.0
    report = format_mapping_report(results)
    assert "np.bincount" in report
    assert "OctoMap" in report
    assert "Hz" in report


def test_report_says_when_octomap_is_skipped() -> None:
    results = run_mapping_benchmark(repeats=1, width=32, height=24)
    results["mapping_32x24.octomap_available"] = 0.0
    assert "skipped" in format_mapping_report(results)


def test_cli_benches_mapping_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "mapping", "--repeats", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["mapping_640x480.points_in"] == 640 * 480
    assert data["repeats"] == 1.0


def test_repeats_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="repeats"):
        run_mapping_benchmark(repeats=0, width=16, height=12)
