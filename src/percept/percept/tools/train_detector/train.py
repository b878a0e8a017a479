"""Train the shipped warehouse detector on ``percept synth`` renders (the ``train`` extra).

``python -m percept.tools.train_detector --out DIR --train-seeds 100:200 --test-seeds 900:910``
(``--evaluate MODEL.onnx``: only score a model, no torch needed) renders a data set from
the synthetic warehouse (one scene per seed: layout, sizes, colours, textures, lighting
and clutter are drawn from the seed; frames at random times along the seed's trajectory,
ground and handheld motion alternating by seed, a random exposure per frame and the
generator's sensor noise, and each object's visible fraction), trains a compact
anchor-free detector with photometric and geometric augmentation, exports it to ONNX with
the YOLOv8 output layout and scores it on the held-out seeds with ``percept.detect`` and
``percept.eval.detection``.

The network (about 0.4 M parameters): a stride-2 convolution backbone (BN + SiLU, residual
blocks) to strides 8, 16 and 32, a top-down feature pyramid, one head shared by the levels
predicting the distances from each cell centre to the box sides (left, top, right,
bottom) and five class logits. Exported output: (B, 4 + 5, N) with rows ``cx, cy, w, h``
in network-input pixels then the class scores after the sigmoid, N the cells of the
three levels, exactly what Ultralytics' YOLOv8 exports give, so
``percept.detect.decode``'s ``yolov8`` decoder reads it unchanged.

Training: FCOS-style assignment (a cell is positive for a box when its centre lies in
the box, within 2.5 strides of the box centre, on the level of the box's size; ties go
to the smaller box), quality focal loss on the classes (the target of a positive is the
IoU of its predicted box, so scores rank boxes by localisation quality), GIoU loss on
the boxes, AdamW with a cosine learning rate, two CPU threads.

torch is imported inside the functions that need it: the module imports without it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.detect.shipped import SHIPPED_NMS_IOU

__all__ = [
    "CLASS_NAMES",
    "Dataset",
    "TrainConfig",
    "augment",
    "evaluate_model",
    "main",
    "render_dataset",
    "train",
]

logger = logging.getLogger(__name__)

#: Classes of the synthetic warehouse, in class-id order.
CLASS_NAMES: Final = ("pallet", "carton", "barrel", "person", "cart")
#: Strides of the three output levels.
STRIDES: Final = (8, 16, 32)
#: Largest box side (pixels) assigned to each level; the last takes everything above.
LEVEL_MAX_SIDE: Final = (64.0, 128.0, math.inf)
#: Smallest box side assigned to each level.
LEVEL_MIN_SIDE: Final = (0.0, 48.0, 96.0)
_PAD: Final = 114
#: Objects seen less than this fraction are ignore regions in the ``visible`` scores.
MIN_VISIBILITY: Final = 0.5


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that decides the trained model.

    Attributes:
        train_seeds: scene seeds rendered for training.
        test_seeds: held-out scene seeds rendered for the test set.
        frames_per_seed: training frames per seed (random times along the trajectory).
        test_frames_per_seed: test frames per seed (evenly spaced times).
        image_width: rendered image width, pixels.
        image_height: rendered image height, pixels.
        input_width: network input width, pixels (multiple of 32).
        input_height: network input height, pixels (multiple of 32).
        crop_width: training crop width, pixels (multiple of 32); the network is fully
            convolutional, so it trains on crops at the camera's scale and runs on the
            whole ``input_width`` x ``input_height`` image.
        crop_height: training crop height, pixels (multiple of 32).
        epochs: passes over the training set.
        batch_size: images per step.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        width: channels of the first backbone stage (later stages 2x, 4x, 8x).
        threads: torch CPU threads.
        seed: torch and augmentation seed.
        max_minutes: stop training after this wall time (0: no limit).
    """

    train_seeds: tuple[int, int] = (100, 200)
    test_seeds: tuple[int, int] = (900, 910)
    frames_per_seed: int = 14
    test_frames_per_seed: int = 10
    image_width: int = 320
    image_height: int = 240
    input_width: int = 320
    input_height: int = 256
    crop_width: int = 320
    crop_height: int = 256
    epochs: int = 30
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 5e-4
    width: int = 16
    threads: int = 2
    seed: int = 0
    max_minutes: float = 0.0


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


