"""``percept eval``: score what a run published against ground truth, or score files.

A run bag (``percept replay`` output) is matched to ground truth carried in a second
bag (``percept synth`` output) or in the run bag itself, topic by topic:

=================  ===============================  ==================================
metric             run topic (first found)          ground-truth topic
=================  ===============================  ==================================
trajectory         ``/odom``, ``/vio/odometry``...   ``/ground_truth/pose`` (or odom)
disparity, depth   ``/disparity``, ``/depth``...     ``/ground_truth/depth`` (32FC1 m)
detection          ``/detections``                  ``/ground_truth/detections_2d``
tracking           ``/detections`` (track ids)      ``/ground_truth/detections_2d``
detection_3d       ``/detections_3d``               ``/ground_truth/left/detections_3d``
map                ``/map``                         ``/ground_truth/map``
latency            ``/diagnostics``                 -
=================  ===============================  ==================================

Names can be overridden per key (``EvalConfig.with_topics``); a namespaced topic
(``/robot1/odom``) is found by its last name when it is the only one of its type. A
metric whose topics are absent is skipped and the reason recorded: nothing is made up.
Frames are paired by header stamp; images are streamed and scored as pairs complete, so
memory holds the frames waiting for a partner (few when the bags interleave in time) and
the worst-frame thumbnails kept for the report.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import (
    CameraInfo,
    Detection2DArray,
    Detection3DArray,
    DiagnosticArray,
    Disparity,
    Image,
    OccupancyGrid,
    Odometry,
    PoseStamped,
)
from percept.errors import CodecError, ConfigError, EvalError
from percept.eval.detection import (
    BoxSet,
    CocoGroundTruth,
    CocoMetrics,
    CocoParams,
    coco_from_detection_arrays,
    evaluate_coco,
    load_coco_detections,
    load_coco_ground_truth,
)
from percept.eval.detection3d import (
    DEFAULT_RANGE_EDGES_M,
    Detection3DMetrics,
    evaluate_detections_3d,
)
from percept.eval.disparity import (
    DEFAULT_BANDS_M,
    DEFAULT_THRESHOLDS_PX,
    DepthBand,
    DisparityMetrics,
    depth_error_by_band,
    disparity_metrics,
    read_disparity,
    rectify_depth,
)
from percept.eval.latency import NodeLatency, latency_from_diagnostics
from percept.eval.occupancy import OccupancyMetrics, occupancy_metrics, resample_grid
from percept.eval.tracking import TrackingMetrics, evaluate_tracking
from percept.eval.trajectory import (
    Trajectory,
    TrajectoryEvalConfig,
    TrajectoryFormat,
    TrajectoryMetrics,
    evaluate_trajectory,
    read_trajectory,
)
from percept.geometry.camera import CameraModel
from percept.image import convert_image
from percept.io.bag import BagMessage, BagReader
from percept.io.typestore import get_typestore

__all__ = [
    "DEFAULT_TOPICS",
    "EvalConfig",
    "EvalResult",
    "FrameScore",
    "Shot",
    "evaluate",
    "evaluate_batch",
    "resolve_topics",
    "score_coco_files",
    "score_disparity_files",
    "score_trajectory_files",
]

logger = logging.getLogger(__name__)
_NS = 1_000_000_000

#: Run-side and ground-truth topic candidates per key, first found wins.
DEFAULT_TOPICS: dict[str, tuple[str, ...]] = {
    "odometry": ("/odom", "/vio/odometry", "/odometry", "/vio/odom"),
    "gt_pose": ("/ground_truth/pose", "/ground_truth/odom", "/ground_truth/odometry"),
    "disparity": ("/disparity", "/stereo/disparity"),
    "depth": ("/depth", "/stereo/depth", "/depth/image_raw", "/depth/image_rect"),
    "gt_depth": ("/ground_truth/left/depth", "/ground_truth/depth"),
    "detections": ("/detections",),
    "gt_detections": (
        "/ground_truth/left/detections_2d",
        "/ground_truth/detections_2d",
        "/ground_truth/detections",
    ),
    "detections_3d": ("/detections_3d",),
    "gt_detections_3d": (
        "/ground_truth/left/detections_3d",
        "/ground_truth/detections_3d",
    ),
    "map": ("/map",),
    "gt_map": ("/ground_truth/map",),
    "image": (
        "/stereo/left/image_rect_color",
        "/stereo/left/image_rect",
        "/left/image_rect_color",
        "/left/image_rect",
        "/left/image_raw",
        "/camera/image_color",
        "/camera/image_raw",
        "/stereo/left/image_raw",
    ),
    "camera_info": ("/stereo/left/camera_info", "/left/camera_info", "/camera/camera_info"),
    "diagnostics": ("/diagnostics",),
}

_TYPES: dict[str, frozenset[str]] = {
    "odometry": frozenset({codecs.ODOMETRY, codecs.POSE_STAMPED}),
    "gt_pose": frozenset({codecs.ODOMETRY, codecs.POSE_STAMPED}),
    "disparity": frozenset({codecs.DISPARITY_IMAGE}),
    "depth": frozenset({codecs.IMAGE}),
    "gt_depth": frozenset({codecs.IMAGE}),
    "detections": frozenset({codecs.DETECTION2D_ARRAY}),
    "gt_detections": frozenset({codecs.DETECTION2D_ARRAY}),
    "detections_3d": frozenset({codecs.DETECTION3D_ARRAY}),
    "gt_detections_3d": frozenset({codecs.DETECTION3D_ARRAY}),
    "map": frozenset({codecs.OCCUPANCY_GRID}),
    "gt_map": frozenset({codecs.OCCUPANCY_GRID}),
    "image": frozenset({codecs.IMAGE}),
    "camera_info": frozenset({codecs.CAMERA_INFO}),
    "diagnostics": frozenset({codecs.DIAGNOSTIC_ARRAY}),
}
_GT_KEYS = frozenset({"gt_pose", "gt_depth", "gt_detections", "gt_detections_3d", "gt_map"})
_GT_PREFIX = "/ground_truth/"
_THUMB_WIDTH = 320


# --------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """What ``evaluate`` scores and how.

    Attributes:
        topics: key -> candidate topic names (see ``DEFAULT_TOPICS``).
        trajectory: association, alignment and RPE settings.
        thresholds_px: disparity bad-pixel thresholds.
        depth_bands_m: [lo, hi) bands of true depth for the relative depth error.
        coco: COCO evaluation parameters.
        frame_max_diff_ns: largest stamp difference of a paired image/detection frame.
        occupied_min: smallest occupied OccupancyGrid value.
        free_max: largest free OccupancyGrid value.
        speed_edges_m_s: lower edges of the speed bands, m/s (last band open).
        brightness_edges: lower edges of the image brightness bands, 0..255.
        worst_frames: worst frames kept per metric for the failure analysis.
        join_window_ns: how far in stamp time a frame waits for its partner.
        track_max_iou_distance: tracking: largest ``1 - IoU`` of a match (0.5: IoU >= 0.5).
        match_same_class: tracking and 3D: match only detections of the same class.
        gate_3d_m: 3D: largest centre distance of a match, metres.
        range_edges_3d_m: 3D: lower edges of the bands of true depth, m (last band open).
        detections_3d_rectified: 3D: the run's boxes are in the rectified camera (depth
            from stereo_depth, registered to the rectified image) under the raw camera's
            frame_id; ground truth is rotated by the camera_info's R. False: raw camera.
    """

    topics: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_TOPICS))
    trajectory: TrajectoryEvalConfig = field(default_factory=TrajectoryEvalConfig)
    thresholds_px: tuple[float, ...] = DEFAULT_THRESHOLDS_PX
    depth_bands_m: tuple[tuple[float, float], ...] = DEFAULT_BANDS_M
    coco: CocoParams = field(default_factory=CocoParams)
    frame_max_diff_ns: int = 1_000_000
    occupied_min: int = 65
    free_max: int = 25
    speed_edges_m_s: tuple[float, ...] = (0.0, 0.3, 1.0)
    brightness_edges: tuple[float, ...] = (0.0, 60.0, 180.0)
    worst_frames: int = 5
    join_window_ns: int = 10 * _NS
    track_max_iou_distance: float = 0.5
    match_same_class: bool = True
    gate_3d_m: float = 1.0
    range_edges_3d_m: tuple[float, ...] = DEFAULT_RANGE_EDGES_M
    detections_3d_rectified: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.topics) - set(_TYPES)
        if unknown:
            msg = f"unknown topic keys {sorted(unknown)}; known: {sorted(_TYPES)}"
            raise ConfigError(msg)
        if self.frame_max_diff_ns < 0 or self.join_window_ns <= 0 or self.worst_frames < 0:
            msg = "frame_max_diff_ns >= 0, join_window_ns > 0 and worst_frames >= 0 required"
            raise ConfigError(msg)
        if not 0 < self.track_max_iou_distance <= 1 or not self.gate_3d_m > 0:
            msg = "track_max_iou_distance in (0, 1] and gate_3d_m > 0 required"
            raise ConfigError(msg)
        for name in ("speed_edges_m_s", "brightness_edges", "range_edges_3d_m"):
            edges = getattr(self, name)
            if not edges or list(edges) != sorted(edges):
                msg = f"{name} must be ascending, got {edges}"
                raise ConfigError(msg)

    def with_topics(self, overrides: Mapping[str, str]) -> EvalConfig:
        """A copy where each key in ``overrides`` uses exactly that topic.

        Raises:
            ConfigError: an unknown key.
        """
        unknown = set(overrides) - set(_TYPES)
        if unknown:
            msg = f"--topic: unknown keys {sorted(unknown)}; known: {', '.join(sorted(_TYPES))}"
            raise ConfigError(msg)
        topics = {**self.topics, **{k: (v,) for k, v in overrides.items()}}
        return dataclasses.replace(self, topics=topics)


def resolve_topics(
    available: Mapping[str, str],
    keys: Iterable[str],
    candidates: Mapping[str, tuple[str, ...]],
) -> tuple[dict[str, str], dict[str, str]]:
    """Pick the topic for each key among those a bag has.

    A candidate is taken when the bag has it with a fitting type; otherwise a single
    topic of fitting type whose name ends with a candidate's name (a namespace in
    front). Run keys never pick ``/ground_truth/`` topics.

    Args:
        available: topic -> message type of a bag.
        keys: keys to resolve.
        candidates: key -> candidate names.

    Returns:
        (key -> topic for the keys found, key -> why not for the others).
    """
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    for key in keys:
        types = _TYPES[key]
        names = candidates.get(key, ())
        fitting = {
            t
            for t, ty in available.items()
            if ty in types and (key in _GT_KEYS or not t.startswith(_GT_PREFIX))
        }
        exact = [n for n in names if n in fitting]
        if exact:
            found[key] = exact[0]
            continue
        wrong = [f"{n} ({available[n]})" for n in names if n in available]
        suffix: set[str] = set()
        for name in names:
            tail = "/" + name.strip("/")
            suffix |= {t for t in fitting if t.endswith(tail)}
        if len(suffix) == 1:
            found[key] = suffix.pop()
        elif suffix:
            missing[key] = f"ambiguous: {', '.join(sorted(suffix))} (pick one with --topic)"
        elif wrong:
            missing[key] = f"wrong type: {', '.join(wrong)}; expected {' or '.join(sorted(types))}"
        else:
            missing[key] = f"no topic {' / '.join(names) or '(none configured)'}"
    return found, missing


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class FrameScore:
    """Scores of one frame (image or detection frame), for worst-frame lists and splits."""

    stamp_ns: int
    values: dict[str, float]


@dataclass(frozen=True, slots=True, eq=False)
class Shot:
    """Pictures data of one frame for the report.

    Attributes:
        stamp_ns: the frame's stamp (0 for a single file).
        title: what it shows (``worst bad-2``, ``first frame``).
        value: the score it was picked by (NaN for samples).
        arrays: name -> small array: ``disparity``/``gt_disparity`` (px), ``depth``/
            ``gt_depth`` (m), float32, Inf unknown; ``image`` uint8 bgr8.
        image_id: the detection image it shows (COCO id), None for other pictures.
    """

    stamp_ns: int
    title: str
    value: float
    arrays: dict[str, npt.NDArray[np.generic]] = field(default_factory=dict)
    image_id: int | None = None


@dataclass(eq=False)
class EvalResult:
    """Everything ``percept eval`` found, for metrics.json and the report.

    Attributes:
        run: what was scored (bag or file).
        ground_truth: against what.
        mode: ``bag``, ``trajectory``, ``coco`` or ``disparity``.
        topics: key -> topic used (bag mode).
        skipped: metric -> why it was not computed.
        notes: other remarks (frames without partner, resampled maps...).
        trajectory: ATE/RPE, if scored.
        disparity: disparity scores pooled over frames, if scored.
        depth_bands: depth error per range band pooled over frames.
        depth_source: what the depth estimate came from.
        frames: family (``depth``, ``detection``) -> per-frame scores.
        detection: COCO metrics, if scored.
        detection_truth: the detection ground truth (for overlays).
        detection_boxes: the scored detections (for overlays).
        tracking: CLEAR MOT / IDF1 of the tracked detections, if scored.
        detection_3d: 3D centre error by range band, if scored.
        occupancy: map scores, if scored.
        maps: (estimate resampled onto the ground truth grid, ground truth).
        latency: node -> latency summary.
        conditions: condition -> metric -> per-band rows.
        shots: picture group -> frames to draw.
    """

    run: str
    ground_truth: str
    mode: str = "bag"
    topics: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    trajectory: TrajectoryMetrics | None = None
    disparity: DisparityMetrics | None = None
    depth_bands: list[DepthBand] = field(default_factory=list)
    depth_source: str = ""
    frames: dict[str, list[FrameScore]] = field(default_factory=dict)
    detection: CocoMetrics | None = None
    detection_truth: CocoGroundTruth | None = None
    detection_boxes: BoxSet | None = None
    tracking: TrackingMetrics | None = None
    detection_3d: Detection3DMetrics | None = None
    occupancy: OccupancyMetrics | None = None
    maps: tuple[npt.NDArray[np.int8], OccupancyGrid] | None = None
    latency: dict[str, NodeLatency] = field(default_factory=dict)
    conditions: dict[str, dict[str, list[dict[str, object]]]] = field(default_factory=dict)
    shots: dict[str, list[Shot]] = field(default_factory=dict)

    def worst(self, family: str, metric: str, count: int) -> list[FrameScore]:
        """The ``count`` frames of a family with the highest ``metric``.

        Trajectory poses come many per second: picks there are at least a twentieth of
        the sequence (and 1 s) apart, so that one bad moment is listed once.
        """
        rows = [
            f for f in self.frames.get(family, []) if math.isfinite(f.values.get(metric, math.nan))
        ]
        rows.sort(key=lambda f: (-f.values[metric], f.stamp_ns))
        if family != "trajectory" or not rows:
            return rows[:count]
        stamps = [f.stamp_ns for f in rows]
        gap = max(_NS, (max(stamps) - min(stamps)) // 20)
        picked: list[FrameScore] = []
        for f in rows:
            if all(abs(f.stamp_ns - p.stamp_ns) >= gap for p in picked):
                picked.append(f)
                if len(picked) == count:
                    break
        return picked

    def metrics(self) -> dict[str, object]:
        """The metrics.json document (NaN and Inf written as null)."""
        doc: dict[str, object] = {
            "run": self.run,
            "ground_truth": self.ground_truth,
            "mode": self.mode,
        }
        if self.topics:
            doc["topics"] = dict(sorted(self.topics.items()))
        if self.trajectory is not None:
            doc["trajectory"] = self.trajectory.as_dict()
        if self.disparity is not None:
            doc["disparity"] = {
                **self.disparity.as_dict(),
                "frames": len(self.frames.get("depth", [])),
            }
        if self.depth_bands:
            doc["depth_by_range"] = {
                "source": self.depth_source,
                **{b.name: b.as_dict() for b in self.depth_bands},
            }
        if self.detection is not None:
            doc["detection"] = self.detection.as_dict()
        if self.tracking is not None:
            doc["tracking"] = self.tracking.as_dict()
        if self.detection_3d is not None:
            doc["detection_3d"] = self.detection_3d.as_dict()
        if self.occupancy is not None:
            doc["occupancy"] = self.occupancy.as_dict()
        if self.latency:
            doc["latency"] = {name: n.as_dict() for name, n in self.latency.items()}
        if self.conditions:
            doc["conditions"] = self.conditions
        worst = _worst_lists(self)
        if worst:
            doc["worst_frames"] = worst
        if self.skipped:
            doc["skipped"] = dict(sorted(self.skipped.items()))
        if self.notes:
            doc["notes"] = list(self.notes)
        cleaned = _jsonable(doc)
        assert isinstance(cleaned, dict)
        return cleaned


#: family -> metrics whose worst frames are listed (highest = worst).
WORST_METRICS: dict[str, tuple[str, ...]] = {
    "depth": ("bad_2_total_pct", "epe_px", "abs_rel_mean"),
    "detection": ("errors",),
    "tracking": ("switches",),
    "trajectory": ("ate_m",),
}


def _worst_lists(result: EvalResult) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for family, metrics in WORST_METRICS.items():
        for metric in metrics:
            rows = result.worst(family, metric, 10)
            if rows:
                out[f"{family}.{metric}"] = [
                    {"stamp_s": f.stamp_ns / _NS, **f.values} for f in rows
                ]
    return out


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- decoding


def _decode(m: BagMessage) -> object:
    msg = m.msg if m.raw is None else get_typestore().deserialize_cdr(m.raw, m.msgtype)
    return codecs.decode(m.msgtype, msg)


def _depth_m(image: Image) -> npt.NDArray[np.float32]:
    """Depth image to float32 metres, Inf where unknown (0, NaN, Inf)."""
    data = np.asarray(image.data)
    if data.ndim != 2:
        msg = f"depth image must have one channel, got encoding {image.encoding}"
        raise EvalError(msg)
    if image.encoding in ("16UC1", "mono16"):
        depth = data.astype(np.float32) / np.float32(1000.0)  # REP 118: millimetres
    elif image.encoding in ("32FC1", "64FC1"):
        depth = data.astype(np.float32)
    else:
        msg = f"depth image encoding must be 32FC1 (m) or 16UC1 (mm), got {image.encoding}"
        raise EvalError(msg)
    depth[~(np.isfinite(depth) & (depth > 0))] = np.inf
    out: npt.NDArray[np.float32] = depth
    return out


def _disparity_px(disp: Disparity) -> npt.NDArray[np.float32]:
    """Disparity to float32 pixels, Inf where invalid (below min_disparity, non-finite)."""
    d = np.asarray(disp.image, dtype=np.float32).copy()
    d[~(np.isfinite(d) & (d >= disp.min_disparity) & (d > 0))] = np.inf
    out: npt.NDArray[np.float32] = d
    return out


def _thumb(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """Downscale (nearest, so Inf stays Inf) to at most _THUMB_WIDTH columns."""
    h, w = array.shape[:2]
    if w <= _THUMB_WIDTH:
        return np.ascontiguousarray(array)
    size = (_THUMB_WIDTH, max(1, round(h * _THUMB_WIDTH / w)))
    out: npt.NDArray[np.generic] = cv2.resize(
        np.asarray(array),
        size,
        interpolation=cv2.INTER_NEAREST,  # type: ignore[call-overload]
    )
    return out


def _is_identity_rectification(model: CameraModel) -> bool:
    """True when raw and rectified pixels coincide (no distortion, R = I, P = K)."""
    return bool(
        (model.D.size == 0 or not np.any(model.D))
        and np.allclose(model.R, np.eye(3))
        and np.allclose(model.P[:, :3], model.K)
    )


def _first_camera_info(reader: BagReader, topic: str) -> CameraInfo | None:
    """The first decodable camera_info of ``topic`` (calibration does not change)."""
    for m in reader.messages([topic]):
        try:
            info = _decode(m)
        except CodecError:
            continue
        if isinstance(info, CameraInfo) and info.model.is_calibrated:
            return info
    return None


def _brightness(image: Image) -> float:
    data = np.asarray(image.data)
    if data.dtype != np.uint8 or image.encoding.startswith("bayer"):
        data = convert_image(image, "mono8").data  # type: ignore[assignment]
    return float(np.mean(data[::4, ::4]))


# --------------------------------------------------------------------------- streaming


class _Join:
    """Pairs ground-truth and run frames by header stamp while the bags stream.

    A frame waits in its side's pool until a frame of the other side has the same stamp
    (within ``max_diff_ns``). Once the other side has moved ``window_ns`` past it in
    stamp time (stamps per side increase), it cannot be paired any more and is dropped,
    so the pools stay small when the two bags interleave.
    """

    def __init__(self, max_diff_ns: int, window_ns: int) -> None:
        self.max_diff_ns = max_diff_ns
        self.window_ns = window_ns
        self.pools: dict[str, dict[int, object]] = {"gt": {}, "run": {}}
        self.unmatched = {"gt": 0, "run": 0}

    def add(self, side: str, stamp: int, obj: object) -> tuple[object, object] | None:
        """Add a frame of ``side`` (``gt`` or ``run``); returns (gt, run) when paired."""
        other_side = "run" if side == "gt" else "gt"
        other = self.pools[other_side]
        stale = [s for s in other if s < stamp - self.window_ns]
        for s in stale:
            del other[s]
        self.unmatched[other_side] += len(stale)
        match = stamp if stamp in other else min(other, key=lambda s: abs(s - stamp), default=None)
        if match is not None and abs(match - stamp) <= self.max_diff_ns:
            partner = other.pop(match)
            return (obj, partner) if side == "gt" else (partner, obj)
        self.pools[side][stamp] = obj
        return None

    def finish(self) -> None:
        """Count what is left as unmatched."""
        for side, pool in self.pools.items():
            self.unmatched[side] += len(pool)
            pool.clear()


@dataclass
class _DepthState:
    """Per-frame depth/disparity scoring while streaming."""

    config: EvalConfig
    camera: CameraInfo | None = None
    frames: list[FrameScore] = field(default_factory=list)
    disparity: list[DisparityMetrics] = field(default_factory=list)
    bands: list[list[DepthBand]] = field(default_factory=list)
    worst: list[tuple[float, int, int, Shot]] = field(default_factory=list)
    first: Shot | None = None
    shape_mismatch: int = 0
    undecodable: int = 0
    rectified: int = 0
    frame_mismatch: int = 0

    def _ground_truth(self, image: Image) -> npt.NDArray[np.float32]:
        """True depth in the frame the run's estimate is in (rectified when calibrated)."""
        z = _depth_m(image)
        cam = self.camera
        if cam is None or _is_identity_rectification(cam.model):
            return z
        if cam.header.frame_id and image.header.frame_id != cam.header.frame_id:
            self.frame_mismatch += 1
            return z
        self.rectified += 1
        return rectify_depth(z, cam.model)

    def score(self, gt_obj: object, run_obj: object) -> None:
        assert isinstance(gt_obj, Image)
        z_gt = self._ground_truth(gt_obj)
        arrays: dict[str, npt.NDArray[np.generic]]
        values: dict[str, float] = {}
        if isinstance(run_obj, Disparity):
            d = _disparity_px(run_obj)
            if d.shape != z_gt.shape:
                self.shape_mismatch += 1
                return
            fb = run_obj.focal_length_px * run_obj.baseline_m
            if not fb > 0:
                msg = f"disparity has focal length x baseline = {fb}: cannot convert depth"
                raise EvalError(msg)
            d_gt = np.full(z_gt.shape, np.inf, dtype=np.float32)
            known = np.isfinite(z_gt)
            d_gt[known] = np.float32(fb) / z_gt[known]
            m = disparity_metrics(d, d_gt, thresholds_px=self.config.thresholds_px)
            self.disparity.append(m)
            z = np.full(d.shape, np.inf, dtype=np.float32)
            ok = np.isfinite(d)
            z[ok] = np.float32(fb) / d[ok]
            values.update(
                {
                    "epe_px": m.epe_px,
                    "density_pct": m.density_pct,
                    **{f"bad_{t:g}_total_pct": v for t, v in m.bad_total_pct.items()},
                }
            )
            arrays = {"disparity": _thumb(d), "gt_disparity": _thumb(d_gt)}
        else:
            assert isinstance(run_obj, Image)
            z = _depth_m(run_obj)
            if z.shape != z_gt.shape:
                self.shape_mismatch += 1
                return
            arrays = {}
        bands = depth_error_by_band(z, z_gt, self.config.depth_bands_m)
        self.bands.append(bands)
        valid = sum(b.valid_px for b in bands)
        values["abs_rel_mean"] = sum(b.abs_rel_sum for b in bands) / valid if valid else math.nan
        arrays.update(depth=_thumb(z), gt_depth=_thumb(z_gt))
        stamp = gt_obj.header.stamp_ns
        self.frames.append(FrameScore(stamp, values))
        key = "bad_2_total_pct" if "bad_2_total_pct" in values else "abs_rel_mean"
        value = values.get(key, math.nan)
        if self.first is None:
            self.first = Shot(stamp, "first frame", math.nan, arrays)
        if math.isfinite(value) and self.config.worst_frames:
            # min-heap of the worst frames; ties keep the earlier frame
            item = (value, -stamp, len(self.frames), Shot(stamp, f"worst {key}", value, arrays))
            if len(self.worst) < self.config.worst_frames:
                heapq.heappush(self.worst, item)
            elif item[:2] > self.worst[0][:2]:
                heapq.heapreplace(self.worst, item)


