"""The detector node through the local runtime: detections, tracks, drops, 3D, failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percept.detect.shipped import SHIPPED_MODEL
from percept.domain import (
    CameraInfo,
    Detection2DArray,
    Detection3DArray,
    DiagnosticLevel,
    Disparity,
    Header,
    Image,
    MarkerAction,
    MarkerArray,
    MarkerType,
    TransformStamped,
)
from percept.errors import ConfigError
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.nodes.detector import DetectorNode
from percept.testing import NodeHarness

from ..detect_models import constant_output_model, yolov8_output

FRAME_NS = 33_333_333
IMAGE = "sensor_msgs/msg/Image"
INFO = "sensor_msgs/msg/CameraInfo"
K = np.array([[50.0, 0.0, 32.0], [0.0, 50.0, 24.0], [0.0, 0.0, 1.0]])
CAMERA = CameraModel(
    64, 48, "plumb_bob", K, np.zeros(5), np.eye(3), np.hstack([K, np.zeros((3, 1))])
)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    # Network 64x64; a 64x48 image sits at pad_y = 8: a "car" box (22..42, 18..38)
    # in the image, and a weak "person" (score 0.2): below score_threshold, and too
    # weak to start a track, so never published.
    out = yolov8_output([[32, 36, 20, 20], [10, 50, 6, 6]], [[0.0, 0.9], [0.2, 0.0]])
    path = constant_output_model(folder / "det.onnx", [("output0", out)])
    (folder / "det.labels.txt").write_text("person\ncar\n", encoding="utf-8")
    return path


def detector_node(**params: object) -> NodeHarness[DetectorNode]:
    """The detector node with ``params`` on a local runtime, every output collected."""
    return NodeHarness(DetectorNode, params)


def frame(g: NodeHarness[DetectorNode], k: int, encoding: str = "bgr8", spin: bool = True) -> int:
    """Feed frame ``k`` (camera_info, then a black image) at its stamp; returns the stamp."""
    stamp = 1_000_000_000 + k * FRAME_NS
    header = Header(stamp, "camera_optical")
    g.feed("camera_info", CameraInfo(header, CAMERA), stamp, spin=spin)
    data = np.zeros((48, 64, 3), np.uint8) if encoding == "bgr8" else np.zeros((48, 64), np.float32)
    g.feed("image", Image(header, encoding, data), stamp, spin=spin)
    return stamp


def test_without_a_model_the_node_starts_rejects_images_and_reports_error() -> None:
    g = detector_node(model_path="")
    frame(g, 0)
    assert g.outputs("detections") == []
    assert g.rejections()["image"] == (1, "model_path not set")
    status = g.diagnostics()
    assert status.level == DiagnosticLevel.ERROR
    assert status.message == "model_path not set"


def test_by_default_the_node_runs_the_shipped_model() -> None:
    g = detector_node(backend="onnxruntime")
    detector = g.host.node._detector  # type: ignore[attr-defined]
    assert detector is not None
    assert detector.config.model_path == SHIPPED_MODEL
    assert detector.labels == ("pallet", "carton", "barrel", "person", "cart")
    frame(g, 0)
    assert len(g.outputs("detections")) == 1
    assert g.diagnostics().level == DiagnosticLevel.OK


def test_detections_carry_names_scores_and_track_ids(model: Path) -> None:
    g = detector_node(model_path=str(model), backend="onnxruntime")
    for k in range(3):
        frame(g, k)
    frames = g.outputs("detections")
    assert len(frames) == 3
    first, second = frames[0], frames[1]
    assert isinstance(first, Detection2DArray)
    assert isinstance(second, Detection2DArray)
    (car,) = first.detections
    assert car.center_uv == (32.0, 28.0)
    assert car.size_uv == (20.0, 20.0)
    assert car.results[0].class_id == "car"
    assert car.results[0].score == pytest.approx(0.9)
    assert car.id == ""  # tentative for one frame (track_min_hits 2)
    assert [d.id for d in second.detections] == ["1"]
    status = g.diagnostics()
    assert status.level == DiagnosticLevel.OK
    values = dict(status.values)
    assert values["frames_processed"] == "3"
    assert values["frames_dropped"] == "0"
    assert values["decoder"] == "yolov8"


def test_bad_images_are_rejected_and_the_next_one_served(model: Path) -> None:
    g = detector_node(model_path=str(model), backend="onnxruntime", tracking=False)
    frame(g, 0, encoding="32FC1")
    assert "unsupported image encoding '32FC1'" in g.rejections()["image"].last_reason
    g.feed(
        "image",
        Image(Header(2_000_000_000, "cam"), "bgr8", np.zeros((0, 64, 3), np.uint8)),
        2_000_000_000,
    )
    assert g.rejections()["image"].last_reason == "empty image 64x0"
    frame(g, 40)
    assert len(g.outputs("detections")) == 1
    assert g.errors == 0


def test_a_slow_detector_drops_frames_newest_first_and_says_so(model: Path) -> None:
    g = detector_node(model_path=str(model), backend="onnxruntime")
    frame(g, 0)
    # Three frames arrive while the detector is busy: only the newest is detected.
    newest = [frame(g, k, spin=False) for k in (1, 2, 3)][-1]
    g.spin()
    stamps = [d.header.stamp_ns for d in g.outputs("detections")]  # type: ignore[attr-defined]
    assert stamps[-1] == newest
    assert len(stamps) == 2
    assert g.host.monitor.inputs["image"].dropped == 2  # KEEP_LAST 1 queue
    status = g.diagnostics()
    assert dict(status.values)["frames_dropped"] == "2"  # counted from camera_info stamps
    assert status.level == DiagnosticLevel.WARN
    assert "inference slower than the camera" in status.message
    assert "newest frame wins" in status.message


def _tf(g: NodeHarness[DetectorNode]) -> None:
    # base_link <- camera_optical: the optical frame's z (forward) is base_link's x.
    rotation = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    T = np.eye(4)
    T[:3, :3] = rotation
    T[:3, 3] = [0.1, 0.0, 0.5]
    transform = TransformStamped(Header(0, "base_link"), "camera_optical", Pose.from_matrix(T))
    g.feed_transforms([transform], 0, spin=False)


def test_depth_gives_3d_boxes_in_camera_and_base_frames_and_markers(model: Path) -> None:
    g = detector_node(
        model_path=str(model), backend="onnxruntime", depth_source="depth", tracking=False
    )
    _tf(g)
    stamp = frame(g, 0)
    depth = np.full((48, 64), 5.0, np.float32)
    depth[18:38, 22:42] = 2.0  # the car's face at 2 m
    g.feed("depth", Image(Header(stamp + 1_000_000, "camera_optical"), "32FC1", depth), stamp)
    (camera,) = g.outputs("detections_3d")
    assert isinstance(camera, Detection3DArray)
    (box,) = camera.detections
    assert camera.header.frame_id == "camera_optical"
    np.testing.assert_allclose(box.center.translation_m, [0.0, 0.16, 2.0], atol=0.02)
    np.testing.assert_allclose(box.size_m[:2], [0.8, 0.8], atol=1e-6)
    assert box.results[0].class_id == "car"
    (base,) = g.outputs("detections_3d_target")
    assert isinstance(base, Detection3DArray)
    assert base.header.frame_id == "base_link"
    np.testing.assert_allclose(base.detections[0].center.translation_m, [2.1, 0.0, 0.34], atol=0.02)
    (markers,) = g.outputs("markers")
    assert isinstance(markers, MarkerArray)
    assert [m.action for m in markers.markers] == [
        MarkerAction.DELETEALL,
        MarkerAction.ADD,
        MarkerAction.ADD,
    ]
    assert markers.markers[1].type == MarkerType.CUBE
    assert markers.markers[2].text == "car"


def test_disparity_source_and_a_missing_transform(model: Path) -> None:
    g = detector_node(
        model_path=str(model), backend="onnxruntime", depth_source="disparity", tracking=False
    )
    disparity = np.full((48, 64), 10.0, np.float32)  # 50 px x 0.4 m / 10 px = 2 m
    stamp = 1_000_000_000
    g.feed("disparity", Disparity(Header(stamp, "camera_optical"), disparity, 50.0, 0.4), stamp)
    frame(g, 0)  # the image comes after its disparity
    (camera,) = g.outputs("detections_3d")
    assert isinstance(camera, Detection3DArray)
    assert camera.detections[0].center.translation_m[2] == pytest.approx(2.0, abs=0.02)
    assert g.outputs("detections_3d_target") == []  # no TF to base_link
    values = dict(g.diagnostics().values)
    assert values["tf_failures"] == "1"
    assert "base_link" in values["last_3d_problem"]


def test_debug_image_has_the_boxes_drawn(model: Path) -> None:
    g = detector_node(model_path=str(model), backend="onnxruntime", publish_debug_image=True)
    frame(g, 0)
    (image,) = g.outputs("image_detections")
    assert isinstance(image, Image)
    assert image.encoding == "bgr8"
    assert image.data.shape == (48, 64, 3)
    assert image.data[18:38, 22:42].any()


def test_model_problems_fail_at_start_up_or_refuse_the_change(model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"detector.model_path: .*missing.onnx: no such model"):
        detector_node(model_path=str(tmp_path / "missing.onnx"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage")
    g = detector_node(model_path="")
    reason = g.set_parameters({"model_path": str(corrupt)})
    assert reason is not None
    assert "cannot load the model" in reason
    assert g.diagnostics().level == DiagnosticLevel.ERROR
    assert g.set_parameters({"model_path": str(model), "backend": "onnxruntime"}) is None
    frame(g, 0)
    assert len(g.outputs("detections")) == 1
    assert g.diagnostics().level == DiagnosticLevel.OK
    # Thresholds apply to the loaded model without reloading it.
    detector = g.host.node._detector  # type: ignore[attr-defined]
    assert g.set_parameters({"score_threshold": 0.95, "tracking": False}) is None
    assert g.host.node._detector is detector  # type: ignore[attr-defined]
    assert g.set_parameters({"tile_scale": 1.5}) is None  # tiling needs no reload either
    assert g.host.node._detector is detector  # type: ignore[attr-defined]
    assert detector.config.tile_scale == 1.5
    frame(g, 1)
    assert g.outputs("detections")[-1].detections == ()  # type: ignore[attr-defined]
    assert "unknown class name" in (g.set_parameters({"classes": "bus"}) or "")


@pytest.mark.parametrize("tile_scale", [1.0, 1.5])
def test_300_malformed_images_never_break_the_node(model: Path, tile_scale: float) -> None:
    from percept import codecs
    from percept.io.typestore import RosbagsFactory

    from .malformed import mutate

    rng = np.random.default_rng(3)
    g = detector_node(model_path=str(model), backend="onnxruntime", tile_scale=tile_scale)
    factory = RosbagsFactory()
    for k in range(300):
        stamp = 1_000_000_000 + 2 * k * FRAME_NS
        good = Image(Header(stamp, "cam"), "bgr8", np.zeros((48, 64, 3), np.uint8))
        bad = mutate(codecs.encode(IMAGE, good, factory), rng)
        g.feed("image", bad, stamp)
        before = len(g.outputs("detections"))
        later = Image(Header(stamp + FRAME_NS, "cam"), "bgr8", np.zeros((48, 64, 3), np.uint8))
        g.feed("image", codecs.encode(IMAGE, later, factory), stamp + FRAME_NS)
        assert len(g.outputs("detections")) == before + 1
    assert g.errors == 0
    assert g.rejections()["image"].rejected > 100
