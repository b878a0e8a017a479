"""3D detection error by range band on hand-built frames with known offsets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import Detection3D, Detection3DArray, Header, ObjectHypothesis
from percept.errors import EvalError
from percept.eval.detection3d import band_names, evaluate_detections_3d, match_centres
from percept.geometry.pose import Pose

S = 100_000_000


def _frame(
    k: int, objects: list[tuple[list[float], str]], frame_id: str = "cam"
) -> Detection3DArray:
    return Detection3DArray(
        Header(k * S, frame_id),
        tuple(
            Detection3D(
                Pose(np.array(c, dtype=np.float64)), np.ones(3), (ObjectHypothesis(cls, 1),)
            )
            for c, cls in objects
        ),
    )


TRUTH = [([0.0, 0.0, 3.0], "box"), ([1.0, 0.0, 7.0], "box"), ([-1.0, 0.5, 12.0], "cart")]


def test_known_offsets_land_in_their_bands() -> None:
    truth = [_frame(k, TRUTH) for k in range(4)]
    run = [
        _frame(
            k,
            [
                ([0.0, 0.0, 3.3], "box"),  # 0.3 m too far
                ([1.5, 0.0, 7.0], "box"),  # 0.5 m to the side
                ([-1.0, 0.5, 13.5], "cart"),  # 1.5 m off: past the gate
            ],
        )
        for k in range(4)
    ]
    m, notes = evaluate_detections_3d(truth, run, gate_m=1.0)
    bands = {b.band: b for b in m.bands}
    assert list(bands) == ["0-2m", "2-4m", "4-6m", "6-10m", "10m+"]
    assert bands["0-2m"].objects == 0
    assert np.isnan(bands["0-2m"].recall)
    near = bands["2-4m"]
    assert (near.objects, near.matched, near.recall) == (4, 4, 1.0)
    assert near.median_m == pytest.approx(0.3)
    assert near.p90_m == pytest.approx(0.3)
    assert near.median_z_err_m == pytest.approx(0.3)
    mid = bands["6-10m"]
    assert mid.median_m == pytest.approx(0.5)
    assert mid.median_z_err_m == pytest.approx(0.0)
    far = bands["10m+"]
    assert (far.objects, far.matched, far.recall) == (4, 0, 0.0)
    assert np.isnan(far.median_m)
    assert (m.overall.objects, m.overall.matched) == (12, 8)
    assert m.overall.mean_m == pytest.approx(0.4)
    assert (m.detections, m.unmatched_detections, m.frames) == (12, 4, 4)
    assert m.precision == pytest.approx(8 / 12)
    assert not m.rectified
    assert notes == []
    doc = m.as_dict()
    assert doc["by_range"]["2-4m"]["median_m"] == pytest.approx(0.3)
    assert doc["frame_id"] == "cam"


def test_matching_is_optimal_and_within_the_class() -> None:
    # greedy would give run 0 to truth 0 (0.1 m) and leave truth 1 unmatched
    run = np.array([[0.0, 0, 5.0], [0.0, 0, 5.8]])
    gt = np.array([[0.0, 0, 5.1], [0.0, 0, 4.5]])
    ri, gi, dist = match_centres(run, gt, 1.0)
    assert sorted(zip(ri.tolist(), gi.tolist(), strict=True)) == [(0, 1), (1, 0)]
    assert dist.sum() == pytest.approx(0.5 + 0.7)
    ri, gi, _ = match_centres(run, gt, 1.0, ["a", "b"], ["b", "b"])
    assert (ri.tolist(), gi.tolist()) == ([1], [0])
    truth = [_frame(0, [([0.0, 0.0, 5.0], "box"), ([3.0, 0.0, 5.0], "cart")])]
    other = [_frame(0, [([0.0, 0.0, 5.0], "cart")])]
    m, _ = evaluate_detections_3d(truth, other)
    assert m.class_aware
    assert m.overall.matched == 0  # on the box, but a cart; the cart is 3 m away
    m, _ = evaluate_detections_3d(truth, other, same_class=False)
    assert m.overall.matched == 1


def test_rectification_rotates_the_ground_truth() -> None:
    R = Rotation.from_euler("xyz", [2.0, -1.0, 0.5], degrees=True).as_matrix()
    raw = [[0.5, -0.2, 4.0], [-2.0, 0.3, 8.0]]
    truth = [_frame(0, [(c, "box") for c in raw])]
    run = [_frame(0, [((R @ np.array(c)).tolist(), "box") for c in raw])]
    m, _ = evaluate_detections_3d(truth, run, rectification=R)
    assert m.rectified
    assert m.overall.matched == 2
    assert m.overall.mean_m == pytest.approx(0.0, abs=1e-12)
    unrotated, _ = evaluate_detections_3d(truth, run)
    assert unrotated.overall.mean_m > 0.05
    identity, _ = evaluate_detections_3d(truth, truth, rectification=np.eye(3))
    assert not identity.rectified


def test_other_frames_and_bad_settings_are_refused() -> None:
    truth = [_frame(0, TRUTH)]
    with pytest.raises(EvalError, match="'base_link'"):
        evaluate_detections_3d(truth, [_frame(0, TRUTH, "base_link")])
    with pytest.raises(EvalError, match="no 3D detection frames"):
        evaluate_detections_3d(truth, [])
    with pytest.raises(EvalError, match="gate"):
        evaluate_detections_3d(truth, truth, gate_m=0.0)
    with pytest.raises(EvalError, match="ascending"):
        evaluate_detections_3d(truth, truth, edges_m=(0.0, 5.0, 2.0))


def test_missing_run_frames_count_their_objects_as_missed() -> None:
    truth = [_frame(k, TRUTH) for k in range(3)]
    run = [_frame(k, TRUTH) for k in (0, 2)]
    m, notes = evaluate_detections_3d(truth, run)
    assert (m.overall.objects, m.overall.matched, m.frames) == (9, 6, 3)
    assert any("1 ground-truth frames had no run frame" in n for n in notes)


def test_band_names() -> None:
    assert band_names([0.0, 2.0, 4.0, 6.0, 10.0]) == ["0-2m", "2-4m", "4-6m", "6-10m", "10m+"]
