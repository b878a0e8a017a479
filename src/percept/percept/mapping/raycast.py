"""Vectorised ray traversal on a cell lattice, in 2-D and 3-D, and OctoMap's discretised update.

Coordinates here are in cell units: cell ``k`` along an axis covers ``[k, k + 1)``, so a
world point ``p`` of a lattice with resolution ``r`` is at ``p / r`` (minus the grid's
origin cell).

**Traversal** (:func:`ray_cells_2d`, :func:`ray_cells_3d`) is exact slab splitting, all
rays at once, no per-ray Python loop: every segment is cut at the integer planes of the
first axis into pieces (one per cell layer it enters: ``np.repeat`` by the count, the
piece's end points by the segment's parameter at the two planes), each piece is cut
again along the next axis, and after the last axis every piece lies in one cell. The
result is the set of cells whose interior the segment enters (a supercover without the
cells it only touches at an edge or corner), which is what Amanatides-Woo's DDA visits
up to its tie-breaking where a ray passes exactly through a lattice corner: DDA steps
into one of the two (2-D) side cells there, this keeps neither. The work is
O(cells crossed) per ray plus a few numpy passes over all pieces.

**Update** (:func:`traverse_2d`, :func:`traverse_3d`) is OctoMap's discretised insert
(``computeDiscreteUpdate``; OctoMap/octomap#39): the endpoints are reduced to unique
cells first, one ray is cast from the sensor origin to the centre of each unique cell,
the cells of all rays are the free set minus the hit set (a cell both hit and passed in
one update counts as hit, each cell is updated once), as ``computeUpdate`` does. Three
kinds of endpoints: *hit* cells are marked; *clear* cells (ground) are freed, their own
cell included; *pass* cells (beyond the range, above the height band, no return) end a
ray that frees the cells before them but not their own cell (OctoMap's
``computeRayKeys`` does not include the end key either). Where one cell is the end of
several kinds, hit wins over clear over pass. Endpoints are made unique with a mask
over the update's bounding box (O(N + box), no sort); the free cells are marked as runs
in a difference array over the same box (see ``_free_mask``), so one update may span at
most 2**27 cells (a 5 m range at 5 cm spans 200 x 200 cells in 2-D, 200 x 200 x 100 at
most in 3-D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLEAR",
    "HIT",
    "PASS",
    "Traversal",
    "ray_cells_2d",
    "ray_cells_3d",
    "traverse_2d",
    "traverse_3d",
    "traverse_codes",
    "traverse_counts",
    "unique_cells",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Endpoint kinds of :func:`traverse_codes`, by priority (the higher code wins).
PASS, CLEAR, HIT = 1, 2, 3
#: A bounding-box mask is used to make cells unique while its volume stays below
#: this many cells, or four times the number of cells, whichever is more.
_MASK_MIN_VOLUME = 1 << 22
#: A pass ray stops this far (in units of its length) before entering its end cell.
_ENTRY_EPS = 1e-9
#: Largest box (cells) one update may span: its masks are dense (about 10 bytes a cell).
_MAX_BOX_VOLUME = 1 << 27


@dataclass(frozen=True, slots=True, eq=False)
class Traversal:
    """The cells one discretised update touches.

    Attributes:
        free: (F, D) int64 unique cells passed by a ray (and ground endpoints), not hit.
        hit: (K, D) int64 unique endpoint cells marked occupied.
        rays: number of rays cast (unique endpoint cells).
    """

    free: IntArray
    hit: IntArray
    rays: int


def _as_cells(cells: npt.ArrayLike | None, dims: int, name: str) -> IntArray:
    if cells is None:
        return np.empty((0, dims), dtype=np.int64)
    arr = np.asarray(cells)
    if arr.size == 0:
        return np.empty((0, dims), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != dims:
        msg = f"{name} must be (N, {dims}) cells, got {arr.shape}"
        raise ValueError(msg)
    return arr.astype(np.int64, copy=False)


def _box(cells: IntArray) -> tuple[IntArray, IntArray, int]:
    """(lowest cell, extent per axis, volume) of the cells' bounding box."""
    lo = cells.min(axis=0)
    ext = cells.max(axis=0) - lo + 1
    return lo, ext, int(np.prod(ext, dtype=np.int64))


def _ravel(cells: IntArray, lo: IntArray, ext: IntArray) -> IntArray:
    """Flat index of cells in the C-ordered box ``lo + [0, ext)``."""
    rel = cells - lo
    flat: IntArray = rel[:, 0].copy()
    for axis in range(1, cells.shape[1]):
        flat *= ext[axis]
        flat += rel[:, axis]
    return flat


