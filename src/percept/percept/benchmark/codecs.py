"""Benchmark of the message codecs against a plain numpy copy of the same bytes.

Two payloads: a 1280x720 ``bgr8`` Image (2.7 MB) and a 300k-point PointCloud2 with
x, y, z, rgb float32 in PCL's 32-byte point layout (9.6 MB). Each is decoded and encoded
through a rosbags factory (numpy arrays) and through an rclpy-like factory
(``array.array`` buffers on ``SimpleNamespace`` messages), and timed beside
``np.copy`` of the same bytes in the same run, so the ratios say how far a codec is from
one memory copy on this machine.
"""

from __future__ import annotations

import array
import logging
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt

from percept.codecs import (
    decode_image,
    decode_point_cloud,
    encode_image,
    encode_point_cloud,
    make_point_cloud,
)
from percept.domain import Header, Image
from percept.io.typestore import RosbagsFactory

__all__ = ["format_report", "run_codec_benchmark"]

logger = logging.getLogger(__name__)

IMAGE_SHAPE = (720, 1280, 3)
CLOUD_POINTS = 300_000


class _ArrayFactory:
    """rclpy-like messages: SimpleNamespace, ``uint8[]`` as ``array.array('B')``."""

    def new(self, msgtype: str, /, **fields: object) -> object:
        del msgtype
        return SimpleNamespace(**fields)

    def uint8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        out = array.array("B")
        out.frombytes(np.ascontiguousarray(buf).data.cast("B"))  # the one copy
        return out

    def int8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        out = array.array("b")
        out.frombytes(np.ascontiguousarray(buf).data.cast("B"))
        return out

    def float_array(self, values: npt.NDArray[np.float64], /, *, fixed: bool) -> object:
        return values.copy() if fixed else array.array("d", values.tobytes())

    def byte(self, value: int, /) -> object:
        return bytes([value])


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: page faults and caches out of the measurement
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _bench_payload(
    prefix: str,
    obj: object,
    raw: npt.NDArray[np.uint8],
    decoder: Callable[[object], object],
    encoder: Callable[[object, object], object],
    repeats: int,
) -> dict[str, float]:
    results: dict[str, float] = {}
    copy_ms = _median_ms(lambda: np.copy(raw), repeats)
    results[f"{prefix}.numpy_copy_ms"] = copy_ms
    for name, factory in (("rosbags", RosbagsFactory()), ("array", _ArrayFactory())):
        msg = encoder(obj, factory)
        enc_ms = _median_ms(lambda f=factory: encoder(obj, f), repeats)  # type: ignore[misc]
        dec_ms = _median_ms(lambda m=msg: decoder(m), repeats)  # type: ignore[misc]
        results[f"{prefix}.encode_{name}_ms"] = enc_ms
        results[f"{prefix}.decode_{name}_ms"] = dec_ms
        results[f"{prefix}.encode_{name}_vs_copy"] = enc_ms / copy_ms
        results[f"{prefix}.decode_{name}_vs_copy"] = dec_ms / copy_ms
    return results


def run_codec_benchmark(repeats: int = 50) -> dict[str, float]:
    """Time codec decode/encode of a large Image and PointCloud2 against ``np.copy``.

    Args:
        repeats: timed runs per measurement (after one warm-up); medians are reported.

    Returns:
        Flat mapping: ``<payload>.<op>_<factory>_ms`` median milliseconds,
        ``<payload>.numpy_copy_ms`` for a copy of the same bytes, and
        ``<payload>.<op>_<factory>_vs_copy`` ratios; payloads ``image_bgr8_1280x720``
        and ``cloud_xyzrgb_300k``, factories ``rosbags`` and ``array`` (rclpy-like).
    """
    rng = np.random.default_rng(0)
    header = Header(stamp_ns=1_700_000_000_000_000_000, frame_id="camera_optical_frame")
    pixels = rng.integers(0, 256, size=IMAGE_SHAPE, dtype=np.uint8)
    image = Image(header, "bgr8", pixels)
    cloud = make_point_cloud(
        header,
        rng.normal(size=(CLOUD_POINTS, 3)).astype(np.float32),
        rgb=rng.integers(0, 256, size=(CLOUD_POINTS, 3), dtype=np.uint8),
    )
    results: dict[str, float] = {"repeats": float(repeats)}
    results |= _bench_payload(
        "image_bgr8_1280x720",
        image,
        pixels.reshape(-1),
        decode_image,
        encode_image,  # type: ignore[arg-type]
        repeats,
    )
    results |= _bench_payload(
        "cloud_xyzrgb_300k",
        cloud,
        cloud.points.view(np.uint8),
        decode_point_cloud,
        encode_point_cloud,  # type: ignore[arg-type]
        repeats,
    )
    logger.debug("codec benchmark: %s", results)
    return results


def format_report(results: dict[str, float]) -> str:
    """A text table of :func:`run_codec_benchmark` results, one row per payload and op.

    Args:
        results: as returned by :func:`run_codec_benchmark`.

    Returns:
        Multi-line table: payload, operation, median ms, ratio to ``np.copy``.
    """
    lines = [f"{'payload':<22} {'operation':<16} {'median ms':>10} {'x np.copy':>10}"]
    payloads = sorted({key.split(".", 1)[0] for key in results if "." in key})
    for payload in payloads:
        copy_ms = results.get(f"{payload}.numpy_copy_ms", float("nan"))
        lines.append(f"{payload:<22} {'np.copy':<16} {copy_ms:>10.3f} {1.0:>10.2f}")
        for op in ("decode", "encode"):
            for factory in ("rosbags", "array"):
                ms = results.get(f"{payload}.{op}_{factory}_ms")
                if ms is None:
                    continue
                ratio = results.get(f"{payload}.{op}_{factory}_vs_copy", float("nan"))
                lines.append(f"{payload:<22} {op + ' ' + factory:<16} {ms:>10.3f} {ratio:>10.2f}")
    if "repeats" in results:
        lines.append(f"(median of {int(results['repeats'])} runs each)")
    return "\n".join(lines)
