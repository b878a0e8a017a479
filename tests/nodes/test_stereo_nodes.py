"""StereoDepthNode through the local runtime: outputs, remaps, TF and bad input."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from percept import codecs
from percept.benchmark.stereo import benchmark_pair
from percept.domain import CameraInfo, Disparity, Header, Image, PointCloud, TransformStamped
from percept.errors import ConfigError, InputRejected
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.nodes.rectify import StereoRectifyNode
from percept.nodes.stereo_depth import StereoDepthNode, valid_window
from percept.rectify import stereo_rectify
from percept.runtime.local import Envelope
from percept.runtime.robot import load_robot
from percept.stereo import StereoConfig, rectified_pair_models
from percept.testing import NodeHarness
from percept.tools.replay import build_runtime

from .malformed import mutate

W, H, RANGE = 160, 120, 32
F, BASELINE = 120.0, 0.1
IMG = "sensor_msgs/msg/Image"
INFO = "sensor_msgs/msg/CameraInfo"


def rectified_models(
    width: int = W, height: int = H, baseline_m: float = BASELINE
) -> tuple[CameraModel, CameraModel]:
    return rectified_pair_models(width, height, F, baseline_m)


PAIR = benchmark_pair(W, H, RANGE)


def stereo_set(
    stamp: int,
    models: tuple[CameraModel, CameraModel] | None = None,
    images: tuple[npt.NDArray[np.generic], npt.NDArray[np.generic]] | None = None,
    encoding: str = "mono8",
    right_offset_ns: int = 0,
) -> dict[str, object]:
    left_model, right_model = models or rectified_models()
    left, right = images if images is not None else (PAIR[0], PAIR[1])
    lh = Header(stamp, "left_optical")
    rh = Header(stamp + right_offset_ns, "right_optical")
    return {
        "left_image": Image(lh, encoding, left),
        "left_camera_info": CameraInfo(lh, left_model),
        "right_image": Image(rh, encoding, right),
        "right_camera_info": CameraInfo(rh, right_model),
    }


def depth_node(**overrides: object) -> NodeHarness[StereoDepthNode]:
    """StereoDepthNode (disparity_range RANGE unless overridden), outputs read off the wire."""
    return NodeHarness(StereoDepthNode, {"disparity_range": RANGE, **overrides}, wire=True)


def test_disparity_image_carries_f_t_window_and_range_as_stereo_image_proc() -> None:
    g = depth_node()
    g.feed_all(stereo_set(1000))
    disparity = g.last("disparity")
    assert isinstance(disparity, Disparity)
    assert disparity.header == Header(1000, "left_optical")
    assert disparity.focal_length_px == pytest.approx(F)
    assert disparity.baseline_m == pytest.approx(BASELINE)
    assert (disparity.min_disparity, disparity.max_disparity) == (0.0, RANGE - 1.0)
    assert disparity.delta_d == pytest.approx(1 / 16)
    assert disparity.valid_window == valid_window(W, H, StereoConfig(disparity_range=RANGE))
    assert disparity.valid_window == (2, 2, W - 5, H - 5)
    image = disparity.image
    assert image.shape == (H, W)
    assert image.dtype == np.float32
    valid = image >= disparity.min_disparity
    # Invalid pixels hold min_disparity - 1 (below the range, as OpenCV marks them).
    assert set(np.unique(image[~valid]).tolist()) <= {-1.0}
    truth = PAIR[2]
    assert valid.mean() > 0.9
    assert np.median(np.abs(image - truth)[valid]) < 0.2


def test_depth_and_cloud_come_from_the_same_disparity() -> None:
    g = depth_node()
    g.feed_all(stereo_set(2000))
    disparity, depth, info, cloud = (
        g.last(n) for n in ("disparity", "depth", "depth_camera_info", "points")
    )
    assert isinstance(disparity, Disparity)
    assert isinstance(depth, Image)
    assert isinstance(info, CameraInfo)
    assert isinstance(cloud, PointCloud)
    assert depth.encoding == "32FC1"
    valid = disparity.image >= disparity.min_disparity
    expected = np.float32(F * BASELINE) / disparity.image[valid]
    np.testing.assert_allclose(depth.data[valid], expected, rtol=1e-6)
    assert np.isnan(depth.data[~valid]).all()
    np.testing.assert_array_equal(info.model.K, info.model.P[:, :3])
    assert info.header == depth.header
    assert cloud.points.shape == (H, W)
    assert not cloud.is_dense
    np.testing.assert_array_equal(cloud.xyz()[..., 2], depth.data)
    grey = codecs.unpack_rgb(cloud)
    np.testing.assert_array_equal(grey[..., 0], PAIR[0])


def test_verged_cameras_shift_disparity_by_the_principal_point_offset() -> None:
    # DisparityImage: d = x_l - x_r - (cx_l - cx_r), so that Z = f * t / d still holds.
    left, right = rectified_models()
    P = right.P.copy()
    P[0, 2] += 4.0  # cx_right = cx_left + 4
    g = depth_node()
    g.feed_all(stereo_set(1, (left, replace(right, P=P, K=P[:, :3]))))
    disparity, depth = g.last("disparity"), g.last("depth")
    assert isinstance(disparity, Disparity)
    assert isinstance(depth, Image)
    assert (disparity.min_disparity, disparity.max_disparity) == (4.0, RANGE + 3.0)
    valid = disparity.image >= disparity.min_disparity
    matched = PAIR[2][valid]  # x_l - x_r of the pair
    assert np.median(np.abs(disparity.image[valid] - (matched + 4.0))) < 0.2
    np.testing.assert_allclose(
        depth.data[valid], np.float32(F * BASELINE) / disparity.image[valid], rtol=1e-6
    )


def test_outputs_can_be_switched_off_and_clouds_made_dense() -> None:
    g = depth_node(publish_depth=False, organized_cloud=False, use_color=False)
    g.feed_all(stereo_set(3000))
    assert g.count("depth") == 0
    assert g.count("depth_camera_info") == 0
    cloud = g.last("points")
    assert isinstance(cloud, PointCloud)
    assert cloud.points.ndim == 1
    assert cloud.is_dense
    assert cloud.points.dtype.names == ("x", "y", "z")
    assert np.isfinite(cloud.xyz()).all()
    g2 = depth_node(publish_points=False, publish_disparity=False)
    g2.feed_all(stereo_set(3000))
    assert (g2.count("points"), g2.count("disparity"), g2.count("depth")) == (0, 0, 1)


def test_colour_images_are_matched_in_grey_and_colour_the_cloud() -> None:
    rng = np.random.default_rng(0)
    tint = rng.integers(0, 256, 3, dtype=np.uint8)
    left = np.dstack([PAIR[0] // 2 + tint[i] // 2 for i in range(3)]).astype(np.uint8)
    right = np.dstack([PAIR[1] // 2 + tint[i] // 2 for i in range(3)]).astype(np.uint8)
    g = depth_node()
    g.feed_all(stereo_set(1, images=(left, right), encoding="bgr8"))
    cloud = g.last("points")
    assert isinstance(cloud, PointCloud)
    np.testing.assert_array_equal(codecs.unpack_rgb(cloud), left[..., ::-1])


def test_points_go_to_the_target_frame_through_tf() -> None:
    g = depth_node(target_frame_id="base_link")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [-90, 0, -90], degrees=True).as_matrix()
    T[:3, 3] = [0.2, 0.0, 0.5]
    tf = (TransformStamped(Header(0, "base_link"), "left_optical", Pose.from_matrix(T)),)
    g.feed_all(stereo_set(1000))
    assert "tf: no T_base_link_left_optical" in g.rejections()["left_image"].last_reason
    g.feed_transforms(tf, g.now_ns)
    g.feed_all(stereo_set(2000))
    cloud = g.last("points")
    depth = g.last("depth")
    assert isinstance(cloud, PointCloud)
    assert isinstance(depth, Image)
    assert cloud.header.frame_id == "base_link"
    xyz = cloud.xyz()
    ok = np.isfinite(depth.data)
    # Optical z (forward) becomes base_link x, shifted by the mount.
    np.testing.assert_allclose(xyz[..., 0][ok], depth.data[ok] + 0.2, rtol=1e-5)


def test_downscale_and_fill_parameters_change_the_published_disparity() -> None:
    g = depth_node(downscale=2)
    g.feed_all(stereo_set(1))
    disparity = g.last("disparity")
    assert isinstance(disparity, Disparity)
    assert disparity.delta_d == pytest.approx(1 / 8)
    assert disparity.image.shape == (H, W)


def test_parameter_changes_that_do_not_go_together_are_refused() -> None:
    g = depth_node()
    reason = g.set_parameters({"disparity_range": 40})
    assert reason is not None
    assert "disparity_range must be a positive multiple of 16, got 40" in reason
    assert g.set_parameters({"P1": 900.0}) is not None  # P2 is 800
    assert g.set_parameters({"disparity_range": 48}) is None
    g.feed_all(stereo_set(1))
    disparity = g.last("disparity")
    assert isinstance(disparity, Disparity)
    assert disparity.max_disparity == 47.0


def test_bad_configuration_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match="correlation_window_size must be odd"):
        NodeHarness(StereoDepthNode, {"correlation_window_size": 6})


# ----------------------------------------------------------------- bad input (Must show 5)

LEFT, RIGHT = rectified_models()
RAW_R = Rotation.from_rotvec([0.01, -0.02, 0.0]).as_matrix()
BAD = [
    (
        "sizes differ",
        {"images": (PAIR[0], PAIR[1][:, :150])},
        r"left/image_rect is 160x120 but right/image_rect is 150x120",
    ),
    (
        "image vs camera_info",
        {"models": rectified_models(200, 120)},
        r"left/image_rect is 160x120 but left/camera_info says 200x120",
    ),
    (
        "raw camera_info (R not I)",
        {"models": (replace(LEFT, R=RAW_R), RIGHT)},
        r"left/camera_info is not of rectified images: R is not the identity .*"
        r"left/camera_info_rect",
    ),
    (
        "no baseline",
        {"models": (LEFT, LEFT)},
        r"right/camera_info P has no baseline \(P\[0\]\[3\] = 0\)",
    ),
    ("swapped", {"models": (RIGHT, LEFT)}, "negative baseline .* are left and right swapped"),
    (
        "all black",
        {"images": (np.zeros((H, W), np.uint8), PAIR[1])},
        r"left/image_rect is all black: nothing to match",
    ),
    (
        "constant",
        {"images": (PAIR[0], np.full((H, W), 90, np.uint8))},
        r"right/image_rect is one grey level \(90\) everywhere",
    ),
    ("bayer", {"encoding": "bayer_rggb8"}, "Bayer mosaic; debayer and rectify it"),
    (
        "float image",
        {"images": (PAIR[0].astype(np.float32), PAIR[1].astype(np.float32)), "encoding": "32FC1"},
        "encoding 32FC1 cannot be matched",
    ),
]


@pytest.mark.parametrize(("case", "bad", "reason"), BAD, ids=[b[0] for b in BAD])
def test_stereo_depth_rejects_bad_input_and_serves_the_next_pair(
    case: str, bad: dict[str, object], reason: str
) -> None:
    g = depth_node()
    g.feed_all(stereo_set(1000, **bad))  # type: ignore[arg-type]
    assert g.count("disparity") == 0, case
    reasons = [r for count, r in g.rejections().values() if count]
    assert len(reasons) == 1, case
    assert re.search(reason, reasons[0]), reasons
    assert g.errors == 0
    g.feed_all(stereo_set(2000))
    assert g.count("disparity") == 1


def test_unsynchronised_pairs_make_no_set_and_diagnostics_say_why() -> None:
    exact = depth_node()
    approx = depth_node(approximate_sync=True, approximate_sync_tolerance_seconds=0.005)
    loose = depth_node(approximate_sync=True, approximate_sync_tolerance_seconds=0.1)
    for g in (exact, approx, loose):
        for i in range(1, 6):  # 10 Hz for half a second, received when stamped
            stamp = 100_000_000 * i
            g.feed_all(stereo_set(stamp, right_offset_ns=50_000_000), stamp)
    assert exact.count("disparity") == 0
    assert approx.count("disparity") == 0
    assert loose.count("disparity") == 5  # within the tolerance the approximate policy pairs them
    # Three seconds on, the synchroniser's stall check names the offsets it sees.
    for i in range(6, 31):
        stamp = 100_000_000 * i
        exact.feed_all(stereo_set(stamp, right_offset_ns=50_000_000), stamp)
    message = exact.diagnostics().message
    assert "arrive but produced no set" in message
    assert "right_image +50.0 ms" in message


def test_a_set_delivered_out_of_sync_is_rejected_with_the_offset() -> None:
    # What an external synchroniser (message_filters) could deliver: the node checks too.
    g = depth_node()
    objs = stereo_set(1_000_000_000, right_offset_ns=20_000_000)
    node = g.host.node
    assert isinstance(node, StereoDepthNode)
    with pytest.raises(InputRejected, match=r"unsynchronised set: right/image_rect is \+20.000 ms"):
        node.on_stereo(*objs.values())  # type: ignore[arg-type]


def test_robot_file_remaps_stereo_rectify_outputs_into_stereo_depth(
    tmp_path: Path, repo_root: Path
) -> None:
    # A raw pair with a stereo calibration, as a camera driver publishes it.
    K = np.array([[F, 0.0, 79.5], [0.0, F, 59.5], [0.0, 0.0, 1.0]])
    D = np.array([-0.05, 0.01, 0.0, 0.0, 0.0])
    raw_left = CameraModel(W, H, "plumb_bob", K, D)
    raw_right = CameraModel(W, H, "plumb_bob", K, D * 0.9)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec([0.0, 0.003, 0.002]).as_matrix()
    T[:3, 3] = [-BASELINE, 0.0, 0.0]
    cal_left, cal_right = stereo_rectify(raw_left, raw_right, Pose.from_matrix(T), alpha=0.0)
    robots = tmp_path / "config" / "robots"
    robots.mkdir(parents=True)
    remapped = robots / "remapped.yaml"
    remapped.write_text(
        "robot: remapped\nnodes:\n  - type: stereo_rectify\n    namespace: stereo\n"
        "  - type: stereo_depth\n    namespace: stereo\n"
        "    parameters: {disparity_range: 32, publish_points: false}\n"
        "    remappings:\n      left/camera_info: left/camera_info_rect\n"
        "      right/camera_info: right/camera_info_rect\n",
        encoding="utf-8",
    )
    plain = robots / "plain.yaml"
    plain.write_text(remapped.read_text().split("    remappings:")[0], encoding="utf-8")
    results = {}
    for path in (remapped, plain):
        runtime = build_runtime(load_robot(path, config_root=repo_root), diagnostics=False)
        got: list[Envelope] = []
        runtime.subscribe("/stereo/disparity", got.append)
        lh, rh = Header(5, "left_optical"), Header(5, "right_optical")
        for topic, msgtype, obj in (
            ("/stereo/left/image_raw", IMG, Image(lh, "mono8", PAIR[0])),
            ("/stereo/left/camera_info", INFO, CameraInfo(lh, cal_left)),
            ("/stereo/right/image_raw", IMG, Image(rh, "mono8", PAIR[1])),
            ("/stereo/right/camera_info", INFO, CameraInfo(rh, cal_right)),
        ):
            runtime.feed_and_spin(topic, msgtype, 5, obj=obj)
        depth_host = runtime.host("stereo_depth")
        assert depth_host.topics["left_camera_info"].startswith("/stereo/left/camera_info")
        results[path.stem] = (len(got), depth_host.monitor.inputs["left_image"].last_reason)
    assert results["remapped"] == (1, "")
    # Without the remap the node reads the raw camera_info (R != I) and says what to do.
    assert results["plain"][0] == 0
    assert "use the camera_info of image_rect (left/camera_info_rect" in results["plain"][1]


def test_stereo_depth_survives_1000_malformed_messages() -> None:
    rng = np.random.default_rng(5)
    small = benchmark_pair(64, 48, 16)
    models = rectified_models(64, 48)
    g = depth_node(disparity_range=16)
    factory = RosbagsFactory(get_typestore())
    names = [spec.name for spec in StereoDepthNode.INPUTS]
    served = 0
    for i in range(1000):
        stamp = 1000 * (i + 1)
        good = {
            k: codecs.encode(IMG if "image" in k else INFO, v, factory)
            for k, v in stereo_set(stamp, models, (small[0], small[1])).items()
        }
        target = names[i % 4]
        g.feed(target, mutate(good[target], rng), g.now_ns)
        before = g.count("disparity")
        g.feed_all(good)
        served += g.count("disparity") - before
    assert g.errors == 0
    assert served >= 900
    assert sum(count for count, _ in g.rejections().values()) >= 400


def test_stereo_rectify_output_feeds_stereo_depth_in_one_runtime() -> None:
    # The rectified camera_infos stereo_rectify publishes are what stereo_depth accepts.
    rect = NodeHarness(StereoRectifyNode, wire=True)
    left, right = rectified_models()
    rect.feed_all(stereo_set(7, (left, right)))
    g = depth_node()
    g.feed_all(
        {
            "left_image": rect.last("left_image_rect"),
            "left_camera_info": rect.last("left_camera_info_rect"),
            "right_image": rect.last("right_image_rect"),
            "right_camera_info": rect.last("right_camera_info_rect"),
        }
    )
    assert g.count("disparity") == 1
