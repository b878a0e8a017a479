"""percept detect: images or a bag -> COCO result JSON that percept eval coco scores."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from percept import codecs
from percept.cli.main import main
from percept.domain import Header, Image
from percept.eval.detection import evaluate_coco, load_coco_detections, load_coco_ground_truth
from percept.io.bag import BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore

from ...detect_models import constant_output_model, yolov8_output


@pytest.fixture
def model(tmp_path: Path) -> Path:
    # Network 64x64: a "car" at (22..42, 27..37) and a "person" at (8..12, 48..52).
    out = yolov8_output([[32, 32, 20, 10], [10, 50, 4, 4]], [[0.0, 0.9], [0.6, 0.0]])
    path = constant_output_model(tmp_path / "det.onnx", [("output0", out)])
    (tmp_path / "det.labels.txt").write_text("person\ncar\n", encoding="utf-8")
    return path


def test_detect_on_a_folder_scores_map_1_against_matching_ground_truth(
    model: Path, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("000000000007.png", "000000000009.png"):
        cv2.imwrite(str(images / name), np.zeros((64, 64, 3), np.uint8))
    gt = {
        "images": [
            {"id": 70, "file_name": "000000000007.png"},
            {"id": 90, "file_name": "x/000000000009.png"},
        ],
        "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
        "annotations": [
            {
                "id": i,
                "image_id": img,
                "category_id": cat,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
            for i, (img, cat, box) in enumerate(
                [
                    (70, 3, [22, 27, 20, 10]),
                    (70, 1, [8, 48, 4, 4]),
                    (90, 3, [22, 27, 20, 10]),
                    (90, 1, [8, 48, 4, 4]),
                ]
            )
        ],
    }
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt), encoding="utf-8")
    out = tmp_path / "dets.json"
    draw = tmp_path / "drawn"
    args = ["detect", str(images), "--model", str(model), "--backend", "onnxruntime"]
    args += ["--coco-gt", str(gt_path), "--out", str(out), "--draw", str(draw), "--batch", "2"]
    status = main(args)
    assert status == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert {(r["image_id"], r["category_id"]) for r in results} == {
        (70, 3),
        (70, 1),
        (90, 3),
        (90, 1),
    }
    ground_truth = load_coco_ground_truth(gt_path)
    metrics = evaluate_coco(ground_truth, load_coco_detections(out, ground_truth))
    assert metrics.stats["map_50"] == pytest.approx(1.0)
    assert metrics.stats["map"] == pytest.approx(1.0)
    drawn = sorted(p.name for p in draw.iterdir())
    assert drawn == ["000000000007.jpg", "000000000009.jpg"]
    assert cv2.imread(str(draw / drawn[0])).any()  # boxes were drawn on the black image
    # Drawing has its own threshold: above every score nothing is drawn, and the result
    # JSON (COCO's low threshold) is unchanged.
    hidden = tmp_path / "hidden"
    args[args.index(str(draw))] = str(hidden)
    assert main([*args, "--draw-threshold", "1.01"]) == 0
    assert not cv2.imread(str(hidden / drawn[0])).any()
    assert json.loads(out.read_text(encoding="utf-8")) == results
    # Without ground truth: ids from the numeric stems, categories = class indices.
    assert main(["detect", str(images), "--model", str(model), "--out", str(out)]) == 0
    plain = json.loads(out.read_text(encoding="utf-8"))
    assert {(r["image_id"], r["category_id"]) for r in plain} == {(7, 1), (7, 0), (9, 1), (9, 0)}


def test_detect_on_a_bag_topic_numbers_the_frames(model: Path, tmp_path: Path) -> None:
    bag = tmp_path / "run.mcap"
    store, factory = get_typestore(), RosbagsFactory()
    with BagWriter(bag) as writer:
        writer.add_topic("/cam/image", "sensor_msgs/msg/Image")
        for i in range(3):
            msg = codecs.encode(
                "sensor_msgs/msg/Image",
                Image(Header(i + 1, "cam"), "mono8", np.zeros((64, 64), np.uint8)),
                factory,
            )
            writer.write("/cam/image", "sensor_msgs/msg/Image", i + 1,
                         bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image")))  # fmt: skip
    out = tmp_path / "dets.json"
    assert main(["detect", str(bag), "--model", str(model), "--out", str(out)]) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert sorted({r["image_id"] for r in results}) == [1, 2, 3]


def test_detect_with_a_missing_model_is_one_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    status = main(
        [
            "detect",
            str(tmp_path),
            "--model",
            str(tmp_path / "none.onnx"),
            "--out",
            str(tmp_path / "d.json"),
        ]
    )
    assert status == 1
    assert "no such model file" in caplog.text


def test_detect_tile_scale_is_passed_on_and_checked(
    model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((64, 64, 3), np.uint8))
    whole, tiled = tmp_path / "whole.json", tmp_path / "tiled.json"
    args = ["detect", str(folder), "--model", str(model)]
    assert main([*args, "--out", str(whole)]) == 0
    assert main([*args, "--out", str(tiled), "--tile-scale", "1.5"]) == 0
    # The constant model finds its boxes again in every tile: more detections.
    assert len(json.loads(tiled.read_text())) > len(json.loads(whole.read_text()))
    assert main([*args, "--out", str(tmp_path / "bad.json"), "--tile-scale", "9"]) == 1
    assert "tile_scale" in caplog.text
