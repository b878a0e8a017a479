"""Benchmark of the stereo_depth node against a bare OpenCV SGBM call on the same pair.

A textured stereo pair of a slanted plane with a known disparity field at 640x480 (64
disparities) and 1280x720 (128). Each
repetition times, back to back and in alternating order, one pair through the node in
the local runtime (four ROS messages: decode, exact-time sync, checks, matching, the
DisparityImage, the publish) and one bare ``StereoSGBM.compute`` with the same
parameters on the same pixels; the median of the paired ratios is reported:

* ``same_work``: the node configured like bare SGBM (no full-width matching, no
  left-right check, disparity only): what the node costs around the matcher
  (target <= 1.15);
* ``default``: the default configuration, disparity only: the price of full-width
  matching and the left-right check (a second, mirrored matching pass);
* ``default_all_outputs``: the default configuration publishing disparity, depth and
  an organised xyzrgb cloud;
* ``default_downscale2``: the default configuration matching at half resolution.

Cloud generation (``cloud_from_depth``, organised, xyz and xyzrgb) is reported in
points per second beside a numpy copy of an array of the same bytes.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections.abc import Mapping

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
from percept.domain import CameraInfo, Disparity, Header, Image
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.nodes.stereo_depth import StereoDepthNode, stereo_config_from_params
from percept.runtime.local import Envelope, LocalRuntime
from percept.runtime.params import resolve_parameters
from percept.stereo.cloud import CloudConfig, cloud_from_depth
from percept.stereo.geometry import rectified_pair_models
from percept.stereo.matcher import SemiGlobalMatcher

__all__ = [
    "SIZES",
    "benchmark_pair",
    "format_stereo_report",
    "run_stereo_benchmark",
]

logger = logging.getLogger(__name__)

#: (width, height) -> disparity_range of the benchmark pairs.
SIZES: dict[tuple[int, int], int] = {(640, 480): 64, (1280, 720): 128}
#: Node configurations timed against bare SGBM (parameter overrides).
CONFIGS: dict[str, dict[str, object]] = {
    "same_work": {
        "full_width": False,
        "lr_check": False,
        "publish_depth": False,
        "publish_points": False,
    },
    "default": {"publish_depth": False, "publish_points": False},
    "default_all_outputs": {},
    "default_downscale2": {"downscale": 2, "publish_depth": False, "publish_points": False},
}
_FOCAL_PX = 0.8
_BASELINE_M = 0.12


def benchmark_pair(
    width: int, height: int, disparity_range: int, seed: int = 0
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """A textured rectified pair of a slanted plane and the left image's true disparity.

    Returns:
        ``(left, right, disparity)``: (H, W) uint8 images and (H, W) float32 disparity
        of the left image, pixels, from 0.2 to 0.6 of ``disparity_range`` top to bottom.
    """
    rng = np.random.default_rng(seed)
    size = (width + disparity_range + 8, height)
    blobs = rng.integers(0, 256, (size[1] // 4 + 1, size[0] // 4 + 1), dtype=np.uint8)
    texture = cv2.GaussianBlur(cv2.resize(blobs, size, interpolation=cv2.INTER_CUBIC), (0, 0), 1.0)
    rows = np.arange(height, dtype=np.float32)[:, None]
    columns = np.arange(width, dtype=np.float32)[None, :] + np.float32(disparity_range)
    disparity = np.broadcast_to(
        (0.2 + 0.4 * rows / height) * disparity_range, (height, width)
    ).astype(np.float32)
    map_y = np.broadcast_to(rows, (height, width)).astype(np.float32)
    # The right image shows the plane at column x; the left one at x + d.
    right = cv2.remap(texture, np.broadcast_to(columns, (height, width)), map_y, cv2.INTER_LINEAR)
    left = cv2.remap(texture, columns - disparity, map_y, cv2.INTER_LINEAR)
    return np.asarray(left, np.uint8), np.asarray(right, np.uint8), disparity


def _bench_config(
    name: str,
    overrides: Mapping[str, object],
    pair: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]],
    disparity_range: int,
    repeats: int,
) -> dict[str, float]:
    left, right = pair
    height, width = left.shape
    models = rectified_pair_models(width, height, _FOCAL_PX * width, _BASELINE_M)
    params = resolve_parameters(
        StereoDepthNode,
        StereoDepthNode.NAME,
        overrides={"disparity_range": disparity_range, **overrides},
    )
    runtime = LocalRuntime(publish_diagnostics=False)
    host = runtime.add_node(StereoDepthNode, params)
    last: list[Envelope] = []

    def keep_last(env: Envelope) -> None:
        last[:] = [env]

    for spec in StereoDepthNode.OUTPUTS:
        runtime.subscribe(host.topics[spec.name], keep_last)
    factory = RosbagsFactory(get_typestore())

    def messages(stamp_ns: int) -> list[tuple[str, str, object]]:
        lh, rh = Header(stamp_ns, "left_optical"), Header(stamp_ns, "right_optical")
        # Encoding into rosbags messages keeps views of the pixels; the node decodes
        # them as it decodes messages read from a bag.
        objs = [
            ("left_image", IMAGE, Image(lh, "mono8", left)),
            ("left_camera_info", CAMERA_INFO, CameraInfo(lh, models[0])),
            ("right_image", IMAGE, Image(rh, "mono8", right)),
            ("right_camera_info", CAMERA_INFO, CameraInfo(rh, models[1])),
        ]
        return [(host.topics[n], t, codecs.encode(t, o, factory)) for n, t, o in objs]

    def through_node(frame: int) -> float:
        stamp_ns = frame_stamp_ns(frame)
        msgs = messages(stamp_ns)
        start = time.perf_counter()
        for topic, msgtype, msg in msgs:
            runtime.feed_and_spin(topic, msgtype, stamp_ns, obj=msg)
        return time.perf_counter() - start

    bare_sgbm = SemiGlobalMatcher(stereo_config_from_params(params).bare()).opencv
    kept: list[object] = []

    def bare(_frame: int) -> float:
        start = time.perf_counter()
        out = bare_sgbm.compute(left, right)
        elapsed = time.perf_counter() - start
        kept[:] = [out]  # held until the next call, as the subscriber holds its output
        return elapsed

    through_node(0)
    if name == "same_work":
        got = last[-1].obj if last else None  # disparity is the only output here
        reference = np.asarray(bare_sgbm.compute(left, right)).astype(np.float32) / 16.0
        ok = reference >= 0
        assert isinstance(got, Disparity)
        if not np.array_equal(got.image[ok], reference[ok]):
            msg = f"{name}: the node's disparity differs from bare SGBM's"
            raise RuntimeError(msg)
    node_times, bare_times = paired_times(repeats, through_node, bare)
    if host.monitor.errors or any(s.rejected for s in host.monitor.inputs.values()):
        msg = f"{name}: the node rejected or failed on benchmark pairs"
        raise RuntimeError(msg)
    prefix = f"stereo_{width}x{height}.{name}"
    return {
        f"{prefix}.node_ms": median_ms(node_times),
        f"{prefix}.bare_sgbm_ms": median_ms(bare_times),
        f"{prefix}.node_vs_sgbm": paired_ratio(node_times, bare_times),
    }


def _bench_cloud(
    depth: npt.NDArray[np.float32],
    colors: npt.NDArray[np.uint8],
    f: float,
    repeats: int,
) -> dict[str, float]:
    height, width = depth.shape
    cx, cy = (width - 1) / 2, (height - 1) / 2
    results: dict[str, float] = {}
    for label, use_color in (("xyz", False), ("xyzrgb", True)):
        config = CloudConfig(use_color=use_color)
        times, copy_times = [], []
        points, _ = cloud_from_depth(depth, f, f, cx, cy, config, colors)
        source = np.ones(points.nbytes // 4, dtype=np.float32)
        for _ in range(repeats):
            start = time.perf_counter()
            points, _ = cloud_from_depth(depth, f, f, cx, cy, config, colors)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            copied = source.copy()
            copy_times.append(time.perf_counter() - start)
            del points, copied
        n = depth.size
        prefix = f"stereo_{width}x{height}.cloud_{label}"
        results[f"{prefix}.mpoints_per_s"] = n / statistics.median(times) / 1e6
        results[f"{prefix}.copy_mpoints_per_s"] = n / statistics.median(copy_times) / 1e6
        results[f"{prefix}.vs_copy"] = statistics.median(times) / statistics.median(copy_times)
    return results


def run_stereo_benchmark(
    repeats: int = 30,
    threads: int | None = None,
    sizes: Mapping[tuple[int, int], int] | None = None,
) -> dict[str, float]:
    """Time the stereo_depth node per pair against a bare ``StereoSGBM.compute``.

    Args:
        repeats: timed pairs per size and configuration (after one warm-up pair).
        threads: OpenCV threads for the run (restored afterwards), None for OpenCV's
            default; the robot file sets the same per node.
        sizes: (width, height) -> disparity_range of the pairs (default ``SIZES``).

    Returns:
        Flat mapping per size ``stereo_<W>x<H>`` and configuration (``same_work``,
        ``default``, ``default_all_outputs``, ``default_downscale2``): ``.node_ms``
        (median ms per pair through the local runtime), ``.bare_sgbm_ms`` (median ms
        of the bare call) and ``.node_vs_sgbm`` (median paired ratio); per size and cloud layout
        (``cloud_xyz``, ``cloud_xyzrgb``): ``.mpoints_per_s``,
        ``.copy_mpoints_per_s`` (a numpy copy of the same bytes) and ``.vs_copy``
        (time ratio); plus ``repeats`` and ``opencv_threads``.

    Raises:
        ValueError: repeats < 1.
        RuntimeError: the node's output differs from bare SGBM in the same-work
            configuration, or it rejected a benchmark pair.
    """
    with opencv_run(repeats, threads) as results:
        for (width, height), disparity_range in (sizes or SIZES).items():
            left, right, truth = benchmark_pair(width, height, disparity_range)
            for name, overrides in CONFIGS.items():
                results |= _bench_config(name, overrides, (left, right), disparity_range, repeats)
            f = _FOCAL_PX * width
            depth = (np.float32(f * _BASELINE_M) / truth).astype(np.float32)
            results |= _bench_cloud(depth, left, f, repeats)
    logger.debug("stereo benchmark: %s", results)
    return results


def format_stereo_report(results: dict[str, float]) -> str:
    """A text table of :func:`run_stereo_benchmark` results.

    Args:
        results: as returned by :func:`run_stereo_benchmark`.

    Returns:
        Multi-line tables: node vs bare SGBM per size and configuration, then cloud
        generation rates.
    """
    found = (re.match(r"stereo_(\d+)x(\d+)\.", key) for key in results)
    sizes = sorted({(int(m.group(1)), int(m.group(2))) for m in found if m is not None})
    lines = [f"{'pair, configuration':<40} {'node ms':>9} {'SGBM ms':>9} {'x SGBM':>7}"]
    for width, height in sizes:
        for name in CONFIGS:
            prefix = f"stereo_{width}x{height}.{name}"
            if f"{prefix}.node_ms" not in results:
                continue
            lines.append(
                f"{prefix:<40} {results[f'{prefix}.node_ms']:>9.2f} "
                f"{results[f'{prefix}.bare_sgbm_ms']:>9.2f} "
                f"{results[f'{prefix}.node_vs_sgbm']:>7.2f}"
            )
    lines.append("")
    lines.append(f"{'cloud (organised)':<40} {'Mpts/s':>9} {'copy':>9} {'x copy':>7}")
    for width, height in sizes:
        for label in ("xyz", "xyzrgb"):
            prefix = f"stereo_{width}x{height}.cloud_{label}"
            if f"{prefix}.mpoints_per_s" not in results:
                continue
            lines.append(
                f"{prefix:<40} {results[f'{prefix}.mpoints_per_s']:>9.1f} "
                f"{results[f'{prefix}.copy_mpoints_per_s']:>9.1f} "
                f"{results[f'{prefix}.vs_copy']:>7.2f}"
            )
    lines += report_footer(
        results,
        "pairs",
        "same_work target <= 1.15; x copy: time over a numpy copy of the same bytes",
    )
    return "\n".join(lines)
