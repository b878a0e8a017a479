"""Grid-bucketed corner detection on the rectified left image, away from existing tracks.

As OpenVINS' ``Grider_FAST``/``Grider_GFTT``: the image is split into ``grid_cols x
grid_rows`` cells and each cell is topped up to an equal share of the target, so that
features spread over the image instead of piling up on the most textured object. What
differs: one detector pass over the whole image (instead of one per cell), then
vectorised selection:

1. candidates: FAST keypoints (scored by their response) or local maxima of the
   Shi-Tomasi minimum-eigenvalue map (GFTT), outside a mask that covers a disc of
   ``min_distance_px`` around every existing track and the image border (the mask is
   read only at the candidates, :func:`free_at`, not drawn);
2. spacing: one candidate per ``min_distance_px`` bin, and a candidate is dropped when a
   stronger one in a neighbouring bin lies closer than ``min_distance_px`` (one round
   of non-maximum suppression; greedy suppression is sequential);
3. bucketing: within each grid cell, the strongest candidates up to the cell's quota
   minus the tracks already in it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt

from percept.features.config import FeatureTrackerConfig

__all__ = ["detect_corners", "free_at", "occupancy_mask"]

# Row and column steps to the 8 neighbouring bins.
_NEIGHBOUR_DY = np.array([-1, -1, -1, 0, 0, 1, 1, 1], dtype=np.int64)
_NEIGHBOUR_DX = np.array([-1, 0, 1, -1, 1, -1, 0, 1], dtype=np.int64)


def occupancy_mask(
    shape: tuple[int, int], uv: npt.NDArray[np.float32], radius_px: float, border_px: int
) -> npt.NDArray[np.uint8]:
    """Where new corners may go: 255 away from the tracks and the border, 0 elsewhere.

    Args:
        shape: image (height, width).
        uv: (N, 2) float32 existing track positions, pixels (x = column, y = row).
        radius_px: radius of the disc blocked around each track, pixels.
        border_px: width of the blocked image border, pixels.

    Returns:
        (H, W) uint8 mask.
    """
    h, w = shape
    blocked = np.zeros((h, w), dtype=np.uint8)
    pts = np.rint(np.asarray(uv, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    pts = pts[inside]
    blocked[pts[:, 1], pts[:, 0]] = 255
    r = int(np.ceil(radius_px))
    if r > 0 and pts.shape[0] > 0:
        # Dilating the track pixels with a disc blocks every pixel within radius_px.
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        blocked = np.asarray(cv2.dilate(blocked, disc), dtype=np.uint8)
    mask: npt.NDArray[np.uint8] = np.where(blocked > 0, np.uint8(0), np.uint8(255))
    if border_px > 0:
        b = min(border_px, h // 2, w // 2)
        mask[:b] = 0
        mask[h - b :] = 0
        mask[:, :b] = 0
        mask[:, w - b :] = 0
    return mask


@functools.lru_cache(maxsize=8)
def _disc(r: int) -> npt.NDArray[np.bool_]:
    """(2r+1, 2r+1) bool disc of :func:`occupancy_mask` (OpenCV's ellipse element)."""
    if r <= 0:
        return np.ones((1, 1), dtype=bool)
    return np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)) > 0)


