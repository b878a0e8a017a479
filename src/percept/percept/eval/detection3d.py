"""3D position error of detections against ground-truth object centres, by range band.

A run's Detection3DArray frames (box centres in the frame of the header's frame_id, as
the detector node lifts them with a registered depth image) are compared with
ground-truth Detection3DArray frames (``percept synth``: object centres in the raw left
camera's optical frame, ``id`` = object index). Frames are paired by header stamp.

Frames. A depth image registered to a *rectified* image (stereo_depth) puts the lifted
boxes in the rectified camera, which keeps the raw camera's frame_id (the ROS
convention of image_proc and stereo_image_proc) but is rotated by the camera_info's R:
``p_rect = R @ p_raw``. With ``rectification`` given, ground-truth centres are rotated
so before comparing. Run boxes in another frame than the ground truth are not related
here (no TF): the metric is refused.

Matching per frame: Hungarian assignment (``scipy.optimize.linear_sum_assignment``) of
run boxes to ground-truth objects of the same class on 3D centre distance; a pair
farther apart than ``gate_m`` is no match. Per range band of true depth (z of the
ground-truth centre): objects, matched fraction (recall within the gate), mean, median
and 90th percentile of the centre error, and the median signed depth (z) error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from percept.domain import Detection3DArray
from percept.errors import EvalError
from percept.eval.tracking import paired_or_raise

__all__ = [
    "DEFAULT_RANGE_EDGES_M",
    "Detection3DMetrics",
    "RangeError3D",
    "band_names",
    "centres",
    "evaluate_detections_3d",
    "match_centres",
]

logger = logging.getLogger(__name__)

#: Lower edges of the range bands of true depth, metres (last band open).
DEFAULT_RANGE_EDGES_M: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0, 10.0)
_FORBIDDEN = 1e9  # cost of a pair the assignment must not use (other class)


def band_names(edges_m: Sequence[float]) -> list[str]:
    """Band names of lower edges: ``0-2m``, ..., ``10m+`` for the open last band.

    >>> band_names([0.0, 2.0, 4.5])
    ['0-2m', '2-4.5m', '4.5m+']
    """
    return [
        f"{lo:g}-{edges_m[i + 1]:g}m" if i + 1 < len(edges_m) else f"{lo:g}m+"
        for i, lo in enumerate(edges_m)
    ]


@dataclass(frozen=True, slots=True)
class RangeError3D:
    """3D centre error of the ground-truth objects of one range band.

    Attributes:
        band: band name (``0-2m``, ``all``).
        objects: ground-truth objects (summed over frames).
        matched: of them, matched to a run box within the gate.
        recall: ``matched / objects`` (NaN without objects).
        mean_m, median_m, p90_m: centre distance of the matches, metres.
        median_z_err_m: median of run z - true z of the matches (bias along the ray).
        median_abs_z_err_m: median of |run z - true z|.
    """

    band: str
    objects: int
    matched: int
    recall: float
    mean_m: float
    median_m: float
    p90_m: float
    median_z_err_m: float
    median_abs_z_err_m: float

    @classmethod
    def of(
        cls,
        band: str,
        objects: int,
        errors_m: npt.NDArray[np.float64],
        z_errors_m: npt.NDArray[np.float64],
    ) -> RangeError3D:
        """Statistics of the matches' centre errors and signed z errors."""
        n = int(errors_m.size)
        if n:
            mean, median, p90 = (
                float(np.mean(errors_m)),
                float(np.median(errors_m)),
                float(np.percentile(errors_m, 90)),
            )
            dz, adz = float(np.median(z_errors_m)), float(np.median(np.abs(z_errors_m)))
        else:
            mean = median = p90 = dz = adz = math.nan
        return cls(
            band, objects, n, n / objects if objects else math.nan, mean, median, p90, dz, adz
        )

    def as_dict(self) -> dict[str, object]:
        """The metrics.json entry (without the band name, which is its key)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "band"}


@dataclass(frozen=True, slots=True, eq=False)
class Detection3DMetrics:
    """3D detection error of a run.

    Attributes:
        overall: all ground-truth objects in a band.
        bands: per range band of true depth.
        frames: frames scored.
        detections: run boxes in the scored frames.
        unmatched_detections: run boxes matched to no object within the gate.
        gate_m: largest centre distance of a match.
        class_aware: whether matches were restricted to the same class.
        frame_id: the frame both are compared in.
        rectified: whether ground truth was rotated into the rectified camera.
        edges_m: lower edges of the bands, metres.
        gt_depth_m: true depth of each match (for plots).
        errors_m: centre error of each match (for plots).
    """

    overall: RangeError3D
    bands: tuple[RangeError3D, ...]
    frames: int
    detections: int
    unmatched_detections: int
    gate_m: float
    class_aware: bool
    frame_id: str
    rectified: bool
    edges_m: tuple[float, ...] = DEFAULT_RANGE_EDGES_M
    gt_depth_m: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    errors_m: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    @property
    def precision(self) -> float:
        """Matched run boxes / run boxes (NaN without run boxes)."""
        if not self.detections:
            return math.nan
        return (self.detections - self.unmatched_detections) / self.detections

    def as_dict(self) -> dict[str, object]:
        """The metrics.json section."""
        return {
            **self.overall.as_dict(),
            "by_range": {b.band: b.as_dict() for b in self.bands},
            "frames": self.frames,
            "detections": self.detections,
            "unmatched_detections": self.unmatched_detections,
            "precision": self.precision,
            "gate_m": self.gate_m,
            "class_aware": self.class_aware,
            "frame_id": self.frame_id,
            "rectified_ground_truth": self.rectified,
        }


def centres(array: Detection3DArray) -> tuple[npt.NDArray[np.float64], list[str]]:
    """(N, 3) box centres and the class id of each (best hypothesis, ``""`` without)."""
    xyz = np.array([d.center.translation_m for d in array.detections], dtype=np.float64)
    classes = [d.results[0].class_id if d.results else "" for d in array.detections]
    return xyz.reshape(-1, 3), classes


def match_centres(
    run_xyz: npt.NDArray[np.float64],
    gt_xyz: npt.NDArray[np.float64],
    gate_m: float,
    run_classes: Sequence[str] | None = None,
    gt_classes: Sequence[str] | None = None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Hungarian matching of run centres to ground-truth centres within ``gate_m``.

    Returns:
        (run indices, ground-truth indices, distances in metres) of the matches; with
        classes given, only same-class pairs match.

    >>> r, g, d = match_centres(np.array([[0.0, 0, 5]]), np.array([[9.0, 0, 5], [0, 0, 5.2]]), 1.0)
    >>> r.tolist(), g.tolist(), d.round(3).tolist()
    ([0], [1], [0.2])
    """
    run_xyz, gt_xyz = run_xyz.reshape(-1, 3), gt_xyz.reshape(-1, 3)
    empty = np.zeros(0, dtype=np.intp)
    if not run_xyz.shape[0] or not gt_xyz.shape[0]:
        return empty, empty, np.zeros(0)
    dist = np.linalg.norm(run_xyz[:, None, :] - gt_xyz[None, :, :], axis=2)
    allowed = dist <= gate_m
    if run_classes is not None and gt_classes is not None:
        allowed &= (
            np.asarray(run_classes, dtype=object)[:, None]
            == np.asarray(gt_classes, dtype=object)[None, :]
        )
    cost = np.where(allowed, dist, _FORBIDDEN)
    ri, gi = linear_sum_assignment(cost)
    keep = allowed[ri, gi]
    return ri[keep], gi[keep], dist[ri[keep], gi[keep]]


