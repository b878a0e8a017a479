"""Map accuracy: IoU of occupied and of free cells between two occupancy grids.

Cells are classified as map_server does when it loads a map: occupied when the value
is at least ``occupied_min`` (65 %), free when it is between 0 and ``free_max`` (25 %),
unknown otherwise (-1, or in between). The estimate is resampled onto the ground-truth
grid (nearest cell, through both grid origins, so different resolutions, offsets and
yaw are handled); cells the ground truth does not know are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial.transform import Rotation

from percept.domain import OccupancyGrid
from percept.errors import EvalError

__all__ = [
    "FREE",
    "NEAR_CELLS",
    "OCCUPIED",
    "UNKNOWN",
    "OccupancyMetrics",
    "classify_cells",
    "occupancy_metrics",
    "resample_grid",
]

Int8Array = npt.NDArray[np.int8]

#: Cell classes returned by :func:`classify_cells`.
FREE, OCCUPIED, UNKNOWN = 0, 1, -1
#: A false occupied cell this close to a true occupied one (cells, centre to centre) is
#: a surface drawn too thick (``OccupancyMetrics.false_occupied_near``).
NEAR_CELLS = 2.0


def classify_cells(data: npt.ArrayLike, *, occupied_min: int = 65, free_max: int = 25) -> Int8Array:
    """(H, W) int8 cell classes: 1 occupied, 0 free, -1 unknown.

    Args:
        data: (H, W) OccupancyGrid values: -1 unknown, 0..100 occupancy %.
        occupied_min: smallest value that is occupied.
        free_max: largest value that is free.

    >>> classify_cells(np.array([[-1, 0, 25, 50, 65, 100]])).tolist()
    [[-1, 0, 0, -1, 1, 1]]
    """
    if not 0 <= free_max < occupied_min <= 100:
        msg = f"need 0 <= free_max < occupied_min <= 100, got {free_max} and {occupied_min}"
        raise ValueError(msg)
    v = np.asarray(data).astype(np.int16)
    out = np.full(v.shape, UNKNOWN, dtype=np.int8)
    out[(v >= 0) & (v <= free_max)] = FREE
    out[(v >= occupied_min) & (v <= 100)] = OCCUPIED
    return out


def _planar(grid: OccupancyGrid) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(2, 2) rotation and (2,) translation of the grid origin in its frame (yaw only)."""
    yaw = Rotation.from_quat(grid.origin.quat_xyzw).as_euler("zyx")[0]
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s], [s, c]]), grid.origin.translation_m[:2].astype(np.float64)


def resample_grid(source: OccupancyGrid, onto: OccupancyGrid) -> Int8Array:
    """Values of ``source`` at the cell centres of ``onto`` (nearest cell).

    Args:
        source: grid to sample.
        onto: grid whose cells are sampled; both must share a frame.

    Returns:
        (H, W) int8 in ``onto``'s layout; -1 where the centre falls outside ``source``.
    """
    h, w = onto.data.shape
    rows, cols = np.mgrid[0:h, 0:w]
    local = np.stack([(cols + 0.5) * onto.resolution_m, (rows + 0.5) * onto.resolution_m], -1)
    R_on, t_on = _planar(onto)
    world = local.reshape(-1, 2) @ R_on.T + t_on
    R_src, t_src = _planar(source)
    src_local = (world - t_src) @ R_src  # R^T applied to each row
    col = np.floor(src_local[:, 0] / source.resolution_m).astype(np.int64)
    row = np.floor(src_local[:, 1] / source.resolution_m).astype(np.int64)
    sh, sw = source.data.shape
    inside = (col >= 0) & (col < sw) & (row >= 0) & (row < sh)
    out = np.full(h * w, -1, dtype=np.int8)
    out[inside] = np.asarray(source.data)[row[inside], col[inside]]
    return out.reshape(h, w)


@dataclass(frozen=True, slots=True)
class OccupancyMetrics:
    """Map scores on the ground-truth grid.

    Attributes:
        occupied_iou: |occupied in both| / |occupied in either|, over cells the ground
            truth knows.
        free_iou: the same for free cells.
        occupied_precision: share of estimated occupied cells that are occupied.
        occupied_recall: share of true occupied cells estimated occupied.
        coverage_pct: % of known ground-truth cells the estimate knows.
        known_cells: cells the ground truth knows.
        resampled: True when the grids differ in geometry and the estimate was resampled.
        observed_occupied_iou: occupied IoU within the observed area: the cells the
            estimate has observed at all (value >= 0, whatever its class) and the
            ground truth knows. Parts of the world the run never saw (the inside of
            objects, rooms behind walls) do not count; ``coverage_pct`` says how much
            was observed.
        observed_free_iou: free IoU within the observed area.
        observed_cells: cells in the observed area.
        visible_occupied_iou: occupied IoU within the observed area where the ground
            truth could be seen: true free cells, and true occupied cells a perfect depth
            sensor on the true trajectory saw a surface in (``/ground_truth/map_visible``);
            occupied cells no ray reaches (inside objects, behind open structures) are
            left out. NaN without that map.
        visible_cells: cells scored by ``visible_occupied_iou``.
        false_occupied_cells: cells of the observed area the estimate calls occupied
            and the ground truth free.
        false_occupied_near: those of them within ``NEAR_CELLS`` cells (centre to
            centre) of a true occupied cell: surfaces drawn too thick (depth noise),
            not phantom obstacles.
        missed_occupied_cells: cells of the observed area the estimate calls free and
            the ground truth occupied.
    """

    occupied_iou: float
    free_iou: float
    occupied_precision: float
    occupied_recall: float
    coverage_pct: float
    known_cells: int
    resampled: bool
    observed_occupied_iou: float = float("nan")
    observed_free_iou: float = float("nan")
    observed_cells: int = 0
    visible_occupied_iou: float = float("nan")
    visible_cells: int = 0
    false_occupied_cells: int = 0
    false_occupied_near: int = 0
    missed_occupied_cells: int = 0

    def as_dict(self) -> dict[str, float | int | bool | None]:
        """Summary for metrics.json."""
        return {
            "occupied_iou": self.occupied_iou,
            "free_iou": self.free_iou,
            "occupied_precision": self.occupied_precision,
            "occupied_recall": self.occupied_recall,
            "coverage_pct": self.coverage_pct,
            "known_cells": self.known_cells,
            "resampled": self.resampled,
            "observed_occupied_iou": self.observed_occupied_iou,
            "observed_free_iou": self.observed_free_iou,
            "observed_cells": self.observed_cells,
            # null without a visible-surface map (NaN is not JSON).
            "visible_occupied_iou": None if self.visible_cells == 0 else self.visible_occupied_iou,
            "visible_cells": self.visible_cells,
            "false_occupied_cells": self.false_occupied_cells,
            "false_occupied_near": self.false_occupied_near,
            "missed_occupied_cells": self.missed_occupied_cells,
        }


