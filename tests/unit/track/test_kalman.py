"""The batched box Kalman filter against one filterpy KalmanFilter per track."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from percept.track import ByteTracker, kalman


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4) float32 boxes of 4 to 120 px anywhere in a 640x640 frame."""
    xy = rng.uniform(0, 600, (n, 2))
    wh = rng.uniform(4, 120, (n, 2))
    return np.hstack([xy, xy + wh]).astype(np.float32)


def _reference_filter(box: np.ndarray) -> KalmanFilter:
    """filterpy's filter started as the batch starts a track."""
    x, p = kalman.initiate(box[None])
    kf = KalmanFilter(dim_x=8, dim_z=4)
    kf.F = kalman.F.copy()
    kf.H = kalman.H.copy()
    kf.x = x[0].reshape(8, 1)
    kf.P = p[0].copy()
    return kf


def test_initial_state_is_the_box_at_rest_with_height_scaled_uncertainty() -> None:
    box = np.array([[100.0, 50.0, 140.0, 130.0]], dtype=np.float32)
    x, p = kalman.initiate(box)
    np.testing.assert_allclose(x[0], [120, 90, 0.5, 80, 0, 0, 0, 0])
    np.testing.assert_allclose(np.sqrt(np.diag(p[0]))[[0, 3, 4]], [8.0, 8.0, 5.0])
    np.testing.assert_allclose(kalman.xyah_to_boxes(x), box, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_equals_filterpy_through_births_deaths_and_skipped_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = _boxes(rng, 6)
    x, p = kalman.initiate(start)
    reference = [_reference_filter(b) for b in start]
    for _ in range(60):
        steps = int(rng.choice([1, 1, 1, 2, 3]))
        x, p = kalman.predict(x, p, steps)
        for kf in reference:
            for _ in range(steps):
                kf.predict(Q=kalman.process_noise(kf.x[3])[0])
        # a random subset is matched to boxes near its prediction
        hit = np.flatnonzero(rng.random(len(reference)) < 0.7)
        meas = (kalman.xyah_to_boxes(x[hit]) + rng.normal(0, 3, (hit.size, 4))).astype(np.float32)
        x[hit], p[hit] = kalman.update(x[hit], p[hit], meas)
        for i, z in zip(hit, meas, strict=True):
            h = kalman.boxes_to_xyah(z[None])
            reference[i].update(h.reshape(4, 1), R=kalman.measurement_noise(h[:, 3])[0])
        # deaths and births
        alive = rng.random(len(reference)) > 0.1
        born = _boxes(rng, int(rng.integers(0, 3)))
        bx, bp = kalman.initiate(born)
        x, p = np.concatenate([x[alive], bx]), np.concatenate([p[alive], bp])
        reference = [kf for kf, a in zip(reference, alive, strict=True) if a]
        reference += [_reference_filter(b) for b in born]
        assert x.shape == (len(reference), 8)
        if reference:
            ref_x = np.stack([kf.x[:, 0] for kf in reference])
            ref_p = np.stack([kf.P for kf in reference])
            np.testing.assert_allclose(x, ref_x, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(p, ref_p, rtol=1e-9, atol=1e-9)


def test_empty_batches_keep_their_shapes() -> None:
    x, p = kalman.initiate(np.zeros((0, 4), dtype=np.float32))
    assert x.shape == (0, 8)
    assert p.shape == (0, 8, 8)
    x, p = kalman.predict(x, p, 3)
    x, p = kalman.update(x, p, np.zeros((0, 4), dtype=np.float32))
    assert x.shape == (0, 8)
    assert p.shape == (0, 8, 8)
    assert kalman.xyah_to_boxes(x).shape == (0, 4)


def test_a_crowded_frame_keeps_every_id() -> None:
    """300 boxes moving together (a pan) and on their own: one id each throughout."""
    rng = np.random.default_rng(3)
    n = 300
    start, velocity = rng.uniform(0, 600, (n, 2)), rng.uniform(-2, 2, (n, 2))
    size = rng.uniform(10, 40, (n, 2))
    tracker = ByteTracker()
    pan = np.array([3.0, -1.0])
    for f in range(12):
        centre = start + (velocity + pan) * f
        boxes = np.hstack([centre - size / 2, centre + size / 2]) + rng.normal(0, 0.5, (n, 4))
        out = tracker.update(boxes, np.full(n, 0.9), np.arange(n) % 5, f * 33_333_333)
    assert tracker.confirmed_count == n
    assert sorted(out.track_ids.tolist()) == list(range(1, n + 1))
