"""Benchmark of occupancy mapping: one organised depth cloud into a 5 cm grid, with clearing.

The cloud is built here, no files needed: a pinhole camera (640x480, 90 degrees
horizontal field of view, 1 m above the floor, pitched 0.3 rad down) inside a 7 x 6 x
2.6 m room with three box obstacles, every pixel's ray cast analytically to the first
surface, 2 % of the pixels dropped to NaN as stereo holes are (no-return beams are not
passed: the grid's rays are those of the points). Points are in the map frame.

Per repeat, back to back and alternating which goes first, one core (OpenCV and BLAS at
one thread):

- ``grid``: :meth:`~percept.mapping.occupancy2d.OccupancyMap2D.insert` of the whole
  cloud with free-space clearing (height band, ground clearing, one ray per unique
  endpoint cell) into a map that already holds the scene (steady state);
- ``bincount``: endpoint-only marking of the same points: ``np.floor`` to cells and one
  ``np.bincount`` over the grid, no rays (the floor of what any 2-D mapper costs);
- ``voxel3d``: :meth:`~percept.mapping.voxel3d.VoxelMap3D.insert` of the cloud, full
  3-D rays;
- ``band3d`` and ``band3d_tsdf``: :meth:`~percept.mapping.band3d.BandMap2D.insert` (3-D
  rays in the height band's voxels, what the synthetic robot runs), without and with
  the fused TSDF surface (``surface_model: tsdf``);
- ``octomap``: pyoctomap's ``OcTree.insertPointCloud`` of the same cloud, same
  resolution, probabilities and range, the points discretised to unique voxel centres
  with numpy first (what OctoMap's C++ ``computeDiscreteUpdate`` does; pyoctomap's own
  ``discretize=True`` runs a Python loop over the points) and that time included.
  Skipped, with the reason, when pyoctomap is not importable.

Nothing is downsampled: every finite point is used; the report gives the counts.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from percept.benchmark.common import median_ms, opencv_run, paired_ratio, report_footer
from percept.mapping.band3d import BandMap2D
from percept.mapping.config import MappingConfig
from percept.mapping.occupancy2d import OccupancyMap2D
from percept.mapping.voxel3d import VoxelMap3D

__all__ = ["RoomView", "format_mapping_report", "room_view", "run_mapping_benchmark"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Target integration rate with clearing on one core (issue 18).
TARGET_HZ = 10.0
#: The room: (min xyz, max xyz) metres, and the obstacles inside it.
ROOM_M = (np.array([-2.0, -3.0, 0.0]), np.array([5.0, 3.0, 2.6]))
OBSTACLES_M = (
    (np.array([1.5, -0.6, 0.0]), np.array([2.1, 0.2, 0.9])),  # a crate
    (np.array([3.0, 1.0, 0.0]), np.array([3.3, 1.3, 2.6])),  # a pillar
    (np.array([2.5, -2.2, 0.7]), np.array([3.6, -1.4, 0.8])),  # a table top
)


@dataclass(frozen=True, slots=True, eq=False)
class RoomView:
    """One synthetic organised cloud of the room.

    Attributes:
        origin_m: (3,) float64 camera position, metres, map frame.
        points_m: (H, W, 3) float32 points, metres, map frame; NaN for dropped pixels.
    """

    origin_m: FloatArray
    points_m: npt.NDArray[np.float32]


def _box_hits(origin: FloatArray, dirs: FloatArray) -> FloatArray:
    """(N,) ray parameter of the first surface: room walls from inside, obstacles."""
    lo, hi = ROOM_M
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dirs
        t_wall = np.where(dirs > 0, (hi - origin) * inv, (lo - origin) * inv)
        t_wall = np.where(dirs == 0, np.inf, t_wall)
        t = t_wall.min(axis=1)
        for b_lo, b_hi in OBSTACLES_M:
            t0, t1 = (b_lo - origin) * inv, (b_hi - origin) * inv
            near = np.nan_to_num(np.minimum(t0, t1), nan=-np.inf).max(axis=1)
            far = np.nan_to_num(np.maximum(t0, t1), nan=np.inf).min(axis=1)
            hit = (near <= far) & (near > 0.0)
            t = np.where(hit & (near < t), near, t)
    result: FloatArray = t
    return result


def room_view(
    width: int = 640,
    height: int = 480,
    origin_m: npt.ArrayLike = (0.0, 0.0, 1.0),
    yaw_rad: float = 0.0,
    pitch_rad: float = 0.3,
    hfov_rad: float = np.pi / 2,
    dropout: float = 0.02,
    seed: int = 0,
) -> RoomView:
    """An organised cloud of the room seen by a pinhole camera.

    Args:
        width: image columns.
        height: image rows.
        origin_m: (3,) camera position, metres, map frame (inside the room).
        yaw_rad: heading about z (0: looking along +x).
        pitch_rad: downward tilt.
        hfov_rad: horizontal field of view.
        dropout: share of pixels set to NaN (stereo holes).
        seed: RNG seed of the dropout.

    Returns:
        The camera position and (H, W, 3) float32 map-frame points.
    """
    origin = np.asarray(origin_m, dtype=np.float64).reshape(3)
    f = 0.5 * width / np.tan(0.5 * hfov_rad)
    u, v = np.meshgrid(np.arange(width) + 0.5 - 0.5 * width, np.arange(height) + 0.5 - 0.5 * height)
    # Camera axes in the map: forward x, left y, up z (optical z forward, x right, y down).
    cam = np.stack([np.full(u.shape, f), -u, -v], axis=-1).reshape(-1, 3)
    cp, sp, cy, sy = np.cos(pitch_rad), np.sin(pitch_rad), np.cos(yaw_rad), np.sin(yaw_rad)
    pitch = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    yaw = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    dirs = cam @ (yaw @ pitch).T
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    t = _box_hits(origin, dirs)
    points = (origin + dirs * t[:, None]).astype(np.float32)
    rng = np.random.default_rng(seed)
    points[rng.random(points.shape[0]) < dropout] = np.nan
    return RoomView(origin, points.reshape(height, width, 3))


def _octomap_insert(config: MappingConfig) -> tuple[Callable[[RoomView], float] | None, str]:
    """A timed pyoctomap insert into one tree, or None and why it cannot run."""
    try:
        import pyoctomap
    except ImportError as err:
        return None, f"pyoctomap not importable ({err})"
    tree = pyoctomap.OcTree(config.resolution_m)
    tree.setProbHit(config.prob_hit)
    tree.setProbMiss(config.prob_miss)
    tree.setClampingThresMin(config.clamp_min)
    tree.setClampingThresMax(config.clamp_max)
    r = config.resolution_m

    def insert(view: RoomView) -> float:
        start = time.perf_counter()
        pts = view.points_m.reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(axis=1)]
        keys = np.unique(np.floor(pts / r).astype(np.int64), axis=0)
        centres = (keys + 0.5) * r
        tree.insertPointCloud(centres, view.origin_m, max_range=config.max_range_m)
        return time.perf_counter() - start

    return insert, ""


def run_mapping_benchmark(
    repeats: int = 20,
    width: int = 640,
    height: int = 480,
    config: MappingConfig | None = None,
    threads: int | None = 1,
) -> dict[str, float]:
    """Time one organised cloud into the grid against endpoint-only bincount and OctoMap.

    Args:
        repeats: timed inserts of each kind, median reported.
        width: image columns of the synthetic camera.
        height: image rows.
        config: the mapping settings (default ``MappingConfig()``: 5 cm, 5 m range).
        threads: OpenCV threads (BLAS runs at one thread).

    Returns:
        Flat mapping, keys ``mapping_<W>x<H>.<name>``: ``grid_ms``, ``bincount_ms``,
        ``voxel3d_ms``, ``band3d_ms`` (3-D rays in the height band, projected),
        ``band3d_tsdf_ms`` (the same with ``surface_model: tsdf``), ``octomap_ms``
        (medians; octomap only when available), ``grid_hz``, ``grid_vs_bincount``,
        ``octomap_vs_grid``, ``voxel3d_vs_grid``, ``band3d_vs_grid``,
        ``tsdf_vs_band3d`` (medians of paired ratios), ``octomap_available``, ``points_in``,
        ``points_used``, ``points_marked``, ``points_ground``, ``points_above``,
        ``points_far``, ``rays``, ``cells_free``, ``cells_hit``, ``voxel_rays``,
        ``grid_cells``; plus ``repeats`` and ``opencv_threads``.

    Raises:
        ValueError: repeats < 1.
    """
    cfg = config if config is not None else MappingConfig()
    view = room_view(width, height)
    base_z = 0.0
    with opencv_run(repeats, threads) as results, threadpool_limits(limits=1, user_api="blas"):
        grid = OccupancyMap2D(cfg)
        voxels = VoxelMap3D(cfg)
        band = BandMap2D(dataclasses.replace(cfg, grid_model="band3d"))
        band_tsdf = BandMap2D(dataclasses.replace(cfg, grid_model="band3d", surface_model="tsdf"))
        octomap, why = _octomap_insert(cfg)
        # Warm-up: the grid and voxel store take the scene once (steady state after).
        stats = grid.insert(view.origin_m, view.points_m, base_z, 0)
        vstats = voxels.insert(view.origin_m, view.points_m, 0)
        band.insert(view.origin_m, view.points_m, base_z, 0)
        band_tsdf.insert(view.origin_m, view.points_m, base_z, 0)
        if octomap is not None:
            octomap(view)
        geometry = grid.geometry
        r = cfg.resolution_m
        cell0 = np.asarray(geometry.origin_cell, dtype=np.int64)

        def bincount() -> float:
            start = time.perf_counter()
            pts = view.points_m.reshape(-1, 3)
            pts = pts[np.isfinite(pts).all(axis=1)]
            cells = np.floor(pts[:, :2] / r).astype(np.int64) - cell0
            inside = (cells >= 0).all(axis=1) & (cells[:, 0] < geometry.width)
            inside &= cells[:, 1] < geometry.height
            flat = cells[inside, 1] * geometry.width + cells[inside, 0]
            np.bincount(flat, minlength=geometry.width * geometry.height)
            return time.perf_counter() - start

        times: dict[str, list[float]] = {
            "grid": [],
            "bincount": [],
            "voxel3d": [],
            "band3d": [],
            "band3d_tsdf": [],
            "octomap": [],
        }
        runs: dict[str, Callable[[], float]] = {
            "grid": lambda: grid.insert(view.origin_m, view.points_m, base_z, 1).seconds,
            "bincount": bincount,
            "voxel3d": lambda: voxels.insert(view.origin_m, view.points_m, 1).seconds,
            "band3d": lambda: band.insert(view.origin_m, view.points_m, base_z, 1).seconds,
            "band3d_tsdf": lambda: (
                band_tsdf.insert(view.origin_m, view.points_m, base_z, 1).seconds
            ),
        }
        if octomap is not None:
            runs["octomap"] = lambda: octomap(view)
        order = list(runs)
        for i in range(repeats):
            # Alternate the order, so that none always finds the points in cache.
            for name in order if i % 2 == 0 else order[::-1]:
                times[name].append(runs[name]())
    prefix = f"mapping_{width}x{height}"
    grid_ms = median_ms(times["grid"])
    results |= {
        f"{prefix}.grid_ms": grid_ms,
        f"{prefix}.grid_hz": 1e3 / grid_ms,
        f"{prefix}.bincount_ms": median_ms(times["bincount"]),
        f"{prefix}.voxel3d_ms": median_ms(times["voxel3d"]),
        f"{prefix}.grid_vs_bincount": paired_ratio(times["grid"], times["bincount"]),
        f"{prefix}.voxel3d_vs_grid": paired_ratio(times["voxel3d"], times["grid"]),
        f"{prefix}.band3d_ms": median_ms(times["band3d"]),
        f"{prefix}.band3d_tsdf_ms": median_ms(times["band3d_tsdf"]),
        f"{prefix}.band3d_vs_grid": paired_ratio(times["band3d"], times["grid"]),
        f"{prefix}.tsdf_vs_band3d": paired_ratio(times["band3d_tsdf"], times["band3d"]),
        f"{prefix}.octomap_available": float(octomap is not None),
        f"{prefix}.points_in": float(stats.points_in),
        f"{prefix}.points_used": float(stats.points_used),
        f"{prefix}.points_marked": float(stats.points_marked),
        f"{prefix}.points_ground": float(stats.points_ground),
        f"{prefix}.points_above": float(stats.points_above),
        f"{prefix}.points_far": float(stats.points_far),
        f"{prefix}.rays": float(stats.rays),
        f"{prefix}.cells_free": float(stats.cells_free),
        f"{prefix}.cells_hit": float(stats.cells_hit),
        f"{prefix}.voxel_rays": float(vstats.rays),
        f"{prefix}.grid_cells": float(geometry.width * geometry.height),
        f"{prefix}.grid_p90_ms": float(np.percentile(times["grid"], 90.0)) * 1e3,
        f"{prefix}.grid_mean_ms": statistics.fmean(times["grid"]) * 1e3,
    }
    if octomap is not None:
        results[f"{prefix}.octomap_ms"] = median_ms(times["octomap"])
        results[f"{prefix}.octomap_vs_grid"] = paired_ratio(times["octomap"], times["grid"])
    else:
        logger.warning("bench mapping: OctoMap skipped: %s", why)
    logger.debug("mapping benchmark: %s", results)
    return results


def format_mapping_report(results: Mapping[str, float]) -> str:
    """A text table of :func:`run_mapping_benchmark` results.

    Args:
        results: as returned by :func:`run_mapping_benchmark`.

    Returns:
        Multi-line table: one row per method (median ms, Hz), the ratios, the points
        and cells, and whether the 10 Hz target is met.
    """
    prefixes = sorted({k.split(".")[0] for k in results if k.startswith("mapping_")})
    lines: list[str] = []
    for prefix in prefixes:
        r = {k.split(".", 1)[1]: v for k, v in results.items() if k.startswith(prefix + ".")}
        lines.append(f"{prefix + ' one cloud':<44} {'median ms':>10} {'Hz':>8}")
        rows = [
            ("grid, 2-D rays with clearing (percept)", "grid_ms"),
            ("endpoint-only np.bincount (no clearing)", "bincount_ms"),
            ("voxel map, 3-D rays (percept)", "voxel3d_ms"),
            ("band3d: 3-D rays in the band, projected", "band3d_ms"),
            ("band3d + fused TSDF surface", "band3d_tsdf_ms"),
        ]
        if r.get("octomap_available", 0.0):
            rows.append(("OctoMap insertPointCloud, discretised, 3-D", "octomap_ms"))
        for label, key in rows:
            lines.append(f"{label:<44} {r[key]:>10.2f} {1e3 / r[key]:>8.1f}")
        if not r.get("octomap_available", 0.0):
            lines.append(
                f"{'OctoMap insertPointCloud':<44} {'skipped: pyoctomap not importable':>19}"
            )
        ratios = (
            f"grid / bincount {r['grid_vs_bincount']:.1f}x, "
            f"voxel3d / grid {r['voxel3d_vs_grid']:.1f}x, "
            f"band3d / grid {r['band3d_vs_grid']:.1f}x, "
            f"band3d tsdf / band3d {r['tsdf_vs_band3d']:.2f}x"
        )
        if r.get("octomap_available", 0.0):
            ratios += f", OctoMap / grid {r['octomap_vs_grid']:.1f}x"
        met = "met" if r["grid_hz"] >= TARGET_HZ else "NOT met"
        lines += [
            ratios + " (paired medians)",
            f"points: {r['points_in']:.0f} in, {r['points_used']:.0f} used (no downsampling): "
            f"{r['points_marked']:.0f} marking, {r['points_ground']:.0f} ground, "
            f"{r['points_above']:.0f} above the band, {r['points_far']:.0f} beyond range",
            f"grid rays {r['rays']:.0f} (unique endpoint cells), {r['cells_free']:.0f} cells "
            f"freed, {r['cells_hit']:.0f} hit of {r['grid_cells']:.0f}; voxel rays "
            f"{r['voxel_rays']:.0f}",
            f"grid {r['grid_hz']:.1f} Hz (p90 {r['grid_p90_ms']:.1f} ms): target >= "
            f"{TARGET_HZ:g} Hz on one core {met}",
        ]
    lines += report_footer(results, "inserts", "BLAS threads 1; 5 cm grid, clearing on")
    return "\n".join(lines)
