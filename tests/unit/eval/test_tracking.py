"""Tracking metrics (motmetrics) on hand-built sequences whose MOTA and switches are known."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from percept.domain import Detection2D, Detection2DArray, Header, ObjectHypothesis
from percept.errors import EvalError
from percept.eval.difficulty import DIFFICULTY_LEVELS
from percept.eval.tracking import attribute_errors, evaluate_tracking, iou_distances, pair_frames

pytest.importorskip("motmetrics")

S = 100_000_000  # 10 Hz


def _frame(k: int, boxes: list[tuple[float, str, str]]) -> Detection2DArray:
    """Frame ``k``: 10 x 10 boxes at (x, 20) with (x, id, class)."""
    return Detection2DArray(
        Header(k * S, "cam"),
        tuple(
            Detection2D((x, 20.0), (10.0, 10.0), (ObjectHypothesis(cls, 0.9),), i)
            for x, i, cls in boxes
        ),
    )


def _truth(n: int) -> list[Detection2DArray]:
    return [_frame(k, [(20.0, "0", "a"), (60.0, "1", "a")]) for k in range(n)]


def test_perfect_tracks_score_one() -> None:
    run = [_frame(k, [(21.0, "7", "a"), (60.0, "8", "a")]) for k in range(5)]
    m, per_frame, notes = evaluate_tracking(_truth(5), run)
    assert m.mota == pytest.approx(1.0)
    assert m.idf1 == pytest.approx(1.0)
    assert m.num_switches == 0
    assert (m.num_objects, m.num_frames, m.gt_tracks, m.run_tracks) == (10, 5, 2, 2)
    # one box 1 px off: IoU 90/110
    assert m.motp == pytest.approx((1 - 90 / 110) / 2)
    assert m.mean_match_iou == pytest.approx(1 - m.motp)
    assert [s for s, _ in per_frame] == [k * S for k in range(5)]
    assert notes == []


def test_one_id_swap_is_one_switch() -> None:
    run = [_frame(k, [(20.0, "5" if k < 3 else "7", "a"), (60.0, "6", "a")]) for k in range(6)]
    m, per_frame, _ = evaluate_tracking(_truth(6), run)
    assert m.num_switches == 1
    assert m.mota == pytest.approx(1 - 1 / 12)
    assert m.switches_per_100_tracks == pytest.approx(50.0)
    assert m.switch_events == ((3 * S, "0", "5", "7"),)
    assert [v["switches"] for _, v in per_frame] == [0, 0, 0, 1, 0, 0]
    # two ids exchanged between the two objects: two switches
    swap = [
        _frame(k, [(20.0, "5" if k < 3 else "6", "a"), (60.0, "6" if k < 3 else "5", "a")])
        for k in range(6)
    ]
    assert evaluate_tracking(_truth(6), swap)[0].num_switches == 2


def test_misses_false_positives_and_untracked_detections_are_counted() -> None:
    run = []
    for k in range(4):
        boxes = [(20.0, "5", "a")]
        if k != 2:
            boxes.append((60.0, "6", "a"))  # object 1 missed in frame 2
        if k == 1:
            boxes.append((100.0, "9", "a"))  # a false track
        boxes.append((140.0, "", "a"))  # no track id: not tracker output, not counted
        run.append(_frame(k, boxes))
    m, per_frame, _ = evaluate_tracking(_truth(4), run)
    assert (m.num_misses, m.num_false_positives, m.num_switches) == (1, 1, 0)
    assert m.num_fragmentations == 1
    assert m.untracked_detections == 4
    assert m.num_predictions == 8
    assert m.mota == pytest.approx(1 - 2 / 8)
    assert per_frame[2][1]["misses"] == 1
    assert per_frame[1][1]["false_positives"] == 1


def test_matches_need_iou_half_and_the_same_class() -> None:
    # 6 px off on a 10 px box: IoU 40 / 160 < 0.5 -> a miss and a false positive
    far = [_frame(k, [(26.0, "5", "a"), (60.0, "6", "a")]) for k in range(3)]
    m, _, _ = evaluate_tracking(_truth(3), far)
    assert (m.num_misses, m.num_false_positives) == (3, 3)
    # right place, other class
    other = [_frame(k, [(20.0, "5", "b"), (60.0, "6", "a")]) for k in range(3)]
    m, _, _ = evaluate_tracking(_truth(3), other)
    assert (m.num_misses, m.num_false_positives, m.class_aware) == (3, 3, True)
    m, _, _ = evaluate_tracking(_truth(3), other, same_class=False)
    assert (m.num_misses, m.num_false_positives) == (0, 0)
    # class ids that share nothing with the truth (indices vs names): matched across classes
    indices = [_frame(k, [(20.0, "5", "0"), (60.0, "6", "0")]) for k in range(3)]
    m, _, notes = evaluate_tracking(_truth(3), indices)
    assert (m.num_misses, m.class_aware) == (0, False)
    assert any("matched across classes" in n for n in notes)


def test_iou_distances_are_nan_past_the_limit() -> None:
    gt = np.array([[0.0, 0, 10, 10]])
    run = np.array([[0.0, 0, 10, 5], [0.0, 0, 10, 4], [0.0, 0, 10, 10]])
    d = iou_distances(gt, run, 0.5, ["a"], ["a", "a", "b"])
    assert d[0, 0] == pytest.approx(0.5)
    assert np.isnan(d[0, 1])  # IoU 0.4
    assert np.isnan(d[0, 2])  # other class


def test_frames_outside_the_run_and_missing_run_frames() -> None:
    truth = _truth(8)
    run = [_frame(k, [(20.0, "5", "a"), (60.0, "6", "a")]) for k in (2, 3, 5)]
    m, _, notes = evaluate_tracking(truth, run)
    # frames 2..5 scored; frame 4 has no run frame: both objects missed
    assert m.num_frames == 4
    assert m.num_misses == 2
    assert any("4 ground-truth frames outside" in n for n in notes)
    assert any("1 ground-truth frames had no run frame" in n for n in notes)
    pairs, outside, unpaired = pair_frames(truth, run, 1_000_000)
    assert (len(pairs), outside, unpaired) == (4, 4, 0)


def test_unscorable_runs_raise() -> None:
    with pytest.raises(EvalError, match="no 2D detection frames"):
        evaluate_tracking(_truth(3), [])
    untracked = [_frame(k, [(20.0, "", "a")]) for k in range(3)]
    with pytest.raises(EvalError, match="track id"):
        evaluate_tracking(_truth(3), untracked)


def test_without_motmetrics_the_reason_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "motmetrics", None)  # import fails
    with pytest.raises(EvalError, match="motmetrics is not installed"):
        evaluate_tracking(_truth(3), _truth(3))


def test_every_miss_and_false_positive_gets_one_cause() -> None:
    # object 0 (x 20): frame 0 tracked; frame 1 published without a track id; frame 2
    # tracked 4 px off (IoU 60/140: mislocalised, a miss and a false positive); frame 3
    # tracked as class b (wrong class, both ways); frame 4 nothing near it (undetected).
    # Object 1 (x 60) is tracked throughout; frame 4 adds a second track on it
    # (duplicate) and one on the background.
    object0 = [(20.0, "5", "a"), (20.0, "", "a"), (24.0, "5", "a"), (20.0, "5", "b"), None]
    run = []
    for k, box in enumerate(object0):
        boxes = [(60.0, "6", "a")]
        if box is not None:
            boxes.append(box)
        if k == 4:
            boxes += [(61.0, "8", "a"), (200.0, "9", "a")]
        run.append(_frame(k, boxes))
    m, _, _ = evaluate_tracking(_truth(5), run)
    assert dict(m.miss_causes) == {
        "untracked": 1,
        "taken": 0,
        "mislocalised": 1,
        "wrong_class": 1,
        "undetected": 1,
    }
    assert dict(m.fp_causes) == {
        "duplicate": 1,
        "mislocalised": 1,
        "wrong_class": 1,
        "background": 1,
    }
    assert sum(dict(m.miss_causes).values()) == m.num_misses == 4
    assert sum(dict(m.fp_causes).values()) == m.num_false_positives == 4
    doc = m.as_dict()
    assert doc["miss_causes"] == dict(m.miss_causes)
    assert doc["fp_causes"] == dict(m.fp_causes)
    # class-agnostic matching: the class-b box matches, no cause is "wrong class"
    m, _, _ = evaluate_tracking(_truth(5), run, same_class=False)
    assert dict(m.miss_causes)["wrong_class"] == 0
    assert sum(dict(m.miss_causes).values()) == m.num_misses == 3


def test_a_box_matched_to_a_neighbour_is_taken() -> None:
    # two objects 2 px apart, one tracked box between them: one matched, one "taken"
    truth = [_frame(k, [(20.0, "0", "a"), (22.0, "1", "a")]) for k in range(2)]
    run = [_frame(k, [(21.0, "5", "a")]) for k in range(2)]
    m, _, _ = evaluate_tracking(truth, run)
    assert dict(m.miss_causes)["taken"] == m.num_misses == 2


def test_cause_counts_stay_off_the_difficulty_levels() -> None:
    run = [_frame(k, [(20.0, "5", "a")]) for k in range(3)]
    vis = _truth(3)
    m, _, _ = evaluate_tracking(_truth(3), run, level=DIFFICULTY_LEVELS[0], visibility=vis)
    assert (m.miss_causes, m.fp_causes) == ((), ())
    assert "miss_causes" not in m.as_dict()


def test_attribute_errors_with_nothing_published() -> None:
    gt = np.array([[0.0, 0, 10, 10]])
    none = np.zeros((0, 4))
    miss, fp = attribute_errors(
        gt, ["a"], np.array([True]), none, [], np.zeros(0, bool), np.zeros(0, bool)
    )
    assert miss.tolist() == [0, 0, 0, 0, 1]
    assert fp.tolist() == [0, 0, 0, 0]