# --------------------------------------------------------------------------- data


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


def augment(
    image: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    out_width: int,
    out_height: int,
    rng: np.random.Generator,
    base_scale: float | None = None,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Random geometric and photometric augmentation into a network-size canvas.

    Geometric: horizontal flip; a scale of 0.75..1.33 of ``base_scale`` and a random
    placement on the grey canvas (boxes cropped by the canvas edge keep their visible
    part; those keeping < 40 % of their area or < 3 px of a side are dropped). With the
    default ``base_scale`` (the letterbox scale into the canvas) the canvas holds the
    whole image; with the scale of the network's full input it is a random crop at the
    scale the network sees at run time.
    Photometric: grey (as a mono8 camera) half of the time, channel gains, brightness,
    contrast and gamma, Gaussian blur or motion blur, Gaussian noise.

    Args:
        image: (H, W, 3) uint8 BGR.
        boxes: (K, 4) float32 ``x1, y1, x2, y2``.
        classes: (K,) int64.
        out_width: canvas width.
        out_height: canvas height.
        rng: random generator.
        base_scale: image-to-canvas scale before the random factor (default: letterbox
            the whole image into the canvas).

    Returns:
        ((out_height, out_width, 3) uint8 BGR, boxes, classes) in canvas pixels.
    """
    h, w = image.shape[:2]
    boxes = boxes.copy()
    if rng.random() < 0.5:
        image = image[:, ::-1]
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    base = min(out_width / w, out_height / h) if base_scale is None else base_scale
    s = base * float(np.exp(rng.uniform(math.log(0.75), math.log(1.33))))
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
    boxes, classes = clipped[keep], classes[keep]

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
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out, boxes.astype(np.float32), classes.astype(np.int64)


# --------------------------------------------------------------------------- model


def build_model(width: int = 16, num_classes: int = len(CLASS_NAMES)) -> Any:
    """The detector network (a ``torch.nn.Module``); its output is the exported one."""
    import torch
    from torch import nn

    def conv(c_in: int, c_out: int, k: int = 3, s: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU()
        )

    class Residual(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.body = nn.Sequential(conv(c, c // 2, 1), conv(c // 2, c, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.add(x, self.body(x))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, c3, c4, c5 = width, 2 * width, 4 * width, 6 * width, 8 * width
            self.stem = nn.Sequential(conv(3, c1, 3, 2), conv(c1, c2, 3, 2), Residual(c2))
            self.s8 = nn.Sequential(conv(c2, c3, 3, 2), Residual(c3), Residual(c3))
            self.s16 = nn.Sequential(conv(c3, c4, 3, 2), Residual(c4))
            self.s32 = nn.Sequential(conv(c4, c5, 3, 2), Residual(c5))
            head = 3 * width
            self.lat32 = conv(c5, head, 1)
            self.lat16 = conv(c4, head, 1)
            self.lat8 = conv(c3, head, 1)
            self.tower = nn.Sequential(conv(head, head, 3), conv(head, head, 3))
            self.box = nn.Conv2d(head, 4, 1)
            self.cls = nn.Conv2d(head, num_classes, 1)
            assert self.cls.bias is not None
            assert self.box.bias is not None
            nn.init.constant_(self.cls.bias, -4.6)  # prior 0.01
            nn.init.constant_(self.box.bias, 0.0)

        def raw(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
            """Per level: (B, 4, h, w) box distances in pixels and (B, C, h, w) logits."""
            f8 = self.s8(self.stem(x))
            f16 = self.s16(f8)
            f32 = self.s32(f16)
            p32 = self.lat32(f32)
            p16 = self.lat16(f16) + nn.functional.interpolate(p32, scale_factor=2.0)
            p8 = self.lat8(f8) + nn.functional.interpolate(p16, scale_factor=2.0)
            out = []
            for p, stride in zip((p8, p16, p32), STRIDES, strict=True):
                t = self.tower(p)
                dist = nn.functional.softplus(self.box(t)) * stride
                out.append((dist, self.cls(t)))
            return out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """(B, 4 + C, N): cx, cy, w, h in input pixels, class scores after sigmoid."""
            rows = []
            for (dist, logits), stride in zip(self.raw(x), STRIDES, strict=True):
                _, _, h, w = dist.shape
                ys = (torch.arange(h, dtype=dist.dtype) + 0.5) * stride
                xs = (torch.arange(w, dtype=dist.dtype) + 0.5) * stride
                gy, gx = torch.meshgrid(ys, xs, indexing="ij")
                left, top, right, bottom = dist.unbind(1)
                x1, y1 = gx - left, gy - top
                x2, y2 = gx + right, gy + bottom
                box = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
                rows.append(torch.cat([box, logits.sigmoid()], 1).flatten(2))
            return torch.cat(rows, 2)

    return Net()


def _centres(input_width: int, input_height: int) -> tuple[Any, Any, Any]:
    """(N, 2) cell centres, (N,) strides and (N,) level of every output cell."""
    import torch

    centres, strides, levels = [], [], []
    for level, stride in enumerate(STRIDES):
        h, w = input_height // stride, input_width // stride
        gy, gx = torch.meshgrid(
            (torch.arange(h) + 0.5) * stride, (torch.arange(w) + 0.5) * stride, indexing="ij"
        )
        centres.append(torch.stack([gx.flatten(), gy.flatten()], 1))
        strides.append(torch.full((h * w,), float(stride)))
        levels.append(torch.full((h * w,), level))
    return torch.cat(centres), torch.cat(strides), torch.cat(levels)


def assign(
    boxes: Any, centres: Any, strides: Any, levels: Any, radius: float = 2.5
) -> tuple[Any, Any]:
    """FCOS-style targets of one image.

    Args:
        boxes: (K, 4) float tensor ``x1, y1, x2, y2``.
        centres: (N, 2) cell centres.
        strides: (N,) cell strides.
        levels: (N,) cell levels.
        radius: centre sampling radius, strides.

    Returns:
        ((N,) bool positive cells, (N,) index of the box each positive cell predicts).
    """
    import torch

    n = centres.shape[0]
    if boxes.shape[0] == 0:
        return torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.long)
    cx, cy = centres[:, 0:1], centres[:, 1:2]
    inside = (cx > boxes[:, 0]) & (cx < boxes[:, 2]) & (cy > boxes[:, 1]) & (cy < boxes[:, 3])
    bcx = (boxes[:, 0] + boxes[:, 2]) / 2
    bcy = (boxes[:, 1] + boxes[:, 3]) / 2
    r = radius * strides[:, None]
    near = ((cx - bcx).abs() < r) & ((cy - bcy).abs() < r)
    side = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    lo = torch.tensor(LEVEL_MIN_SIDE)[levels][:, None]
    hi = torch.tensor(LEVEL_MAX_SIDE)[levels][:, None]
    scale_ok = (side >= lo) & (side <= hi)
    ok = inside & near & scale_ok
    # A box no cell centre of its level falls in (small, thin) gets its nearest cell.
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    cost = torch.where(ok, area[None, :], torch.tensor(math.inf))
    best_cost, best = cost.min(1)
    positive = torch.isfinite(best_cost)
    uncovered = torch.nonzero(~ok.any(0)).flatten()
    if uncovered.numel():
        d2 = (cx - bcx[uncovered]) ** 2 + (cy - bcy[uncovered]) ** 2
        d2 = torch.where(scale_ok[:, uncovered], d2, torch.tensor(math.inf))
        cells = torch.argmin(d2, 0)
        free = ~positive[cells] & torch.isfinite(d2[cells, torch.arange(cells.numel())])
        positive[cells[free]] = True
        best[cells[free]] = uncovered[free]
    return positive, best


def _giou(a: Any, b: Any) -> Any:
    """IoU and GIoU of matching (M, 4) ``xyxy`` boxes."""
    import torch

    lt = torch.maximum(a[:, :2], b[:, :2])
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(1) + 1e-7
    return iou, iou - (hull - union) / hull


def _loss(
    model: Any, images: Any, targets: list[tuple[Any, Any]], grid: tuple[Any, Any, Any]
) -> tuple[Any, dict[str, float]]:
    import torch

    centres, strides, levels = grid
    outs = model.raw(images)
    dist = torch.cat([d.flatten(2) for d, _ in outs], 2).transpose(1, 2)  # (B, N, 4)
    logits = torch.cat([c.flatten(2) for _, c in outs], 2).transpose(1, 2)  # (B, N, C)
    pred = torch.cat([centres - dist[..., :2], centres + dist[..., 2:]], -1)
    cls_target = torch.zeros_like(logits)
    box_losses, n_pos = [], 0
    for i, (boxes, classes) in enumerate(targets):
        positive, which = assign(boxes, centres, strides, levels)
        if not bool(positive.any()):
            continue
        idx = torch.nonzero(positive).flatten()
        gt = boxes[which[idx]]
        iou, giou = _giou(pred[i, idx], gt)
        box_losses.append((1.0 - giou).sum())
        cls_target[i, idx, classes[which[idx]]] = iou.detach().clamp(min=0.05)
        n_pos += int(idx.numel())
    norm = max(n_pos, 1)
    p = logits.sigmoid()
    qfl = nn_bce(logits, cls_target) * (p - cls_target).abs().pow(2.0)
    cls_loss = qfl.sum() / norm
    box_loss = torch.stack(box_losses).sum() / norm if box_losses else logits.sum() * 0
    total = cls_loss + 2.0 * box_loss
    return total, {
        "cls": float(cls_loss.detach()),
        "box": float(box_loss.detach()),
        "pos": n_pos,
    }


def nn_bce(logits: Any, target: Any) -> Any:
    """Element-wise binary cross-entropy with logits."""
    import torch

    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")


# --------------------------------------------------------------------------- train


def train(
    config: TrainConfig, data: Dataset, out_dir: Path, init: Path | None = None
) -> tuple[Any, dict[str, Any]]:
    """Train the network on ``data``; returns (model in eval mode, training log).

    Args:
        config: the training configuration.
        data: the training frames.
        out_dir: ``model.pt`` is written there after every epoch.
        init: a ``model.pt`` of an earlier stage to start from (same ``width``);
            None: random initialisation.
    """
    import torch

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(config.width)
    if init is not None:
        model.load_state_dict(torch.load(init, map_location="cpu"))
        logger.info("initialised from %s", init)
    params = sum(p.numel() for p in model.parameters())
    logger.info("model: %d parameters", params)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    start = time.perf_counter()
    steps_per_epoch = len(data.images) // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    warmup = min(200, total_steps // 10)

    def progress_at(step: int) -> float:
        """Schedule progress: steps done, or wall time spent when that is further on."""
        done = step / max(1, total_steps)
        if config.max_minutes > 0:
            done = max(done, (time.perf_counter() - start) / 60 / config.max_minutes)
        return min(done, 1.0)

    def lr_at(step: int) -> float:
        if step < warmup:
            return config.lr * (step + 1) / warmup
        progress = progress_at(step)
        return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    grid = _centres(config.crop_width, config.crop_height)
    image_h, image_w = data.images.shape[1:3]
    full_scale = min(config.input_width / image_w, config.input_height / image_h)
    history: list[dict[str, float]] = []
    step = 0
    stopped_early = False
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(data.images))
        sums = {"loss": 0.0, "cls": 0.0, "box": 0.0}
        b = 0
        for batch_index in range(steps_per_epoch):
            if progress_at(step) >= 1.0:
                stopped_early = step < total_steps
                break
            batch = order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
            imgs, targets = [], []
            for k in batch:
                img, boxes, classes = augment(
                    data.images[k],
                    data.boxes[k],
                    data.classes[k],
                    config.crop_width,
                    config.crop_height,
                    rng,
                    full_scale,
                )
                imgs.append(img[..., ::-1].transpose(2, 0, 1))  # RGB CHW as make_batch gives
                targets.append((torch.from_numpy(boxes), torch.from_numpy(classes)))
            x = torch.from_numpy(np.ascontiguousarray(np.stack(imgs))).float() / 255.0
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step)
            loss, parts = _loss(model, x, targets, grid)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            step += 1
            sums["loss"] += float(loss.detach())
            sums["cls"] += parts["cls"]
            sums["box"] += parts["box"]
            b += 1
            if step % 25 == 0:
                logger.info(
                    "step %d: loss %.4f, lr %.2e", step, float(loss.detach()), lr_at(step - 1)
                )
        record = {k: v / max(b, 1) for k, v in sums.items()}
        record["epoch"] = epoch + 1
        record["minutes"] = (time.perf_counter() - start) / 60
        history.append(record)
        logger.info(
            "epoch %d/%d: loss %.4f (cls %.4f, box %.4f), %.1f min",
            epoch + 1,
            config.epochs,
            record["loss"],
            record["cls"],
            record["box"],
            record["minutes"],
        )
        torch.save(model.state_dict(), out_dir / "model.pt")
        if stopped_early:
            logger.warning(
                "stopped in epoch %d: %.1f min wall limit", epoch + 1, config.max_minutes
            )
            break
    model.eval()
    log = {
        "parameters": params,
        "epochs_run": len(history),
        "steps": step,
        "stopped_early": stopped_early,
        "train_minutes": (time.perf_counter() - start) / 60,
        "history": history,
    }
    return model, log


def export_onnx(model: Any, config: TrainConfig, path: Path) -> None:
    """Export to ONNX (opset 17, dynamic batch) with ``names`` and ``imgsz`` metadata.

    Raises:
        RuntimeError: ONNX Runtime's outputs differ from torch's by more than 1e-3.
    """
    import onnx
    import onnxruntime as ort
    import torch

    model.eval()
    x = torch.rand(2, 3, config.input_height, config.input_width)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["images"],
        output_names=["output0"],
        opset_version=17,
        dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
        dynamo=False,
    )
    proto = onnx.load(str(path))
    meta = {
        "names": repr(dict(enumerate(CLASS_NAMES))),
        "imgsz": repr([config.input_height, config.input_width]),
        "description": "percept warehouse_det: synthetic warehouse detector, YOLOv8 layout",
        "license": "Apache-2.0",
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": x.numpy()})[0]
    diff = float(np.abs(got - expected).max())
    logger.info("onnx: %s, output %s, max |ort - torch| %.2e", path, got.shape, diff)
    if diff > 1e-3:
        msg = f"{path}: ONNX Runtime differs from torch by {diff}"
        raise RuntimeError(msg)


def evaluate_model(
    model_path: Path,
    data: Dataset,
    min_visibility: float = MIN_VISIBILITY,
    iou_threshold: float = SHIPPED_NMS_IOU,
) -> dict[str, Any]:
    """Score an ONNX model on frames with ``percept.detect`` and COCO mAP.

    Frames are given to the detector as mono8 images converted by the pipeline (the
    simulated robots' cameras are mono8), score threshold 0.001 as COCO mAP is measured,
    NMS at ``iou_threshold`` (the shipped model's operating point by default). Every box
    counts in the main figures. When the frames carry visibility, ``visible``
    repeats them with the objects seen less than ``min_visibility`` turned into ignore
    regions (COCO ``iscrowd``: a detection on one is neither right nor wrong), as
    KITTI's difficulty levels and CityPersons' "reasonable" subset leave out heavily
    occluded objects; it is None otherwise.
    """
    from percept.detect.detector import Detector, DetectorConfig
    from percept.eval.detection import BoxSet, CocoGroundTruth, evaluate_coco

    detector = Detector(
        DetectorConfig(
            model_path, backend="onnxruntime", score_threshold=0.001, iou_threshold=iou_threshold
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


def _seed_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition(":")
    try:
        a, b = int(first), int(last)
    except ValueError as err:
        msg = f"seed range must be A:B (B exclusive), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if not 0 <= a < b:
        msg = f"seed range must be A:B with 0 <= A < B, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return a, b


def _size(text: str) -> tuple[int, int]:
    first, _, last = text.lower().partition("x")
    try:
        w, h = int(first), int(last)
    except ValueError as err:
        msg = f"size must be WxH, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if w <= 0 or h <= 0:
        msg = f"size must be positive, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return w, h


def _log_metrics(metrics: dict[str, Any]) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m percept.tools.train_detector``: render, train, export, evaluate."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m percept.tools.train_detector",
        description="Train the warehouse detector on percept synth renders (needs torch).",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--train-seeds", type=_seed_range, default=defaults.train_seeds)
    parser.add_argument("--test-seeds", type=_seed_range, default=defaults.test_seeds)
    parser.add_argument("--frames-per-seed", type=int, default=defaults.frames_per_seed)
    parser.add_argument("--test-frames-per-seed", type=int, default=defaults.test_frames_per_seed)
    parser.add_argument("--image-size", type=_size, default=None, help="rendered WxH")
    parser.add_argument("--input-size", type=_size, default=None, help="network WxH")
    parser.add_argument("--crop-size", type=_size, default=None, help="training crop WxH")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--width", type=int, default=defaults.width, help="first stage channels")
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="training wall limit")
    parser.add_argument(
        "--cache", type=Path, default=None, help="rendered frames (default OUT/cache)"
    )
    parser.add_argument("--render-only", action="store_true", help="render the data and stop")
    parser.add_argument(
        "--init", type=Path, default=None, help="model.pt of an earlier stage to start from"
    )
    parser.add_argument(
        "--evaluate",
        type=Path,
        default=None,
        metavar="ONNX",
        help="only score this model on the test seeds (no torch needed)",
    )
    parser.add_argument(
        "--iou-threshold",
        type=float,
        default=SHIPPED_NMS_IOU,
        help=f"NMS IoU when scoring, default {SHIPPED_NMS_IOU}",
    )
    parser.add_argument(
        "--min-visibility",
        type=float,
        default=MIN_VISIBILITY,
        help=f"objects seen less are ignore regions in the 'visible' scores, "
        f"default {MIN_VISIBILITY}",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.iou_threshold <= 1.0 or not 0.0 <= args.min_visibility <= 1.0:
        parser.error("--iou-threshold and --min-visibility must lie in [0, 1]")
    if args.evaluate is not None and not args.evaluate.is_file():
        parser.error(f"--evaluate: no such model file: {args.evaluate}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sizes = {}
    given = (("image", args.image_size), ("input", args.input_size), ("crop", args.crop_size))
    for name, value in given:
        if value is not None:
            sizes[f"{name}_width"], sizes[f"{name}_height"] = value
    config = TrainConfig(
        **sizes,
        train_seeds=args.train_seeds,
        test_seeds=args.test_seeds,
        frames_per_seed=args.frames_per_seed,
        test_frames_per_seed=args.test_frames_per_seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        width=args.width,
        threads=args.threads,
        seed=args.seed,
        max_minutes=args.max_minutes,
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or out / "cache"
    t0 = time.perf_counter()
    test_data = render_dataset(
        range(*config.test_seeds),
        config.test_frames_per_seed,
        config.image_width,
        config.image_height,
        cache,
        test=True,
    )
    if args.evaluate is not None:
        metrics = evaluate_model(args.evaluate, test_data, args.min_visibility, args.iou_threshold)
        _log_metrics(metrics)
        scored = {"model": str(args.evaluate), "test_seeds": config.test_seeds, "test": metrics}
        (out / "eval_report.json").write_text(json.dumps(scored, indent=2), encoding="utf-8")
        return 0
    train_data = render_dataset(
        range(*config.train_seeds),
        config.frames_per_seed,
        config.image_width,
        config.image_height,
        cache,
    )
    render_minutes = (time.perf_counter() - t0) / 60
    logger.info(
        "data: %d train frames (%d boxes), %d test frames (%d boxes), %.1f min",
        len(train_data.images),
        sum(len(c) for c in train_data.classes),
        len(test_data.images),
        sum(len(c) for c in test_data.classes),
        render_minutes,
    )
    if args.render_only:
        return 0
    model, log = train(config, train_data, out, args.init)
    onnx_path = out / "warehouse_det.onnx"
    export_onnx(model, config, onnx_path)
    (out / "warehouse_det.labels.txt").write_text("\n".join(CLASS_NAMES) + "\n", encoding="utf-8")
    metrics = evaluate_model(onnx_path, test_data, args.min_visibility, args.iou_threshold)
    _log_metrics(metrics)
    report = {
        "config": asdict(config),
        "init": None if args.init is None else str(args.init),
        "train_frames": len(train_data.images),
        "train_boxes": sum(len(c) for c in train_data.classes),
        "test_frames": len(test_data.images),
        "data_minutes": render_minutes,
        **log,
        "test": metrics,
        "onnx_bytes": onnx_path.stat().st_size,
    }
    (out / "train_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