@dataclass
class _Collected:
    run_poses: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]] = field(
        default_factory=list
    )
    gt_poses: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]] = field(
        default_factory=list
    )
    run_dets: list[Detection2DArray] = field(default_factory=list)
    gt_dets: list[Detection2DArray] = field(default_factory=list)
    run_dets_3d: list[Detection3DArray] = field(default_factory=list)
    gt_dets_3d: list[Detection3DArray] = field(default_factory=list)
    run_map: OccupancyGrid | None = None
    gt_map: OccupancyGrid | None = None
    diagnostics: list[DiagnosticArray] = field(default_factory=list)
    brightness: dict[int, float] = field(default_factory=dict)
    undecodable: dict[str, int] = field(default_factory=dict)


def _pose_row(
    obj: object,
) -> tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    if isinstance(obj, Odometry | PoseStamped):
        return obj.header.stamp_ns, obj.pose.translation_m, obj.pose.quat_xyzw
    return None


def _trajectory(
    rows: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]], name: str
) -> Trajectory:
    rows = sorted(rows, key=lambda r: r[0])
    stamps = np.array([r[0] for r in rows], dtype=np.int64)
    keep = np.concatenate([[True], np.diff(stamps) > 0])  # one pose per stamp
    pos = np.array([r[1] for r in rows])[keep]
    quat = np.array([r[2] for r in rows])[keep]
    return Trajectory.from_quaternions(pos, quat, stamps[keep], name)


