"""Bag lists and ``percept eval`` / ``percept regress`` over a fleet of bags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percept.cli.main import main
from percept.errors import ConfigError
from percept.eval.batch import evaluate_batch, find_bags, format_batch_table, output_names
from percept.tools.fleet import FleetReference
from percept.tools.regress import write_baselines

from .fleet import write_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_fleet(tmp_path_factory.mktemp("fleet") / "bags", 3, seconds=0.6)


def test_find_bags_walks_folders_reads_lists_and_keeps_order(tmp_path: Path) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "r2").mkdir()
    for p in ("a/x.mcap", "a/deep/y.mcap", "a/notes.md", "a/r2/metadata.yaml", "a/r2/r2_0.db3"):
        (tmp_path / p).write_bytes(b"")
    (tmp_path / "z.mcap").write_bytes(b"")
    listing = tmp_path / "bags.txt"
    listing.write_text("# the fleet\nz.mcap\n\na/x.mcap  # again: kept once\n", encoding="utf-8")
    found = find_bags([tmp_path / "a", listing])
    rel = [str(p.relative_to(tmp_path)) for p in found]
    assert rel == ["a/deep/y.mcap", "a/r2", "a/x.mcap", "z.mcap"]  # rosbag2 folder is one bag
    gt = tmp_path / "a" / "x.mcap"
    assert gt not in find_bags([tmp_path / "a"], exclude=[gt])
    with pytest.raises(ConfigError, match="no such file"):
        find_bags([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no bags in"):
        find_bags([tmp_path / "empty"])
    assert list(output_names([Path("a/run.mcap"), Path("b/run.mcap")]).values()) == [
        "run",
        "run_2",
    ]


def test_metrics_only_batch_and_its_table(tmp_path: Path, fleet: list[Path]) -> None:
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(b"not a bag")
    results = evaluate_batch([*fleet, broken], None, tmp_path / "out", report=False, messages=True)
    first = tmp_path / "out" / "bag_0"
    assert sorted(p.name for p in first.iterdir()) == ["metrics.json"]
    assert json.loads((first / "metrics.json").read_text()) == results[str(fleet[0])]
    assert results[str(fleet[0])]["messages"]["/odom"] == 15  # 0.6 s at 25 Hz
    table = format_batch_table(results, {str(b): b.stem for b in [*fleet, broken]})
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["bag", "status", "ATE", "m"]
    assert lines[2].split()[:2] == ["bag_0", "ok"]
    assert lines[-1].split()[:2] == ["broken", "FAILED"]


def test_eval_cli_over_a_folder_prints_one_table_and_fails_on_a_broken_bag(
    tmp_path: Path, fleet: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["-q", "eval", str(fleet[0].parent), "--out", str(out), "--no-report", "--jobs", "2"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "3 bags: 3 ok, 0 failed" in text
    assert [line.split()[0] for line in text.splitlines()[2:5]] == ["bag_0", "bag_1", "bag_2"]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == [str(b) for b in fleet]
    listing = tmp_path / "bags.txt"
    listing.write_text(f"{fleet[1]}\nbroken.mcap\n", encoding="utf-8")
    (tmp_path / "broken.mcap").write_bytes(b"not a bag")
    assert main(["-q", "eval", str(listing), "--out", str(tmp_path / "o2"), "--no-report"]) == 1
    text = capsys.readouterr().out
    assert "2 bags: 1 ok, 1 failed" in text
    assert "FAILED" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--engine", "ray", "--ray-address", "auto", "--jobs", "0"], "--jobs must be >= 1"),
        (["--ray-address", "auto"], "--ray-address needs --engine ray"),
    ],
)
def test_eval_cli_engine_usage_errors(
    fleet: list[Path], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", str(fleet[0]), "--out", "unused", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def _set(path: Path, keys: tuple[str, ...], value: float) -> None:
    doc = json.loads(path.read_text())
    node = doc
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path.write_text(json.dumps(doc))


def test_regress_fleet_compares_each_bag_with_its_reference(
    tmp_path: Path, fleet: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tmp_path / "ref"
    folder = str(fleet[0].parent)
    assert main(["-q", "eval", folder, "--out", str(ref), "--no-report"]) == 0
    new = ["--out", str(tmp_path / "new"), "--no-report", "--jobs", "2"]
    assert main(["-q", "regress", str(ref), folder, *new, "--fail-on-regression"]) == 0
    text = capsys.readouterr().out
    assert "3 bags: 3 ok" in text
    # bag_1's reference was better than bag_1 is now; bag_2 has no reference
    ate = ("trajectory", "ate_m", "rmse")
    _set(ref / "bag_1" / "metrics.json", ate, 1e-4)
    (ref / "bag_2" / "metrics.json").unlink()
    assert main(["-q", "regress", str(ref), folder, *new]) == 0  # reported, not failed
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("bag_1"))
    assert row.split()[1:3] == ["REGRESSED", "1"]
    assert row.endswith("trajectory.ate_m.rmse")
    assert "bag_2     no ref" in text
    assert "1 no reference, 1 ok, 1 regressed" in text
    assert main(["-q", "regress", str(ref), folder, *new, "--fail-on-regression"]) == 1
    summary = json.loads((tmp_path / "new" / "summary.json").read_text())
    assert summary["bags"][str(fleet[1])]["regressed"] == ["trajectory.ate_m.rmse"]
    # the new run's outputs are a reference themselves, message counts included
    capsys.readouterr()
    again = ["--out", str(tmp_path / "again"), "--no-report", "--json"]
    assert main(["-q", "regress", str(tmp_path / "new"), str(fleet[0]), str(fleet[1]), *again]) == 0
    doc = json.loads(capsys.readouterr().out.rsplit("\n", 2)[0])
    assert doc["counts"] == {"ok": 2}
    # a bag that does not evaluate fails the run whatever --fail-on-regression says
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(b"not a bag")
    argv = ["-q", "regress", str(ref), str(fleet[0]), str(broken), *new]
    assert main(argv) == 1
    assert "FAILED" in capsys.readouterr().out


def test_regress_fleet_against_one_metrics_file_and_usage_errors(
    tmp_path: Path, fleet: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tmp_path / "ref"
    assert main(["-q", "eval", str(fleet[0]), "--out", str(ref)]) == 0
    out = ["--out", str(tmp_path / "new"), "--no-report"]
    assert main(["-q", "regress", str(ref / "metrics.json"), str(fleet[0]), *out]) == 0
    text = capsys.readouterr().out
    assert "1 bags: 1 ok" in text
    with pytest.raises(SystemExit):
        main(["regress", str(ref), str(fleet[0]), str(fleet[1])])  # fleet needs --out
    assert "needs --out DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["regress", str(ref), str(ref), "--engine", "ray"])  # two runs: no engine
    assert "are for fleet mode" in capsys.readouterr().err


def test_fleet_reference_picks_the_baselines_case_named_like_the_bag(tmp_path: Path) -> None:
    yaml = tmp_path / "baselines.yaml"
    cases = {
        name: ({}, {"occupancy.occupied_iou": iou}) for name, iou in (("bag_0", 0.7), ("b", 0.5))
    }
    write_baselines(yaml, cases, command="test")
    ref = FleetReference.load(yaml)
    source = ref.source("bag_0")
    assert source is not None
    assert source.metrics == {"occupancy.occupied_iou": 0.7}
    assert source.policies["occupancy.occupied_iou"].direction == "higher_is_better"
    with pytest.raises(ConfigError, match="pick one"):
        ref.source("bag_9")
    chosen = FleetReference.load(yaml, case="b").source("bag_0")
    assert chosen is not None
    assert chosen.metrics == {"occupancy.occupied_iou": 0.5}
    with pytest.raises(ConfigError, match="no case 'c'"):
        FleetReference.load(yaml, case="c")
    with pytest.raises(ConfigError, match=r"no <bag>/metrics\.json"):
        FleetReference.load(tmp_path)
