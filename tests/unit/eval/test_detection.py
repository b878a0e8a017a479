"""COCO mAP against pycocotools' COCOeval (Must show 2 of issue 5: agreement to 1e-4)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest

from percept.domain import Detection2D, Detection2DArray, Header, ObjectHypothesis
from percept.errors import EvalError
from percept.eval.detection import (
    BoxSet,
    CocoParams,
    box_iou,
    coco_from_detection_arrays,
    coco_ground_truth_from_dict,
    evaluate_coco,
    load_coco_detections,
    load_coco_ground_truth,
)

from .generators import random_dataset

coco_mod = pytest.importorskip("pycocotools.coco")
cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")

TOL = 1e-4  # the bar
STAT_NAMES = [
    "map",
    "map_50",
    "map_75",
    "map_small",
    "map_medium",
    "map_large",
    "mar_1",
    "mar_10",
    "mar_100",
    "mar_small",
    "mar_medium",
    "mar_large",
]


def pycocotools_eval(gt_doc: dict, results: list[dict]) -> object:
    """COCOeval(bbox) on a ground-truth document and a result list, quietly."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_mod.COCO()
        gt.dataset = copy.deepcopy(gt_doc)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results)) if results else coco_mod.COCO()
        ev = cocoeval_mod.COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def result_list(dets: BoxSet) -> list[dict]:
    return [
        {"image_id": int(i), "category_id": int(c), "bbox": b.tolist(), "score": float(s)}
        for i, c, b, s in zip(
            dets.image_ids, dets.category_ids, dets.boxes_xywh, dets.scores, strict=True
        )
    ]


def assert_agrees(gt_doc: dict, results: list[dict]) -> float:
    """Our evaluation vs pycocotools' on the same data; returns max |difference|."""
    ev = pycocotools_eval(gt_doc, results)
    gt = coco_ground_truth_from_dict(gt_doc)
    dets = BoxSet.build(
        [r["image_id"] for r in results],
        [r["category_id"] for r in results],
        np.array([r["bbox"] for r in results], dtype=np.float64).reshape(-1, 4),
        [r["score"] for r in results],
    )
    ours = evaluate_coco(gt, dets)
    stats = np.array([ours.stats[n] for n in STAT_NAMES])
    worst = float(np.abs(stats - ev.stats).max())
    worst = max(worst, float(np.abs(ours.precision - ev.eval["precision"]).max()))
    worst = max(worst, float(np.abs(ours.recall - ev.eval["recall"]).max()))
    assert worst <= TOL, f"|ours - pycocotools| = {worst}"
    return worst


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"seed": 0}, id="plain"),
        pytest.param({"seed": 1, "crowd_rate": 0.3}, id="crowds"),
        pytest.param({"seed": 2, "quantize_scores": True}, id="tied-scores"),
        pytest.param({"seed": 3, "dense_image": True}, id="over-maxdets"),
        pytest.param({"seed": 4, "images": 60, "categories": 8}, id="larger"),
    ],
)
def test_random_detections_agree_with_pycocotools(kwargs: dict) -> None:
    doc, dets = random_dataset(**kwargs)
    assert assert_agrees(doc, dets) < 1e-12


def test_voc_subset_reference_detections_agree_with_pycocotools(data_dir: Path) -> None:
    folder = data_dir / "voc_detection_subset"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    gt_doc = json.loads((folder / "annotations_coco_subset.json").read_text())
    det_doc = json.loads((folder / "reference_detections_coco_subset.json").read_text())
    # The detection file has its own ids (PROVENANCE.md): map by file name and class name,
    # here independently of the loader under test.
    img_ids = {im["file_name"]: im["id"] for im in gt_doc["images"]}
    cat_ids = {c["name"]: c["id"] for c in gt_doc["categories"]}
    det_img = {im["id"]: img_ids[im["file_name"]] for im in det_doc["images"]}
    det_cat = {c["id"]: cat_ids[c["name"]] for c in det_doc["categories"] if c["name"] in cat_ids}
    results = [
        {
            "image_id": det_img[a["image_id"]],
            "category_id": det_cat[a["category_id"]],
            "bbox": a["bbox"],
            "score": a["score"],
        }
        for a in det_doc["annotations"]
        if a["category_id"] in det_cat
    ]
    assert len(results) == 134
    assert assert_agrees(gt_doc, results) < 1e-12
    # The loader maps the same way.
    gt = load_coco_ground_truth(folder / "annotations_coco_subset.json")
    dets = load_coco_detections(folder / "reference_detections_coco_subset.json", gt)
    ours = evaluate_coco(gt, dets)
    ev = pycocotools_eval(gt_doc, results)
    np.testing.assert_allclose([ours.stats[n] for n in STAT_NAMES], ev.stats, atol=TOL)
    assert 0.2 < ours.stats["map"] < 0.5  # a real detector on real images
    assert set(ours.per_class_ap) == {c["name"] for c in gt_doc["categories"]}


