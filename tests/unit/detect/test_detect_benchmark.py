"""``percept bench detect``: the node beside a bare ``InferenceSession.run``, same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percept.benchmark.detect import build_benchmark_model
from percept.cli.main import main

pytest.importorskip("onnxruntime", reason="bench detect runs the ONNX Runtime backend")


def test_cli_benches_a_given_model_and_writes_json(tmp_path: Path) -> None:
    model = build_benchmark_model(tmp_path / "mine.onnx", seed=3)
    out = tmp_path / "bench.json"
    assert (
        main(["bench", "detect", "--repeats", "2", "--model", str(model), "--json", str(out)]) == 0
    )
    data = json.loads(out.read_text())
    node_ms = data["detect_640x640.node_ms"]
    bare_ms = data["detect_640x640.bare_ort_ms"]
    assert 0.0 < bare_ms <= node_ms * 5.0
    assert data["detect_640x640.node_vs_ort"] > 0.0


def test_cli_names_a_missing_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "absent.onnx"
    assert main(["bench", "detect", "--repeats", "1", "--model", str(missing)]) != 0
    assert "absent.onnx: no such model file" in caplog.text


def test_tiled_bench_times_the_node_against_as_many_bare_runs(tmp_path: Path) -> None:
    model = build_benchmark_model(tmp_path / "mine.onnx", seed=3)
    out = tmp_path / "bench.json"
    args = ["bench", "detect", "--repeats", "2", "--model", str(model), "--json", str(out)]
    assert main([*args, "--tile-scale", "1.5"]) == 0
    data = json.loads(out.read_text())
    # 960x960 enlarged frame: 2x2 tiles of 640x640, plus the whole frame.
    assert data["detect_640x640_tiles1.5.inferences"] == 5.0
    assert data["tile_scale"] == 1.5
    node_ms = data["detect_640x640_tiles1.5.node_ms"]
    assert 0.0 < data["detect_640x640_tiles1.5.bare_ort_ms"] <= node_ms * 5.0
