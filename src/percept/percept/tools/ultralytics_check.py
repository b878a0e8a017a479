"""Check that Percept's detector returns what Ultralytics predicts with the same ONNX file.

``python -m percept.tools.ultralytics_check`` exports each model to ONNX with
Ultralytics (``model.export(format="onnx")``), runs Ultralytics' own prediction on that
ONNX file (``YOLO(onnx).predict``: its letterbox, ONNX Runtime through ``AutoBackend``,
its ``non_max_suppression`` and ``scale_boxes``) and Percept's
:class:`~percept.detect.detector.Detector` (ONNX Runtime backend, decoder chosen from the
output shapes) on the same images with the same thresholds, and prints one row per
export: detections on each side, boxes matched, the largest box and score differences
and whether every class agrees. Ultralytics is an optional extra (``pip install
'percept[ultralytics]'``); the runtime never needs it.

Models are Ultralytics model names built from their YAML (``yolov8n``, ``yolo11n``,
``yolov10n``: nothing is downloaded) or your own ``.pt`` / ``.yaml`` files. YOLOv10 (a
head with one-to-one branches) is exported end-to-end (``nms=False``: the (B, 300, 6)
layout of Percept's ``yolov10`` decoder). RT-DETR (``rtdetr-l``) exports as one
(B, 300, 6) output of normalised boxes (Percept's ``rtdetr_topk``, told from YOLOv10 by
the metadata's ``head``) and is fed stretched, not letterboxed, on both sides; its
boxes are clipped to the image here, as Percept clips every box (Ultralytics' RT-DETR
predictor does not). Built from YAML, a network scores about 1e-4
everywhere; with ``--seed`` (the default) it is made to answer, deterministically
(:func:`make_responsive`): convolutions re-drawn He-normal from the seed, the last layer
of each head branch rescaled on calibration images (box logits std 1, class logits 1.5
plus a seeded per-class offset, about 0.2 % of (anchor, class) pairs above 0.5), so
scores and boxes depend on the image, many boxes overlap and no candidates tie.

Detections pair by box and score; a detection without a partner passes only as a
borderline NMS decision: Ultralytics adds ``class x 7680`` px to the boxes in float32
before torchvision's IoU, which rounds coordinates (1/16 px at class 72), so an IoU
within about 1e-3 of the threshold can fall either way (Percept: OpenCV, float64).

Images are drawn here (``synthetic_images``: textured backgrounds with filled shapes,
three aspect ratios so the letterbox pads both ways) unless ``--images`` names files.
Ultralytics predicts a dynamic-shape ONNX with ``rect=True`` by default (the input
shrunk to the smallest multiple of the stride around the letterboxed image); Percept
always feeds the model's full input size (``imgsz`` of the metadata), as a TensorRT
engine is built for, so the check asks Ultralytics for ``rect=False``.

The ONNX opset defaults to Ultralytics' own choice for this torch (18); the TensorRT 10.3
of JetPack 6.1/6.2 parses opsets 9 to 20 (onnx-tensorrt ``docs/operators.md``, release
10.x: "TensorRT 10.0 supports operators in the inclusive range of opset 9 to opset 20";
10.1-10.5 add operators, not opsets), so ``--opset`` above 20 is refused.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.detect.decode import Candidates, decode_outputs
from percept.detect.detector import Detections, Detector, DetectorConfig
from percept.detect.nms import box_iou_one_to_many
from percept.detect.preprocess import make_batch

__all__ = [
    "FAMILIES",
    "TRT_MAX_OPSET",
    "CheckResult",
    "build_model",
    "check_model",
    "compare_detections",
    "export_onnx",
    "format_table",
    "main",
    "make_responsive",
    "offline_environment",
    "percept_predict",
    "synthetic_images",
    "ultralytics_predict",
]

logger = logging.getLogger(__name__)

#: Ultralytics families checked by default, built from their model YAML.
FAMILIES: Final = ("yolov8n", "yolo11n", "yolov10n")
#: Highest ONNX opset the TensorRT 10.3 ONNX parser (JetPack 6.1/6.2) reads.
TRT_MAX_OPSET: Final = 20
#: Tolerances of Must show 2 of issue 21.
BOX_TOLERANCE_PX: Final = 0.5
SCORE_TOLERANCE: Final = 1e-3
#: (height, width) of the drawn images: landscape, portrait, 4:3 of an odd size.
IMAGE_SIZES: Final = ((480, 640), (500, 333), (375, 500))
_CLASS_STD = 1.5
_BOX_STD = 1.0
_POSITIVE_FRACTION = 0.002
_CLASS_OFFSET_STD = 0.5


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Percept against Ultralytics on one exported ONNX file.

    Attributes:
        model: model name or file.
        onnx_path: the exported file.
        imgsz: export size (square), pixels.
        dynamic: exported with dynamic batch and image axes.
        opset: ONNX opset of the export.
        decoder: the layout Percept chose.
        images: images compared.
        ultralytics_detections: detections Ultralytics returned, all images.
        percept_detections: detections Percept returned, all images.
        matched: detections paired one to one (box within 2 px, score within 0.01).
        max_box_px: largest difference of a box coordinate over the pairs, image pixels.
        max_score: largest score difference over the pairs.
        classes_equal: every pair has the same class.
        unpaired: detections of either side left without a partner.
        borderline: unpaired detections that are borderline NMS decisions: an IoU
            within 1e-4 of the threshold, where Ultralytics' float32 class offset
            (class x 7680 px added before the IoU) and Percept's float64 IoU can fall on
            either side, or a box suppressed by such a flip.
    """

    model: str
    onnx_path: Path
    imgsz: int
    dynamic: bool
    opset: int
    decoder: str
    images: int
    ultralytics_detections: int
    percept_detections: int
    matched: int
    max_box_px: float
    max_score: float
    classes_equal: bool
    unpaired: int
    borderline: int

    @property
    def ok(self) -> bool:
        """Paired within 0.5 px and 1e-3 of score, same classes, any others borderline."""
        return (
            self.matched > 0
            and self.unpaired == self.borderline
            and self.max_box_px <= BOX_TOLERANCE_PX
            and self.max_score <= SCORE_TOLERANCE
            and self.classes_equal
        )


