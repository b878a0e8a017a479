"""What ``percept eval`` reads and how it scores: topics per input key and metric settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from percept.errors import ConfigError
from percept.eval.detection import CocoParams
from percept.eval.detection3d import DEFAULT_RANGE_EDGES_M
from percept.eval.disparity import DEFAULT_BANDS_M, DEFAULT_THRESHOLDS_PX
from percept.eval.metrics import METRICS
from percept.eval.metrics.base import CAMERA_INFO, IMAGE, Input
from percept.eval.trajectory import TrajectoryEvalConfig
from percept.units import NS_PER_S

__all__ = ["DEFAULT_TOPICS", "INPUTS", "EvalConfig", "resolve_topics"]

#: Every input key: the metrics' own, then the camera image and its camera_info.
INPUTS: dict[str, Input] = {
    i.key: i for i in (*(i for m in METRICS for i in m.inputs()), IMAGE, CAMERA_INFO)
}
#: Run-side and ground-truth topic candidates per key, first found wins.
DEFAULT_TOPICS: dict[str, tuple[str, ...]] = {k: i.candidates for k, i in INPUTS.items()}
_GT_PREFIX = "/ground_truth/"


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
    join_window_ns: int = 10 * NS_PER_S
    track_max_iou_distance: float = 0.5
    match_same_class: bool = True
    gate_3d_m: float = 1.0
    range_edges_3d_m: tuple[float, ...] = DEFAULT_RANGE_EDGES_M
    detections_3d_rectified: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.topics) - set(INPUTS)
        if unknown:
            msg = f"unknown topic keys {sorted(unknown)}; known: {sorted(INPUTS)}"
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
        unknown = set(overrides) - set(INPUTS)
        if unknown:
            msg = f"--topic: unknown keys {sorted(unknown)}; known: {', '.join(sorted(INPUTS))}"
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
        types = INPUTS[key].msgtypes
        names = candidates.get(key, ())
        fitting = {
            t
            for t, ty in available.items()
            if ty in types and (INPUTS[key].ground_truth or not t.startswith(_GT_PREFIX))
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
