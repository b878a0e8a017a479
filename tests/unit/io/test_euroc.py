from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from percept import codecs
from percept.cli.main import main
from percept.domain import CameraInfo, Image, ImuSample, PoseStamped
from percept.errors import BagError, CalibrationError
from percept.eval.config import DEFAULT_TOPICS, resolve_topics
from percept.geometry.pose import Pose
from percept.io.bag import BagReader
from percept.io.euroc import (
    GROUND_TRUTH_TOPIC,
    EurocDataset,
    read_euroc,
    read_ground_truth,
    write_euroc_bag,
)
from percept.io.typestore import get_typestore

V1_MICRO = "euroc_v1_01_easy_micro"
MH01 = "vi_moving_euroc_mh01"


@pytest.fixture(scope="module")
def mh01(data_dir: Path) -> EurocDataset:
    return read_euroc(data_dir / MH01)


def _sensor_yaml(path: Path) -> dict[str, object]:
    text = path.read_text()
    doc = yaml.safe_load(text.split("\n", 1)[1] if text.startswith("%YAML") else text)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(("name", "pairs", "imu_samples"), [(V1_MICRO, 60, 801), (MH01, 100, 2400)])
def test_read_euroc_counts_rates_and_stamps(
    data_dir: Path, name: str, pairs: int, imu_samples: int
) -> None:
    data = read_euroc(data_dir / name)
    left, right = data.cameras
    assert (left.name, right.name) == ("cam0", "cam1")
    assert left.stamps_ns.size == right.stamps_ns.size == pairs
    np.testing.assert_array_equal(left.stamps_ns, right.stamps_ns)  # pairs at equal stamps
    assert data.imu is not None
    assert data.imu.stamps_ns.size == imu_samples
    dt_s = np.diff(data.imu.stamps_ns) / 1e9
    assert np.median(dt_s) == pytest.approx(0.005, abs=1e-5)  # 200 Hz
    for stamps in (left.stamps_ns, data.imu.stamps_ns):
        assert (np.diff(stamps) > 0).all()
    gt = data.ground_truth
    assert gt is not None
    assert (np.diff(gt.stamps_ns) > 0).all()
    assert gt.stamps_ns[0] <= left.stamps_ns[0]
    assert gt.stamps_ns[-1] >= left.stamps_ns[-1]
    np.testing.assert_allclose(np.linalg.norm(gt.quat_xyzw, axis=1), 1.0, atol=1e-12)
    image = left.image(0)
    assert image.shape == (480, 752)
    assert image.dtype == np.uint8


def test_read_euroc_messages_are_time_ordered_domain_objects(data_dir: Path) -> None:
    data = read_euroc(data_dir / V1_MICRO)
    messages = list(data.messages())
    assert messages[0].topic == "/tf_static"
    stamps = np.array([m.stamp_ns for m in messages])
    assert (np.diff(stamps) >= 0).all()
    by_topic: dict[str, list[object]] = {}
    for m in messages:
        by_topic.setdefault(m.topic, []).append(m.obj)
    assert len(by_topic["/cam0/image_raw"]) == len(by_topic["/cam1/camera_info"]) == 60
    assert len(by_topic["/imu0"]) == 801
    assert len(by_topic[GROUND_TRUTH_TOPIC]) == 743
    image, info, imu, pose = (
        by_topic["/cam1/image_raw"][0],
        by_topic["/cam0/camera_info"][0],
        by_topic["/imu0"][0],
        by_topic[GROUND_TRUTH_TOPIC][0],
    )
    assert isinstance(image, Image)
    assert image.encoding == "mono8"
    assert image.header.frame_id == "cam1"
    assert isinstance(info, CameraInfo)
    assert info.header.frame_id == "cam0"
    assert isinstance(imu, ImuSample)
    assert imu.header.frame_id == "imu0"
    assert isinstance(pose, PoseStamped)
    assert pose.header.frame_id == "world"


