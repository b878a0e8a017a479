"""``percept calibrate``: folders and bags in, calibration files out, clear failures."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from percept import codecs
from percept.calib.yaml_io import read_camera_info_yaml
from percept.cli.main import main
from percept.domain import Header, Image
from percept.io.bag import BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore

from .calib_views import CAMERAS, render_views, rendered

BOARD_ARG = "chessboard:9x6:0.03"


def _write_images(folder: Path, images: list[np.ndarray], prefix: str = "img") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{prefix}{i:02d}.png"), image)
    return folder


def _calibrate_args(mode: str, out: Path, *options: str, board: str = BOARD_ARG) -> list[str]:
    """Arguments of ``percept calibrate MODE`` writing to ``out``, with ``options``."""
    return ["calibrate", mode, "--board", board, "--out", str(out), *options]


def _mono_args(images: Path, out: Path, *options: str, board: str = BOARD_ARG) -> list[str]:
    """Arguments of ``percept calibrate mono`` of a folder of images."""
    return _calibrate_args("mono", out, "--images", str(images), *options, board=board)


def _main_logging_errors(args: list[str], caplog: pytest.LogCaptureFixture) -> int:
    """``main(args)`` with the errors it logs captured in ``caplog``."""
    with caplog.at_level(logging.ERROR):
        return main(args)


def test_mono_from_a_folder_writes_yaml_report_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write_images(tmp_path / "shots", rendered("plumb_bob").left)
    out = tmp_path / "calibration" / "bot"
    status = main(_mono_args(folder, out, "--name", "front"))
    assert status == 0
    printed = capsys.readouterr().out
    assert "front: RMS" in printed
    name, model = read_camera_info_yaml(out / "front.yaml")
    assert name == "front"
    assert abs(model.K[0, 0] / CAMERAS["plumb_bob"].K[0, 0] - 1) < 0.005
    report = cv2.imread(str(out / "front_report.png"))
    assert report is not None
    assert report.shape[1] == 960
    summary = json.loads((out / "front_calibration.json").read_text())
    assert summary["views_used"] >= 6
    assert summary["images"] == 14
    # The calibration passes a check on fresh views, and fails an impossible threshold.
    fresh = _write_images(
        tmp_path / "fresh", render_views(CAMERAS["plumb_bob"], 5, 21, stereo=False).left
    )
    check = [
        "calibrate",
        "check",
        "--calib",
        str(out),
        "--name",
        "front",
        "--images",
        str(fresh),
        "--board",
        BOARD_ARG,
    ]
    assert main(check) == 0
    assert "PASS" in capsys.readouterr().out
    assert main([*check, "--max-rms-px", "0.001"]) == 1
    assert "failed: " in capsys.readouterr().out


def test_stereo_from_the_opencv_folder_and_check(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = data_dir / "opencv_stereo_chessboard"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    out = tmp_path / "calib"
    args = ["calibrate", "stereo", "--images", str(folder), "--board", "chessboard:9x6:0.025"]
    assert main([*args, "--out", str(out)]) == 0
    assert "baseline 0.083" in capsys.readouterr().out
    _, left = read_camera_info_yaml(out / "left.yaml")
    _, right = read_camera_info_yaml(out / "right.yaml")
    assert right.baseline_m == pytest.approx(0.0832, abs=0.001)
    assert left.baseline_m == 0.0
    assert (out / "stereo_report.png").is_file()
    check = [
        "calibrate",
        "check",
        "--calib",
        str(out),
        "--images",
        str(folder),
        "--board",
        "chessboard:9x6:0.025",
    ]
    assert main(check) == 0
    assert "epipolar_rms_px" in capsys.readouterr().out


def test_folder_without_a_board_fails_with_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (120, 160), dtype=np.uint8) for _ in range(5)]
    folder = _write_images(tmp_path / "noise", noise)
    status = _main_logging_errors(_mono_args(folder, tmp_path / "o"), caplog)
    assert status == 1
    assert "no board found in any of 5 images" in caplog.text
    assert not (tmp_path / "o").exists()


def test_too_few_views_fail(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    images = [*rendered("plumb_bob").left[:3], rng.integers(0, 255, (480, 640), dtype=np.uint8)]
    folder = _write_images(tmp_path / "few", images)
    status = _main_logging_errors(_mono_args(folder, tmp_path / "o"), caplog)
    assert status == 1
    assert "too few views: board found in 3 of 4 images" in caplog.text


def test_degenerate_coverage_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    flat = render_views(CAMERAS["plumb_bob"], 8, 3, stereo=False, max_tilt_deg=0.0).left
    folder = _write_images(tmp_path / "flat", flat)
    status = _main_logging_errors(_mono_args(folder, tmp_path / "o", "--min-distance", "0"), caplog)
    assert status == 1
    assert "degenerate coverage" in caplog.text


def test_bad_arguments_fail_with_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert main(_mono_args(tmp_path / "none", tmp_path)) == 1
        assert main(_mono_args(tmp_path, tmp_path, board="chess:9x6")) == 1
    assert "no such image folder" in caplog.text
    assert "expected chessboard:COLSxROWS:SQUARE_M" in caplog.text


def _stereo_bag(path: Path) -> Path:
    views = rendered("equidistant")
    store = get_typestore()
    factory = RosbagsFactory(store)
    msgtype = "sensor_msgs/msg/Image"
    with BagWriter(path, overwrite=True) as writer:
        for i, (left, right) in enumerate(zip(views.left, views.right, strict=True)):
            stamp = 1_700_000_000_000_000_000 + i * 100_000_000
            # The right camera's stamp is 2 ms late: paired within the slop.
            for topic, image, t in (
                ("/left/image_raw", left, stamp),
                ("/right/image_raw", right, stamp + 2_000_000),
            ):
                msg = codecs.encode(msgtype, Image(Header(t, topic[1:5]), "mono8", image), factory)
                writer.write(topic, msgtype, t, bytes(store.serialize_cdr(msg, msgtype)))
    return path


def test_fisheye_stereo_from_a_bag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = _stereo_bag(tmp_path / "calib.mcap")
    out = tmp_path / "fisheye"
    status = main(
        _calibrate_args(
            "stereo",
            out,
            "--bag",
            str(bag),
            "--topics",
            "/left/image_raw",
            "/right/image_raw",
            "--model",
            "fisheye",
        )
    )
    assert status == 0
    assert "baseline 0.120" in capsys.readouterr().out
    _, left = read_camera_info_yaml(out / "left.yaml")
    assert left.distortion_model == "equidistant"
    assert left.D.shape == (4,)
    # Mono from one topic of the same bag; a topic that is not there is named.
    mono = _calibrate_args("mono", tmp_path / "m", "--bag", str(bag), "--topics")
    assert main([*mono, "/left/image_raw", "--model", "fisheye"]) == 0
    assert main([*mono, "/cam/image"]) == 1
