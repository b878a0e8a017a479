"""The Intel Lab map from its real scans, its picture beside the course's render, and its quality.

:func:`intel_lab_map` turns the 743 scans (:mod:`percept.io.intel_lab`, as LaserScans)
into a 2-D log-odds grid with the mapping core (:class:`OccupancyMap2D`, OctoMap's
sensor model, every beam cast from the scanner at its corrected pose), draws it beside
the reference render of the UMich course, and measures two figures of merit:

**Wall thickness** (:func:`wall_thickness`). Occupied cells are those with occupancy
probability >= 0.65 (nav2 map_server's ``occupied_thresh``). The mask is upsampled
``k = 4`` times (each cell -> k x k sub-cells), then OpenCV's exact Euclidean distance
transform gives each occupied sub-cell its distance ``d`` to the nearest
non-occupied sub-cell centre. The medial axis is the ridge of ``d``: sub-cells whose
``d`` is no smaller than any of their 8 neighbours'. A ridge sub-cell's local thickness
is ``2 d / k`` cells: exact for a straight wall along the grid axes of any width in
whole cells (a wall ``w`` cells wide is ``k w`` sub-cells; its middle sub-cells have
``d = k w / 2``), within about a cell for diagonal ones. The ridge samples (about ``k``
per cell of wall length) give the median and the 90th percentile.

**Loop closure gap** (:func:`loop_closure_gap`). The first pass is every scan until the
robot, having gone farther than ``leave_m`` from its first pose, comes back within
``revisit_m`` of it (scan ``j``; 67 on the file, after a 70 m loop); the revisits are
the scans from ``j`` on (the robot passes the start area four more times). One map is
built from each part (same cell lattice), both are cut to the ``window_m`` square
around the first pose, and their occupied cells among the cells both maps observed,
blurred by a Gaussian of ``blur_cells``, are registered with OpenCV's
``findTransformECC`` (Euclidean motion: rotation and translation). The gap is the
displacement of the window centre and the rotation that carry the revisits' map onto
the first pass's. The method recovers a known warp of the map to 0.03 cells and 0.05
deg (tests). With only the first revisit (22 scans) the rotation is poorly constrained
(it moves by 2 deg with the blur), hence all revisits.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import EvalError
from percept.io.intel_lab import IntelLabData, to_laser_scans
from percept.mapping.config import MappingConfig
from percept.mapping.occupancy2d import OccupancyMap2D

__all__ = [
    "FREE_PROBABILITY",
    "OCCUPIED_PROBABILITY",
    "REFERENCE_EXTENT_M",
    "IntelLabMapFigures",
    "LoopGap",
    "WallThickness",
    "build_intel_lab_map",
    "intel_lab_map",
    "loop_closure_gap",
    "loop_split",
    "map_window",
    "register_maps",
    "render_beside_reference",
    "wall_thickness",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: nav2 map_server's ``occupied_thresh``: cells at least this likely are walls.
OCCUPIED_PROBABILITY = 0.65
#: nav2 map_server's ``free_thresh``: cells less likely are free (in the picture).
FREE_PROBABILITY = 0.25
#: (x_min, x_max, y_min, y_max) of the reference render's axes, metres.
REFERENCE_EXTENT_M = (-15.0, 20.0, -25.0, 10.0)


def _mapping_config(resolution_m: float) -> MappingConfig:
    # The scan plane is the map's z = 0 and base_link's height: a band around it marks;
    # every range of the file (<= 26.4 m) is within max_range_m.
    return MappingConfig(
        resolution_m=resolution_m,
        max_range_m=30.0,
        min_height_m=-0.5,
        max_height_m=0.5,
        initial_size_m=40.0,
    )


def build_intel_lab_map(
    data: IntelLabData, *, resolution_m: float = 0.05, indices: npt.ArrayLike | None = None
) -> OccupancyMap2D:
    """Insert the scans (as LaserScans, moved by their poses) into a 2-D occupancy map.

    Args:
        data: the data set.
        resolution_m: cell edge, metres.
        indices: which scans, in order (default: all).

    Returns:
        The map; its frame is the data's map frame.
    """
    scans = to_laser_scans(data)
    order = np.arange(data.n_scans) if indices is None else np.asarray(indices, np.int64)
    occupancy = OccupancyMap2D(_mapping_config(resolution_m))
    for i in order:
        scan = scans[int(i)]
        points = scan.points()[scan.valid_mask()].astype(np.float64)
        h = float(data.heading_rad[i])
        R_map_laser = np.array([[math.cos(h), -math.sin(h)], [math.sin(h), math.cos(h)]])
        xy = points @ R_map_laser.T + (data.x_m[i], data.y_m[i])
        xyz = np.concatenate([xy, np.zeros((xy.shape[0], 1))], axis=1)
        occupancy.insert((data.x_m[i], data.y_m[i], 0.0), xyz, 0.0, scan.header.stamp_ns)
    return occupancy


@dataclass(frozen=True, slots=True)
class WallThickness:
    """Thickness of occupied structures along their medial axis.

    Attributes:
        median_cells: median local thickness, cells.
        p90_cells: 90th percentile, cells.
        median_m: median, metres.
        p90_m: 90th percentile, metres.
        samples: number of medial-axis sub-cells measured.
    """

    median_cells: float
    p90_cells: float
    median_m: float
    p90_m: float
    samples: int


def wall_thickness(
    occupied: npt.ArrayLike, resolution_m: float, *, upsample: int = 4
) -> WallThickness:
    """Local thickness of the occupied structures (method in the module docstring).

    Args:
        occupied: (H, W) bool, True for occupied cells.
        resolution_m: cell edge, metres.
        upsample: sub-cells per cell edge (even, >= 2).

    Returns:
        Median and 90th percentile of the local thickness.

    Raises:
        EvalError: no occupied cell.
        ValueError: ``upsample`` odd or < 2.
    """
    if upsample < 2 or upsample % 2:
        msg = f"upsample must be even and >= 2, got {upsample}"
        raise ValueError(msg)
    mask = np.asarray(occupied, dtype=bool)
    if not mask.any():
        msg = "wall thickness: the map has no occupied cell"
        raise EvalError(msg)
    block = np.ones((upsample, upsample), np.uint8)
    fine: npt.NDArray[np.uint8] = np.pad(np.kron(mask.astype(np.uint8), block), 1).astype(
        np.uint8
    )  # the padding: outside the map is not occupied
    dist = cv2.distanceTransform(fine, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    neighbourhood_max = cv2.dilate(dist, np.ones((3, 3), np.uint8))
    ridge = (fine > 0) & (dist >= neighbourhood_max)
    cells = 2.0 * dist[ridge].astype(np.float64) / upsample
    median, p90 = (float(v) for v in np.percentile(cells, [50, 90]))
    return WallThickness(median, p90, median * resolution_m, p90 * resolution_m, int(cells.size))


def loop_split(data: IntelLabData, *, leave_m: float = 5.0, revisit_m: float = 2.0) -> int:
    """Index ``j`` of the first scan of the revisits: the first pass is ``[0, j)``.

    ``j`` is the first scan back within ``revisit_m`` of the first pose after the robot
    went farther than ``leave_m`` from it.

    Raises:
        EvalError: the path never comes back.
    """
    distance = np.hypot(data.x_m - data.x_m[0], data.y_m - data.y_m[0])
    left = np.flatnonzero(distance > leave_m)
    back = np.flatnonzero(distance <= revisit_m)
    back = back[back > left[0]] if left.size else back[:0]
    if back.size == 0:
        msg = f"{data.path}: the path never comes back within {revisit_m} m of its start"
        raise EvalError(msg)
    return int(back[0])


def map_window(
    occupancy: OccupancyMap2D, centre_xy_m: tuple[float, float], size_m: float
) -> npt.NDArray[np.float32]:
    """(n, n) float32 occupancy probability of a square window, NaN where unobserved.

    ``n = round(size_m / resolution)``; row 0 at the lowest y, column 0 at the lowest x;
    the window's corner lies on the cell lattice, so two maps of the same resolution
    give aligned windows.
    """
    g = occupancy.geometry
    n = round(size_m / g.resolution_m)
    col0, row0 = (
        math.floor((c - size_m / 2) / g.resolution_m) - o
        for c, o in zip(centre_xy_m, g.origin_cell, strict=True)
    )
    out = np.full((n, n), np.nan, dtype=np.float32)
    prob = occupancy.occupancy_probability()
    r0, r1 = max(row0, 0), min(row0 + n, g.height)
    c0, c1 = max(col0, 0), min(col0 + n, g.width)
    if r1 > r0 and c1 > c0:
        out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = prob[r0:r1, c0:c1]
    return out


@dataclass(frozen=True, slots=True)
class LoopGap:
    """The misalignment between a region's first-pass map and its revisit's.

    Attributes:
        split_index: first scan of the revisits (``j`` of :func:`loop_split`).
        translation_m: (dx, dy) moving the revisits' map at the window centre onto the
            first pass's, metres, map frame.
        gap_m: length of ``translation_m``.
        rotation_deg: rotation carrying the revisits' map onto the first pass's,
            counter-clockwise, degrees.
        correlation: ECC's final correlation coefficient (1: identical).
        common_cells: cells observed in both windows.
    """

    split_index: int
    translation_m: tuple[float, float]
    gap_m: float
    rotation_deg: float
    correlation: float
    common_cells: int


def register_maps(
    reference: npt.ArrayLike, moving: npt.ArrayLike, *, blur_cells: float = 1.5
) -> tuple[FloatArray, float]:
    """Euclidean warp aligning ``moving`` onto ``reference`` with ECC.

    Args:
        reference: (n, m) float occupancy weights (1 occupied, 0 not; NaN read as 0).
        moving: (n, m) the same for the map to align.
        blur_cells: standard deviation of the Gaussian both are blurred with, cells.

    Returns:
        ``(W, rho)``: the (2, 3) float64 warp with ``moving(W (c, r)) ~ reference(c, r)``
        in (column, row) cell coordinates, and the correlation coefficient.

    Raises:
        EvalError: ECC does not converge.
    """

    def prepare(image: npt.ArrayLike) -> npt.NDArray[np.float32]:
        arr = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
        out: npt.NDArray[np.float32] = np.asarray(
            cv2.GaussianBlur(arr, (0, 0), blur_cells), dtype=np.float32
        )
        return out

    initial = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 500, 1e-7)
    template, image = prepare(reference), prepare(moving)
    everywhere = np.ones(template.shape, dtype=np.uint8)
    try:
        rho, warp = cv2.findTransformECC(
            template, image, initial, cv2.MOTION_EUCLIDEAN, criteria, everywhere, 1
        )
    except cv2.error as err:
        msg = f"map registration (ECC) failed: {err}"
        raise EvalError(msg) from err
    return np.asarray(warp, dtype=np.float64), float(rho)


def loop_closure_gap(
    data: IntelLabData,
    *,
    resolution_m: float = 0.05,
    window_m: float = 16.0,
    leave_m: float = 5.0,
    revisit_m: float = 2.0,
    blur_cells: float = 1.5,
) -> LoopGap:
    """The loop closure gap at the start area (method in the module docstring).

    Raises:
        EvalError: the path never comes back, too few common cells, or the
            registration fails.
    """
    j = loop_split(data, leave_m=leave_m, revisit_m=revisit_m)
    centre = (float(data.x_m[0]), float(data.y_m[0]))
    first = build_intel_lab_map(data, resolution_m=resolution_m, indices=np.arange(j))
    again = build_intel_lab_map(data, resolution_m=resolution_m, indices=np.arange(j, data.n_scans))
    pa, pb = map_window(first, centre, window_m), map_window(again, centre, window_m)
    both = ~np.isnan(pa) & ~np.isnan(pb)
    if both.sum() < 100:
        msg = f"loop closure gap: the two maps share {int(both.sum())} observed cells (< 100)"
        raise EvalError(msg)
    with np.errstate(invalid="ignore"):
        a = (pa >= OCCUPIED_PROBABILITY) & both
        b = (pb >= OCCUPIED_PROBABILITY) & both
    warp, rho = register_maps(a.astype(np.float32), b.astype(np.float32), blur_cells=blur_cells)
    n = a.shape[0]
    mid = np.array([(n - 1) / 2, (n - 1) / 2])
    # W maps reference cells to moving cells: the revisit's content at W(c) belongs at c.
    moved = warp[:, :2] @ mid + warp[:, 2]
    dx, dy = ((mid - moved) * resolution_m).tolist()
    angle = -math.degrees(math.atan2(warp[1, 0], warp[0, 0]))
    gap = LoopGap(j, (dx, dy), math.hypot(dx, dy), angle, rho, int(both.sum()))
    logger.debug("loop closure gap: %s", gap)
    return gap


def _grey(occupancy: OccupancyMap2D) -> npt.NDArray[np.uint8]:
    """(H, W) uint8, rows top-down, trinary as the course draws it and nav2 thresholds it.

    255 free (p < 0.25, map_server's ``free_thresh``), 0 occupied (p >= 0.65), else 128.
    """
    prob = occupancy.occupancy_probability()
    grey = np.full(prob.shape, 128, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        grey[prob < FREE_PROBABILITY] = 255
        grey[prob >= OCCUPIED_PROBABILITY] = 0
    return np.flipud(grey)


def _plot_box(reference: npt.NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixels of the reference's axes: the bounding box of its grey."""
    grey = np.all(np.abs(reference.astype(np.int16) - 128) <= 2, axis=2)
    rows, cols = np.nonzero(grey)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def render_beside_reference(
    occupancy: OccupancyMap2D, reference_png: Path | str, out_png: Path | str, *, label: str = ""
) -> Path:
    """Draw the map in the reference figure's axes, and write both side by side.

    The map is cut to the reference's axes (x -15...20 m, y -25...10 m) and scaled into
    the same pixel box; white free, black occupied, grey unknown or undecided.

    Returns:
        ``out_png``.

    Raises:
        EvalError: the reference cannot be read.
    """
    reference = cv2.imread(str(reference_png), cv2.IMREAD_COLOR)
    if reference is None:
        msg = f"{reference_png}: cannot read the reference render"
        raise EvalError(msg)
    x0, y0, x1, y1 = _plot_box(np.asarray(reference, dtype=np.uint8))
    xmin, xmax, ymin, ymax = REFERENCE_EXTENT_M
    g = occupancy.geometry
    # Affine map from grid image pixels (flipped rows) to figure pixels.
    sx = (x1 - x0) / (xmax - xmin) * g.resolution_m
    sy = (y1 - y0) / (ymax - ymin) * g.resolution_m
    top_y = g.origin_xy_m[1] + g.height * g.resolution_m
    tx = x0 + (g.origin_xy_m[0] - xmin) / (xmax - xmin) * (x1 - x0)
    ty = y0 + (ymax - top_y) / (ymax - ymin) * (y1 - y0)
    affine = np.array([[sx, 0.0, tx], [0.0, sy, ty]])
    canvas = np.full(reference.shape[:2], 255, np.uint8)
    box = np.zeros_like(canvas)
    box[y0:y1, x0:x1] = 1
    drawn = cv2.warpAffine(
        _grey(occupancy),
        affine,
        (canvas.shape[1], canvas.shape[0]),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=128,
    )
    canvas[box > 0] = drawn[box > 0]
    panel = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    cv2.rectangle(panel, (x0, y0), (x1 - 1, y1 - 1), (0, 0, 0), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for value in range(int(xmin) + 5, int(xmax) + 1, 10):
        u = round(x0 + (value - xmin) / (xmax - xmin) * (x1 - x0))
        cv2.putText(panel, str(value), (u - 20, y1 + 45), font, 1.1, (0, 0, 0), 2)
    for value in range(int(ymin), int(ymax) + 1, 5):
        v = round(y0 + (ymax - value) / (ymax - ymin) * (y1 - y0))
        cv2.putText(panel, str(value), (x0 - 95, v + 12), font, 1.1, (0, 0, 0), 2)
    cv2.putText(panel, label or "Percept", (x0, y0 - 30), font, 1.1, (0, 0, 0), 2)
    cv2.putText(reference, "UMich ROB 530 reference", (x0, y0 - 30), font, 1.1, (0, 0, 0), 2)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), np.hstack([panel, reference])):
        msg = f"{out}: cannot write the picture"
        raise EvalError(msg)
    return out


