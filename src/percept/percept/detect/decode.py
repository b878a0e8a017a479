"""Output decoders of YOLO-family and end-to-end detectors, chosen from output shapes.

Layouts (B batch, C classes, N anchors, K queries/detections; boxes in network-input
pixels unless said otherwise):

* ``yolov8`` — YOLOv8 / YOLO11 (Ultralytics, anchor-free): one output (B, 4+C, N),
  rows ``cx, cy, w, h`` then C class scores (already sigmoid). A transposed export
  (B, N, 4+C) is read when ``yolov8`` is asked for explicitly.
* ``yolov5`` — YOLOv5 / YOLOv7 (anchor-based, objectness): one output (B, N, 5+C),
  columns ``cx, cy, w, h, objectness`` then C class probabilities; score =
  objectness x class probability.
* ``yolov10`` — end-to-end with NMS inside (YOLOv10, Ultralytics ``end2end``): one
  output (B, K, 6), ``x1, y1, x2, y2, score, class``.
* ``rtdetr`` — Ultralytics RT-DETR: one output (B, K, 4+C), ``cx, cy, w, h``
  normalised to [0, 1] then C class scores; no NMS needed.
* ``rtdetr_topk`` — Ultralytics 8.4 RT-DETR export: one output (B, K, 6),
  ``cx, cy, w, h`` normalised to [0, 1], score, class. Its shape is YOLOv10's: only
  ``auto`` takes it, when the model's metadata names the head ``RTDETRDecoder``.
* ``boxes_scores_labels`` — RT-DETR (lyuwenyu) / TensorRT EfficientNMS style: outputs
  boxes (B, K, 4) ``x1, y1, x2, y2``, scores (B, K), labels (B, K), and optionally a
  detection count (B, 1).

``auto`` picks the layout from the shapes: a (B, a, b) single output is ``yolov8``
when a < b (channels first), else ``yolov10`` when b == 6 and a <= 1000, ``rtdetr``
when a <= 1000, else ``yolov5``. Anything else fails at start-up naming the shapes seen
and the layouts expected. Decoding returns per-image candidates above a score
threshold; NMS (``percept.detect.nms``) runs afterwards for the families that need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from percept.errors import DetectionError

__all__ = [
    "DECODERS",
    "Candidates",
    "OutputLayout",
    "choose_layout",
    "decode_outputs",
]

DecoderName = Literal["yolov8", "yolov5", "yolov10", "rtdetr", "rtdetr_topk", "boxes_scores_labels"]
#: Decoder names a ``decoder`` parameter may take besides ``auto`` (``rtdetr_topk`` is
#: chosen by ``auto`` from the metadata only: its shape is YOLOv10's).
DECODERS: Final[tuple[str, ...]] = ("yolov8", "yolov5", "yolov10", "rtdetr", "boxes_scores_labels")
#: Ultralytics' metadata ``head`` of RT-DETR exports.
RTDETR_HEAD: Final = "RTDETRDecoder"
#: End-to-end models have at most this many query rows; YOLOv5 heads have more anchors
#: (1,575 at a 160x160 input).
_MAX_QUERIES = 1000

EXPECTED: Final = (
    "yolov8/yolo11 (B, 4+C, N); yolov5/yolov7 (B, N, 5+C); yolov10 end-to-end (B, K, 6); "
    "rtdetr (B, K, 4+C) normalised; boxes/scores/labels (B, K, 4) + (B, K) + (B, K) "
    "[+ (B, 1) count]"
)

Shape = tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class OutputLayout:
    """Which decoder reads a model's outputs, and where its pieces are.

    Attributes:
        decoder: the layout name.
        num_classes: C, or None when the model does not say (end-to-end labels).
        transposed: ``yolov8`` only: anchors are rows, (B, N, 4+C).
        boxes_index: ``boxes_scores_labels``: output holding boxes (others: 0).
        scores_index: ``boxes_scores_labels``: output holding scores.
        labels_index: ``boxes_scores_labels``: output holding labels.
        count_index: ``boxes_scores_labels``: output holding the count, or None.
        needs_nms: True when the decoder's candidates still need NMS.
    """

    decoder: DecoderName
    num_classes: int | None
    transposed: bool = False
    boxes_index: int = 0
    scores_index: int = 0
    labels_index: int = 0
    count_index: int | None = None

    @property
    def needs_nms(self) -> bool:
        """YOLOv8 and YOLOv5 heads predict many overlapping boxes; the others do not."""
        return self.decoder in ("yolov8", "yolov5")


@dataclass(frozen=True, slots=True, eq=False)
class Candidates:
    """Detections of one image before NMS, in network-input pixels.

    Attributes:
        boxes_xyxy: (N, 4) float32 ``[x1, y1, x2, y2]``.
        scores: (N,) float32 confidences.
        class_ids: (N,) int64 class indices.
    """

    boxes_xyxy: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> Candidates:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def select(self, index: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Candidates:
        """The candidates at ``index`` (integer indices or a mask)."""
        return Candidates(self.boxes_xyxy[index], self.scores[index], self.class_ids[index])

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def _fail(shapes: Sequence[Shape], why: str) -> DetectionError:
    seen = ", ".join(str(tuple("?" if d is None else d for d in s)) for s in shapes)
    return DetectionError(f"model outputs {seen}: {why}; expected {EXPECTED}")


def _boxes_scores_labels(shapes: Sequence[Shape]) -> OutputLayout | None:
    boxes = [i for i, s in enumerate(shapes) if len(s) == 3 and s[2] == 4]
    pairs = [i for i, s in enumerate(shapes) if len(s) == 2 and s[1] != 1]
    counts = [i for i, s in enumerate(shapes) if len(s) == 2 and s[1] == 1]
    if len(boxes) != 1 or len(pairs) != 2 or len(counts) > 1:
        return None
    if len(shapes) != 3 + len(counts):
        return None
    # Scores come before labels in both RT-DETR's (labels, boxes, scores) ordering and
    # EfficientNMS's (num, boxes, scores, classes) when told apart by name; by shape
    # alone, the decoder tells them apart by dtype at run time (see _pick_scores).
    return OutputLayout(
        "boxes_scores_labels",
        None,
        boxes_index=boxes[0],
        scores_index=pairs[0],
        labels_index=pairs[1],
        count_index=counts[0] if counts else None,
    )


def choose_layout(
    shapes: Sequence[Shape],
    decoder: str = "auto",
    names: Sequence[str] = (),
    head: str = "",
) -> OutputLayout:
    """The decoder for outputs of these shapes.

    Args:
        shapes: output shapes, None for dynamic dimensions.
        decoder: ``auto`` or one of ``DECODERS`` to force a layout.
        names: output names (``boxes``, ``scores``, ``labels``/``classes``, ``num``...)
            used by ``boxes_scores_labels`` to tell scores from labels.
        head: the ``head`` entry of Ultralytics' metadata (``RTDETRDecoder`` makes a
            (B, K, 6) output ``rtdetr_topk``), empty when unknown.

    Returns:
        The layout.

    Raises:
        DetectionError: the shapes fit no layout (or not the one asked for); the
            message lists the shapes seen and the layouts expected.
    """
    if decoder != "auto" and decoder not in DECODERS:
        msg = f"decoder must be auto or one of {list(DECODERS)}, got {decoder!r}"
        raise DetectionError(msg)
    if decoder in ("auto", "boxes_scores_labels") and len(shapes) > 1:
        layout = _boxes_scores_labels(shapes)
        if layout is None:
            raise _fail(shapes, "several outputs, but not boxes/scores/labels")
        return _name_roles(layout, names)
    if decoder == "boxes_scores_labels":
        raise _fail(shapes, "boxes_scores_labels needs 3 or 4 outputs")
    if len(shapes) != 1:
        raise _fail(shapes, f"{decoder} needs exactly one output")
    shape = shapes[0]
    if len(shape) != 3:
        raise _fail(shapes, f"the output has rank {len(shape)}, not 3")
    a, b = shape[1], shape[2]
    if decoder == "auto":
        decoder = "rtdetr_topk" if head == RTDETR_HEAD and b == 6 else _guess(a, b, shapes)
    if decoder == "yolov8":
        transposed = not _channels_first(a, b)
        channels = b if transposed else a
        if channels is None or channels < 5:
            raise _fail(shapes, "yolov8 needs a static 4+C channel dimension, C >= 1")
        return OutputLayout("yolov8", channels - 4, transposed=transposed)
    if decoder == "yolov5":
        if b is None or b < 6:
            raise _fail(shapes, "yolov5 needs a static last dimension 5+C, C >= 1")
        return OutputLayout("yolov5", b - 5)
    if decoder in ("yolov10", "rtdetr_topk"):
        if b != 6:
            raise _fail(shapes, f"{decoder} needs a last dimension of 6")
        return OutputLayout("yolov10" if decoder == "yolov10" else "rtdetr_topk", None)
    if b is None or b < 5:
        raise _fail(shapes, "rtdetr needs a static last dimension 4+C, C >= 1")
    return OutputLayout("rtdetr", b - 4)


def _channels_first(a: int | None, b: int | None) -> bool:
    if a is None:
        return False
    return b is None or a < b


def _guess(a: int | None, b: int | None, shapes: Sequence[Shape]) -> DecoderName:
    if a is None and b is None:
        raise _fail(shapes, "both output dimensions are dynamic; set the decoder parameter")
    if _channels_first(a, b):
        return "yolov8"
    if b == 6 and a is not None and a <= _MAX_QUERIES:
        return "yolov10"
    if a is not None and a <= _MAX_QUERIES:
        return "rtdetr"
    return "yolov5"


def _name_roles(layout: OutputLayout, names: Sequence[str]) -> OutputLayout:
    """Swap scores/labels when the output names say so (``labels``/``classes``)."""
    if len(names) <= max(layout.scores_index, layout.labels_index):
        return layout
    first = names[layout.scores_index].lower()
    if any(word in first for word in ("label", "class")):
        return OutputLayout(
            layout.decoder,
            layout.num_classes,
            boxes_index=layout.boxes_index,
            scores_index=layout.labels_index,
            labels_index=layout.scores_index,
            count_index=layout.count_index,
        )
    return layout


def _cxcywh_to_xyxy(
    cx: npt.NDArray[np.float32],
    cy: npt.NDArray[np.float32],
    w: npt.NDArray[np.float32],
    h: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    half_w, half_h = w * 0.5, h * 0.5
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(
        np.float32, copy=False
    )


def _decode_yolov8(out: npt.NDArray[np.floating], transposed: bool, threshold: float) -> Candidates:
    # out: (4+C, N) channels first (or (N, 4+C) transposed); only candidates above the
    # threshold are gathered, so the (C, N) score block is read once by argmax/max.
    rows = out.T if transposed else out
    class_scores = rows[4:]
    scores = class_scores.max(axis=0)
    keep = np.flatnonzero(scores > threshold)
    if not keep.size:
        return Candidates.empty()
    class_ids = np.argmax(class_scores[:, keep], axis=0)
    box = rows[:4, keep].astype(np.float32)
    return Candidates(
        _cxcywh_to_xyxy(box[0], box[1], box[2], box[3]),
        scores[keep].astype(np.float32),
        class_ids.astype(np.int64),
    )


def _decode_yolov5(out: npt.NDArray[np.floating], threshold: float) -> Candidates:
    # out: (N, 5+C). Objectness gates first (cheap), as YOLOv5's non_max_suppression.
    objectness = out[:, 4]
    rows = out[objectness > threshold]
    if not rows.shape[0]:
        return Candidates.empty()
    class_scores = rows[:, 5:] * rows[:, 4:5]
    class_ids = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(rows.shape[0]), class_ids]
    keep = scores > threshold
    box = rows[keep, :4].astype(np.float32)
    return Candidates(
        _cxcywh_to_xyxy(box[:, 0], box[:, 1], box[:, 2], box[:, 3]),
        scores[keep].astype(np.float32),
        class_ids[keep].astype(np.int64),
    )


def _decode_yolov10(out: npt.NDArray[np.floating], threshold: float) -> Candidates:
    rows = out[out[:, 4] > threshold]
    return Candidates(
        rows[:, :4].astype(np.float32),
        rows[:, 4].astype(np.float32),
        np.rint(rows[:, 5]).astype(np.int64),
    )


def _decode_rtdetr_topk(
    out: npt.NDArray[np.floating], threshold: float, width: int, height: int
) -> Candidates:
    rows = out[out[:, 4] > threshold]
    box = rows[:, :4].astype(np.float32)
    return Candidates(
        _cxcywh_to_xyxy(
            box[:, 0] * width, box[:, 1] * height, box[:, 2] * width, box[:, 3] * height
        ),
        rows[:, 4].astype(np.float32),
        np.rint(rows[:, 5]).astype(np.int64),
    )


def _decode_rtdetr(
    out: npt.NDArray[np.floating], threshold: float, width: int, height: int
) -> Candidates:
    class_scores = out[:, 4:]
    class_ids = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(out.shape[0]), class_ids]
    keep = scores > threshold
    box = out[keep, :4].astype(np.float32)
    return Candidates(
        _cxcywh_to_xyxy(
            box[:, 0] * width, box[:, 1] * height, box[:, 2] * width, box[:, 3] * height
        ),
        scores[keep].astype(np.float32),
        class_ids[keep].astype(np.int64),
    )


def _pick_scores(
    a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic]]:
    """(scores, labels) of two (K,) arrays: labels are the integer-typed one."""
    if a.dtype.kind in "iu" and b.dtype.kind == "f":
        return b, a
    return a, b


def _decode_bsl(
    outputs: Sequence[npt.NDArray[np.generic]],
    layout: OutputLayout,
    image: int,
    threshold: float,
) -> Candidates:
    boxes = np.asarray(outputs[layout.boxes_index][image], dtype=np.float32)
    scores, labels = _pick_scores(
        outputs[layout.scores_index][image], outputs[layout.labels_index][image]
    )
    count = boxes.shape[0]
    if layout.count_index is not None:
        count = min(count, int(np.asarray(outputs[layout.count_index][image]).reshape(-1)[0]))
    scores_f = np.asarray(scores, dtype=np.float32)[:count]
    keep = np.flatnonzero(scores_f > threshold)
    return Candidates(
        boxes[:count][keep],
        scores_f[keep],
        np.rint(np.asarray(labels, dtype=np.float64)[:count][keep]).astype(np.int64),
    )


def decode_outputs(
    outputs: Sequence[npt.NDArray[np.generic]],
    layout: OutputLayout,
    score_threshold: float,
    input_width: int,
    input_height: int,
) -> list[Candidates]:
    """Per-image candidates scoring strictly above ``score_threshold``.

    Args:
        outputs: the model's outputs for a batch of B images, in model order.
        layout: from :func:`choose_layout`.
        score_threshold: confidence threshold.
        input_width: network input width, pixels (RT-DETR boxes are normalised).
        input_height: network input height, pixels.

    Returns:
        B candidate sets in network-input pixels.

    Raises:
        DetectionError: outputs whose rank or batch does not fit the layout.
    """
    if layout.decoder == "boxes_scores_labels":
        batch = np.asarray(outputs[layout.boxes_index]).shape[0]
        return [_decode_bsl(outputs, layout, i, score_threshold) for i in range(batch)]
    out = np.asarray(outputs[0])
    if out.ndim != 3:
        msg = f"{layout.decoder}: expected a rank-3 output, got shape {out.shape}"
        raise DetectionError(msg)
    result: list[Candidates] = []
    for i in range(out.shape[0]):
        item = out[i]
        if layout.decoder == "yolov8":
            result.append(_decode_yolov8(item, layout.transposed, score_threshold))
        elif layout.decoder == "yolov5":
            result.append(_decode_yolov5(item, score_threshold))
        elif layout.decoder == "yolov10":
            result.append(_decode_yolov10(item, score_threshold))
        elif layout.decoder == "rtdetr_topk":
            result.append(_decode_rtdetr_topk(item, score_threshold, input_width, input_height))
        else:
            result.append(_decode_rtdetr(item, score_threshold, input_width, input_height))
    return result
