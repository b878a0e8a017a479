"""TensorRT backend: engine built from the ONNX model, cached, run through pycuda.

Engine build (TensorRT Python API): ``trt.Builder`` -> explicit-batch network ->
``trt.OnnxParser`` -> ``BuilderConfig`` with the FP16 / INT8 flag, one optimisation
profile covering batch 1..``max_batch`` and the input size (dynamic dimensions only),
and for INT8 an ``IInt8EntropyCalibrator2`` fed from a folder of images or an image
topic of a bag, through the same letterbox pre-processing as inference, with a
calibration cache file. ``build_serialized_network`` output is cached under the user
cache directory, keyed by GPU name, TensorRT version, precision, input profile and the
model's SHA-256, and reused whenever the key matches and the engine deserialises.

Execution (pycuda): page-locked host buffers (``cuda.pagelocked_empty``), device
buffers (``cuda.mem_alloc``), one ``cuda.Stream``; ``memcpy_htod_async`` -> execute ->
``memcpy_dtoh_async`` -> ``stream.synchronize()``. TensorRT >= 10 (JetPack 6) runs
through the tensor-address API (``set_input_shape``, ``set_tensor_address``,
``execute_async_v3``); TensorRT 8.x (JetPack 5) through bindings
(``set_binding_shape``, ``execute_async_v2``). Both behind :class:`TensorRtBackend`.

``tensorrt`` and ``pycuda`` are imported only when this backend is used. Everything
that needs no GPU (cache keys and paths, calibration batches, the choice of API) is a
plain function tested with fakes; the GPU path is tested where a GPU exists (``gpu``
marker).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from percept.detect.backend import BackendOptions, FrameReader, TensorSpec, read_model_bytes
from percept.errors import DetectionError

__all__ = [
    "CalibrationBatches",
    "EngineKey",
    "TensorRtBackend",
    "default_cache_dir",
    "engine_paths",
    "model_metadata",
    "select_io_api",
]

logger = logging.getLogger(__name__)

IoApi = Literal["tensors", "bindings"]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/percept/engines``, else ``~/.cache/percept/engines``.

    >>> default_cache_dir().parts[-2:]
    ('percept', 'engines')
    """
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "percept" / "engines"