def _messages(readers: Sequence[tuple[BagReader, list[str]]]) -> Iterator[tuple[int, BagMessage]]:
    """Messages of several open bags merged by receive time: (reader index, message)."""
    streams = [
        ((m.log_time_ns, i, m) for m in reader.messages(topics))
        for i, (reader, topics) in enumerate(readers)
        if topics
    ]
    for _, i, m in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield i, m


# --------------------------------------------------------------------------- bag mode


def evaluate(
    run_bag: Path | str,
    gt_bag: Path | str | None = None,
    config: EvalConfig | None = None,
) -> EvalResult:
    """Score what a run published against ground truth.

    Args:
        run_bag: bag a run recorded (``percept replay`` output, or from a robot).
        gt_bag: bag with ``/ground_truth/*`` topics; None: they are in ``run_bag``.
        config: topics and metric settings.

    Returns:
        every metric that could be scored, why the others were skipped, per-frame
        scores, condition splits and pictures data.

    Raises:
        BagError: a bag cannot be read.
        EvalError: nothing at all can be scored.
    """
    cfg = config or EvalConfig()
    run_path = Path(run_bag)
    gt_path = Path(gt_bag) if gt_bag is not None else run_path
    result = EvalResult(str(run_path), str(gt_path))
    same = gt_path.resolve() == run_path.resolve()
    with ExitStack() as stack:
        run_reader = stack.enter_context(BagReader(run_path))
        gt_reader = run_reader if same else stack.enter_context(BagReader(gt_path))
        run_keys = [k for k in _TYPES if k not in _GT_KEYS]
        found, missing = resolve_topics(run_reader.topics(), run_keys, cfg.topics)
        gt_found, gt_missing = resolve_topics(gt_reader.topics(), sorted(_GT_KEYS), cfg.topics)
        found.update(gt_found)
        missing.update(gt_missing)
        camera_reader = run_reader
        if "camera_info" not in found and not same:
            cam, _ = resolve_topics(gt_reader.topics(), ["camera_info"], cfg.topics)
            if cam:
                found.update(cam)
                camera_reader = gt_reader
        result.topics = found
        plan = _plan(found, missing, result)
        if not plan:
            msg = f"{run_path}: nothing to score; " + "; ".join(
                f"{k}: {v}" for k, v in sorted(result.skipped.items())
            )
            raise EvalError(msg)
        run_topics = sorted({found[k] for k in plan if k not in _GT_KEYS | {"camera_info"}})
        gt_topics = sorted({found[k] for k in plan if k in _GT_KEYS})
        readers = (
            [(run_reader, sorted(set(run_topics) | set(gt_topics)))]
            if same
            else [(run_reader, run_topics), (gt_reader, gt_topics)]
        )
        by_topic = {found[k]: k for k in plan if k != "camera_info"}
        camera = None
        if "camera_info" in plan:
            camera = _first_camera_info(camera_reader, found["camera_info"])
        collected, depth = _stream(readers, by_topic, plan, cfg, result, camera)
    _finish(collected, depth, plan, cfg, result, run_path, camera)
    return result


