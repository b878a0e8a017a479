"""generate(): the bag reads back with the expected topics, rates and ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from percept import codecs
from percept.calib.render import project_points
from percept.calib.yaml_io import read_camera_info_yaml
from percept.cli.main import main
from percept.domain import (
    CameraInfo,
    Detection2DArray,
    Detection3DArray,
    Image,
    ImuSample,
    OccupancyGrid,
    Odometry,
    TransformStamped,
)
from percept.errors import BagError, ConfigError
from percept.eval.metrics.trajectory import ODOMETRY
from percept.io.bag import BagReader, summarize_bag
from percept.io.typestore import get_typestore
from percept.runtime.robot import load_robot
from percept.synth.generate import (
    GROUND_TRUTH_TOPICS,
    SENSOR_TOPICS,
    SynthConfig,
    SynthResult,
    boxes_2d,
    generate,
    write_robot_files,
)
from percept.synth.imu import NO_NOISE, simulate_imu
from percept.synth.mesh import box
from percept.synth.rig import StereoRig
from percept.synth.scene import CLASS_NAMES, Scene
from percept.synth.trajectory import LoopTrajectory

from .synth_helpers import small_config


def _read(path: Path, topics: list[str]) -> dict[str, list[object]]:
    store = get_typestore()
    out: dict[str, list[object]] = {t: [] for t in topics}
    with BagReader(path) as bag:
        for m in bag.messages(topics):
            msg = store.deserialize_cdr(m.raw or b"", m.msgtype)
            out[m.topic].append(codecs.decode(m.msgtype, msg))
    return out


def test_bag_has_the_standard_and_ground_truth_topics(small_bag: SynthResult) -> None:
    with BagReader(small_bag.bag) as bag:
        assert bag.topics() == {**SENSOR_TOPICS, **GROUND_TRUTH_TOPICS}


def test_topics_come_at_their_rates(small_bag: SynthResult) -> None:
    summaries, _ = summarize_bag(small_bag.bag)
    by_topic = {s.topic: s for s in summaries}
    for topic in (
        "/stereo/left/image_raw",
        "/stereo/right/camera_info",
        "/ground_truth/left/depth",
    ):
        assert by_topic[topic].count == 15  # 1.5 s at 10 Hz
        assert by_topic[topic].rate_hz == pytest.approx(10.0, rel=1e-6)
    assert by_topic["/imu/data"].count == 300
    assert by_topic["/imu/data"].rate_hz == pytest.approx(200.0, rel=1e-6)
    assert by_topic["/ground_truth/odom"].rate_hz == pytest.approx(100.0, rel=1e-6)
    for once in (
        "/tf_static",
        "/ground_truth/map",
        "/ground_truth/map_visible",
        "/ground_truth/objects",
    ):
        assert by_topic[once].count == 1
    assert small_bag.counts["/imu/data"] == 300


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(
    small_bag: SynthResult, tmp_path: Path
) -> None:
    # Same file name: the rosbag2 metadata inside the MCAP records it.
    again = generate(tmp_path / small_bag.bag.name, small_config(0))
    other = generate(tmp_path / "other" / small_bag.bag.name, small_config(1))
    assert again.bag.read_bytes() == small_bag.bag.read_bytes()
    assert other.bag.read_bytes() != small_bag.bag.read_bytes()
    first = _read(small_bag.bag, ["/stereo/left/image_raw", "/ground_truth/objects"])
    second = _read(other.bag, ["/stereo/left/image_raw", "/ground_truth/objects"])
    image_a, image_b = first["/stereo/left/image_raw"][0], second["/stereo/left/image_raw"][0]
    assert isinstance(image_a, Image)
    assert isinstance(image_b, Image)
    assert np.abs(image_a.data.astype(float) - image_b.data.astype(float)).mean() > 10.0
    objects_a, objects_b = first["/ground_truth/objects"][0], second["/ground_truth/objects"][0]
    assert isinstance(objects_a, Detection3DArray)
    assert isinstance(objects_b, Detection3DArray)
    centres_a = [d.center.translation_m.tolist() for d in objects_a.detections]
    centres_b = [d.center.translation_m.tolist() for d in objects_b.detections]
    assert centres_a != centres_b


def _box_outline(size_m: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Points along the 12 edges of a box (its projection bounds the object's)."""
    corners, _ = box(size_m)
    edges = [(i, j) for i in range(8) for j in range(i + 1, 8) if bin(i ^ j).count("1") == 1]
    s = np.linspace(0.0, 1.0, 12)[:, None]
    pts = np.concatenate([corners[i] + s * (corners[j] - corners[i]) for i, j in edges])
    return pts @ T[:3, :3].T + T[:3, 3]


