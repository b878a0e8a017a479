"""The detection pipeline: pre-process, infer, decode, NMS, map boxes back to the images.

Both backends go through exactly this code, so their detections differ only by what
the engines compute. At start-up the model runs once on a blank batch: that checks that
it loads and runs, and its real output shapes choose the decoder (a model with
unexpected outputs fails here, naming the shapes it gave and the ones expected).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from percept.detect.backend import BACKENDS, BackendOptions, InferenceBackend, open_backend
from percept.detect.decode import (
    DECODERS,
    RTDETR_HEAD,
    Candidates,
    OutputLayout,
    choose_layout,
    decode_outputs,
)
from percept.detect.labels import load_labels
from percept.detect.nms import batched_nms
from percept.detect.preprocess import Letterbox, make_batch, scale_boxes
from percept.detect.tiling import Tile, drop_cut, enlarge_and_cut, fuse_clusters
from percept.errors import DetectionError
from percept.params import param

__all__ = ["Detections", "Detector", "DetectorConfig", "resolve_class_filter"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Settings of a :class:`Detector`.

    Attributes:
        model_path: ONNX model file.
        backend: ``auto``, ``onnxruntime`` or ``tensorrt``.
        decoder: ``auto`` or a layout of ``percept.detect.decode.DECODERS``.
        score_threshold: detections scoring at or below this are dropped.
        iou_threshold: NMS IoU threshold (boxes of one class overlapping more are
            suppressed).
        max_detections: most detections per image after NMS.
        max_candidates: most candidates per image going into NMS (the best scoring),
            as Ultralytics' ``max_nms``.
        classes: class allow-list: names (needs labels) or indices; empty for all.
        labels_path: explicit labels file; None looks beside the model, then in its
            metadata.
        options: backend settings.
        tile_scale: above 1, each image is also enlarged by this factor and detected in
            network-sized tiles overlapping by half (:mod:`percept.detect.tiling`),
            merged with the whole image's detections by NMS, each kept box moved to the
            score-weighted mean of those it suppressed; 1 detects the whole image only.
            1.5 costs five inferences a frame and finds more small objects.
    """

    model_path: Path
    backend: str = param(
        "auto", "auto (TensorRT when a GPU is usable), onnxruntime or tensorrt", choices=BACKENDS
    )
    decoder: str = param(
        "auto", "output layout: auto (from output shapes) or a family", choices=("auto", *DECODERS)
    )
    score_threshold: float = param(
        0.25, "least published detection score", min_value=0.0, max_value=1.0
    )
    iou_threshold: float = param(
        0.45,
        "NMS IoU threshold (0.3 suits the shipped model; Ultralytics exports 0.45-0.7)",
        min_value=0.0,
        max_value=1.0,
    )
    max_detections: int = param(300, "most detections per image", min_value=1, max_value=10000)
    max_candidates: int = 30000
    classes: tuple[str, ...] = ()
    labels_path: Path | None = None
    options: BackendOptions = field(default_factory=BackendOptions)
    tile_scale: float = param(
        1.0,
        "above 1: also detect in half-overlapping tiles of the image enlarged by this "
        "factor (1.5: 5 inferences a frame, more small objects); 1: whole image only",
        min_value=1.0,
        max_value=4.0,
    )

    def __post_init__(self) -> None:
        checks = {
            "score_threshold": 0.0 <= self.score_threshold <= 1.0,
            "iou_threshold": 0.0 <= self.iou_threshold <= 1.0,
            "max_detections": self.max_detections >= 1,
            "max_candidates": self.max_candidates >= 1,
            "tile_scale": 1.0 <= self.tile_scale <= 4.0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            msg = (
                f"detector config: {bad} out of range (thresholds 0..1, counts >= 1, "
                f"tile_scale 1..4), got "
                f"{[getattr(self, n) for n in bad]}"
            )
            raise DetectionError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class Detections:
    """Detections of one image, best score first.

    Attributes:
        boxes_xyxy: (N, 4) float32 ``[x1, y1, x2, y2]``, image pixels (x = column).
        scores: (N,) float32 confidences.
        class_ids: (N,) int64 class indices of the model.
    """

    boxes_xyxy: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, index: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Detections:
        """The detections at ``index`` (integer indices or a mask)."""
        return Detections(self.boxes_xyxy[index], self.scores[index], self.class_ids[index])


def resolve_class_filter(
    classes: Sequence[str], labels: Sequence[str], num_classes: int | None
) -> npt.NDArray[np.int64] | None:
    """Class indices of an allow-list of names or indices; None allows every class.

    Raises:
        DetectionError: a name the labels do not know, or an index out of range.

    >>> resolve_class_filter(["car", "0"], ["person", "car"], 2).tolist()
    [0, 1]
    """
    if not classes:
        return None
    out: list[int] = []
    for item in classes:
        text = item.strip()
        if text.isdigit():
            index = int(text)
            if num_classes is not None and index >= num_classes:
                msg = f"classes: index {index} out of range, the model has {num_classes} classes"
                raise DetectionError(msg)
            out.append(index)
        elif text in labels:
            out.append(list(labels).index(text))
        else:
            known = list(labels) if labels else "none (no labels file or metadata)"
            msg = f"classes: unknown class name {text!r}; known names: {known}"
            raise DetectionError(msg)
    return np.unique(np.asarray(out, dtype=np.int64))


def _input_size(
    shape: tuple[int | None, ...], metadata: dict[str, str], fallback: tuple[int, int]
) -> tuple[int, int]:
    """(width, height) of the network input: static dims, else ``imgsz`` metadata."""
    height, width = shape[2], shape[3]
    if height is not None and width is not None:
        return width, height
    imgsz = metadata.get("imgsz", "")
    numbers = [int(t) for t in imgsz.strip("[]() ").replace(",", " ").split() if t.isdigit()]
    if len(numbers) == 2:
        return numbers[1], numbers[0]  # Ultralytics writes [h, w]
    return fallback


@dataclass
class _Timing:
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    postprocess_ms: float = 0.0


class Detector:
    """An ONNX detector on TensorRT or ONNX Runtime with shared pre- and post-processing.

    Args:
        config: model, backend and thresholds.
        backend: an already loaded backend (tests, benchmarks); None opens
            ``config.model_path`` with ``config.backend``.

    Raises:
        DetectionError: a model that is missing, corrupt, has no (B, 3, H, W) input,
            fails to run, has outputs no decoder reads, or labels that do not match
            its classes.
    """

    def __init__(self, config: DetectorConfig, backend: InferenceBackend | None = None) -> None:
        self.config = config
        self.backend = backend or open_backend(config.model_path, config.backend, config.options)
        spec = self.backend.input
        if len(spec.shape) != 4 or spec.shape[1] not in (3, None):
            msg = f"{config.model_path}: expected a (B, 3, H, W) input, got {spec.shape}"
            raise DetectionError(msg)
        metadata = self.backend.metadata
        self.input_width, self.input_height = _input_size(
            spec.shape, metadata, config.options.input_size
        )
        self.input_dtype: type[np.float32] | type[np.float16] = (
            np.float16 if spec.dtype == np.float16 else np.float32
        )
        self.static_batch = spec.shape[0]
        blank = np.zeros(
            (self.static_batch or 1, 3, self.input_height, self.input_width), self.input_dtype
        )
        try:
            outputs = self.backend.run(blank)
        except DetectionError as err:
            msg = f"{config.model_path}: the model does not run on a {blank.shape} input: {err}"
            raise DetectionError(msg) from err
        shapes = [tuple(int(d) for d in np.shape(o)) for o in outputs]
        names = [o.name for o in self.backend.outputs]
        try:
            self.layout: OutputLayout = choose_layout(
                [tuple(s) for s in shapes], config.decoder, names, metadata.get("head", "")
            )
        except DetectionError as err:
            raise DetectionError(f"{config.model_path}: {err}") from err
        # Ultralytics RT-DETR is trained and predicted on stretched images, not letterboxed.
        self.stretch = metadata.get("head", "") == RTDETR_HEAD
        self.labels = load_labels(config.model_path, metadata, config.labels_path)
        num_classes = self.layout.num_classes
        if self.labels and num_classes is not None and len(self.labels) != num_classes:
            msg = (
                f"{config.model_path}: {len(self.labels)} class names for a model with "
                f"{num_classes} classes"
            )
            raise DetectionError(msg)
        self.allowed = resolve_class_filter(config.classes, self.labels, num_classes)
        self.timing = _Timing()
        logger.info(
            "%s: %s, input %dx%d %s, decoder %s, %s classes",
            config.model_path,
            self.backend.name,
            self.input_width,
            self.input_height,
            np.dtype(self.input_dtype).name,
            self.layout.decoder,
            num_classes if num_classes is not None else "?",
        )

    def set_thresholds(
        self,
        *,
        score_threshold: float,
        iou_threshold: float,
        max_detections: int,
        classes: Sequence[str],
        tile_scale: float = 1.0,
    ) -> None:
        """Change the filtering of the loaded model's detections; the model stays.

        Args:
            score_threshold: see :class:`DetectorConfig`.
            iou_threshold: see :class:`DetectorConfig`.
            max_detections: see :class:`DetectorConfig`.
            classes: class allow-list: names (needs labels) or indices; empty for all.
            tile_scale: see :class:`DetectorConfig`.

        Raises:
            DetectionError: a value out of range, or a class the model does not know;
                nothing changes then.
        """
        config = replace(
            self.config,
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
            classes=tuple(classes),
            tile_scale=tile_scale,
        )
        allowed = resolve_class_filter(config.classes, self.labels, self.layout.num_classes)
        self.config = config
        self.allowed = allowed

    def class_name(self, class_id: int) -> str:
        """The label of a class index, or the index as text when unnamed."""
        if 0 <= class_id < len(self.labels):
            return self.labels[class_id]
        return str(class_id)

    def _batches(self, count: int) -> list[slice]:
        size = self.static_batch or self.backend.max_batch or max(count, 1)
        return [slice(i, min(i + size, count)) for i in range(0, count, size)]

    def _postprocess(
        self, cand: Candidates, placed: Letterbox, score_threshold: float
    ) -> Detections:
        if self.allowed is not None and len(cand):
            cand = cand.select(np.isin(cand.class_ids, self.allowed))
        if len(cand) > self.config.max_candidates:
            best = np.argsort(-cand.scores, kind="stable")[: self.config.max_candidates]
            cand = cand.select(best)
        if self.layout.needs_nms:
            keep = batched_nms(
                cand.boxes_xyxy,
                cand.scores,
                cand.class_ids,
                self.config.iou_threshold,
                score_threshold,
                self.config.max_detections,
            )
        else:
            keep = np.argsort(-cand.scores, kind="stable")[: self.config.max_detections]
        cand = cand.select(keep)
        return Detections(scale_boxes(cand.boxes_xyxy, placed), cand.scores, cand.class_ids)

    def detect(
        self,
        images: Sequence[npt.NDArray[np.uint8]],
        is_bgr: Sequence[bool] | bool = True,
        score_threshold: float | None = None,
    ) -> list[Detections]:
        """Detect objects in several images (cameras) at once.

        Args:
            images: (H_i, W_i, 3) uint8 images; sizes may differ.
            is_bgr: channel order per image (or one for all): True BGR, False RGB.
            score_threshold: overrides ``config.score_threshold`` for this call (the
                tracker asks for low-score detections too).

        Returns:
            One Detections per image, boxes in that image's pixels.

        Raises:
            DetectionError: the backend failed.
        """
        if not images:
            return []
        orders = [is_bgr] * len(images) if isinstance(is_bgr, bool) else list(is_bgr)
        threshold = self.config.score_threshold if score_threshold is None else score_threshold
        timing = _Timing()
        if self.config.tile_scale <= 1.0:
            results = self._detect(list(images), orders, threshold, timing)
        else:
            results = self._detect_tiled(list(images), orders, threshold, timing)
        self.timing = timing
        return results

    def _detect(
        self,
        images: list[npt.NDArray[np.uint8]],
        orders: list[bool],
        threshold: float,
        timing: _Timing,
    ) -> list[Detections]:
        """Whole-image detection of every image, in batches the backend takes."""
        results: list[Detections] = []
        for part in self._batches(len(images)):
            t0 = time.perf_counter()
            tensor, placements = make_batch(
                images[part],
                orders[part],
                self.input_width,
                self.input_height,
                self.input_dtype,
                stretch=self.stretch,
            )
            n = tensor.shape[0]
            if self.static_batch is not None and n < self.static_batch:
                pad = np.zeros((self.static_batch - n, *tensor.shape[1:]), tensor.dtype)
                tensor = np.concatenate([tensor, pad])
            t1 = time.perf_counter()
            outputs = self.backend.run(tensor)
            t2 = time.perf_counter()
            candidates = decode_outputs(
                outputs, self.layout, threshold, self.input_width, self.input_height
            )
            results += [
                self._postprocess(c, p, threshold)
                for c, p in zip(candidates[:n], placements, strict=True)
            ]
            t3 = time.perf_counter()
            timing.preprocess_ms += (t1 - t0) * 1e3
            timing.inference_ms += (t2 - t1) * 1e3
            timing.postprocess_ms += (t3 - t2) * 1e3
        return results

    def _detect_tiled(
        self,
        images: list[npt.NDArray[np.uint8]],
        orders: list[bool],
        threshold: float,
        timing: _Timing,
    ) -> list[Detections]:
        """Whole images plus tiles of each enlarged image, merged per image by NMS + fusion."""
        t0 = time.perf_counter()
        crops: list[npt.NDArray[np.uint8]] = []
        crop_orders: list[bool] = []
        owners: list[tuple[int, Tile | None, tuple[float, float]]] = []
        for index, (image, order) in enumerate(zip(images, orders, strict=True)):
            crops.append(image)
            crop_orders.append(order)
            owners.append((index, None, (1.0, 1.0)))
            height, width = image.shape[:2]
            if height < 1 or width < 1:
                continue  # the whole-image pass refuses it, naming its size
            tiles, factors = enlarge_and_cut(
                image, self.input_width, self.input_height, self.config.tile_scale
            )
            for tile, view in tiles:
                crops.append(view)
                crop_orders.append(order)
                owners.append((index, tile, factors))
        timing.preprocess_ms += (time.perf_counter() - t0) * 1e3
        found = self._detect(crops, crop_orders, threshold, timing)
        t1 = time.perf_counter()
        parts: list[list[Detections]] = [[] for _ in images]
        for dets, (index, placed, (sx, sy)) in zip(found, owners, strict=True):
            if placed is None:
                parts[index].append(dets)
                continue
            dets = dets.select(drop_cut(dets.boxes_xyxy, placed))
            scale = np.array([sx, sy, sx, sy], dtype=np.float32)
            offset = np.array([placed.x, placed.y, placed.x, placed.y], dtype=np.float32)
            boxes = ((dets.boxes_xyxy + offset) / scale).astype(np.float32)
            parts[index].append(Detections(boxes, dets.scores, dets.class_ids))
        results = []
        for pieces in parts:
            boxes = np.concatenate([d.boxes_xyxy for d in pieces])
            scores = np.concatenate([d.scores for d in pieces])
            class_ids = np.concatenate([d.class_ids for d in pieces])
            keep = batched_nms(
                boxes,
                scores,
                class_ids,
                self.config.iou_threshold,
                threshold,
                self.config.max_detections,
            )
            # Each kept box moves to the score-weighted mean of the views it suppressed.
            fused = fuse_clusters(keep, boxes, scores, class_ids, self.config.iou_threshold)
            results.append(Detections(fused, scores[keep], class_ids[keep]))
        timing.postprocess_ms += (time.perf_counter() - t1) * 1e3
        return results

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
