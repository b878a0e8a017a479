"""The detector end to end on tiny ONNX models run by ONNX Runtime, and its failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percept.detect.backend import BackendOptions, open_backend, tensorrt_available
from percept.detect.detector import Detector, DetectorConfig
from percept.detect.ort import OnnxRuntimeBackend, choose_providers
from percept.errors import DetectionError

from ...detect_models import (
    constant_output_model,
    rtdetr_with_sizes_model,
    yolov5_output,
    yolov8_output,
)

NAMES = "{0: 'person', 1: 'car'}"


@pytest.fixture
def v8_model(tmp_path: Path) -> Path:
    out = yolov8_output(
        [[32, 32, 20, 10], [33, 32, 20, 10], [10, 50, 8, 8]],
        [[0.9, 0.0], [0.6, 0.0], [0.0, 0.4]],
    )
    return constant_output_model(
        tmp_path / "v8.onnx", [("output0", out)], metadata={"names": NAMES}
    )


def test_yolov8_model_through_onnxruntime_maps_boxes_to_each_image(v8_model: Path) -> None:
    detector = Detector(DetectorConfig(v8_model, backend="onnxruntime"))
    assert detector.labels == ("person", "car")
    assert detector.layout.decoder == "yolov8"
    assert detector.backend.name.startswith("onnxruntime")
    wide = np.zeros((32, 64, 3), np.uint8)  # r = 1, pad_y = 16
    tall = np.zeros((128, 64, 3), np.uint8)  # r = 0.5, pad_x = 16
    first, second = detector.detect([wide, tall])
    np.testing.assert_allclose(first.boxes_xyxy, [[22, 11, 42, 21], [6, 30, 14, 32]])
    # The second box lies in the padding left of the tall image: clipped to x = 0.
    np.testing.assert_allclose(second.boxes_xyxy, [[12, 54, 52, 74], [0, 92, 0, 108]])
    assert first.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(first.scores, [0.9, 0.4], rtol=1e-6)
    (only_person,) = Detector(
        DetectorConfig(v8_model, backend="onnxruntime", classes=("person",))
    ).detect([wide])
    assert only_person.class_ids.tolist() == [0]


def test_set_thresholds_refilters_the_loaded_model_and_refuses_bad_values(
    v8_model: Path,
) -> None:
    detector = Detector(DetectorConfig(v8_model, backend="onnxruntime"))
    image = np.zeros((32, 64, 3), np.uint8)
    detector.set_thresholds(
        score_threshold=0.5, iou_threshold=0.45, max_detections=300, classes=("person",)
    )
    assert detector.config.classes == ("person",)
    (result,) = detector.detect([image])
    np.testing.assert_allclose(result.scores, [0.9], rtol=1e-6)
    detector.set_thresholds(
        score_threshold=0.5, iou_threshold=0.99, max_detections=1, classes=("0",)
    )
    assert len(detector.detect([image])[0]) == 1
    # The two person boxes overlap (IoU 0.9): an IoU threshold of 0.99 keeps both.
    detector.set_thresholds(score_threshold=0.5, iou_threshold=0.99, max_detections=5, classes=())
    np.testing.assert_allclose(detector.detect([image])[0].scores, [0.9, 0.6], rtol=1e-6)
    before = detector.config
    with pytest.raises(DetectionError, match="unknown class name 'bus'"):
        detector.set_thresholds(
            score_threshold=0.1, iou_threshold=0.5, max_detections=5, classes=("bus",)
        )
    with pytest.raises(DetectionError, match=r"\['score_threshold'\] out of range"):
        detector.set_thresholds(
            score_threshold=1.5, iou_threshold=0.5, max_detections=5, classes=()
        )
    assert detector.config is before
    assert detector.allowed is None


def test_static_batch_and_half_precision_inputs(tmp_path: Path) -> None:
    out = yolov5_output([[32, 32, 10, 10]], [0.8], [[0.0, 1.0, 0.0]])
    model = constant_output_model(
        tmp_path / "v5.onnx", [("output", out)], batch=1, input_dtype=np.float16
    )
    (tmp_path / "v5.labels.txt").write_text("a\nb\nc\n", encoding="utf-8")
    # 64 rows of 5+C could also be RT-DETR's 4+C queries: the parameter says which.
    detector = Detector(DetectorConfig(model, backend="onnxruntime", decoder="yolov5"))
    assert detector.input_dtype is np.float16
    assert detector.static_batch == 1
    assert detector.labels == ("a", "b", "c")
    results = detector.detect([np.zeros((64, 64, 3), np.uint8)] * 3)  # three runs of one
    assert [r.class_ids.tolist() for r in results] == [[1], [1], [1]]
    np.testing.assert_allclose(results[2].boxes_xyxy, [[27, 27, 37, 37]])


def test_yolov10_model_end_to_end(tmp_path: Path) -> None:
    out = np.zeros((1, 300, 6), np.float32)
    out[0, 0] = [10, 20, 30, 40, 0.9, 1]
    out[0, 1] = [11, 20, 30, 40, 0.85, 1]  # NMS-free: both kept
    model = constant_output_model(tmp_path / "v10.onnx", [("output0", out)])
    (dets,) = Detector(DetectorConfig(model, backend="onnxruntime")).detect(
        [np.zeros((64, 64, 3), np.uint8)]
    )
    np.testing.assert_allclose(dets.boxes_xyxy, [[10, 20, 30, 40], [11, 20, 30, 40]])


def test_rtdetr_with_a_target_size_input_gets_the_network_size(tmp_path: Path) -> None:
    boxes = np.zeros((1, 300, 4), np.float32)
    boxes[0, 0] = [0.25, 0.5, 0.5, 0.75]
    scores = np.zeros((1, 300), np.float32)
    scores[0, 0] = 0.8
    labels = np.full((1, 300), 2, np.int64)
    model = rtdetr_with_sizes_model(tmp_path / "rtdetr.onnx", boxes, scores, labels)
    detector = Detector(DetectorConfig(model, backend="onnxruntime"))
    assert detector.layout.decoder == "boxes_scores_labels"
    (dets,) = detector.detect([np.zeros((64, 64, 3), np.uint8)])
    np.testing.assert_allclose(dets.boxes_xyxy, [[16, 32, 32, 48]])
    assert dets.class_ids.tolist() == [2]


def test_missing_empty_and_corrupt_model_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(DetectionError, match="no such model file"):
        Detector(DetectorConfig(tmp_path / "absent.onnx", backend="onnxruntime"))
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(DetectionError, match="the model file is empty"):
        Detector(DetectorConfig(empty, backend="onnxruntime"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DetectionError, match="ONNX Runtime cannot load the model"):
        Detector(DetectorConfig(corrupt, backend="onnxruntime"))


def test_wrong_rank_outputs_fail_at_start_up_with_the_shapes(tmp_path: Path) -> None:
    model = constant_output_model(tmp_path / "flat.onnx", [("logits", np.zeros((1, 84)))])
    with pytest.raises(DetectionError, match=r"model outputs \(1, 84\): the output has rank 2"):
        Detector(DetectorConfig(model, backend="onnxruntime"))


def test_labels_that_do_not_match_the_classes_fail(tmp_path: Path) -> None:
    out = yolov8_output([[32, 32, 4, 4]], [[0.9, 0.1]])
    model = constant_output_model(tmp_path / "m.onnx", [("output0", out)])
    (tmp_path / "m.names").write_text("one\ntwo\nthree\n", encoding="utf-8")
    with pytest.raises(DetectionError, match="3 class names for a model with 2 classes"):
        Detector(DetectorConfig(model, backend="onnxruntime"))
    two = tmp_path / "two.txt"
    two.write_text("person\ncar\n", encoding="utf-8")
    with pytest.raises(DetectionError, match="unknown class name 'bus'"):
        Detector(DetectorConfig(model, backend="onnxruntime", classes=("bus",), labels_path=two))


def test_execution_provider_choice() -> None:
    cpu = "CPUExecutionProvider"
    every = ["TensorrtExecutionProvider", "CUDAExecutionProvider", cpu]
    assert choose_providers(every) == every
    assert choose_providers(every, "cuda") == ["CUDAExecutionProvider", cpu]
    assert choose_providers(every, "cpu") == [cpu]
    with pytest.raises(DetectionError, match="not installed here"):
        choose_providers([cpu], "tensorrt")


def test_auto_backend_falls_back_to_onnxruntime_and_says_why(
    v8_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    usable, why = tensorrt_available()
    if usable:
        pytest.skip(f"TensorRT is usable here ({why}); auto picks it")
    caplog.set_level("INFO", logger="percept.detect.backend")
    backend = open_backend(v8_model, "auto", BackendOptions(threads=1))
    assert isinstance(backend, OnnxRuntimeBackend)
    assert f"onnxruntime (TensorRT not used: {why})" in caplog.text
    with pytest.raises(DetectionError, match="backend tensorrt cannot run here"):
        open_backend(v8_model, "tensorrt")
