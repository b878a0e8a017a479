"""Scoring an ONNX detector on test frames with ``percept.detect`` and COCO mAP."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from percept.detect.shipped import SHIPPED_NMS_IOU
from percept.tools.train_detector.dataset import CLASS_NAMES, Dataset

__all__ = ["MIN_VISIBILITY", "evaluate_model", "log_metrics"]

logger = logging.getLogger(__name__)

#: Objects seen less than this fraction are ignore regions in the ``visible`` scores.
MIN_VISIBILITY: Final = 0.5


def evaluate_model(
    model_path: Path,
    data: Dataset,
    min_visibility: float = MIN_VISIBILITY,
    iou_threshold: float = SHIPPED_NMS_IOU,
    *,
    tile_scale: float = 1.0,
) -> dict[str, Any]:
    """Score an ONNX model on frames with ``percept.detect`` and COCO mAP.

    Frames are given to the detector as mono8 images converted by the pipeline (the
    simulated robots' cameras are mono8), score threshold 0.001 as COCO mAP is measured,
    NMS at ``iou_threshold`` (the shipped model's operating point by default). Every box
    counts in the main figures. When the frames carry visibility, ``visible``
    repeats them with the objects seen less than ``min_visibility`` turned into ignore
    regions (COCO ``iscrowd``: a detection on one is neither right nor wrong), as
    KITTI's difficulty levels and CityPersons' "reasonable" subset leave out heavily
    occluded objects; it is None otherwise. ``tile_scale`` above 1 adds tiled inference
    (:class:`percept.detect.detector.DetectorConfig`).
    """
    from percept.detect.detector import Detector, DetectorConfig
    from percept.eval.detection import BoxSet, CocoGroundTruth, evaluate_coco

    detector = Detector(
        DetectorConfig(
            model_path,
            backend="onnxruntime",
            score_threshold=0.001,
            iou_threshold=iou_threshold,
            tile_scale=tile_scale,
        )
    )
    g_img, g_cat, g_box = [], [], []
    d_img, d_cat, d_box, d_score = [], [], [], []
    for i, image in enumerate(data.images):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        dets = detector.detect([cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)], is_bgr=False)[0]
        for box, cls in zip(data.boxes[i], data.classes[i], strict=True):
            g_img.append(i + 1)
            g_cat.append(int(cls) + 1)
            g_box.append([box[0], box[1], box[2] - box[0], box[3] - box[1]])
        for box, cls, score in zip(dets.boxes_xyxy, dets.class_ids, dets.scores, strict=True):
            d_img.append(i + 1)
            d_cat.append(int(cls) + 1)
            d_box.append([box[0], box[1], box[2] - box[0], box[3] - box[1]])
            d_score.append(float(score))
    detector.close()
    gt = CocoGroundTruth(
        BoxSet.build(g_img, g_cat, np.array(g_box, np.float64).reshape(-1, 4)),
        np.arange(1, len(data.images) + 1, dtype=np.int64),
        {i + 1: n for i, n in enumerate(CLASS_NAMES)},
    )
    dets_set = BoxSet.build(d_img, d_cat, np.array(d_box, np.float64).reshape(-1, 4), d_score)
    metrics = evaluate_coco(gt, dets_set)
    visible: dict[str, Any] | None = None
    vis = np.concatenate([*data.visibility, np.zeros(0, np.float32)])
    if vis.size and np.isfinite(vis).all():
        hidden = vis < min_visibility
        # The same ground truth with the hidden objects as crowd (ignore) regions.
        boxes = replace(gt.boxes, iscrowd=hidden)
        m = evaluate_coco(replace(gt, boxes=boxes), dets_set)
        visible = {
            "min_visibility": min_visibility,
            "boxes": int(np.count_nonzero(~hidden)),
            "map_50": m.stats["map_50"],
            "map": m.stats["map"],
            "per_class_ap50": m.per_class_ap50,
        }
    return {
        "map_50": metrics.stats["map_50"],
        "map": metrics.stats["map"],
        "per_class_ap50": metrics.per_class_ap50,
        "per_class_ap": metrics.per_class_ap,
        "images": len(data.images),
        "boxes": len(g_img),
        "visible": visible,
    }


def log_metrics(metrics: dict[str, Any]) -> None:
    """Log the scores of ``evaluate_model``, one line each for all and visible objects."""
    logger.info(
        "test: %d frames, %d boxes: mAP@0.5 %.4f, mAP@0.5:0.95 %.4f; AP50 %s",
        metrics["images"],
        metrics["boxes"],
        metrics["map_50"],
        metrics["map"],
        ", ".join(f"{k} {v:.3f}" for k, v in metrics["per_class_ap50"].items()),
    )
    v = metrics["visible"]
    if v is not None:
        logger.info(
            "test, objects at least %.0f %% visible (%d of %d boxes, the rest ignore "
            "regions): mAP@0.5 %.4f, mAP@0.5:0.95 %.4f; AP50 %s",
            100 * v["min_visibility"],
            v["boxes"],
            metrics["boxes"],
            v["map_50"],
            v["map"],
            ", ".join(f"{k} {x:.3f}" for k, x in v["per_class_ap50"].items()),
        )
