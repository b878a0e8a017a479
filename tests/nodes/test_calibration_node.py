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
from percept.runtime.local import LocalRuntime
from percept.runtime.params import resolve_parameters

IMG = "sensor_msgs/msg/Image"
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


def _runtime(**overrides: object) -> LocalRuntime:
    rt = LocalRuntime(publish_diagnostics=False)
    params = resolve_parameters(
        CalibrationNode, "calibration", overrides={"board": BOARD, **overrides}
    )
    rt.add_node(CalibrationNode, params)
    return rt


def _values(rt: LocalRuntime) -> dict[str, str]:
    return dict(rt.host("calibration").diagnostics().values)


def test_mono_node_collects_views_and_writes_on_request(tmp_path: Path) -> None:
    rt = _runtime(output_dir=str(tmp_path / "out"), camera_name="front")
    left, _ = _views()
    colour = [cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) for im in left]
    for i, image in enumerate(colour):
        rt.feed_and_spin(
            "/image",
            IMG,
            (i + 1) * 100_000_000,
            obj=Image(Header((i + 1) * 100_000_000, "cam"), "bgr8", image),
        )
    values = _values(rt)
    assert values["images"] == "12"
    assert values["images_with_board"] == "12"
    assert 6 <= int(values["views"]) <= 12
    assert values["coverage_x"].endswith("%")
    assert rt.set_parameters("calibration", {"write": True}) is None
    name, model = read_camera_info_yaml(tmp_path / "out" / "front.yaml")
    assert name == "front"
    assert abs(model.K[0, 0] / 520.0 - 1) < 0.005
    assert (tmp_path / "out" / "front_report.png").is_file()
    node = rt.host("calibration").node
    assert node.params["write"] is False  # a trigger: it can fire again
    values = _values(rt)
    assert values["written_to"] == str(tmp_path / "out")
    assert float(values["rms_px"]) < 0.2
    # reset forgets the views.
    assert rt.set_parameters("calibration", {"reset": True}) is None
    assert _values(rt)["views"] == "0"


def test_write_with_too_few_views_is_refused_with_the_reason(tmp_path: Path) -> None:
    rt = _runtime(output_dir=str(tmp_path / "out"))
    left, _ = _views()
    for i, image in enumerate(left[:2]):
        rt.feed_and_spin("/image", IMG, i + 1, obj=Image(Header(i + 1, "cam"), "mono8", image))
    noise = np.random.default_rng(0).integers(0, 255, (480, 640), dtype=np.uint8)
    rt.feed_and_spin("/image", IMG, 5, obj=Image(Header(5, "cam"), "mono8", noise))
    assert _values(rt)["last_view"] == "no board found"
    reason = rt.set_parameters("calibration", {"write": True})
    assert reason is not None
    assert "too few views: board found in 2 of 3 images" in reason
    assert not (tmp_path / "out").exists()
    assert "too few views" in _values(rt)["last_error"]


def test_stereo_node_pairs_left_and_right(tmp_path: Path) -> None:
    rt = _runtime(mode="stereo", output_dir=str(tmp_path / "rig"))
    left, right = _views()
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        stamp = (i + 1) * 100_000_000
        rt.feed("/left", IMG, stamp, obj=Image(Header(stamp, "left"), "mono8", a))
        rt.feed_and_spin(
            "/right", IMG, stamp + 1000, obj=Image(Header(stamp + 3_000_000, "right"), "mono8", b)
        )
    assert _values(rt)["images_with_board"] == "12"
    assert rt.set_parameters("calibration", {"write": True}) is None
    _, right_model = read_camera_info_yaml(tmp_path / "rig" / "right.yaml")
    assert right_model.baseline_m == pytest.approx(0.1, rel=0.005)
    assert (tmp_path / "rig" / "stereo_report.png").is_file()


def test_inputs_of_the_other_mode_are_rejected_and_counted() -> None:
    rt = _runtime()
    left, right = _views()
    rt.feed("/left", IMG, 1, obj=Image(Header(1, "left"), "mono8", left[0]))
    rt.feed_and_spin("/right", IMG, 2, obj=Image(Header(1, "right"), "mono8", right[0]))
    monitor = rt.host("calibration").monitor
    assert "node is in mono mode" in monitor.inputs["left"].last_reason


def test_bad_board_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"calibration\.board"):
        _runtime(board="chessboard:9x6")


def test_odd_images_never_break_the_node() -> None:
    rt = _runtime()
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
        rt.feed_and_spin("/image", IMG, k + 1, obj=image)
    host = rt.host("calibration")
    assert host.monitor.errors == 0
    assert _values(rt)["images_with_board"] == "0"
    left, _ = _views()
    rt.feed_and_spin("/image", IMG, 100, obj=Image(Header(100, "cam"), "mono8", left[0]))
    assert _values(rt)["views"] == "1"
