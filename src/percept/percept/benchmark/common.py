"""What the node benchmarks share: OpenCV threads for a run, paired timing, the report's end.

A node benchmark times each frame through the node in the local runtime back to back
with the bare OpenCV call it wraps, alternating which goes first, and reports medians
and the median of the paired ratios (machine load affects both sides alike).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import cv2

from percept.msgtypes import CAMERA_INFO, IMAGE

__all__ = [
    "CAMERA_INFO",
    "IMAGE",
    "check_repeats",
    "frame_stamp_ns",
    "median_ms",
    "opencv_run",
    "paired_ratio",
    "paired_times",
    "report_footer",
]

#: stamp of the warm-up frame 0; frame i is stamped i frame periods later.
_STAMP0_NS = 1_700_000_000_000_000_000
_FRAME_NS = 33_000_000


def check_repeats(repeats: int) -> None:
    """Reject a benchmark run without timed frames.

    Raises:
        ValueError: repeats < 1.
    """
    if repeats < 1:
        msg = f"repeats must be >= 1, got {repeats}"
        raise ValueError(msg)


def frame_stamp_ns(frame: int) -> int:
    """Stamp of frame ``frame`` (0: the warm-up frame), nanoseconds."""
    return _STAMP0_NS + frame * _FRAME_NS


@contextmanager
def opencv_run(repeats: int, threads: int | None) -> Iterator[dict[str, float]]:
    """Run a benchmark with ``threads`` OpenCV threads, restored afterwards.

    Args:
        repeats: timed frames per measurement.
        threads: OpenCV threads for the run, None for OpenCV's default.

    Yields:
        The results, started with ``repeats`` and ``opencv_threads``.

    Raises:
        ValueError: repeats < 1.
    """
    check_repeats(repeats)
    before = cv2.getNumThreads()
    if threads is not None:
        cv2.setNumThreads(threads)
    results: dict[str, float] = {
        "repeats": float(repeats),
        "opencv_threads": float(cv2.getNumThreads()),
    }
    try:
        yield results
    finally:
        cv2.setNumThreads(before)


def paired_times(
    repeats: int, through_node: Callable[[int], float], bare: Callable[[int], float]
) -> tuple[list[float], list[float]]:
    """Time frames 1 to ``repeats`` through the node, each back to back with the bare call.

    Args:
        repeats: timed frames.
        through_node: seconds of one frame (by number, see :func:`frame_stamp_ns`)
            through the node.
        bare: seconds of the bare call on the same frame.

    Returns:
        (node seconds, bare seconds) per frame.
    """
    node_times: list[float] = []
    bare_times: list[float] = []
    for i in range(1, repeats + 1):
        # Alternate which goes first, so that neither always finds the pixels in cache.
        if i % 2:
            node_times.append(through_node(i))
            bare_times.append(bare(i))
        else:
            bare_times.append(bare(i))
            node_times.append(through_node(i))
    return node_times, bare_times


def median_ms(times: list[float]) -> float:
    """Median of ``times`` (seconds), milliseconds."""
    return statistics.median(times) * 1e3


def paired_ratio(node_times: list[float], bare_times: list[float]) -> float:
    """Median of each frame's node time over the bare time beside it."""
    return statistics.median(n / b for n, b in zip(node_times, bare_times, strict=True))


def report_footer(results: Mapping[str, float], unit: str, notes: str) -> list[str]:
    """The report's last line: repeats, OpenCV threads and ``notes`` (none without repeats)."""
    if "repeats" not in results:
        return []
    return [
        f"(median of {int(results['repeats'])} {unit} each, OpenCV threads "
        f"{int(results.get('opencv_threads', 0))}; {notes})"
    ]