def test_read_euroc_camera_info_and_extrinsics_match_sensor_yaml(mh01: EurocDataset) -> None:
    for cam in mh01.cameras:
        doc = _sensor_yaml(mh01.root / cam.name / "sensor.yaml")
        fu, fv, cu, cv = doc["intrinsics"]  # type: ignore[misc]
        K = cam.model.K
        np.testing.assert_allclose([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], [fu, fv, cu, cv])
        assert cam.model.distortion_model == "plumb_bob"
        np.testing.assert_allclose(cam.model.D, [*doc["distortion_coefficients"], 0.0])  # type: ignore[misc]
        T_BS = np.array(doc["T_BS"]["data"]).reshape(4, 4)  # type: ignore[index]
        # imu0's T_BS is the identity, so T_imu_cam is the camera's T_BS.
        np.testing.assert_allclose(mh01.T_imu_cam(cam.name), T_BS, atol=1e-9)
    # The camera_infos carry the rectification of the pair: one P, right P[0, 3] = -fx B.
    left, right = (c.model for c in mh01.cameras)
    np.testing.assert_allclose(left.P[:, :3], right.P[:, :3])
    assert right.baseline_m == pytest.approx(0.11008, abs=1e-5)


def test_read_ground_truth_parses_euroc_csv_and_tum_exactly(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    header = "#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], "
    csv.write_text(
        header + "...\n"
        "1403636579758555392,4.688,-1.786,0.783,0.534,-0.153,-0.827,-0.082,"
        "-0.027,0.033,-0.805,-0.003,0.021,0.078,-0.025,0.136,0.075\n"
        "1403636579763555584,4.688,-1.786,0.787,0.534,-0.153,-0.827,-0.082,"
        "-0.026,0.033,-0.807,-0.003,0.021,0.078,-0.025,0.136,0.075\n"
    )
    gt = read_ground_truth(csv)
    assert gt.stamps_ns.tolist() == [1403636579758555392, 1403636579763555584]
    q = np.array([-0.153, -0.827, -0.082, 0.534])  # wxyz in the file, xyzw here
    np.testing.assert_allclose(gt.quat_xyzw[0], q / np.linalg.norm(q))
    assert gt.velocity_m_s is not None
    assert gt.accel_bias_m_s2 is not None
    np.testing.assert_allclose(gt.velocity_m_s[1], [-0.026, 0.033, -0.807])
    np.testing.assert_allclose(gt.accel_bias_m_s2[0], [-0.025, 0.136, 0.075])
    tum = tmp_path / "gt.txt"
    tum.write_text("# t x y z qx qy qz qw\n1403636588.76356 1 2 3 0 0 0 1\n")
    assert read_ground_truth(tum).stamps_ns.tolist() == [1403636588763560000]
    # A stamp that went through a spreadsheet reads as the exact integer it writes.
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("1.40363658876356E+018,1,2,3,1,0,0,0\n")
    assert read_ground_truth(sheet).stamps_ns.tolist() == [1403636588763560000]
    sheet.write_text("14036365887635600O0,1,2,3,1,0,0,0\n")
    with pytest.raises(CalibrationError, match=r"sheet.csv: data row 1: timestamp must be"):
        read_ground_truth(sheet)


def test_write_euroc_bag_round_trips(mh01: EurocDataset, tmp_path: Path) -> None:
    out = tmp_path / "mh01.mcap"
    result = write_euroc_bag(mh01, out, start_s=1.0, duration_s=1.0)
    assert result.counts["/cam0/image_raw"] == result.counts["/cam1/image_raw"] == 10
    assert result.counts["/imu0"] == 200
    assert result.counts[GROUND_TRUTH_TOPIC] == 200
    store = get_typestore()
    decoded: dict[str, list[object]] = {}
    with BagReader(out) as bag:
        topics = bag.topics()
        for m in bag.messages():
            obj = codecs.decode(m.msgtype, store.deserialize_cdr(m.raw or b"", m.msgtype))
            decoded.setdefault(m.topic, []).append(obj)
    lo = mh01.start_ns + 1_000_000_000
    cam = mh01.cameras[0]
    frames = cam.stamps_ns[(cam.stamps_ns >= lo) & (cam.stamps_ns < lo + 1_000_000_000)]
    images = decoded["/cam0/image_raw"]
    assert [i.header.stamp_ns for i in images] == frames.tolist()  # type: ignore[attr-defined]
    first = int(np.flatnonzero(cam.stamps_ns == frames[0])[0])
    np.testing.assert_array_equal(images[0].data, cam.image(first))  # type: ignore[attr-defined]
    info = decoded["/cam1/camera_info"][0]
    assert info.model.allclose(mh01.cameras[1].model)  # type: ignore[attr-defined]
    imu = mh01.imu
    assert imu is not None
    k = int(np.searchsorted(imu.stamps_ns, lo))
    samples = decoded["/imu0"]
    assert samples[0].header.stamp_ns == imu.stamps_ns[k]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(
        [s.angular_velocity_rad_s for s in samples],  # type: ignore[attr-defined]
        imu.angular_velocity_rad_s[k : k + 200],
    )
    np.testing.assert_array_equal(
        [s.linear_acceleration_m_s2 for s in samples],  # type: ignore[attr-defined]
        imu.linear_acceleration_m_s2[k : k + 200],
    )
    tf = {t.child_frame_id: t for t in decoded["/tf_static"][0]}  # type: ignore[attr-defined]
    assert tf["cam0"].header.frame_id == "imu0"
    assert tf["imu0"].header.frame_id == "base_link"
    expected = Pose.from_matrix(mh01.T_imu_cam("cam1"))
    assert tf["cam1"].transform.allclose(expected, atol=1e-12)
    # `percept eval` finds the ground truth under its default candidates.
    found, _ = resolve_topics(topics, ["gt_pose"], DEFAULT_TOPICS)
    assert found == {"gt_pose": GROUND_TRUTH_TOPIC}


def test_bag_from_euroc_cli_writes_what_bag_info_reads(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v1.mcap"
    argv = ["bag", "from-euroc", str(data_dir / V1_MICRO), "--out", str(out), "--duration", "1.5"]
    assert main(["--quiet", *argv]) == 0
    assert main(["bag", "info", str(out), "--json"]) == 0
    text = capsys.readouterr().out
    assert '"topic": "/cam0/image_raw"' in text
    assert '"count": 10' in text
    assert main(["--quiet", *argv]) == 1  # exists already, one-line error


def test_euroc_robot_replays_the_bag(mh01: EurocDataset, tmp_path: Path) -> None:
    from percept.runtime.robot import load_robot
    from percept.tools.replay import replay

    bag = write_euroc_bag(mh01, tmp_path / "in.mcap", start_s=1.0, duration_s=0.35).path
    result = replay(bag, tmp_path / "out.mcap", load_robot("euroc"), diagnostics=False)
    # ApproximateTime holds each node's last set until a newer message proves it complete.
    assert result.written["/stereo/left/image_rect"] >= 3
    assert result.written["/stereo/disparity"] >= 2
    assert result.written[GROUND_TRUTH_TOPIC] == 70  # recorded for `percept eval`


def test_read_euroc_raises_on_a_folder_without_mav0(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="not an EuRoC/ASL folder"):
        read_euroc(tmp_path)


def test_read_euroc_raises_on_stamps_going_backwards(data_dir: Path, tmp_path: Path) -> None:
    imu = tmp_path / "mav0" / "imu0"
    imu.mkdir(parents=True)
    source = data_dir / V1_MICRO / "mav0" / "imu0"
    (imu / "sensor.yaml").write_text((source / "sensor.yaml").read_text())
    rows = (source / "data.csv").read_text().splitlines()
    (imu / "data.csv").write_text("\n".join([rows[0], rows[2], rows[1], *rows[3:5]]) + "\n")
    with pytest.raises(CalibrationError, match=r"imu0/data.csv: timestamps must increase"):
        read_euroc(tmp_path)


def test_write_euroc_bag_raises_on_an_empty_window_or_existing_output(
    mh01: EurocDataset, tmp_path: Path
) -> None:
    with pytest.raises(BagError, match="no camera or IMU data"):
        write_euroc_bag(mh01, tmp_path / "a.mcap", start_s=100.0)
    (tmp_path / "b.mcap").write_bytes(b"")
    with pytest.raises(BagError, match="exists already"):
        write_euroc_bag(mh01, tmp_path / "b.mcap", duration_s=0.1)
