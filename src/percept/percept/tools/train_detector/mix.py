"""Sample-mixing augmentation: mosaic of four frames, copy-paste of object crops.

``training_sample`` builds one training sample as the training loop asks for it: a
mosaic (probability ``mosaic_p``) or one frame placed by ``dataset.place``, object crops
of other frames pasted on it (``copy_paste_p``), then ``dataset.photometric``. The
sample's scale comes from ``wide_scale_range`` with probability ``wide_scale_p``, else
from ``dataset.SCALE_RANGE``. A probability of 0 draws no random number, so the default
configuration gives the samples of plain ``augment``.

Mosaic (YOLOv4): the canvas is cut at a random point into four quadrants and each is
filled by ``place`` from its own frame (a crop at the sample's scale), so a sample sees
four scenes and objects cut by more edges. Copy-paste ("Cut, Paste and Learn",
Dwibedi et al. 2017; Ghiasi et al. 2021 with masks): the box crop of a well-visible
object of another frame, scaled like the sample, pasted where it covers no box of the
canvas, so every existing box keeps its pixels.
"""

from __future__ import annotations

import math
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.tools.train_detector.config import TrainConfig
from percept.tools.train_detector.dataset import SCALE_RANGE, Dataset, photometric, place

__all__ = ["copy_paste", "mosaic", "training_sample"]

#: Pasted objects must be at least this visible (their box crop is mostly themselves).
PASTE_MIN_VISIBILITY: Final = 0.75
#: Pasted objects: smallest source box side, pixels.
PASTE_MIN_SIDE_PX: Final = 8.0
#: Random positions tried per pasted object.
_PASTE_TRIES: Final = 12

Sample = tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.int64]]


