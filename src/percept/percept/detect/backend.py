"""One inference interface, two backends: TensorRT on NVIDIA GPUs, ONNX Runtime elsewhere.

``open_backend(model, "auto")`` picks TensorRT when ``tensorrt`` and ``pycuda`` import
and a CUDA device is present, else ONNX Runtime, and logs which and why. Both take a
(B, 3, H, W) tensor and return the model's outputs as numpy arrays in model order, so
pre-processing, decoding and NMS are shared and the backends must agree.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from percept.errors import DetectionError
from percept.params import param

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "BackendOptions",
    "InferenceBackend",
    "TensorSpec",
    "open_backend",
    "read_model_bytes",
    "tensorrt_available",
]

logger = logging.getLogger(__name__)

BACKENDS: Final = ("auto", "onnxruntime", "tensorrt")
PRECISIONS: Final = ("fp32", "fp16", "int8")
Precision = Literal["fp32", "fp16", "int8"]


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A model input or output.

    Attributes:
        name: tensor name in the model.
        shape: dimensions, None where dynamic.
        dtype: numpy dtype of the tensor.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype[np.generic]


class CalibrationFrame(Protocol):
    """One INT8 calibration image, as :class:`percept.io.image_files.ImageFrame` gives it."""

    @property
    def pixels(self) -> npt.NDArray[np.uint8]:
        """(H, W, 3) uint8 colour image."""
        ...

    @property
    def is_bgr(self) -> bool:
        """True for BGR channel order, False for RGB."""
        ...


#: Reads calibration frames from ``(source, topic)``: an image folder, or a bag and its
#: image topic. The core reads no bags; the node passes
#: :func:`percept.io.image_files.iter_images`.
FrameReader: TypeAlias = Callable[[Path, str], Iterable[CalibrationFrame]]


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """Settings of a backend.

    Attributes:
        precision: TensorRT engine precision (``fp32``, ``fp16``, ``int8``).
        threads: ONNX Runtime intra-op threads, 0 for its default.
        ort_provider: ``auto`` (TensorRT EP > CUDA EP > CPU, as installed), ``cpu``,
            ``cuda`` or ``tensorrt``.
        engine_cache_dir: where TensorRT engines are cached, None for the user cache
            directory (``$XDG_CACHE_HOME/percept/engines``).
        max_batch: largest batch a TensorRT engine is built for (dynamic batch models).
        input_size: (width, height) used for models with a dynamic input size.
        calibration_images: INT8 calibration data: an image folder or a bag.
        calibration_topic: image topic of ``calibration_images`` when it is a bag.
        calibration_batches: most calibration batches to read.
        calibration_reader: reads ``calibration_images`` (see :data:`FrameReader`).
    """

    # param() returns a dataclasses.field; ruff knows str is immutable, not this Literal.
    precision: Precision = param(  # noqa: RUF009
        "fp32", "TensorRT engine precision", choices=PRECISIONS
    )
    threads: int = param(
        0,
        "ONNX Runtime intra-op threads, 0: default",
        min_value=0,
        max_value=64,
        name="inference_threads",
    )
    ort_provider: str = param(
        "auto",
        "ONNX Runtime execution provider: auto (TensorRT > CUDA > CPU), cpu, cuda, tensorrt",
        choices=("auto", "cpu", "cuda", "tensorrt"),
    )
    engine_cache_dir: Path | None = None
    max_batch: int = 4
    input_size: tuple[int, int] = (640, 640)
    calibration_images: Path | None = None
    calibration_topic: str = param("", "image topic of a calibration bag")
    calibration_batches: int = 64
    calibration_reader: FrameReader | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            msg = f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}"
            raise DetectionError(msg)
        if self.max_batch < 1 or self.threads < 0:
            msg = f"max_batch must be >= 1 and threads >= 0, got {self.max_batch}, {self.threads}"
            raise DetectionError(msg)


class InferenceBackend(Protocol):
    """What the detector needs from an inference engine."""

    @property
    def name(self) -> str:
        """``onnxruntime (CPUExecutionProvider)``, ``tensorrt 10.3 fp16``..."""
        ...

    @property
    def input(self) -> TensorSpec:
        """The image input (B, 3, H, W)."""
        ...

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The outputs, in model order."""
        ...

    @property
    def metadata(self) -> dict[str, str]:
        """The model's metadata_props (``names``, ``imgsz``... for Ultralytics exports)."""
        ...

    @property
    def max_batch(self) -> int | None:
        """Largest batch one run takes, None for any (a dynamic batch dimension)."""
        ...

    def run(self, batch: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Run the model on a (B, 3, H, W) tensor of the input dtype; outputs in order."""
        ...

    def close(self) -> None:
        """Free the resources (GPU memory, sessions)."""
        ...


def read_model_bytes(path: Path) -> bytes:
    """The bytes of a model file.

    Raises:
        DetectionError: missing or unreadable file, or an empty one.
    """
    if not path.is_file():
        msg = f"{path}: no such model file"
        raise DetectionError(msg)
    try:
        data = path.read_bytes()
    except OSError as err:
        msg = f"{path}: cannot read the model: {err}"
        raise DetectionError(msg) from err
    if not data:
        msg = f"{path}: the model file is empty"
        raise DetectionError(msg)
    return data


def tensorrt_available() -> tuple[bool, str]:
    """Whether the TensorRT backend can run here, and why (not).

    TensorRT is usable when ``tensorrt`` and ``pycuda`` import and CUDA reports a
    device. Nothing is initialised beyond ``cuda.init()``.
    """
    for module in ("tensorrt", "pycuda"):
        if importlib.util.find_spec(module) is None:
            return False, f"{module} is not installed"
    try:
        import pycuda.driver as cuda
        import tensorrt as trt

        cuda.init()
        count = int(cuda.Device.count())
    except Exception as err:  # any CUDA/driver failure means: not here
        return False, f"CUDA is not usable: {type(err).__name__}: {err}"
    if count < 1:
        return False, "no CUDA device"
    name = str(cuda.Device(0).name())
    return True, f"TensorRT {trt.__version__} with GPU {name}"


def open_backend(
    model_path: Path, backend: str = "auto", options: BackendOptions | None = None
) -> InferenceBackend:
    """Load a model with the requested backend.

    Args:
        model_path: the ONNX model.
        backend: ``auto``, ``onnxruntime`` or ``tensorrt``.
        options: backend settings.

    Returns:
        The loaded backend.

    Raises:
        DetectionError: unknown backend, TensorRT asked for where it cannot run, or a
            model that cannot be loaded (missing, corrupt, not an image model).
    """
    options = options or BackendOptions()
    if backend not in BACKENDS:
        msg = f"backend must be one of {list(BACKENDS)}, got {backend!r}"
        raise DetectionError(msg)
    if backend in ("auto", "tensorrt"):
        usable, why = tensorrt_available()
        if usable:
            from percept.detect.trt import TensorRtBackend

            logger.info("detection backend: tensorrt (%s)", why)
            return TensorRtBackend(model_path, options)
        if backend == "tensorrt":
            msg = f"backend tensorrt cannot run here: {why}"
            raise DetectionError(msg)
        logger.info("detection backend: onnxruntime (TensorRT not used: %s)", why)
    from percept.detect.ort import OnnxRuntimeBackend

    return OnnxRuntimeBackend(model_path, options)
