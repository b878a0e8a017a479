"""percept demo on a tiny configuration: stages, cache, pictures, report, metrics."""

from __future__ import annotations

import functools
import importlib
import json
import re
from pathlib import Path

import cv2
import pytest

import percept.tools.demo
from percept.cli.main import main
from percept.tools.demo import DemoConfig, DemoResult, cached_sequence, run_demo, sequence_key

pytestmark = pytest.mark.slow  # renders and replays a sequence

TINY = DemoConfig(
    seconds=1.0, width=160, height=120, pattern_seconds=1.0, pattern_width=64, pattern_height=48
)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, DemoResult, Path]:
    root = tmp_path_factory.mktemp("demo")
    first = run_demo(root / "out1", root / "cache", config=TINY)
    second = run_demo(root / "out2", root / "cache", config=TINY)
    return first, second, root


def _stage(result: DemoResult, name: str) -> percept.tools.demo.Stage:
    return next(s for s in result.stages if s.name == name)


def test_demo_renders_once_then_reuses_the_cached_sequence(
    demo_runs: tuple[DemoResult, DemoResult, Path],
) -> None:
    first, second, root = demo_runs
    assert _stage(first, "render synthetic sequence").status == "ran"
    assert _stage(second, "render synthetic sequence").status == "cached"
    assert _stage(second, "Bayer: generate test pattern").status == "cached"
    key = sequence_key(TINY.synth_config())
    cached = sorted(p.name for p in (root / "cache").iterdir())
    assert f"synth_{key}.mcap" in cached
    assert f"synth_{key}.json" in cached
    assert not any("partial" in name for name in cached)
    # the render time measured the first time is reported again from the cache
    t1, t2 = first.metrics["timings"], second.metrics["timings"]
    assert isinstance(t1, dict)
    assert isinstance(t2, dict)
    assert t1["render_s_per_frame"] == t2["render_s_per_frame"] > 0


def test_cache_key_covers_every_setting_and_the_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = sequence_key(TINY.synth_config())
    assert base == sequence_key(DemoConfig(**_fields(TINY)).synth_config())
    for change in ({"seed": 1}, {"width": 192}, {"rate_hz": 5.0}, {"motion": "handheld"}):
        other = DemoConfig(**{**_fields(TINY), **change})
        assert sequence_key(other.synth_config()) != base, change
    monkeypatch.setattr(percept.tools.demo, "SEQUENCE_VERSION", "demo-sequence-v0")
    assert sequence_key(TINY.synth_config()) != base


def _fields(config: DemoConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def test_demo_runs_the_synth_robot_scores_it_and_lists_what_was_skipped(
    demo_runs: tuple[DemoResult, DemoResult, Path],
) -> None:
    first, _, _ = demo_runs
    replay = _stage(first, "replay through robot synth")
    assert replay.status == "ran"
    assert "stereo_rectify" in replay.detail
    evaluated = _stage(first, "evaluate run (percept eval)")
    assert evaluated.status == "ran"
    assert "latency" in evaluated.detail
    synthetic = first.metrics["synthetic"]
    assert isinstance(synthetic, dict)
    eval_doc = synthetic["eval"]
    assert isinstance(eval_doc, dict)
    assert eval_doc["latency"]["stereo_rectify"]["received"] == 40  # 10 frames x 4 inputs
    # every metric eval could not score is a skipped stage with eval's reason
    for metric, reason in eval_doc.get("skipped", {}).items():
        stage = _stage(first, f"score {metric}")
        assert stage.status == "skipped"
        assert stage.detail == reason
    assert first.eval_report is not None
    assert first.eval_report.is_file()
    bayer = first.metrics["bayer"]
    assert isinstance(bayer, dict)
    assert bayer["debayer_psnr_db"]["frames"] == 10
    assert bayer["debayer_psnr_db"]["mean"] > 15.0


def test_demo_report_links_pictures_that_exist_and_show_the_sequence(
    demo_runs: tuple[DemoResult, DemoResult, Path],
) -> None:
    first, _, root = demo_runs
    out = root / "out1"
    text = first.report.read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)"', text)
    for expected in ("raw_pair.png", "rectified_pair.png", "gt_depth.png", "bayer/color.png"):
        assert expected in images
    for name in images:
        image = cv2.imread(str(out / name))
        assert image is not None, name
        assert image.std() > 5.0, name  # not a blank picture
    raw = cv2.imread(str(out / "raw_pair.png"))
    assert raw.shape[1] == 2 * 320 + 4  # two 320-pixel thumbnails and a gap
    assert 'src="eval/report.html"' in text
    assert "Bayer test pattern" in text
    for stage in first.stages:
        assert stage.name in text
    doc = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(doc["timings"]) >= {"render_s_per_frame", "replay_wall_s", "eval_s", "total_s"}
    assert [s["name"] for s in doc["stages"]] == [s.name for s in first.stages]


def test_demo_cli_prints_stages_timings_and_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(percept.tools.demo, "run_demo", functools.partial(run_demo, config=TINY))
    out = tmp_path / "demo"
    assert main(["--quiet", "demo", "--out", str(out), "--cache", str(tmp_path / "c")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"report: {(out / 'report.html').resolve()}"
    assert any(line.startswith("render synthetic sequence") and " ran " in line for line in lines)
    assert any(re.match(r"render [\d.]+ s per stereo frame; replay", line) for line in lines)


def test_an_interrupted_render_leaves_no_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(out: Path, *args: object, **kwargs: object) -> None:
        Path(out).write_bytes(b"half a bag")
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("percept.synth.generate"), "generate", broken)
    with pytest.raises(KeyboardInterrupt):
        cached_sequence(tmp_path, TINY.synth_config())
    assert list(tmp_path.iterdir()) == []
