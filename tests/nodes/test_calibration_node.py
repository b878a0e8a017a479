"""CalibrationNode through the local runtime: collect rendered views, write on request."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from percept.calib.render import (
    chessboard_texture,
    random_board_poses,
    render_plane,
    texture_size_m,
)
from percept.calib.yaml_io import read_camera_info_yaml
from percept.domain import Header, Image
from percept.errors import ConfigError
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.nodes.calibration import CalibrationNode
from percept.testing import NodeHarness

CAMERA = CameraModel(
    640, 480, "plumb_bob", [[520.0, 0, 322.0], [0, 515.0, 238.0], [0, 0, 1]], [-0.2, 0.05, 0, 0, 0]
)
BOARD = "chessboard:9x6:0.03"


@functools.lru_cache(maxsize=1)
def _views() -> tuple[list[npt.NDArray[np.uint8]], list[npt.NDArray[np.uint8]]]:
    texture, _ = chessboard_texture(9, 6, 32)
    size_m = texture_size_m(texture, 32, 0.03)
    T_rl = np.eye(4)
    T_rl[0, 3] = -0.1
    poses = random_board_poses(12, np.random.default_rng(7), CAMERA, size_m, keep_out=[T_rl])
    left = [render_plane(texture, size_m, p, CAMERA) for p in poses]
    right = [
        render_plane(texture, size_m, Pose.from_matrix(T_rl @ p.as_matrix()), CAMERA) for p in poses
    ]
    return left, right


def _calibration(**overrides: object) -> NodeHarness[CalibrationNode]:
    return NodeHarness(CalibrationNode, {"board": BOARD, **overrides})


def test_mono_node_collects_views_and_writes_on_request(tmp_path: Path) -> None:
    h = _calibration(output_dir=str(tmp_path / "out"), camera_name="front")
    left, _ = _views()
    colour = [cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) for im in left]
    for i, image in enumerate(colour):
        stamp = (i + 1) * 100_000_000
        h.feed("image", Image(Header(stamp, "cam"), "bgr8", image), stamp)
    values = h.diagnostic_values()
    assert values["images"] == "12"
    assert values["images_with_board"] == "12"
    assert 6 <= int(values["views"]) <= 12
    assert values["coverage_x"].endswith("%")
    assert h.set_parameters({"write": True}) is None
    name, model = read_camera_info_yaml(tmp_path / "out" / "front.yaml")
    assert name == "front"
    assert abs(model.K[0, 0] / 520.0 - 1) < 0.005
    assert (tmp_path / "out" / "front_report.png").is_file()
    node = h.node
    assert node.params["write"] is False  # a trigger: it can fire again
    values = h.diagnostic_values()
    assert values["written_to"] == str(tmp_path / "out")
    assert float(values["rms_px"]) < 0.2
    # reset forgets the views.
    assert h.set_parameters({"reset": True}) is None
    assert h.diagnostic_values()["views"] == "0"


def test_write_with_too_few_views_is_refused_with_the_reason(tmp_path: Path) -> None:
    h = _calibration(output_dir=str(tmp_path / "out"))
    left, _ = _views()
    for i, image in enumerate(left[:2]):
        h.feed("image", Image(Header(i + 1, "cam"), "mono8", image), i + 1)
    noise = np.random.default_rng(0).integers(0, 255, (480, 640), dtype=np.uint8)
    h.feed("image", Image(Header(5, "cam"), "mono8", noise), 5)
    assert h.diagnostic_values()["last_view"] == "no board found"
    reason = h.set_parameters({"write": True})
    assert reason is not None
    assert "too few views: board found in 2 of 3 images" in reason
    assert not (tmp_path / "out").exists()
    assert "too few views" in h.diagnostic_values()["last_error"]


def test_stereo_node_pairs_left_and_right(tmp_path: Path) -> None:
    h = _calibration(mode="stereo", output_dir=str(tmp_path / "rig"))
    left, right = _views()
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        stamp = (i + 1) * 100_000_000
        h.feed("left", Image(Header(stamp, "left"), "mono8", a), stamp, spin=False)
        h.feed("right", Image(Header(stamp + 3_000_000, "right"), "mono8", b), stamp + 1000)
    assert h.diagnostic_values()["images_with_board"] == "12"
    assert h.set_parameters({"write": True}) is None
    _, right_model = read_camera_info_yaml(tmp_path / "rig" / "right.yaml")
    assert right_model.baseline_m == pytest.approx(0.1, rel=0.005)
    assert (tmp_path / "rig" / "stereo_report.png").is_file()


def test_inputs_of_the_other_mode_are_rejected_and_counted() -> None:
    h = _calibration()
    left, right = _views()
    h.feed("left", Image(Header(1, "left"), "mono8", left[0]), 1, spin=False)
    h.feed("right", Image(Header(1, "right"), "mono8", right[0]), 2)
    assert "node is in mono mode" in h.rejections()["left"].last_reason


def test_bad_board_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"calibration\.board"):
        _calibration(board="chessboard:9x6")


def test_odd_images_never_break_the_node() -> None:
    h = _calibration()
    rng = np.random.default_rng(3)
    odd = [
        Image(Header(1, "cam"), "mono8", np.zeros((1, 1), np.uint8)),
        Image(Header(2, "cam"), "32FC1", np.full((48, 64), np.nan, np.float32)),
        Image(Header(3, "cam"), "mono16", rng.integers(0, 65535, (48, 64), dtype=np.uint16)),
        Image(Header(4, "cam"), "bgra8", rng.integers(0, 255, (48, 64, 4), dtype=np.uint8)),
        Image(Header(5, "cam"), "bayer_rggb8", rng.integers(0, 255, (48, 64), dtype=np.uint8)),
        Image(Header(6, "cam"), "rgb8", np.zeros((3, 2, 3), np.uint8)),
    ]
    for k, image in enumerate(odd):
        h.feed("image", image, k + 1)
    assert h.errors == 0
    assert h.diagnostic_values()["images_with_board"] == "0"
    left, _ = _views()
    h.feed("image", Image(Header(100, "cam"), "mono8", left[0]), 100)
    assert h.diagnostic_values()["views"] == "1"