def test_hand_checked_single_box() -> None:
    gt_doc = {
        "images": [{"id": 1, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 100, 50],
                "area": 5000.0,
                "iscrowd": 0,
            }
        ],
    }
    # IoU 0.62: a detection shifted right by 23.45679 px of a 100 px box
    shift = 100 * (1 - 0.62) / (1 + 0.62)
    det = [{"image_id": 1, "category_id": 1, "bbox": [shift, 0, 100, 50], "score": 0.9}]
    assert box_iou([det[0]["bbox"]], [[0, 0, 100, 50]], [False])[0, 0] == pytest.approx(0.62)
    ours = evaluate_coco(
        coco_ground_truth_from_dict(gt_doc), BoxSet.build([1], [1], [det[0]["bbox"]], [0.9])
    )
    assert ours.stats["map_50"] == pytest.approx(1.0)
    assert ours.stats["map_75"] == pytest.approx(0.0)
    assert ours.stats["map"] == pytest.approx(0.3)  # matched at IoU .50, .55, .60 of ten
    assert ours.stats["map_small"] == -1.0  # no small ground truth
    assert ours.images[1].true_positives == 1
    assert_agrees(gt_doc, det)


def test_crowd_box_iou_uses_detection_area() -> None:
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 100, 100], [0, 0, 100, 100]], [True, False])
    np.testing.assert_allclose(iou, [[1.0, 0.01]])


def test_detection_arrays_score_like_the_equivalent_coco_json() -> None:
    rng = np.random.default_rng(6)
    gt_frames, det_frames, gt_doc, results = [], [], None, []
    images, anns = [], []
    names = ["pallet", "carton", "barrel"]
    for f in range(12):
        stamp = 1_000_000_000 * (f + 1)
        boxes, dets = [], []
        for _ in range(int(rng.integers(1, 5))):
            c = int(rng.integers(0, 3))
            cx, cy, w, h = *rng.uniform(60, 500, 2), *rng.uniform(10, 120, 2)
            boxes.append(Detection2D((cx, cy), (w, h), (ObjectHypothesis(names[c], 1.0),)))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": f + 1,
                    "category_id": sorted(names).index(names[c]) + 1,
                    "bbox": [cx - w / 2, cy - h / 2, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
            if rng.random() < 0.8:
                j = rng.normal(0, 4, 4)
                s = float(rng.random())
                dets.append(
                    Detection2D(
                        (cx + j[0], cy + j[1]),
                        (w + j[2], h + j[3]),
                        (ObjectHypothesis(names[c], s),),
                    )
                )
                results.append(
                    {
                        "image_id": f + 1,
                        "category_id": sorted(names).index(names[c]) + 1,
                        "bbox": [
                            cx + j[0] - (w + j[2]) / 2,
                            cy + j[1] - (h + j[3]) / 2,
                            w + j[2],
                            h + j[3],
                        ],
                        "score": s,
                    }
                )
        images.append({"id": f + 1, "file_name": ""})
        gt_frames.append(Detection2DArray(Header(stamp, "cam"), tuple(boxes)))
        # detections stamped 0.2 ms late: still the same image
        det_frames.append(Detection2DArray(Header(stamp + 200_000, "cam"), tuple(dets)))
    det_frames.append(Detection2DArray(Header(99 * 1_000_000_000, "cam"), ()))  # no image
    gt_doc = {
        "images": images,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(sorted(names))],
        "annotations": anns,
    }
    gt, dets, unmatched = coco_from_detection_arrays(gt_frames, det_frames)
    assert unmatched == 1
    assert gt.categories == {1: "barrel", 2: "carton", 3: "pallet"}
    ours = evaluate_coco(gt, dets)
    ev = pycocotools_eval(gt_doc, results)
    np.testing.assert_allclose([ours.stats[n] for n in STAT_NAMES], ev.stats, atol=1e-12)


def test_score_threshold_drives_the_per_image_counts() -> None:
    doc = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
        ],
    }
    dets = BoxSet.build(
        [1, 1, 2], [1, 1, 1], [[0, 0, 10, 10], [50, 50, 5, 5], [0, 0, 10, 10]], [0.9, 0.8, 0.1]
    )
    ours = evaluate_coco(coco_ground_truth_from_dict(doc), dets, CocoParams(score_threshold=0.5))
    assert (ours.images[1].true_positives, ours.images[1].false_positives) == (1, 1)
    assert (ours.images[2].true_positives, ours.images[2].false_negatives) == (0, 1)


def test_detections_on_unknown_images_raise() -> None:
    doc, _ = random_dataset(0, images=3)
    with pytest.raises(EvalError, match="not in the ground truth"):
        evaluate_coco(
            coco_ground_truth_from_dict(doc), BoxSet.build([42], [10], [[0, 0, 1, 1]], [0.5])
        )


def test_loaders_raise_on_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "gt.json"
    bad.write_text('{"images": [{"id": 1}], "categories": [], "annotations": [{"image_id": 1}]}')
    with pytest.raises(EvalError, match="malformed COCO ground truth"):
        load_coco_ground_truth(bad)
    bad.write_text("{not json")
    with pytest.raises(EvalError, match="cannot read"):
        load_coco_ground_truth(bad)
    doc, _ = random_dataset(0, images=2)
    gt = coco_ground_truth_from_dict(doc)
    dets = tmp_path / "dets.json"
    dets.write_text('[{"image_id": 1, "category_id": 10, "bbox": [1, 2, 3], "score": 1}]')
    with pytest.raises(EvalError, match=r"bbox must be \[x, y, w, h\]"):
        load_coco_detections(dets, gt)
