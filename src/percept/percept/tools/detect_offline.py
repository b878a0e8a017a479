"""Offline detection: images or a bag through the detector, to COCO result JSON.

The result list ``[{image_id, category_id, bbox: [x, y, w, h], score}]`` is what
``pycocotools``' ``loadRes`` and ``percept eval coco`` read. Image ids come from a COCO
ground-truth file when one is given (matched by file name; categories by name), else,
as Ultralytics writes them, from the file stem (``000000000139.jpg`` -> 139, other
stems as text) or the frame number of a bag (1, 2, ...); category ids are then the
model's class indices.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from percept.detect.detector import Detections, Detector
from percept.detect.draw import draw_detections
from percept.errors import DetectionError
from percept.io.image_files import ImageFrame, is_bag, iter_images

__all__ = ["CocoIds", "OfflineResult", "coco_ids_from_ground_truth", "detect_to_coco"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CocoIds:
    """Image and category ids of a COCO ground truth.

    Attributes:
        images: file name -> image id.
        categories: category name -> category id.
    """

    images: dict[str, int]
    categories: dict[str, int]


@dataclass
class OfflineResult:
    """What :func:`detect_to_coco` did.

    Attributes:
        results: COCO result entries.
        images: images detected on.
        skipped_images: images left out (not in the ground truth).
        skipped_detections: detections of classes the ground truth does not name.
    """

    results: list[dict[str, object]] = field(default_factory=list)
    images: int = 0
    skipped_images: int = 0
    skipped_detections: int = 0


def coco_ids_from_ground_truth(path: Path) -> CocoIds:
    """Image ids by file name and category ids by name from a COCO ``instances`` file.

    Raises:
        DetectionError: unreadable or malformed file.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        images = {Path(str(im["file_name"])).name: int(im["id"]) for im in doc["images"]}
        categories = {str(c["name"]): int(c["id"]) for c in doc["categories"]}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        msg = f"{path}: cannot read COCO ground truth (images, categories): {err}"
        raise DetectionError(msg) from err
    return CocoIds(images, categories)


def _image_id(frame: ImageFrame, index: int, bag: bool) -> int | str:
    if bag:
        return index + 1
    stem = Path(frame.name).stem
    return int(stem) if stem.isdigit() else stem


def _batches(frames: Iterator[ImageFrame], size: int) -> Iterator[list[ImageFrame]]:
    batch: list[ImageFrame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _draw(
    frame: ImageFrame, dets: Detections, detector: Detector, folder: Path, min_score: float
) -> None:
    bgr = frame.pixels if frame.is_bgr else np.ascontiguousarray(frame.pixels[..., ::-1])
    shown = dets.scores >= min_score
    names = [detector.class_name(int(c)) for c in dets.class_ids[shown]]
    drawn = draw_detections(
        bgr, dets.boxes_xyxy[shown], dets.class_ids[shown], names, dets.scores[shown]
    )
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(frame.name).stem.strip("/")) + ".jpg"
    if not cv2.imwrite(str(folder / name), drawn):
        msg = f"{folder / name}: cannot write the drawn image"
        raise DetectionError(msg)


def detect_to_coco(
    source: Path,
    detector: Detector,
    *,
    topic: str = "",
    ground_truth: CocoIds | None = None,
    draw_dir: Path | None = None,
    draw_min_score: float = 0.25,
    batch: int = 1,
    progress: Callable[[int], None] | None = None,
) -> OfflineResult:
    """Detect on every image of ``source`` and collect COCO result entries.

    Args:
        source: an image file, a folder of images, or a bag.
        detector: the loaded detector (thresholds from its config).
        topic: the bag's image topic (optional when it has one).
        ground_truth: ids to use; images it does not list are skipped.
        draw_dir: also write each image with its detections drawn here (JPEG).
        draw_min_score: least score of a drawn detection (the result entries keep
            every detection above the detector's own threshold, as mAP needs).
        batch: images per inference call (dynamic-batch models run them at once).
        progress: called with the number of images done after each batch.

    Returns:
        The result entries and counts.

    Raises:
        DetectionError: unreadable source, or a detector failure.
    """
    if batch < 1:
        msg = f"batch must be >= 1, got {batch}"
        raise DetectionError(msg)
    if draw_dir is not None:
        draw_dir.mkdir(parents=True, exist_ok=True)
    bag = is_bag(source)
    out = OfflineResult()
    index = 0
    for frames in _batches(iter_images(source, topic), batch):
        ids: list[int | str | None] = []
        for frame in frames:
            if ground_truth is None:
                ids.append(_image_id(frame, index, bag))
            else:
                ids.append(ground_truth.images.get(Path(frame.name).name))
            index += 1
        wanted = [i for i, image_id in enumerate(ids) if image_id is not None]
        out.skipped_images += len(frames) - len(wanted)
        if not wanted:
            continue
        dets_list = detector.detect(
            [frames[i].pixels for i in wanted], [frames[i].is_bgr for i in wanted]
        )
        for i, dets in zip(wanted, dets_list, strict=True):
            out.images += 1
            out.results += _entries(ids[i], dets, detector, ground_truth, out)
            if draw_dir is not None:
                _draw(frames[i], dets, detector, draw_dir, draw_min_score)
        if progress is not None:
            progress(len(frames))
    return out


def _entries(
    image_id: int | str | None,
    dets: Detections,
    detector: Detector,
    ground_truth: CocoIds | None,
    out: OfflineResult,
) -> list[dict[str, object]]:
    boxes = dets.boxes_xyxy.astype(np.float64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).round(3)
    entries: list[dict[str, object]] = []
    for k in range(len(dets)):
        class_id = int(dets.class_ids[k])
        category: int | None = class_id
        if ground_truth is not None and detector.labels:
            category = ground_truth.categories.get(detector.class_name(class_id))
        if category is None:
            out.skipped_detections += 1
            continue
        entries.append(
            {
                "image_id": image_id,
                "category_id": category,
                "bbox": [float(v) for v in xywh[k]],
                "score": round(float(dets.scores[k]), 5),
            }
        )
    return entries
