"""Axis-aligned image boxes.

Pairwise IoU, shared by detection (box fusion), tracking (association) and tracking
evaluation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["iou_matrix"]


def iou_matrix(
    a_xyxy: npt.NDArray[np.floating], b_xyxy: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """(N, M) IoU of two box sets (no +1 pixel term), fully vectorised.

    >>> iou_matrix(np.array([[0., 0, 2, 2]]), np.array([[1., 0, 3, 2], [5, 5, 6, 6]])).round(3)
    array([[0.333, 0.   ]])
    """
    a = np.asarray(a_xyxy, dtype=np.float64)[:, None, :]
    b = np.asarray(b_xyxy, dtype=np.float64)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    out = np.zeros(inter.shape, dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out
