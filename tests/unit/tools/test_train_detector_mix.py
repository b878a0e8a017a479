"""Mosaic, copy-paste and wide scale keep boxes on their objects' pixels (no torch needed).

Each object is a solid rectangle of a colour of its own on a black frame; at scale 1
every box of an augmented canvas must be exactly a rectangle of one object's colour
(clipped by the canvas or a mosaic quadrant, never cut across another frame's pixels),
and tight: no pixel of that colour just outside it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from percept.tools.train_detector.config import TrainConfig
from percept.tools.train_detector.dataset import Dataset, augment, place
from percept.tools.train_detector.mix import copy_paste, mosaic, training_sample

W, H = 160, 120


def _frames(
    count: int, seed: int, shade: int = 0
) -> tuple[Dataset, dict[tuple[int, int, int], int]]:
    """Frames of non-overlapping solid rectangles; colour -> class of every object."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, H, W, 3), np.uint8)
    boxes, classes, colour_class = [], [], {}
    for f in range(count):
        b, c = [], []
        for k in range(4):  # one object per 30-pixel row band: no overlaps
            w, h = int(rng.integers(10, 60)), int(rng.integers(8, 26))
            x, y = int(rng.integers(0, W - w)), 30 * k + int(rng.integers(0, 30 - h))
            colour = (40 + 40 * f, 60 + 40 * k, 250 - shade)
            images[f, y : y + h, x : x + w] = colour
            b.append([x, y, x + w, y + h])
            c.append((f + k) % 5)
            colour_class[colour] = (f + k) % 5
        boxes.append(np.array(b, np.float32))
        classes.append(np.array(c, np.int64))
    vis = [np.ones(len(c), np.float32) for c in classes]
    seeds = np.zeros(count, np.int64)
    return Dataset(images, boxes, classes, seeds, vis), colour_class


def _check_tight(
    canvas: np.ndarray,
    boxes: np.ndarray,
    classes: np.ndarray,
    colour_class: dict[tuple[int, int, int], int],
    *,
    tight: bool = True,
) -> None:
    assert len(boxes) == len(classes)
    for (x1, y1, x2, y2), cls in zip(boxes.astype(int), classes, strict=True):
        assert np.allclose(boxes[boxes[:, 0] == x1][0] % 1, 0)  # integer at scale 1
        patch = canvas[y1:y2, x1:x2].reshape(-1, 3)
        colour = tuple(int(v) for v in patch[0])
        assert (patch == colour).all(), "a box holds pixels of one object only"
        assert colour_class[colour] == cls  # type: ignore[index]
        if not tight:
            continue
        # Tight: the rows/columns just outside hold no pixel of this object.
        same = (canvas == colour).all(axis=2)
        outside = same.copy()
        outside[y1:y2, x1:x2] = False
        assert not outside[max(y1 - 1, 0) : y2 + 1, max(x1 - 1, 0) : x2 + 1].any()


def test_mosaic_keeps_every_box_on_its_object_clipped_by_the_quadrants() -> None:
    data, colour_class = _frames(6, 1)
    rng = np.random.default_rng(2)
    kept = 0
    for _ in range(25):
        frames = rng.choice(6, 4, replace=False)  # each object once: tightness holds
        canvas, boxes, classes = mosaic(data, frames, W, H, rng, 1.0, (1.0, 1.0))
        assert canvas.shape == (H, W, 3)
        assert boxes.dtype == np.float32
        assert classes.dtype == np.int64
        _check_tight(canvas, boxes, classes, colour_class)
        kept += len(boxes)
    # Four quadrant crops of frames with 4 objects each: many survive, some are cut.
    assert 25 < kept < 25 * 16


