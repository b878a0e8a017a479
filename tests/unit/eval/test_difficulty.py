"""Difficulty levels (KITTI-style): hand-made cases and pycocotools with ignore regions."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from percept import codecs
from percept.domain import Detection2D, Detection2DArray, Header, ObjectHypothesis
from percept.errors import EvalError
from percept.eval.detection import (
    BoxSet,
    CocoGroundTruth,
    CocoParams,
    coco_from_detection_arrays,
    coco_ground_truth_from_dict,
    evaluate_coco,
)
from percept.eval.difficulty import (
    DIFFICULTY_LEVELS,
    DifficultyLevel,
    evaluate_levels,
    level_ignored,
    visible_fractions_of,
)
from percept.eval.report import format_summary, write_outputs
from percept.eval.runner import evaluate
from percept.io.bag import BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.msgtypes import DETECTION2D_ARRAY

from .generators import random_dataset

VISIBILITY = "/ground_truth/left/detections_2d/visibility"

# Hand-made frame: (name, box xywh, visible fraction).
#   A: 50 px high, 90 % visible  -> easy and moderate
#   B: 30 px high, 60 % visible  -> moderate only (too low for easy)
#   C: 50 px high, 30 % visible  -> neither (hidden)
#   D: 20 px high, fully visible -> neither (too low)
#   E: 45 px high, 20 % visible  -> neither (hidden), and never detected
GT = {
    "A": ([10.0, 10.0, 30.0, 50.0], 0.9),
    "B": ([100.0, 10.0, 20.0, 30.0], 0.6),
    "C": ([200.0, 10.0, 30.0, 50.0], 0.3),
    "D": ([300.0, 10.0, 20.0, 20.0], 1.0),
    "E": ([400.0, 10.0, 30.0, 45.0], 0.2),
}


def _frame(boxes: dict[str, tuple[list[float], float]], score_is_visibility: bool = False):
    dets = tuple(
        Detection2D(
            (b[0] + b[2] / 2, b[1] + b[3] / 2),
            (b[2], b[3]),
            (ObjectHypothesis("carton", v if score_is_visibility else 1.0),),
            name,
        )
        for name, (b, v) in boxes.items()
    )
    return Detection2DArray(Header(1_000, "cam"), dets)


def _dets(entries: list[tuple[list[float], float]]) -> Detection2DArray:
    return Detection2DArray(
        Header(1_000, "cam"),
        tuple(
            Detection2D(
                (b[0] + b[2] / 2, b[1] + b[3] / 2), (b[2], b[3]), (ObjectHypothesis("carton", s),)
            )
            for b, s in entries
        ),
    )


def _levels(run: Detection2DArray, with_visibility: bool = True) -> dict[str, float]:
    gt_frames = [_frame(GT)]
    gt, dets, _ = coco_from_detection_arrays(gt_frames, [run])
    overall = evaluate_coco(gt, dets)
    visible = visible_fractions_of(gt_frames, [_frame(GT, True)]) if with_visibility else None
    return {lv.name: lv.map_50 for lv in evaluate_levels(gt, dets, overall, visible)}


FP_LOW = ([500.0, 300.0, 10.0, 10.0], 0.95)  # a 10 px false positive, top score
ON = {name: (box, 0.0) for name, (box, _) in GT.items()}


def test_levels_ignore_boxes_outside_them_and_low_unmatched_detections() -> None:
    run = _dets([FP_LOW, (ON["A"][0], 0.9), (ON["C"][0], 0.8), (ON["B"][0], 0.7)])
    ap = _levels(run)
    # all: FP, A, C, B found out of 5: precision 3/4 up to recall 3/5 (61 of 101 points)
    assert ap["all"] == pytest.approx(0.75 * 61 / 101, abs=1e-9)
    # moderate counts A and B; the low FP and the detection on hidden C count neither way
    assert ap["moderate"] == pytest.approx(1.0)
    # easy counts A; the detection on B (too low for easy) is ignored too
    assert ap["easy"] == pytest.approx(1.0)


def test_a_detection_on_an_ignored_box_counts_neither_way() -> None:
    base = [(ON["A"][0], 0.9), (ON["B"][0], 0.5)]
    with_c = _levels(_dets([*base, (ON["C"][0], 0.7)]))
    without = _levels(_dets(base))
    assert with_c["moderate"] == without["moderate"] == pytest.approx(1.0)
    # in "all" C is a real box: finding it raises AP
    assert with_c["all"] > without["all"]


def test_a_miss_of_a_counted_box_lowers_the_level() -> None:
    ap = _levels(_dets([(ON["A"][0], 0.9)]))  # B missed
    assert ap["moderate"] == pytest.approx(51 / 101)  # recall 1/2 at precision 1
    assert ap["easy"] == pytest.approx(1.0)


def test_without_visibility_levels_use_height_alone() -> None:
    run = _dets([(ON["A"][0], 0.9), (ON["B"][0], 0.7), (ON["C"][0], 0.8)])
    known = _levels(run)
    unknown = _levels(run, with_visibility=False)
    assert known["easy"] == pytest.approx(1.0)
    # E (45 px, hidden) now counts for easy and is missed: A and C of A, C, E found
    assert unknown["easy"] == pytest.approx(67 / 101)
    gt, dets, _ = coco_from_detection_arrays([_frame(GT)], [run])
    levels = evaluate_levels(gt, dets, evaluate_coco(gt, dets), None)
    assert [lv.name for lv in levels] == ["all", "moderate", "easy"]
    assert not any(lv.visibility_known for lv in levels)
    assert "visibility unknown" in levels[1].rule
    assert levels[2].boxes == 3  # A, C, E: 40 px or more


def test_visible_fractions_pair_by_stamp_and_id_in_coco_order() -> None:
    gt = [_frame(GT), Detection2DArray(Header(500, "cam"), _frame({"Z": GT["A"]}).detections)]
    shuffled = _frame(dict(reversed(list(GT.items()))), True)
    vis = visible_fractions_of(gt, [shuffled])  # frame 500 has none: NaN
    assert np.isnan(vis[0])
    np.testing.assert_allclose(vis[1:], [v for _, v in GT.values()], rtol=1e-6)
    bad = Detection2DArray(
        Header(1_000, "cam"),
        (Detection2D((0, 0), (1, 1), (ObjectHypothesis("c", 1),)),),
    )
    nameless = Detection2DArray(
        Header(1_000, "cam"),
        tuple(Detection2D(d.center_uv, d.size_uv, d.results) for d in gt[0].detections),
    )
    with pytest.raises(EvalError, match="without ids"):
        visible_fractions_of([nameless], [bad])


def test_level_rules_and_validation() -> None:
    moderate, easy = DIFFICULTY_LEVELS
    assert (moderate.min_height_px, moderate.min_visible) == (25.0, 0.5)
    assert (easy.min_height_px, easy.min_visible) == (40.0, 0.85)
    assert easy.describe() == "height >= 40 px, visible >= 85%"
    with pytest.raises(ValueError, match="min_visible"):
        DifficultyLevel("x", 10, 1.5)
    boxes = BoxSet.build([1], [1], [[0, 0, 5, 30]])
    with pytest.raises(EvalError, match="visible fractions"):
        level_ignored(boxes, np.array([0.5, 0.5]), moderate)


# --------------------------------------------------------------------- pycocotools

coco_mod = pytest.importorskip("pycocotools.coco")
cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")


def _pycocotools_level(gt_doc: dict, results: list[dict], hidden: set[int], min_h: float):
    """COCOeval with KITTI's level: area := box height, range [min_h, inf), hidden ignored."""

    class LevelEval(cocoeval_mod.COCOeval):  # type: ignore[misc, name-defined]
        def _prepare(self) -> None:
            super()._prepare()
            for anns in self._gts.values():
                for g in anns:
                    g["ignore"] = bool(g["ignore"]) or g["id"] in hidden

    doc = copy.deepcopy(gt_doc)
    for a in doc["annotations"]:
        a["area"] = a["bbox"][3]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_mod.COCO()
        gt.dataset = doc
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results))
        for d in dt.anns.values():
            d["area"] = d["bbox"][3]
        ev = LevelEval(gt, dt, "bbox")
        ev.params.areaRng = [[min_h, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", DIFFICULTY_LEVELS, ids=lambda lv: lv.name)
def test_levels_agree_with_pycocotools_ignore_regions(seed: int, level: DifficultyLevel) -> None:
    gt_doc, results = random_dataset(seed, images=20, crowd_rate=0.0)
    rng = np.random.default_rng(100 + seed)
    visible = rng.uniform(0.0, 1.0, len(gt_doc["annotations"]))
    hidden = {
        a["id"]
        for a, v in zip(gt_doc["annotations"], visible, strict=True)
        if v < level.min_visible
    }
    ev = _pycocotools_level(gt_doc, results, hidden, level.min_height_px)
    gt = coco_ground_truth_from_dict(gt_doc)
    dets = BoxSet.build(
        [r["image_id"] for r in results],
        [r["category_id"] for r in results],
        np.array([r["bbox"] for r in results]).reshape(-1, 4),
        [r["score"] for r in results],
    )
    overall = evaluate_coco(gt, dets)
    ours = evaluate_levels(gt, dets, overall, visible, (level,))[1]
    assert ours.map == pytest.approx(ev.stats[0], abs=1e-4)
    assert ours.map_50 == pytest.approx(ev.stats[1], abs=1e-4)
    # and the precision arrays directly
    gt_level = CocoGroundTruth(
        gt.boxes, gt.image_ids, gt.categories, ignore=level_ignored(gt.boxes, visible, level)
    )
    direct = evaluate_coco(
        gt_level,
        dets,
        CocoParams(area_ranges=(("all", 0.0, 1e10),), min_height_px=level.min_height_px),
    )
    assert np.abs(direct.precision - ev.eval["precision"]).max() <= 1e-4
    assert 0 < ours.boxes < len(gt.boxes)


# --------------------------------------------------------------------- through percept eval


def _write(path: Path, topics: dict[str, list[Detection2DArray]]) -> None:
    store, factory = get_typestore(), RosbagsFactory(get_typestore())
    with BagWriter(path, overwrite=True) as bag:
        for topic, frames in topics.items():
            for f in frames:
                msg = codecs.encode(DETECTION2D_ARRAY, f, factory)
                raw = bytes(store.serialize_cdr(msg, DETECTION2D_ARRAY))
                bag.write(topic, DETECTION2D_ARRAY, f.header.stamp_ns, raw)


def _at(frame: Detection2DArray, k: int) -> Detection2DArray:
    return Detection2DArray(Header(k * 100_000_000, "cam"), frame.detections)


@pytest.mark.parametrize("with_visibility", [True, False])
def test_eval_reports_all_moderate_and_easy(tmp_path: Path, with_visibility: bool) -> None:
    run = _dets([FP_LOW, (ON["A"][0], 0.9), (ON["C"][0], 0.8), (ON["B"][0], 0.7)])
    tracked = Detection2DArray(
        run.header,
        tuple(dataclasses.replace(d, id=str(i + 1)) for i, d in enumerate(run.detections)),
    )
    gt_topics = {"/ground_truth/left/detections_2d": [_at(_frame(GT), k) for k in range(5)]}
    if with_visibility:
        gt_topics[VISIBILITY] = [_at(_frame(GT, True), k) for k in range(5)]
    _write(tmp_path / "gt.mcap", gt_topics)
    _write(tmp_path / "run.mcap", {"/detections": [_at(tracked, k) for k in range(5)]})
    result = evaluate(tmp_path / "run.mcap", tmp_path / "gt.mcap")
    assert result.detection is not None
    levels = {lv.name: lv for lv in result.detection.levels}
    assert list(levels) == ["all", "moderate", "easy"]
    assert levels["all"].map_50 == pytest.approx(result.detection.stats["map_50"])
    # without visibility hidden E (45 px) counts and is missed
    assert levels["moderate"].map_50 == pytest.approx(1.0 if with_visibility else 76 / 101)
    assert levels["easy"].visibility_known is with_visibility
    assert levels["easy"].map_50 == pytest.approx(1.0 if with_visibility else 67 / 101)
    doc = result.metrics()
    assert set(doc["detection"]["levels"]) == {"all", "moderate", "easy"}  # type: ignore[index]
    assert set(doc["tracking"]["levels"]) == {"moderate", "easy"}  # type: ignore[index]
    summary = format_summary(result)
    for name in ("mAP@0.5 all", "mAP@0.5 moderate", "mAP@0.5:0.95 easy", "MOTA moderate"):
        assert name in summary
    report = write_outputs(result, tmp_path / "out").read_text()
    assert "Difficulty levels" in report
    assert ("visibility unknown" in summary) is not with_visibility