@dataclass(frozen=True, slots=True)
class EngineKey:
    """What a serialised engine depends on; a cached engine is reused only on equality.

    Attributes:
        model_sha256: SHA-256 of the ONNX bytes, hex.
        gpu_name: CUDA device name (``Orin``, ``NVIDIA GeForce RTX 4090``).
        compute_capability: ``8.7`` etc.
        tensorrt_version: ``trt.__version__``.
        precision: ``fp32``, ``fp16`` or ``int8``.
        min_shape: optimisation profile minimum input shape.
        opt_shape: optimisation profile optimum input shape.
        max_shape: optimisation profile maximum input shape.
    """

    model_sha256: str
    gpu_name: str
    compute_capability: str
    tensorrt_version: str
    precision: str
    min_shape: tuple[int, ...]
    opt_shape: tuple[int, ...]
    max_shape: tuple[int, ...]

    def digest(self) -> str:
        """A short stable hash of every field (the cache file name)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    def as_json(self) -> str:
        """The fields as JSON (the cache's sidecar file)."""
        return json.dumps(asdict(self), sort_keys=True, indent=2)


def engine_paths(cache_dir: Path, model_stem: str, key: EngineKey) -> tuple[Path, Path]:
    """(engine file, JSON sidecar) of a key in the cache directory.

    >>> key = EngineKey("ab" * 32, "Orin", "8.7", "10.3.0", "fp16", (1,), (1,), (1,))
    >>> engine_paths(Path("/c"), "yolo", key)[0].name.startswith("yolo-trt10.3.0-fp16-")
    True
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_stem)[:40]
    name = f"{slug}-trt{key.tensorrt_version}-{key.precision}-{key.digest()}"
    return cache_dir / f"{name}.engine", cache_dir / f"{name}.json"


def select_io_api(tensorrt_version: str, context: object) -> IoApi:
    """``tensors`` for TensorRT >= 10 (tensor-address API), ``bindings`` before.

    TensorRT 8.5/8.6 have both; JetPack 5 code uses bindings there, and TensorRT 10
    removed them. A context lacking the API its version implies is an error.

    Raises:
        DetectionError: unparsable version, or the context lacks the needed methods.
    """
    match = re.match(r"(\d+)\.", tensorrt_version)
    if match is None:
        msg = f"cannot read the TensorRT version {tensorrt_version!r}"
        raise DetectionError(msg)
    api: IoApi = "tensors" if int(match.group(1)) >= 10 else "bindings"
    needed = (
        ("set_input_shape", "set_tensor_address", "execute_async_v3")
        if api == "tensors"
        else ("set_binding_shape", "execute_async_v2")
    )
    missing = [m for m in needed if not callable(getattr(context, m, None))]
    if missing:
        msg = f"TensorRT {tensorrt_version}: execution context lacks {missing} ({api} API)"
        raise DetectionError(msg)
    return api


def model_metadata(onnx_bytes: bytes) -> dict[str, str]:
    """metadata_props of an ONNX model (an engine does not keep them).

    Raises:
        DetectionError: the bytes are not an ONNX model.
    """
    import onnx

    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception as err:
        msg = f"not an ONNX model: {type(err).__name__}: {err}"
        raise DetectionError(msg) from err
    return {p.key: p.value for p in model.metadata_props}


class CalibrationBatches:
    """INT8 calibration data: (B, 3, H, W) float32 batches, pre-processed as inference.

    Args:
        source: a folder of image files, or a bag (``.mcap``, ``.db3``, rosbag2 folder,
            ROS 1 ``.bag``) with ``topic``.
        width: network input width.
        height: network input height.
        batch_size: images per batch; the last partial batch is dropped (TensorRT
            calibrates with a fixed batch).
        max_batches: stop after this many batches.
        topic: image topic (sensor_msgs/Image or CompressedImage) when ``source`` is a bag.
        reader: reads the frames of ``(source, topic)``
            (:func:`percept.io.image_files.iter_images`).
    """

    def __init__(
        self,
        source: Path,
        width: int,
        height: int,
        batch_size: int = 1,
        max_batches: int = 64,
        topic: str = "",
        *,
        reader: FrameReader,
    ) -> None:
        if batch_size < 1 or max_batches < 1:
            msg = (
                "calibration batch_size and max_batches must be >= 1, got "
                f"{batch_size}, {max_batches}"
            )
            raise DetectionError(msg)
        self.source = source
        self.width = width
        self.height = height
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.topic = topic
        self.reader = reader

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Shape of every batch."""
        return (self.batch_size, 3, self.height, self.width)

    def __iter__(self) -> Iterator[npt.NDArray[np.float32]]:
        from percept.detect.preprocess import make_batch

        pending: list[npt.NDArray[np.uint8]] = []
        orders: list[bool] = []
        produced = 0
        for frame in self.reader(self.source, self.topic):
            pending.append(frame.pixels)
            orders.append(frame.is_bgr)
            if len(pending) == self.batch_size:
                tensor, _ = make_batch(pending, orders, self.width, self.height)
                yield np.ascontiguousarray(tensor, dtype=np.float32)
                produced += 1
                pending, orders = [], []
                if produced >= self.max_batches:
                    return
        if produced == 0:
            msg = (
                f"{self.source}: no full calibration batch of {self.batch_size} images "
                f"({len(pending)} images found)"
            )
            raise DetectionError(msg)


def _make_calibrator(
    trt: Any, cuda: Any, batches: CalibrationBatches, cache_file: Path
) -> Any:  # a trt.IInt8EntropyCalibrator2
    """An IInt8EntropyCalibrator2 over ``batches`` with a calibration cache file."""

    class _Calibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = iter(batches)
            nbytes = int(np.prod(batches.shape)) * 4
            self._device = cuda.mem_alloc(nbytes)

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names: Sequence[str]) -> list[int] | None:
            try:
                batch = next(self._batches)
            except StopIteration:
                return None
            cuda.memcpy_htod(self._device, batch)
            return [int(self._device)]

        def read_calibration_cache(self) -> bytes | None:
            if cache_file.is_file():
                logger.info("INT8 calibration cache %s reused", cache_file)
                return cache_file.read_bytes()
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_bytes(bytes(cache))

    return _Calibrator()