def free_at(
    shape: tuple[int, int],
    uv: npt.NDArray[np.float32],
    radius_px: float,
    border_px: int,
    query_xy: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """:func:`occupancy_mask` read at a few pixels, without drawing the mask.

    Exactly ``occupancy_mask(shape, uv, radius_px, border_px)[y, x] > 0`` at each query
    pixel: a query is blocked when a track's rounded pixel lies at an offset inside the
    dilation disc, found by a binary search over the tracks sorted by row (the pairs
    within ``radius_px`` rows only), so its cost grows with the queries and tracks
    instead of with the image.

    Args:
        shape: image (height, width).
        uv: (N, 2) float32 existing track positions, pixels (x = column, y = row).
        radius_px: radius of the disc blocked around each track, pixels.
        border_px: width of the blocked image border, pixels.
        query_xy: (M, 2) int64 pixels (x = column, y = row) inside the image.

    Returns:
        (M,) bool: the pixel is free for a new corner.
    """
    h, w = shape
    q = np.asarray(query_xy, dtype=np.int64).reshape(-1, 2)
    free = np.ones(q.shape[0], dtype=bool)
    if border_px > 0:
        b = min(border_px, h // 2, w // 2)
        free &= (q[:, 0] >= b) & (q[:, 0] < w - b) & (q[:, 1] >= b) & (q[:, 1] < h - b)
    pts = np.rint(np.asarray(uv, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    pts = pts[inside]
    cand = np.flatnonzero(free)
    if pts.shape[0] == 0 or cand.shape[0] == 0:
        return free
    r = max(int(np.ceil(radius_px)), 0)
    disc = _disc(r)
    order = np.argsort(pts[:, 1], kind="stable")
    ty, tx = pts[order, 1], pts[order, 0]
    qx, qy = q[cand, 0], q[cand, 1]
    lo = np.searchsorted(ty, qy - r, side="left")
    count = np.searchsorted(ty, qy + r, side="right") - lo
    total = int(count.sum())
    if total == 0:
        return free
    # Every (query, track) pair within r rows: query index and track index.
    pair_q = np.repeat(np.arange(cand.shape[0]), count)
    pair_t = np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(total)
    dy = ty[pair_t] - qy[pair_q] + r
    dx = tx[pair_t] - qx[pair_q] + r
    near = (dx >= 0) & (dx <= 2 * r)
    hit = np.zeros(total, dtype=bool)
    hit[near] = disc[dy[near], dx[near]]
    free[cand[pair_q[hit]]] = False
    return free


def _candidates(
    image: npt.NDArray[np.uint8], existing: npt.NDArray[np.float32], config: FeatureTrackerConfig
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Corner candidates in :func:`occupancy_mask`'s free pixels and their scores.

    The detectors run on the whole image and the candidates are then kept where the
    mask would be free (:func:`free_at`): OpenCV's FAST also detects on the whole image
    and drops the keypoints on zero mask pixels afterwards, so the result is the same
    as detecting with the mask, without drawing it (a 21 x 21 disc dilation of the
    whole image cost more than the detector).

    Returns:
        ((M, 2) float32 uv, (M,) float32 score).
    """
    h, w = image.shape
    if config.detector == "fast":
        fast = cv2.FastFeatureDetector.create(config.fast_threshold, nonmaxSuppression=True)
        keypoints = fast.detect(image)
        if not keypoints:
            return np.empty((0, 2), np.float32), np.empty(0, np.float32)
        uv = np.asarray(cv2.KeyPoint.convert(keypoints), dtype=np.float32).reshape(-1, 2)
        # OpenCV exposes keypoint responses only as attributes.
        score = np.fromiter((k.response for k in keypoints), np.float32, len(keypoints))
        # The pixel OpenCV's mask filter reads: (int)(pt + 0.5).
        pixel = np.floor(uv.astype(np.float64) + 0.5).astype(np.int64)
        keep = free_at((h, w), existing, config.min_distance_px, config.border_px, pixel)
        return uv[keep], score[keep]
    eig = cv2.cornerMinEigenVal(image, blockSize=3, ksize=3)
    peak = float(eig.max()) if eig.size else 0.0
    if peak <= 0.0:
        return np.empty((0, 2), np.float32), np.empty(0, np.float32)
    local_max = eig >= cv2.dilate(eig, np.ones((3, 3), np.uint8))
    rows, cols = np.nonzero(local_max & (eig > config.gftt_quality_level * peak))
    pixel = np.stack([cols, rows], axis=1).astype(np.int64)
    keep = free_at((h, w), existing, config.min_distance_px, config.border_px, pixel)
    rows, cols = rows[keep], cols[keep]
    uv = np.stack([cols, rows], axis=1).astype(np.float32)
    return uv, eig[rows, cols].astype(np.float32)


def _space(
    uv: npt.NDArray[np.float32], score: npt.NDArray[np.float32], min_distance_px: float
) -> npt.NDArray[np.bool_]:
    """Keep mask of candidates at least ``min_distance_px`` from a stronger kept one.

    One candidate per bin of side ``min_distance_px`` (the strongest), then a candidate is
    dropped when a stronger bin winner in one of the 8 neighbouring bins is closer than
    ``min_distance_px``.
    """
    n = uv.shape[0]
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    if min_distance_px < 1.0:
        keep[:] = True
        return keep
    d = float(min_distance_px)
    bins = np.floor(uv / d).astype(np.int64)
    bw, bh = int(bins[:, 0].max()) + 3, int(bins[:, 1].max()) + 3
    bins += 1  # a ring of empty bins around: neighbours never wrap
    flat = bins[:, 1] * bw + bins[:, 0]
    order = np.lexsort((-score, flat))
    first = np.ones(n, dtype=bool)
    first[1:] = flat[order][1:] != flat[order][:-1]
    winners = order[first]
    best_score = np.full(bw * bh, -np.inf, dtype=np.float64)
    best_uv = np.full((bw * bh, 2), np.nan, dtype=np.float64)
    best_score[flat[winners]] = score[winners]
    best_uv[flat[winners]] = uv[winners]
    own = flat[winners]
    # The 8 neighbouring bins of every winner at once: (K, 8).
    other = own[:, None] + (_NEIGHBOUR_DY * bw + _NEIGHBOUR_DX)[None, :]
    diff = best_uv[other] - uv[winners][:, None, :]
    closer = np.sqrt(np.add.reduce(diff * diff, axis=2)) < d
    theirs, mine = best_score[other], score[winners][:, None]
    # Ties go to the lower bin index, so that exactly one of two survives.
    stronger = (theirs > mine) | ((theirs == mine) & (other < own[:, None]))
    suppressed = np.any(closer & stronger, axis=1)
    keep[winners[~suppressed]] = True
    return keep


def detect_corners(
    image: npt.NDArray[np.uint8],
    config: FeatureTrackerConfig,
    existing_uv: npt.NDArray[np.float32] | None = None,
    max_new: int | None = None,
) -> npt.NDArray[np.float32]:
    """New corners that top each grid cell up to its share, away from existing tracks.

    Args:
        image: (H, W) uint8 mono rectified left image.
        config: detector, grid, spacing and target count.
        existing_uv: (N, 2) float32 positions of the tracks kept, pixels; new corners
            keep ``min_distance_px`` from them and count against their cell's quota.
        max_new: at most this many corners (default: the target minus the tracks).

    Returns:
        (M, 2) float32 new corner positions, pixels (x = column, y = row), strongest
        first within each cell.

    Raises:
        ValueError: ``image`` is not a 2-D uint8 array.
    """
    if image.ndim != 2 or image.dtype != np.uint8:
        msg = f"image must be (H, W) uint8, got {image.shape} {image.dtype}"
        raise ValueError(msg)
    existing = (
        np.empty((0, 2), np.float32)
        if existing_uv is None
        else np.asarray(existing_uv, np.float32).reshape(-1, 2)
    )
    budget = config.num_features - existing.shape[0] if max_new is None else max_new
    if budget <= 0:
        return np.empty((0, 2), np.float32)
    h, w = image.shape
    uv, score = _candidates(image, existing, config)
    keep = _space(uv, score, config.min_distance_px)
    uv, score = uv[keep], score[keep]
    if uv.shape[0] == 0:
        return uv
    cols, rows = config.grid_cols, config.grid_rows

    def cell_of(points: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
        cx = np.clip((points[:, 0] * cols / w).astype(np.int64), 0, cols - 1)
        cy = np.clip((points[:, 1] * rows / h).astype(np.int64), 0, rows - 1)
        return np.asarray(cy * cols + cx, dtype=np.int64)

    taken = np.bincount(cell_of(existing), minlength=cols * rows)
    quota = np.maximum(config.cell_quota - taken, 0)
    cell = cell_of(uv)
    order = np.lexsort((-score, cell))
    sorted_cell = cell[order]
    start = np.searchsorted(sorted_cell, sorted_cell, side="left")
    rank = np.arange(order.shape[0]) - start
    chosen = order[rank < quota[sorted_cell]]
    if chosen.shape[0] > budget:
        # Over budget: the strongest win, across cells.
        chosen = chosen[np.argsort(-score[chosen], kind="stable")[:budget]]
    return np.asarray(uv[chosen], dtype=np.float32)
