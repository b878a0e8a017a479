"""Decoders and NMS on hand-built output tensors of each model family."""

from __future__ import annotations

import numpy as np
import pytest

from percept.detect.decode import choose_layout, decode_outputs
from percept.detect.nms import batched_nms, box_iou_one_to_many
from percept.errors import DetectionError


def _v8(rows: list[list[float]], anchors: int = 16) -> np.ndarray:
    """(1, 4+C, anchors) from rows [cx, cy, w, h, s0, s1, ...]; other anchors score 0."""
    arr = np.asarray(rows, np.float32)
    out = np.zeros((1, arr.shape[1], anchors), np.float32)
    out[0, :, : arr.shape[0]] = arr.T
    return out


def test_yolov8_decoder_and_nms_give_exactly_the_expected_boxes() -> None:
    out = _v8(
        [
            [50, 50, 20, 20, 0.9, 0.0],  # kept
            [52, 50, 20, 20, 0.8, 0.1],  # same class, IoU 0.82 with the first: suppressed
            [52, 50, 20, 20, 0.0, 0.7],  # other class at the same place: kept
            [10, 10, 4, 6, 0.3, 0.2],  # kept, alone
            [90, 90, 8, 8, 0.2, 0.1],  # below the threshold
        ]
    )
    layout = choose_layout([out.shape])
    assert (layout.decoder, layout.num_classes, layout.transposed) == ("yolov8", 2, False)
    (cand,) = decode_outputs([out], layout, 0.25, 100, 100)
    keep = batched_nms(cand.boxes_xyxy, cand.scores, cand.class_ids, 0.45)
    np.testing.assert_array_equal(
        cand.boxes_xyxy[keep], [[40, 40, 60, 60], [42, 40, 62, 60], [8, 7, 12, 13]]
    )
    np.testing.assert_array_equal(cand.class_ids[keep], [0, 1, 0])
    np.testing.assert_allclose(cand.scores[keep], [0.9, 0.7, 0.3], rtol=1e-6)


def test_yolov8_transposed_export_is_read_when_asked_for() -> None:
    out = np.transpose(_v8([[50, 50, 20, 20, 0.1, 0.9]]), (0, 2, 1))  # (1, 16, 6)
    layout = choose_layout([out.shape], "yolov8")
    assert layout.transposed
    (cand,) = decode_outputs([out], layout, 0.25, 100, 100)
    np.testing.assert_array_equal(cand.boxes_xyxy, [[40, 40, 60, 60]])
    assert cand.class_ids.tolist() == [1]


def test_yolov5_decoder_multiplies_objectness_by_class_probability() -> None:
    out = np.zeros((1, 1200, 7), np.float32)  # (B, N, 5+C), C = 2
    out[0, :, 2:4] = 1
    out[0, 0] = [30, 40, 10, 20, 0.9, 0.5, 1.0]  # score 0.9 x 1.0, class 1
    out[0, 1] = [30, 40, 10, 20, 0.2, 1.0, 0.0]  # objectness below the threshold
    out[0, 2] = [70, 70, 10, 10, 0.5, 0.8, 0.2]  # score 0.4, class 0
    layout = choose_layout([out.shape])
    assert (layout.decoder, layout.num_classes) == ("yolov5", 2)
    (cand,) = decode_outputs([out], layout, 0.25, 100, 100)
    keep = batched_nms(cand.boxes_xyxy, cand.scores, cand.class_ids, 0.45)
    np.testing.assert_array_equal(cand.boxes_xyxy[keep], [[25, 30, 35, 50], [65, 65, 75, 75]])
    np.testing.assert_allclose(cand.scores[keep], [0.9, 0.4], rtol=1e-6)
    assert cand.class_ids[keep].tolist() == [1, 0]