def offline_environment(config_dir: Path) -> None:
    """Settings that keep Ultralytics off the network; call before importing it.

    ``YOLO_OFFLINE`` skips its online checks, ``YOLO_AUTOINSTALL=0`` stops it from
    pip-installing missing export helpers, ``YOLO_CONFIG_DIR`` keeps its settings file
    (and any font it would look for) in ``config_dir``. Plotting, the only user of the
    fonts it downloads, is never asked for here.

    Args:
        config_dir: folder for Ultralytics' settings.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ.setdefault("YOLO_VERBOSE", "0")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))


def synthetic_images(
    seed: int = 0, sizes: Sequence[tuple[int, int]] = IMAGE_SIZES
) -> list[npt.NDArray[np.uint8]]:
    """BGR images with structure at every scale: smooth noise, filled boxes and discs.

    Args:
        seed: random seed.
        sizes: (height, width) of each image.

    Returns:
        (H, W, 3) uint8 BGR images.
    """
    rng = np.random.default_rng(seed)
    images: list[npt.NDArray[np.uint8]] = []
    for height, width in sizes:
        coarse = rng.uniform(0, 255, (max(height // 16, 2), max(width // 16, 2), 3))
        fine = rng.normal(0.0, 12.0, (height, width, 3))
        base = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) + fine
        image = np.clip(base, 0, 255).astype(np.uint8)
        for _ in range(12):
            x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(0, height - 8))
            w, h = int(rng.integers(8, width // 3)), int(rng.integers(8, height // 3))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            if rng.random() < 0.6:
                cv2.rectangle(image, (x0, y0), (x0 + w, y0 + h), colour, -1)
            else:
                cv2.circle(image, (x0, y0), max(w, h) // 2, colour, -1)
        images.append(image)
    return images


def _head_branches(head: Any) -> list[tuple[str, Any]]:
    """(kind, last layer) of each box / class branch of a YOLO head."""
    branches: list[tuple[str, Any]] = []
    for name, kind in (("cv2", "box"), ("cv3", "class")):
        for prefix in ("", "one2one_"):
            for seq in getattr(head, prefix + name, None) or ():
                branches.append((kind, seq[-1]))
    for name in ("enc_score_head", "dec_score_head"):  # RT-DETR: Linear (hidden -> C)
        layer = getattr(head, name, None)
        if layer is not None:
            branches += [
                ("class", lay) for lay in (layer if hasattr(layer, "__len__") else [layer])
            ]
    return branches


def make_responsive(
    model: Any, images: Sequence[npt.NDArray[np.uint8]], imgsz: int, seed: int
) -> None:
    """Make a randomly initialised Ultralytics network give many detections.

    Re-draws every convolution He-normal from ``seed`` (the DFL's fixed projection
    excepted), then, on the calibration images, rescales the last layer of each box
    branch to an output standard deviation of 1 and of each class branch to 1.5 with a
    bias that puts about 0.2 % of its (anchor, class) outputs above 0 (score 0.5), plus
    a seeded offset per class. Deterministic for a seed and images.

    Args:
        model: an ``ultralytics.YOLO`` / ``RTDETR`` object (its ``.model`` is changed).
        images: (H, W, 3) uint8 BGR calibration images.
        imgsz: square input size used for calibration, pixels.
        seed: random seed.
    """
    import torch

    net = model.model
    head = net.model[-1]
    gen = torch.Generator().manual_seed(seed)
    dfl = getattr(head, "dfl", None)
    frozen = {id(p) for p in dfl.parameters()} if isinstance(dfl, torch.nn.Module) else set()
    outputs: dict[int, list[Any]] = {}
    hooks = []
    branches = _head_branches(head)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d) and id(module.weight) not in frozen:
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in)
                )
        for _, layer in branches:
            outputs[id(layer)] = []
            hooks.append(
                layer.register_forward_hook(
                    lambda mod, _inp, out: outputs[id(mod)].append(out.detach().clone())
                )
            )
        tensor, _ = make_batch(list(images), [True] * len(images), imgsz, imgsz)
        net.eval()
        # A head with one-to-one branches (YOLOv10) runs them only end-to-end: both passes.
        dual = getattr(head, "one2one_cv2", None) is not None
        before = getattr(head, "end2end", False)
        for end2end in (False, True) if dual else (before,):
            if dual:
                head.end2end = end2end
            net(torch.from_numpy(tensor))
        if dual:
            head.end2end = before
        for hook in hooks:
            hook.remove()
        for kind, layer in branches:
            seen = outputs[id(layer)]
            if not seen:  # a branch the inference graph does not use
                continue
            if isinstance(layer, torch.nn.Linear):  # (B, queries, C) -> (B, C, queries)
                seen = [o.transpose(-1, -2) for o in seen]
            out = torch.cat([o.reshape(o.shape[0], o.shape[1], -1) for o in seen])
            bias = layer.bias if layer.bias is not None else torch.zeros(out.shape[1])
            signal = out - bias.reshape(1, -1, 1)
            gain = (_CLASS_STD if kind == "class" else _BOX_STD) / max(float(signal.std()), 1e-12)
            layer.weight.mul_(gain)
            if kind == "class":
                scaled = signal * gain
                top = torch.quantile(scaled.flatten().double(), 1.0 - _POSITIVE_FRACTION)
                offsets = torch.randn(out.shape[1], generator=gen) * _CLASS_OFFSET_STD
                layer.bias.copy_(offsets - float(top))
            elif layer.bias is not None:
                layer.bias.copy_(bias)


def build_model(name: str, images: Sequence[npt.NDArray[np.uint8]], imgsz: int, seed: int) -> Any:
    """An Ultralytics model from a name, a ``.yaml`` or a ``.pt`` file.

    Args:
        name: ``yolov8n``-style name (built from ``<name>.yaml``), or a file.
        images: calibration images for :func:`make_responsive`.
        imgsz: calibration size, pixels.
        seed: seed of :func:`make_responsive`; negative leaves the weights alone
            (``.pt`` files are always left alone).

    Returns:
        An ``ultralytics.YOLO`` (``RTDETR`` for RT-DETR) object.
    """
    from ultralytics import RTDETR, YOLO  # type: ignore[import-not-found, import-untyped]

    source = name if name.endswith((".pt", ".yaml", ".yml")) else f"{name}.yaml"
    model = (RTDETR if _is_rtdetr(source) else YOLO)(source)
    if seed >= 0 and not source.endswith(".pt"):
        make_responsive(model, images, imgsz, seed)
    return model


def _is_rtdetr(name: str) -> bool:
    return "rtdetr" in Path(name).stem.lower()


def _has_one2one(model: Any) -> bool:
    head = model.model.model[-1]
    return getattr(head, "one2one_cv2", None) is not None


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def export_onnx(model: Any, out_dir: Path, imgsz: int, *, dynamic: bool, opset: int) -> Path:
    """Export with Ultralytics to ``out_dir/<stem>_<imgsz>_<fixed|dynamic>_op<opset>.onnx``.

    Args:
        model: from :func:`build_model`.
        out_dir: folder of the exported file.
        imgsz: square export size, pixels.
        dynamic: dynamic batch and image axes.
        opset: ONNX opset, at most :data:`TRT_MAX_OPSET`.

    Returns:
        The ONNX file.

    Raises:
        ValueError: an opset the Jetson's TensorRT 10.3 cannot parse.
    """
    if not 9 <= opset <= TRT_MAX_OPSET:
        msg = f"opset {opset}: TensorRT 10.3 parses opsets 9 to {TRT_MAX_OPSET}"
        raise ValueError(msg)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="percept_ultra_export_") as tmp:
        # Ultralytics writes next to the model file, the working folder for YAML models.
        with _working_directory(Path(tmp)):
            written = Path(
                model.export(
                    format="onnx",
                    imgsz=imgsz,
                    dynamic=dynamic,
                    opset=opset,
                    simplify=True,
                    device="cpu",
                    # nms=False asks Ultralytics 8.4 for the NMS-free one-to-one head of
                    # the models that have one (YOLOv10): the (B, 300, 6) layout.
                    nms=False if _has_one2one(model) else None,
                )
            )
            if not written.is_absolute():
                written = Path(tmp) / written
        stem = Path(str(getattr(model, "ckpt_path", None) or written.stem)).stem
        target = out_dir / f"{stem}_{imgsz}_{'dynamic' if dynamic else 'fixed'}_op{opset}.onnx"
        shutil.move(str(written), target)
    return target


def ultralytics_predict(
    onnx_path: Path,
    images: Sequence[npt.NDArray[np.uint8]],
    imgsz: int,
    conf: float,
    iou: float,
    max_det: int,
) -> list[Detections]:
    """Ultralytics' own prediction with the ONNX file, one image at a time.

    Args:
        onnx_path: an Ultralytics ONNX export.
        images: (H, W, 3) uint8 BGR images.
        imgsz: square input size, pixels.
        conf: confidence threshold.
        iou: NMS IoU threshold.
        max_det: most detections per image.

    Returns:
        One Detections per image, boxes in image pixels.
    """
    from ultralytics import RTDETR, YOLO

    rtdetr = _is_rtdetr(onnx_path.name)
    model = RTDETR(str(onnx_path)) if rtdetr else YOLO(str(onnx_path), task="detect")
    found: list[Detections] = []
    for image in images:
        result = model.predict(
            image,
            imgsz=imgsz,
            conf=conf,
            iou=iou,
            max_det=max_det,
            device="cpu",
            rect=False,
            verbose=False,
        )[0]
        boxes = result.boxes
        xyxy = boxes.xyxy.numpy().astype(np.float32)
        height, width = image.shape[:2]
        np.clip(xyxy[:, 0::2], 0, width, out=xyxy[:, 0::2])  # a no-op but for RT-DETR
        np.clip(xyxy[:, 1::2], 0, height, out=xyxy[:, 1::2])
        found.append(
            Detections(
                xyxy,
                boxes.conf.numpy().astype(np.float32),
                boxes.cls.numpy().astype(np.int64),
            )
        )
    return found


def percept_predict(
    onnx_path: Path,
    images: Sequence[npt.NDArray[np.uint8]],
    conf: float,
    iou: float,
    max_det: int,
) -> tuple[list[Detections], str, list[Candidates]]:
    """Percept's detector (ONNX Runtime backend, automatic decoder) on the images.

    Returns:
        (one Detections per image, the decoder chosen, per image the candidates before
        NMS, boxes in network-input pixels).
    """
    config = DetectorConfig(
        onnx_path,
        "onnxruntime",
        score_threshold=conf,
        iou_threshold=iou,
        max_detections=max_det,
    )
    detector = Detector(config)
    found: list[Detections] = []
    candidates: list[Candidates] = []
    try:
        for image in images:
            found.append(detector.detect([image], True)[0])
            tensor, _ = make_batch([image], [True], detector.input_width, detector.input_height)
            (cand,) = decode_outputs(
                detector.backend.run(tensor),
                detector.layout,
                conf,
                detector.input_width,
                detector.input_height,
            )
            candidates.append(cand)
    finally:
        detector.close()
    return found, detector.layout.decoder, candidates


#: Gates of the pairing (wider than the tolerances, which are then checked on the pairs).
_PAIR_BOX_PX = 2.0
_PAIR_SCORE = 0.01
#: An NMS decision is "borderline" when the IoU is this close to the threshold.
_BORDERLINE_IOU = 1e-4
#: Ultralytics' per-class coordinate offset of class-aware NMS (``max_wh``), pixels.
_ULTRALYTICS_MAX_WH = 7680


@dataclass(frozen=True, slots=True)
class _Pairing:
    pairs: int
    max_box_px: float
    max_score: float
    classes_equal: bool
    unpaired: int
    explained: int


def _pair(a: Detections, b: Detections) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (best score of ``a`` first) within the pairing gates."""
    if not len(a) or not len(b):
        return []
    box_diff = np.abs(a.boxes_xyxy[:, None, :] - b.boxes_xyxy[None, :, :]).max(axis=2)
    score_diff = np.abs(a.scores[:, None] - b.scores[None, :])
    cost = np.where((box_diff <= _PAIR_BOX_PX) & (score_diff <= _PAIR_SCORE), box_diff, np.inf)
    pairs: list[tuple[int, int]] = []
    free = np.ones(len(b), dtype=bool)
    for i in np.argsort(-a.scores, kind="stable"):
        row = np.where(free, cost[i], np.inf)
        j = int(np.argmin(row))
        if np.isfinite(row[j]):
            pairs.append((int(i), j))
            free[j] = False
    return pairs


