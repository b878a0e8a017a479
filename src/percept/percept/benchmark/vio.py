"""Benchmark of the VIO estimator per stereo frame against a bare ``cv2.calcOpticalFlowPyrLK``.

The sequence is a stereo + IMU bag (the synthetic 640x480, 20 Hz camera, 200 Hz IMU
sequence that ``percept bench vio`` renders once and caches, or any bag with raw stereo
images, their camera_infos, an IMU and /tf_static). All frames are decoded and rectified
before timing: that is the rectify node's cost, not the VIO's.

Each pass runs a fresh :class:`~percept.vio.estimator.VioEstimator` over the whole
sequence with OpenCV and BLAS at one thread (one core): before each frame it is fed the
IMU readings in stamp order until they reach the frame, as they arrive on a robot. Beside
each frame, back to back and alternating which goes first, a bare pyramidal
Lucas-Kanade pass tracks the previous left image's corners into this one with the
tracker's window, pyramid and stopping criteria, on as many corners as the tracker keeps
(``cv2.goodFeaturesToTrack`` on the first frame, detected again when half are lost;
the detection is not timed). The estimator's own ``timings_s`` split each frame into
front end (KLT temporal and stereo tracking, checks, detection), propagation and update
(MSCKF update, cloning, marginalisation; initialisation while it runs); the total is the
wall time of the IMU feeding plus ``feed_stereo``. Only frames with an estimate (after
the start) enter the per-frame statistics; the sequence real-time factor counts every
frame. The real-time factor is the camera period over the time per frame (target >= 3).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from percept import codecs, msgtypes
from percept.benchmark.common import median_ms, opencv_run, paired_ratio, report_footer
from percept.domain import CameraInfo, Image, ImuSample, TransformStamped
from percept.errors import BagError, CodecError, PerceptError
from percept.features.config import FeatureTrackerConfig
from percept.image.convert import convert_image
from percept.io.bag import BagReader, stereo_camera_topics
from percept.io.typestore import get_typestore
from percept.rectify.maps import compute_rectify_maps, rectify_image
from percept.rectify.model import rectified_model
from percept.runtime.tf_buffer import TfBuffer
from percept.stereo.geometry import StereoGeometry
from percept.units import NS_PER_S
from percept.vio.estimator import EstimatorConfig, VioEstimate, VioEstimator

__all__ = [
    "PARTS",
    "VioSequence",
    "format_vio_report",
    "load_vio_sequence",
    "run_vio_benchmark",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
GreyImage = npt.NDArray[np.uint8]

#: The estimator's parts, as in ``VioEstimate.timings_s``.
PARTS = ("front_end", "propagation", "update")
#: Target real-time factor (issue 17).
TARGET_REALTIME = 3.0
#: The bare pass detects corners again when fewer than this share of them remain.
_REDETECT_SHARE = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class VioSequence:
    """A stereo + IMU sequence decoded and rectified for the estimator.

    Attributes:
        name: where it came from (the bag's file name).
        camera: the rectified stereo pair.
        T_imu_cam: (4, 4) float64 pose of the rectified left optical frame in the IMU
            frame.
        stamps_ns: (F,) int64 frame stamps, increasing.
        left: F rectified (H, W) uint8 left images.
        right: F rectified (H, W) uint8 right images.
        imu: IMU readings in stamp order (strictly increasing stamps).
    """

    name: str
    camera: StereoGeometry
    T_imu_cam: FloatArray
    stamps_ns: npt.NDArray[np.int64]
    left: Sequence[GreyImage]
    right: Sequence[GreyImage]
    imu: Sequence[ImuSample]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the rectified images."""
        h, w = self.left[0].shape
        return w, h

    @property
    def camera_period_s(self) -> float:
        """Median time between frames, seconds."""
        return float(np.median(np.diff(self.stamps_ns))) / NS_PER_S

    @property
    def imu_rate_hz(self) -> float:
        """Median IMU rate, Hz."""
        stamps = np.array([s.header.stamp_ns for s in self.imu], dtype=np.int64)
        return NS_PER_S / float(np.median(np.diff(stamps)))


def _grey(image: Image, topic: str) -> GreyImage:
    """mono8 of an image, as cv_bridge converts it."""
    try:
        return np.ascontiguousarray(convert_image(image, "mono8").data, dtype=np.uint8)
    except CodecError as err:
        msg = f"{topic}: {err}"
        raise BagError(msg) from err


def load_vio_sequence(bag: Path | str, seconds: float | None = None) -> VioSequence:
    """Read, decode and rectify a bag's stereo pairs and IMU for the benchmark.

    Args:
        bag: a bag with raw left/right images and their camera_infos, a
            sensor_msgs/Imu topic and /tf_static (IMU and left camera frames).
        seconds: read only this much from the bag's start (None: all of it).

    Returns:
        The rectified frames (stamps present on both sides), the IMU readings and the
        camera-IMU extrinsics.

    Raises:
        BagError: the bag lacks a stereo pair, an IMU, camera_infos or the
            transform, or has fewer than two frames.
    """
    path = Path(bag)
    with BagReader(path) as reader:
        topics = reader.topics()
        l_img, l_info, r_img, r_info = stereo_camera_topics(topics)
        imus = sorted(t for t, ty in topics.items() if ty == msgtypes.IMU)
        if not imus:
            msg = f"{path}: no sensor_msgs/Imu topic"
            raise BagError(msg)
        stop_ns = None if seconds is None else reader.start_ns + round(seconds * NS_PER_S) + 1
        wanted = [l_img, l_info, r_img, r_info, imus[0], "/tf_static"]
        tf = TfBuffer()
        infos: dict[str, CameraInfo] = {}
        raw: dict[str, dict[int, Image]] = {l_img: {}, r_img: {}}
        imu: dict[int, ImuSample] = {}
        for obj in _decoded_topics(reader, wanted, stop_ns):
            topic, value = obj
            if isinstance(value, ImuSample):
                imu.setdefault(value.header.stamp_ns, value)
            elif isinstance(value, CameraInfo):
                infos.setdefault(topic, value)
            elif isinstance(value, Image):
                raw[topic][value.header.stamp_ns] = value
            elif isinstance(value, list | tuple):
                for tr in value:
                    if isinstance(tr, TransformStamped):
                        tf.set_transform(tr, "bag", static=True)
    if l_info not in infos or r_info not in infos or not imu:
        msg = f"{path}: camera_info of both cameras and IMU readings are needed"
        raise BagError(msg)
    stamps = sorted(set(raw[l_img]) & set(raw[r_img]))
    if len(stamps) < 2:
        msg = f"{path}: {len(stamps)} stereo frame(s); the benchmark needs at least 2"
        raise BagError(msg)
    left_model, right_model = infos[l_info].model, infos[r_info].model
    camera = StereoGeometry.from_models(rectified_model(left_model), rectified_model(right_model))
    maps_l, maps_r = compute_rectify_maps(left_model), compute_rectify_maps(right_model)
    first = raw[l_img][stamps[0]]
    samples = [imu[s] for s in sorted(imu)]
    imu_frame = samples[0].header.frame_id
    cam_frame = first.header.frame_id or infos[l_info].header.frame_id
    try:
        T_imu_cam_raw = tf.lookup_transform(imu_frame, cam_frame, 0).as_matrix()
    except PerceptError as err:
        msg = f"{path}: no transform {imu_frame} <- {cam_frame} in /tf_static: {err}"
        raise BagError(msg) from err
    # The estimator sees the rectified left camera, turned by R from the raw one.
    T_raw_rect = np.eye(4)
    T_raw_rect[:3, :3] = np.asarray(left_model.R, dtype=np.float64).reshape(3, 3).T
    left = [
        np.asarray(rectify_image(_grey(raw[l_img][s], l_img), maps_l), np.uint8) for s in stamps
    ]
    right = [
        np.asarray(rectify_image(_grey(raw[r_img][s], r_img), maps_r), np.uint8) for s in stamps
    ]
    return VioSequence(
        path.name,
        camera,
        T_imu_cam_raw @ T_raw_rect,
        np.array(stamps, dtype=np.int64),
        left,
        right,
        samples,
    )


def _decoded_topics(
    reader: BagReader, topics: Sequence[str], stop_ns: int | None
) -> Iterator[tuple[str, object]]:
    """(topic, domain object) of each decodable message up to ``stop_ns``."""
    store = get_typestore()
    for m in reader.messages(topics, stop_ns=stop_ns):
        try:
            raw = m.msg if m.raw is None else store.deserialize_cdr(m.raw, m.msgtype)
            yield m.topic, codecs.decode(m.msgtype, raw)
        except PerceptError as err:
            logger.warning("%s: skipped a malformed %s message: %s", reader.path, m.topic, err)


class _BareLk:
    """Frame-to-frame KLT of the left images with the tracker's settings, nothing else."""

    def __init__(self, cfg: FeatureTrackerConfig) -> None:
        self._cfg = cfg
        self._win = (cfg.klt_window_px, cfg.klt_window_px)
        self._criteria = (
            cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
            cfg.klt_max_iterations,
            cfg.klt_epsilon_px,
        )
        self._prev: GreyImage | None = None
        self._pts = np.empty((0, 1, 2), np.float32)
        self.corners: list[int] = []

    def _detect(self, image: GreyImage) -> None:
        cfg = self._cfg
        pts = cv2.goodFeaturesToTrack(
            image,
            maxCorners=cfg.num_features,
            qualityLevel=cfg.gftt_quality_level,
            minDistance=max(cfg.min_distance_px, 1.0),
        )
        self._pts = np.empty((0, 1, 2), np.float32) if pts is None else pts.astype(np.float32)

    def step(self, image: GreyImage) -> float:
        """Track the previous corners into ``image``; seconds of the LK call (0: first)."""
        if self._prev is None or self._pts.shape[0] == 0:
            self._prev = image
            self._detect(image)
            return 0.0
        self.corners.append(int(self._pts.shape[0]))
        start = time.perf_counter()
        nxt, status, _err = cv2.calcOpticalFlowPyrLK(
            self._prev,
            image,
            self._pts,
            None,
            winSize=self._win,
            maxLevel=self._cfg.klt_pyramid_levels,
            criteria=self._criteria,
        )
        elapsed = time.perf_counter() - start
        kept = nxt[status.reshape(-1).astype(bool)] if nxt is not None else self._pts[:0]
        self._prev = image
        if kept.shape[0] < _REDETECT_SHARE * self._cfg.num_features:
            self._detect(image)
        else:
            self._pts = np.ascontiguousarray(kept.reshape(-1, 1, 2), dtype=np.float32)
        return elapsed


@dataclass
class _PassTimes:
    """Per-frame seconds of all passes; parts and pairs only for frames with an estimate."""

    parts: dict[str, list[float]]
    total: list[float]
    imu_feed: list[float]
    bare: list[float]
    features: list[int] = field(default_factory=list)
    corners: list[int] = field(default_factory=list)
    every_frame_s: float = 0.0
    frames: int = 0
    estimates: int = 0
    resets: int = 0


class _VioFeed:
    """One estimator over a sequence, fed the IMU in stamp order up to each frame."""

    def __init__(self, seq: VioSequence, config: EstimatorConfig) -> None:
        self.seq = seq
        self.estimator = VioEstimator(seq.camera, seq.T_imu_cam, config)
        self._imu = iter(seq.imu)
        self._next: ImuSample | None = next(self._imu, None)

    def frame(self, i: int) -> tuple[float, float, VioEstimate | None] | None:
        """(total s, IMU feeding s, estimate) of frame ``i``; None: the IMU ends first."""
        est, stamp = self.estimator, int(self.seq.stamps_ns[i])
        start = time.perf_counter()
        while self._next is not None and not est.imu_covers(stamp):
            est.feed_imu(self._next)
            self._next = next(self._imu, None)
        fed = time.perf_counter()
        if not est.imu_covers(stamp):
            return None
        result = est.feed_stereo(stamp, self.seq.left[i], self.seq.right[i])
        return time.perf_counter() - start, fed - start, result


def _one_pass(seq: VioSequence, config: EstimatorConfig, out: _PassTimes) -> None:
    vio = _VioFeed(seq, config)
    lk = _BareLk(config.tracker)
    for i in range(seq.stamps_ns.shape[0]):
        # Alternate which goes first, so that neither always finds the pixels in cache.
        if i % 2:
            step = vio.frame(i)
            bare = lk.step(seq.left[i])
        else:
            bare = lk.step(seq.left[i])
            step = vio.frame(i)
        if step is None:
            break
        total, imu_s, result = step
        out.frames += 1
        out.every_frame_s += total
        if result is None or bare == 0.0:
            continue  # starting (no estimate), or the bare pass's first frame
        out.estimates += 1
        for part in PARTS:
            out.parts[part].append(float(result.timings_s.get(part, 0.0)))
        out.total.append(total)
        out.imu_feed.append(imu_s)
        out.bare.append(bare)
        if result.features is not None:
            out.features.append(len(result.features))
    out.resets += vio.estimator.resets
    out.corners += lk.corners


def _p90_ms(times: Sequence[float]) -> float:
    return float(np.percentile(np.asarray(times), 90.0)) * 1e3


def run_vio_benchmark(
    sequence: VioSequence,
    repeats: int = 3,
    threads: int | None = 1,
    config: EstimatorConfig | None = None,
) -> dict[str, float]:
    """Time the estimator per stereo frame against a bare KLT pass (module docstring).

    Args:
        sequence: from :func:`load_vio_sequence`.
        repeats: passes over the sequence, each with a fresh estimator.
        threads: OpenCV threads (restored afterwards), None for OpenCV's default; BLAS
            runs at ``config.blas_threads`` (the estimator's own limit, 1 by default),
            and at one thread outside the estimator.
        config: the estimator's settings (default ``EstimatorConfig()``).

    Returns:
        Flat mapping, keys ``vio_<W>x<H>.<name>``: ``<part>_ms`` and ``<part>_p90_ms``
        (median and 90th percentile per frame with an estimate) for each part of
        ``PARTS``, ``imu_feed`` (feeding the readings) and ``total`` (IMU feed plus
        ``feed_stereo``); ``<part>_share`` (share of the median total); ``fps``;
        ``realtime_factor`` (camera period over the median total); ``sequence_realtime``
        (sequence duration over the time of all its frames, the start included);
        ``bare_lk_ms``, ``bare_lk_p90_ms``, ``bare_lk_corners`` (median corners tracked);
        ``front_end_vs_lk`` and ``total_vs_lk`` (medians of the per-frame paired
        ratios); ``frames``, ``estimates`` (per pass), ``features`` (median tracked),
        ``resets`` (all passes), ``camera_rate_hz``, ``imu_rate_hz``; plus
        ``repeats``, ``opencv_threads`` and ``blas_threads``.

    Raises:
        ValueError: repeats < 1.
        RuntimeError: the estimator gave no estimate in the sequence.
    """
    cfg = config if config is not None else EstimatorConfig()
    blas = cfg.blas_threads if cfg.blas_threads > 0 else 1
    times = _PassTimes({p: [] for p in PARTS}, [], [], [])
    with opencv_run(repeats, threads) as results, threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeats):
            _one_pass(sequence, cfg, times)
        results["blas_threads"] = float(blas)
    if not times.total:
        msg = f"{sequence.name}: the estimator gave no estimate in {times.frames} frames"
        raise RuntimeError(msg)
    w, h = sequence.size
    prefix = f"vio_{w}x{h}"
    period_s = sequence.camera_period_s
    series = {**times.parts, "imu_feed": times.imu_feed, "total": times.total}
    total_ms = median_ms(times.total)
    for name, values in series.items():
        results[f"{prefix}.{name}_ms"] = median_ms(values)
        results[f"{prefix}.{name}_p90_ms"] = _p90_ms(values)
    for part in PARTS:
        results[f"{prefix}.{part}_share"] = median_ms(times.parts[part]) / total_ms
    results |= {
        f"{prefix}.fps": 1e3 / total_ms,
        f"{prefix}.realtime_factor": period_s * 1e3 / total_ms,
        f"{prefix}.sequence_realtime": times.frames * period_s / times.every_frame_s,
        f"{prefix}.bare_lk_ms": median_ms(times.bare),
        f"{prefix}.bare_lk_p90_ms": _p90_ms(times.bare),
        f"{prefix}.bare_lk_corners": float(statistics.median(times.corners or [0])),
        f"{prefix}.front_end_vs_lk": paired_ratio(times.parts["front_end"], times.bare),
        f"{prefix}.total_vs_lk": paired_ratio(times.total, times.bare),
        f"{prefix}.frames": times.frames / repeats,
        f"{prefix}.estimates": times.estimates / repeats,
        f"{prefix}.features": float(statistics.median(times.features or [0])),
        f"{prefix}.resets": float(times.resets),
        f"{prefix}.camera_rate_hz": 1.0 / period_s,
        f"{prefix}.imu_rate_hz": sequence.imu_rate_hz,
    }
    logger.debug("vio benchmark: %s", results)
    return results