@dataclass(frozen=True, slots=True)
class IntelLabMapFigures:
    """What :func:`intel_lab_map` measured.

    Attributes:
        scans: scans inserted.
        resolution_m: cell edge, metres.
        size_cells: (width, height) of the grid.
        observed_cells: cells observed.
        occupied_cells: cells with p >= 0.65.
        build_s: wall time of the 743 inserts, seconds.
        wall: wall thickness.
        loop: loop closure gap at the start area.
        picture: the side-by-side PNG, or None.
    """

    scans: int
    resolution_m: float
    size_cells: tuple[int, int]
    observed_cells: int
    occupied_cells: int
    build_s: float
    wall: WallThickness
    loop: LoopGap
    picture: Path | None


def intel_lab_map(
    data: IntelLabData,
    *,
    resolution_m: float = 0.05,
    reference_png: Path | str | None = None,
    out_png: Path | str | None = None,
) -> IntelLabMapFigures:
    """Build the Intel Lab map, measure it, and draw it beside the reference render.

    Args:
        data: the data set.
        resolution_m: cell edge, metres.
        reference_png: the course's render (``ogm_intel_reference_render.png``); with
            ``out_png``, the side-by-side picture is written there.
        out_png: where to write the picture.

    Returns:
        The figures.

    Raises:
        EvalError: no occupied cell, no loop, a failed registration or picture.
    """
    began = time.perf_counter()
    occupancy = build_intel_lab_map(data, resolution_m=resolution_m)
    build_s = time.perf_counter() - began
    prob = occupancy.occupancy_probability()
    with np.errstate(invalid="ignore"):
        occupied = prob >= OCCUPIED_PROBABILITY
    wall = wall_thickness(occupied, resolution_m)
    loop = loop_closure_gap(data, resolution_m=resolution_m)
    picture = None
    if reference_png is not None and out_png is not None:
        label = f"Percept: {data.n_scans} scans, {resolution_m:g} m cells"
        picture = render_beside_reference(occupancy, reference_png, out_png, label=label)
    g = occupancy.geometry
    return IntelLabMapFigures(
        data.n_scans,
        resolution_m,
        (g.width, g.height),
        int(occupancy.observed().sum()),
        int(occupied.sum()),
        build_s,
        wall,
        loop,
        picture,
    )
