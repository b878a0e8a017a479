"""``percept eval`` bag mode: tracking and 3D detection error, in metrics.json and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept import codecs
from percept.domain import (
    CameraInfo,
    Detection3D,
    Detection3DArray,
    Header,
    ObjectHypothesis,
)
from percept.eval.config import EvalConfig
from percept.eval.report import format_summary, write_outputs
from percept.eval.runner import evaluate
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.bag import BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore

from .bags import DEPTHS_3D_M, Z_ERRORS_3D_M, write_bags

pytest.importorskip("motmetrics")


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    folder = tmp_path_factory.mktemp("eval_track")
    run, gt, _ = write_bags(folder, with_map=False)
    result = evaluate(run, gt)
    write_outputs(result, folder / "out")
    return result, folder / "out"


def test_tracking_and_3d_error_of_the_test_bags(scored: tuple) -> None:
    result, _ = scored
    tr = result.tracking
    assert tr is not None
    # 40 frames x 3 objects; the barrel missed in the 14 frames k % 3 == 0, a false
    # track in the 10 frames k % 4 == 1, no identity changes
    assert (tr.num_objects, tr.num_frames, tr.gt_tracks) == (120, 40, 3)
    assert (tr.num_misses, tr.num_false_positives, tr.num_switches) == (14, 10, 0)
    assert tr.mota == pytest.approx(1 - 24 / 120)
    d3 = result.detection_3d
    assert d3 is not None
    bands = {b.band: b for b in d3.bands}
    # objects at 1.5, 3 and 7 m, lifted too far by 0.1, 0.2 and 0.4 m
    assert DEPTHS_3D_M == (1.5, 3.0, 7.0)
    for name, err in zip(("0-2m", "2-4m", "6-10m"), Z_ERRORS_3D_M, strict=True):
        assert bands[name].median_m == pytest.approx(err)
        assert bands[name].median_z_err_m == pytest.approx(err)
    assert (bands["6-10m"].objects, bands["6-10m"].matched) == (40, 26)
    assert bands["4-6m"].objects == 0
    assert "tracking" not in result.skipped
    assert "detection_3d" not in result.skipped


def test_metrics_json_and_report_carry_them(scored: tuple) -> None:
    result, out = scored
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["tracking"]["num_switches"] == 0
    assert doc["tracking"]["mota"] == pytest.approx(0.8)
    # the missed barrel has no box near it; the false track is on the background
    assert doc["tracking"]["miss_causes"]["undetected"] == 14
    assert doc["tracking"]["fp_causes"]["background"] == 10
    assert doc["detection_3d"]["by_range"]["2-4m"]["median_m"] == pytest.approx(0.2)
    assert doc["detection_3d"]["by_range"]["4-6m"]["median_m"] is None  # NaN: no objects
    page = (out / "report.html").read_text()
    assert "<h2>Tracking</h2>" in page
    assert "Why boxes are missed or false" in page
    assert "<h2>3D detection error</h2>" in page
    assert (out / "detection_3d_error.png").is_file()
    text = format_summary(result)
    assert "MOTA" in text
    assert "(14 undetected)" in text
    assert "(10 background)" in text
    assert "3D centre error median" in text


def test_a_missing_3d_topic_is_skipped_with_the_reason(tmp_path: Path) -> None:
    run, gt, _ = write_bags(tmp_path, with_map=False)
    cfg = EvalConfig().with_topics({"detections_3d": "/nothing_3d"})
    result = evaluate(run, gt, cfg)
    assert result.detection_3d is None
    assert "no topic /nothing_3d" in result.skipped["detection_3d"]
    assert result.tracking is not None  # the rest is still scored


def _put(writer: BagWriter, topic: str, msgtype: str, obj: object, t: int) -> None:
    store, factory = get_typestore(), RosbagsFactory(get_typestore())
    msg = codecs.encode(msgtype, obj, factory)
    writer.write(topic, msgtype, t, bytes(store.serialize_cdr(msg, msgtype)))


def test_ground_truth_is_rotated_into_the_rectified_camera(tmp_path: Path) -> None:
    R = Rotation.from_euler("xyz", [1.0, -2.0, 0.5], degrees=True).as_matrix()
    K = np.array([[100.0, 0, 40], [0, 100.0, 30], [0, 0, 1]])
    model = CameraModel(80, 60, "plumb_bob", K, np.zeros(5), R, np.hstack([K, np.zeros((3, 1))]))
    frame = "stereo_left_optical_frame"
    raw = np.array([[0.5, -0.2, 4.0], [-1.0, 0.1, 8.0]])
    hyp = (ObjectHypothesis("box", 1.0),)
    with BagWriter(tmp_path / "gt.mcap") as gt_bag, BagWriter(tmp_path / "run.mcap") as run_bag:
        for k in range(3):
            header = Header(10**9 * (k + 1), frame)
            _put(
                gt_bag, "/stereo/left/camera_info", codecs.CAMERA_INFO, CameraInfo(header, model), k
            )
            truth = tuple(Detection3D(Pose(c), np.ones(3), hyp, str(i)) for i, c in enumerate(raw))
            lifted = tuple(Detection3D(Pose(R @ c), np.ones(3), hyp) for c in raw)
            _put(
                gt_bag,
                "/ground_truth/left/detections_3d",
                codecs.DETECTION3D_ARRAY,
                Detection3DArray(header, truth),
                k,
            )
            _put(
                run_bag,
                "/detections_3d",
                codecs.DETECTION3D_ARRAY,
                Detection3DArray(header, lifted),
                k,
            )
    result = evaluate(tmp_path / "run.mcap", tmp_path / "gt.mcap")
    d3 = result.detection_3d
    assert d3 is not None
    assert d3.rectified
    assert d3.overall.matched == 6
    assert d3.overall.mean_m == pytest.approx(0.0, abs=1e-9)
    assert any("rotated into the rectified camera" in n for n in result.notes)
    assert "tracking" in result.skipped  # no 2D topics in these bags
    # boxes said to be in the raw camera: compared as they are, off by the rotation
    raw_cfg = EvalConfig(detections_3d_rectified=False)
    unrotated = evaluate(tmp_path / "run.mcap", tmp_path / "gt.mcap", raw_cfg).detection_3d
    assert unrotated is not None
    assert not unrotated.rectified
    assert unrotated.overall.mean_m > 0.05
