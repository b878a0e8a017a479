"""Benchmark of the detector node against a bare ``InferenceSession.run`` on the same tensor.

The model is built here with ``onnx.helper`` (nothing is downloaded): a small YOLO-like
convolutional network, 640x640 input, strided 3x3 convolutions with SiLU to P3/P4/P5
(80x80, 40x40, 20x20), a 1x1 head per level, outputs concatenated into the YOLOv8
layout (1, 84, 8400) with 80 classes, random weights from a fixed seed and a negative
class bias so that, as with a trained model, a few anchors score above the threshold.
It costs about 9.4 GFLOPs per frame (YOLOv8n: 8.7); a few hundred anchors score
above 0.1 and tens above 0.25 (a few boxes after NMS), so decoding, NMS and tracking
work on realistic candidate counts.

Each repetition times, back to back, one 640x640 bgr8 frame through the node in the
local runtime (message decode, letterbox and normalisation, inference, decoding, NMS,
tracking, publish) and a bare ``session.run`` of the node's own ONNX Runtime session
on the same pre-processed tensor, so machine load affects both alike. The median of the
paired ratios says what the node costs on top of inference (target <= 1.10).

With ``tile_scale`` above 1 the node also detects in tiles of the enlarged frame
(:mod:`percept.detect.tiling`); the bare baseline is then ``session.run`` on the same
crops (the whole frame and each tile, letterboxed), so the ratio is what tiling's
resize, cropping, merge and fusion cost on top of its inferences.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.benchmark.common import (
    check_repeats,
    frame_stamp_ns,
    median_ms,
    paired_ratio,
    paired_times,
)
from percept.detect.ort import OnnxRuntimeBackend
from percept.detect.preprocess import make_batch
from percept.detect.tiling import enlarge_and_cut
from percept.domain import Detection2DArray, Header, Image
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.msgtypes import IMAGE
from percept.nodes.detector import DetectorNode
from percept.runtime.local import Envelope, LocalRuntime
from percept.runtime.params import resolve_parameters

__all__ = [
    "build_benchmark_model",
    "detect_prefix",
    "format_detect_report",
    "run_detect_benchmark",
]

logger = logging.getLogger(__name__)

SIZE = 640
NUM_CLASSES = 80
# (out channels, stride) of the backbone convolutions; P3, P4, P5 marked by name.
_BACKBONE = ((32, 2), (64, 2), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1), (256, 2))
_LEVELS = {4: "p3", 6: "p4", 7: "p5"}  # backbone index -> pyramid level output
BOX_STD = 0.5
CLASS_STD = 1.15
CLASS_BIAS = -7.0


def build_benchmark_model(path: Path, seed: int = 0) -> Path:
    """Write the benchmark's YOLOv8-layout convolutional model to ``path``.

    Args:
        path: the .onnx file to write.
        seed: seed of the random weights.

    Returns:
        ``path``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def conv(name: str, src: str, c_in: int, c_out: int, k: int, stride: int) -> str:
        std = np.sqrt(2.0 / (c_in * k * k))
        w = rng.normal(0.0, std, (c_out, c_in, k, k)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"{name}.w"))
        inits.append(numpy_helper.from_array(np.zeros(c_out, np.float32), f"{name}.b"))
        pad = k // 2
        nodes.append(
            helper.make_node(
                "Conv",
                [src, f"{name}.w", f"{name}.b"],
                [f"{name}.conv"],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[pad] * 4,
            )
        )
        nodes.append(helper.make_node("Sigmoid", [f"{name}.conv"], [f"{name}.sig"]))
        nodes.append(helper.make_node("Mul", [f"{name}.conv", f"{name}.sig"], [name]))  # SiLU
        return name

    x, c_in = "images", 3
    levels: list[tuple[str, int]] = []
    for i, (c_out, stride) in enumerate(_BACKBONE):
        x = conv(f"backbone{i}", x, c_in, c_out, 3, stride)
        c_in = c_out
        if i in _LEVELS:
            levels.append((x, c_out))
    channels = 4 + NUM_CLASSES
    heads = []
    for name, c in levels:
        # Box rows vary widely (boxes all over the image), class rows about one logit
        # around the bias (a few confident anchors per frame).
        row_std = np.concatenate([np.full(4, BOX_STD), np.full(NUM_CLASSES, CLASS_STD)])
        w = (rng.normal(0.0, 1.0, (channels, c, 1, 1)) * row_std[:, None, None, None]).astype(
            np.float32
        )
        b = np.concatenate([np.zeros(4), np.full(NUM_CLASSES, CLASS_BIAS)]).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"{name}.hw"),
            numpy_helper.from_array(b, f"{name}.hb"),
        ]
        nodes.append(helper.make_node("Conv", [name, f"{name}.hw", f"{name}.hb"], [f"{name}.h"]))
        nodes.append(helper.make_node("Reshape", [f"{name}.h", "flat"], [f"{name}.flat"]))
        heads.append(f"{name}.flat")
    inits.append(numpy_helper.from_array(np.array([1, channels, -1], np.int64), "flat"))
    # Boxes: sigmoid x input size (cx, cy, w, h in pixels); classes: sigmoid scores.
    scale = np.concatenate([np.full(4, float(SIZE)), np.ones(NUM_CLASSES)]).astype(np.float32)
    inits.append(numpy_helper.from_array(scale.reshape(1, channels, 1), "scale"))
    nodes += [
        helper.make_node("Concat", heads, ["raw"], axis=2),
        helper.make_node("Sigmoid", ["raw"], ["squashed"]),
        helper.make_node("Mul", ["squashed", "scale"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "percept_benchmark_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, channels, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def _frame(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A 640x640 bgr8 frame: smooth random blobs, not noise (JPEG-like statistics)."""
    import cv2

    small = rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC))


def _crops(frame: npt.NDArray[np.uint8], tile_scale: float) -> list[npt.NDArray[np.uint8]]:
    """The images the detector runs on for one frame: the frame, then its tiles."""
    if tile_scale <= 1.0:
        return [frame]
    tiles, _ = enlarge_and_cut(frame, SIZE, SIZE, tile_scale)
    return [frame, *(crop for _, crop in tiles)]


def detect_prefix(tile_scale: float = 1.0) -> str:
    """Name prefix of the results: ``detect_640x640`` or ``detect_640x640_tiles1.5``."""
    base = f"detect_{SIZE}x{SIZE}"
    return base if tile_scale <= 1.0 else f"{base}_tiles{tile_scale:g}"


def run_detect_benchmark(
    repeats: int = 30,
    threads: int = 0,
    model_path: Path | None = None,
    tile_scale: float = 1.0,
) -> dict[str, float]:
    """Time the detector node per 640x640 frame against a bare ONNX Runtime run.

    Args:
        repeats: timed frames (after one warm-up frame); medians reported.
        threads: ONNX Runtime intra-op threads of the node (0: ONNX Runtime's default);
            the bare run uses the node's own session, so the same.
        model_path: a 640x640 ONNX detector to time instead of the built one (an
            Ultralytics export, say).
        tile_scale: the node's ``tile_scale``; above 1 the bare baseline runs the
            session on the whole frame and each tile, one ``run`` per crop.

    Returns:
        ``<prefix>.node_ms`` (:func:`detect_prefix`; median ms per frame through the
        local runtime), ``.bare_ort_ms`` (median ms of ``session.run`` on the node's
        pre-processed tensor), ``.node_vs_ort`` (median of the paired ratios),
        ``.inferences`` (crops per frame), ``.detections``
        (mean detections per frame), plus ``repeats`` and ``threads``.

    Raises:
        ValueError: repeats < 1.
        RuntimeError: a frame was not published.
    """
    check_repeats(repeats)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="percept_bench_detect_") as tmp:
        model = model_path or build_benchmark_model(Path(tmp) / "bench_yolo.onnx")
        runtime = LocalRuntime(publish_diagnostics=False)
        params = resolve_parameters(DetectorNode, DetectorNode.NAME)
        params.update(
            {
                "model_path": str(model),
                "backend": "onnxruntime",
                "inference_threads": threads,
                "tile_scale": tile_scale,
            }
        )
        host = runtime.add_node(DetectorNode, params)
        node = host.node
        assert isinstance(node, DetectorNode)
        detector = node._detector  # the node's own session, for the bare baseline
        assert detector is not None
        backend = detector.backend
        assert isinstance(backend, OnnxRuntimeBackend)
        session = backend.session
        published: list[Envelope] = []
        runtime.subscribe(host.topics["detections"], published.append)
        factory = RosbagsFactory(get_typestore())
        topic = host.topics["image"]
        frames = [_frame(rng) for _ in range(4)]
        counts: list[int] = []

        def through_node(i: int) -> float:
            stamp = frame_stamp_ns(i)
            msg = codecs.encode(
                IMAGE, Image(Header(stamp, "camera"), "bgr8", frames[i % 4]), factory
            )
            start = time.perf_counter()
            runtime.feed_and_spin(topic, IMAGE, stamp, obj=msg)
            return time.perf_counter() - start

        crops = [_crops(f, tile_scale) for f in frames]

        def bare(i: int) -> float:
            tensor, _ = make_batch(crops[i % 4], [True] * len(crops[i % 4]), SIZE, SIZE)
            feeds = [backend.feeds(tensor[k : k + 1]) for k in range(tensor.shape[0])]
            start = time.perf_counter()
            for feed in feeds:
                session.run(None, feed)  # type: ignore[attr-defined]
            return time.perf_counter() - start

        through_node(0)
        bare(0)
        node_times, bare_times = paired_times(repeats, through_node, bare)
        if len(published) != repeats + 1:
            msg = f"{len(published)} detection arrays for {repeats + 1} frames"
            raise RuntimeError(msg)
        for env in published:
            obj = env.obj
            if isinstance(obj, Detection2DArray):
                counts.append(len(obj.detections))
        detector.close()
    prefix = detect_prefix(tile_scale)
    results = {
        f"{prefix}.node_ms": median_ms(node_times),
        f"{prefix}.bare_ort_ms": median_ms(bare_times),
        f"{prefix}.node_vs_ort": paired_ratio(node_times, bare_times),
        f"{prefix}.detections": float(np.mean(counts)) if counts else 0.0,
        f"{prefix}.inferences": float(len(crops[0])),
        "repeats": float(repeats),
        "threads": float(threads),
        "tile_scale": float(tile_scale),
    }
    logger.debug("detect benchmark: %s", results)
    return results


def format_detect_report(results: dict[str, float]) -> str:
    """A text table of :func:`run_detect_benchmark` results."""
    prefix = detect_prefix(results.get("tile_scale", 1.0))
    lines = [
        f"{'payload':<26} {'node ms':>10} {'bare ORT ms':>12} {'x ORT':>8} {'dets':>6}",
        f"{prefix:<26} {results[prefix + '.node_ms']:>10.2f} "
        f"{results[prefix + '.bare_ort_ms']:>12.2f} {results[prefix + '.node_vs_ort']:>8.3f} "
        f"{results[prefix + '.detections']:>6.1f}",
        f"(median of {int(results['repeats'])} frames, "
        f"{int(results[prefix + '.inferences'])} inference(s) a frame, ONNX Runtime threads "
        f"{int(results['threads']) or 'default'}; target ratio <= 1.10)",
    ]
    return "\n".join(lines)
