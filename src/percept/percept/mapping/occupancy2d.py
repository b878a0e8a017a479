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
caller passes, as costmap_2d's ``min/max_obstacle_height``, or the caller's own
``heights_m``: each point's height in the ``base_link`` frame): a point within
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
from percept.mapping.raycast import CLEAR, HIT, PASS, traverse_codes
from percept.units import NS_PER_S

__all__ = [
    "NEVER_NS",
    "InsertStats",
    "OccupancyMap2D",
    "RaySplit",
    "decay_weight",
    "forget_faded",
    "log_odds_step",
    "split_points",
    "update_window",
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


def log_odds_step(
    config: MappingConfig,
    stored: npt.NDArray[np.float32],
    age_ns: npt.ArrayLike,
    seen: BoolArray,
    hit: BoolArray,
) -> tuple[npt.NDArray[np.float32], int]:
    """One update of a set of cells: decay, a hit or a miss each, clamping.

    Shared by the 2-D grid and the 3-D voxel map.

    Args:
        config: sensor model and decay.
        stored: (N,) float32 log-odds as stored (ignored where not ``seen``).
        age_ns: (N,) int nanoseconds since each cell's last update (used where ``seen``).
        seen: (N,) bool: the cell was observed before (else it starts at 0, unknown).
        hit: (N,) bool: a hit (else a miss).

    Returns:
        (N,) float32 new log-odds, and how many cells changed or became observed.
    """
    current = np.zeros(stored.shape, dtype=np.float32)
    current[seen] = stored[seen]
    if config.decay_model != "none":
        weight, _ = decay_weight(config, np.asarray(age_ns)[seen])
        current[seen] *= weight.astype(np.float32)
    delta = np.where(hit, np.float32(config.log_odds_hit), np.float32(config.log_odds_miss))
    new = np.clip(current + delta, config.log_odds_min, config.log_odds_max).astype(np.float32)
    return new, int(np.count_nonzero((new != current) | ~seen))


def update_window(
    config: MappingConfig,
    log_odds: npt.NDArray[np.float32],
    stamp_ns: IntArray,
    now_ns: int | None,
    window: tuple[slice, ...],
    free: BoolArray,
    hit: BoolArray,
) -> int:
    """Apply misses and hits to the masked cells (or voxels) of a window, in place.

    Args:
        config: the sensor model, clamping and decay.
        log_odds: log-odds of the whole map (2-D grid or 3-D voxels).
        stamp_ns: last-update stamps, same shape (``NEVER_NS``: never).
        now_ns: the stamp of this insert.
        window: the slices of the map that the masks cover.
        free: cells a ray passed, the window's shape.
        hit: cells a ray ended in, the window's shape.

    Returns:
        How many cells changed class.
    """
    assert now_ns is not None
    touched = free | hit
    lo_win = log_odds[window]
    st_win = stamp_ns[window]
    stamps = st_win[touched]
    new, changed = log_odds_step(
        config, lo_win[touched], now_ns - stamps, stamps != NEVER_NS, hit[touched]
    )
    lo_win[touched] = new
    st_win[touched] = now_ns
    return changed


def forget_faded(
    config: MappingConfig, log_odds: npt.NDArray[np.float32], stamp_ns: IntArray, now_ns: int | None
) -> None:
    """Mark cells (or voxels) that have faded out unobserved as unknown, in place."""
    if config.decay_model == "none" or now_ns is None:
        return
    seen = stamp_ns != NEVER_NS
    _, gone = decay_weight(config, now_ns - stamp_ns[seen])
    if gone.any():
        idx = tuple(a[gone] for a in np.nonzero(seen))
        stamp_ns[idx] = NEVER_NS
        log_odds[idx] = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class RaySplit:
    """Ray ends of one insert and their kinds, and the counts of :class:`InsertStats`.

    Attributes:
        ends: (N, 3) float32 ray ends, metres (points beyond the range moved onto it,
            no-return beams last).
        kind: (N,) uint8 ``raycast.HIT`` (marks its cell), ``raycast.CLEAR`` (ground:
            frees its cell too), ``raycast.PASS`` (frees the cells before it only) or 0
            (a NaN/inf row: no ray).
        far: (N,) bool: the row was beyond the range (its end moved onto it).
        far_points: (F, 3) float32 the raw points of the ``far`` rows.
        counts: the point counts of :class:`InsertStats`.
    """

    ends: npt.NDArray[np.float32]
    kind: npt.NDArray[np.uint8]
    far: BoolArray
    far_points: npt.NDArray[np.float32]
    counts: dict[str, int]


def _points32(points: npt.ArrayLike | None, name: str) -> npt.NDArray[np.float32]:
    """(N, 3) float32 points (OctoMap's precision too) of an (N, 3) or (H, W, 3) array."""
    if points is None:
        return np.empty((0, 3), dtype=np.float32)
    arr = np.asarray(points)
    if arr.size == 0:
        return np.empty((0, 3), dtype=np.float32)
    if arr.shape[-1] != 3 or arr.ndim < 2:
        msg = f"{name} must be (N, 3) or (H, W, 3) metres, got {arr.shape}"
        raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=np.float32).reshape(-1, 3)


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
    heights_m: npt.ArrayLike | None = None,
) -> RaySplit:
    """Sort points into rays that mark, clear through their end, or stop before it.

    Args:
        config: range, height band and ``clear_no_return``.
        origin_m: (3,) sensor position, metres, map frame.
        points_m: (N, 3) or (H, W, 3) points, metres, map frame; NaN/inf rows dropped.
        base_z_m: ``base_link`` height for the band, metres; None: no band (3-D maps:
            every point in range marks).
        no_return_m: (M, 3) points along beams without a return (clear only).
        heights_m: (N,) height of each point above ``base_link`` (in its own frame),
            used for the band instead of ``z - base_z_m``; None: ``z - base_z_m``.

    Returns:
        The ray ends (beyond range truncated to ``max_range_m``), their kinds, counts.

    Raises:
        ValueError: bad shapes or a non-finite origin.
    """
    origin = _origin(origin_m)
    pts = _points32(points_m, "points_m")
    n_in = pts.shape[0]
    o32 = origin.astype(np.float32)
    rel = pts - o32
    # NaN or inf anywhere in a row makes its squared range NaN or inf: one test per row.
    dist2 = np.einsum("ij,ij->i", rel, rel)
    finite = np.isfinite(dist2)
    given = None
    if base_z_m is not None and heights_m is not None:
        given = np.asarray(heights_m, dtype=np.float32).reshape(-1)
        if given.shape[0] != n_in:
            msg = f"heights_m must have one height per point ({n_in}), got {given.shape[0]}"
            raise ValueError(msg)
        finite &= np.isfinite(given)  # a point without a height is dropped like a NaN row
    max_r = config.max_range_m
    far = (dist2 > np.float32(max_r * max_r)) & finite
    ends = pts
    far_points = pts[far]
    if far_points.shape[0]:
        ends = pts.copy()
        scale = (max_r / np.sqrt(dist2[far].astype(np.float64))).astype(np.float32)
        ends[far] = o32 + rel[far] * scale[:, None]
    kind = np.where(finite, np.uint8(HIT), np.uint8(0))
    if base_z_m is not None:
        height = pts[:, 2] - np.float32(base_z_m) if given is None else given
        kind[(height < np.float32(config.min_height_m)) & finite] = CLEAR
        kind[(height > np.float32(config.max_height_m)) & finite] = PASS
    kind[far] = PASS
    n_far = int(np.count_nonzero(far))
    per_kind = np.bincount(kind, minlength=4)
    nr = _points32(no_return_m, "no_return_m")
    used_nr = 0
    if config.clear_no_return and nr.shape[0]:
        beam = nr[np.isfinite(nr).all(axis=1)].astype(np.float64) - origin
        length = np.linalg.norm(beam, axis=1)
        beam, length = beam[length > 0.0], length[length > 0.0]
        beam = origin + beam * (np.minimum(length, max_r) / length)[:, None]
        used_nr = beam.shape[0]
        ends = np.concatenate([ends, beam.astype(np.float32)])
        kind = np.concatenate([kind, np.full(used_nr, PASS, dtype=np.uint8)])
        far = np.concatenate([far, np.zeros(used_nr, dtype=np.bool_)])
    n_used = int(np.count_nonzero(finite))
    counts = {
        "points_in": n_in,
        "points_used": n_used,
        "points_nan": n_in - n_used,
        "points_marked": int(per_kind[HIT]),
        "points_ground": int(per_kind[CLEAR]),
        "points_above": int(per_kind[PASS]) - n_far,
        "points_far": n_far,
        "no_return": used_nr,
    }
    return RaySplit(ends, kind, far, far_points, counts)


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

    def _grow(self, lo_xy: FloatArray, hi_xy: FloatArray) -> None:
        """Grow the grid to hold the box [lo_xy, hi_xy] (metres; data kept)."""
        cfg = self.config
        old = self._geometry
        if old.width == 0:
            centre = 0.5 * (lo_xy + hi_xy)
            old = GridGeometry.centred(centre, cfg.initial_size_m, cfg.resolution_m)
            self._log_odds = np.zeros(old.shape, dtype=np.float32)
            self._stamp_ns = np.full(old.shape, NEVER_NS, dtype=np.int64)
            self._geometry = old
        new = old.grown_to_include(np.stack([lo_xy, hi_xy]), margin_m=cfg.initial_size_m / 4)
        if new is old:
            return
        col, row = old.offset_in(new)
        log_odds = np.zeros(new.shape, dtype=np.float32)
        stamps = np.full(new.shape, NEVER_NS, dtype=np.int64)
        log_odds[row : row + old.height, col : col + old.width] = self._log_odds
        stamps[row : row + old.height, col : col + old.width] = self._stamp_ns
        self._log_odds, self._stamp_ns, self._geometry = log_odds, stamps, new
        logger.debug("grid grew to %d x %d cells", new.width, new.height)

    def _integrate(self, origin: FloatArray, split: RaySplit) -> tuple[int, int, int, int]:
        """Cast and apply one update in the window of cells the rays can reach.

        Returns:
            (cells changed, rays, cells freed, cells hit).
        """
        cfg = self.config
        r = cfg.resolution_m
        # Every end lies within max_range_m of the origin (3-D, so in xy too): the
        # window around the origin holds them all, without a min/max over the points.
        reach = cfg.max_range_m + r
        if self._geometry.width == 0:
            self._grow(origin[:2], origin[:2])
        self._grow(origin[:2] - reach, origin[:2] + reach)
        g = self._geometry
        cell0 = np.asarray(g.origin_cell, dtype=np.int64)
        w_lo = np.floor((origin[:2] - reach) * (1.0 / r)).astype(np.int64) - cell0
        w_hi = np.floor((origin[:2] + reach) * (1.0 / r)).astype(np.int64) - cell0
        w_lo = np.maximum(w_lo, 0)
        w_hi = np.minimum(w_hi, [g.width - 1, g.height - 1])
        ext = w_hi - w_lo + 1
        # Box axis 0 = x (col), axis 1 = y (row); the grid is [row, col]. Cells as
        # OctoMap's keys: floor(x * (1 / r)) in double precision.
        inv_r = 1.0 / r
        off = cell0 + w_lo
        with np.errstate(invalid="ignore"):  # NaN rows (kind 0) give junk, unused
            cx = np.floor(split.ends[:, 0].astype(np.float64) * inv_r).astype(np.int64)
            cy = np.floor(split.ends[:, 1].astype(np.float64) * inv_r).astype(np.int64)
        flat = (cx - off[0]) * ext[1] + (cy - off[1])
        code = np.zeros(int(ext[0] * ext[1]), dtype=np.uint8)
        for kind in (PASS, CLEAR, HIT):  # the higher kind wins a shared cell
            sel = split.kind == kind
            if sel.any():
                code[flat[sel]] = kind
        code2 = code.reshape(int(ext[0]), int(ext[1]))
        o_box = origin[:2] * inv_r - off
        free, rays = traverse_codes(o_box, code2)
        hit = code2 == HIT
        window = (slice(w_lo[1], w_hi[1] + 1), slice(w_lo[0], w_hi[0] + 1))
        changed = update_window(
            self.config, self._log_odds, self._stamp_ns, self._now_ns, window, free.T, hit.T
        )
        return changed, rays, int(np.count_nonzero(free)), int(np.count_nonzero(hit))

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
            points_m: (N, 3) (or (H, W, 3), organised) points, metres, map frame;
                NaN/inf rows are dropped and counted.
            base_z_m: height of ``base_link`` in the map frame, metres (the band's zero).
            stamp_ns: the data's stamp (the decay clock), nanoseconds.
            no_return_m: (M, 3) points on beams without a return (clear only), or None.
            heights_m: (N,) (or (H, W)) heights of the points in the ``base_link``
                frame, for the band instead of ``z - base_z_m``, or None.

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
        split = split_points(cfg, origin_m, points_m, base_z_m, no_return_m, heights_m)
        origin = _origin(origin_m)
        self._now_ns = int(stamp_ns) if self._now_ns is None else max(self._now_ns, int(stamp_ns))
        self.inserts += 1
        changed = rays = n_free = n_hit = 0
        if split.ends.shape[0]:
            changed, rays, n_free, n_hit = self._integrate(origin, split)
        forget_faded(self.config, self._log_odds, self._stamp_ns, self._now_ns)
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