def test_ground_truth_boxes_lie_inside_the_image_and_agree_in_2d_and_3d(
    small_bag: SynthResult,
) -> None:
    topics = [
        "/stereo/left/camera_info",
        "/ground_truth/left/detections_2d",
        "/ground_truth/left/detections_3d",
    ]
    data = _read(small_bag.bag, topics)
    seen = 0
    for info, d2, d3 in zip(*(data[t] for t in topics), strict=True):
        assert isinstance(info, CameraInfo)
        assert isinstance(d2, Detection2DArray)
        assert isinstance(d3, Detection3DArray)
        assert d2.header == d3.header == info.header
        w, h = info.model.width, info.model.height
        assert [d.id for d in d2.detections] == [d.id for d in d3.detections]
        for det2, det3 in zip(d2.detections, d3.detections, strict=True):
            seen += 1
            assert det2.results[0].class_id in CLASS_NAMES
            assert det2.results[0].class_id == det3.results[0].class_id
            (cu, cv), (bw, bh) = det2.center_uv, det2.size_uv
            u0, v0, u1, v1 = cu - bw / 2, cv - bh / 2, cu + bw / 2, cv + bh / 2
            assert 0 <= u0 < u1 <= w
            assert 0 <= v0 < v1 <= h
            outline = _box_outline(det3.size_m, det3.center.as_matrix())
            if (outline[:, 2] > 0.05).all():
                # Pixel-centre coordinates (K) to the boxes' pixel-edge coordinates.
                uv = project_points(outline, info.model) + 0.5
                # The visible pixels lie within the projected 3-D box (1 px for edges).
                assert u0 >= uv[:, 0].min() - 1.0
                assert u1 <= uv[:, 0].max() + 1.0
                assert v0 >= uv[:, 1].min() - 1.0
                assert v1 <= uv[:, 1].max() + 1.0
    assert seen > 15  # objects are in view


def test_depth_and_pose_ground_truth_match_the_trajectory(
    small_bag: SynthResult, scene0: Scene
) -> None:
    data = _read(small_bag.bag, ["/ground_truth/left/depth", "/ground_truth/odom", "/tf_static"])
    depth = data["/ground_truth/left/depth"][0]
    assert isinstance(depth, Image)
    assert depth.encoding == "32FC1"
    assert depth.data.shape == (120, 160)
    assert np.isfinite(depth.data).all()
    assert 0.1 < float(depth.data.min()) < float(depth.data.max()) < 40.0
    trajectory = LoopTrajectory(scene0.loop, "ground", seed=0)
    for odom in data["/ground_truth/odom"][::37]:
        assert isinstance(odom, Odometry)
        assert (odom.header.frame_id, odom.child_frame_id) == ("map", "base_link")
        t = (odom.header.stamp_ns - small_config().start_ns) / 1e9
        truth = trajectory.sample([t])
        np.testing.assert_allclose(odom.pose.translation_m, truth.position_m[0], atol=1e-9)
        speed = np.linalg.norm(truth.velocity_m_s[0])
        np.testing.assert_allclose(odom.linear_velocity_m_s, [speed, 0.0, 0.0], atol=1e-9)
    transforms = data["/tf_static"][0]
    assert isinstance(transforms, tuple)
    children = {tf.child_frame_id for tf in transforms if isinstance(tf, TransformStamped)}
    assert children == {"imu_link", "stereo_left_optical_frame", "stereo_right_optical_frame"}


