"""The stage log and its validation curve (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from percept.tools.train_detector import train
from percept.tools.train_detector.stages import StageLog, _chain, load_stages, record_test


def _stage(out: Path, init: Path | None, points: list[tuple[float, float]]) -> None:
    log = StageLog(out, {"init": None if init is None else str(init), "steps_start": 0})
    for cpu, value in points:
        log.add_val({"step": 1, "cpu_minutes": cpu, "map_50": value, "map": value / 2})
    log.update(cpu_minutes_total=points[-1][0] + 1.0, status="stopped")


def test_segments_append_and_test_scores_go_to_the_last(tmp_path: Path) -> None:
    out = tmp_path / "s1"
    out.mkdir()
    _stage(out, None, [(1.0, 0.1), (2.0, 0.2)])
    _stage(out, None, [(3.0, 0.3)])
    stages = load_stages(out)
    assert [s["segment"] for s in stages] == [1, 2]
    assert [len(s["val"]) for s in stages] == [2, 1]
    record_test(out, {"map_50": 0.5})
    assert load_stages(out)[-1]["test"] == {"map_50": 0.5}
    assert load_stages(out)[0]["test"] is None
    assert not list(out.glob(".*.tmp"))


def test_curve_chains_the_stage_it_was_initialised_from(tmp_path: Path) -> None:
    one, two = tmp_path / "stage1", tmp_path / "stage2"
    one.mkdir()
    two.mkdir()
    _stage(one, None, [(1.0, 0.1), (4.0, 0.4)])
    _stage(two, one / "model.pt", [(1.0, 0.5), (2.0, 0.6)])
    assert [name for name, _ in _chain(two)] == ["stage1", "stage2"]
    assert train.main(["--out", str(two), "--curve"]) == 0
    png = cv2.imread(str(two / "val_curve.png"))
    assert png is not None
    assert png.shape[0] > 100


def test_curve_without_points_fails(tmp_path: Path) -> None:
    assert train.main(["--out", str(tmp_path), "--curve"]) == 1


def test_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"width": 16}), encoding="utf-8")
    with pytest.raises(SystemExit):
        train.main(["--resume", str(tmp_path)])
    with pytest.raises(SystemExit):
        train.main(["--out", str(tmp_path), "--resume", str(tmp_path)])


def test_tile_scale_is_for_evaluate_only_and_in_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        train.main(["--out", str(tmp_path), "--tile-scale", "1.5"])
    assert "--tile-scale applies to --evaluate only" in capsys.readouterr().err
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    with pytest.raises(SystemExit):
        train.main(["--out", str(tmp_path), "--evaluate", str(model), "--tile-scale", "0.5"])
    assert "--tile-scale must lie in [1, 4]" in capsys.readouterr().err