def _frame_id(frames: Sequence[Detection3DArray], what: str) -> str:
    ids = {a.header.frame_id for a in frames}
    if len(ids) > 1:
        msg = f"{what} 3D detections come in several frames: {sorted(ids)}"
        raise EvalError(msg)
    return ids.pop() if ids else ""


def evaluate_detections_3d(
    gt: Sequence[Detection3DArray],
    run: Sequence[Detection3DArray],
    *,
    rectification: npt.NDArray[np.float64] | None = None,
    gate_m: float = 1.0,
    edges_m: Sequence[float] = DEFAULT_RANGE_EDGES_M,
    max_diff_ns: int = 1_000_000,
    same_class: bool = True,
) -> tuple[Detection3DMetrics, list[str]]:
    """3D centre error of run boxes against ground-truth object centres, by range band.

    Args:
        gt: ground-truth frames (object centres, the raw camera's optical frame).
        run: the run's frames (box centres).
        rectification: the raw camera's R (camera_info), applied to the ground truth
            (``p_rect = R @ p_raw``) when the run's boxes are in the rectified camera;
            None: compared as they are.
        gate_m: largest centre distance of a match, metres.
        edges_m: ascending lower edges of the bands of true depth (last band open).
        max_diff_ns: largest stamp difference of a paired frame.
        same_class: match only same-class boxes (class-agnostic, with a note, when no
            run class id ever equals a ground-truth one).

    Returns:
        (metrics, notes).

    Raises:
        EvalError: frames that cannot be related, no frame to score, bad settings.
    """
    if not gate_m > 0:
        msg = f"the 3D match gate must be > 0 m, got {gate_m}"
        raise EvalError(msg)
    edges = np.asarray(edges_m, dtype=np.float64)
    if not edges.size or np.any(np.diff(edges) <= 0):
        msg = f"3D range band edges must be ascending, got {list(edges_m)}"
        raise EvalError(msg)
    gt_frame, run_frame = _frame_id(gt, "ground-truth"), _frame_id(run, "run")
    if run and gt and run_frame != gt_frame:
        msg = (
            f"run 3D detections are in frame {run_frame!r}, the ground truth in {gt_frame!r}: "
            "they cannot be related here (compare in the camera frame: detections_3d)"
        )
        raise EvalError(msg)
    notes: list[str] = []
    pairs = paired_or_raise(
        gt, run, max_diff_ns, "detection_3d", "3D detection", "their objects missed", notes
    )
    R = None if rectification is None else np.asarray(rectification, dtype=np.float64)
    rectified = R is not None and not np.allclose(R, np.eye(3))
    scored = [
        (*centres(g), *(centres(r) if r is not None else (np.zeros((0, 3)), []))) for g, r in pairs
    ]
    gt_classes = {c for s in scored for c in s[1]}
    run_classes = {c for s in scored for c in s[3]}
    class_aware = same_class and not (run_classes and gt_classes.isdisjoint(run_classes))
    if same_class and not class_aware:
        notes.append(
            "detection_3d: run class ids share nothing with the ground truth's; matched "
            "across classes"
        )
    depth_all: list[npt.NDArray[np.float64]] = []
    matched_all: list[npt.NDArray[np.bool_]] = []
    err_all: list[npt.NDArray[np.float64]] = []
    dz_all: list[npt.NDArray[np.float64]] = []
    detections = unmatched = 0
    for g_xyz, g_cls, r_xyz, r_cls in scored:
        if rectified and R is not None:
            g_xyz = g_xyz @ R.T
        ri, gi, dist = match_centres(
            r_xyz,
            g_xyz,
            gate_m,
            r_cls if class_aware else None,
            g_cls if class_aware else None,
        )
        detections += r_xyz.shape[0]
        unmatched += r_xyz.shape[0] - ri.size
        depth_all.append(g_xyz[:, 2])
        hit = np.zeros(g_xyz.shape[0], dtype=bool)
        hit[gi] = True
        matched_all.append(hit)
        err = np.full(g_xyz.shape[0], np.nan)
        err[gi] = dist
        err_all.append(err)
        dz = np.full(g_xyz.shape[0], np.nan)
        dz[gi] = r_xyz[ri, 2] - g_xyz[gi, 2]
        dz_all.append(dz)
    z = np.concatenate(depth_all) if depth_all else np.zeros(0)
    hit_all = np.concatenate(matched_all) if matched_all else np.zeros(0, dtype=bool)
    errors = np.concatenate(err_all) if err_all else np.zeros(0)
    z_errors = np.concatenate(dz_all) if dz_all else np.zeros(0)
    band = np.searchsorted(edges, z, side="right") - 1
    inside = np.isfinite(z) & (band >= 0)
    if np.any(~inside):
        notes.append(
            f"detection_3d: {int(np.count_nonzero(~inside))} ground-truth objects below "
            f"{edges[0]:g} m depth (behind the camera) left out"
        )
    rows = []
    for i, name in enumerate(band_names(list(edges_m))):
        sel = inside & (band == i)
        m = sel & hit_all
        rows.append(RangeError3D.of(name, int(np.count_nonzero(sel)), errors[m], z_errors[m]))
    m = inside & hit_all
    overall = RangeError3D.of("all", int(np.count_nonzero(inside)), errors[m], z_errors[m])
    metrics = Detection3DMetrics(
        overall=overall,
        bands=tuple(rows),
        frames=len(pairs),
        detections=detections,
        unmatched_detections=unmatched,
        gate_m=gate_m,
        class_aware=class_aware,
        frame_id=gt_frame or run_frame,
        rectified=rectified,
        edges_m=tuple(float(x) for x in edges_m),
        gt_depth_m=z[m],
        errors_m=errors[m],
    )
    return metrics, notes
