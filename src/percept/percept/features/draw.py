"""A debug image of the tracks, for a node's track debug topic.

Each feature is a small ring coloured by its age (blue when new, through green, to red
at ``max_age`` frames and older), with a line from where it was in the previous frame.
With the right image, the pair is drawn side by side and each stereo match is marked in
the right half in its track's colour. Drawing is grouped by colour, one OpenCV call per
colour, not one per feature.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.features.klt import FeatureFrame

__all__ = ["draw_tracks"]

# Age colour ramp (bgr8), new -> old.
_RAMP: Final = np.array(
    [[255, 80, 0], [255, 200, 0], [0, 220, 0], [0, 220, 220], [0, 140, 255], [0, 0, 255]],
    dtype=np.uint8,
)
# A ring drawn as an octagon: cv2.polylines draws every ring of a colour in one call.
_RING: Final = np.stack(
    [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1
)
_SHIFT: Final = 4  # fixed-point bits: sub-pixel positions in OpenCV drawing


def _bgr(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return np.array(image, dtype=np.uint8, copy=True)


def _fixed(points: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    return np.rint(points * (1 << _SHIFT)).astype(np.int32)


def draw_tracks(
    left: npt.NDArray[np.uint8],
    frame: FeatureFrame,
    previous: FeatureFrame | None = None,
    right: npt.NDArray[np.uint8] | None = None,
    *,
    max_age: int = 20,
    radius_px: float = 3.0,
) -> npt.NDArray[np.uint8]:
    """Draw a frame's tracks on its left image (and stereo matches on the right).

    Args:
        left: (H, W) uint8 mono or (H, W, 3) bgr8 rectified left image.
        frame: the frame's features.
        previous: the previous frame's features; tracks found in both get a line from
            their previous position.
        right: (H, W) or (H, W, 3) rectified right image; given: output is the pair side
            by side with the stereo matches drawn in the right half.
        max_age: age, frames, that gets the last (red) colour.
        radius_px: ring radius, pixels.

    Returns:
        (H, W, 3) bgr8, or (H, 2 W, 3) with ``right``.
    """
    canvas = _bgr(left)
    w = canvas.shape[1]
    if right is not None:
        canvas = np.ascontiguousarray(np.concatenate([canvas, _bgr(right)], axis=1))
    n = len(frame)
    if n == 0:
        return canvas
    level = np.clip(
        (frame.ages.astype(np.float64) - 1) / max(max_age - 1, 1) * (len(_RAMP) - 1),
        0,
        len(_RAMP) - 1,
    )
    bucket = np.rint(level).astype(np.int64)
    uv = frame.uv_left.astype(np.float64)
    rings = _fixed(uv[:, None, :] + radius_px * _RING[None])
    prev_uv = np.full((n, 2), np.nan)
    if previous is not None and len(previous) > 0:
        _common, here, there = np.intersect1d(frame.ids, previous.ids, return_indices=True)
        prev_uv[here] = previous.uv_left[there]
    has_prev = np.isfinite(prev_uv[:, 0])
    has_right = frame.has_right
    right_uv = frame.uv_right.astype(np.float64) + np.array([w, 0.0])
    right_rings = _fixed(np.nan_to_num(right_uv)[:, None, :] + radius_px * _RING[None])
    for b in np.unique(bucket):
        colour = tuple(int(c) for c in _RAMP[b])
        sel = bucket == b
        cv2.polylines(canvas, list(rings[sel]), True, colour, 1, cv2.LINE_AA, _SHIFT)
        lines = sel & has_prev
        if lines.any():
            segments = _fixed(np.stack([prev_uv[lines], uv[lines]], axis=1))
            cv2.polylines(canvas, list(segments), False, colour, 1, cv2.LINE_AA, _SHIFT)
        matched = sel & has_right
        if right is not None and matched.any():
            cv2.polylines(canvas, list(right_rings[matched]), True, colour, 1, cv2.LINE_AA, _SHIFT)
    c = frame.counts
    text = f"tracks {n}  new {c.new}  stereo {c.stereo_matched}  fb -{c.rejected_fb}"
    text += f"  ransac -{c.rejected_ransac}"
    cv2.putText(canvas, text, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
    return canvas