def _borderline(
    box: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64], class_id: int
) -> npt.NDArray[np.float64]:
    """How far from the threshold an IoU may lie and still be decided either way.

    Ultralytics adds ``class_id x 7680`` to the network-pixel coordinates in float32
    before its IoU, which rounds them to the float32 spacing there (1/16 px for class
    72); four coordinates each off by half of it move the IoU by up to about
    ``4 x spacing / shortest side``. 1e-4 is the floor.
    """
    spacing = float(np.spacing(np.float32(class_id * _ULTRALYTICS_MAX_WH + 2048)))
    sides = np.minimum(
        np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]),
        min(box[2] - box[0], box[3] - box[1]),
    )
    return np.asarray(
        np.maximum(4.0 * spacing / np.maximum(sides, 1e-6), _BORDERLINE_IOU), dtype=np.float64
    )


def _explained(
    side: Detections,
    lone: npt.NDArray[np.int64],
    paired: npt.NDArray[np.int64],
    other: Detections,
    other_lone: npt.NDArray[np.int64],
    iou_threshold: float,
) -> int:
    """How many detections only ``side`` kept are borderline NMS decisions.

    A lone detection is explained when a higher-scoring detection of its class that both
    sides kept overlaps it by an IoU within :func:`_borderline` of the threshold (the
    two sides' arithmetic fell on either side of it), or when a higher-scoring detection
    of its class that only the other side kept overlaps it by more than the threshold
    (that flip suppressed it there).
    """
    boxes = side.boxes_xyxy.astype(np.float64)
    other_boxes = other.boxes_xyxy.astype(np.float64)
    count = 0
    for k in lone:
        same = paired[
            (side.class_ids[paired] == side.class_ids[k]) & (side.scores[paired] > side.scores[k])
        ]
        near = np.abs(box_iou_one_to_many(boxes[k], boxes[same]) - iou_threshold) <= _borderline(
            boxes[k], boxes[same], int(side.class_ids[k])
        )
        rivals = other_lone[
            (other.class_ids[other_lone] == side.class_ids[k])
            & (other.scores[other_lone] > side.scores[k])
        ]
        over = box_iou_one_to_many(boxes[k], other_boxes[rivals]) > (
            iou_threshold - _BORDERLINE_IOU
        )
        count += int(bool(near.any() or over.any()))
    return count


