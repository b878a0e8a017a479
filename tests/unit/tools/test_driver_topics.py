"""percept.tools.driver_topics: a stereo + IMU bag under a driver's names."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from percept import codecs
from percept.cli.main import main
from percept.domain import CameraInfo, Header, Image, ImuSample, PoseStamped, TransformStamped
from percept.errors import ConfigError
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.bag import BagReader, BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.msgtypes import CAMERA_INFO, IMAGE, IMU, POSE_STAMPED, TF_MESSAGE
from percept.tools.driver_topics import DRIVERS, SOURCES, as_driver, detect_source

W, H, FX, B = 160, 120, 100.0, 0.1
T0 = 1_000_000_000
EUROC = SOURCES["euroc"]


def _models() -> tuple[CameraModel, CameraModel]:
    """A slightly rotated, distorted stereo pair with its Bouguet R and P."""
    K = np.array([[FX, 0, 80.0], [0, FX, 60.0], [0, 0, 1]])
    D = np.array([-0.05, 0.01, 0.0, 0.0, 0.0])
    R_rl, _ = cv2.Rodrigues(np.array([0.0, 0.02, 0.0]))
    R1, R2, P1, P2, *_ = cv2.stereoRectify(
        K, D, K, D, (W, H), R_rl, np.array([[-B], [0.0], [0.0]]), alpha=0
    )
    left = CameraModel(W, H, "plumb_bob", K, D, R1, P1)
    right = CameraModel(W, H, "plumb_bob", K, D, R2, P2)
    return left, right


def _write(path: Path, frames: int = 3) -> tuple[CameraModel, CameraModel, Pose]:
    store = get_typestore()
    factory = RosbagsFactory(store)
    left, right = _models()
    T_base_cam0 = Pose.from_matrix(np.eye(4))
    rng = np.random.default_rng(0)

    def put(w: BagWriter, topic: str, msgtype: str, stamp: int, obj: object) -> None:
        raw = store.serialize_cdr(codecs.encode(msgtype, obj, factory), msgtype)
        w.write(topic, msgtype, stamp, bytes(raw))

    with BagWriter(path) as w:
        tfs = (
            TransformStamped(Header(T0, "base_link"), "imu0", Pose.identity()),
            TransformStamped(Header(T0, "imu0"), "cam0", T_base_cam0),
            TransformStamped(Header(T0, "imu0"), "cam1", Pose.from_matrix(np.eye(4))),
        )
        put(w, "/tf_static", TF_MESSAGE, T0, tfs)
        for i in range(frames):
            t = T0 + i * 50_000_000
            for topic, info_topic, frame, model in (
                (EUROC.left_image, EUROC.left_info, "cam0", left),
                (EUROC.right_image, EUROC.right_info, "cam1", right),
            ):
                img = rng.integers(0, 255, (H, W), dtype=np.uint8)
                put(w, topic, IMAGE, t, Image(Header(t, frame), "mono8", img))
                put(w, info_topic, CAMERA_INFO, t, CameraInfo(Header(t, frame), model))
            imu = ImuSample(Header(t, "imu0"), np.array([0.1, 0, 0]), np.array([0, 0, 9.8]))
            put(w, EUROC.imu, IMU, t, imu)
            put(
                w,
                "/ground_truth/pose",
                POSE_STAMPED,
                t,
                PoseStamped(Header(t, "world"), Pose.identity()),
            )
    return left, right, T_base_cam0


def _read(path: Path) -> dict[str, list[object]]:
    store = get_typestore()
    out: dict[str, list[object]] = {}
    with BagReader(path) as bag:
        for m in bag.messages():
            assert m.raw is not None
            obj = codecs.decode(m.msgtype, store.deserialize_cdr(m.raw, m.msgtype))
            out.setdefault(m.topic, []).append(obj)
    return out


@pytest.fixture
def euroc_like(tmp_path: Path) -> Path:
    path = tmp_path / "in.mcap"
    _write(path)
    return path


def test_realsense_gets_rectified_images_driver_names_and_frames(
    euroc_like: Path, tmp_path: Path
) -> None:
    left, right, _ = (*_models(), None)
    rs = DRIVERS["realsense"]
    result = as_driver(euroc_like, tmp_path / "rs.mcap", "realsense")
    assert result.source.name == "euroc"
    got = _read(result.path)
    assert set(got) == {
        rs.left_image,
        rs.left_info,
        rs.right_image,
        rs.right_info,
        rs.imu,
        "/tf_static",
        "/ground_truth/pose",
    }
    info_l = got[rs.left_info][0]
    info_r = got[rs.right_info][0]
    assert isinstance(info_l, CameraInfo)
    assert isinstance(info_r, CameraInfo)
    # Rectified as the driver publishes: D = 0, R = I, K = P[:3, :3], the stereo P kept.
    for info, model in ((info_l, left), (info_r, right)):
        assert np.allclose(info.model.D, 0)
        assert np.allclose(info.model.R, np.eye(3))
        assert np.allclose(info.model.K, model.P[:, :3])
        assert np.allclose(info.model.P, model.P)
    assert info_l.header.frame_id == rs.left_frame
    assert info_r.header.frame_id == rs.left_frame  # realsense: infra1's optical frame
    image = got[rs.right_image][0]
    assert isinstance(image, Image)
    assert image.header.frame_id == rs.right_frame
    imu = got[rs.imu][0]
    assert isinstance(imu, ImuSample)
    assert imu.header.frame_id == rs.imu_frame
    assert np.allclose(imu.linear_acceleration_m_s2, [0, 0, 9.8])
    # /tf_static names the rectified optical frames: T_imu_rect = T_imu_raw @ R^T.
    (tfs,) = got["/tf_static"]
    by_child = {tf.child_frame_id: tf for tf in tfs}  # type: ignore[attr-defined]
    assert set(by_child) == {rs.imu_frame, rs.left_frame, rs.right_frame}
    assert by_child[rs.imu_frame].header.frame_id == rs.base_frame
    assert by_child[rs.left_frame].header.frame_id == rs.imu_frame
    T = by_child[rs.left_frame].transform.as_matrix()
    assert np.allclose(T[:3, :3], left.R.T, atol=1e-9)


def test_oakd_keeps_raw_images_byte_for_byte_and_scales(euroc_like: Path, tmp_path: Path) -> None:
    oak = DRIVERS["oakd"]
    same = _read(as_driver(euroc_like, tmp_path / "oak.mcap", "oakd").path)
    src = _read(euroc_like)
    a, b = same[oak.left_image][0], src[EUROC.left_image][0]
    assert isinstance(a, Image)
    assert isinstance(b, Image)
    assert np.array_equal(a.data, b.data)
    assert a.header.frame_id == oak.left_frame
    info = same[oak.right_info][0]
    assert isinstance(info, CameraInfo)
    assert np.allclose(info.model.D, _models()[1].D)  # raw: R and P as the device gives
    half = _read(as_driver(euroc_like, tmp_path / "oak2.mcap", "oakd", size=(80, 60)).path)
    small = half[oak.left_info][0]
    img = half[oak.left_image][0]
    assert isinstance(small, CameraInfo)
    assert isinstance(img, Image)
    assert (small.model.width, small.model.height, img.width, img.height) == (80, 60, 80, 60)
    assert np.allclose(small.model.K[:2], _models()[0].K[:2] / 2)
    assert np.allclose(small.model.P[0, 3], _models()[0].P[0, 3] / 2)


def test_ground_truth_is_copied_unchanged(euroc_like: Path, tmp_path: Path) -> None:
    out = as_driver(euroc_like, tmp_path / "zed.mcap", "zed").path
    with BagReader(euroc_like) as a, BagReader(out) as b:
        gt_a = [m.raw for m in a.messages(["/ground_truth/pose"])]
        gt_b = [m.raw for m in b.messages(["/ground_truth/pose"])]
    assert gt_a == gt_b
    assert len(gt_a) == 3


def test_errors_name_what_is_wrong(euroc_like: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown driver"):
        as_driver(euroc_like, tmp_path / "x.mcap", "kinect")
    with pytest.raises(ConfigError, match="unknown source"):
        as_driver(euroc_like, tmp_path / "x.mcap", "zed", source="kitti")
    with pytest.raises(ConfigError, match="no known stereo"):
        detect_source({"/camera/image_raw": IMAGE})
    assert detect_source(set(SOURCES["synth"].topic_map(DRIVERS["zed"]))).name == "synth"


def test_cli_as_driver(
    euroc_like: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.mcap"
    argv = ["bag", "as-driver", str(euroc_like), "--driver", "zed", "--size", "80x60"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "80x60" in capsys.readouterr().out
    with BagReader(out) as bag:
        assert DRIVERS["zed"].left_image in bag.topics()
    assert main([*argv[:-2], "--size", "80", "--out", str(tmp_path / "y.mcap")]) == 1
