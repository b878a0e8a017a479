"""``percept eval`` file modes: trajectory files, COCO result JSON, disparity maps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from percept.errors import EvalError
from percept.eval.conditions import split_by_conditions
from percept.eval.config import EvalConfig
from percept.eval.detection import (
    CocoParams,
    evaluate_coco,
    load_coco_detections,
    load_coco_ground_truth,
)
from percept.eval.disparity import DEFAULT_THRESHOLDS_PX, disparity_metrics, read_disparity
from percept.eval.frames import FrameScore, Shot
from percept.eval.pictures import shrink_values
from percept.eval.result import EvalResult
from percept.eval.trajectory import (
    TrajectoryEvalConfig,
    TrajectoryFormat,
    evaluate_trajectory,
    read_trajectory,
)

__all__ = ["score_coco_files", "score_disparity_files", "score_trajectory_files"]


def score_trajectory_files(
    estimate: Path | str,
    ground_truth: Path | str,
    fmt: TrajectoryFormat,
    gt_fmt: TrajectoryFormat | None = None,
    config: TrajectoryEvalConfig | None = None,
) -> EvalResult:
    """ATE/RPE of a trajectory file against a ground-truth file (evo_ape + evo_rpe).

    Raises:
        EvalError: unreadable files, no association, degenerate alignment.
    """
    est = read_trajectory(estimate, fmt)
    gt = read_trajectory(ground_truth, gt_fmt or fmt)
    metrics = evaluate_trajectory(est, gt, config)
    result = EvalResult(str(estimate), str(ground_truth), mode="trajectory", trajectory=metrics)
    if metrics.reference.stamps_ns is not None:
        result.frames["trajectory"] = [
            FrameScore(int(s), {"ate_m": float(e)})
            for s, e in zip(metrics.reference.stamps_ns, metrics.ate_errors_m, strict=True)
        ]
        split_by_conditions(result, gt, {}, EvalConfig(trajectory=metrics.config))
    return result


def score_coco_files(
    detections: Path | str, ground_truth: Path | str, params: CocoParams | None = None
) -> EvalResult:
    """COCO mAP of a result JSON against COCO ground truth.

    Raises:
        EvalError: unreadable files or detections on unknown images.
    """
    gt = load_coco_ground_truth(ground_truth)
    dets = load_coco_detections(detections, gt)
    metrics = evaluate_coco(gt, dets, params)
    result = EvalResult(str(detections), str(ground_truth), mode="coco", detection=metrics)
    result.detection_truth, result.detection_boxes = gt, dets
    result.frames["detection"] = [
        FrameScore(
            i,
            {
                "errors": float(r.errors),
                "false_positives": float(r.false_positives),
                "false_negatives": float(r.false_negatives),
            },
        )
        for i, r in sorted(metrics.images.items())
    ]
    images_dir = Path(ground_truth).parent
    worst = [f for f in result.worst("detection", "errors", 5) if f.values["errors"] > 0]
    shots: list[Shot] = []
    for f in worst:
        shot = Shot(
            0, f"worst errors (image {f.stamp_ns})", f.values["errors"], image_id=f.stamp_ns
        )
        name = gt.file_names.get(f.stamp_ns, "")
        for folder in (images_dir, images_dir / "images"):
            path = folder / name
            if name and path.is_file():
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is not None:
                    shot.arrays["image"] = image
                break
        shots.append(shot)
    result.shots["detection"] = shots
    return result


def score_disparity_files(
    estimate: Path | str,
    ground_truth: Path | str,
    *,
    scale: float = 1.0,
    gt_scale: float | None = None,
    mask: Path | str | None = None,
    max_disparity_px: float | None = None,
    thresholds_px: Sequence[float] = DEFAULT_THRESHOLDS_PX,
) -> EvalResult:
    """Middlebury scores of a disparity file (PFM or scaled PNG) against ground truth.

    Args:
        estimate: ``.pfm`` or ``.png``.
        ground_truth: ``.pfm`` or ``.png``.
        scale: PNG value per pixel of disparity of the estimate.
        gt_scale: the same for the ground truth (default: ``scale``).
        mask: PNG, non-zero where to score (Middlebury ``mask0nocc``: 255 = scored).
        max_disparity_px: clip the estimate first (evaldisp's ``maxdisp``).
        thresholds_px: bad-pixel thresholds.

    Raises:
        EvalError: unreadable files or sizes that differ.
    """
    est = read_disparity(estimate, scale)
    gt = read_disparity(ground_truth, gt_scale if gt_scale is not None else scale)
    mk = None
    if mask is not None:
        raw = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
        if raw is None:
            msg = f"{mask}: cannot read mask image"
            raise EvalError(msg)
        # Middlebury masks: 255 scored, 128 occluded, 0 unknown.
        mk = raw == 255 if np.any(raw == 128) else raw > 0
    metrics = disparity_metrics(
        est, gt, thresholds_px=thresholds_px, mask=mk, max_disparity_px=max_disparity_px
    )
    result = EvalResult(str(estimate), str(ground_truth), mode="disparity", disparity=metrics)
    result.shots["depth"] = [
        Shot(
            0,
            "disparity",
            math.nan,
            {"disparity": shrink_values(est), "gt_disparity": shrink_values(gt)},
        )
    ]
    return result