def test_yolov10_end_to_end_rows_pass_through_without_nms() -> None:
    out = np.zeros((1, 300, 6), np.float32)
    out[0, 0] = [1, 2, 11, 22, 0.95, 3]
    out[0, 1] = [1, 2, 11, 22, 0.90, 3]  # a duplicate the model chose to keep: kept
    out[0, 2] = [5, 5, 6, 6, 0.10, 1]
    layout = choose_layout([out.shape])
    assert layout.decoder == "yolov10"
    assert not layout.needs_nms
    (cand,) = decode_outputs([out], layout, 0.25, 100, 100)
    np.testing.assert_array_equal(cand.boxes_xyxy, [[1, 2, 11, 22], [1, 2, 11, 22]])
    assert cand.class_ids.tolist() == [3, 3]


def test_rtdetr_boxes_are_normalised_centre_size() -> None:
    out = np.zeros((1, 300, 4 + 3), np.float32)
    out[0, 0] = [0.5, 0.25, 0.1, 0.2, 0.1, 0.2, 0.8]
    layout = choose_layout([out.shape])
    assert (layout.decoder, layout.num_classes) == ("rtdetr", 3)
    (cand,) = decode_outputs([out], layout, 0.25, 200, 100)
    np.testing.assert_allclose(cand.boxes_xyxy, [[90, 15, 110, 35]], atol=1e-4)
    assert cand.class_ids.tolist() == [2]


@pytest.mark.parametrize("with_count", [False, True])
def test_boxes_scores_labels_outputs_are_told_apart_by_shape_and_type(with_count: bool) -> None:
    boxes = np.zeros((2, 100, 4), np.float32)
    scores = np.zeros((2, 100), np.float32)
    labels = np.zeros((2, 100), np.int64)
    boxes[0, :2] = [[1, 1, 5, 5], [2, 2, 8, 8]]
    scores[0, :2] = [0.9, 0.8]
    labels[0, :2] = [4, 7]
    boxes[1, 0], scores[1, 0], labels[1, 0] = [3, 3, 9, 9], 0.7, 2
    outputs: list[np.ndarray] = [labels, boxes, scores]  # RT-DETR (lyuwenyu) order
    names = ["labels", "boxes", "scores"]
    if with_count:  # EfficientNMS: num_dets says only the first one is real in image 0
        outputs = [np.array([[1], [1]], np.int32), boxes, scores, labels]
        names = ["num_dets", "det_boxes", "det_scores", "det_classes"]
    layout = choose_layout([o.shape for o in outputs], names=names)
    assert layout.decoder == "boxes_scores_labels"
    first, second = decode_outputs(outputs, layout, 0.25, 100, 100)
    expected = [[1, 1, 5, 5]] if with_count else [[1, 1, 5, 5], [2, 2, 8, 8]]
    np.testing.assert_array_equal(first.boxes_xyxy, expected)
    assert first.class_ids.tolist() == ([4] if with_count else [4, 7])
    np.testing.assert_array_equal(second.boxes_xyxy, [[3, 3, 9, 9]])
    assert second.class_ids.tolist() == [2]


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        ([(1, 84)], "rank 2, not 3"),
        ([(1, 84, 8400, 1)], "rank 4, not 3"),
        ([(1, 3, 4), (1, 5)], "not boxes/scores/labels"),
        ([(1, None, None)], "both output dimensions are dynamic"),
    ],
)
def test_unexpected_outputs_fail_naming_seen_and_expected_shapes(
    shapes: list[tuple[int | None, ...]], match: str
) -> None:
    with pytest.raises(DetectionError, match=match) as err:
        choose_layout(shapes)
    assert "expected yolov8/yolo11 (B, 4+C, N)" in str(err.value)
    assert str(tuple("?" if d is None else d for d in shapes[0])) in str(err.value)


def test_a_forced_decoder_that_does_not_fit_fails() -> None:
    with pytest.raises(DetectionError, match="yolov10 needs a last dimension of 6"):
        choose_layout([(1, 300, 85)], "yolov10")
    with pytest.raises(DetectionError, match="decoder must be auto or one of"):
        choose_layout([(1, 84, 8400)], "yolov99")