def _unravel(flat: IntArray, lo: IntArray, ext: IntArray) -> IntArray:
    out = np.empty((flat.shape[0], lo.shape[0]), dtype=np.int64)
    rest = flat
    for axis in range(lo.shape[0] - 1, 0, -1):
        rest, out[:, axis] = np.divmod(rest, ext[axis])
    out[:, 0] = rest
    return out + lo


def unique_cells(cells: npt.ArrayLike) -> IntArray:
    """The distinct cells, in lexicographic order.

    Args:
        cells: (N, D) integer cells.

    Returns:
        (U, D) int64 unique rows, sorted lexicographically.

    >>> unique_cells([[1, 2], [0, 5], [1, 2]]).tolist()
    [[0, 5], [1, 2]]
    """
    arr = np.asarray(cells, dtype=np.int64)
    if arr.shape[0] == 0:
        return arr.reshape(0, arr.shape[1] if arr.ndim == 2 else 0)
    lo, ext, volume = _box(arr)
    if volume <= max(_MASK_MIN_VOLUME, 4 * arr.shape[0]):
        mask = np.zeros(volume, dtype=np.bool_)
        mask[_ravel(arr, lo, ext)] = True
        return _unravel(np.flatnonzero(mask), lo, ext)
    return np.unique(arr, axis=0)


def _check_rays(
    origin: npt.ArrayLike, ends: npt.ArrayLike, dims: int
) -> tuple[FloatArray, FloatArray]:
    o = np.asarray(origin, dtype=np.float64).reshape(-1)
    e = np.asarray(ends, dtype=np.float64)
    if o.shape != (dims,) or not np.isfinite(o).all():
        msg = f"origin must be ({dims},) finite, got {np.asarray(origin).shape}"
        raise ValueError(msg)
    if e.size == 0:
        return o, np.empty((0, dims), dtype=np.float64)
    if e.ndim != 2 or e.shape[1] != dims or not np.isfinite(e).all():
        msg = f"ends must be (R, {dims}) finite, got {e.shape}"
        raise ValueError(msg)
    return o, e