def _unclip(dets: Detections, cand: Candidates) -> Detections:
    """The detections with the unclipped boxes of their candidates (same class, nearest score)."""
    if not len(dets) or not len(cand):
        return dets
    score_diff = np.abs(dets.scores[:, None] - cand.scores[None, :])
    cost = np.where(dets.class_ids[:, None] == cand.class_ids[None, :], score_diff, np.inf)
    nearest = np.argmin(cost, axis=1)
    return Detections(cand.boxes_xyxy[nearest], dets.scores, dets.class_ids)


def compare_detections(
    theirs: Sequence[Detections],
    ours: Sequence[Detections],
    iou_threshold: float,
    unclipped: Sequence[Candidates] | None = None,
) -> _Pairing:
    """Pair detections image by image and measure the differences.

    Detections pair one to one by box and score (within 2 px and 0.01, class not
    asked); the largest box and score differences and the class agreement are then
    measured on the pairs. Detections left without a partner are counted, and those
    that are borderline NMS decisions (see :func:`_explained`) counted apart. NMS ran
    on the network's boxes, before clipping to the image, so the IoU of that test is
    taken on the unclipped boxes when the candidates are given.

    Args:
        theirs: Ultralytics' detections per image.
        ours: Percept's detections per image.
        iou_threshold: the NMS IoU threshold both sides used.
        unclipped: per image, Percept's candidates before NMS, network-input pixels
            (:func:`percept_predict`); each detection takes the box of the candidate of
            its class nearest in score (IoU is the same in network and image pixels:
            the letterbox scales and shifts each axis).

    Returns:
        Pairs, differences, class agreement, unpaired and explained detections.
    """
    pairs, max_box, max_score, same, unpaired, explained = 0, 0.0, 0.0, True, 0, 0
    pair_counts: list[int] = []
    for a, b in zip(theirs, ours, strict=True):
        matched = _pair(a, b)
        ia = np.asarray([p[0] for p in matched], dtype=np.int64)
        ib = np.asarray([p[1] for p in matched], dtype=np.int64)
        if matched:
            pairs += len(matched)
            max_box = max(max_box, float(np.abs(a.boxes_xyxy[ia] - b.boxes_xyxy[ib]).max()))
            max_score = max(max_score, float(np.abs(a.scores[ia] - b.scores[ib]).max()))
            same = same and bool(np.array_equal(a.class_ids[ia], b.class_ids[ib]))
        lone_a = np.setdiff1d(np.arange(len(a)), ia).astype(np.int64)
        lone_b = np.setdiff1d(np.arange(len(b)), ib).astype(np.int64)
        unpaired += len(lone_a) + len(lone_b)
        if unclipped is not None and (len(lone_a) or len(lone_b)):
            cand = unclipped[len(pair_counts)]
            a, b = _unclip(a, cand), _unclip(b, cand)
        pair_counts.append(len(matched))
        explained += _explained(a, lone_a, ia, b, lone_b, iou_threshold)
        explained += _explained(b, lone_b, ib, a, lone_a, iou_threshold)
    return _Pairing(pairs, max_box, max_score, same, unpaired, explained)


