"""Tiny ONNX models built with onnx.helper for the detection tests.

Each model takes a (B, 3, H, W) image and returns fixed tensors (broadcast over the
batch, plus zero times the image mean so that the outputs really depend on the input
and ONNX Runtime runs the graph), so the tests know exactly what every decoder sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
}


def constant_output_model(
    path: Path,
    outputs: Sequence[tuple[str, npt.NDArray[np.generic]]],
    *,
    input_hw: tuple[int, int] = (64, 64),
    batch: int | None = None,
    input_dtype: type[np.floating] = np.float32,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a model whose outputs are ``outputs`` (each (1, ...)) tiled over the batch.

    Args:
        path: where to write the .onnx file.
        outputs: (name, array with a leading batch dimension of 1), in output order.
        input_hw: (H, W) of the image input.
        batch: static batch size, None for a dynamic batch dimension.
        input_dtype: np.float32 or np.float16 image input.
        metadata: metadata_props (``names`` as Ultralytics writes it...).

    Returns:
        ``path``.
    """
    in_type = _TYPES[np.dtype(input_dtype)]
    h, w = input_hw
    image = helper.make_tensor_value_info("images", in_type, [batch or "batch", 3, h, w])
    nodes = [
        helper.make_node("Cast", ["images"], ["images_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["images_f"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeroed"]),
    ]
    inits = [numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    graph_outputs = []
    for i, (name, value) in enumerate(outputs):
        arr = np.asarray(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        rank = arr.ndim
        inits.append(numpy_helper.from_array(arr.astype(np.float32), f"const{i}"))
        inits.append(
            numpy_helper.from_array(np.array([-1] + [1] * (rank - 1), np.int64), f"shape{i}")
        )
        nodes.append(helper.make_node("Reshape", ["zeroed", f"shape{i}"], [f"z{i}"]))
        out_type = _TYPES[np.dtype(arr.dtype)]
        sum_name = name if out_type == TensorProto.FLOAT else f"sum{i}"
        nodes.append(helper.make_node("Add", [f"const{i}", f"z{i}"], [sum_name]))
        if out_type != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [sum_name], [name], to=out_type))
        dims = [batch or "batch", *arr.shape[1:]]
        graph_outputs.append(helper.make_tensor_value_info(name, out_type, dims))
    graph = helper.make_graph(nodes, "constant_detector", [image], graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def yolov8_output(
    boxes_cxcywh: Sequence[Sequence[float]],
    class_scores: Sequence[Sequence[float]],
    anchors: int = 64,
) -> npt.NDArray[np.float32]:
    """A (1, 4+C, anchors) YOLOv8 output with the given rows in the first columns."""
    boxes = np.asarray(boxes_cxcywh, np.float32)
    scores = np.asarray(class_scores, np.float32)
    c = scores.shape[1]
    out = np.zeros((1, 4 + c, anchors), np.float32)
    out[0, 2:4, :] = 1.0  # background anchors: 1x1 boxes scoring 0
    out[0, :4, : boxes.shape[0]] = boxes.T
    out[0, 4:, : scores.shape[0]] = scores.T
    return out


def yolov5_output(
    boxes_cxcywh: Sequence[Sequence[float]],
    objectness: Sequence[float],
    class_probs: Sequence[Sequence[float]],
    rows: int = 64,
) -> npt.NDArray[np.float32]:
    """A (1, rows, 5+C) YOLOv5 output with the given rows first."""
    boxes = np.asarray(boxes_cxcywh, np.float32)
    probs = np.asarray(class_probs, np.float32)
    n, c = probs.shape
    out = np.zeros((1, rows, 5 + c), np.float32)
    out[0, :, 2:4] = 1.0
    out[0, :n, :4] = boxes
    out[0, :n, 4] = objectness
    out[0, :n, 5:] = probs
    return out


def rtdetr_with_sizes_model(
    path: Path,
    boxes_normalised: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    input_hw: tuple[int, int] = (64, 64),
) -> Path:
    """RT-DETR (lyuwenyu) style: inputs images + orig_target_sizes (B, 2) as [w, h];
    outputs labels (B, K), boxes (B, K, 4) = normalised xyxy x [w, h, w, h], scores (B, K).
    """
    h, w = input_hw
    inputs = [
        helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, h, w]),
        helper.make_tensor_value_info("orig_target_sizes", TensorProto.INT64, ["batch", 2]),
    ]
    k = boxes_normalised.shape[1]
    inits = [
        numpy_helper.from_array(boxes_normalised.astype(np.float32), "boxes_n"),
        numpy_helper.from_array(scores.astype(np.float32), "scores_c"),
        numpy_helper.from_array(labels.astype(np.float32), "labels_c"),
        numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
        numpy_helper.from_array(np.array([-1, 1], np.int64), "shape2"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeroed"]),
        helper.make_node("Reshape", ["zeroed", "shape2"], ["z2"]),
        helper.make_node("Cast", ["orig_target_sizes"], ["sizes_f"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["sizes_f", "sizes_f"], ["wh_wh"], axis=1),
        helper.make_node("Unsqueeze", ["wh_wh", "axis1"], ["scale"]),
        helper.make_node("Mul", ["boxes_n", "scale"], ["boxes"]),
        helper.make_node("Add", ["scores_c", "z2"], ["scores"]),
        helper.make_node("Add", ["labels_c", "z2"], ["labels_f"]),
        helper.make_node("Cast", ["labels_f"], ["labels"], to=TensorProto.INT64),
    ]
    outputs = [
        helper.make_tensor_value_info("labels", TensorProto.INT64, ["batch", k]),
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["batch", k, 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", k]),
    ]
    graph = helper.make_graph(nodes, "rtdetr_sizes", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path
