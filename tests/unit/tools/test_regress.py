"""percept.tools.regress: flattening, tolerances, comparison, baselines files, percept regress."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from percept.cli.main import main
from percept.errors import ConfigError
from percept.tools.regress import (
    Comparison,
    MetricPolicy,
    compare,
    flatten_metrics,
    format_table,
    load_baselines,
    load_source,
    policy_for,
    write_baselines,
)

DOC = {
    "run": "run.mcap",
    "mode": "bag",
    "latency": {
        "rect": {
            "latency_mean_ms": 1.0,
            "latency_max_ms": 9.0,
            "received": 80,
            "rejected": 0,
            "last_message": "ok",
        }
    },
    "disparity": {"bad_2_total_pct": 12.5, "epe_px": None, "density_pct": 90.0},
    "occupancy": {"occupied_iou": 0.7, "resampled": True},
    "worst_frames": {"depth.epe_px": [{"stamp_s": 1.0, "epe_px": 3.0}]},
}


def test_flatten_keeps_numbers_turns_null_into_nan_and_drops_the_rest() -> None:
    flat = flatten_metrics(DOC)
    assert flat["latency.rect.received"] == 80.0
    assert math.isnan(flat["disparity.epe_px"])
    assert "occupancy.resampled" not in flat  # booleans are settings, not metrics
    assert not any(k.startswith(("run", "mode", "worst_frames")) for k in flat)
    assert "latency.rect.last_message" not in flat


def test_default_rules_give_directions_and_leave_out_noise() -> None:
    assert policy_for("latency.rect.latency_max_ms") is None
    assert policy_for("latency.rect.latency_p95_ms") == MetricPolicy("lower_is_better", 25.0, 3.0)
    assert policy_for("synthetic.eval.latency.rect.received") == MetricPolicy("equal")
    assert policy_for("disparity.density_pct") == MetricPolicy("higher_is_better", 1.0)
    assert policy_for("trajectory.alignment.scale") is None
    assert policy_for("messages./diagnostics") is None  # grows with every node added
    assert policy_for("messages./stereo/disparity") == MetricPolicy("equal")
    assert policy_for("something.unknown") is None


@pytest.mark.parametrize(
    ("a", "b", "policy", "status"),
    [
        (10.0, 10.9, MetricPolicy("lower_is_better", abs_tol=1.0), "ok"),
        (10.0, 11.1, MetricPolicy("lower_is_better", abs_tol=1.0), "regressed"),
        (10.0, 8.0, MetricPolicy("lower_is_better", abs_tol=1.0), "improved"),
        (10.0, 14.9, MetricPolicy("lower_is_better", abs_tol=1.0, rel_tol=0.5), "ok"),
        (10.0, 15.1, MetricPolicy("lower_is_better", abs_tol=1.0, rel_tol=0.5), "regressed"),
        (0.70, 0.68, MetricPolicy("higher_is_better", abs_tol=0.01), "regressed"),
        (0.70, 0.72, MetricPolicy("higher_is_better", abs_tol=0.01), "improved"),
        (80.0, 81.0, MetricPolicy("equal"), "regressed"),
        (80.0, 79.0, MetricPolicy("equal"), "regressed"),
        (80.0, 80.0, MetricPolicy("equal"), "ok"),
        (1.0, math.nan, MetricPolicy("lower_is_better", abs_tol=1.0), "regressed"),
        (math.nan, 1.0, MetricPolicy("lower_is_better", abs_tol=1.0), "improved"),
        (math.nan, math.nan, MetricPolicy("equal"), "ok"),
        (3.0, 3.0, None, "ok"),
        (3.0, 3.5, None, "changed"),
    ],
)
def test_compare_flags_drift_past_tolerance_in_the_bad_direction(
    a: float, b: float, policy: MetricPolicy | None, status: str
) -> None:
    policies = {"m": policy} if policy is not None else {}
    row = compare({"m": a}, {"m": b}, policies, rules=()).row("m")
    assert row.status == status
    assert row.policy == policy


def test_compare_reports_missing_and_new_metrics() -> None:
    comparison = compare(
        {"latency.rect.received": 80.0, "foo": 1.0},
        {"bar": 2.0},
    )
    assert comparison.row("latency.rect.received").status == "regressed"  # has a policy
    assert comparison.row("foo").status == "missing"  # no policy: informational
    assert comparison.row("bar").status == "new"
    assert [r.name for r in comparison.regressed] == ["latency.rect.received"]
    # untracked metrics coming and going are listed, not flagged
    assert [r.name for r in comparison.flagged] == ["latency.rect.received"]
    with pytest.raises(KeyError):
        comparison.row("nope")


def test_table_lists_delta_relative_delta_tolerance_and_flag() -> None:
    comparison = compare(
        {"latency.rect.received": 80.0, "disparity.epe_px": 1.0},
        {"latency.rect.received": 48.0, "disparity.epe_px": 1.0},
        label_a="base",
        label_b="new",
    )
    table = format_table(comparison)
    lines = table.splitlines()
    assert lines[0].split() == [
        "metric",
        "base",
        "new",
        "delta",
        "rel",
        "delta",
        "tolerance",
        "flag",
    ]
    received = next(line for line in lines if line.startswith("latency.rect.received"))
    assert received.split() == ["latency.rect.received", "80", "48", "-32", "-40.0", "%", "±0",
                                "REGRESSED"]  # fmt: skip
    only = format_table(comparison, only_flagged=True)
    assert "disparity.epe_px" not in only
    assert "REGRESSED" in only


def test_policy_rejects_bad_directions_and_tolerances() -> None:
    with pytest.raises(ConfigError, match="direction must be one of"):
        MetricPolicy("smaller")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="abs_tol must be a finite number >= 0"):
        MetricPolicy("equal", abs_tol=-1.0)


def test_baselines_round_trip_and_keep_tolerances_on_update(tmp_path: Path) -> None:
    path = tmp_path / "baselines.yaml"
    settings = {"robot": "synth", "sequence": {"seconds": 2.0}}
    first = write_baselines(
        path,
        {"synth": (settings, flatten_metrics(DOC))},
        command="pytest --update-baselines",
        commit="abc1234",
    )
    case = first.case("synth")
    assert case.settings == settings
    # only metrics with a policy are written; null stays NaN
    assert set(case.values) == {
        "latency.rect.latency_mean_ms",
        "latency.rect.received",
        "latency.rect.rejected",
        "disparity.bad_2_total_pct",
        "disparity.epe_px",
        "disparity.density_pct",
        "occupancy.occupied_iou",
    }
    assert math.isnan(case.values["disparity.epe_px"])
    assert case.policies["latency.rect.received"] == MetricPolicy("equal")
    text = path.read_text(encoding="utf-8")
    assert "never by hand" in text
    assert "pytest --update-baselines" in text
    assert "commit: abc1234" in text
    # a tolerance widened in the file survives the next update; values are re-measured
    path.write_text(
        text.replace(
            "disparity.bad_2_total_pct: {value: 12.5, direction: lower_is_better, abs: 1}",
            "disparity.bad_2_total_pct: {value: 12.5, direction: lower_is_better, abs: 3}",
        ),
        encoding="utf-8",
    )
    previous = load_baselines(path)
    assert previous.case("synth").policies["disparity.bad_2_total_pct"].abs_tol == 3.0
    doc = json.loads(json.dumps(DOC))
    doc["disparity"]["bad_2_total_pct"] = 11.0
    second = write_baselines(
        path, {"synth": (settings, flatten_metrics(doc))}, command="x", previous=previous
    )
    assert second.case("synth").values["disparity.bad_2_total_pct"] == 11.0
    assert second.case("synth").policies["disparity.bad_2_total_pct"].abs_tol == 3.0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("cases: {}", "version must be 1"),
        ("version: 1\n", "expected a mapping with 'cases"),
        ("version: 1\ncases: {a: {robot: x}}", "cases.a must have a 'metrics' mapping"),
        ("version: 1\ncases: {a: {metrics: {m: 3}}}", r"cases.a.metrics.m must be a mapping"),
        (
            "version: 1\ncases: {a: {metrics: {m: {value: 1, direction: up}}}}",
            r"cases.a.metrics.m: direction must be one of",
        ),
        (
            "version: 1\ncases: {a: {metrics: {m: {value: 1, tol: 2}}}}",
            r"unknown keys \['tol'\]",
        ),
        ("version: 1\ncases: {a: {metrics: {m: {value: x}}}}", "value must be a number"),
        ("version: [1\n", "cannot read baselines"),
    ],
)
def test_load_baselines_raises_naming_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_baselines(path)


def _two_cases(tmp_path: Path) -> Path:
    path = tmp_path / "b.yaml"
    write_baselines(
        path,
        {
            "one": ({}, {"latency.rect.received": 80.0}),
            "two": ({}, {"latency.rect.received": 40.0}),
        },
        command="test",
    )
    return path


def test_load_source_reads_files_folders_and_baseline_cases(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(DOC), encoding="utf-8")
    from_dir = load_source(tmp_path / "run")
    from_file = load_source(tmp_path / "run" / "metrics.json")
    assert from_dir.metrics.keys() == from_file.metrics.keys()
    assert from_dir.metrics["latency.rect.received"] == 80.0
    baselines = _two_cases(tmp_path)
    assert load_source(baselines, case="two").metrics == {"latency.rect.received": 40.0}
    with pytest.raises(ConfigError, match=r"holds cases \['one', 'two'\]; pick one"):
        load_source(baselines)
    with pytest.raises(ConfigError, match="no case 'three'"):
        load_source(baselines, case="three")
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_source(tmp_path / "nothing.mcap")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"expected metrics\.json, a folder holding one"):
        load_source(tmp_path / "empty")
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        load_source(tmp_path / "bad.json")


def _metrics_dir(root: Path, name: str, received: int, iou: float) -> Path:
    doc = json.loads(json.dumps(DOC))
    doc["latency"]["rect"]["received"] = received
    doc["occupancy"]["occupied_iou"] = iou
    folder = root / name
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder


def test_cli_prints_the_table_and_fails_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _metrics_dir(tmp_path, "a", 80, 0.70)
    b = _metrics_dir(tmp_path, "b", 80, 0.60)
    assert main(["regress", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    iou = next(line for line in out.splitlines() if line.startswith("occupancy.occupied_iou"))
    assert iou.split()[1:4] == ["0.7", "0.6", "-0.1"]
    assert iou.endswith("REGRESSED")
    assert "1 regressed" in out
    assert main(["regress", str(a), str(b), "--fail-on-regression"]) == 1
    capsys.readouterr()
    assert main(["regress", str(a), str(a), "--fail-on-regression", "--only-flagged"]) == 0
    out = capsys.readouterr().out
    assert "REGRESSED" not in out
    assert "ok" in out.splitlines()[-1]


def test_cli_json_and_baselines_tolerances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    a = _metrics_dir(tmp_path, "a", 80, 0.70)
    b = _metrics_dir(tmp_path, "b", 80, 0.60)
    loose = tmp_path / "loose.yaml"
    write_baselines(
        loose,
        {"c": ({}, {"occupancy.occupied_iou": 0.7})},
        command="test",
    )
    loose.write_text(
        loose.read_text(encoding="utf-8").replace("abs: 0.01", "abs: 0.2"), encoding="utf-8"
    )
    assert main(["regress", str(a), str(b), "--baselines", str(loose), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    row = next(r for r in doc["rows"] if r["metric"] == "occupancy.occupied_iou")
    assert row["status"] == "ok"  # within the file's wider tolerance
    assert row["abs_tol"] == 0.2
    assert row["delta"] == pytest.approx(-0.1)
    assert math.isclose(row["rel_delta"], -0.1 / 0.7)
    # a baselines file as A, one case picked
    assert main(["regress", str(loose), str(b), "--case", "c", "--fail-on-regression"]) == 0
    assert main(["regress", str(a), str(loose)]) == 1  # baselines only as A
    assert "can only be RUN_A" in caplog.text


def test_comparison_of_nothing_is_empty() -> None:
    comparison = compare({}, {})
    assert comparison == Comparison("A", "B", ())
    assert format_table(comparison).splitlines()[0].startswith("metric")