def test_occupancy_grid_in_the_bag_marks_walls(small_bag: SynthResult) -> None:
    grid = _read(small_bag.bag, ["/ground_truth/map"])["/ground_truth/map"][0]
    assert isinstance(grid, OccupancyGrid)
    assert grid.header.frame_id == "map"
    assert grid.resolution_m == pytest.approx(0.05)
    assert (grid.data[0] == 100).all()
    assert (grid.data[grid.data.shape[0] // 4, 10:-10] == 0).any()


def test_visible_map_keeps_the_occupied_cells_the_depth_saw(small_bag: SynthResult) -> None:
    maps = _read(small_bag.bag, ["/ground_truth/map", "/ground_truth/map_visible"])
    grid, visible = maps["/ground_truth/map"][0], maps["/ground_truth/map_visible"][0]
    assert isinstance(grid, OccupancyGrid)
    assert isinstance(visible, OccupancyGrid)
    assert visible.data.shape == grid.data.shape
    assert visible.origin.allclose(grid.origin)
    seen = visible.data == 100
    assert set(np.unique(visible.data).tolist()) <= {-1, 100}
    assert seen.any()
    assert (grid.data[seen] == 100).all()  # only true obstacles
    assert seen.sum() < (grid.data == 100).sum()  # and not the unseen ones
    last = _read(small_bag.bag, ["/stereo/left/image_raw"])["/stereo/left/image_raw"][-1]
    assert visible.header.stamp_ns == last.header.stamp_ns


def test_noise_free_imu_in_the_bag_is_the_exact_imu(tmp_path: Path, scene0: Scene) -> None:
    result = generate(tmp_path / "exact.mcap", small_config(0, seconds=0.3, noise=False))
    samples = _read(result.bag, ["/imu/data"])["/imu/data"]
    assert len(samples) == 60
    rig = StereoRig(small_config().rig_config)
    trajectory = LoopTrajectory(scene0.loop, "ground", seed=0)
    stamps = np.arange(60) / 200.0
    exact = simulate_imu(trajectory, rig.T_base_imu, stamps, NO_NOISE)
    for sample, gyro, accel in zip(
        samples, exact.angular_velocity_rad_s, exact.linear_acceleration_m_s2, strict=True
    ):
        assert isinstance(sample, ImuSample)
        assert sample.header.frame_id == "imu_link"
        assert sample.orientation_xyzw is None
        np.testing.assert_allclose(sample.angular_velocity_rad_s, gyro, atol=1e-12)
        np.testing.assert_allclose(sample.linear_acceleration_m_s2, accel, atol=1e-12)


def test_calibration_and_robot_files_match_the_bag(small_bag: SynthResult) -> None:
    assert small_bag.calibration_dir is not None
    assert small_bag.robot_file is not None
    infos = _read(small_bag.bag, ["/stereo/left/camera_info", "/stereo/right/camera_info"])
    for side in ("left", "right"):
        name, model = read_camera_info_yaml(small_bag.calibration_dir / f"{side}.yaml")
        assert name == side
        info = infos[f"/stereo/{side}/camera_info"][0]
        assert isinstance(info, CameraInfo)
        assert model.allclose(info.model, atol=1e-12)
    assert (small_bag.calibration_dir / "imu.yaml").is_file()
    robot = load_robot(small_bag.robot_file)
    assert robot.robot == "synth"
    assert [n.node_type for n in robot.nodes] == [
        "stereo_rectify",
        "stereo_depth",
        "detector",
        "detector",
        "vio",
        "occupancy_map",
    ]
    detector = robot.nodes[2]
    assert detector.remappings == {
        "image": "left/image_raw",
        "camera_info": "left/camera_info",
        "detections": "/detections",
    }
    # the second detector lifts boxes on the rectified image with stereo_depth's depth
    lifted = robot.nodes[3]
    assert lifted.name == "detector_3d"
    assert lifted.params["depth_source"] == "depth"
    assert lifted.remappings["image"] == "left/image_rect"
    assert lifted.remappings["camera_info"] == "left/camera_info_rect"
    assert lifted.remappings["detections_3d"] == "/detections_3d"
    assert lifted.remappings["detections"] != "/detections"
    assert "/ground_truth/odom" in robot.record
    # vio on the rectified pair and /imu/data, to /odom (what percept eval scores against
    # /ground_truth/odom), with the simulated IMU's noise and the written calibration
    vio = robot.nodes[4]
    assert vio.namespace == "stereo"
    assert vio.remappings["left/camera_info"] == "left/camera_info_rect"
    assert vio.remappings["right/camera_info"] == "right/camera_info_rect"
    assert vio.remappings["imu/data"] == "/imu/data"
    assert "/imu/data" in SENSOR_TOPICS
    assert vio.remappings["odom"] == "/odom"
    assert "/odom" in ODOMETRY.candidates
    assert vio.params["publish_tf"] is True
    noise = small_config(0).imu_noise
    assert vio.params["gyroscope_noise_density"] == noise.gyroscope_noise_density
    assert vio.params["gyroscope_random_walk"] == noise.gyroscope_random_walk
    assert vio.params["accelerometer_noise_density"] == noise.accelerometer_noise_density
    assert vio.params["accelerometer_random_walk"] == noise.accelerometer_random_walk
    root = small_bag.robot_file.parents[2]  # the folder holding config/robots/
    calibration = root / str(vio.params["calibration_dir"])
    assert calibration.resolve() == small_bag.calibration_dir.resolve()


def test_boxes_2d_skips_objects_with_too_few_pixels() -> None:
    index = np.full((10, 10), -1, dtype=np.int32)
    index[2:5, 3:8] = 4
    index[9, 9] = 1
    ids, boxes = boxes_2d(index, 5, min_pixels=2)
    assert ids.tolist() == [4]
    assert boxes.tolist() == [[3, 2, 7, 4]]


def test_generate_refuses_to_overwrite(small_bag: SynthResult) -> None:
    with pytest.raises(BagError, match="exists already"):
        generate(small_bag.bag, small_config(0, seconds=0.2))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"seconds": 0.05}, "seconds must be >= 1 / camera_rate_hz"),
        ({"motion": "flying"}, "motion must be one of"),
        ({"scene": "office"}, "scene must be one of"),
        ({"exposure_s": 0.5}, "exposure_s must be in"),
    ],
)
def test_synth_config_raises_on_bad_values(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SynthConfig(**changes)  # type: ignore[arg-type]


def test_cli_renders_a_sequence_with_its_files(tmp_path: Path) -> None:
    out = tmp_path / "cli.mcap"
    status = main(
        [
            "--quiet",
            "synth",
            "--seconds",
            "0.2",
            "--width",
            "64",
            "--height",
            "48",
            "--motion",
            "handheld",
            "--encoding",
            "bgr8",
            "--robot",
            "sim_bot",
            "--out",
            str(out),
            "--calib-out",
            str(tmp_path / "calibration"),
            "--config-out",
            str(tmp_path / "config"),
        ]
    )
    assert status == 0
    image = _read(out, ["/stereo/right/image_raw"])["/stereo/right/image_raw"][0]
    assert isinstance(image, Image)
    assert image.encoding == "bgr8"
    assert image.data.shape == (48, 64, 3)
    assert (tmp_path / "calibration" / "sim_bot" / "left.yaml").is_file()
    assert (tmp_path / "config" / "robots" / "sim_bot.yaml").is_file()


def test_cli_fails_with_one_line_on_bad_arguments(tmp_path: Path) -> None:
    assert main(["--quiet", "synth"]) == 1
    assert main(["--quiet", "synth", "--width", "4", "--out", str(tmp_path / "x.mcap")]) == 1
    assert main(["--quiet", "synth", "--robot", "bad name", "--seconds", "0.1", "--out",
                 str(tmp_path / "y.mcap"), "--config-out", str(tmp_path)]) == 1  # fmt: skip


@pytest.mark.parametrize(("motion", "robot"), [("ground", "synth"), ("handheld", "synth_handheld")])
def test_shipped_synth_robot_files_match_the_generator(
    repo_root: Path, tmp_path: Path, motion: str, robot: str
) -> None:
    """config/robots/<robot>.yaml and calibration/<robot>/ are what percept synth writes."""
    config = SynthConfig(motion=motion, robot_name=robot)
    # The project's layout: calibration/<robot>/ and config/robots/<robot>.yaml side by side.
    calibration, robot_file = write_robot_files(
        config, tmp_path / "calibration", tmp_path / "config"
    )
    assert calibration is not None
    assert robot_file is not None
    shipped = repo_root / "calibration" / robot
    assert sorted(p.name for p in shipped.iterdir()) == ["imu.yaml", "left.yaml", "right.yaml"]
    for side in ("left", "right"):
        # Numbers, not text: the last digits of cv2.stereoRectify differ between builds.
        _, ours = read_camera_info_yaml(calibration / f"{side}.yaml")
        _, theirs = read_camera_info_yaml(shipped / f"{side}.yaml")
        assert ours.allclose(theirs, atol=1e-9)
    ours_imu = yaml.safe_load((calibration / "imu.yaml").read_text())
    theirs_imu = yaml.safe_load((shipped / "imu.yaml").read_text())
    assert ours_imu.keys() == theirs_imu.keys()
    for key, value in ours_imu.items():
        if key == "cameras":
            for name, cam in value.items():
                np.testing.assert_allclose(
                    cam["T_imu_cam"], theirs_imu[key][name]["T_imu_cam"], atol=1e-9
                )
        else:
            assert value == theirs_imu[key], key
    shipped_robot = repo_root / "config" / "robots" / f"{robot}.yaml"
    assert shipped_robot.read_text() == robot_file.read_text()
