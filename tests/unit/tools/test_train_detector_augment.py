"""The training augmentation keeps boxes on their objects (no torch needed).

Each object is a bright rectangle on a dark image; after flip, scale, placement or crop
and the photometric changes, every box that survives must still frame the bright pixels
of its object in the augmented canvas, and boxes whose object left the canvas are gone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from percept.tools.train_detector.dataset import _PAD, Dataset, augment


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.zeros((480, 640, 3), np.uint8)
    boxes, classes = [], []
    for k in range(6):
        w, h = rng.integers(12, 90, 2)
        # One object per 80-pixel row band, so that objects never overlap.
        h = min(int(h), 79)
        x = int(rng.integers(0, 640 - w))
        y = 80 * k + int(rng.integers(0, 80 - h))
        image[y : y + h, x : x + w] = 255
        boxes.append([x, y, x + w, y + h])
        classes.append(k % 5)
    return image, np.array(boxes, np.float32), np.array(classes, np.int64)


def _check(canvas: np.ndarray, boxes: np.ndarray) -> None:
    grey = canvas.astype(np.float32).mean(axis=2)
    # The photometric part changes levels: bright objects stay far above the dark floor
    # and the grey padding.
    for x1, y1, x2, y2 in boxes:
        assert x2 - x1 >= 3
        assert y2 - y1 >= 3
        inner = grey[
            int(np.ceil(y1)) + 1 : int(np.floor(y2)) - 1,
            int(np.ceil(x1)) + 1 : int(np.floor(x2)) - 1,
        ]
        if inner.size:
            assert np.median(inner) > max(grey.min() + 40, 0), (x1, y1, x2, y2)


def test_whole_image_mode_letterboxes_all_objects_into_the_canvas() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        image, boxes, classes = _scene(rng)
        out, b, c = augment(image, boxes, classes, 320, 256, rng)
        assert out.shape == (256, 320, 3)
        assert out.dtype == np.uint8
        assert len(b) == len(c) <= len(boxes)
        assert np.isin(c, classes).all()
        assert ((b[:, [0, 2]] >= 0) & (b[:, [0, 2]] <= 320)).all()
        assert ((b[:, [1, 3]] >= 0) & (b[:, [1, 3]] <= 256)).all()
        _check(out, b)


def test_crop_mode_keeps_the_camera_scale_and_drops_objects_outside_the_crop() -> None:
    rng = np.random.default_rng(4)
    sizes_in, sizes_out, dropped = [], [], 0
    for _ in range(40):
        image, boxes, classes = _scene(rng)
        out, b, _ = augment(image, boxes, classes, 320, 256, rng, base_scale=1.0)
        assert out.shape == (256, 320, 3)
        _check(out, b)
        dropped += len(boxes) - len(b)
        sizes_in.append(np.median(boxes[:, 3] - boxes[:, 1]))
        if len(b):
            sizes_out.append(np.median(b[:, 3] - b[:, 1]))
    # A 320x256 crop of a 640x480 image loses objects; the survivors keep their size
    # within the 0.75..1.33 scale jitter (not halved as a letterbox of the whole would).
    assert dropped > 0
    ratio = float(np.median(sizes_out) / np.median(sizes_in))
    assert 0.6 < ratio < 1.5, ratio


def test_padding_is_the_letterbox_grey() -> None:
    rng = np.random.default_rng(5)
    image = np.zeros((100, 100, 3), np.uint8)
    found_pad = False
    for _ in range(30):
        no_boxes = np.zeros((0, 4), np.float32)
        out, _, _ = augment(image, no_boxes, np.zeros(0, np.int64), 256, 128, rng)
        # A 100x100 image in a 256x128 canvas leaves padding columns at the sides;
        # without photometric changes they would be exactly the pad value.
        found_pad |= bool(np.any(np.abs(out[:, :5].astype(int) - _PAD) < 60))
    assert found_pad


def _dataset(seed: int, counts: list[int]) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(
        rng.integers(0, 255, (len(counts), 8, 8, 3), dtype=np.uint8),
        [rng.uniform(0, 8, (k, 4)).astype(np.float32) for k in counts],
        [rng.integers(0, 5, k) for k in counts],
        np.full(len(counts), seed, dtype=np.int64),
        [rng.uniform(0, 1, k).astype(np.float32) for k in counts],
    )


def test_dataset_round_trips_through_npz_with_visibility(tmp_path: Path) -> None:
    data = Dataset.concat([_dataset(1, [3, 0, 2]), _dataset(2, [1])])
    data.save(tmp_path / "d.npz")
    back = Dataset.load(tmp_path / "d.npz")
    np.testing.assert_array_equal(back.images, data.images)
    np.testing.assert_array_equal(back.seeds, [1, 1, 1, 2])
    for name in ("boxes", "classes", "visibility"):
        got, want = getattr(back, name), getattr(data, name)
        assert [len(a) for a in got] == [3, 0, 2, 1]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_dataset_cached_without_visibility_loads_it_as_unknown(tmp_path: Path) -> None:
    data = _dataset(3, [2, 1])
    np.savez(
        tmp_path / "old.npz",
        images=data.images,
        boxes=np.concatenate(data.boxes),
        classes=np.concatenate(data.classes),
        counts=np.array([2, 1]),
        seeds=data.seeds,
    )
    back = Dataset.load(tmp_path / "old.npz")
    assert [v.shape for v in back.visibility] == [(2,), (1,)]
    assert np.isnan(np.concatenate(back.visibility)).all()