def check_model(
    name: str,
    out_dir: Path,
    images: Sequence[npt.NDArray[np.uint8]],
    *,
    imgsz: int = 320,
    dynamic: bool = False,
    opset: int = 18,
    conf: float = 0.25,
    iou: float = 0.7,
    max_det: int = 300,
    seed: int = 0,
    model: Any = None,
) -> CheckResult:
    """Export one model and compare Percept's detections with Ultralytics'.

    Args:
        name: model name or file (see :func:`build_model`).
        out_dir: folder of the ONNX file.
        images: (H, W, 3) uint8 BGR images.
        imgsz: square export size, pixels.
        dynamic: dynamic-shape export.
        opset: ONNX opset.
        conf: confidence threshold, both sides.
        iou: NMS IoU threshold, both sides.
        max_det: most detections per image, both sides.
        seed: see :func:`build_model`.
        model: an already built model (skips :func:`build_model`).

    Returns:
        The comparison.
    """
    if model is None:
        model = build_model(name, images, imgsz, seed)
    onnx_path = export_onnx(model, out_dir, imgsz, dynamic=dynamic, opset=opset)
    theirs = ultralytics_predict(onnx_path, images, imgsz, conf, iou, max_det)
    ours, decoder, candidates = percept_predict(onnx_path, images, conf, iou, max_det)
    pairing = compare_detections(theirs, ours, iou, candidates)
    result = CheckResult(
        name,
        onnx_path,
        imgsz,
        dynamic,
        opset,
        decoder,
        len(images),
        sum(len(d) for d in theirs),
        sum(len(d) for d in ours),
        pairing.pairs,
        pairing.max_box_px,
        pairing.max_score,
        pairing.classes_equal,
        pairing.unpaired,
        pairing.explained,
    )
    logger.info("%s", result)
    return result


