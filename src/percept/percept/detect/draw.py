"""Detections drawn on images: for ``percept detect --draw`` and the node's debug image."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["class_color", "draw_detections"]


def class_color(class_id: int) -> tuple[int, int, int]:
    """A distinct, stable BGR colour per class (golden-ratio hues).

    >>> class_color(0) != class_color(1)
    True
    """
    hue = int((class_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    b, g, r = (int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    return b, g, r


def draw_detections(
    image_bgr: npt.NDArray[np.uint8],
    boxes_xyxy: npt.NDArray[np.floating],
    class_ids: npt.NDArray[np.integer],
    labels: Sequence[str],
    scores: npt.NDArray[np.floating] | None = None,
    track_ids: Sequence[str] = (),
) -> npt.NDArray[np.uint8]:
    """A copy of ``image_bgr`` with boxes and "label score #id" captions.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image.
        boxes_xyxy: (N, 4) boxes, pixels.
        class_ids: (N,) classes (colour per class).
        labels: (N,) caption text per box (class names).
        scores: (N,) confidences shown after the label, or None.
        track_ids: (N,) tracking ids ("" for none), or empty.

    Returns:
        (H, W, 3) uint8 BGR annotated image.
    """
    out: npt.NDArray[np.uint8] = np.array(image_bgr, dtype=np.uint8, order="C", copy=True)
    thickness = max(1, round(min(out.shape[:2]) / 320))
    scale = 0.4 * thickness
    for i, box in enumerate(np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)):
        color = class_color(int(class_ids[i]))
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        text = labels[i]
        if scores is not None:
            text += f" {float(scores[i]):.2f}"
        if i < len(track_ids) and track_ids[i]:
            text += f" #{track_ids[i]}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(y1 - th - base, 0)
        cv2.rectangle(out, (x1, top), (x1 + tw, top + th + base), color, -1)
        cv2.putText(
            out,
            text,
            (x1, top + th),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    return out