def _plan(found: dict[str, str], missing: dict[str, str], result: EvalResult) -> set[str]:
    """Keys to read; records skipped metrics with their reasons."""
    plan: set[str] = set()

    def need(metric: str, run_keys: Sequence[str], gt_key: str | None) -> None:
        have_run = [k for k in run_keys if k in found]
        if not have_run:
            reasons = "; ".join(f"{k}: {missing.get(k, 'not found')}" for k in run_keys)
            result.skipped[metric] = f"no run topic ({reasons})"
            return
        if gt_key is not None and gt_key not in found:
            result.skipped[metric] = f"no ground truth ({gt_key}: {missing.get(gt_key)})"
            return
        plan.update(have_run[:1])
        if gt_key is not None:
            plan.add(gt_key)

    need("trajectory", ["odometry"], "gt_pose")
    need("depth", ["disparity", "depth"], "gt_depth")
    need("detection", ["detections"], "gt_detections")
    need("tracking", ["detections"], "gt_detections")
    need("detection_3d", ["detections_3d"], "gt_detections_3d")
    need("occupancy", ["map"], "gt_map")
    need("latency", ["diagnostics"], None)
    if "disparity" not in plan and "depth" in plan:
        result.skipped["disparity"] = "the run publishes depth but no disparity image"
    if plan & {"disparity", "depth", "detections"} and "image" in found:
        plan.add("image")  # brightness split and detection overlays
    if plan & {"disparity", "depth", "detections_3d"} and "camera_info" in found:
        plan.add("camera_info")  # to map raw-camera ground truth into the rectified frame
    return plan


