"""A 2-D grid for nav2 projected from 3-D rays in the obstacle height band (voxel-layer style).

The flat grid (:mod:`percept.mapping.occupancy2d`) casts every ray in the xy plane, so
a ray that passes *over* a low obstacle (to the floor or a wall behind it) clears the
obstacle's cells: a depth camera looking down over a box clears the box. nav2's voxel
layer and octomap_server's projected map avoid that by keeping the rays in 3-D and
projecting afterwards; so does this map.

**Store.** A dense block of log-odds voxels over the grid's cells
(:class:`~percept.mapping.grid.GridGeometry`, growing as the flat grid does) and
``ceil((max_height_m - min_height_m) / layer_height_m)`` layers of ``layer_height_m``
above ``min_height_m`` relative to the ``base_link`` height each insert passes (a
ground robot's band; voxels are ``resolution_m`` wide and ``layer_height_m`` tall).

**Insert.** :func:`~percept.mapping.occupancy2d.split_points` sorts the points as for the
flat grid (same range, band and no-return rules); then, in 3-D: a point inside the band
marks its voxel; every other ray (ground, above the band, beyond the range, no return)
is cut where it leaves the band (one layer outside it) and frees the voxels before its
end. OctoMap's discretised update in the box around the sensor
(:func:`~percept.mapping.raycast.traverse_codes`, 3-D): one ray per unique end voxel,
cast to its centre, each voxel updated once, a hit wins over a pass; the log-odds step,
clamping and decay are :func:`~percept.mapping.occupancy2d.log_odds_step`'s.

**Grazing rays** (``clear_sublayers`` > 1): the rays are traced through sub-layers of
``layer_height_m / clear_sublayers``; a voxel is hit when any of its sub-layers holds an
endpoint, and freed only when a ray passes its middle sub-layer. A ray that crosses a
voxel's top few centimetres (over a pallet's deck, to the floor behind it) then leaves
the voxel the deck's points are in, where a whole-voxel trace would take a miss off it
for every such ray. OctoMap has no such rule: its voxels are cubes.

**Projection** (octomap_server's ``projected_map``): a cell is occupied (100) when any
observed voxel of its column is occupied (log-odds > 0, OctoMap's ``isNodeOccupied``).
With ``free_column_rule: any_voxel`` it is free (0) when any other voxel of the column
is observed; with ``bottom_voxel`` only when the column's bottom voxel is observed free,
so a column seen only above something (a deck's underside, the space behind a box) stays
unknown (-1), as nav2's voxel layer leaves a column with too few known voxels unknown.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import numpy.typing as npt

from percept.domain import Header, OccupancyGrid
from percept.geometry.pose import Pose
from percept.mapping.config import MappingConfig
from percept.mapping.grid import GridGeometry
from percept.mapping.occupancy2d import (
    NEVER_NS,
    InsertStats,
    decay_weight,
    forget_faded,
    split_points,
    update_window,
)
from percept.mapping.raycast import HIT, PASS, traverse_codes, traverse_counts

__all__ = ["BandMap2D"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class BandMap2D:
    """A 2-D occupancy grid projected from 3-D log-odds voxels in the height band.

    Same face as :class:`~percept.mapping.occupancy2d.OccupancyMap2D` (module docstring
    for the model).

    Args:
        config: sensor model, band, range, decay, first size and ``layer_height_m``
            (default ``MappingConfig()``).
    """

    def __init__(self, config: MappingConfig | None = None) -> None:
        self.config = config if config is not None else MappingConfig()
        cfg = self.config
        self.layers = max(1, math.ceil((cfg.max_height_m - cfg.min_height_m) / cfg.layer_height_m))
        self._geometry = GridGeometry(cfg.resolution_m, (0.0, 0.0), 0, 0)
        self._log_odds = np.zeros((self.layers, 0, 0), dtype=np.float32)
        self._stamp_ns = np.zeros((self.layers, 0, 0), dtype=np.int64)
        self._now_ns: int | None = None
        self.inserts = 0

    @property
    def geometry(self) -> GridGeometry:
        """Where the grid lies (0 x 0 before the first insert)."""
        return self._geometry

    @property
    def stamp_ns(self) -> int | None:
        """Stamp of the newest insert, None before the first."""
        return self._now_ns

    def voxel_log_odds(self) -> npt.NDArray[np.float32]:
        """(layers, H, W) float32 log-odds at the newest stamp (decay applied); 0 unobserved."""
        seen = self._stamp_ns != NEVER_NS
        out = np.zeros_like(self._log_odds)
        if self.config.decay_model == "none" or self._now_ns is None:
            out[seen] = self._log_odds[seen]
            return out
        weight, _ = decay_weight(self.config, self._now_ns - self._stamp_ns[seen])
        out[seen] = self._log_odds[seen] * weight.astype(np.float32)
        return out

    def observed(self) -> BoolArray:
        """(H, W) bool: cells the projection calls known (free or occupied).

        ``any_voxel``: a column with at least one observed voxel; ``bottom_voxel``: an
        occupied column, or one whose bottom voxel is observed free.
        """
        return self._project()[0]

    def occupied(self) -> BoolArray:
        """(H, W) bool: cells with an occupied voxel (log-odds > 0)."""
        return self._project()[1]

    def _project(self) -> tuple[BoolArray, BoolArray]:
        """(known, occupied) columns under ``free_column_rule``."""
        log_odds = self.voxel_log_odds()
        seen = self._stamp_ns != NEVER_NS
        occupied: BoolArray = ((log_odds > 0.0) & seen).any(axis=0)
        if self.config.free_column_rule == "any_voxel":
            return seen.any(axis=0), occupied
        bottom_free = seen[0] & (log_odds[0] <= 0.0)
        known: BoolArray = occupied | bottom_free
        return known, occupied

    def to_occupancy_grid(self, frame_id: str, stamp_ns: int) -> OccupancyGrid:
        """The projection as nav_msgs/OccupancyGrid: 100 occupied, 0 free, -1 unobserved.

        Args:
            frame_id: the map's frame.
            stamp_ns: the message stamp.

        Returns:
            (H, W) int8 data, row 0 at the lowest y, origin at cell (0, 0)'s corner.
        """
        known, occupied = self._project()
        data = np.full(self._geometry.shape, -1, dtype=np.int8)
        data[known] = 0
        data[occupied] = 100
        g = self._geometry
        origin = Pose(np.array([g.origin_xy_m[0], g.origin_xy_m[1], 0.0]))
        return OccupancyGrid(Header(int(stamp_ns), frame_id), g.resolution_m, origin, data)

    def _grow(self, lo_xy: FloatArray, hi_xy: FloatArray) -> None:
        """Grow the grid to hold the box [lo_xy, hi_xy] (metres; data kept)."""
        cfg = self.config
        old = self._geometry
        if old.width == 0:
            old = GridGeometry.centred(0.5 * (lo_xy + hi_xy), cfg.initial_size_m, cfg.resolution_m)
            self._log_odds = np.zeros((self.layers, *old.shape), dtype=np.float32)
            self._stamp_ns = np.full((self.layers, *old.shape), NEVER_NS, dtype=np.int64)
            self._geometry = old
        new = old.grown_to_include(np.stack([lo_xy, hi_xy]), margin_m=cfg.initial_size_m / 4)
        if new is old:
            return
        col, row = old.offset_in(new)
        log_odds = np.zeros((self.layers, *new.shape), dtype=np.float32)
        stamps = np.full((self.layers, *new.shape), NEVER_NS, dtype=np.int64)
        log_odds[:, row : row + old.height, col : col + old.width] = self._log_odds
        stamps[:, row : row + old.height, col : col + old.width] = self._stamp_ns
        self._log_odds, self._stamp_ns, self._geometry = log_odds, stamps, new

    def insert(
        self,
        origin_m: npt.ArrayLike,
        points_m: npt.ArrayLike,
        base_z_m: float,
        stamp_ns: int,
        no_return_m: npt.ArrayLike | None = None,
    ) -> InsertStats:
        """Integrate one cloud or scan (module docstring).

        Args:
            origin_m: (3,) sensor position, metres, map frame.
            points_m: (N, 3) (or (H, W, 3)) points, metres, map frame; NaN/inf rows
                are dropped and counted.
            base_z_m: height of ``base_link`` in the map frame, metres (the band's zero).
            stamp_ns: the data's stamp (the decay clock), nanoseconds.
            no_return_m: (M, 3) points on beams without a return (clear only), or None.

        Returns:
            What the insert did (``cells_free`` / ``cells_hit`` count voxels).

        Raises:
            ValueError: bad shapes or a non-finite origin or base height.
        """
        start = time.perf_counter()
        if not math.isfinite(base_z_m):
            msg = f"base_z_m must be finite, got {base_z_m}"
            raise ValueError(msg)
        split = split_points(self.config, origin_m, points_m, base_z_m, no_return_m)
        origin = np.asarray(origin_m, dtype=np.float64).reshape(3)
        self._now_ns = int(stamp_ns) if self._now_ns is None else max(self._now_ns, int(stamp_ns))
        self.inserts += 1
        changed = rays = n_free = n_hit = 0
        if split.ends.shape[0]:
            changed, rays, n_free, n_hit = self._integrate(origin, split.ends, split.kind, base_z_m)
        forget_faded(self.config, self._log_odds, self._stamp_ns, self._now_ns)
        stats = InsertStats(
            rays=rays,
            cells_changed=changed,
            seconds=time.perf_counter() - start,
            cells_free=n_free,
            cells_hit=n_hit,
            **split.counts,
        )
        logger.debug("band insert: %s", stats)
        return stats

    def _integrate(
        self,
        origin: FloatArray,
        ends_m: npt.NDArray[np.float32],
        kind: npt.NDArray[np.uint8],
        base_z_m: float,
    ) -> tuple[int, int, int, int]:
        """Cast and apply one update in the box of voxels the rays can reach."""
        cfg = self.config
        r, h = cfg.resolution_m, cfg.layer_height_m
        reach = cfg.max_range_m + r
        if self._geometry.width == 0:
            self._grow(origin[:2], origin[:2])
        self._grow(origin[:2] - reach, origin[:2] + reach)
        g = self._geometry
        cell0 = np.asarray(g.origin_cell, dtype=np.int64)
        w_lo = np.maximum(np.floor((origin[:2] - reach) / r).astype(np.int64) - cell0, 0)
        w_hi = np.minimum(
            np.floor((origin[:2] + reach) / r).astype(np.int64) - cell0, [g.width - 1, g.height - 1]
        )
        # Rays are traced through sub-layers of h / sub; the box holds the band, one
        # sub-layer below and above it, and the sensor's sub-layer.
        sub = cfg.clear_sublayers
        fine = self.layers * sub
        z0 = base_z_m + cfg.min_height_m
        o_layer = (origin[2] - z0) * sub / h
        k_lo = min(-1, math.floor(o_layer))
        k_hi = max(fine, math.floor(o_layer))
        off = np.array([cell0[0] + w_lo[0], cell0[1] + w_lo[1], k_lo], dtype=np.float64)
        ext = np.array([w_hi[0] - w_lo[0] + 1, w_hi[1] - w_lo[1] + 1, k_hi - k_lo + 1])
        scale = np.array([1.0 / r, 1.0 / r, sub / h])
        o_box = np.array([origin[0] / r, origin[1] / r, o_layer]) - off
        valid = kind != 0
        e = ends_m[valid].astype(np.float64)
        e[:, 2] -= z0
        e = e * scale
        e[:, :2] -= off[:2]
        e[:, 2] -= off[2]
        marks = kind[valid] == HIT
        # Rays that leave the band (ground, above it) end in the sub-layer outside it.
        band_lo, band_hi = -k_lo - 0.5, fine - k_lo + 0.5
        dz = e[:, 2] - o_box[2]
        for plane, outside in ((band_lo, e[:, 2] < band_lo), (band_hi, e[:, 2] > band_hi)):
            cut = outside & ~marks & (dz != 0.0)
            t = (plane - o_box[2]) / dz[cut]
            e[cut] = o_box + np.clip(t, 0.0, 1.0)[:, None] * (e[cut] - o_box)
        cells = np.floor(e).astype(np.int64)
        inside = ((cells >= 0) & (cells < ext)).all(axis=1)
        code = np.zeros(tuple(int(x) for x in ext), dtype=np.uint8)
        flat = np.ravel_multi_index(tuple(cells[inside].T), code.shape)
        code.reshape(-1)[flat[~marks[inside]]] = PASS
        code.reshape(-1)[flat[marks[inside]]] = HIT
        free, rays = traverse_codes(o_box, code)
        hit_box = code == HIT
        if cfg.hit_min_fraction > 0.0:
            # A voxel the rays to farther endpoints mostly pass (a depth error in front
            # of a surface) is not marked: its endpoints against the rays through it.
            ends_in = np.bincount(flat, minlength=code.size).astype(np.float64)
            hits_in = np.bincount(flat[marks[inside]], minlength=code.size).reshape(code.shape)
            passed = traverse_counts(o_box, ends_in.reshape(code.shape))
            weak = hit_box & (hits_in < cfg.hit_min_fraction * (hits_in + passed))
            hit_box &= ~weak
            free |= weak & (passed > 0.0)
        # Back to voxels: hit when any sub-layer is, freed through the middle one only.
        band = slice(-k_lo, -k_lo + fine)
        shape4 = (int(ext[0]), int(ext[1]), self.layers, sub)
        hit_v = hit_box[:, :, band].reshape(shape4).any(axis=3)
        free_v = free[:, :, band].reshape(shape4)[:, :, :, sub // 2] & ~hit_v
        hit = hit_v.transpose(2, 1, 0)  # (layers, y, x)
        free_b = free_v.transpose(2, 1, 0)
        window = (slice(None), slice(w_lo[1], w_hi[1] + 1), slice(w_lo[0], w_hi[0] + 1))
        changed = update_window(
            self.config, self._log_odds, self._stamp_ns, self._now_ns, window, free_b, hit
        )
        return changed, rays, int(np.count_nonzero(free_b)), int(np.count_nonzero(hit))