def mosaic(
    data: Dataset,
    frames: npt.NDArray[np.int64],
    out_width: int,
    out_height: int,
    rng: np.random.Generator,
    base_scale: float | None,
    scale_range: tuple[float, float] = SCALE_RANGE,
) -> Sample:
    """Four frames in the quadrants around a random point of the canvas.

    The point is uniform in the middle half of each axis; quadrant ``q`` (top-left,
    top-right, bottom-left, bottom-right) is ``place`` of ``frames[q]`` into the
    quadrant's size, so boxes are clipped by the quadrant's edges by ``place``'s rule.

    Args:
        data: the frames.
        frames: (4,) frame indices, one per quadrant.
        out_width: canvas width.
        out_height: canvas height.
        rng: random generator.
        base_scale: frame-to-canvas scale before the random factor (None: letterbox
            each frame into its quadrant).
        scale_range: (low, high) random scale factors.

    Returns:
        ((out_height, out_width, 3) uint8 BGR canvas, (K, 4) boxes, (K,) classes).
    """
    cx = int(rng.integers(out_width // 4, 3 * out_width // 4 + 1))
    cy = int(rng.integers(out_height // 4, 3 * out_height // 4 + 1))
    canvas = np.empty((out_height, out_width, 3), np.uint8)
    all_boxes, all_classes = [], []
    cells = (
        (0, 0, cx, cy),
        (cx, 0, out_width, cy),
        (0, cy, cx, out_height),
        (cx, cy, out_width, out_height),
    )
    for k, (x0, y0, x1, y1) in zip(frames, cells, strict=True):
        tile, boxes, classes = place(
            data.images[k], data.boxes[k], data.classes[k], x1 - x0, y1 - y0, rng,
            base_scale, scale_range,
        )  # fmt: skip
        canvas[y0:y1, x0:x1] = tile
        all_boxes.append(boxes + np.array([x0, y0, x0, y0], np.float32))
        all_classes.append(classes)
    return canvas, np.concatenate(all_boxes), np.concatenate(all_classes)


def copy_paste(
    canvas: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    data: Dataset,
    count: int,
    rng: np.random.Generator,
    scale: float,
) -> Sample:
    """Paste the box crops of up to ``count`` objects of random frames on free canvas.

    Source objects: at least ``PASTE_MIN_VISIBILITY`` visible (or of unknown
    visibility) and ``PASTE_MIN_SIDE_PX`` on each side. Each crop is flipped half of
    the time, scaled by ``scale`` and pasted at the first of ``_PASTE_TRIES`` random
    positions where it overlaps no box of the canvas (those given and those pasted
    before); an object with no such position is skipped. Pasted boxes are the pasted
    pixels' rectangle.

    Args:
        canvas: (H, W, 3) uint8 BGR, modified in place and returned.
        boxes: (K, 4) float32 ``x1, y1, x2, y2`` on the canvas.
        classes: (K,) int64.
        data: the frames to take objects from.
        count: objects to try.
        rng: random generator.
        scale: source-to-canvas scale of the crops.

    Returns:
        (canvas, (K + P, 4) boxes, (K + P,) classes): the given boxes first, unchanged.
    """
    out_h, out_w = canvas.shape[:2]
    out_boxes, out_classes = [boxes], [classes]
    taken = boxes
    for frame in rng.integers(0, len(data.images), count):
        src = data.boxes[frame]
        vis = data.visibility[frame]
        sides = np.minimum(src[:, 2] - src[:, 0], src[:, 3] - src[:, 1])
        ok = np.flatnonzero(~(vis < PASTE_MIN_VISIBILITY) & (sides >= PASTE_MIN_SIDE_PX))
        if not ok.size:
            continue
        j = int(ok[rng.integers(0, ok.size)])
        x1, y1 = math.floor(src[j, 0]), math.floor(src[j, 1])
        x2, y2 = math.ceil(src[j, 2]), math.ceil(src[j, 3])
        crop = data.images[frame][y1:y2, x1:x2]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        w = max(3, round((x2 - x1) * scale))
        h = max(3, round((y2 - y1) * scale))
        if w >= out_w or h >= out_h:
            continue
        xs = rng.integers(0, out_w - w + 1, _PASTE_TRIES)
        ys = rng.integers(0, out_h - h + 1, _PASTE_TRIES)
        free = ~(
            (xs[:, None] < taken[:, 2])
            & (xs[:, None] + w > taken[:, 0])
            & (ys[:, None] < taken[:, 3])
            & (ys[:, None] + h > taken[:, 1])
        ).any(1)
        if not free.any():
            continue
        t = int(np.argmax(free))
        px, py = int(xs[t]), int(ys[t])
        canvas[py : py + h, px : px + w] = cv2.resize(
            np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_AREA
        )
        new = np.array([[px, py, px + w, py + h]], np.float32)
        taken = np.concatenate([taken, new])
        out_boxes.append(new)
        out_classes.append(data.classes[frame][j : j + 1])
    return canvas, np.concatenate(out_boxes), np.concatenate(out_classes).astype(np.int64)


def training_sample(
    data: Dataset,
    index: int,
    config: TrainConfig,
    rng: np.random.Generator,
    base_scale: float | None,
) -> Sample:
    """One augmented training sample of frame ``index`` at the training crop size.

    Args:
        data: the training frames.
        index: the sample's frame (a mosaic adds three random others).
        config: crop size and the augmentation probabilities.
        rng: random generator.
        base_scale: frame-to-canvas scale before the random factor (None: letterbox).

    Returns:
        ((crop_height, crop_width, 3) uint8 BGR, (K, 4) boxes, (K,) classes).
    """
    w, h = config.crop_width, config.crop_height
    scale_range = SCALE_RANGE
    if config.wide_scale_p > 0 and rng.random() < config.wide_scale_p:
        scale_range = config.wide_scale_range
    if config.mosaic_p > 0 and rng.random() < config.mosaic_p:
        others = rng.integers(0, len(data.images), 3)
        frames = np.concatenate([[index], others]).astype(np.int64)
        canvas, boxes, classes = mosaic(data, frames, w, h, rng, base_scale, scale_range)
    else:
        canvas, boxes, classes = place(
            data.images[index], data.boxes[index], data.classes[index], w, h, rng,
            base_scale, scale_range,
        )  # fmt: skip
    if config.copy_paste_p > 0 and rng.random() < config.copy_paste_p:
        img_h, img_w = data.images.shape[1:3]
        base = min(w / img_w, h / img_h) if base_scale is None else base_scale
        low, high = scale_range
        scale = base * float(np.exp(rng.uniform(math.log(low), math.log(high))))
        count = int(rng.integers(1, 9))
        canvas, boxes, classes = copy_paste(canvas, boxes, classes, data, count, rng, scale)
    return photometric(canvas, rng), boxes, classes
