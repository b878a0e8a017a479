"""Camera-motion compensation: the shift estimate and the tracker on a panning camera."""

from __future__ import annotations

import numpy as np
import pytest

from percept.track import ByteTracker, TrackerConfig, iou_matrix
from percept.track.bytetrack import estimate_shift

mm = pytest.importorskip("motmetrics")

FRAME_NS = 100_000_000  # 10 Hz


def _rack(rows: int = 4, cols: int = 8, size: float = 18.0, gap: float = 6.0) -> np.ndarray:
    """(rows * cols, 4) small boxes on a regular grid, as cartons on a rack."""
    x, y = np.meshgrid(np.arange(cols) * (size + gap), np.arange(rows) * (size + gap))
    tl = np.stack([x.ravel(), y.ravel()], axis=1) + 100.0
    return np.hstack([tl, tl + size])


def test_shift_is_found_among_misses_clutter_and_noise() -> None:
    rng = np.random.default_rng(0)
    tracks = _rack()
    dets = tracks + np.array([9.0, -4.0, 9.0, -4.0]) + rng.normal(0, 0.7, tracks.shape)
    keep = rng.random(len(dets)) > 0.2  # a fifth missed
    clutter = np.array([[400.0, 300, 418, 318], [20, 20, 38, 38]])
    dets = np.vstack([dets[keep], clutter])
    shift, support = estimate_shift(
        tracks, np.zeros(len(tracks), int), dets, np.zeros(len(dets), int)
    )
    np.testing.assert_allclose(shift, [9.0, -4.0], atol=0.5)
    assert support >= keep.sum() - 2


def test_a_periodic_rack_does_not_alias_to_the_next_column() -> None:
    tracks = _rack()
    # shifted by a third of the spacing: the neighbour column is 16 px away, not 8
    shift, _ = estimate_shift(
        tracks, np.zeros(32, int), tracks + np.array([8.0, 0, 8.0, 0]), np.zeros(32, int)
    )
    np.testing.assert_allclose(shift, [8.0, 0.0])


def test_no_shift_without_agreement() -> None:
    rng = np.random.default_rng(1)
    tracks = rng.uniform(0, 500, (10, 2))
    tracks = np.hstack([tracks, tracks + 30])
    # most objects are where predicted, the others moved each its own way
    dets = tracks + np.tile(rng.uniform(-20, 20, (10, 2)), 2)
    dets[:6] = tracks[:6]
    shift, support = estimate_shift(tracks, np.zeros(10, int), dets, np.zeros(10, int))
    assert support == 0
    assert not shift.any()
    # too few tracks, other classes, or nothing detected: no shift either
    assert estimate_shift(tracks[:2], np.zeros(2, int), tracks[:2] + 5, np.zeros(2, int))[1] == 0
    assert estimate_shift(tracks, np.zeros(10, int), tracks + 5, np.ones(10, int))[1] == 0
    assert estimate_shift(tracks, np.zeros(10, int), np.zeros((0, 4)), np.zeros(0, int))[1] == 0


def _panning(camera_motion: bool, seed: int = 0) -> dict[str, float]:
    """A rack of 32 small boxes seen by a camera that pans in jerks of up to 22 px."""
    rng = np.random.default_rng(seed)
    base = _rack()
    # still, then sudden pans left and right (a robot turning on the spot)
    steps = np.concatenate([np.zeros(8), np.full(6, 22.0), np.zeros(6), np.full(6, -18.0)])
    offset = np.cumsum(steps)
    tracker = ByteTracker(TrackerConfig(camera_motion=camera_motion))
    acc = mm.MOTAccumulator(auto_id=True)
    for f, dx in enumerate(offset):
        gt = base + np.array([dx, 0.0, dx, 0.0])
        seen = rng.random(len(gt)) > 0.05
        boxes = gt[seen] + rng.normal(0, 1.0, (int(seen.sum()), 4))
        out = tracker.update(
            boxes, np.full(len(boxes), 0.9), np.zeros(len(boxes), int), f * FRAME_NS
        )
        iou = iou_matrix(gt, out.boxes_xyxy)
        acc.update(list(range(len(gt))), out.ids.tolist(), np.where(iou >= 0.5, 1 - iou, np.nan))
    summary = mm.metrics.create().compute(acc, metrics=["mota", "num_switches"])
    return {k: float(v) for k, v in summary.iloc[0].items()}


def test_compensation_keeps_ids_through_sudden_pans() -> None:
    with_cmc = _panning(camera_motion=True)
    without = _panning(camera_motion=False)
    assert with_cmc["num_switches"] <= 2
    assert without["num_switches"] >= 20  # every box re-born when the pan starts
    assert with_cmc["mota"] > 0.85
    assert with_cmc["mota"] > without["mota"] + 0.1


def test_support_counts_distinct_tracks_as_a_brute_force_count_does() -> None:
    """On a crowded scene the shift's support is the largest count of agreeing tracks."""
    rng = np.random.default_rng(4)
    tracks = np.vstack([_rack(6, 10), _rack(3, 5, size=30.0) + np.array([0.0, 200, 0, 200])])
    classes = rng.integers(0, 3, len(tracks))
    dets = tracks + np.array([5.0, 2.0, 5.0, 2.0]) + rng.normal(0, 1.0, tracks.shape)
    _, support = estimate_shift(tracks, classes, dets, classes)
    centre = (tracks[:, :2] + tracks[:, 2:]) / 2
    height = tracks[:, 3] - tracks[:, 1]
    pairs = [
        (i, (dets[j, :2] + dets[j, 2:]) / 2 - centre[i])
        for i in range(len(tracks))
        for j in range(len(dets))
        if classes[i] == classes[j]
        and 0.67 < (dets[j, 3] - dets[j, 1]) / height[i] < 1.5
        and np.hypot(*((dets[j, :2] + dets[j, 2:]) / 2 - centre[i])) <= 64.0
    ]
    counts = [
        len({i for i, v in pairs if np.hypot(*(v - proposal)) <= max(2.0, 0.25 * height[i])})
        for _, proposal in pairs
    ]
    assert support == max(counts)
    assert support >= len(tracks) - 5
