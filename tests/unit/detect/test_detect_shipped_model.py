"""The shipped warehouse detector on a synthetic sequence it was not trained on.

``percept/models/warehouse_det.onnx`` was trained on ``percept synth`` scenes of seeds
100-259 (``percept/models/MODEL_CARD.md``). Here a scene of seed 950 is rendered as
``percept synth`` writes it for the simulated robots (640x480 mono8, sensor noise, ground
robot), every left image goes through ``percept.detect`` (ONNX Runtime, the yolov8
decoder, NMS, boxes back to image pixels) and the detections are scored against the
bag's ground-truth boxes with ``percept.eval.detection`` (pycocotools' COCO mAP). No
torch is needed.

The model does NOT reach the mAP@0.5 >= 0.9 that issue 8 asks for: after 90 minutes of
training on two CPU cores it scores 0.68 here at its NMS operating point (0.73 on the
model card's 100 held-out frames); most of the boxes are cartons on racks, many small or
partly hidden. Tiled inference (``tile_scale`` 1.5, five inferences a frame) raises it
(see ``MODEL_CARD.md``). The floors below are what it measured, less a small margin, so a
regression of the shipped model or of the pipeline fails this test.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from percept import codecs
from percept.detect.detector import Detector, DetectorConfig
from percept.detect.preprocess import rgb_or_bgr
from percept.detect.shipped import (
    SHIPPED_MODEL,
    SHIPPED_MODEL_URL,
    SHIPPED_NMS_IOU,
    resolve_model_path,
)
from percept.domain import Detection2D, Detection2DArray, Image, ObjectHypothesis
from percept.eval.detection import CocoMetrics, coco_from_detection_arrays, evaluate_coco
from percept.io.bag import BagReader
from percept.io.typestore import get_typestore
from percept.synth.generate import SynthConfig, default_rig, generate

logger = logging.getLogger(__name__)

HELD_OUT_SEED = 950  # training used seeds 100-259, the model card's test set 900-909
IMAGE_TOPIC = "/stereo/left/image_raw"
GT_TOPIC = "/ground_truth/left/detections_2d"
# Measured with NMS IoU 0.3 (SHIPPED_NMS_IOU), ONNX Runtime 1.32 on CPU; 12 frames, so
# one pallet more or less moves it by 0.02 (at NMS 0.45: 0.706 / 0.363).
MAP50_FLOOR = 0.65  # measured 0.681; the target was 0.9
MAP_FLOOR = 0.32  # measured 0.350
TILED_MAP50_FLOOR = 0.72  # measured 0.754 (mAP@0.5:0.95 0.431) with tile_scale 1.5


Frames = tuple[list[Image], list[Detection2DArray]]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    root = tmp_path_factory.mktemp("shipped")
    config = SynthConfig(
        seed=HELD_OUT_SEED,
        seconds=6.0,
        camera_rate_hz=2.0,
        rig=default_rig("ground", width=640, height=480),
    )
    bag = generate(root / "held_out.mcap", config).bag
    store = get_typestore()
    images: list[Image] = []
    truth: list[Detection2DArray] = []
    with BagReader(bag) as reader:
        for m in reader.messages([IMAGE_TOPIC, GT_TOPIC]):
            assert m.raw is not None
            obj = codecs.decode(m.msgtype, store.deserialize_cdr(m.raw, m.msgtype))
            if m.topic == IMAGE_TOPIC:
                assert isinstance(obj, Image)
                images.append(obj)
            else:
                assert isinstance(obj, Detection2DArray)
                truth.append(obj)
    assert len(images) == len(truth) == 12
    assert images[0].encoding == "mono8"
    return images, truth


def score(frames: Frames, tile_scale: float = 1.0) -> CocoMetrics:
    """COCO metrics of the shipped model on the frames, at its NMS operating point."""
    images, truth = frames
    detector = Detector(
        DetectorConfig(
            resolve_model_path(SHIPPED_MODEL_URL),
            "onnxruntime",
            score_threshold=0.001,
            iou_threshold=SHIPPED_NMS_IOU,
            tile_scale=tile_scale,
        )
    )
    found: list[Detection2DArray] = []
    for image in images:
        pixels, is_bgr = rgb_or_bgr(image)
        dets = detector.detect([pixels], is_bgr)[0]
        found.append(
            Detection2DArray(
                image.header,
                tuple(
                    Detection2D(
                        ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0),
                        (b[2] - b[0], b[3] - b[1]),
                        (ObjectHypothesis(detector.class_name(int(c)), float(s)),),
                    )
                    for b, c, s in zip(
                        dets.boxes_xyxy.tolist(),
                        dets.class_ids.tolist(),
                        dets.scores.tolist(),
                        strict=True,
                    )
                ),
            )
        )
    detector.close()
    gt, dets, unmatched = coco_from_detection_arrays(truth, found)
    assert unmatched == 0
    result = evaluate_coco(gt, dets)
    logger.info(
        "shipped model on seed %d, tile_scale %.2f: mAP@0.5 %.3f, mAP@0.5:0.95 %.3f, "
        "AP50 per class %s",
        HELD_OUT_SEED,
        tile_scale,
        result.stats["map_50"],
        result.stats["map"],
        {k: round(v, 3) for k, v in result.per_class_ap50.items()},
    )
    return result


@pytest.fixture(scope="module")
def metrics(frames: Frames) -> CocoMetrics:
    return score(frames)


def test_shipped_model_resolves_inside_the_package_with_its_labels() -> None:
    assert SHIPPED_MODEL.is_file()
    assert resolve_model_path(SHIPPED_MODEL_URL) == SHIPPED_MODEL
    labels = SHIPPED_MODEL.with_name("warehouse_det.labels.txt").read_text(encoding="utf-8")
    assert labels.split() == ["pallet", "carton", "barrel", "person", "cart"]
    assert SHIPPED_MODEL.with_name("MODEL_CARD.md").is_file()
    assert SHIPPED_MODEL.stat().st_size < 5_000_000


def test_shipped_model_map_on_a_held_out_seed(metrics: CocoMetrics) -> None:
    # Measured with the shipped model: see MODEL_CARD.md (12 frames, seed 950).
    assert metrics.stats["map_50"] >= MAP50_FLOOR
    assert metrics.stats["map"] >= MAP_FLOOR


def test_tiles_find_more_on_the_held_out_seed(frames: Frames, metrics: CocoMetrics) -> None:
    # tile_scale 1.5 (chosen on validation seeds 800-807: 0.740 -> 0.797) on seed 950.
    tiled = score(frames, tile_scale=1.5)
    assert tiled.stats["map_50"] >= TILED_MAP50_FLOOR
    assert tiled.stats["map_50"] > metrics.stats["map_50"]
    assert np.isfinite(list(metrics.per_class_ap50.values())).all()


def test_train_evaluate_mode_scores_a_model_with_visibility(tmp_path: Path) -> None:
    from percept.tools.train_detector import train

    args = ["--evaluate", str(SHIPPED_MODEL), "--out", str(tmp_path / "out")]
    args += ["--cache", str(tmp_path / "cache"), "--test-seeds", "951:952"]
    args += ["--test-frames-per-seed", "2", "--image-size", "320x240"]
    assert train.main(args) == 0
    report = json.loads((tmp_path / "out" / "eval_report.json").read_text(encoding="utf-8"))
    test = report["test"]
    assert test["images"] == 2
    assert test["boxes"] > 0
    assert 0.0 <= test["map"] <= test["map_50"] <= 1.0
    visible = test["visible"]
    assert visible["min_visibility"] == train.MIN_VISIBILITY
    assert 0 < visible["boxes"] <= test["boxes"]
    data = train.Dataset.load(tmp_path / "cache" / "test_951_2_320x240.npz")
    vis = np.concatenate(data.visibility)
    assert vis.size == test["boxes"]
    assert ((vis > 0) & (vis <= 1)).all()