def format_vio_report(results: Mapping[str, float]) -> str:
    """A text table of :func:`run_vio_benchmark` results.

    Args:
        results: as returned by :func:`run_vio_benchmark`.

    Returns:
        Multi-line table: one row per part (median ms, p90 ms, share), the bare KLT
        pass and the ratios, then frames per second and the real-time factors.
    """
    prefixes = sorted({k.split(".")[0] for k in results if k.startswith("vio_")})
    lines: list[str] = []
    for prefix in prefixes:
        r = {k.split(".", 1)[1]: v for k, v in results.items() if k.startswith(prefix + ".")}
        lines.append(f"{prefix + ' per frame':<26} {'median ms':>10} {'p90 ms':>10} {'share':>7}")
        for part in (*PARTS, "imu_feed", "total"):
            share = f"{r[f'{part}_share']:>7.0%}" if part in PARTS else f"{'':>7}"
            lines.append(
                f"{part:<26} {r[f'{part}_ms']:>10.2f} {r[f'{part}_p90_ms']:>10.2f} {share}"
            )
        lines.append(
            f"{'bare calcOpticalFlowPyrLK':<26} {r['bare_lk_ms']:>10.2f} "
            f"{r['bare_lk_p90_ms']:>10.2f}"
        )
        dominant = max(PARTS, key=lambda p: r[f"{p}_share"])
        lines += [
            f"front end / bare LK {r['front_end_vs_lk']:.1f}x, total / bare LK "
            f"{r['total_vs_lk']:.1f}x (paired medians; {r['features']:.0f} VIO features, "
            f"{r['bare_lk_corners']:.0f} LK corners)",
            f"{r['fps']:.1f} frames/s; real-time factor {r['realtime_factor']:.2f}x at "
            f"{r['camera_rate_hz']:.0f} Hz camera, {r['imu_rate_hz']:.0f} Hz IMU "
            f"(whole sequence, start included: {r['sequence_realtime']:.2f}x); "
            f"dominant: {dominant}",
            f"{r['estimates']:.0f} of {r['frames']:.0f} frames with an estimate per pass, "
            f"{r['resets']:.0f} resets",
        ]
    notes = (
        f"BLAS threads {int(results.get('blas_threads', 0))}; "
        f"target real-time factor >= {TARGET_REALTIME:g}"
    )
    lines += report_footer(results, "passes", notes)
    return "\n".join(lines)
