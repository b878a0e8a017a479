"""The pairing of ``percept.tools.ultralytics_check`` (no Ultralytics needed)."""

from __future__ import annotations

import numpy as np

from percept.detect.decode import Candidates
from percept.detect.detector import Detections
from percept.tools.ultralytics_check import compare_detections, synthetic_images


def _dets(boxes: list[list[float]], scores: list[float], classes: list[int]) -> Detections:
    return Detections(
        np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.asarray(classes)
    )


def test_synthetic_images_have_the_asked_sizes_and_are_seeded() -> None:
    a, b = synthetic_images(3, [(50, 80), (90, 40)]), synthetic_images(3, [(50, 80), (90, 40)])
    assert [i.shape for i in a] == [(50, 80, 3), (90, 40, 3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_pairs_measure_box_and_score_differences_and_classes() -> None:
    theirs = [_dets([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.5], [1, 2])]
    ours = [_dets([[20.3, 20, 40, 40], [0, 0, 10, 10.1]], [0.5004, 0.9], [2, 3])]
    pairing = compare_detections(theirs, ours, 0.7)
    assert pairing.pairs == 2
    assert abs(pairing.max_box_px - 0.3) < 1e-5
    assert abs(pairing.max_score - 4e-4) < 1e-6
    assert not pairing.classes_equal
    assert pairing.unpaired == 0


def test_a_borderline_nms_flip_is_explained_and_a_real_one_is_not() -> None:
    kept = [0.0, 0.0, 100.0, 100.0]
    # IoU of [0, 0, 100, 70] with kept is 0.7000 exactly: either side of the threshold.
    border = [0.0, 0.0, 100.0, 70.0]
    theirs = [_dets([kept, border], [0.9, 0.5], [0, 0])]
    ours = [_dets([kept], [0.9], [0])]
    cands = [
        Candidates(
            np.asarray([kept, border], np.float32),
            np.asarray([0.9, 0.5], np.float32),
            np.zeros(2, np.int64),
        )
    ]
    pairing = compare_detections(theirs, ours, 0.7, cands)
    assert (pairing.pairs, pairing.unpaired, pairing.explained) == (1, 1, 1)
    far = [50.0, 50.0, 150.0, 150.0]  # IoU 0.14: NMS keeps it on both sides
    theirs = [_dets([kept, far], [0.9, 0.5], [0, 0])]
    pairing = compare_detections(theirs, ours, 0.7)
    assert (pairing.pairs, pairing.unpaired, pairing.explained) == (1, 1, 0)