def _stream(
    readers: Sequence[tuple[BagReader, list[str]]],
    by_topic: dict[str, str],
    plan: set[str],
    cfg: EvalConfig,
    result: EvalResult,
    camera: CameraInfo | None = None,
) -> tuple[_Collected, _DepthState | None]:
    col = _Collected()
    depth_key = "disparity" if "disparity" in plan else "depth" if "depth" in plan else None
    depth = _DepthState(cfg, camera) if depth_key is not None else None
    join = _Join(cfg.frame_max_diff_ns, cfg.join_window_ns)
    for _, m in _messages(readers):
        key = by_topic.get(m.topic)
        if key is None:
            continue
        try:
            obj = _decode(m)
        except CodecError as err:
            count = col.undecodable.get(m.topic, 0)
            if count == 0:
                logger.warning("%s: undecodable message skipped: %s", m.topic, err)
            col.undecodable[m.topic] = count + 1
            continue
        if key in ("odometry", "gt_pose"):
            row = _pose_row(obj)
            if row is not None:
                (col.run_poses if key == "odometry" else col.gt_poses).append(row)
        elif key == "detections" and isinstance(obj, Detection2DArray):
            col.run_dets.append(obj)
        elif key == "gt_detections" and isinstance(obj, Detection2DArray):
            col.gt_dets.append(obj)
        elif key == "detections_3d" and isinstance(obj, Detection3DArray):
            col.run_dets_3d.append(obj)
        elif key == "gt_detections_3d" and isinstance(obj, Detection3DArray):
            col.gt_dets_3d.append(obj)
        elif key == "map" and isinstance(obj, OccupancyGrid):
            col.run_map = obj
        elif key == "gt_map" and isinstance(obj, OccupancyGrid):
            col.gt_map = obj
        elif key == "diagnostics" and isinstance(obj, DiagnosticArray):
            col.diagnostics.append(obj)
        elif key == "image" and isinstance(obj, Image):
            try:
                col.brightness[obj.header.stamp_ns] = _brightness(obj)
            except CodecError:
                col.undecodable[m.topic] = col.undecodable.get(m.topic, 0) + 1
        elif depth is not None and key in ("gt_depth", depth_key):
            stamp = obj.header.stamp_ns  # type: ignore[attr-defined]
            pair = join.add("gt" if key == "gt_depth" else "run", stamp, obj)
            if pair is not None:
                try:
                    depth.score(*pair)
                except EvalError as err:
                    depth.undecodable += 1
                    if depth.undecodable == 1:
                        logger.warning("depth frame at %d ns not scored: %s", stamp, err)
    join.finish()
    if depth is not None:
        if join.unmatched["run"] or join.unmatched["gt"]:
            result.notes.append(
                f"depth: {join.unmatched['run']} run frames and {join.unmatched['gt']} "
                "ground-truth frames found no partner by stamp"
            )
        if depth.rectified:
            result.notes.append(
                f"depth: ground truth of the raw camera mapped into the rectified frame of "
                f"{result.topics.get('camera_info')} (distortion and R) for {depth.rectified} "
                "frames"
            )
        if depth.frame_mismatch:
            result.notes.append(
                f"depth: {depth.frame_mismatch} ground-truth frames are not in the camera_info's "
                "frame and were compared pixel for pixel"
            )
        if depth.shape_mismatch:
            result.notes.append(
                f"depth: {depth.shape_mismatch} frames differ in size from the ground truth "
                "(different camera or resolution) and were not scored"
            )
    for topic, count in col.undecodable.items():
        result.notes.append(f"{topic}: {count} undecodable messages skipped")
    return col, depth