def _profile_shapes(
    shape: Sequence[int], options: BackendOptions
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) input shapes: dynamic batch 1..max_batch, dynamic H/W from options."""
    width, height = options.input_size
    fixed = [
        d if d > 0 else default for d, default in zip(shape, (1, 3, height, width), strict=True)
    ]
    dynamic_batch = shape[0] <= 0
    lo = (1, *fixed[1:])
    hi = (options.max_batch if dynamic_batch else fixed[0], *fixed[1:])
    return tuple(lo), tuple(lo), tuple(hi)


@dataclass
class _Io:
    """One engine tensor with its page-locked host and device buffers."""

    spec: TensorSpec
    index: int
    is_input: bool
    host: npt.NDArray[np.generic]
    device: Any


class TensorRtBackend:
    """A TensorRT engine behind the InferenceBackend interface.

    Args:
        model_path: the ONNX model the engine is built from.
        options: precision, engine cache directory, batch and calibration settings.
        trt_module: the ``tensorrt`` module (tests pass a fake).
        cuda_module: ``pycuda.driver`` (tests pass a fake).

    Raises:
        DetectionError: unreadable model, a parse or build failure (with the parser's
            errors), or an engine whose I/O is not one image input plus outputs.
    """

    def __init__(
        self,
        model_path: Path,
        options: BackendOptions | None = None,
        trt_module: Any = None,
        cuda_module: Any = None,
    ) -> None:
        # Imported here, not at module level: only GPU machines have them.
        if trt_module is None:
            import tensorrt

            trt_module = tensorrt
        if cuda_module is None:
            import pycuda.driver

            cuda_module = pycuda.driver
        self._trt = trt_module
        self._cuda = cuda_module
        self._options = options or BackendOptions()
        data = read_model_bytes(model_path)
        self._metadata = model_metadata(data)
        self._cuda.init()
        device = self._cuda.Device(0)
        self._cuda_context = device.retain_primary_context()
        self._cuda_context.push()
        try:
            self._trt_logger = trt_module.Logger(trt_module.Logger.WARNING)
            self._engine = self._load_or_build(model_path, data, device)
            self._context = self._engine.create_execution_context()
            self._api = select_io_api(str(trt_module.__version__), self._context)
            self._stream = self._cuda.Stream()
            self._io = self._allocate()
        finally:
            self._cuda_context.pop()
        inputs = [io for io in self._io if io.is_input]
        if len(inputs) != 1 or len(inputs[0].spec.shape) != 4:
            shapes = [(io.spec.name, io.spec.shape) for io in inputs]
            msg = f"{model_path}: expected one (B, 3, H, W) engine input, got {shapes}"
            raise DetectionError(msg)
        self._input_io = inputs[0]
        version = str(trt_module.__version__)
        self._name = f"tensorrt {version} {self._options.precision} ({self._api} API)"

    # -- engine ------------------------------------------------------------------------
    def _key(self, data: bytes, device: Any, shapes: tuple[tuple[int, ...], ...]) -> EngineKey:
        major, minor = device.compute_capability()
        return EngineKey(
            model_sha256=hashlib.sha256(data).hexdigest(),
            gpu_name=str(device.name()),
            compute_capability=f"{major}.{minor}",
            tensorrt_version=str(self._trt.__version__),
            precision=self._options.precision,
            min_shape=shapes[0],
            opt_shape=shapes[1],
            max_shape=shapes[2],
        )

    def _parse(self, model_path: Path, data: bytes) -> tuple[Any, Any, Any]:
        trt = self._trt
        builder = trt.Builder(self._trt_logger)
        # Explicit batch: the flag TensorRT 8 needs; TensorRT 10 networks always are.
        flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
        flags = 1 << int(flag) if flag is not None and _major(trt) < 10 else 0
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self._trt_logger)
        if not parser.parse(data):
            errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
            msg = f"{model_path}: TensorRT cannot parse the ONNX model: {errors}"
            raise DetectionError(msg)
        return builder, network, parser

    def _load_or_build(self, model_path: Path, data: bytes, device: Any) -> Any:
        trt = self._trt
        builder, network, _parser = self._parse(model_path, data)
        if network.num_inputs != 1:
            msg = f"{model_path}: TensorRT backend supports one input, got {network.num_inputs}"
            raise DetectionError(msg)
        tensor = network.get_input(0)
        shapes = _profile_shapes(tuple(int(d) for d in tensor.shape), self._options)
        key = self._key(data, device, shapes)
        cache_dir = self._options.engine_cache_dir or default_cache_dir()
        engine_file, key_file = engine_paths(cache_dir, model_path.stem, key)
        runtime = trt.Runtime(self._trt_logger)
        if engine_file.is_file() and key_file.is_file():
            if key_file.read_text(encoding="utf-8") == key.as_json():
                engine = runtime.deserialize_cuda_engine(engine_file.read_bytes())
                if engine is not None:
                    logger.info("TensorRT engine reused from %s", engine_file)
                    return engine
            logger.warning("TensorRT engine cache %s is stale or damaged: rebuilding", engine_file)
        logger.info(
            "building TensorRT %s engine for %s (%s; minutes on a Jetson)",
            key.precision,
            model_path,
            key.gpu_name,
        )
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
        profile = builder.create_optimization_profile()
        profile.set_shape(tensor.name, *shapes)
        config.add_optimization_profile(profile)
        if self._options.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if self._options.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = self._calibrator(model_path, key, shapes)
            config.set_calibration_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            msg = f"{model_path}: TensorRT failed to build a {key.precision} engine (see its log)"
            raise DetectionError(msg)
        blob = bytes(serialized)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = engine_file.with_suffix(".engine.tmp")
        tmp.write_bytes(blob)
        tmp.replace(engine_file)
        key_file.write_text(key.as_json(), encoding="utf-8")
        logger.info("TensorRT engine cached at %s", engine_file)
        engine = runtime.deserialize_cuda_engine(blob)
        if engine is None:
            msg = f"{model_path}: TensorRT could not load the engine it just built"
            raise DetectionError(msg)
        return engine

    def _calibrator(
        self, model_path: Path, key: EngineKey, shapes: tuple[tuple[int, ...], ...]
    ) -> Any:
        options = self._options
        if options.calibration_images is None:
            msg = "precision int8 needs calibration data (an image folder or a bag + topic)"
            raise DetectionError(msg)
        if options.calibration_reader is None:
            msg = (
                "precision int8 needs a calibration_reader for its calibration data "
                "(percept.io.image_files.iter_images)"
            )
            raise DetectionError(msg)
        _, _, height, width = shapes[1]
        batches = CalibrationBatches(
            options.calibration_images,
            width,
            height,
            batch_size=shapes[1][0],
            max_batches=options.calibration_batches,
            topic=options.calibration_topic,
            reader=options.calibration_reader,
        )
        cache_dir = options.engine_cache_dir or default_cache_dir()
        cache = cache_dir / f"{model_path.stem}-{key.model_sha256[:16]}-{width}x{height}.calib"
        return _make_calibrator(self._trt, self._cuda, batches, cache)

    # -- buffers -----------------------------------------------------------------------
    def _tensors(self) -> list[tuple[str, bool, tuple[int, ...], np.dtype[np.generic]]]:
        """(name, is_input, shape with -1 for dynamic, dtype) of every engine tensor."""
        trt, engine = self._trt, self._engine
        out = []
        if self._api == "tensors":
            for i in range(engine.num_io_tensors):
                name = engine.get_tensor_name(i)
                is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
                shape = tuple(int(d) for d in engine.get_tensor_shape(name))
                dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
                out.append((str(name), is_input, shape, dtype))
        else:
            for i in range(engine.num_bindings):
                name = engine.get_binding_name(i)
                shape = tuple(int(d) for d in engine.get_binding_shape(i))
                dtype = np.dtype(trt.nptype(engine.get_binding_dtype(i)))
                out.append((str(name), bool(engine.binding_is_input(i)), shape, dtype))
        return out

    def _allocate(self) -> list[_Io]:
        """Page-locked host and device buffers for the largest shapes of the profile."""
        tensors = self._tensors()
        inputs = [(i, t) for i, t in enumerate(tensors) if t[1]]
        if len(inputs) != 1:
            msg = f"TensorRT engine has {len(inputs)} inputs; the detector feeds one image"
            raise DetectionError(msg)
        input_index, (input_name, _, input_shape, _) = inputs[0]
        max_input = _profile_shapes(input_shape, self._options)[2]
        self._set_input_shape(input_name, max_input, input_index)
        ios: list[_Io] = []
        for index, (name, is_input, shape, dtype) in enumerate(tensors):
            full = max_input if is_input else self._output_shape(name, index)
            host = self._cuda.pagelocked_empty(full, dtype)
            device = self._cuda.mem_alloc(int(host.nbytes))
            spec = TensorSpec(name, tuple(d if d > 0 else None for d in shape), dtype)
            ios.append(_Io(spec, index, is_input, host, device))
            if self._api == "tensors":
                self._context.set_tensor_address(name, int(device))
        return ios

    def _set_input_shape(self, name: str, shape: tuple[int, ...], index: int) -> None:
        if self._api == "tensors":
            ok = self._context.set_input_shape(name, shape)
        else:
            ok = self._context.set_binding_shape(index, shape)
        if ok is False:
            msg = f"TensorRT refused input shape {shape} for {name} (outside the profile)"
            raise DetectionError(msg)

    def _output_shape(self, name: str, index: int) -> tuple[int, ...]:
        if self._api == "tensors":
            shape = self._context.get_tensor_shape(name)
        else:
            shape = self._context.get_binding_shape(index)
        return tuple(int(d) for d in shape)

    # -- InferenceBackend --------------------------------------------------------------
    @property
    def name(self) -> str:
        """``tensorrt <version> <precision> (<api> API)``."""
        return self._name

    @property
    def input(self) -> TensorSpec:
        """The image input."""
        return self._input_io.spec

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The outputs, in engine order."""
        return tuple(io.spec for io in self._io if not io.is_input)

    @property
    def metadata(self) -> dict[str, str]:
        """metadata_props of the ONNX model."""
        return dict(self._metadata)

    @property
    def max_batch(self) -> int | None:
        """The largest batch of the engine's optimisation profile."""
        return int(self._input_io.host.shape[0])

    def run(self, batch: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Copy in, execute, copy out on one stream; outputs in engine order.

        Raises:
            DetectionError: a batch larger than the engine's profile, or a failed run.
        """
        io_in = self._input_io
        if batch.size > io_in.host.size or batch.ndim != 4:
            msg = f"TensorRT engine takes at most {io_in.host.shape}, got {batch.shape}"
            raise DetectionError(msg)
        cuda = self._cuda
        self._cuda_context.push()
        try:
            self._set_input_shape(io_in.spec.name, tuple(batch.shape), io_in.index)
            # Views of the page-locked buffers: only the bytes of this batch move.
            staged = io_in.host.reshape(-1)[: batch.size]
            staged[:] = batch.astype(io_in.host.dtype, copy=False).reshape(-1)
            cuda.memcpy_htod_async(io_in.device, staged, self._stream)
            if self._api == "tensors":
                ok = self._context.execute_async_v3(self._stream.handle)
            else:
                bindings = [int(io.device) for io in self._io]
                ok = self._context.execute_async_v2(bindings, self._stream.handle)
            outputs: list[tuple[npt.NDArray[np.generic], tuple[int, ...]]] = []
            for io in self._io:
                if io.is_input:
                    continue
                shape = self._output_shape(io.spec.name, io.index)
                view = io.host.reshape(-1)[: int(np.prod(shape))]
                cuda.memcpy_dtoh_async(view, io.device, self._stream)
                outputs.append((view, shape))
            self._stream.synchronize()
        finally:
            self._cuda_context.pop()
        if ok is False:
            msg = f"TensorRT execution failed for input {batch.shape}"
            raise DetectionError(msg)
        # Copies: the page-locked buffers are overwritten by the next run.
        return [view.reshape(shape).copy() for view, shape in outputs]

    def close(self) -> None:
        """Free device buffers and the engine; release the CUDA context."""
        for io in getattr(self, "_io", []):
            free = getattr(io.device, "free", None)
            if callable(free):
                free()
        self._io = []
        self._context = None
        self._engine = None
        context = getattr(self, "_cuda_context", None)
        if context is not None:
            context.detach()
            self._cuda_context = None


def _major(trt: Any) -> int:
    match = re.match(r"(\d+)", str(trt.__version__))
    return int(match.group(1)) if match else 0