def format_table(results: Sequence[CheckResult]) -> str:
    """One row per export."""
    header = (
        f"{'model':<12} {'imgsz':>5} {'shape':>7} {'opset':>5} {'decoder':>8} {'ultra':>6} "
        f"{'percept':>7} {'pairs':>6} {'max box px':>10} {'max score':>10} {'classes':>7} "
        f"{'unpaired':>8} {'ok':>3}"
    )
    rows = [header]
    for r in results:
        rows.append(
            f"{r.model:<12} {r.imgsz:>5} {'dynamic' if r.dynamic else 'fixed':>7} "
            f"{r.opset:>5} {r.decoder:>8} {r.ultralytics_detections:>6} "
            f"{r.percept_detections:>7} {r.matched:>6} {r.max_box_px:>10.4f} "
            f"{r.max_score:>10.2e} {'same' if r.classes_equal else 'DIFF':>7} "
            f"{f'{r.unpaired} ({r.borderline} b)':>8} {'yes' if r.ok else 'NO':>3}"
        )
    return "\n".join(rows)


def _read_images(paths: Sequence[Path]) -> list[npt.NDArray[np.uint8]]:
    images = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            msg = f"cannot read image {path}"
            raise SystemExit(msg)
        images.append(np.asarray(image, dtype=np.uint8))
    return images


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m percept.tools.ultralytics_check",
        description=(
            "Export Ultralytics models to ONNX and check that Percept's detector returns "
            "the boxes, classes and scores of Ultralytics' own ONNX prediction."
        ),
    )
    parser.add_argument(
        "models",
        nargs="*",
        default=list(FAMILIES),
        help=f"model names built from YAML, or .pt/.yaml files (default: {' '.join(FAMILIES)})",
    )
    parser.add_argument("--imgsz", type=int, nargs="+", default=[320], help="export sizes")
    parser.add_argument(
        "--shapes",
        choices=("fixed", "dynamic", "both"),
        default="both",
        help="fixed and/or dynamic-shape exports",
    )
    parser.add_argument(
        "--opset", type=int, default=18, help=f"ONNX opset (9..{TRT_MAX_OPSET}, TensorRT 10.3)"
    )
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold")
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold")
    parser.add_argument("--max-det", type=int, default=300, help="most detections per image")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed making YAML-built networks answer; -1 keeps their initial weights",
    )
    parser.add_argument("--images", type=Path, nargs="*", default=[], help="image files")
    parser.add_argument("--out", type=Path, default=None, help="folder for the ONNX files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; exit status 1 when any export differs."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    work = Path(tempfile.mkdtemp(prefix="percept_ultralytics_check_"))
    offline_environment(work / "ultralytics_config")
    try:
        import ultralytics  # noqa: F401
    except ImportError:
        sys.stderr.write("ultralytics is not installed: pip install 'percept[ultralytics]'\n")
        return 2
    out_dir = args.out or work
    images = _read_images(args.images) if args.images else synthetic_images(args.seed)
    shapes = {"fixed": [False], "dynamic": [True], "both": [False, True]}[args.shapes]
    results: list[CheckResult] = []
    for name in args.models:
        for imgsz in args.imgsz:
            model = build_model(name, images, imgsz, args.seed)
            for dynamic in shapes:
                results.append(
                    check_model(
                        name,
                        out_dir,
                        images,
                        imgsz=imgsz,
                        dynamic=dynamic,
                        opset=args.opset,
                        conf=args.conf,
                        iou=args.iou,
                        max_det=args.max_det,
                        model=model,
                    )
                )
    sys.stdout.write(format_table(results) + "\n")
    sys.stdout.write(f"ONNX files in {out_dir}\n")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
