"""Grid-bucketed corner detection."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from percept.features import FeatureTrackerConfig, detect_corners, occupancy_mask
from percept.features.detect import _candidates, _space, free_at


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (240, 320), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (5, 5), 1.0), dtype=np.uint8)


@pytest.mark.parametrize("detector", ["fast", "gftt"])
def test_corners_spread_over_the_grid_and_keep_their_distance(detector: str) -> None:
    config = FeatureTrackerConfig(num_features=100, detector=detector, fast_threshold=10)
    uv = detect_corners(_texture(), config)
    assert uv.shape[1] == 2
    assert 80 <= uv.shape[0] <= 100
    assert pdist(uv).min() >= config.min_distance_px
    cells = (uv[:, 1] * 5 // 240).astype(int) * 5 + (uv[:, 0] * 5 // 320).astype(int)
    counts = np.bincount(cells, minlength=25)
    assert counts.max() <= config.cell_quota
    assert counts.min() >= 1
    b = config.border_px
    assert np.all((uv >= b) & (uv <= np.array([320 - 1 - b, 240 - 1 - b])))


def test_corners_avoid_existing_tracks_and_fill_only_open_cells() -> None:
    config = FeatureTrackerConfig(num_features=100, fast_threshold=10, grid_cols=2, grid_rows=1)
    # The left half already holds its quota of 50 tracks.
    rng = np.random.default_rng(1)
    existing = np.column_stack([rng.uniform(10, 150, 50), rng.uniform(10, 230, 50)])
    uv = detect_corners(_texture(), config, existing_uv=existing.astype(np.float32))
    assert uv.shape[0] > 20
    assert np.all(uv[:, 0] >= 160)
    assert cdist(uv, existing).min() >= config.min_distance_px


def test_detect_respects_max_new_and_flat_images() -> None:
    config = FeatureTrackerConfig(num_features=100, fast_threshold=10)
    assert detect_corners(_texture(), config, max_new=7).shape == (7, 2)
    flat = np.full((120, 160), 128, np.uint8)
    assert detect_corners(flat, config).shape == (0, 2)
    assert detect_corners(flat, FeatureTrackerConfig(detector="gftt")).shape == (0, 2)
    with pytest.raises(ValueError, match="uint8"):
        detect_corners(flat.astype(np.float32), config)  # type: ignore[arg-type]


def test_occupancy_mask_blocks_discs_and_border() -> None:
    mask = occupancy_mask((50, 60), np.array([[30.0, 25.0]], np.float32), 5.0, 3)
    assert mask[25, 30] == 0
    assert mask[25, 35] == 0
    assert mask[25, 37] == 255
    assert mask[1, 30] == 0
    assert mask[25, 58] == 0
    assert mask.dtype == np.uint8


@pytest.mark.parametrize(("radius", "border"), [(10.0, 8), (5.5, 0), (0.0, 3), (3.0, 200)])
def test_free_at_reads_the_occupancy_mask_exactly(radius: float, border: int) -> None:
    rng = np.random.default_rng(int(radius * 10) + border)
    shape = (90, 130)
    # Tracks inside, on the edge and outside the image, some on half pixels.
    uv = rng.uniform(-15, 145, (60, 2)).astype(np.float32)
    uv[:10] = np.round(uv[:10]) + 0.5
    mask = occupancy_mask(shape, uv, radius, border)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    query = np.column_stack([xs.ravel(), ys.ravel()]).astype(np.int64)
    free = free_at(shape, uv, radius, border, query)
    np.testing.assert_array_equal(free, mask.ravel() > 0)
    assert (
        free_at(shape, uv[:0], radius, border, query).sum()
        == (occupancy_mask(shape, uv[:0], radius, border) > 0).sum()
    )
    assert free_at(shape, uv, radius, border, query[:0]).shape == (0,)


@pytest.mark.parametrize("detector", ["fast", "gftt"])
def test_candidates_equal_detecting_inside_the_drawn_mask(detector: str) -> None:
    config = FeatureTrackerConfig(detector=detector, fast_threshold=10)
    image = _texture(3)
    rng = np.random.default_rng(4)
    existing = rng.uniform(0, 320, (40, 2)).astype(np.float32)
    uv, score = _candidates(image, existing, config)
    # The reference: the detector given the drawn occupancy mask.
    mask = occupancy_mask(image.shape, existing, config.min_distance_px, config.border_px)
    if detector == "fast":
        fast = cv2.FastFeatureDetector.create(config.fast_threshold, nonmaxSuppression=True)
        keypoints = fast.detect(image, mask)
        ref_uv = np.asarray(cv2.KeyPoint.convert(keypoints), np.float32).reshape(-1, 2)
        ref_score = np.array([k.response for k in keypoints], np.float32)
    else:
        eig = cv2.cornerMinEigenVal(image, blockSize=3, ksize=3)
        local_max = eig >= cv2.dilate(eig, np.ones((3, 3), np.uint8))
        keep = local_max & (eig > config.gftt_quality_level * eig.max()) & (mask > 0)
        rows, cols = np.nonzero(keep)
        ref_uv = np.stack([cols, rows], axis=1).astype(np.float32)
        ref_score = eig[rows, cols]
    assert uv.shape[0] > 50
    np.testing.assert_array_equal(uv, ref_uv)
    np.testing.assert_array_equal(score, ref_score)


def test_spacing_matches_the_per_neighbour_reference() -> None:
    rng = np.random.default_rng(9)
    uv = rng.uniform(0, 200, (800, 2)).astype(np.float32)
    uv[:200] = np.round(uv[:200])  # whole pixels, as FAST gives
    score = rng.integers(0, 20, 800).astype(np.float32)  # many ties
    d = 7.0
    # The reference: the 8 neighbouring bins one after the other.
    bins = np.floor(uv / d).astype(np.int64) + 1
    bw, bh = int(bins[:, 0].max()) + 2, int(bins[:, 1].max()) + 2
    flat = bins[:, 1] * bw + bins[:, 0]
    order = np.lexsort((-score, flat))
    first = np.ones(800, dtype=bool)
    first[1:] = flat[order][1:] != flat[order][:-1]
    winners = order[first]
    best_score = np.full(bw * bh, -np.inf)
    best_uv = np.full((bw * bh, 2), np.nan)
    best_score[flat[winners]] = score[winners]
    best_uv[flat[winners]] = uv[winners]
    own = flat[winners]
    suppressed = np.zeros(winners.shape[0], dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            other = own + dy * bw + dx
            closer = np.linalg.norm(best_uv[other] - uv[winners], axis=1) < d
            stronger = (best_score[other] > score[winners]) | (
                (best_score[other] == score[winners]) & (other < own)
            )
            suppressed |= closer & stronger & (other != own)
    ref = np.zeros(800, dtype=bool)
    ref[winners[~suppressed]] = True
    np.testing.assert_array_equal(_space(uv, score, d), ref)
