"""ONNX Runtime backend: CPU by default, CUDA / TensorRT execution providers when installed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from percept.detect.backend import BackendOptions, TensorSpec, read_model_bytes
from percept.errors import DetectionError

__all__ = ["OnnxRuntimeBackend", "choose_providers"]

logger = logging.getLogger(__name__)

_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
# ONNX tensor type strings -> numpy dtypes (the ones detectors use).
_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def choose_providers(available: Sequence[str], wanted: str = "auto") -> list[str]:
    """Execution providers to ask ONNX Runtime for, best first.

    Args:
        available: ``onnxruntime.get_available_providers()``.
        wanted: ``auto`` (TensorRT EP, then CUDA EP, then CPU, those installed),
            ``cpu``, ``cuda`` or ``tensorrt`` (that one, CPU as fallback).

    Returns:
        Provider names; CPU always last.

    Raises:
        DetectionError: unknown choice, or a GPU provider asked for but not installed.

    >>> choose_providers(["CPUExecutionProvider"])
    ['CPUExecutionProvider']
    >>> choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])
    ['CUDAExecutionProvider', 'CPUExecutionProvider']
    """
    cpu = _PROVIDERS["cpu"]
    if wanted == "auto":
        gpu = [_PROVIDERS[k] for k in ("tensorrt", "cuda") if _PROVIDERS[k] in available]
        return [*gpu, cpu]
    if wanted not in _PROVIDERS:
        msg = f"ort_provider must be auto, cpu, cuda or tensorrt, got {wanted!r}"
        raise DetectionError(msg)
    name = _PROVIDERS[wanted]
    if name not in available:
        msg = (
            f"ONNX Runtime provider {name} is not installed here (available: "
            f"{list(available)}); install onnxruntime-gpu or use ort_provider cpu"
        )
        raise DetectionError(msg)
    return [name] if name == cpu else [name, cpu]


def _spec(arg: object) -> TensorSpec:
    raw_shape = getattr(arg, "shape", ())
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in raw_shape)
    type_name = str(getattr(arg, "type", ""))
    dtype = np.dtype(_ORT_TYPES.get(type_name, np.float32))
    return TensorSpec(str(getattr(arg, "name", "")), shape, dtype)


class OnnxRuntimeBackend:
    """An ``onnxruntime.InferenceSession`` behind the InferenceBackend interface.

    Args:
        model_path: the ONNX model.
        options: threads and execution-provider choice (``options.ort_provider``).

    Raises:
        DetectionError: missing, empty or corrupt model, or no (B, 3, H, W) image input.
    """

    def __init__(self, model_path: Path, options: BackendOptions | None = None) -> None:
        import onnxruntime as ort

        options = options or BackendOptions()
        data = read_model_bytes(model_path)
        providers = choose_providers(ort.get_available_providers(), options.ort_provider)
        session_options = ort.SessionOptions()
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if options.threads > 0:
            session_options.intra_op_num_threads = options.threads
            session_options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                data, sess_options=session_options, providers=providers
            )
        except Exception as err:  # ORT raises its own pybind classes (InvalidProtobuf...)
            msg = f"{model_path}: ONNX Runtime cannot load the model: {type(err).__name__}: {err}"
            raise DetectionError(msg) from err
        inputs = [_spec(a) for a in self._session.get_inputs()]
        image = [s for s in inputs if len(s.shape) == 4]
        if len(image) != 1 or image[0].shape[1] not in (3, None):
            shapes = [(s.name, s.shape) for s in inputs]
            msg = f"{model_path}: expected one (B, 3, H, W) image input, got inputs {shapes}"
            raise DetectionError(msg)
        self._input = image[0]
        # RT-DETR (lyuwenyu) exports take the target size as a second input: boxes then
        # come back in network-input pixels when it is the network size.
        self._extra_inputs = [s for s in inputs if s is not self._input]
        for extra in self._extra_inputs:
            if len(extra.shape) != 2 or extra.shape[1] not in (2, None):
                shapes = [(s.name, s.shape) for s in inputs]
                msg = f"{model_path}: unsupported extra model inputs {shapes}"
                raise DetectionError(msg)
        self._outputs = tuple(_spec(a) for a in self._session.get_outputs())
        self._output_names = [o.name for o in self._outputs]
        meta = self._session.get_modelmeta()
        self._metadata = dict(getattr(meta, "custom_metadata_map", {}) or {})
        used = self._session.get_providers()
        self._name = f"onnxruntime {ort.__version__} ({', '.join(used)})"
        logger.info("%s: loaded with %s", model_path, self._name)

    @property
    def name(self) -> str:
        """Backend and execution providers in use."""
        return self._name

    @property
    def input(self) -> TensorSpec:
        """The (B, 3, H, W) image input."""
        return self._input

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The model outputs, in order."""
        return self._outputs

    @property
    def metadata(self) -> dict[str, str]:
        """metadata_props of the model."""
        return dict(self._metadata)

    @property
    def max_batch(self) -> int | None:
        """The static batch size, or None when the batch dimension is dynamic."""
        return self._input.shape[0]

    @property
    def session(self) -> object:
        """The underlying ``onnxruntime.InferenceSession`` (benchmarks time it bare)."""
        return self._session

    def feeds(self, batch: npt.NDArray[np.floating]) -> dict[str, npt.NDArray[np.generic]]:
        """The input feed for ``session.run``: the image tensor and any size inputs."""
        feed: dict[str, npt.NDArray[np.generic]] = {self._input.name: batch}
        for extra in self._extra_inputs:
            height, width = batch.shape[2], batch.shape[3]
            sizes = np.tile(np.array([[width, height]]), (batch.shape[0], 1))
            feed[extra.name] = sizes.astype(extra.dtype)
        return feed

    def run(self, batch: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Run on a (B, 3, H, W) tensor; outputs in model order.

        Raises:
            DetectionError: ONNX Runtime refused the input (wrong shape or type).
        """
        try:
            outputs = self._session.run(self._output_names, self.feeds(batch))
        except Exception as err:
            msg = f"ONNX Runtime failed on input {batch.shape} {batch.dtype}: {err}"
            raise DetectionError(msg) from err
        return [np.asarray(o) for o in outputs]

    def close(self) -> None:
        """Drop the session."""
        self._session = None
