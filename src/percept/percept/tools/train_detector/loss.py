"""Training targets and loss: FCOS-style assignment, quality focal loss, GIoU loss.

A cell is positive for a box when its centre lies in the box, within 2.5 strides of the
box centre, on the level of the box's size (``level_ranges``); ties go to the smaller
box. Quality focal loss on the classes (the target of a positive is the IoU of its
predicted box, so scores rank boxes by localisation quality), GIoU loss on the boxes.
"""

from __future__ import annotations

import math
from typing import Any, Final

from percept.tools.train_detector.model import STRIDES

__all__ = [
    "LEVEL_MAX_SIDE",
    "LEVEL_MIN_SIDE",
    "assign",
    "cell_grid",
    "detection_loss",
    "level_ranges",
    "nn_bce",
]

#: Largest box side (pixels) assigned to each default level (strides 8, 16, 32); the
#: last takes everything above.
LEVEL_MAX_SIDE: Final = (64.0, 128.0, math.inf)
#: Smallest box side assigned to each default level.
LEVEL_MIN_SIDE: Final = (0.0, 48.0, 96.0)


def level_ranges(strides: tuple[int, ...]) -> list[tuple[float, float]]:
    """(smallest, largest) box side in pixels each level is assigned: 3 to 8 strides.

    The first level takes everything below, the last everything above; with strides 8,
    16, 32 these are ``LEVEL_MIN_SIDE`` / ``LEVEL_MAX_SIDE``; a stride-4 level takes boxes
    up to 32 px and stride 8 then starts at 24 px.
    """
    ranges = [(3.0 * s, 8.0 * s) for s in strides]
    ranges[0] = (0.0, ranges[0][1])
    ranges[-1] = (ranges[-1][0], math.inf)
    return ranges


def cell_grid(
    input_width: int, input_height: int, strides: tuple[int, ...] = STRIDES
) -> tuple[Any, Any, Any, Any]:
    """Every output cell: (N, 2) centres, (N,) strides, (N,) smallest and largest side.

    The sides are the range of box sizes (pixels) the cell's level is assigned
    (``level_ranges``).
    """
    import torch

    centres, cell_strides, lows, highs = [], [], [], []
    for stride, (low, high) in zip(strides, level_ranges(strides), strict=True):
        h, w = input_height // stride, input_width // stride
        gy, gx = torch.meshgrid(
            (torch.arange(h) + 0.5) * stride, (torch.arange(w) + 0.5) * stride, indexing="ij"
        )
        centres.append(torch.stack([gx.flatten(), gy.flatten()], 1))
        cell_strides.append(torch.full((h * w,), float(stride)))
        lows.append(torch.full((h * w,), low))
        highs.append(torch.full((h * w,), high))
    return torch.cat(centres), torch.cat(cell_strides), torch.cat(lows), torch.cat(highs)


def assign(
    boxes: Any, centres: Any, strides: Any, low: Any, high: Any, radius: float = 2.5
) -> tuple[Any, Any]:
    """FCOS-style targets of one image.

    Args:
        boxes: (K, 4) float tensor ``x1, y1, x2, y2``.
        centres: (N, 2) cell centres.
        strides: (N,) cell strides.
        low: (N,) smallest box side (pixels) of each cell's level.
        high: (N,) largest box side of each cell's level.
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
    scale_ok = (side >= low[:, None]) & (side <= high[:, None])
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


def detection_loss(
    model: Any, images: Any, targets: list[tuple[Any, Any]], grid: tuple[Any, Any, Any, Any]
) -> tuple[Any, dict[str, float]]:
    """Loss of a batch: quality focal loss on the classes plus twice the GIoU loss.

    Args:
        model: the network (``build_model``).
        images: (B, 3, H, W) float tensor, RGB in [0, 1].
        targets: per image, ((K, 4) ``xyxy`` boxes, (K,) class ids) tensors.
        grid: ``cell_grid`` of the input size.

    Returns:
        (total loss tensor, {"cls", "box", "pos"}: the parts and the positive count).
    """
    import torch

    centres, strides, low, high = grid
    outs = model.raw(images)
    dist = torch.cat([d.flatten(2) for d, _ in outs], 2).transpose(1, 2)  # (B, N, 4)
    logits = torch.cat([c.flatten(2) for _, c in outs], 2).transpose(1, 2)  # (B, N, C)
    pred = torch.cat([centres - dist[..., :2], centres + dist[..., 2:]], -1)
    cls_target = torch.zeros_like(logits)
    box_losses, n_pos = [], 0
    for i, (boxes, classes) in enumerate(targets):
        positive, which = assign(boxes, centres, strides, low, high)
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
