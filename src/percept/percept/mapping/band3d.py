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

**Fused surface** (``surface_model: tsdf``). OctoMap marks every voxel that one insert's
points reach, so stereo's range noise (about 7 cm at 3.5 m for a 12 cm baseline) paints a
band of occupied voxels in front of far walls. Beside the log-odds, each voxel also holds
a truncated signed distance averaged over all inserts, as voxblox's merged integrator
builds it from points: the marking points of one end voxel are one ray to their mean,
weighted by their count, sampled every half voxel within ``tsdf_truncation_m`` of its
end; each sample adds (end range - sample range) to its voxel's weighted mean. The
surface lies between two neighbouring voxels whose means differ in sign, in the one
nearer to zero (:meth:`BandMap2D.surface`). A voxel is then occupied when its log-odds
are > 0 and it does not lie in front of that surface (a positive mean, not the surface
voxel): the noise band goes, the inside of objects behind the surface stays, and a moved
obstacle clears by the log-odds' misses as before. Each update keeps ``tsdf_weight_keep``
of a voxel's old weight (an exponential moving average over a few inserts, each of which
already averages many points), so an object set down just in front of a surface fused
over many inserts shows as soon as its log-odds allow (5 inserts after 50 of the wall
behind it, against 84 with the weights summed). The price: an object thinner than a
voxel within ``tsdf_truncation_m`` in front of a fused surface (a pole 10 cm before a
wall) is outvoted by the rays that pass it to the surface and dropped; it lies within
that distance of the occupied surface, so keep ``tsdf_truncation_m`` below the costmap's
inflation radius. Written here because no maintained
Python library fuses a TSDF from unorganised points (Open3D's ``VoxelBlockGrid``
integrates depth images with intrinsics; this map also takes clouds and scans).
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
        # surface_model tsdf: weighted mean signed distance (metres) and its weight (points).
        self._fuse = cfg.surface_model == "tsdf"
        self._sdf = np.zeros((self.layers, 0, 0), dtype=np.float32)
        self._sdf_weight = np.zeros((self.layers, 0, 0), dtype=np.float32)
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

    def surface(self) -> BoolArray:
        """(layers, H, W) bool: voxels holding the fused TSDF surface (``surface_model: tsdf``).

        The surface lies between two neighbouring observed voxels (along any axis)
        whose signed distances differ in sign; of the two, the one with the smaller
        absolute distance holds it. Comparing neighbours rather than thresholding a
        voxel's own distance keeps grazing surfaces, whose distance along the rays is
        the normal distance divided by the cosine of the incidence.

        Raises:
            ValueError: the map does not fuse a TSDF (``surface_model: log_odds``).
        """
        if not self._fuse:
            msg = "surface() needs MappingConfig.surface_model 'tsdf', got 'log_odds'"
            raise ValueError(msg)
        sdf = self._sdf
        seen = self._sdf_weight > 0.0
        front = seen & (sdf > 0.0)
        back = seen & (sdf <= 0.0)
        mag = np.abs(sdf)
        out = np.zeros(sdf.shape, dtype=np.bool_)
        for axis in range(3):
            n = sdf.shape[axis]
            if n < 2:
                continue
            a = [slice(None)] * 3
            b = [slice(None)] * 3
            a[axis], b[axis] = slice(0, n - 1), slice(1, n)
            ta, tb = tuple(a), tuple(b)
            cross = (front[ta] & back[tb]) | (back[ta] & front[tb])
            a_holds = mag[ta] <= mag[tb]
            out[ta] |= cross & a_holds
            out[tb] |= cross & ~a_holds
        return out

    def _project(self) -> tuple[BoolArray, BoolArray]:
        """(known, occupied) columns under ``free_column_rule``."""
        log_odds = self.voxel_log_odds()
        seen = self._stamp_ns != NEVER_NS
        occupied_v = (log_odds > 0.0) & seen
        if self._fuse:
            in_front = (self._sdf_weight > 0.0) & (self._sdf > 0.0) & ~self.surface()
            occupied_v &= ~in_front
        occupied: BoolArray = occupied_v.any(axis=0)
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
            if self._fuse:
                self._sdf = np.zeros((self.layers, *old.shape), dtype=np.float32)
                self._sdf_weight = np.zeros((self.layers, *old.shape), dtype=np.float32)
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
        if self._fuse:
            sdf = np.zeros((self.layers, *new.shape), dtype=np.float32)
            weight = np.zeros((self.layers, *new.shape), dtype=np.float32)
            sdf[:, row : row + old.height, col : col + old.width] = self._sdf
            weight[:, row : row + old.height, col : col + old.width] = self._sdf_weight
            self._sdf, self._sdf_weight = sdf, weight

    def insert(
        self,
        origin_m: npt.ArrayLike,
        points_m: npt.ArrayLike,
        base_z_m: float,
        stamp_ns: int,
        no_return_m: npt.ArrayLike | None = None,
        heights_m: npt.ArrayLike | None = None,
    ) -> InsertStats:
        """Integrate one cloud or scan (module docstring).

        Args:
            origin_m: (3,) sensor position, metres, map frame.
            points_m: (N, 3) (or (H, W, 3)) points, metres, map frame; NaN/inf rows
                are dropped and counted.
            base_z_m: height of ``base_link`` in the map frame, metres (the band's zero).
            stamp_ns: the data's stamp (the decay clock), nanoseconds.
            no_return_m: (M, 3) points on beams without a return (clear only), or None.
            heights_m: (N,) (or (H, W)) heights of the points in the ``base_link``
                frame, which decide marking, ground and above-band instead of ``z -
                base_z_m``, or None. The voxels stay layered on ``base_z_m``: a marking
                point whose map z falls outside the band (a tilted odometry frame) marks
                the nearest band layer of its column.

        Returns:
            What the insert did (``cells_free`` / ``cells_hit`` count voxels).

        Raises:
            ValueError: bad shapes or a non-finite origin or base height.
        """
        start = time.perf_counter()
        if not math.isfinite(base_z_m):
            msg = f"base_z_m must be finite, got {base_z_m}"
            raise ValueError(msg)
        split = split_points(self.config, origin_m, points_m, base_z_m, no_return_m, heights_m)
        origin = np.asarray(origin_m, dtype=np.float64).reshape(3)
        self._now_ns = int(stamp_ns) if self._now_ns is None else max(self._now_ns, int(stamp_ns))
        self.inserts += 1
        changed = rays = n_free = n_hit = 0
        if split.ends.shape[0]:
            changed, rays, n_free, n_hit = self._integrate(
                origin, split.ends, split.kind, base_z_m, heights_m is not None
            )
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

    def _fuse_points(
        self,
        origin: FloatArray,
        points: FloatArray,
        z0: float,
        corner: tuple[int, int],
        window: tuple[slice, slice, slice],
    ) -> None:
        """Average the marking points into the TSDF of the window (voxblox's merged update).

        The points of one end voxel become one ray to their mean, weighted by their
        count; it is sampled every half voxel within ``tsdf_truncation_m`` of its end,
        and each sample adds (end range - sample range) to its voxel's weighted mean,
        whose old weight is first scaled by ``tsdf_weight_keep``.
        """
        if points.shape[0] == 0:
            return
        cfg = self.config
        r, h = cfg.resolution_m, cfg.layer_height_m
        sdf_win = self._sdf[window]
        w_win = self._sdf_weight[window]
        dims = np.array(sdf_win.shape)  # (layers, rows, cols)

        def voxel_index(p: FloatArray) -> tuple[npt.NDArray[np.int64], BoolArray]:
            lrc = np.stack(
                [
                    np.floor((p[..., 2] - z0) / h),
                    np.floor(p[..., 1] / r) - corner[1],
                    np.floor(p[..., 0] / r) - corner[0],
                ],
                axis=-1,
            ).astype(np.int64)
            ok: BoolArray = np.asarray(((lrc >= 0) & (lrc < dims)).all(axis=-1))
            lrc = np.where(ok[..., None], lrc, 0)
            flat = np.ravel_multi_index(tuple(np.moveaxis(lrc, -1, 0)), sdf_win.shape)
            return np.asarray(flat, dtype=np.int64), ok

        key, ok = voxel_index(points)
        key, points = key[ok], points[ok]
        if key.size == 0:
            return
        groups, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
        sums = [np.bincount(inverse, weights=points[:, i], minlength=groups.size) for i in range(3)]
        mean = np.stack(sums, axis=1) / count[:, None]
        ray = mean - origin
        rng = np.linalg.norm(ray, axis=1)
        ray /= np.maximum(rng, 1e-12)[:, None]
        step = 0.5 * r
        n = math.floor(cfg.tsdf_truncation_m / step + 1e-9)
        offsets = step * np.arange(-n, n + 1)  # through 0, within the truncation
        t = rng[:, None] + offsets[None, :]  # (G, K) sample ranges
        samples = origin + t[..., None] * ray[:, None, :]
        flat, inside = voxel_index(samples)
        inside &= t > 0.0
        sdf = np.broadcast_to(-offsets[None, :], t.shape)[inside]
        weight = np.broadcast_to(count[:, None].astype(np.float64), t.shape)[inside]
        flat = flat[inside]
        total_w = np.bincount(flat, weights=weight, minlength=sdf_win.size)
        total_s = np.bincount(flat, weights=weight * sdf, minlength=sdf_win.size)
        got = np.flatnonzero(total_w)
        at = np.unravel_index(got, sdf_win.shape)  # the window is a view: index, don't reshape
        w_old = w_win[at].astype(np.float64) * cfg.tsdf_weight_keep
        w_new = w_old + total_w[got]
        sdf_win[at] = ((sdf_win[at] * w_old + total_s[got]) / w_new).astype(np.float32)
        w_win[at] = w_new.astype(np.float32)

    def _integrate(
        self,
        origin: FloatArray,
        ends_m: npt.NDArray[np.float32],
        kind: npt.NDArray[np.uint8],
        base_z_m: float,
        clamp_marks: bool = False,
    ) -> tuple[int, int, int, int]:
        """Cast and apply one update in the box of voxels the rays can reach.

        ``clamp_marks``: the marking points were chosen by their own heights (in
        ``base_link``), so one whose map z lies outside the band marks the band's
        nearest layer of its column instead of being lost.
        """
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
        if clamp_marks:
            e[marks, 2] = np.clip(e[marks, 2], -k_lo, -k_lo + fine - 1e-6)
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
        if self._fuse:
            corner = (int(cell0[0] + w_lo[0]), int(cell0[1] + w_lo[1]))
            mark_pts = ends_m[valid][marks].astype(np.float64)
            self._fuse_points(origin, mark_pts, z0, corner, window)
        return changed, rays, int(np.count_nonzero(free_b)), int(np.count_nonzero(hit))
