"""Benchmark of the rectify node against a bare ``cv2.remap`` with the same maps.

A 1280x720 plumb_bob camera with strong distortion; frames in ``mono8`` and ``bgr8``.
Each repetition times, back to back, one frame through the node in the local runtime
(image and camera_info as ROS messages: decode, exact-time pairing, the callback, the
publish to a subscriber) and one bare ``cv2.remap`` of the same pixels with the same
fixed-point maps, so machine load affects both alike. The median of these paired
ratios says what the node costs on top of the remap itself (target <= 1.2).
"""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.benchmark.common import (
    CAMERA_INFO,
    IMAGE,
    frame_stamp_ns,
    median_ms,
    opencv_run,
    paired_ratio,
    paired_times,
    report_footer,
)
from percept.domain import CameraInfo, Header, Image
from percept.geometry.camera import CameraModel
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.nodes.rectify import RectifyNode
from percept.runtime.local import Envelope, LocalRuntime
from percept.runtime.params import resolve_parameters

__all__ = ["ENCODINGS", "format_rectify_report", "run_rectify_benchmark"]

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 1280, 720
#: encoding -> channels of the benchmarked frames.
ENCODINGS: dict[str, int] = {"mono8": 1, "bgr8": 3}


def benchmark_camera() -> CameraModel:
    """The 1280x720 camera of the benchmark: plumb_bob, barrel distortion, mono P = [K | 0]."""
    K = np.array([[700.0, 0.0, 641.5], [0.0, 702.0, 358.0], [0.0, 0.0, 1.0]])
    D = np.array([-0.30, 0.10, 0.0008, -0.0005, -0.015])
    return CameraModel(
        WIDTH, HEIGHT, "plumb_bob", K, D, np.eye(3), np.hstack([K, np.zeros((3, 1))])
    )


def _bench_encoding(encoding: str, pixels: npt.NDArray[np.uint8], repeats: int) -> dict[str, float]:
    model = benchmark_camera()
    runtime = LocalRuntime(publish_diagnostics=False)
    host = runtime.add_node(RectifyNode, resolve_parameters(RectifyNode, RectifyNode.NAME))
    got: list[Envelope] = []  # the last rectified frame only: frames are 1-3 MB
    published = [0]

    def keep_last(env: Envelope) -> None:
        got[:] = [env]
        published[0] += 1

    runtime.subscribe(host.topics["image_rect"], keep_last)
    factory = RosbagsFactory(get_typestore())
    image_topic, info_topic = host.topics["image"], host.topics["camera_info"]

    def messages(stamp_ns: int) -> tuple[object, object]:
        header = Header(stamp_ns, "camera_optical_frame")
        # Encoding into rosbags messages keeps a view of the pixels (no copy); the node
        # decodes them as it would decode messages read from a bag.
        return (
            codecs.encode(IMAGE, Image(header, encoding, pixels), factory),
            codecs.encode(CAMERA_INFO, CameraInfo(header, model), factory),
        )

    node = host.node
    assert isinstance(node, RectifyNode)

    def through_node(frame: int) -> float:
        stamp_ns = frame_stamp_ns(frame)
        image_msg, info_msg = messages(stamp_ns)
        start = time.perf_counter()
        runtime.feed_and_spin(info_topic, CAMERA_INFO, stamp_ns, obj=info_msg)
        runtime.feed_and_spin(image_topic, IMAGE, stamp_ns, obj=image_msg)
        return time.perf_counter() - start

    # The first frame warms caches and makes the node compute its maps; the bare remap
    # then uses those very arrays.
    through_node(0)
    maps = node.rectifier.maps(model)
    map1, map2 = maps.map1, maps.map2
    assert map1 is not None
    assert map2 is not None
    reference = cv2.remap(pixels, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out = got[-1].obj
    if not isinstance(out, Image) or not np.array_equal(out.data, reference):
        msg = f"{encoding}: node output differs from the bare remap"
        raise RuntimeError(msg)

    kept: list[object] = []

    def bare(_frame: int) -> float:
        start = time.perf_counter()
        out = cv2.remap(pixels, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        elapsed = time.perf_counter() - start
        # Hold the frame until the next one, as the node's subscriber holds its output:
        # both then write each frame into freshly allocated memory.
        kept[:] = [out]
        return elapsed

    node_times, bare_times = paired_times(repeats, through_node, bare)
    if published[0] != repeats + 1:
        msg = f"{encoding}: {published[0]} rectified frames for {repeats + 1} inputs"
        raise RuntimeError(msg)
    prefix = f"rectify_{encoding}_{WIDTH}x{HEIGHT}"
    return {
        f"{prefix}.node_ms": median_ms(node_times),
        f"{prefix}.bare_remap_ms": median_ms(bare_times),
        # Each node frame and its bare remap run back to back: the median of the paired
        # ratios cancels load that comes and goes (other processes on a 2-core board).
        f"{prefix}.node_vs_remap": paired_ratio(node_times, bare_times),
        f"{prefix}.maps_computed": float(node.rectifier.computed),
    }


def run_rectify_benchmark(repeats: int = 50, threads: int | None = None) -> dict[str, float]:
    """Time the rectify node per 1280x720 frame against a bare ``cv2.remap``.

    Args:
        repeats: timed frames per encoding (after one warm-up frame); medians reported.
        threads: OpenCV threads for the run (restored afterwards), None for OpenCV's
            default; the robot file sets the same per node.

    Returns:
        Flat mapping per encoding (``mono8``, ``bgr8``):
        ``rectify_<encoding>_1280x720.node_ms`` (median ms per frame through the local
        runtime, decode to publish), ``.bare_remap_ms`` (median ms of ``cv2.remap`` with
        the same fixed-point maps), ``.node_vs_remap`` (median ratio of each frame's
        node time to the bare remap run beside it) and
        ``.maps_computed`` (how often the node built maps: 1); plus ``repeats`` and
        ``opencv_threads``.

    Raises:
        ValueError: repeats < 1.
        RuntimeError: the node's output differs from the bare remap, or a frame was
            not published.
    """
    rng = np.random.default_rng(0)
    with opencv_run(repeats, threads) as results:
        for encoding, channels in ENCODINGS.items():
            shape = (HEIGHT, WIDTH) if channels == 1 else (HEIGHT, WIDTH, channels)
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            results |= _bench_encoding(encoding, pixels, repeats)
    logger.debug("rectify benchmark: %s", results)
    return results


def format_rectify_report(results: dict[str, float]) -> str:
    """A text table of :func:`run_rectify_benchmark` results, one row per encoding.

    Args:
        results: as returned by :func:`run_rectify_benchmark`.

    Returns:
        Multi-line table: payload, node ms, bare remap ms, ratio.
    """
    lines = [f"{'payload':<26} {'node ms':>10} {'remap ms':>10} {'x remap':>8}"]
    for encoding in ENCODINGS:
        prefix = f"rectify_{encoding}_{WIDTH}x{HEIGHT}"
        node_ms = results.get(f"{prefix}.node_ms")
        if node_ms is None:
            continue
        bare_ms = results[f"{prefix}.bare_remap_ms"]
        ratio = results[f"{prefix}.node_vs_remap"]
        lines.append(f"{prefix:<26} {node_ms:>10.3f} {bare_ms:>10.3f} {ratio:>8.2f}")
    lines += report_footer(results, "frames", "target ratio <= 1.2")
    return "\n".join(lines)
