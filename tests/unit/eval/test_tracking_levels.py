"""Tracking metrics per difficulty level: ground truth outside a level is a distractor."""

from __future__ import annotations

import pytest

from percept.domain import Detection2D, Detection2DArray, Header, ObjectHypothesis
from percept.eval.difficulty import DIFFICULTY_LEVELS
from percept.eval.tracking import evaluate_tracking

pytest.importorskip("motmetrics")

S = 100_000_000  # 10 Hz
MODERATE = DIFFICULTY_LEVELS[0]

# (x, width, height, id, visible fraction): "a" counts for moderate; "b" is too low
# (10 px); "c" is hidden (20 % visible).
TRUTH = [(20.0, 30.0, 40.0, "a", 0.9), (100.0, 10.0, 10.0, "b", 1.0), (200.0, 30.0, 40.0, "c", 0.2)]


def _frame(k: int, boxes: list[tuple[float, float, float, str, float]]) -> Detection2DArray:
    return Detection2DArray(
        Header(k * S, "cam"),
        tuple(
            Detection2D((x, 50.0), (w, h), (ObjectHypothesis("carton", score),), i)
            for x, w, h, i, score in boxes
        ),
    )


def _gt(n: int) -> tuple[list[Detection2DArray], list[Detection2DArray]]:
    boxes = [(x, w, h, i, 1.0) for x, w, h, i, _ in TRUTH]
    return [_frame(k, boxes) for k in range(n)], [_frame(k, TRUTH) for k in range(n)]


def test_distractors_and_low_false_positives_count_neither_way() -> None:
    gt, vis = _gt(4)
    # tracks on "a" and on hidden "c", plus a 10 px false positive far away
    run = [
        _frame(
            k,
            [
                (20.0, 30.0, 40.0, "1", 0.9),
                (200.0, 30.0, 40.0, "2", 0.9),
                (400.0, 8.0, 10.0, "3", 0.9),
            ],
        )
        for k in range(4)
    ]
    every, _, _ = evaluate_tracking(gt, run)
    assert every.level == "all"
    # all: b missed and the small box false each frame: 1 - (4 + 4) / 12
    assert every.mota == pytest.approx(1 - 8 / 12)
    moderate, _, _ = evaluate_tracking(gt, run, level=MODERATE, visibility=vis)
    assert moderate.level == "moderate"
    assert moderate.mota == pytest.approx(1.0)
    assert moderate.idf1 == pytest.approx(1.0)
    assert (moderate.num_objects, moderate.ignored_gt, moderate.ignored_run) == (4, 8, 8)
    assert "visible >= 50%" in moderate.level_rule
    # without visibility only the height applies: "c" counts, and is tracked
    by_height, _, _ = evaluate_tracking(gt, run, level=MODERATE)
    assert (by_height.num_objects, by_height.mota) == (8, pytest.approx(1.0))
    assert "visibility unknown" in by_height.level_rule


def test_a_miss_inside_the_level_still_counts() -> None:
    gt, vis = _gt(3)
    run = [_frame(k, [(200.0, 30.0, 40.0, "2", 0.9)]) for k in range(3)]  # only hidden "c"
    moderate, _, _ = evaluate_tracking(gt, run, level=MODERATE, visibility=vis)
    assert moderate.num_misses == 3
    assert moderate.num_false_positives == 0
    assert moderate.mota == pytest.approx(0.0)
    assert moderate.as_dict()["level"] == "moderate"
