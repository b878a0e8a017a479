"""``percept bench vio`` runs end to end on a tiny synthetic sequence (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from percept.benchmark.vio import PARTS, format_vio_report, load_vio_sequence, run_vio_benchmark
from percept.cli.main import main
from percept.errors import BagError
from percept.synth.generate import SynthConfig, default_rig, generate

W, H = 320, 240
PREFIX = f"vio_{W}x{H}"


@pytest.fixture(scope="module")
def tiny_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of the synthetic robot: 320x240 at 20 Hz, IMU at 200 Hz."""
    bag = tmp_path_factory.mktemp("vio_bench") / "tiny.mcap"
    config = SynthConfig(
        seconds=1.0,
        camera_rate_hz=20.0,
        imu_rate_hz=200.0,
        rig=default_rig("ground", width=W, height=H),
    )
    generate(bag, config)
    return bag


def test_sequence_is_rectified_pairs_with_imu_and_extrinsics(tiny_bag: Path) -> None:
    seq = load_vio_sequence(tiny_bag)
    assert seq.size == (W, H)
    assert len(seq.left) == len(seq.right) == seq.stamps_ns.shape[0] == 20
    assert np.all(np.diff(seq.stamps_ns) > 0)
    assert seq.camera_period_s == pytest.approx(0.05, abs=1e-6)
    assert seq.imu_rate_hz == pytest.approx(200.0, rel=1e-3)
    assert seq.T_imu_cam.shape == (4, 4)
    assert np.allclose(seq.T_imu_cam[:3, :3] @ seq.T_imu_cam[:3, :3].T, np.eye(3), atol=1e-9)
    # A prefix of the bag: the first half second only.
    assert load_vio_sequence(tiny_bag, seconds=0.5).stamps_ns.shape[0] == 11


def test_benchmark_reports_every_part_beside_the_bare_klt(tiny_bag: Path) -> None:
    results = run_vio_benchmark(load_vio_sequence(tiny_bag), repeats=1)
    assert results["repeats"] == 1
    assert results["opencv_threads"] == 1
    assert results["blas_threads"] == 1
    assert results[f"{PREFIX}.frames"] == 20
    assert 0 < results[f"{PREFIX}.estimates"] <= 19  # the VIO produced estimates
    for name in (*PARTS, "total", "bare_lk"):
        assert results[f"{PREFIX}.{name}_ms"] > 0
        assert results[f"{PREFIX}.{name}_p90_ms"] >= results[f"{PREFIX}.{name}_ms"]
    parts_ms = sum(results[f"{PREFIX}.{p}_ms"] for p in PARTS)
    assert results[f"{PREFIX}.total_ms"] > 0.5 * parts_ms
    for key in ("fps", "realtime_factor", "sequence_realtime", "front_end_vs_lk", "total_vs_lk"):
        assert results[f"{PREFIX}.{key}"] > 0
    assert results[f"{PREFIX}.realtime_factor"] == pytest.approx(
        50.0 / results[f"{PREFIX}.total_ms"]
    )
    assert results[f"{PREFIX}.camera_rate_hz"] == pytest.approx(20.0)
    assert results[f"{PREFIX}.features"] > 0
    assert results[f"{PREFIX}.bare_lk_corners"] > 0
    report = format_vio_report(results)
    for row in (*PARTS, "total", "bare calcOpticalFlowPyrLK", "real-time factor", "dominant"):
        assert row in report
    assert "target real-time factor >= 3" in report


def test_cli_benches_a_bag_and_writes_json(
    tiny_bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench_vio.json"
    status = main(
        ["-q", "bench", "vio", "--bag", str(tiny_bag), "--repeats", "1", "--json", str(out)]
    )
    assert status == 0
    assert f"{PREFIX} per frame" in capsys.readouterr().out
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc[f"{PREFIX}.total_ms"] > 0


def test_bag_without_a_stereo_pair_is_refused(tmp_path: Path) -> None:
    from percept.io.bag import BagWriter
    from percept.msgtypes import IMAGE

    bag = tmp_path / "no_imu.mcap"
    with BagWriter(bag) as writer:
        writer.add_topic("/stereo/left/image_raw", IMAGE)
    with pytest.raises(BagError, match="left/right"):
        load_vio_sequence(bag)


def test_repeats_below_one_are_refused(tiny_bag: Path) -> None:
    with pytest.raises(ValueError, match="repeats"):
        run_vio_benchmark(load_vio_sequence(tiny_bag, seconds=0.2), repeats=0)
