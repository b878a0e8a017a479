"""Training and test frames: rendered from ``percept synth`` scenes, cached, augmented.

One scene per seed (layout, sizes, colours, textures, lighting and clutter are drawn from
the seed); frames at random times along the seed's trajectory, ground and handheld motion
alternating by seed, a random exposure per frame and the generator's sensor noise, and
each object's visible fraction. ``augment`` gives the photometric and geometric
augmentation of one training sample (``place`` then ``photometric``); ``mix`` builds
mosaics and copy-paste on these.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASS_NAMES",
    "SCALE_RANGE",
    "Dataset",
    "augment",
    "photometric",
    "place",
    "render_dataset",
    "render_seed",
]

logger = logging.getLogger(__name__)

#: Classes of the synthetic warehouse, in class-id order.
CLASS_NAMES: Final = ("pallet", "carton", "barrel", "person", "cart")
_PAD: Final = 114
#: Default random scale factors of a training sample (log-uniform).
SCALE_RANGE: Final = (0.75, 1.33)


@dataclass(slots=True)
class Dataset:
    """Rendered frames with their boxes.

    Attributes:
        images: (F, H, W, 3) uint8 BGR images.
        boxes: per frame, (K, 4) float32 ``[x1, y1, x2, y2]`` pixel-edge coordinates.
        classes: per frame, (K,) int64 class ids (``CLASS_NAMES``).
        seeds: (F,) int64 scene seed of each frame.
        visibility: per frame, (K,) float32 visible fraction of each object
            (``percept.synth.generate.visible_fractions``); NaN where unknown (frames
            cached before it was recorded).
    """

    images: npt.NDArray[np.uint8]
    boxes: list[npt.NDArray[np.float32]]
    classes: list[npt.NDArray[np.int64]]
    seeds: npt.NDArray[np.int64]
    visibility: list[npt.NDArray[np.float32]]

    def save(self, path: Path) -> None:
        """Write an ``.npz``."""
        counts = np.array([len(c) for c in self.classes], dtype=np.int64)
        np.savez(
            path,
            images=self.images,
            boxes=np.concatenate([*self.boxes, np.zeros((0, 4), np.float32)]),
            classes=np.concatenate([*self.classes, np.zeros(0, np.int64)]),
            counts=counts,
            seeds=self.seeds,
            visibility=np.concatenate([*self.visibility, np.zeros(0, np.float32)]),
        )

    @classmethod
    def load(cls, path: Path) -> Dataset:
        """Read an ``.npz`` written by :meth:`save`."""
        with np.load(path) as z:
            splits = np.cumsum(z["counts"])[:-1]
            classes = z["classes"].astype(np.int64)
            if "visibility" in z.files:
                visibility = z["visibility"].astype(np.float32)
            else:
                visibility = np.full(classes.shape, np.nan, dtype=np.float32)
            return cls(
                z["images"],
                list(np.split(z["boxes"].astype(np.float32), splits)),
                list(np.split(classes, splits)),
                z["seeds"],
                list(np.split(visibility, splits)),
            )

    @classmethod
    def concat(cls, parts: Sequence[Dataset]) -> Dataset:
        """One data set of several."""
        return cls(
            np.concatenate([p.images for p in parts]),
            [b for p in parts for b in p.boxes],
            [c for p in parts for c in p.classes],
            np.concatenate([p.seeds for p in parts]),
            [v for p in parts for v in p.visibility],
        )


def render_seed(seed: int, frames: int, width: int, height: int, *, test: bool = False) -> Dataset:
    """Render the left image and its ground-truth boxes at several times of one seed.

    Training frames take random times along the trajectory and a random exposure (a
    factor of 0.5..2 on the generator's auto-exposure); test frames are evenly spaced
    with the generator's own exposure. Both carry the generator's sensor noise. Boxes
    are the generator's (``boxes_2d``, same minimum size).

    Args:
        seed: scene seed; even seeds drive the ground robot, odd ones the handheld rig.
        frames: frames to render.
        width: image width, pixels.
        height: image height, pixels.
        test: evenly spaced frames at the generator's exposure.

    Returns:
        The frames (BGR) and boxes.
    """
    from percept.synth.generate import (
        SynthConfig,
        _Sequence,
        boxes_2d,
        default_rig,
        visible_fractions,
    )
    from percept.synth.rig import to_image

    motion = "ground" if seed % 2 == 0 else "handheld"
    cfg = SynthConfig(
        seed=seed,
        motion=motion,
        seconds=60.0,
        rig=default_rig(motion, width=width, height=height, encoding="bgr8"),
    )
    seq = _Sequence(cfg)
    rng = np.random.default_rng([seed, 77, int(test)])
    if test:
        times = np.arange(frames) * (60.0 / frames)
    else:
        times = np.sort(rng.uniform(0.0, 60.0, frames))
    min_pixels = max(4, round(1e-4 * width * height))
    class_of = {n: i for i, n in enumerate(CLASS_NAMES)}
    images, all_boxes, all_classes, all_visibility = [], [], [], []
    for i, t in enumerate(times):
        stamp = cfg.start_ns + round(float(t) * 1e9)
        render = seq.render(stamp)
        if i == 0:
            seq.calibrate_exposure(render)
        exposure = seq.exposure * (1.0 if test else float(np.exp(rng.uniform(-0.7, 0.7))))
        images.append(to_image(render.left, exposure, "bgr8", rng))
        ids, b = boxes_2d(render.object_left, len(seq.scene.objects), min_pixels)
        edges = b.astype(np.float32) + np.array([0, 0, 1, 1], np.float32)
        all_boxes.append(edges.reshape(-1, 4))
        all_classes.append(
            np.array([class_of[seq.scene.objects[int(k)].class_name] for k in ids], np.int64)
        )
        all_visibility.append(visible_fractions(render.object_left, seq.footprint(stamp), ids))
    return Dataset(
        np.stack(images),
        all_boxes,
        all_classes,
        np.full(len(images), seed, dtype=np.int64),
        all_visibility,
    )


def render_dataset(
    seeds: Sequence[int], frames: int, width: int, height: int, cache: Path, *, test: bool = False
) -> Dataset:
    """Render (or load from ``cache``, one ``.npz`` per seed) the frames of several seeds."""
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    for seed in seeds:
        kind = "test" if test else "train"
        path = cache / f"{kind}_{seed}_{frames}_{width}x{height}.npz"
        if not path.is_file():
            start = time.perf_counter()
            part = render_seed(seed, frames, width, height, test=test)
            part.save(path)
            logger.info("seed %d: %d frames in %.1f s", seed, frames, time.perf_counter() - start)
        parts.append(Dataset.load(path))
    return Dataset.concat(parts)


def place(
    image: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    out_width: int,
    out_height: int,
    rng: np.random.Generator,
    base_scale: float | None = None,
    scale_range: tuple[float, float] = SCALE_RANGE,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """The geometric part of ``augment``: flip, scale and place on a grey canvas.

    A horizontal flip half of the time; a scale of ``scale_range`` times
    ``base_scale`` (log-uniform) and a random placement on the grey canvas: a random
    crop when the scaled image is larger, padding when smaller. Boxes cut by the
    canvas edge keep their visible part; those keeping < 40 % of their area or < 3 px
    of a side are dropped.

    Args:
        image: (H, W, 3) uint8 BGR.
        boxes: (K, 4) float32 ``x1, y1, x2, y2``.
        classes: (K,) int64.
        out_width: canvas width.
        out_height: canvas height.
        rng: random generator.
        base_scale: image-to-canvas scale before the random factor (default: letterbox
            the whole image into the canvas).
        scale_range: (low, high) random scale factors.

    Returns:
        ((out_height, out_width, 3) uint8 BGR canvas, boxes, classes) in canvas pixels.
    """
    h, w = image.shape[:2]
    boxes = boxes.copy()
    if rng.random() < 0.5:
        image = image[:, ::-1]
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    base = min(out_width / w, out_height / h) if base_scale is None else base_scale
    low, high = scale_range
    s = base * float(np.exp(rng.uniform(math.log(low), math.log(high))))
    new_w, new_h = max(8, round(w * s)), max(8, round(h * s))
    resized = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_AREA)
    dx = int(rng.integers(min(0, out_width - new_w), max(0, out_width - new_w) + 1))
    dy = int(rng.integers(min(0, out_height - new_h), max(0, out_height - new_h) + 1))
    canvas = np.full((out_height, out_width, 3), _PAD, np.uint8)
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + new_w, out_width), min(dy + new_h, out_height)
    canvas[y0:y1, x0:x1] = resized[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    sx, sy = new_w / w, new_h / h
    placed = boxes * np.array([sx, sy, sx, sy], np.float32) + np.array([dx, dy, dx, dy], np.float32)
    clipped = placed.copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], x0, x1)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], y0, y1)
    area = (placed[:, 2] - placed[:, 0]) * (placed[:, 3] - placed[:, 1])
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (
        (kept_area >= 0.4 * np.maximum(area, 1e-6))
        & (clipped[:, 2] - clipped[:, 0] >= 3)
        & (clipped[:, 3] - clipped[:, 1] >= 3)
    )
    return canvas, clipped[keep].astype(np.float32), classes[keep].astype(np.int64)


def photometric(canvas: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """The photometric part of ``augment`` (boxes unchanged).

    Grey (as a mono8 camera) half of the time, else channel gains 0.8..1.2; contrast
    0.6..1.4 and brightness +-35; gamma (p 0.3); Gaussian blur (p 0.25) or motion blur
    (p 0.1); Gaussian noise (p 0.5).

    Args:
        canvas: (H, W, 3) uint8 BGR.
        rng: random generator.

    Returns:
        (H, W, 3) uint8 BGR.
    """
    img = canvas.astype(np.float32)
    if rng.random() < 0.5:
        grey = img @ np.array([0.114, 0.587, 0.299], np.float32)
        img = np.repeat(grey[..., None], 3, axis=2)
    else:
        img *= rng.uniform(0.8, 1.2, 3).astype(np.float32)
    contrast, brightness = rng.uniform(0.6, 1.4), rng.uniform(-35, 35)
    img = (img - 128.0) * np.float32(contrast) + np.float32(128.0 + brightness)
    img = np.clip(img, 0, 255)
    if rng.random() < 0.3:
        img = 255.0 * (img / 255.0) ** np.float32(np.exp(rng.uniform(-0.4, 0.4)))
    blur = rng.random()
    if blur < 0.25:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.6))), np.float32)
    elif blur < 0.35:
        k = int(rng.integers(3, 8))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        if rng.random() < 0.5:
            kernel = kernel.T
        img = np.asarray(cv2.filter2D(img, -1, kernel), np.float32)
    if rng.random() < 0.5:
        img = img + rng.normal(0.0, rng.uniform(1.0, 8.0), img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def augment(
    image: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    out_width: int,
    out_height: int,
    rng: np.random.Generator,
    base_scale: float | None = None,
    scale_range: tuple[float, float] = SCALE_RANGE,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Random geometric and photometric augmentation into a network-size canvas.

    ``place`` (flip, scale of ``scale_range`` x ``base_scale``, random placement or
    crop) then ``photometric``. With the default ``base_scale`` (the letterbox scale
    into the canvas) the canvas holds the whole image; with the scale of the network's
    full input it is a random crop at the scale the network sees at run time.

    Args:
        image: (H, W, 3) uint8 BGR.
        boxes: (K, 4) float32 ``x1, y1, x2, y2``.
        classes: (K,) int64.
        out_width: canvas width.
        out_height: canvas height.
        rng: random generator.
        base_scale: image-to-canvas scale before the random factor (default: letterbox
            the whole image into the canvas).
        scale_range: (low, high) random scale factors.

    Returns:
        ((out_height, out_width, 3) uint8 BGR, boxes, classes) in canvas pixels.
    """
    canvas, boxes, classes = place(
        image, boxes, classes, out_width, out_height, rng, base_scale, scale_range
    )
    return photometric(canvas, rng), boxes, classes
