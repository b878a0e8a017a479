"""``percept eval`` end to end: bag and file modes write metrics.json and report.html."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from percept.cli.main import main
from percept.eval import pictures
from percept.eval.disparity import write_disparity_png, write_pfm
from percept.eval.trajectory import TrajectoryEvalConfig, evaluate_trajectory, write_tum

from .bags import write_bags
from .generators import make_pair, random_dataset


def _pictures_ok(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.glob("*.png"))
    for name in names:
        image = cv2.imread(str(folder / name))
        assert image is not None, name
        assert min(image.shape[:2]) > 20, name
    html = (folder / "report.html").read_text()
    for name in names:
        assert f'src="{name}"' in html
    return names


def test_bag_mode_writes_metrics_report_and_pictures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, gt, _ = write_bags(tmp_path, seconds=3.0)
    out = tmp_path / "eval"
    assert main(["eval", str(run), "--gt", str(gt), "--out", str(out), "--align", "4dof"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out / "report.html")
    assert any(line.startswith("ATE rmse (4dof)") for line in lines)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {
        "trajectory",
        "disparity",
        "depth_by_range",
        "detection",
        "occupancy",
        "latency",
        "conditions",
        "worst_frames",
    } <= set(metrics)
    assert metrics["trajectory"]["alignment"]["method"] == "4dof"
    names = _pictures_ok(out)
    for expected in (
        "trajectory_top.png",
        "trajectory_error.png",
        "depth_0.png",
        "detection_0.png",
        "map.png",
        "latency.png",
    ):
        assert expected in names


def test_bag_mode_json_and_topic_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, gt, _ = write_bags(tmp_path, seconds=2.0)
    argv = [
        "eval",
        str(run),
        "--gt",
        str(gt),
        "--json",
        "--topic",
        "map=/elsewhere",
        "--depth-bands",
        "0,3,20",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["depth_by_range"]) == ["source", "0-3m", "3-20m"]
    assert "occupancy" not in doc
    assert "/elsewhere" in doc["skipped"]["occupancy"]


def test_bag_mode_tracking_and_3d_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("motmetrics")
    run, gt, _ = write_bags(tmp_path, seconds=2.0)
    argv = ["eval", str(run), "--gt", str(gt), "--json"]
    argv += ["--gate-3d", "0.15", "--bands-3d", "0,5", "--track-iou", "0.3"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tracking"]["max_iou_distance"] == pytest.approx(0.7)
    d3 = doc["detection_3d"]
    assert d3["gate_m"] == pytest.approx(0.15)
    assert list(d3["by_range"]) == ["0-5m", "5m+"]
    # The test bags lift the objects at 1.5, 3 and 7 m too far by 0.1, 0.2 and 0.4 m:
    # a 0.15 m gate keeps only the nearest object's matches.
    assert d3["by_range"]["0-5m"]["median_m"] == pytest.approx(0.1)
    assert d3["by_range"]["5m+"]["matched"] == 0
    with pytest.raises(SystemExit):
        main([*argv[:5], "--bands-3d", "5,2"])
    with pytest.raises(SystemExit):
        main([*argv[:5], "--track-iou", "1"])


def test_report_draws_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pictures, "_matplotlib", lambda: None)
    run, gt, _ = write_bags(tmp_path, seconds=2.0)
    out = tmp_path / "eval"
    assert main(["--quiet", "eval", str(run), "--gt", str(gt), "--out", str(out)]) == 0
    assert "trajectory_top.png" in _pictures_ok(out)


def test_traj_mode_matches_the_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, est = make_pair(3, seconds=6.0, scale=0.5)
    write_tum(tmp_path / "gt.txt", gt)
    write_tum(tmp_path / "est.txt", est)
    out = tmp_path / "traj"
    argv = [
        "eval",
        "traj",
        str(tmp_path / "est.txt"),
        str(tmp_path / "gt.txt"),
        "--format",
        "tum",
        "--align",
        "sim3",
        "--delta",
        "0.5",
        "--delta-unit",
        "m",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())["trajectory"]
    direct = evaluate_trajectory(
        est, gt, TrajectoryEvalConfig(align="sim3", delta=0.5, delta_unit="m")
    )
    assert metrics["ate_m"]["rmse"] == pytest.approx(direct.ate_m.rmse, abs=1e-9)
    assert metrics["rpe_trans_m"]["rmse"] == pytest.approx(direct.rpe_trans_m.rmse, abs=1e-9)
    assert metrics["alignment"]["scale"] == pytest.approx(2.0, rel=0.02)
    assert {"trajectory_top.png", "trajectory_error.png"} <= set(_pictures_ok(out))
    assert "Sim(3) scale" in capsys.readouterr().out


def test_coco_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc, dets = random_dataset(0, images=6)
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    out = tmp_path / "coco"
    assert (
        main(
            [
                "eval",
                "coco",
                str(tmp_path / "dets.json"),
                str(tmp_path / "gt.json"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())["detection"]
    assert 0.0 < metrics["map"] < 1.0
    assert "mAP@0.5:0.95" in capsys.readouterr().out
    assert any(n.startswith("detection_") for n in _pictures_ok(out))


def test_disparity_mode_pfm_against_scaled_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(5, 60, (40, 50)).round()  # whole pixels: exact in an 8-bit PNG at scale 4
    gt[:5] = np.inf
    write_disparity_png(tmp_path / "gt.png", gt, scale=4.0)
    est = gt + 1.5
    est[10, :] = np.inf
    write_pfm(tmp_path / "est.pfm", est)
    out = tmp_path / "disp"
    argv = [
        "eval",
        "disparity",
        str(tmp_path / "est.pfm"),
        str(tmp_path / "gt.png"),
        "--gt-scale",
        "4",
        "--thresholds",
        "1,2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())["disparity"]
    assert metrics["epe_px"] == pytest.approx(1.5)
    assert metrics["bad_1_valid_pct"] == 100.0
    assert metrics["bad_2_total_pct"] == pytest.approx(100 * 50 / (35 * 50))  # the hole row
    assert "depth_0.png" in _pictures_ok(out)


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "traj", "a.txt", "b.txt"],  # no --format
        ["eval", "coco", "only_one.json"],
        ["eval", "run.mcap", "--topic", "odometry"],
        ["eval", "a.mcap", "b.mcap"],  # several bags need --out
        ["eval", "disparity", "a.pfm", "b.pfm", "--thresholds", "x"],
        ["eval", "traj", "a", "b", "--format", "tum", "--delta", "1.5"],  # frames must be whole
        ["eval", "run.mcap", "--depth-bands", "5,2"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_known_errors_log_one_line_and_exit_1(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["eval", "traj", str(tmp_path / "no.txt"), str(tmp_path / "gt.txt"), "--format", "tum"]
    assert main(argv) == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "no.txt: cannot read TUM file" in errors[0].getMessage()
