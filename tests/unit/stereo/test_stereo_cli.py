"""``percept stereo``: one pair through the node's code path, PFM and PLY out, clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.benchmark.stereo import benchmark_pair
from percept.calib.yaml_io import write_camera_info_yaml
from percept.cli.main import main
from percept.eval.disparity import read_pfm
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.rectify import compute_rectify_maps, rectify_image, stereo_rectify
from percept.stereo import StereoConfig, StereoProcessor

W, H, RANGE = 160, 120, 32


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pair")
    left, right, _ = benchmark_pair(W, H, RANGE)
    cv2.imwrite(str(root / "left.png"), left)
    cv2.imwrite(str(root / "right.png"), right)
    return root / "left.png", root / "right.png"


def test_stereo_writes_the_disparity_the_processor_computes(
    tmp_path: Path, pair_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d" / "disp.pfm"
    status = main(
        ["stereo", *map(str, pair_files), "--set", f"disparity_range={RANGE}", "--out", str(out)]
    )
    assert status == 0
    assert "160x120 disparity" in capsys.readouterr().out
    written = read_pfm(out)
    left = cv2.imread(str(pair_files[0]), cv2.IMREAD_GRAYSCALE)
    right = cv2.imread(str(pair_files[1]), cv2.IMREAD_GRAYSCALE)
    expected = StereoProcessor(StereoConfig(disparity_range=RANGE)).compute(left, right)
    np.testing.assert_array_equal(np.isfinite(written), expected.matched)  # Inf = none
    np.testing.assert_array_equal(written[expected.matched], expected.disparity[expected.matched])


def test_stereo_rectifies_with_a_calibration_and_writes_a_cloud_open3d_reads(
    tmp_path: Path, pair_files: tuple[Path, Path]
) -> None:
    o3d = pytest.importorskip("open3d")
    # The pair stands in for raw images of a calibrated, distorted rig: the graph must
    # rectify them with the calibration's R and P before matching.
    K = np.array([[140.0, 0.0, 79.5], [0.0, 140.0, 59.5], [0.0, 0.0, 1.0]])
    D = np.array([-0.08, 0.01, 0.0, 0.0, 0.0])
    raw_left, raw_right = CameraModel(W, H, "plumb_bob", K, D), CameraModel(W, H, "plumb_bob", K, D)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec([0.0, 0.004, 0.0]).as_matrix()
    T[:3, 3] = [-0.1, 0.0, 0.0]
    cal_left, cal_right = stereo_rectify(raw_left, raw_right, Pose.from_matrix(T), alpha=0.0)
    calib = tmp_path / "calib"
    write_camera_info_yaml(calib / "left.yaml", cal_left, "left")
    write_camera_info_yaml(calib / "right.yaml", cal_right, "right")
    cloud_path = tmp_path / "cloud.ply"
    status = main(
        [
            "stereo",
            *map(str, pair_files),
            "--calib",
            str(calib),
            "--set",
            f"disparity_range={RANGE}",
            "--out",
            str(tmp_path / "disp.pfm"),
            "--cloud",
            str(cloud_path),
        ]
    )
    assert status == 0
    disparity = read_pfm(tmp_path / "disp.pfm")
    # What stereo_rectify does to the images first, then the same matcher.
    images = [
        rectify_image(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), compute_rectify_maps(m))
        for p, m in zip(pair_files, (cal_left, cal_right), strict=True)
    ]
    expected = StereoProcessor(StereoConfig(disparity_range=RANGE)).compute(*images)
    np.testing.assert_array_equal(np.isfinite(disparity), expected.matched)
    cloud = o3d.io.read_point_cloud(str(cloud_path))
    points = np.asarray(cloud.points)
    assert points.shape == (int(expected.matched.sum()), 3)
    f, baseline = cal_right.P[0, 0], -cal_right.P[0, 3] / cal_right.P[0, 0]
    z = np.sort(points[:, 2])
    np.testing.assert_allclose(
        z, np.sort(f * baseline / disparity[np.isfinite(disparity)]), rtol=1e-5
    )
    assert len(cloud.colors) == len(cloud.points)


def test_stereo_cloud_without_calibration_fails_with_one_line(
    tmp_path: Path, pair_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        status = main(
            ["stereo", *map(str, pair_files), "--out", str(tmp_path / "d.pfm"), "--cloud", "c.ply"]
        )
    assert status == 1
    assert "a point cloud needs --calib" in caplog.text


def test_stereo_bad_parameter_file_names_the_file_and_key(
    tmp_path: Path, pair_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    params = tmp_path / "stereo.yaml"
    params.write_text("/**:\n  ros__parameters:\n    disparity_range: 70.0\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        status = main(
            [
                "stereo",
                *map(str, pair_files),
                "--params",
                str(params),
                "--out",
                str(tmp_path / "d.pfm"),
            ]
        )
    assert status == 1
    assert f"{params}: /**.ros__parameters.disparity_range must be integer" in caplog.text


def test_stereo_reports_why_the_node_rejected_the_pair(
    tmp_path: Path, pair_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    black = tmp_path / "black.png"
    cv2.imwrite(str(black), np.zeros((H, W), np.uint8))
    with caplog.at_level(logging.ERROR):
        status = main(["stereo", str(black), str(pair_files[1]), "--out", str(tmp_path / "d.pfm")])
    assert status == 1
    assert "left/image_rect is all black" in caplog.text
    with caplog.at_level(logging.ERROR):
        status = main(["stereo", "nope.png", str(pair_files[1]), "--out", str(tmp_path / "d.pfm")])
    assert status == 1
    assert "nope.png: cannot read image" in caplog.text
