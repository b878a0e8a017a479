"""The TensorRT backend without a GPU: cache keys, calibration batches, both I/O APIs.

``tensorrt`` and ``pycuda`` are replaced by small fakes that behave as the real modules
do for the calls the backend makes (engine build, cache, buffers, copies, execution),
so everything but the GPU itself is exercised. The ``gpu`` test at the end builds and
runs a real engine where TensorRT, pycuda and a GPU exist.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from percept import codecs
from percept.detect.backend import BackendOptions, tensorrt_available
from percept.detect.detector import Detector, DetectorConfig
from percept.detect.preprocess import make_batch
from percept.detect.trt import (
    CalibrationBatches,
    EngineKey,
    TensorRtBackend,
    default_cache_dir,
    engine_paths,
    select_io_api,
)
from percept.domain import Header, Image
from percept.errors import DetectionError
from percept.io.bag import BagWriter
from percept.io.image_files import iter_images
from percept.io.typestore import RosbagsFactory, get_typestore

from ...detect_models import constant_output_model, yolov8_output

OUTPUT = yolov8_output([[32, 32, 20, 10], [10, 50, 8, 8]], [[0.9, 0.0], [0.0, 0.4]], anchors=16)


class FakeCuda:
    """pycuda.driver: device memory is a dict of byte arrays keyed by address."""

    def __init__(self) -> None:
        self.memory: dict[int, bytearray] = {}
        self._next = itertools.count(0x1000, 0x1000)
        self.copies: list[str] = []
        self.context = SimpleNamespace(push=lambda: None, pop=lambda: None, detach=lambda: None)

    def init(self) -> None:
        pass

    def Device(self, index: int) -> Any:
        return SimpleNamespace(
            name=lambda: "Fake GPU",
            compute_capability=lambda: (8, 7),
            retain_primary_context=lambda: self.context,
        )

    def pagelocked_empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.zeros(shape, dtype)

    def mem_alloc(self, nbytes: int) -> int:
        address = next(self._next)
        self.memory[address] = bytearray(nbytes)
        return address

    def Stream(self) -> Any:
        return SimpleNamespace(handle=7, synchronize=lambda: None)

    def memcpy_htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None:
        self.copies.append("htod")
        self.memcpy_htod(dst, src)

    def memcpy_htod(self, dst: int, src: np.ndarray) -> None:
        raw = np.ascontiguousarray(src).tobytes()
        self.memory[int(dst)][: len(raw)] = raw

    def memcpy_dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None:
        self.copies.append("dtoh")
        dst[...] = np.frombuffer(bytes(self.memory[int(src)][: dst.nbytes]), dst.dtype).reshape(
            dst.shape
        )


class FakeEngine:
    """One input (-1, 3, 64, 64), one output (-1, 6, 16) that is OUTPUT per image."""

    names = ("images", "output0")
    shapes = ((-1, 3, 64, 64), (-1, 6, 16))

    def __init__(self, trt: FakeTrt, cuda: FakeCuda) -> None:
        self.trt, self.cuda = trt, cuda
        self.num_io_tensors = self.num_bindings = 2

    # TensorRT >= 10
    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_mode(self, name: str) -> str:
        return "INPUT" if name == "images" else "OUTPUT"

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[self.names.index(name)]

    def get_tensor_dtype(self, name: str) -> str:
        return "FLOAT"

    # TensorRT 8
    def get_binding_name(self, i: int) -> str:
        return self.names[i]

    def binding_is_input(self, i: int) -> bool:
        return i == 0

    def get_binding_shape(self, i: int) -> tuple[int, ...]:
        return self.shapes[i]

    def get_binding_dtype(self, i: int) -> str:
        return "FLOAT"

    def create_execution_context(self) -> Any:
        return FakeContext(self) if self.trt.major >= 10 else FakeBindingContext(self)


class FakeContext:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.batch = 1
        self.addresses: dict[str, int] = {}
        self.runs = 0

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.batch = shape[0]
        return shape[0] <= 4

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return (self.batch, 6, 16) if name == "output0" else (self.batch, 3, 64, 64)

    def set_tensor_address(self, name: str, address: int) -> None:
        self.addresses[name] = address

    def _write_output(self, address: int) -> None:
        out = np.repeat(OUTPUT, self.batch, axis=0).astype(np.float32).tobytes()
        self.engine.cuda.memory[address][: len(out)] = out
        self.runs += 1

    def execute_async_v3(self, stream_handle: int) -> bool:
        self._write_output(self.addresses["output0"])
        return True


class FakeBindingContext(FakeContext):
    def set_binding_shape(self, index: int, shape: tuple[int, ...]) -> bool:
        return self.set_input_shape(self.engine.names[index], shape)

    def get_binding_shape(self, index: int) -> tuple[int, ...]:
        return self.get_tensor_shape(self.engine.names[index])

    def execute_async_v2(self, bindings: list[int], stream_handle: int) -> bool:
        self._write_output(bindings[1])
        return True


class FakeTrt:
    """The tensorrt module: builds "engines" (bytes) and counts the builds."""

    IInt8EntropyCalibrator2 = object
    MemoryPoolType = SimpleNamespace(WORKSPACE="workspace")
    BuilderFlag = SimpleNamespace(FP16="fp16", INT8="int8")
    NetworkDefinitionCreationFlag = SimpleNamespace(EXPLICIT_BATCH=0)
    TensorIOMode = SimpleNamespace(INPUT="INPUT")

    class Logger:
        WARNING = 2

        def __init__(self, severity: int) -> None:
            self.severity = severity

    def __init__(self, version: str, cuda: FakeCuda) -> None:
        self.__version__ = version
        self.major = int(version.split(".")[0])
        self.cuda = cuda
        self.builds: list[dict[str, Any]] = []
        self.calibration_batches = 0
        fake = self

        class Builder:
            def __init__(self, logger: Any) -> None:
                pass

            def create_network(self, flags: int) -> Any:
                fake.network_flags = flags
                tensor = SimpleNamespace(name="images", shape=(-1, 3, 64, 64))
                return SimpleNamespace(num_inputs=1, get_input=lambda i: tensor)

            def create_builder_config(self) -> Any:
                config = SimpleNamespace(flags=set(), int8_calibrator=None, profiles=[])
                config.set_memory_pool_limit = lambda pool, size: None
                config.set_flag = config.flags.add
                config.add_optimization_profile = config.profiles.append
                config.set_calibration_profile = lambda p: None
                return config

            def create_optimization_profile(self) -> Any:
                profile = SimpleNamespace(shapes={})
                profile.set_shape = lambda name, lo, opt, hi: profile.shapes.update(
                    {name: (lo, opt, hi)}
                )
                return profile

            def build_serialized_network(self, network: Any, config: Any) -> bytes:
                calibrator = config.int8_calibrator
                if calibrator is not None and calibrator.read_calibration_cache() is None:
                    while calibrator.get_batch(["images"]) is not None:
                        fake.calibration_batches += 1
                    calibrator.write_calibration_cache(b"calibration table")
                fake.builds.append(
                    {"flags": set(config.flags), "profile": config.profiles[0].shapes}
                )
                return b"ENGINE"

        class OnnxParser:
            def __init__(self, network: Any, logger: Any) -> None:
                self.num_errors = 0

            def parse(self, data: bytes) -> bool:
                if not data.startswith(b"\x08"):  # ONNX protobufs start with ir_version
                    self.num_errors = 1
                    return False
                return True

            def get_error(self, i: int) -> str:
                return "In node -1: not a protobuf"

        class Runtime:
            def __init__(self, logger: Any) -> None:
                pass

            def deserialize_cuda_engine(self, blob: bytes) -> Any:
                return FakeEngine(fake, fake.cuda) if blob == b"ENGINE" else None

        self.Builder, self.OnnxParser, self.Runtime = Builder, OnnxParser, Runtime

    @staticmethod
    def nptype(dtype: str) -> Any:
        return np.float32


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return constant_output_model(
        tmp_path / "m.onnx", [("output0", OUTPUT)], metadata={"names": "{0: 'a', 1: 'b'}"}
    )


def _backend(model: Path, cache: Path, version: str, **options: Any) -> tuple[Any, Any, Any]:
    cuda = FakeCuda()
    trt = FakeTrt(version, cuda)
    opts = BackendOptions(engine_cache_dir=cache, input_size=(64, 64), **options)
    return TensorRtBackend(model, opts, trt_module=trt, cuda_module=cuda), trt, cuda


@pytest.mark.parametrize(("version", "api"), [("10.3.0", "tensors"), ("8.6.1", "bindings")])
def test_both_io_apis_run_the_pipeline_like_onnxruntime(
    model: Path, tmp_path: Path, version: str, api: str
) -> None:
    backend, trt, cuda = _backend(model, tmp_path / "cache", version, max_batch=2)
    assert backend.name == f"tensorrt {version} fp32 ({api} API)"
    assert trt.network_flags == (0 if api == "tensors" else 1)  # explicit batch on TRT 8
    assert backend.max_batch == 2
    trt_detector = Detector(DetectorConfig(model), backend=backend)
    ort_detector = Detector(DetectorConfig(model, backend="onnxruntime"))
    images = [np.zeros((32, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)] * 2
    images.append(np.zeros((80, 40, 3), np.uint8))
    cuda.copies.clear()
    for ours, reference in zip(
        trt_detector.detect(images), ort_detector.detect(images), strict=True
    ):
        np.testing.assert_allclose(ours.boxes_xyxy, reference.boxes_xyxy)
        np.testing.assert_array_equal(ours.class_ids, reference.class_ids)
    assert trt_detector.labels == ("a", "b")  # metadata read from the ONNX file
    # Five images, profile batch <= 2: three runs, each one copy in and one out.
    assert cuda.copies == ["htod", "dtoh"] * 3
    backend.close()


def test_engine_is_built_once_and_reused_while_its_key_matches(model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _, trt, _ = _backend(model, cache, "10.3.0", precision="fp16", max_batch=2)
    assert len(trt.builds) == 1
    assert trt.builds[0]["flags"] == {"fp16"}
    lo, opt, hi = trt.builds[0]["profile"]["images"]
    assert (lo, opt, hi) == ((1, 3, 64, 64), (1, 3, 64, 64), (2, 3, 64, 64))
    _, again, _ = _backend(model, cache, "10.3.0", precision="fp16", max_batch=2)
    assert again.builds == []  # reused from the cache
    _, other, _ = _backend(model, cache, "10.4.0", precision="fp16", max_batch=2)
    assert len(other.builds) == 1  # another TensorRT version: another engine
    assert len(list(cache.glob("*.engine"))) == 2
    for engine in cache.glob("*.engine"):
        engine.write_bytes(b"damaged")
    _, rebuilt, _ = _backend(model, cache, "10.3.0", precision="fp16", max_batch=2)
    assert len(rebuilt.builds) == 1


def test_engine_key_names_every_dependency() -> None:
    shape = (1, 3, 640, 640)
    key = EngineKey("ab" * 32, "Orin", "8.7", "10.3.0", "int8", shape, shape, (4, 3, 640, 640))
    engine, sidecar = engine_paths(Path("/cache"), "yolo 11n", key)
    assert engine.name.startswith("yolo_11n-trt10.3.0-int8-")
    assert engine.suffix == ".engine"
    assert sidecar.with_suffix(".engine") == engine
    changes = [
        {"model_sha256": "cd" * 32},
        {"gpu_name": "Xavier"},
        {"compute_capability": "7.2"},
        {"tensorrt_version": "8.6.1"},
        {"precision": "fp16"},
        {"max_shape": shape},
    ]
    digests = {dataclasses.replace(key, **change).digest() for change in changes}  # type: ignore[arg-type]
    assert len(digests) == len(changes)
    assert key.digest() not in digests


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "percept" / "engines"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "percept" / "engines"


def test_io_api_follows_the_tensorrt_version_and_checks_the_context() -> None:
    both = SimpleNamespace(
        set_input_shape=print, set_tensor_address=print, execute_async_v3=print,
        set_binding_shape=print, execute_async_v2=print,
    )  # fmt: skip
    assert select_io_api("10.0.1", both) == "tensors"
    assert select_io_api("8.6.1.6", both) == "bindings"
    with pytest.raises(DetectionError, match=r"lacks \['execute_async_v3'\]"):
        select_io_api("10.3.0", SimpleNamespace(set_input_shape=print, set_tensor_address=print))
    with pytest.raises(DetectionError, match="cannot read the TensorRT version"):
        select_io_api("dev", both)


def test_unparsable_model_reports_the_parser_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectionError, match="not an ONNX model"):
        _backend(bad, tmp_path / "cache", "10.3.0")


def _images(folder: Path, n: int) -> list[np.ndarray]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(n)]
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    return images


def test_calibration_batches_from_an_image_folder(tmp_path: Path) -> None:
    images = _images(tmp_path / "calib", 5)
    batches = list(CalibrationBatches(tmp_path / "calib", 64, 64, batch_size=2, reader=iter_images))
    assert len(batches) == 2  # the fifth image would make a partial batch: dropped
    expected, _ = make_batch(images[2:4], [True, True], 64, 64)
    np.testing.assert_array_equal(batches[1], expected)
    assert (
        list(
            CalibrationBatches(tmp_path / "calib", 64, 64, max_batches=3, reader=iter_images)
        ).__len__()
        == 3
    )
    with pytest.raises(DetectionError, match="no full calibration batch of 8 images"):
        list(CalibrationBatches(tmp_path / "calib", 64, 64, batch_size=8, reader=iter_images))


def test_calibration_batches_from_an_image_topic_of_a_bag(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    bag = tmp_path / "calib.mcap"
    store, factory = get_typestore(), RosbagsFactory()
    with BagWriter(bag) as writer:
        writer.add_topic("/cam/image_raw", "sensor_msgs/msg/Image")
        for i, image in enumerate(images):
            msg = codecs.encode(
                "sensor_msgs/msg/Image", Image(Header(i + 1, "cam"), "rgb8", image), factory
            )
            raw = bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
            writer.write("/cam/image_raw", "sensor_msgs/msg/Image", i + 1, raw)
    batches = list(CalibrationBatches(bag, 64, 64, topic="/cam/image_raw", reader=iter_images))
    assert len(batches) == 3
    expected, _ = make_batch([images[2]], [False], 64, 64)
    np.testing.assert_array_equal(batches[2], expected)


def test_int8_engine_calibrates_once_then_reuses_the_calibration_cache(
    model: Path, tmp_path: Path
) -> None:
    _images(tmp_path / "calib", 3)
    options = {
        "precision": "int8",
        "calibration_images": tmp_path / "calib",
        "calibration_reader": iter_images,
    }
    _, trt, _ = _backend(model, tmp_path / "cache", "10.3.0", **options)
    assert trt.builds[0]["flags"] == {"fp16", "int8"}
    assert trt.calibration_batches == 3
    assert len(list((tmp_path / "cache").glob("m-*-64x64.calib"))) == 1
    # Another TensorRT version builds a new engine but needs no new calibration pass.
    _, other, _ = _backend(model, tmp_path / "cache", "10.4.0", **options)
    assert len(other.builds) == 1
    assert other.calibration_batches == 0
    with pytest.raises(DetectionError, match="precision int8 needs calibration data"):
        _backend(model, tmp_path / "other_cache", "10.3.0", precision="int8")


@pytest.mark.gpu
def test_real_tensorrt_engine_matches_onnxruntime(model: Path, tmp_path: Path) -> None:
    usable, why = tensorrt_available()
    if not usable:
        pytest.skip(f"needs TensorRT, pycuda and an NVIDIA GPU: {why}")
    options = BackendOptions(engine_cache_dir=tmp_path, precision="fp16", input_size=(64, 64))
    trt_detector = Detector(DetectorConfig(model, backend="tensorrt", options=options))
    ort_detector = Detector(DetectorConfig(model, backend="onnxruntime"))
    image = np.zeros((48, 64, 3), np.uint8)
    (ours,), (reference,) = trt_detector.detect([image]), ort_detector.detect([image])
    np.testing.assert_array_equal(ours.class_ids, reference.class_ids)
    np.testing.assert_allclose(ours.boxes_xyxy, reference.boxes_xyxy, atol=0.5)