def _cut(
    start: FloatArray, end: FloatArray, axis: int
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Cut segments at the integer planes of one axis.

    Returns:
        (P,) index of each piece's segment, (P,) its cell along ``axis``, and the
        pieces' (P, D) start and end points (along the segment's own direction).
    """
    a0, a1 = start[:, axis], end[:, axis]
    lo_a, hi_a = np.minimum(a0, a1), np.maximum(a0, a1)
    first, count = _span(lo_a, hi_a)
    src = np.repeat(np.arange(count.shape[0], dtype=np.int64), count)
    step = np.arange(src.shape[0], dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    cell = first[src] + step
    d = (a1 - a0)[src]
    moving = d != 0.0
    cf = cell.astype(np.float64)
    safe_d = np.where(moving, d, 1.0)
    a0s = a0[src]
    t0 = np.where(moving, (np.maximum(cf, lo_a[src]) - a0s) / safe_d, 0.0)
    t1 = np.where(moving, (np.minimum(cf + 1.0, hi_a[src]) - a0s) / safe_d, 1.0)
    s = start[src]
    v = end[src] - s
    return src, cell, s + t0[:, None] * v, s + t1[:, None] * v


def _span(lo_a: FloatArray, hi_a: FloatArray) -> tuple[IntArray, IntArray]:
    """First cell and number of cells a piece spanning [lo_a, hi_a] enters along an axis."""
    first = np.floor(lo_a)
    # ceil(hi) - 1: a piece ending exactly on a plane does not enter the next cell.
    last = np.maximum(first, np.ceil(hi_a) - 1.0)
    return first.astype(np.int64), (last - first).astype(np.int64) + 1


def _ray_cells(origin: npt.ArrayLike, ends: npt.ArrayLike, dims: int) -> tuple[IntArray, IntArray]:
    """Cells of each ray, expanded one row per cell (the reference path of the tests)."""
    o, e = _check_rays(origin, ends, dims)
    if e.shape[0] == 0:
        return np.empty((0, dims), dtype=np.int64), np.empty(0, dtype=np.int64)
    start = np.repeat(o[None, :], e.shape[0], axis=0)
    ray = np.arange(e.shape[0], dtype=np.int64)
    cells: list[IntArray] = []
    for axis in range(dims):
        src, cell, start, e = _cut(start, e, axis)
        cells = [c[src] for c in cells]
        cells.append(cell)
        ray = ray[src]
    return np.stack(cells, axis=1), ray


def _free_mask(origin: FloatArray, ends: FloatArray, lo: IntArray, ext: IntArray) -> BoolArray:
    """Mask over the box ``lo + [0, ext)`` of every cell some ray enters.

    Rays are grouped by their major axis (largest extent); each group is cut along its
    other axes only, so that every piece is one run of cells along the major axis, and
    the runs are marked with a difference array (+1 at the first cell, -1 after the
    last) summed along that axis: O(pieces + box) instead of O(cells crossed).
    """
    mask: BoolArray = _ray_sums(origin, ends, lo, ext, None) > 0
    return mask


def _ray_sums(
    origin: FloatArray,
    ends: FloatArray,
    lo: IntArray,
    ext: IntArray,
    weights: FloatArray | None,
) -> npt.NDArray[np.number[Any]]:
    """Per cell of the box, the summed weight of the rays entering it (``_free_mask``).

    ``weights=None`` counts every ray once (int64); otherwise (R,) float weights.
    """
    dims = origin.shape[0]
    total: npt.NDArray[np.number[Any]] = np.zeros(
        tuple(int(x) for x in ext), dtype=np.int64 if weights is None else np.float64
    )
    major = np.argmax(np.abs(ends - origin), axis=1)
    for m in range(dims):
        sel = ends[major == m]
        if sel.shape[0] == 0:
            continue
        w = None if weights is None else weights[major == m]
        start = np.repeat(origin[None, :], sel.shape[0], axis=0)
        end = sel
        base = np.zeros(sel.shape[0], dtype=np.int64)
        ext_m = ext.copy()
        ext_m[m] += 1
        strides = np.ones(dims, dtype=np.int64)
        for axis in range(dims - 2, -1, -1):
            strides[axis] = strides[axis + 1] * ext_m[axis + 1]
        for axis in range(dims):
            if axis == m:
                continue
            src, cell, start, end = _cut(start, end, axis)
            base = base[src] + (cell - lo[axis]) * strides[axis]
            w = None if w is None else w[src]
        first, count = _span(np.minimum(start[:, m], end[:, m]), np.maximum(start[:, m], end[:, m]))
        begin = base + (first - lo[m]) * strides[m]
        size = int(np.prod(ext_m))
        runs = np.bincount(begin, weights=w, minlength=size)
        runs -= np.bincount(begin + count * strides[m], weights=w, minlength=size)
        covered = np.cumsum(runs.reshape(tuple(int(x) for x in ext_m)), axis=m)
        total += np.delete(covered, -1, axis=m)
    return total


def ray_cells_2d(origin: npt.ArrayLike, ends: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Every cell each segment from ``origin`` to an end enters (module docstring).

    Args:
        origin: (2,) float start of every ray, cell units.
        ends: (R, 2) float ends, cell units (finite).

    Returns:
        (M, 2) int64 cells (both end cells included) and (M,) int64 index of the ray
        each belongs to, grouped by ray (not in ray order along a ray).

    Raises:
        ValueError: wrong shapes or non-finite coordinates.

    >>> cells, ray = ray_cells_2d([0.5, 0.5], [[2.5, 1.2]])
    >>> cells.tolist()
    [[0, 0], [1, 0], [1, 1], [2, 1]]
    """
    return _ray_cells(origin, ends, 2)