def _fetch_missing_images(
    reader: BagReader, topic: str | None, stamps: Sequence[int], cfg: EvalConfig, result: EvalResult
) -> None:
    """Attach camera images at ``stamps`` to the detection shots (a second, light pass)."""
    if topic is None or not stamps:
        return
    wanted = set(stamps)
    got: dict[int, npt.NDArray[np.generic]] = {}
    for m in reader.messages([topic]):
        try:
            image = _decode(m)
        except CodecError:
            continue
        if not isinstance(image, Image):
            continue
        near = [s for s in wanted if abs(s - image.header.stamp_ns) <= cfg.frame_max_diff_ns]
        if not near:
            continue
        try:
            bgr = convert_image(image, "bgr8").data
        except CodecError:
            continue
        for s in near:
            got[s] = np.asarray(bgr)
            wanted.discard(s)
        if not wanted:
            break
    for shot in result.shots.get("detection", []):
        if shot.stamp_ns in got:
            shot.arrays["image"] = got[shot.stamp_ns]


def _finish(
    col: _Collected,
    depth: _DepthState | None,
    plan: set[str],
    cfg: EvalConfig,
    result: EvalResult,
    run_path: Path,
    camera: CameraInfo | None = None,
) -> None:
    gt_traj: Trajectory | None = None
    if col.gt_poses:
        gt_traj = _trajectory(col.gt_poses, result.topics.get("gt_pose", "ground truth"))
    if "odometry" in plan:
        if not col.run_poses or gt_traj is None:
            result.skipped["trajectory"] = "no poses decoded on the run or ground-truth topic"
        else:
            est = _trajectory(col.run_poses, result.topics["odometry"])
            try:
                result.trajectory = evaluate_trajectory(est, gt_traj, cfg.trajectory)
            except EvalError as err:
                result.skipped["trajectory"] = str(err)
    if result.trajectory is not None:
        tm = result.trajectory
        assert tm.reference.stamps_ns is not None
        result.frames["trajectory"] = [
            FrameScore(int(s), {"ate_m": float(e), "ate_rot_deg": float(r)})
            for s, e, r in zip(
                tm.reference.stamps_ns, tm.ate_errors_m, tm.ate_rot_errors_deg, strict=True
            )
        ]
    if depth is not None:
        if not depth.bands:
            result.skipped["depth"] = "no run frame matched a ground-truth depth frame by stamp"
        else:
            result.frames["depth"] = depth.frames
            result.depth_bands = [
                DepthBand.pool([f[i] for f in depth.bands]) for i in range(len(cfg.depth_bands_m))
            ]
            result.depth_source = result.topics.get("disparity") or result.topics.get("depth", "")
            if depth.disparity:
                result.disparity = DisparityMetrics.pool(depth.disparity)
            shots = [] if depth.first is None else [depth.first]
            shots += [w[3] for w in sorted(depth.worst, key=lambda w: (-w[0], -w[1]))]
            result.shots["depth"] = shots
    if "detections" in plan:
        _finish_detection(col, cfg, result)
        _finish_tracking(col, cfg, result)
    if "detections_3d" in plan:
        _finish_detection_3d(col, cfg, result, camera)
    if "map" in plan:
        if col.run_map is None or col.gt_map is None:
            result.skipped["occupancy"] = "no map decoded on the run or ground-truth topic"
        else:
            try:
                result.occupancy = occupancy_metrics(
                    col.run_map, col.gt_map, occupied_min=cfg.occupied_min, free_max=cfg.free_max
                )
                result.maps = (resample_grid(col.run_map, col.gt_map), col.gt_map)
            except EvalError as err:
                result.skipped["occupancy"] = str(err)
    if "diagnostics" in plan:
        result.latency = latency_from_diagnostics(col.diagnostics)
        if not result.latency:
            result.skipped["latency"] = "/diagnostics has no node latency values"
    _conditions(result, gt_traj, col.brightness, cfg)
    if result.shots.get("detection") and "image" in result.topics:
        with BagReader(run_path) as reader:
            _fetch_missing_images(
                reader,
                result.topics["image"],
                [s.stamp_ns for s in result.shots["detection"]],
                cfg,
                result,
            )


def _finish_detection(col: _Collected, cfg: EvalConfig, result: EvalResult) -> None:
    if not col.gt_dets:
        result.skipped["detection"] = "no ground-truth detection frames decoded"
        return
    gt, dets, unmatched = coco_from_detection_arrays(
        col.gt_dets, col.run_dets, max_diff_ns=cfg.frame_max_diff_ns
    )
    if unmatched:
        result.notes.append(
            f"detection: {unmatched} run frames had no ground-truth frame within "
            f"{cfg.frame_max_diff_ns / 1e6:g} ms and were left out"
        )
    metrics = evaluate_coco(gt, dets, cfg.coco)
    result.detection, result.detection_truth, result.detection_boxes = metrics, gt, dets
    frames = [
        FrameScore(
            i,
            {
                "errors": float(r.errors),
                "false_positives": float(r.false_positives),
                "false_negatives": float(r.false_negatives),
                "true_positives": float(r.true_positives),
            },
        )
        for i, r in sorted(metrics.images.items())
    ]
    # per-frame rows carry the frame's stamp; the image id is kept for the overlays
    result.frames["detection"] = [FrameScore(gt.stamps_ns[f.stamp_ns], f.values) for f in frames]
    worst = [f for f in frames if f.values["errors"] > 0]
    worst = sorted(worst, key=lambda f: (-f.values["errors"], f.stamp_ns))[: cfg.worst_frames]
    picks = worst or frames[:1]
    result.shots["detection"] = [
        Shot(
            gt.stamps_ns[f.stamp_ns],
            "worst errors" if worst else "first frame",
            f.values["errors"],
            image_id=f.stamp_ns,
        )
        for f in picks
    ]