def _clustered_boxes(
    rng: np.random.Generator, n: int, objects: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n proposals jittered around objects, as a detector head produces them."""
    centers = rng.uniform(0, 1000, (objects, 2))
    sizes = rng.uniform(10, 150, (objects, 2))
    which = rng.integers(0, objects, n)
    xy = centers[which] + rng.normal(0, 0.15, (n, 2)) * sizes[which]
    wh = sizes[which] * rng.uniform(0.7, 1.3, (n, 2))
    boxes_xywh = np.hstack([xy - wh / 2, wh])
    scores = rng.uniform(0, 1, n).astype(np.float32)
    classes = (which % 7 + rng.integers(0, 2, n)).astype(np.int32)
    return boxes_xywh, scores, classes


def _reference_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, score: float
) -> list[int]:
    """Greedy NMS written out, per class, one box at a time (the definition)."""
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > score]
    kept: list[int] = []
    for i in order:
        same = [k for k in kept if classes[k] == classes[i]]
        if not same or box_iou_one_to_many(boxes[i], boxes[same]).max() <= np.float32(iou):
            kept.append(i)
    return kept


def test_nms_keeps_the_boxes_of_greedy_nms_on_2000_random_boxes() -> None:
    rng = np.random.default_rng(0)
    boxes_xywh, scores, classes = _clustered_boxes(rng, 2000, 120)
    boxes_xyxy = np.hstack([boxes_xywh[:, :2], boxes_xywh[:, :2] + boxes_xywh[:, 2:]])
    ours = batched_nms(boxes_xyxy, scores, classes, 0.5, 0.05)
    assert 200 < ours.size < 1800  # many kept, many suppressed: the comparison means something
    assert ours.tolist() == _reference_nms(boxes_xyxy, scores, classes, 0.5, 0.05)


def test_nms_with_many_classes_and_a_detection_cap() -> None:
    rng = np.random.default_rng(1)
    boxes_xywh, scores, _ = _clustered_boxes(rng, 1500, 30)
    classes = rng.integers(0, 80, 1500).astype(np.int32)
    boxes_xyxy = np.hstack([boxes_xywh[:, :2], boxes_xywh[:, :2] + boxes_xywh[:, 2:]])
    ours = batched_nms(boxes_xyxy, scores, classes, 0.45, 0.1)
    assert ours.tolist() == _reference_nms(boxes_xyxy, scores, classes, 0.45, 0.1)
    capped = batched_nms(boxes_xyxy, scores, classes, 0.45, 0.1, max_detections=300)
    np.testing.assert_array_equal(capped, ours[:300])


def test_nms_threshold_is_strict_and_ties_keep_input_order() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], np.float64)
    scores = np.array([0.5, 0.5, 0.25], np.float32)
    keep = batched_nms(boxes, scores, np.zeros(3, int), 0.5, score_threshold=0.25)
    assert keep.tolist() == [0]  # 0.25 is not > 0.25; the tie keeps the first
    assert batched_nms(boxes, scores, np.zeros(3, int), 0.5, max_detections=1).tolist() == [0]
    with pytest.raises(ValueError, match=r"boxes \(N, 4\)"):
        batched_nms(boxes[:, :3], scores, np.zeros(3, int), 0.5)


def test_iou_of_zero_area_boxes_is_one_as_opencv() -> None:
    iou = box_iou_one_to_many(np.zeros(4), np.zeros((1, 4)))
    assert iou.tolist() == [1.0]


def test_rtdetr_topk_is_told_from_yolov10_by_the_metadata_head() -> None:
    assert choose_layout([(1, 300, 6)]).decoder == "yolov10"
    layout = choose_layout([(1, 300, 6)], head="RTDETRDecoder")
    assert layout.decoder == "rtdetr_topk"
    assert not layout.needs_nms
    out = np.zeros((1, 3, 6), np.float32)
    out[0, 0] = [0.5, 0.25, 0.2, 0.1, 0.9, 7]  # cx, cy, w, h normalised, score, class
    out[0, 1] = [0.1, 0.1, 0.1, 0.1, 0.2, 3]  # below the threshold
    (cand,) = decode_outputs([out], layout, 0.25, 640, 320)
    np.testing.assert_allclose(cand.boxes_xyxy, [[256, 64, 384, 96]])
    assert cand.class_ids.tolist() == [7]
    np.testing.assert_allclose(cand.scores, [0.9])