def ray_cells_3d(origin: npt.ArrayLike, ends: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Every voxel each segment from ``origin`` to an end enters (module docstring).

    Args:
        origin: (3,) float start of every ray, cell units.
        ends: (R, 3) float ends, cell units (finite).

    Returns:
        (M, 3) int64 voxels (both end voxels included) and (M,) int64 ray index.

    Raises:
        ValueError: wrong shapes or non-finite coordinates.
    """
    return _ray_cells(origin, ends, 3)


def _traverse(
    origin: npt.ArrayLike,
    hit: npt.ArrayLike | None,
    clear: npt.ArrayLike | None,
    pass_: npt.ArrayLike | None,
    dims: int,
    pass_points: npt.ArrayLike | None = None,
) -> Traversal:
    kinds = [
        (_as_cells(pass_, dims, "pass_cells"), PASS),
        (_as_cells(clear, dims, "clear_cells"), CLEAR),
        (_as_cells(hit, dims, "hit_cells"), HIT),
    ]
    o, _ = _check_rays(origin, np.empty((0, dims)), dims)
    extra = np.empty((0, dims)) if pass_points is None else np.asarray(pass_points, np.float64)
    if extra.size and (extra.ndim != 2 or extra.shape[1] != dims or not np.isfinite(extra).all()):
        msg = f"pass_points must be (C, {dims}) finite, got {extra.shape}"
        raise ValueError(msg)
    extra = extra.reshape(-1, dims)
    every = np.concatenate([c for c, _ in kinds] + [np.floor(extra).astype(np.int64)])
    empty = np.empty((0, dims), dtype=np.int64)
    if every.shape[0] == 0:
        return Traversal(empty, empty, 0)
    o_cell = np.floor(o).astype(np.int64)
    lo = np.minimum(every.min(axis=0), o_cell)
    ext = np.maximum(every.max(axis=0), o_cell) - lo + 1
    volume = int(np.prod(ext, dtype=np.int64))
    if volume > _MAX_BOX_VOLUME:
        msg = (
            f"the rays span a box of {ext.tolist()} cells, more than {_MAX_BOX_VOLUME}; "
            "limit their range"
        )
        raise ValueError(msg)
    # Later (higher priority) kinds overwrite earlier ones in the code mask.
    code = np.zeros(tuple(int(x) for x in ext), dtype=np.uint8)
    flat_code = code.reshape(-1)
    for cells, kind in kinds:
        if cells.shape[0]:
            flat_code[_ravel(cells, lo, ext)] = kind
    free_mask, rays = traverse_codes(o - lo, code, extra - lo)
    free = np.argwhere(free_mask) + lo
    hits = np.argwhere(code == HIT) + lo
    return Traversal(free.astype(np.int64), hits.astype(np.int64), rays)


def traverse_codes(
    origin: npt.ArrayLike,
    code: npt.NDArray[np.uint8],
    pass_points: npt.ArrayLike | None = None,
) -> tuple[BoolArray, int]:
    """The discretised update of endpoints given as a dense code box (2-D or 3-D).

    The fast path of :func:`traverse_2d` for callers that already hold their endpoints
    in a box (the 2-D grid's window around the sensor): no sorting, no unique.

    Args:
        origin: (D,) float sensor position in box cell units (box cell 0 covers [0, 1)),
            inside the box.
        code: (E_0, ..., E_{D-1}) uint8 endpoint kind per cell: 0 none, ``PASS``,
            ``CLEAR`` or ``HIT`` (a cell ending several rays holds the highest).
        pass_points: (C, D) float ends of pass rays given as points (box cell units,
            inside the box), not cell centres: OctoMap's rays truncated at the
            maximum range; each frees the cells before the cell holding its end.

    Returns:
        (E_0, ..., E_{D-1}) bool cells freed (passed by a ray or a ground end, not
        hit), and the number of rays cast.

    Raises:
        ValueError: the box exceeds 2**27 cells or the origin is not finite.
    """
    o = np.asarray(origin, dtype=np.float64).reshape(-1)
    dims = code.ndim
    if o.shape != (dims,) or not np.isfinite(o).all():
        msg = f"origin must be ({dims},) finite, got {np.asarray(origin).shape}"
        raise ValueError(msg)
    if code.size > _MAX_BOX_VOLUME:
        msg = f"the code box has {code.size} cells, more than {_MAX_BOX_VOLUME}"
        raise ValueError(msg)
    ext = np.asarray(code.shape, dtype=np.int64)
    flat_code = code.reshape(-1)
    flat = np.flatnonzero(flat_code)
    extra = np.empty((0, dims)) if pass_points is None else np.asarray(pass_points, np.float64)
    if flat.shape[0] == 0 and extra.shape[0] == 0:
        return np.zeros(code.shape, dtype=np.bool_), 0
    lo = np.zeros(dims, dtype=np.int64)
    ends, end_kind = _unravel(flat, lo, ext), flat_code[flat]
    targets = np.concatenate([ends.astype(np.float64) + 0.5, extra])
    passing = np.concatenate([end_kind == PASS, np.ones(extra.shape[0], dtype=np.bool_)])
    if passing.any():
        # A pass ray frees the cells before its end cell, not the end cell: it stops
        # where it enters that cell (the largest of its per-axis entry parameters).
        d = targets[passing] - o
        cell = np.floor(targets[passing])
        plane = np.where(d > 0.0, cell, cell + 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_axis = np.where(d != 0.0, (plane - o) / d, -np.inf)
        t_enter = np.clip(t_axis.max(axis=1) - _ENTRY_EPS, 0.0, 1.0)
        targets[passing] = o + t_enter[:, None] * d
    keep = ~passing | (np.abs(targets - o).max(axis=1) > 0.0)
    mask = _free_mask(o, targets[keep], lo, ext)
    mask &= code != HIT
    return mask, int(flat.shape[0] + extra.shape[0])


def traverse_counts(
    origin: npt.ArrayLike, weight: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """How many endpoints' rays pass through each cell of a box (before their end cell).

    The weighted form of :func:`traverse_codes`' discretised update: one ray from the
    origin to the centre of every cell with ``weight > 0``, carrying that weight (the
    number of endpoints in the cell), stopping where it enters its end cell; each cell
    sums the weights of the rays that enter it. ``band3d``'s hit test compares it with
    the endpoints a cell holds.

    Args:
        origin: (D,) float sensor position in box cell units, inside the box.
        weight: (E_0, ..., E_{D-1}) float endpoints per cell (0: no ray).

    Returns:
        (E_0, ..., E_{D-1}) float64 summed weight of the rays passing each cell.

    Raises:
        ValueError: the box exceeds 2**27 cells or the origin is not finite.
    """
    o = np.asarray(origin, dtype=np.float64).reshape(-1)
    dims = weight.ndim
    if o.shape != (dims,) or not np.isfinite(o).all():
        msg = f"origin must be ({dims},) finite, got {np.asarray(origin).shape}"
        raise ValueError(msg)
    if weight.size > _MAX_BOX_VOLUME:
        msg = f"the weight box has {weight.size} cells, more than {_MAX_BOX_VOLUME}"
        raise ValueError(msg)
    ext = np.asarray(weight.shape, dtype=np.int64)
    flat = np.flatnonzero(weight.reshape(-1) > 0.0)
    if flat.shape[0] == 0:
        return np.zeros(weight.shape, dtype=np.float64)
    lo = np.zeros(dims, dtype=np.int64)
    cell = _unravel(flat, lo, ext).astype(np.float64)
    d = cell + 0.5 - o
    plane = np.where(d > 0.0, cell, cell + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_axis = np.where(d != 0.0, (plane - o) / d, -np.inf)
    t_enter = np.clip(t_axis.max(axis=1) - _ENTRY_EPS, 0.0, 1.0)
    targets = o + t_enter[:, None] * d
    keep = np.abs(targets - o).max(axis=1) > 0.0
    w = weight.reshape(-1)[flat].astype(np.float64)
    sums = _ray_sums(o, targets[keep], lo, ext, w[keep])
    return np.asarray(sums, dtype=np.float64)


def traverse_2d(
    origin: npt.ArrayLike,
    hit_cells: npt.ArrayLike | None,
    clear_cells: npt.ArrayLike | None = None,
    pass_cells: npt.ArrayLike | None = None,
) -> Traversal:
    """OctoMap's discretised update of one scan in 2-D (module docstring).

    Args:
        origin: (2,) float sensor position, cell units.
        hit_cells: (A, 2) integer endpoint cells to mark (duplicates allowed).
        clear_cells: (B, 2) integer endpoint cells to free, their own cell included.
        pass_cells: (C, 2) integer ends of rays that free the cells before them only.

    Returns:
        The free and hit cells, each unique, and the number of rays cast.

    Raises:
        ValueError: wrong shapes or a non-finite origin.

    >>> t = traverse_2d([0.5, 0.5], [[3, 0]])
    >>> t.free.tolist(), t.hit.tolist(), t.rays
    ([[0, 0], [1, 0], [2, 0]], [[3, 0]], 1)
    """
    return _traverse(origin, hit_cells, clear_cells, pass_cells, 2)


def traverse_3d(
    origin: npt.ArrayLike,
    hit_cells: npt.ArrayLike | None,
    clear_cells: npt.ArrayLike | None = None,
    pass_cells: npt.ArrayLike | None = None,
    pass_points: npt.ArrayLike | None = None,
) -> Traversal:
    """OctoMap's discretised update of one scan in 3-D (module docstring).

    Args:
        origin: (3,) float sensor position, voxel units.
        hit_cells: (A, 3) integer endpoint voxels to mark (duplicates allowed).
        clear_cells: (B, 3) integer endpoint voxels to free, their own voxel included.
        pass_cells: (C, 3) integer ends of rays that free the voxels before them only.
        pass_points: (P, 3) float ends (voxel units) of rays that free the voxels before
            the voxel holding the end (not cast to a centre: rays truncated at range).

    Returns:
        The free and hit voxels, each unique, and the number of rays cast.

    Raises:
        ValueError: wrong shapes or a non-finite origin.
    """
    return _traverse(origin, hit_cells, clear_cells, pass_cells, 3, pass_points)