def _finish_tracking(col: _Collected, cfg: EvalConfig, result: EvalResult) -> None:
    if not col.gt_dets:
        result.skipped["tracking"] = "no ground-truth detection frames decoded"
        return
    try:
        metrics, per_frame, notes = evaluate_tracking(
            col.gt_dets,
            col.run_dets,
            max_diff_ns=cfg.frame_max_diff_ns,
            max_iou_distance=cfg.track_max_iou_distance,
            same_class=cfg.match_same_class,
        )
    except EvalError as err:
        result.skipped["tracking"] = str(err)
        return
    result.tracking = metrics
    result.notes += notes
    result.frames["tracking"] = [FrameScore(s, v) for s, v in per_frame]


def _finish_detection_3d(
    col: _Collected, cfg: EvalConfig, result: EvalResult, camera: CameraInfo | None
) -> None:
    if not col.gt_dets_3d:
        result.skipped["detection_3d"] = "no ground-truth 3D detection frames decoded"
        return
    rectification = None
    if cfg.detections_3d_rectified:
        gt_frame = col.gt_dets_3d[0].header.frame_id
        source = result.topics.get("camera_info", "camera_info")
        if camera is None:
            pass  # no calibration in the bags: compared as they are (as depth is)
        elif camera.header.frame_id != gt_frame:
            result.notes.append(
                f"detection_3d: {source} is in frame {camera.header.frame_id!r}, the ground "
                f"truth in {gt_frame!r}: compared without the rectification"
            )
        else:
            rectification = camera.model.R
    try:
        metrics, notes = evaluate_detections_3d(
            col.gt_dets_3d,
            col.run_dets_3d,
            rectification=rectification,
            gate_m=cfg.gate_3d_m,
            edges_m=cfg.range_edges_3d_m,
            max_diff_ns=cfg.frame_max_diff_ns,
            same_class=cfg.match_same_class,
        )
    except EvalError as err:
        result.skipped["detection_3d"] = str(err)
        return
    result.detection_3d = metrics
    result.notes += notes
    if metrics.rectified:
        result.notes.append(
            "detection_3d: ground-truth centres rotated into the rectified camera with the R "
            f"of {result.topics.get('camera_info')}"
        )


def _band_label(edges: Sequence[float], i: int, unit: str) -> str:
    hi = f"{edges[i + 1]:g}" if i + 1 < len(edges) else "inf"
    return f"{edges[i]:g}-{hi} {unit}".strip()


def _split(
    values: npt.NDArray[np.float64],
    keys: npt.NDArray[np.float64],
    edges: Sequence[float],
    unit: str,
) -> list[dict[str, object]]:
    """Mean of ``values`` per band of ``keys``."""
    ok = np.isfinite(values) & np.isfinite(keys)
    band = np.searchsorted(np.asarray(edges), keys, side="right") - 1
    rows: list[dict[str, object]] = []
    for i in range(len(edges)):
        sel = ok & (band == i)
        n = int(np.count_nonzero(sel))
        rows.append(
            {
                "band": _band_label(edges, i, unit),
                "frames": n,
                "mean": float(np.mean(values[sel])) if n else None,
            }
        )
    return rows


def _conditions(
    result: EvalResult, gt: Trajectory | None, brightness: dict[int, float], cfg: EvalConfig
) -> None:
    speed_at = None
    if gt is not None and len(gt) >= 2 and gt.stamps_ns is not None:
        t = gt.stamps_ns.astype(np.float64)
        try:
            speeds = gt.speeds_m_s()
        except ValueError:
            speeds = None
        if speeds is not None:

            def speed_at(stamps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
                inside = (stamps >= t[0]) & (stamps <= t[-1])
                return np.where(inside, np.interp(stamps, t, speeds), np.nan)

    b_stamps = np.array(sorted(brightness), dtype=np.int64)
    b_values = np.array([brightness[s] for s in b_stamps], dtype=np.float64)

    def brightness_at(stamps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if b_stamps.size == 0:
            return np.full(stamps.shape, np.nan)
        pos = np.clip(np.searchsorted(b_stamps, stamps), 1, max(1, b_stamps.size - 1))
        lo = np.clip(pos - 1, 0, b_stamps.size - 1)
        hi = np.clip(pos, 0, b_stamps.size - 1)
        near = np.where(np.abs(b_stamps[lo] - stamps) <= np.abs(b_stamps[hi] - stamps), lo, hi)
        ok = np.abs(b_stamps[near] - stamps) <= cfg.frame_max_diff_ns
        return np.where(ok, b_values[near], np.nan)

    families = {
        "trajectory": ("ate_m",),
        "depth": ("bad_2_total_pct", "abs_rel_mean"),
        "detection": ("errors",),
    }
    for family, metrics in families.items():
        frames = result.frames.get(family, [])
        if not frames:
            continue
        stamps = np.array([f.stamp_ns for f in frames], dtype=np.float64)
        for metric in metrics:
            values = np.array([f.values.get(metric, np.nan) for f in frames], dtype=np.float64)
            if not np.isfinite(values).any():
                continue
            if speed_at is not None:
                result.conditions.setdefault("speed", {})[f"{family}.{metric}"] = _split(
                    values, speed_at(stamps), cfg.speed_edges_m_s, "m/s"
                )
            if family != "trajectory" and b_stamps.size:
                result.conditions.setdefault("brightness", {})[f"{family}.{metric}"] = _split(
                    values, brightness_at(stamps), cfg.brightness_edges, ""
                )
    if result.depth_bands:
        result.conditions["range"] = {
            "depth.abs_rel_mean": [
                {
                    "band": b.name,
                    "frames": len(result.frames.get("depth", [])),
                    "pixels": b.pixels,
                    "mean": b.abs_rel_mean,
                }
                for b in result.depth_bands
            ]
        }
    if result.detection is not None:
        stats = result.detection.stats
        result.conditions.setdefault("range", {})["detection.map_by_box_size"] = [
            # COCO's -1: no ground-truth box of that size
            {"band": name, "mean": stats[f"map_{name}"] if stats[f"map_{name}"] >= 0 else None}
            for name in ("small", "medium", "large")
        ]


# --------------------------------------------------------------------------- batch


def _evaluate_to(
    run_bag: Path, gt_bag: Path | None, config: EvalConfig, out_dir: Path
) -> dict[str, object]:
    """One job of a batch: evaluate and write metrics.json + report.html."""
    from percept.eval.report import write_outputs

    result = evaluate(run_bag, gt_bag, config)
    write_outputs(result, out_dir)
    return result.metrics()


def evaluate_batch(
    run_bags: Sequence[Path],
    gt_bag: Path | None,
    out_root: Path,
    config: EvalConfig | None = None,
    *,
    jobs: int = 1,
    progress: bool = False,
) -> dict[str, dict[str, object]]:
    """Evaluate many runs, bag-parallel on a process pool (concurrent.futures).

    Each run's outputs go to ``out_root/<bag stem>/`` (numbered when stems repeat).

    Args:
        run_bags: the runs.
        gt_bag: shared ground truth; None: each run carries its own.
        out_root: output folder.
        config: topics and metric settings.
        jobs: worker processes (1: in this process).
        progress: tqdm bar on stderr.

    Returns:
        run path -> its metrics, or ``{"error": message}`` when it failed.
    """
    cfg = config or EvalConfig()
    if jobs < 1:
        msg = f"--jobs must be >= 1, got {jobs}"
        raise ConfigError(msg)
    outs: dict[Path, Path] = {}
    used: set[str] = set()
    for bag in run_bags:
        stem = bag.name.removesuffix(".mcap") or "run"
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        outs[bag] = out_root / name
    results: dict[str, dict[str, object]] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(run_bags), desc="eval", unit="bag")
    try:
        if jobs == 1:
            for bag in run_bags:
                results[str(bag)] = _guarded(bag, gt_bag, cfg, outs[bag])
                if bar is not None:
                    bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(_guarded, bag, gt_bag, cfg, outs[bag]): bag for bag in run_bags
                }
                for future in as_completed(futures):
                    results[str(futures[future])] = future.result()
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    return {str(b): results[str(b)] for b in run_bags}