def test_mosaic_clips_a_box_at_the_quadrant_edge() -> None:
    # One frame filled by one object: a quadrant keeps its box, the whole quadrant,
    # when it holds at least 40 % of the object (the clipping rule of ``place``).
    image = np.zeros((1, H, W, 3), np.uint8)
    image[0] = (0, 200, 0)
    data = Dataset(
        image,
        [np.array([[0, 0, W, H]], np.float32)],
        [np.array([3], np.int64)],
        np.zeros(1, np.int64),
        [np.ones(1, np.float32)],
    )
    for seed in range(10):
        rng = np.random.default_rng(seed)
        canvas, boxes, classes = mosaic(data, np.zeros(4, np.int64), W, H, rng, 1.0, (1, 1))
        same = np.random.default_rng(seed)  # the split point: mosaic's first two draws
        cx = int(same.integers(W // 4, 3 * W // 4 + 1))
        cy = int(same.integers(H // 4, 3 * H // 4 + 1))
        quadrants = np.array(
            [[0, 0, cx, cy], [cx, 0, W, cy], [0, cy, cx, H], [cx, cy, W, H]], np.float32
        )
        areas = (quadrants[:, 2] - quadrants[:, 0]) * (quadrants[:, 3] - quadrants[:, 1])
        assert (canvas == (0, 200, 0)).all()
        np.testing.assert_array_equal(boxes, quadrants[areas >= 0.4 * W * H])
        assert (classes == 3).all()


def test_copy_paste_puts_objects_on_free_canvas_and_keeps_the_old_boxes() -> None:
    data, colour_class = _frames(5, 3)
    base, base_classes = _frames(5, 3, shade=100)  # colours of their own
    colour_class.update(base_classes)
    rng = np.random.default_rng(4)
    pasted = 0
    for i in range(20):
        canvas, boxes, classes = place(
            base.images[i % 5], base.boxes[i % 5], base.classes[i % 5], W, H, rng, 1.0, (1, 1)
        )
        before = boxes.copy()
        canvas, out_boxes, out_classes = copy_paste(canvas, boxes, classes, data, 6, rng, 1.0)
        n = len(before)
        np.testing.assert_array_equal(out_boxes[:n], before)
        new = out_boxes[n:]
        pasted += len(new)
        # Pasted boxes overlap neither the old ones nor each other.
        for k, b in enumerate(new):
            others = np.concatenate([out_boxes[: n + k], out_boxes[n + k + 1 :]])
            overlap = (
                (b[0] < others[:, 2])
                & (b[2] > others[:, 0])
                & (b[1] < others[:, 3])
                & (b[3] > others[:, 1])
            )
            assert not overlap.any()
        # An object pasted twice may touch its copy: pixels and classes, not tightness.
        _check_tight(canvas, out_boxes, out_classes, colour_class, tight=False)
    assert pasted > 20


def test_copy_paste_skips_hidden_objects() -> None:
    data, _ = _frames(2, 5)
    hidden = replace(data, visibility=[np.full(4, 0.3, np.float32)] * 2)
    canvas = np.zeros((H, W, 3), np.uint8)
    none = np.zeros((0, 4), np.float32)
    rng = np.random.default_rng(0)
    _, boxes, _ = copy_paste(canvas, none, np.zeros(0, np.int64), hidden, 8, rng, 1.0)
    assert len(boxes) == 0


def test_wide_scale_range_scales_the_boxes() -> None:
    data, _ = _frames(1, 6)
    config = TrainConfig(
        crop_width=4 * W, crop_height=4 * H, wide_scale_p=1.0, wide_scale_range=(2.0, 2.0)
    )
    rng = np.random.default_rng(1)
    _, boxes, _ = training_sample(data, 0, config, rng, 1.0)
    src = data.boxes[0]
    np.testing.assert_allclose(
        np.sort(boxes[:, 2] - boxes[:, 0]), np.sort(2 * (src[:, 2] - src[:, 0])), atol=1
    )


@pytest.mark.parametrize("base_scale", [None, 1.0])
def test_default_sample_is_plain_augment(base_scale: float | None) -> None:
    # Probabilities of 0 draw no random numbers: the old augmentation, sample for sample.
    data, _ = _frames(3, 7)
    config = TrainConfig(crop_width=96, crop_height=64)
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    for k in range(3):
        got = training_sample(data, k, config, a, base_scale)
        want = augment(data.images[k], data.boxes[k], data.classes[k], 96, 64, b, base_scale)
        for x, y in zip(got, want, strict=True):
            np.testing.assert_array_equal(x, y)


def test_mosaic_and_copy_paste_samples_have_the_crop_size() -> None:
    data, _ = _frames(4, 8)
    config = TrainConfig(crop_width=96, crop_height=64, mosaic_p=1.0, copy_paste_p=1.0)
    rng = np.random.default_rng(3)
    for k in range(4):
        img, boxes, classes = training_sample(data, k, config, rng, 1.0)
        assert img.shape == (64, 96, 3)
        assert len(boxes) == len(classes)
        assert ((boxes[:, [0, 2]] >= 0) & (boxes[:, [0, 2]] <= 96)).all()
        assert ((boxes[:, [1, 3]] >= 0) & (boxes[:, [1, 3]] <= 64)).all()
