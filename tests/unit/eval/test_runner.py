"""``evaluate`` on small bags: each metric against a direct computation, topics, batches.

Also: skipped metrics, streaming joins and condition splits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from percept.errors import ConfigError, EvalError
from percept.eval.batch import evaluate_batch
from percept.eval.config import EvalConfig, resolve_topics
from percept.eval.detection import coco_from_detection_arrays, evaluate_coco
from percept.eval.detection3d import evaluate_detections_3d
from percept.eval.disparity import DisparityMetrics, disparity_metrics
from percept.eval.occupancy import occupancy_metrics
from percept.eval.runner import evaluate
from percept.eval.stream import StampJoin
from percept.eval.tracking import evaluate_tracking
from percept.eval.trajectory import Trajectory, TrajectoryEvalConfig, evaluate_trajectory

from .bags import BASELINE_M, FOCAL_PX, write_bags


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    return write_bags(tmp_path_factory.mktemp("bags"))


def _traj(msgs: list, name: str) -> Trajectory:
    return Trajectory.from_quaternions(
        [m.pose.translation_m for m in msgs],
        [m.pose.quat_xyzw for m in msgs],
        [m.header.stamp_ns for m in msgs],
        name,
    )


def test_every_metric_matches_a_direct_computation(bags: tuple) -> None:
    run, gt, scene = bags
    result = evaluate(run, gt)
    assert result.topics == {
        "odometry": "/odom",
        "gt_pose": "/ground_truth/pose",
        "disparity": "/disparity",
        "gt_depth": "/ground_truth/depth",
        "detections": "/detections",
        "gt_detections": "/ground_truth/detections_2d",
        "detections_3d": "/detections_3d",
        "gt_detections_3d": "/ground_truth/detections_3d",
        "map": "/map",
        "gt_map": "/ground_truth/map",
        "image": "/left/image_rect",
        "diagnostics": "/diagnostics",
    }
    # trajectory: the same as scoring the decoded poses directly
    direct = evaluate_trajectory(
        _traj(scene.run_odom, "odom"), _traj(scene.gt_poses, "gt"), TrajectoryEvalConfig()
    )
    assert result.trajectory is not None
    assert result.trajectory.ate_m.rmse == pytest.approx(direct.ate_m.rmse, abs=1e-12)
    assert result.trajectory.rpe_trans_m.rmse == pytest.approx(direct.rpe_trans_m.rmse, abs=1e-12)
    assert 0.005 < result.trajectory.ate_m.rmse < 0.03  # 1 cm noise per axis
    # disparity: pooled over the frames, GT disparity = f B / z
    frames = []
    for depth, disp in zip(scene.gt_depth, scene.run_disparity, strict=True):
        d = disp.image.astype(np.float32).copy()
        d[d < 0] = np.inf
        with np.errstate(divide="ignore"):
            d_gt = np.float32(FOCAL_PX * BASELINE_M) / depth.data
        d_gt[~np.isfinite(depth.data)] = np.inf  # unknown depth: unknown disparity
        frames.append(disparity_metrics(d, d_gt))
    expected = DisparityMetrics.pool(frames)
    assert result.disparity is not None
    assert result.disparity.as_dict() == pytest.approx(expected.as_dict())
    assert result.disparity.density_pct == pytest.approx(90.0, abs=1.0)  # 10 % holes
    assert [b.name for b in result.depth_bands] == ["0-2m", "2-5m", "5-10m"]
    assert all(b.pixels > 0 for b in result.depth_bands)
    # relative depth error grows with range for a fixed disparity noise
    rel = [b.abs_rel_mean for b in result.depth_bands]
    assert rel[0] < rel[1] < rel[2]
    # detection: the same as the arrays scored directly
    gt_coco, dets, _ = coco_from_detection_arrays(scene.gt_boxes, scene.run_boxes)
    assert result.detection is not None
    assert result.detection.stats == pytest.approx(evaluate_coco(gt_coco, dets).stats)
    # tracking and 3D error: the same as the arrays scored directly
    tracking, _, _ = evaluate_tracking(scene.gt_boxes, scene.run_boxes)
    assert result.tracking is not None
    scored = result.tracking.as_dict()
    # the runner adds the difficulty levels (their own tests: test_tracking_levels.py)
    assert set(scored.pop("levels")) == {"moderate", "easy"}
    assert scored == tracking.as_dict()
    lifted, _ = evaluate_detections_3d(scene.gt_boxes_3d, scene.run_boxes_3d)
    assert result.detection_3d is not None
    assert result.detection_3d.as_dict() == lifted.as_dict()
    # map and latency
    assert result.occupancy is not None
    assert result.occupancy.as_dict() == occupancy_metrics(scene.run_map, scene.gt_map).as_dict()
    assert list(result.latency) == ["/stereo"]
    assert result.latency["/stereo"].latency_mean_ms == pytest.approx(5.9, abs=0.05)
    assert result.skipped == {}
    assert result.notes == []


def test_failure_analysis_finds_the_bad_frame_and_splits_by_condition(bags: tuple) -> None:
    run, gt, scene = bags
    result = evaluate(run, gt)
    worst = result.worst("depth", "bad_2_total_pct", 1)
    assert worst[0].stamp_ns == scene.gt_depth[7].header.stamp_ns  # the frame made 3 px off
    shots = result.shots["depth"]
    assert shots[0].title == "first frame"
    assert shots[1].stamp_ns == worst[0].stamp_ns
    assert set(shots[1].arrays) == {"disparity", "gt_disparity", "depth", "gt_depth"}
    # detection: frames where the barrel is missed (every third) are the worst
    det_worst = result.worst("detection", "errors", 3)
    assert all(f.values["false_negatives"] >= 1 for f in det_worst)
    assert "image" in result.shots["detection"][0].arrays  # fetched from /left/image_rect
    # conditions: speed from the ground-truth poses, brightness from the camera image
    assert set(result.conditions) == {"speed", "brightness", "range"}
    bright = result.conditions["brightness"]["detection.errors"]
    assert [r["frames"] for r in bright] == [20, 0, 20]  # dark half, bright half
    speed = result.conditions["speed"]["trajectory.ate_m"]
    assert sum(r["frames"] for r in speed) == len(result.trajectory.reference)
    doc = result.metrics()
    json.dumps(doc, allow_nan=False)  # NaN written as null
    assert doc["worst_frames"]["depth.bad_2_total_pct"][0]["stamp_s"] == pytest.approx(
        worst[0].stamp_ns / 1e9
    )


def test_missing_topics_are_skipped_with_the_reason(tmp_path: Path) -> None:
    run, gt, _ = write_bags(tmp_path, seconds=2.0, with_map=False)
    result = evaluate(run, gt)
    assert result.occupancy is None
    assert result.skipped["occupancy"].startswith("no run topic (map: no topic /map)")
    assert result.trajectory is not None
    assert "occupancy" not in result.metrics()
    assert "occupancy" in result.metrics()["skipped"]


def test_ground_truth_inside_the_run_bag_and_namespaced_topics(tmp_path: Path) -> None:
    run, gt, _ = write_bags(tmp_path, seconds=2.0, namespace="/robot1", gt_in_run=True)
    assert run == gt
    result = evaluate(run)
    assert result.topics["odometry"] == "/robot1/odom"
    assert result.topics["disparity"] == "/robot1/disparity"
    assert result.topics["gt_pose"] == "/ground_truth/pose"
    assert result.trajectory is not None
    assert result.disparity is not None
    assert result.detection is not None


def test_topic_overrides_and_unknown_keys(bags: tuple) -> None:
    run, gt, _ = bags
    cfg = EvalConfig().with_topics({"odometry": "/nothing_here"})
    result = evaluate(run, gt, cfg)
    assert result.trajectory is None
    assert "no topic /nothing_here" in result.skipped["trajectory"]
    with pytest.raises(ConfigError, match="unknown keys"):
        EvalConfig().with_topics({"odom": "/x"})


def test_resolve_topics_rules() -> None:
    available = {
        "/a/odom": "nav_msgs/msg/Odometry",
        "/b/odom": "nav_msgs/msg/Odometry",
        "/ground_truth/odom": "nav_msgs/msg/Odometry",
        "/map": "sensor_msgs/msg/Image",
    }
    found, missing = resolve_topics(
        available,
        ["odometry", "map", "gt_pose"],
        {"odometry": ("/odom",), "map": ("/map",), "gt_pose": ("/ground_truth/odom",)},
    )
    assert found == {"gt_pose": "/ground_truth/odom"}
    assert missing["odometry"].startswith("ambiguous: /a/odom, /b/odom")  # never the GT topic
    assert missing["map"].startswith("wrong type: /map (sensor_msgs/msg/Image)")


def test_nothing_to_score_raises(tmp_path: Path, bags: tuple) -> None:
    run, _, _ = bags
    cfg = EvalConfig(topics={k: ("/none",) for k in EvalConfig().topics})
    with pytest.raises(EvalError, match="nothing to score"):
        evaluate(run, None, cfg)


def test_batch_runs_bags_in_parallel(tmp_path: Path, bags: tuple) -> None:
    run, gt, _ = bags
    copy = tmp_path / "run.mcap"
    copy.write_bytes(run.read_bytes())
    broken = tmp_path / "broken.mcap"
    broken.write_bytes(b"not a bag")
    results = evaluate_batch([run, copy, broken], gt, tmp_path / "out", jobs=2)
    assert list(results) == [str(run), str(copy), str(broken)]
    assert results[str(run)]["trajectory"] == results[str(copy)]["trajectory"]
    assert "error" in results[str(broken)]
    assert (tmp_path / "out" / "run" / "report.html").is_file()
    assert (tmp_path / "out" / "run_2" / "metrics.json").is_file()  # same stem, numbered


def test_join_pairs_close_stamps_and_gives_up_on_stale_frames() -> None:
    join = StampJoin(max_diff_ns=1_000, window_ns=10_000)
    assert join.add("gt", 0, "g0") is None
    assert join.add("gt", 5_000, "g5") is None
    assert join.add("run", 5_400, "r5") == ("g5", "r5")  # within 1 us
    assert join.add("run", 30_000, "r30") is None  # g0 is now 30 us behind: dropped
    assert join.unmatched == {"gt": 1, "run": 0}
    assert join.add("gt", 30_000, "g30") == ("g30", "r30")
    join.add("gt", 40_000, "g40")
    join.finish()
    assert join.unmatched == {"gt": 2, "run": 0}


def test_map_in_the_odometry_frame_is_scored_through_the_trajectory_alignment(
    tmp_path: Path,
) -> None:
    # A map built on odometry is in "odom", rotated 0.7 rad and shifted from the truth.
    run, gt, scene = write_bags(tmp_path, seconds=2.0, map_in_odom=True)
    result = evaluate(run, gt)
    assert result.occupancy is not None
    assert scene.run_map is not None
    assert scene.gt_map is not None
    expected = occupancy_metrics(scene.run_map, scene.gt_map)
    assert result.occupancy.occupied_iou == pytest.approx(expected.occupied_iou)
    assert result.occupancy.free_iou == pytest.approx(expected.free_iou)
    assert result.occupancy.observed_cells == expected.observed_cells
    assert any("by the trajectory alignment" in note for note in result.notes)


def test_visible_surface_map_is_read_when_the_ground_truth_has_it(tmp_path: Path) -> None:
    run, gt, scene = write_bags(tmp_path, seconds=3.0, with_visible_map=True)
    result = evaluate(run, gt)
    assert result.occupancy is not None
    assert scene.run_map is not None
    assert scene.gt_map is not None
    expected = occupancy_metrics(scene.run_map, scene.gt_map, visible=scene.gt_map_visible)
    assert expected.visible_cells > 0
    assert result.occupancy.as_dict() == expected.as_dict()
    assert result.topics["gt_map_visible"] == "/ground_truth/map_visible"


def test_map_in_another_frame_without_odometry_is_skipped_with_the_reason(
    tmp_path: Path,
) -> None:
    run, gt, _ = write_bags(tmp_path, seconds=2.0, map_in_odom=True)
    config = EvalConfig().with_topics({"odometry": "/no_such_odom"})
    result = evaluate(run, gt, config)
    assert "no trajectory alignment" in result.skipped["occupancy"]


def test_raw_camera_ground_truth_is_mapped_into_the_rectified_frame(tmp_path: Path) -> None:
    """Synth renders depth for the raw, distorted left image; disparity is rectified."""
    import cv2
    from scipy.spatial.transform import Rotation

    from percept import codecs
    from percept.domain import CameraInfo, Disparity, Header, Image
    from percept.geometry.camera import CameraModel
    from percept.io.bag import BagWriter
    from percept.io.typestore import RosbagsFactory, get_typestore

    from .generators import plane_depth

    w, h, fb = 160, 120, 140.0 * 0.1
    K = np.array([[150.0, 0, 80.0], [0, 150.0, 60.0], [0, 0, 1]])
    D = np.array([-0.25, 0.06, 0.0, 0.0, 0.0])
    R = Rotation.from_euler("xyz", [0.2, -0.3, 0.3], degrees=True).as_matrix()
    P = np.hstack([np.array([[140.0, 0, 82.0], [0, 140.0, 58.0], [0, 0, 1]]), np.zeros((3, 1))])
    model = CameraModel(w, h, "plumb_bob", K, D, R, P)
    normal, offset = np.array([0.2, -0.4, 1.0]), 2.0
    v, u = np.mgrid[0:h, 0:w]
    pix = np.stack([u, v], -1).reshape(-1, 1, 2).astype(np.float64)
    norm = cv2.undistortPoints(pix, K, D).reshape(-1, 2)
    raw = plane_depth(np.hstack([norm, np.ones((norm.shape[0], 1))]), normal, offset)
    rect_rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(P[:, :3]).T
    rect = plane_depth(rect_rays, R @ normal, offset).reshape(h, w)
    store, factory = get_typestore(), RosbagsFactory(get_typestore())

    def put(writer: BagWriter, topic: str, msgtype: str, obj: object, t: int) -> None:
        writer.write(
            topic,
            msgtype,
            t,
            bytes(store.serialize_cdr(codecs.encode(msgtype, obj, factory), msgtype)),
        )

    with BagWriter(tmp_path / "gt.mcap") as gt_bag, BagWriter(tmp_path / "run.mcap") as run_bag:
        for k in range(3):
            header = Header(10**9 * (k + 1), "stereo_left_optical_frame")
            put(
                gt_bag, "/stereo/left/camera_info", codecs.CAMERA_INFO, CameraInfo(header, model), k
            )
            put(
                gt_bag,
                "/ground_truth/left/depth",
                codecs.IMAGE,
                Image(header, "32FC1", raw.reshape(h, w).astype(np.float32)),
                k,
            )
            disp = (fb / rect).astype(np.float32)
            put(
                run_bag,
                "/stereo/disparity",
                codecs.DISPARITY_IMAGE,
                Disparity(header, disp, 140.0, 0.1, 0.0, 64.0, 1.0),
                k,
            )
    result = evaluate(tmp_path / "run.mcap", tmp_path / "gt.mcap")
    assert result.topics["camera_info"] == "/stereo/left/camera_info"
    assert any("rectified frame" in n for n in result.notes)
    assert result.disparity is not None
    assert result.disparity.epe_px < 0.01  # nearest-pixel sampling of a tilted plane
    # the same without the calibration: raw and rectified pixels compared blindly
    blind = evaluate(
        tmp_path / "run.mcap",
        tmp_path / "gt.mcap",
        EvalConfig().with_topics({"camera_info": "/none"}),
    )
    assert blind.disparity is not None
    assert blind.disparity.epe_px > 5 * result.disparity.epe_px