def _guarded(
    run_bag: Path, gt_bag: Path | None, config: EvalConfig, out_dir: Path
) -> dict[str, object]:
    from percept.errors import PerceptError

    try:
        return _evaluate_to(run_bag, gt_bag, config, out_dir)
    except PerceptError as err:
        return {"run": str(run_bag), "error": str(err)}


# --------------------------------------------------------------------------- file modes


def score_trajectory_files(
    estimate: Path | str,
    ground_truth: Path | str,
    fmt: TrajectoryFormat,
    gt_fmt: TrajectoryFormat | None = None,
    config: TrajectoryEvalConfig | None = None,
) -> EvalResult:
    """ATE/RPE of a trajectory file against a ground-truth file (evo_ape + evo_rpe).

    Raises:
        EvalError: unreadable files, no association, degenerate alignment.
    """
    est = read_trajectory(estimate, fmt)
    gt = read_trajectory(ground_truth, gt_fmt or fmt)
    metrics = evaluate_trajectory(est, gt, config)
    result = EvalResult(str(estimate), str(ground_truth), mode="trajectory", trajectory=metrics)
    if metrics.reference.stamps_ns is not None:
        result.frames["trajectory"] = [
            FrameScore(int(s), {"ate_m": float(e)})
            for s, e in zip(metrics.reference.stamps_ns, metrics.ate_errors_m, strict=True)
        ]
        _conditions(result, gt, {}, EvalConfig(trajectory=metrics.config))
    return result


def score_coco_files(
    detections: Path | str, ground_truth: Path | str, params: CocoParams | None = None
) -> EvalResult:
    """COCO mAP of a result JSON against COCO ground truth.

    Raises:
        EvalError: unreadable files or detections on unknown images.
    """
    gt = load_coco_ground_truth(ground_truth)
    dets = load_coco_detections(detections, gt)
    metrics = evaluate_coco(gt, dets, params)
    result = EvalResult(str(detections), str(ground_truth), mode="coco", detection=metrics)
    result.detection_truth, result.detection_boxes = gt, dets
    result.frames["detection"] = [
        FrameScore(
            i,
            {
                "errors": float(r.errors),
                "false_positives": float(r.false_positives),
                "false_negatives": float(r.false_negatives),
            },
        )
        for i, r in sorted(metrics.images.items())
    ]
    images_dir = Path(ground_truth).parent
    worst = [f for f in result.worst("detection", "errors", 5) if f.values["errors"] > 0]
    shots: list[Shot] = []
    for f in worst:
        shot = Shot(
            0, f"worst errors (image {f.stamp_ns})", f.values["errors"], image_id=f.stamp_ns
        )
        name = gt.file_names.get(f.stamp_ns, "")
        for folder in (images_dir, images_dir / "images"):
            path = folder / name
            if name and path.is_file():
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is not None:
                    shot.arrays["image"] = image
                break
        shots.append(shot)
    result.shots["detection"] = shots
    return result


def score_disparity_files(
    estimate: Path | str,
    ground_truth: Path | str,
    *,
    scale: float = 1.0,
    gt_scale: float | None = None,
    mask: Path | str | None = None,
    max_disparity_px: float | None = None,
    thresholds_px: Sequence[float] = DEFAULT_THRESHOLDS_PX,
) -> EvalResult:
    """Middlebury scores of a disparity file (PFM or scaled PNG) against ground truth.

    Args:
        estimate: ``.pfm`` or ``.png``.
        ground_truth: ``.pfm`` or ``.png``.
        scale: PNG value per pixel of disparity of the estimate.
        gt_scale: the same for the ground truth (default: ``scale``).
        mask: PNG, non-zero where to score (Middlebury ``mask0nocc``: 255 = scored).
        max_disparity_px: clip the estimate first (evaldisp's ``maxdisp``).
        thresholds_px: bad-pixel thresholds.

    Raises:
        EvalError: unreadable files or sizes that differ.
    """
    est = read_disparity(estimate, scale)
    gt = read_disparity(ground_truth, gt_scale if gt_scale is not None else scale)
    mk = None
    if mask is not None:
        raw = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
        if raw is None:
            msg = f"{mask}: cannot read mask image"
            raise EvalError(msg)
        # Middlebury masks: 255 scored, 128 occluded, 0 unknown.
        mk = raw == 255 if np.any(raw == 128) else raw > 0
    metrics = disparity_metrics(
        est, gt, thresholds_px=thresholds_px, mask=mk, max_disparity_px=max_disparity_px
    )
    result = EvalResult(str(estimate), str(ground_truth), mode="disparity", disparity=metrics)
    result.shots["depth"] = [
        Shot(0, "disparity", math.nan, {"disparity": _thumb(est), "gt_disparity": _thumb(gt)})
    ]
    return result
