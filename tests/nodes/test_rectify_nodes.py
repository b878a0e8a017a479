"""RectifyNode and StereoRectifyNode through the local runtime, on synthetic input."""

from __future__ import annotations

import re
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from percept import codecs
from percept.calib.render import render_plane
from percept.domain import CameraInfo, Header, Image, TransformStamped
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.nodes.rectify import RectifyNode, StereoRectifyNode
from percept.rectify import compute_rectify_maps, rectify_image, stereo_rectify
from percept.testing import NodeHarness

from .malformed import mutate

IMG = "sensor_msgs/msg/Image"
INFO = "sensor_msgs/msg/CameraInfo"
W, H = 64, 48
K = np.array([[60.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
D = np.array([-0.3, 0.08, 0.001, -0.001, 0.0])


def mono_model(D: npt.ArrayLike = D, **changes: object) -> CameraModel:
    model = CameraModel(W, H, "plumb_bob", K, D, np.eye(3), np.hstack([K, np.zeros((3, 1))]))
    return replace(model, **changes)  # type: ignore[arg-type]


def pose(rotvec: list[float], t: list[float]) -> Pose:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = t
    return Pose.from_matrix(T)


T_RIGHT_LEFT = pose([0.01, -0.03, 0.02], [-0.1, 0.002, 0.001])


def stereo_models() -> tuple[CameraModel, CameraModel]:
    right = CameraModel(W, H, "plumb_bob", K + np.diag([1.0, -1.0, 0]), D * 0.9)
    return stereo_rectify(CameraModel(W, H, "plumb_bob", K, D), right, T_RIGHT_LEFT)


def noise(shape: tuple[int, ...], seed: int = 0) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 1.5)


def mono_pair(
    stamp: int, model: CameraModel, data: npt.NDArray[np.generic], encoding: str = "mono8"
) -> dict[str, object]:
    header = Header(stamp, "camera_optical")
    return {"image": Image(header, encoding, data), "camera_info": CameraInfo(header, model)}


@pytest.mark.parametrize(("encoding", "shape"), [("mono8", (H, W)), ("bgr8", (H, W, 3))])
def test_rectify_publishes_image_rect_in_the_input_encoding(
    encoding: str, shape: tuple[int, ...]
) -> None:
    g = NodeHarness(RectifyNode)
    data = noise(shape)
    g.feed_all(mono_pair(5, mono_model(), data, encoding))
    out = g.last("image_rect")
    info = g.last("camera_info_rect")
    assert isinstance(out, Image)
    assert isinstance(info, CameraInfo)
    assert out.encoding == encoding
    assert out.header == Header(5, "camera_optical")
    np.testing.assert_array_equal(out.data, rectify_image(data, compute_rectify_maps(mono_model())))
    np.testing.assert_array_equal(info.model.K, mono_model().P[:, :3])
    np.testing.assert_array_equal(info.model.D, np.zeros(5))
    np.testing.assert_array_equal(info.model.R, np.eye(3))
    assert info.header.stamp_ns == 5


def test_rectify_float_image_gets_nan_outside_the_raw_image() -> None:
    g = NodeHarness(RectifyNode, {"alpha": 1.0})
    g.feed_all(mono_pair(1, mono_model(), np.ones((H, W), np.float32), "32FC1"))
    out = g.last("image_rect")
    assert isinstance(out, Image)
    assert out.data.dtype == np.float32
    assert np.isnan(out.data).any()
    assert np.nanmin(out.data) == pytest.approx(1.0)


def test_rectify_passes_undistorted_images_through_without_a_copy() -> None:
    g = NodeHarness(RectifyNode)
    data = noise((H, W))
    g.feed_all(mono_pair(1, mono_model(D=np.zeros(5)), data))
    out = g.last("image_rect")
    assert isinstance(out, Image)
    assert out.data is data


def test_rectify_computes_maps_once_and_again_when_camera_info_changes() -> None:
    g = NodeHarness(RectifyNode)
    node = g.host.node
    assert isinstance(node, RectifyNode)
    for stamp in range(1, 6):
        # Every camera_info is a new object with the same values, as decoded messages are.
        g.feed_all(mono_pair(stamp, mono_model(), noise((H, W), stamp)))
    assert len(g.outputs("image_rect")) == 5
    assert node.rectifier.computed == 1
    g.feed_all(mono_pair(6, mono_model(D=D * 0.5), noise((H, W))))
    g.feed_all(mono_pair(7, mono_model(D=D * 0.5), noise((H, W))))
    assert node.rectifier.computed == 2
    assert ("maps_computed", "2") in g.diagnostics().values
    # A parameter change rebuilds the maps too (interpolation is baked into them).
    assert g.set_parameters({"interpolation": 0}) is None
    g.feed_all(mono_pair(8, mono_model(D=D * 0.5), noise((H, W))))
    assert node.rectifier.computed == 1
    assert len(g.outputs("image_rect")) == 8


def test_rectify_alpha_parameter_changes_the_published_projection() -> None:
    g = NodeHarness(RectifyNode, {"alpha": 0.0})
    g.feed_all(mono_pair(1, mono_model(), noise((H, W))))
    g.set_parameters({"alpha": 1.0})
    g.feed_all(mono_pair(2, mono_model(), noise((H, W))))
    valid_only, every_pixel = g.outputs("camera_info_rect")
    assert isinstance(valid_only, CameraInfo)
    assert isinstance(every_pixel, CameraInfo)
    # Barrel distortion: P = K shows only valid pixels already; keeping just valid ones
    # needs a shorter focal length, keeping every raw pixel a shorter one still.
    assert every_pixel.model.P[0, 0] < valid_only.model.P[0, 0] < mono_model().K[0, 0]
    np.testing.assert_array_equal(every_pixel.model.K, every_pixel.model.P[:, :3])


BAD_MONO = [
    ("zero K", {"camera_info": {"K": np.zeros((3, 3))}}, "K has fx=0.0"),
    ("NaN K", {"camera_info": {"K": np.full((3, 3), np.nan)}}, "K has NaN"),
    (
        "missing distortion",
        {"camera_info": {"D": np.zeros(0)}},
        r"camera_info: D is empty \(missing distortion\); plumb_bob needs 5",
    ),
    ("unknown model", {"camera_info": {"distortion_model": "kannala"}}, "'kannala'"),
    ("empty model", {"camera_info": {"distortion_model": ""}}, "distortion_model is empty"),
    ("zero P", {"camera_info": {"P": np.zeros((3, 4))}}, "camera_info: P is not a projection"),
    ("size", {"image": np.zeros((10, 12), np.uint8)}, "image is 12x10 but camera_info says 64x48"),
    (
        "roi size",
        {"camera_info": {"roi": replace(mono_model().roi, width=32, height=24)}},
        r"image is 64x48 but camera_info says 32x24 \(after binning and roi\)",
    ),
    ("bayer", {"encoding": "bayer_rggb8"}, "Bayer mosaic; debayer it first"),
    ("int32", {"image": np.zeros((H, W), np.int32), "encoding": "32SC1"}, "cannot be rectified"),
    (
        "5 channels",
        {"image": np.zeros((H, W, 5), np.uint8), "encoding": "8UC5"},
        "5 channels\\) cannot be rectified",
    ),
]


@pytest.mark.parametrize(("case", "bad", "reason"), BAD_MONO, ids=[b[0] for b in BAD_MONO])
def test_rectify_rejects_bad_input_and_serves_the_next_pair(
    case: str, bad: dict[str, object], reason: str
) -> None:
    g = NodeHarness(RectifyNode)
    model = mono_model(**bad.get("camera_info", {}))  # type: ignore[arg-type]
    data = bad.get("image", noise((H, W)))
    g.feed_all(mono_pair(1, model, data, str(bad.get("encoding", "mono8"))))  # type: ignore[arg-type]
    assert g.outputs("image_rect") == []
    reasons = [r for count, r in g.rejections().values() if count]
    assert len(reasons) == 1, case
    assert re.search(reason, reasons[0]), reasons
    assert g.errors == 0
    g.feed_all(mono_pair(2, mono_model(), noise((H, W))))
    assert len(g.outputs("image_rect")) == 1


def stereo_set(
    stamp: int,
    left: CameraModel,
    right: CameraModel,
    images: tuple[npt.NDArray[np.generic], npt.NDArray[np.generic]] | None = None,
    right_offset_ns: int = 0,
) -> dict[str, object]:
    left_img, right_img = images if images is not None else (noise((H, W)), noise((H, W), 1))
    lh = Header(stamp, "left_optical")
    rh = Header(stamp + right_offset_ns, "right_optical")
    return {
        "left_image": Image(lh, "mono8", left_img),
        "left_camera_info": CameraInfo(lh, left),
        "right_image": Image(rh, "mono8", right_img),
        "right_camera_info": CameraInfo(rh, right),
    }


def test_stereo_rectify_uses_the_camera_info_r_and_p() -> None:
    g = NodeHarness(StereoRectifyNode)
    left, right = stereo_models()
    images = (noise((H, W)), noise((H, W), 1))
    g.feed_all(stereo_set(1000, left, right, images))
    left_rect, right_rect = g.last("left_image_rect"), g.last("right_image_rect")
    left_info, right_info = g.last("left_camera_info_rect"), g.last("right_camera_info_rect")
    assert isinstance(left_rect, Image)
    assert isinstance(right_rect, Image)
    assert isinstance(left_info, CameraInfo)
    assert isinstance(right_info, CameraInfo)
    np.testing.assert_array_equal(
        left_rect.data, rectify_image(images[0], compute_rectify_maps(left))
    )
    np.testing.assert_array_equal(
        right_rect.data, rectify_image(images[1], compute_rectify_maps(right))
    )
    # What stereo_image_proc reads: P unchanged, K = P[:3, :3], D = 0, R = I.
    np.testing.assert_array_equal(right_info.model.P, right.P)
    np.testing.assert_array_equal(right_info.model.K, right.P[:, :3])
    np.testing.assert_array_equal(right_info.model.R, np.eye(3))
    assert not right_info.model.D.any()
    assert right_info.model.baseline_m == pytest.approx(0.1, rel=1e-3)
    assert right_info.header.frame_id == "right_optical"
    node = g.host.node
    assert isinstance(node, StereoRectifyNode)
    g.feed_all(stereo_set(2000, *stereo_models()))
    assert node.rectifier.computed == 1


def test_stereo_rectify_rectifies_from_tf_extrinsics() -> None:
    g = NodeHarness(StereoRectifyNode, {"extrinsics_source": "tf", "alpha": 0.0})
    tf = (TransformStamped(Header(0, "right_optical"), "left_optical", T_RIGHT_LEFT),)
    g.feed_transforms(tf, 0)
    left = CameraModel(W, H, "plumb_bob", K, D, np.eye(3), np.hstack([K, np.zeros((3, 1))]))
    right = replace(left, D=D * 0.9)
    g.feed_all(stereo_set(1000, left, right))
    right_info = g.last("right_camera_info_rect")
    assert isinstance(right_info, CameraInfo)
    expected = stereo_rectify(left, right, T_RIGHT_LEFT, alpha=0.0)[1]
    np.testing.assert_allclose(right_info.model.P, expected.P, atol=1e-9)


def test_stereo_rectify_rejects_tf_mode_without_a_transform() -> None:
    g = NodeHarness(StereoRectifyNode, {"extrinsics_source": "tf"})
    g.feed_all(stereo_set(1000, *stereo_models()))
    assert g.outputs("left_image_rect") == []
    count, reason = g.rejections()["left_image"]
    assert count == 1
    assert "tf: no T_right_optical_left_optical" in reason


def test_stereo_rectify_rejects_a_pair_without_stereo_calibration() -> None:
    g = NodeHarness(StereoRectifyNode)
    g.feed_all(stereo_set(1000, mono_model(), mono_model()))
    assert g.outputs("left_image_rect") == []
    assert "right camera_info P has no baseline" in g.rejections()["left_image"].last_reason
    left, right = stereo_models()
    g.feed_all(stereo_set(2000, left, replace(right, D=np.zeros(0))))
    assert "right camera_info: D is empty" in g.rejections()["left_image"].last_reason
    assert g.errors == 0


def test_stereo_rectify_matches_offset_stamps_only_with_approximate_sync() -> None:
    exact = NodeHarness(StereoRectifyNode)
    approx = NodeHarness(
        StereoRectifyNode, {"approximate_sync": True, "approximate_sync_tolerance_seconds": 0.005}
    )
    for g in (exact, approx):
        for i in range(3):
            g.feed_all(
                stereo_set(1_000_000_000 * (i + 1), *stereo_models(), right_offset_ns=2_000_000)
            )
    assert exact.outputs("left_image_rect") == []
    assert len(approx.outputs("left_image_rect")) == 3


def test_stereo_rectify_survives_1000_malformed_messages() -> None:
    rng = np.random.default_rng(3)
    g = NodeHarness(StereoRectifyNode)
    factory = RosbagsFactory(get_typestore())
    names = [spec.name for spec in StereoRectifyNode.INPUTS]
    served = 0
    for i in range(1000):
        stamp = 1000 * (i + 1)
        good = {
            k: codecs.encode(IMG if "image" in k else INFO, v, factory)
            for k, v in stereo_set(stamp, *stereo_models()).items()
        }
        target = names[i % 4]
        g.feed(target, mutate(good[target], rng), g.now_ns)
        before = len(g.outputs("left_image_rect"))
        g.feed_all(good)
        served += len(g.outputs("left_image_rect")) - before
    assert g.errors == 0
    assert served >= 900
    assert sum(count for count, _ in g.rejections().values()) >= 400


def vertical_disparity(
    left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(dy, dx) of SIFT matches (Lowe ratio 0.7): SIFT keypoints are sub-pixel."""
    sift = cv2.SIFT_create(1500)
    kl, dl = sift.detectAndCompute(left, None)
    kr, dr = sift.detectAndCompute(right, None)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(dl, dr, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.7 * p[1].distance]
    pl = np.array([kl[m.queryIdx].pt for m in good])
    pr = np.array([kr[m.trainIdx].pt for m in good])
    return pl[:, 1] - pr[:, 1], pl[:, 0] - pr[:, 0]


SYNTH_W, SYNTH_H = 640, 480
RIGS = {
    # name: (model, K left, D left, K right, D right, plane distance m, plane size m)
    "plumb_bob": (
        "plumb_bob",
        [[420.0, 0, 318], [0, 421, 242], [0, 0, 1]],
        [-0.28, 0.09, 0.001, -0.0007, -0.012],
        [[425.0, 0, 322], [0, 424, 238], [0, 0, 1]],
        [-0.26, 0.08, -0.0005, 0.0009, -0.01],
        1.6,
        3.0,
    ),
    "fisheye": (
        "equidistant",
        [[250.0, 0, 318], [0, 251, 242], [0, 0, 1]],
        [0.03, -0.01, 0.002, -0.0004],
        [[253.0, 0, 322], [0, 252, 238], [0, 0, 1]],
        [0.025, -0.008, 0.0015, -0.0003],
        1.2,
        5.0,
    ),
}


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_rectified_synthetic_stereo_pair_has_under_0p3_px_vertical_disparity(rig: str) -> None:
    distortion_model, KL, DL, KR, DR, distance_m, size_m = RIGS[rig]
    left = CameraModel(SYNTH_W, SYNTH_H, distortion_model, KL, DL)
    right = CameraModel(SYNTH_W, SYNTH_H, distortion_model, KR, DR)
    T_right_left = pose([0.02, -0.04, 0.03], [-0.12, 0.004, 0.003])
    # A random-texture plane, tilted, filling most of both views.
    rng = np.random.default_rng(1)
    blobs = rng.integers(0, 256, (160, 160), dtype=np.uint8)
    texture = cv2.GaussianBlur(
        cv2.resize(blobs, (1024, 1024), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5
    )
    T_left_plane = pose([0.3, -0.2, 0.05], [-size_m / 2, -size_m / 2, distance_m])
    raw_left = render_plane(texture, (size_m, size_m), T_left_plane, left, supersample=1)
    raw_right = render_plane(
        texture, (size_m, size_m), T_right_left @ T_left_plane, right, supersample=1
    )
    # The calibration a stereo calibration would write: R and P in the camera_infos.
    cal_left, cal_right = stereo_rectify(left, right, T_right_left, alpha=0.0)
    g = NodeHarness(StereoRectifyNode)
    lh, rh = Header(1, "left_optical"), Header(1, "right_optical")
    g.feed_all(
        {
            "left_image": Image(lh, "mono8", raw_left),
            "left_camera_info": CameraInfo(lh, cal_left),
            "right_image": Image(rh, "mono8", raw_right),
            "right_camera_info": CameraInfo(rh, cal_right),
        }
    )
    rect_left, rect_right = g.last("left_image_rect"), g.last("right_image_rect")
    assert isinstance(rect_left, Image)
    assert isinstance(rect_right, Image)
    dy, dx = vertical_disparity(rect_left.data, rect_right.data)  # type: ignore[arg-type]
    assert len(dy) > 300
    # Mismatches are rare (ratio test); a 2 px gate drops them but must keep nearly all.
    inliers = np.abs(dy) < 2.0
    assert inliers.mean() > 0.95
    mean_dy = float(np.abs(dy[inliers]).mean())
    print(f"{rig}: {inliers.sum()} matches, mean |vertical disparity| {mean_dy:.3f} px")
    assert mean_dy < 0.3
    # Positive disparity everywhere: the left view sees the plane further right.
    assert (dx[inliers] > 0).all()
    # Control: undistorting without the rectifying rotations leaves rows misaligned.
    undist = [
        rectify_image(raw, compute_rectify_maps(replace(m, P=np.hstack([m.K, np.zeros((3, 1))]))))
        for raw, m in ((raw_left, left), (raw_right, right))
    ]
    dy_raw, _ = vertical_disparity(undist[0], undist[1])  # type: ignore[arg-type]
    assert float(np.median(np.abs(dy_raw))) > 3.0