def _same_geometry(a: OccupancyGrid, b: OccupancyGrid) -> bool:
    return (
        a.data.shape == b.data.shape
        and abs(a.resolution_m - b.resolution_m) <= 1e-9
        and a.origin.allclose(b.origin, atol=1e-9)
    )


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def occupancy_metrics(
    estimate: OccupancyGrid,
    ground_truth: OccupancyGrid,
    *,
    occupied_min: int = 65,
    free_max: int = 25,
    visible: OccupancyGrid | None = None,
) -> OccupancyMetrics:
    """IoU of occupied and of free cells of ``estimate`` against ``ground_truth``.

    Args:
        estimate: the map a run built (``/map``).
        ground_truth: the true map (``/ground_truth/map``), same frame.
        occupied_min: smallest occupied value (map_server ``occupied_thresh`` 0.65).
        free_max: largest free value (map_server ``free_thresh`` 0.25).
        visible: the ground truth's occupied cells that could be seen (100; others -1),
            on the ground truth's grid; None: ``visible_occupied_iou`` is NaN.

    Returns:
        the scores on the ground-truth grid.

    Raises:
        EvalError: frames differ or the ground truth knows no cell.
    """
    if (
        estimate.header.frame_id
        and ground_truth.header.frame_id
        and estimate.header.frame_id != ground_truth.header.frame_id
    ):
        msg = (
            f"map frames differ: estimate in {estimate.header.frame_id!r}, ground truth "
            f"in {ground_truth.header.frame_id!r}"
        )
        raise EvalError(msg)
    same = _same_geometry(estimate, ground_truth)
    est_values = np.asarray(estimate.data) if same else resample_grid(estimate, ground_truth)
    est = classify_cells(est_values, occupied_min=occupied_min, free_max=free_max)
    gt = classify_cells(ground_truth.data, occupied_min=occupied_min, free_max=free_max)
    known = gt != UNKNOWN
    n_known = int(np.count_nonzero(known))
    if n_known == 0:
        msg = "ground-truth map has no known cell"
        raise EvalError(msg)
    e, g = est[known], gt[known]
    e_occ, g_occ = e == OCCUPIED, g == OCCUPIED
    e_free, g_free = e == FREE, g == FREE
    both_occ = int(np.count_nonzero(e_occ & g_occ))
    seen = np.asarray(est_values)[known] >= 0
    obs_occ = int(np.count_nonzero(e_occ & g_occ & seen))
    visible_iou, visible_cells = float("nan"), 0
    if visible is not None:
        if not _same_geometry(visible, ground_truth):
            msg = "the visible-surface map is not on the ground-truth grid"
            raise EvalError(msg)
        v = np.asarray(visible.data)[known] == 100
        scored = seen & ((g == FREE) | (g_occ & v))
        visible_cells = int(np.count_nonzero(scored))
        visible_iou = _ratio(
            int(np.count_nonzero(e_occ & g_occ & scored)),
            int(np.count_nonzero((e_occ | g_occ) & scored)),
        )
    false_occ = e_occ & (g == FREE) & seen
    to_surface = ndimage.distance_transform_edt(gt != OCCUPIED)[known]
    return OccupancyMetrics(
        occupied_iou=_ratio(both_occ, int(np.count_nonzero(e_occ | g_occ))),
        free_iou=_ratio(
            int(np.count_nonzero(e_free & g_free)), int(np.count_nonzero(e_free | g_free))
        ),
        occupied_precision=_ratio(both_occ, int(np.count_nonzero(e_occ))),
        occupied_recall=_ratio(both_occ, int(np.count_nonzero(g_occ))),
        coverage_pct=100.0 * np.count_nonzero(e != UNKNOWN) / n_known,
        known_cells=n_known,
        resampled=not same,
        observed_occupied_iou=_ratio(obs_occ, int(np.count_nonzero((e_occ | g_occ) & seen))),
        observed_free_iou=_ratio(
            int(np.count_nonzero(e_free & g_free & seen)),
            int(np.count_nonzero((e_free | g_free) & seen)),
        ),
        observed_cells=int(np.count_nonzero(seen)),
        visible_occupied_iou=visible_iou,
        visible_cells=visible_cells,
        false_occupied_cells=int(np.count_nonzero(false_occ)),
        false_occupied_near=int(np.count_nonzero(false_occ & (to_surface <= NEAR_CELLS))),
        missed_occupied_cells=int(np.count_nonzero(e_free & g_occ & seen)),
    )
