"""Post-processing of disparity maps: left-right check, speckles, hole filling.

Every function works on whole arrays (no per-pixel Python) and keeps float32. Disparity
maps are (H, W) float32 pixels of the left image, NaN where there is no disparity.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["fill_holes", "left_right_consistent", "remove_speckles"]

FloatImage = npt.NDArray[np.float32]
BoolImage = npt.NDArray[np.bool_]
_DISP_SCALE = 16


def left_right_consistent(
    disparity_left: FloatImage, disparity_right: FloatImage, tolerance_px: float
) -> BoolImage:
    """Which left disparities the right image's disparity at their match confirms.

    A left pixel (x, y) with disparity d matches the right pixel (round(x - d), y); it
    is kept when that pixel's right disparity is within ``tolerance_px`` of d.

    Args:
        disparity_left: (H, W) float32 disparity of the left image, pixels, NaN none.
        disparity_right: (H, W) float32 disparity of the right image (its match lies at
            ``x + d`` in the left image), pixels, NaN none.
        tolerance_px: largest disagreement kept, pixels.

    Returns:
        (H, W) bool, True where the left disparity is valid and confirmed.

    Raises:
        ValueError: the maps differ in shape.

    >>> left = np.array([[np.nan, 1.0, 1.0, 3.0]], dtype=np.float32)
    >>> right = np.array([[1.0, 2.0, 2.0, np.nan]], dtype=np.float32)
    >>> left_right_consistent(left, right, 0.5).tolist()
    [[False, True, False, False]]
    """
    if disparity_left.shape != disparity_right.shape or disparity_left.ndim != 2:
        msg = (
            "left and right disparity must be (H, W) of one size, got "
            f"{disparity_left.shape} and {disparity_right.shape}"
        )
        raise ValueError(msg)
    width = disparity_left.shape[1]
    finite = np.isfinite(disparity_left)
    columns = np.arange(width, dtype=np.float32)[None, :] - np.where(finite, disparity_left, 0)
    x_right = np.rint(columns).astype(np.intp)
    inside = finite & (x_right >= 0) & (x_right < width)
    np.clip(x_right, 0, width - 1, out=x_right)
    seen = np.take_along_axis(disparity_right, x_right, axis=1)
    with np.errstate(invalid="ignore"):
        agree = np.abs(seen - disparity_left) <= tolerance_px
    out: BoolImage = inside & agree
    return out


def remove_speckles(
    disparity: FloatImage, max_size_px: int, max_difference_px: float, min_disparity: int = 0
) -> FloatImage:
    """Drop small regions of similar disparity (OpenCV ``filterSpeckles``).

    Args:
        disparity: (H, W) float32 pixels, NaN none.
        max_size_px: regions of at most this many pixels are removed (0: none).
        max_difference_px: neighbours closer than this belong to one region, pixels.
        min_disparity: smallest disparity in the map (the fixed-point invalid value is
            below it).

    Returns:
        A new (H, W) float32 map with the speckles set to NaN.
    """
    out: FloatImage = disparity.copy()
    if max_size_px <= 0:
        return out
    invalid = (min_disparity - 1) * _DISP_SCALE
    finite = np.isfinite(disparity)
    fixed = np.where(finite, np.rint(disparity * _DISP_SCALE), invalid).astype(np.int16)
    cv2.filterSpeckles(fixed, invalid, max_size_px, round(max_difference_px * _DISP_SCALE))
    out[finite & (fixed == invalid)] = np.nan
    return out


def fill_holes(disparity: FloatImage, max_width_px: int = 0) -> tuple[FloatImage, BoolImage]:
    """Fill holes that lie between two disparities of their row with the smaller one.

    Scanline propagation, done with running maxima over each row: for every pixel
    without a disparity, the nearest valid pixels to its left and right are found and
    the smaller disparity (the farther surface) is taken, since a hole beside a depth
    edge is the background that the foreground hides from the other camera. Holes that
    reach the image border (one side only) stay empty.

    Args:
        disparity: (H, W) float32 pixels, NaN none.
        max_width_px: fill only holes up to this many pixels wide (0: any width).

    Returns:
        ``(filled, was_filled)``: the new (H, W) float32 map and a (H, W) bool mask of
        the pixels that were filled.

    >>> d = np.array([[2.0, np.nan, np.nan, 5.0, np.nan]], dtype=np.float32)
    >>> filled, mask = fill_holes(d)
    >>> filled.tolist(), mask.tolist()
    ([[2.0, 2.0, 2.0, 5.0, nan]], [[False, True, True, False, False]])
    """
    width = disparity.shape[1]
    valid = np.isfinite(disparity)
    columns = np.arange(width, dtype=np.intp)[None, :]
    left_index = np.maximum.accumulate(np.where(valid, columns, -1), axis=1)
    right_index = np.minimum.accumulate(np.where(valid, columns, width)[:, ::-1], axis=1)[:, ::-1]
    holes = ~valid & (left_index >= 0) & (right_index < width)
    if max_width_px > 0:
        holes &= (right_index - left_index - 1) <= max_width_px
    left_value = np.take_along_axis(disparity, np.clip(left_index, 0, width - 1), axis=1)
    right_value = np.take_along_axis(disparity, np.clip(right_index, 0, width - 1), axis=1)
    filled: FloatImage = np.where(holes, np.fmin(left_value, right_value), disparity).astype(
        np.float32, copy=False
    )
    return filled, holes
