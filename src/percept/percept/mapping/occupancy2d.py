"""A 2-D log-odds occupancy grid for nav2, filled from clouds or scans with free-space clearing.

**Sensor model** (OctoMap's, :class:`~percept.mapping.config.MappingConfig`): each insert
is one discretised update (:func:`~percept.mapping.raycast.traverse_2d`): the points are
reduced to unique endpoint cells, one ray per unique cell is cast in the xy plane from the
sensor origin to the cell's centre, every cell a ray passes gets a miss
(``logit(prob_miss)``), every endpoint cell of an obstacle point a hit
(``logit(prob_hit)``), and the result is clamped to ``[logit(clamp_min),
logit(clamp_max)]``. Each cell changes at most once per insert; a cell both hit and
passed in one insert counts as hit.

**Which points mark** (heights relative to ``base_z_m``, the ``base_link`` height the
caller passes, as costmap_2d's ``min/max_obstacle_height``): a point within
``max_range_m`` (3-D distance from the origin) and with height in ``[min_height_m,
max_height_m]`` marks its cell; a point below the band is ground (the floor a stereo
camera sees): its ray frees every cell up to and including its own; a point above the
band frees the cells up to its own cell but marks nothing; a point beyond
``max_range_m`` marks nothing and its ray frees the cells up to the point at
``max_range_m`` along it (the truncated end's own cell excluded, as OctoMap). Beams
without a return (``no_return_m``: NaN/inf pixels of an organised cloud, max-range
beams of a scan, given as points on the beam) free their cells up to ``max_range_m``
when ``clear_no_return`` is set. Rows with NaN or inf are dropped and counted.

**Decay** (``decay_model``; spatio_temporal_voxel_layer's models): every cell keeps its
log-odds ``L`` and the stamp ``t`` of its last update; at the newest insert's stamp
``now`` a cell not updated since reads ``L * w(now - t)`` and becomes unobserved once
it has faded out, with, ``T`` = ``decay_s``:

- ``linear``: ``w(dt) = 1 - dt / T``; unobserved once ``dt >= T`` (STVL's linear model
  clears a voxel when ``voxel_decay - dt < 0``);
- ``exponential``: ``w(dt) = exp(-dt / T)``; unobserved once ``dt >= 3 T`` (w < 5 %;
  STVL's ``voxel_decay * exp(-dt)`` never reaches zero by itself, it relies on frustum
  acceleration, so a cut-off is added here).

An update applies to the faded value and restarts the cell's clock. Without decay a
moved obstacle's cells clear only when rays pass them: from the clamp ``+3.5`` it takes
``ceil(3.5 / 0.41) = 9`` passing scans at the defaults to fall below 0.

The grid (:class:`~percept.mapping.grid.GridGeometry`) starts ``initial_size_m`` wide,
centred on the first sensor origin, and grows (by at least ``initial_size_m / 4`` on
the side that needs it) to hold every ray's end; cells keep their data as it grows.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.domain import Header, OccupancyGrid
from percept.geometry.pose import Pose
from percept.mapping.config import MappingConfig
from percept.mapping.grid import GridGeometry
from percept.mapping.raycast import traverse_2d
from percept.units import NS_PER_S

__all__ = [
    "NEVER_NS",
    "InsertStats",
    "OccupancyMap2D",
    "RaySplit",
    "decay_weight",
    "split_points",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Stamp of a cell never observed (or faded out).
NEVER_NS = np.iinfo(np.int64).min
#: The exponential model forgets a cell after this many time constants (e^-3 < 5 %).
_EXP_CUTOFF = 3.0


@dataclass(frozen=True, slots=True)
class InsertStats:
    """What one insert did.

    Attributes:
        points_in: rows given (NaN rows included).
        points_used: finite points, each ending a ray (marking, ground, above the band
            or beyond the range).
        points_nan: rows dropped for NaN or inf coordinates.
        points_marked: points in range and inside the height band.
        points_ground: points in range below the band.
        points_above: points in range above the band.
        points_far: points beyond ``max_range_m``.
        no_return: no-return beams used for clearing.
        rays: rays cast (unique endpoint cells).
        cells_free: cells updated as free.
        cells_hit: cells updated as occupied.
        cells_changed: cells whose log-odds changed (or became observed).
        seconds: wall time of the insert.
    """

    points_in: int
    points_used: int
    rays: int
    cells_changed: int
    seconds: float
    points_nan: int = 0
    points_marked: int = 0
    points_ground: int = 0
    points_above: int = 0
    points_far: int = 0
    no_return: int = 0
    cells_free: int = 0
    cells_hit: int = 0


def decay_weight(config: MappingConfig, age_ns: npt.ArrayLike) -> tuple[FloatArray, BoolArray]:
    """How much of a cell's log-odds is left after ``age_ns`` without an update.

    Args:
        config: ``decay_model`` and ``decay_s``.
        age_ns: (N,) int nanoseconds since each cell's last update (negative: 0).

    Returns:
        (N,) float64 weight in [0, 1] and (N,) bool: the cell has faded out (unobserved).

    >>> w, gone = decay_weight(MappingConfig(decay_model="linear", decay_s=2.0), [NS_PER_S])
    >>> float(w[0]), bool(gone[0])
    (0.5, False)
    """
    age_s = np.maximum(np.asarray(age_ns, dtype=np.float64), 0.0) / NS_PER_S
    if config.decay_model == "linear":
        return np.clip(1.0 - age_s / config.decay_s, 0.0, 1.0), age_s >= config.decay_s
    if config.decay_model == "exponential":
        return np.exp(-age_s / config.decay_s), age_s >= _EXP_CUTOFF * config.decay_s
    return np.ones_like(age_s), np.zeros(age_s.shape, dtype=np.bool_)


@dataclass(frozen=True, slots=True, eq=False)
class RaySplit:
    """Ray ends of one insert, by kind, and the counts of :class:`InsertStats`.

    Attributes:
        hit: (A, 3) float64 ends that mark their cell, metres.
        clear: (B, 3) float64 ground ends: the ray frees their cell too.
        passing: (C, 3) float64 ends of rays that free the cells before them only.
        counts: the point counts of :class:`InsertStats`.
    """

    hit: FloatArray
    clear: FloatArray
    passing: FloatArray
    counts: dict[str, int]


def _xyz(points: npt.ArrayLike | None, name: str) -> FloatArray:
    if points is None:
        return np.empty((0, 3), dtype=np.float64)
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 3), dtype=np.float64)
    if arr.shape[-1] != 3:
        msg = f"{name} must be (N, 3) or (H, W, 3) metres, got {arr.shape}"
        raise ValueError(msg)
    return arr.reshape(-1, 3)


def _origin(origin_m: npt.ArrayLike) -> FloatArray:
    origin = np.asarray(origin_m, dtype=np.float64).reshape(-1)
    if origin.shape != (3,) or not np.isfinite(origin).all():
        msg = f"origin_m must be (3,) finite metres, got {np.asarray(origin_m).tolist()}"
        raise ValueError(msg)
    return origin


def split_points(
    config: MappingConfig,
    origin_m: npt.ArrayLike,
    points_m: npt.ArrayLike,
    base_z_m: float | None,
    no_return_m: npt.ArrayLike | None = None,
) -> RaySplit:
    """Sort points into rays that mark, clear through their end, or stop before it.

    Args:
        config: range, height band and ``clear_no_return``.
        origin_m: (3,) sensor position, metres, map frame.
        points_m: (N, 3) or (H, W, 3) points, metres, map frame; NaN/inf rows dropped.
        base_z_m: ``base_link`` height for the band, metres; None: no band (3-D maps:
            every point in range marks).
        no_return_m: (M, 3) points along beams without a return (clear only).

    Returns:
        (A, 3) marking ends, (B, 3) ground ends, (C, 3) ends of rays that stop
        before their end cell (beyond range truncated to ``max_range_m``), and counts.

    Raises:
        ValueError: bad shapes or a non-finite origin.
    """
    origin = _origin(origin_m)
    pts = _xyz(points_m, "points_m")
    n_in = pts.shape[0]
    finite = np.isfinite(pts).all(axis=1)
    if not finite.all():
        pts = pts[finite]
    rel = pts - origin
    dist2 = np.einsum("ij,ij->i", rel, rel)
    max_r = config.max_range_m
    far = dist2 > max_r * max_r
    ends = pts
    if far.any():
        ends = pts.copy()
        ends[far] = origin + rel[far] * (max_r / np.sqrt(dist2[far]))[:, None]
    near = ~far
    if base_z_m is None:
        mark, ground, above = near, np.zeros_like(near), np.zeros_like(near)
    else:
        height = pts[:, 2] - float(base_z_m)
        low = height < config.min_height_m
        high = height > config.max_height_m
        ground = near & low
        above = near & high
        mark = near & ~low & ~high
    stop = far | above
    nr = _xyz(no_return_m, "no_return_m")
    used_nr = 0
    passing = ends[stop]
    if config.clear_no_return and nr.shape[0]:
        nr = nr[np.isfinite(nr).all(axis=1)] - origin
        length = np.linalg.norm(nr, axis=1)
        nr = nr[length > 0.0]
        length = length[length > 0.0]
        nr = origin + nr * (np.minimum(length, max_r) / length)[:, None]
        used_nr = nr.shape[0]
        passing = np.concatenate([passing, nr])
    counts = {
        "points_in": n_in,
        "points_used": int(pts.shape[0]),
        "points_nan": int(n_in - pts.shape[0]),
        "points_marked": int(np.count_nonzero(mark)),
        "points_ground": int(np.count_nonzero(ground)),
        "points_above": int(np.count_nonzero(above)),
        "points_far": int(np.count_nonzero(far)),
        "no_return": used_nr,
    }
    return RaySplit(ends[mark], ends[ground], passing, counts)


class OccupancyMap2D:
    """A growing 2-D log-odds occupancy grid (module docstring for the model).

    Args:
        config: the sensor model, band, range, decay and first size (default
            ``MappingConfig()``).
    """

    def __init__(self, config: MappingConfig | None = None) -> None:
        self.config = config if config is not None else MappingConfig()
        self._geometry = GridGeometry(self.config.resolution_m, (0.0, 0.0), 0, 0)
        self._log_odds = np.zeros((0, 0), dtype=np.float32)
        self._stamp_ns = np.zeros((0, 0), dtype=np.int64)
        self._now_ns: int | None = None
        self.inserts = 0

    @property
    def geometry(self) -> GridGeometry:
        """Where the grid lies (0 x 0 before the first insert)."""
        return self._geometry

    @property
    def stamp_ns(self) -> int | None:
        """Stamp of the newest insert (the map's "now"), None before the first."""
        return self._now_ns

    def observed(self) -> BoolArray:
        """(H, W) bool: cells updated at least once and not faded out."""
        seen: BoolArray = self._stamp_ns != NEVER_NS
        return seen

    @property
    def log_odds(self) -> npt.NDArray[np.float32]:
        """(H, W) float32 log-odds at the newest stamp, decay applied; 0 where unobserved."""
        if self.config.decay_model == "none" or self._now_ns is None:
            out: npt.NDArray[np.float32] = self._log_odds.copy()
            return out
        seen = self.observed()
        out = np.zeros_like(self._log_odds)
        weight, _ = decay_weight(self.config, self._now_ns - self._stamp_ns[seen])
        out[seen] = self._log_odds[seen] * weight.astype(np.float32)
        return out

    def occupancy_probability(self) -> npt.NDArray[np.float32]:
        """(H, W) float32 occupancy probability, NaN where unobserved."""
        prob = (1.0 / (1.0 + np.exp(-self.log_odds))).astype(np.float32)
        prob[~self.observed()] = np.nan
        return prob

    def to_occupancy_grid(self, frame_id: str, stamp_ns: int) -> OccupancyGrid:
        """The map as nav_msgs/OccupancyGrid: -1 unobserved, else round(100 p).

        Args:
            frame_id: the map's frame (the frame the points were given in).
            stamp_ns: the message stamp.

        Returns:
            (H, W) int8 data, row 0 at the lowest y, origin at cell (0, 0)'s corner.
        """
        prob = self.occupancy_probability()
        data = np.full(prob.shape, -1, dtype=np.int8)
        seen = self.observed()
        data[seen] = np.rint(prob[seen] * 100.0).astype(np.int8)
        g = self._geometry
        origin = Pose(np.array([g.origin_xy_m[0], g.origin_xy_m[1], 0.0]))
        return OccupancyGrid(Header(int(stamp_ns), frame_id), g.resolution_m, origin, data)

    def _grow(self, origin: FloatArray, ends: list[FloatArray]) -> None:
        """Grow the grid to hold the origin and every end (data kept)."""
        cfg = self.config
        old = self._geometry
        if old.width == 0:
            old = GridGeometry.centred(origin[:2], cfg.initial_size_m, cfg.resolution_m)
            self._log_odds = np.zeros(old.shape, dtype=np.float32)
            self._stamp_ns = np.full(old.shape, NEVER_NS, dtype=np.int64)
            self._geometry = old
        corners = [origin[None, :2]]
        for e in ends:
            if e.shape[0]:
                corners += [e[:, :2].min(axis=0)[None, :], e[:, :2].max(axis=0)[None, :]]
        new = old.grown_to_include(np.concatenate(corners), margin_m=cfg.initial_size_m / 4)
        if new is old:
            return
        col, row = old.offset_in(new)
        log_odds = np.zeros(new.shape, dtype=np.float32)
        stamps = np.full(new.shape, NEVER_NS, dtype=np.int64)
        log_odds[row : row + old.height, col : col + old.width] = self._log_odds
        stamps[row : row + old.height, col : col + old.width] = self._stamp_ns
        self._log_odds, self._stamp_ns, self._geometry = log_odds, stamps, new
        logger.debug("grid grew to %d x %d cells", new.width, new.height)

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
            points_m: (N, 3) (or (H, W, 3), organised) points, metres, map frame;
                NaN/inf rows are dropped and counted.
            base_z_m: height of ``base_link`` in the map frame, metres (the band's zero).
            stamp_ns: the data's stamp (the decay clock), nanoseconds.
            no_return_m: (M, 3) points on beams without a return (clear only), or None.

        Returns:
            What the insert did. An empty cloud changes nothing but the clock.

        Raises:
            ValueError: bad shapes or a non-finite origin or base height.
        """
        start = time.perf_counter()
        if not math.isfinite(base_z_m):
            msg = f"base_z_m must be finite, got {base_z_m}"
            raise ValueError(msg)
        cfg = self.config
        split = split_points(cfg, origin_m, points_m, base_z_m, no_return_m)
        origin = _origin(origin_m)
        self._now_ns = int(stamp_ns) if self._now_ns is None else max(self._now_ns, int(stamp_ns))
        self.inserts += 1
        ends = [split.hit, split.clear, split.passing]
        changed = rays = n_free = n_hit = 0
        if any(e.shape[0] for e in ends):
            self._grow(origin, ends)
            g = self._geometry
            cell0 = np.asarray(g.origin_cell, dtype=np.int64)

            def cells(xy: FloatArray) -> IntArray:
                return np.floor(xy[:, :2] / g.resolution_m).astype(np.int64) - cell0

            trav = traverse_2d(
                g.world_to_cell_float(origin[None, :])[0],
                cells(split.hit),
                cells(split.clear),
                cells(split.passing),
            )
            rays, n_free, n_hit = trav.rays, trav.free.shape[0], trav.hit.shape[0]
            changed = self._update(g.flat_index(trav.free), g.flat_index(trav.hit))
        self._forget()
        stats = InsertStats(
            rays=rays,
            cells_changed=changed,
            seconds=time.perf_counter() - start,
            cells_free=n_free,
            cells_hit=n_hit,
            **split.counts,
        )
        logger.debug("insert: %s", stats)
        return stats

    def _update(self, free: IntArray, hit: IntArray) -> int:
        """Apply misses and hits to flat cells; the number of cells that changed."""
        cfg = self.config
        assert self._now_ns is not None
        idx = np.concatenate([free, hit])
        delta = np.concatenate(
            [
                np.full(free.shape[0], cfg.log_odds_miss, dtype=np.float32),
                np.full(hit.shape[0], cfg.log_odds_hit, dtype=np.float32),
            ]
        )
        lo_flat = self._log_odds.reshape(-1)
        st_flat = self._stamp_ns.reshape(-1)
        stamps = st_flat[idx]
        seen = stamps != NEVER_NS
        current = np.where(seen, lo_flat[idx], np.float32(0.0))
        if cfg.decay_model != "none":
            weight, _ = decay_weight(cfg, self._now_ns - stamps)
            current = np.where(seen, current * weight.astype(np.float32), np.float32(0.0))
        new = np.clip(current + delta, cfg.log_odds_min, cfg.log_odds_max).astype(np.float32)
        changed = int(np.count_nonzero((new != current) | ~seen))
        lo_flat[idx] = new
        st_flat[idx] = self._now_ns
        return changed

    def _forget(self) -> None:
        """Mark cells that have faded out unobserved (decay models only)."""
        if self.config.decay_model == "none" or self._now_ns is None:
            return
        seen = self.observed()
        _, gone = decay_weight(self.config, self._now_ns - self._stamp_ns[seen])
        if gone.any():
            rows, cols = np.nonzero(seen)
            self._stamp_ns[rows[gone], cols[gone]] = NEVER_NS
            self._log_odds[rows[gone], cols[gone]] = 0.0
