"""Geometry of a 2-D grid in nav_msgs/OccupancyGrid layout: world <-> cell, growing bounds.

Cell ``(col, row)`` covers ``[ox + col * r, ox + (col + 1) * r) x [oy + row * r,
oy + (row + 1) * r)`` where ``(ox, oy)`` is ``origin_xy_m`` (the outer corner of cell
(0, 0), as ``info.origin`` of an OccupancyGrid) and ``r`` the resolution; row 0 holds the
lowest y, and the data array is indexed ``[row, col]`` (row-major from the origin, as
nav_msgs stores it). Grids made here keep their corners on multiples of the resolution
(as OctoMap's keys do), so grown grids and 3-D voxel keys share one lattice and data
moves between grids by whole cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["GridGeometry"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _xy(xy: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(xy, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 2:
        msg = f"{name} must be (N, 2) (or (N, 3): z ignored), got {arr.shape}"
        raise ValueError(msg)
    return arr[:, :2]


@dataclass(frozen=True, slots=True)
class GridGeometry:
    """Where a 2-D grid lies in its frame.

    Attributes:
        resolution_m: cell edge, metres.
        origin_xy_m: (x, y) of the outer corner of cell (0, 0), metres.
        width: number of columns (along x).
        height: number of rows (along y).
    """

    resolution_m: float
    origin_xy_m: tuple[float, float]
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.resolution_m) and self.resolution_m > 0.0):
            msg = f"GridGeometry.resolution_m must be finite and > 0, got {self.resolution_m}"
            raise ValueError(msg)
        if self.width < 0 or self.height < 0:
            msg = f"GridGeometry size must be >= 0, got {self.width} x {self.height}"
            raise ValueError(msg)
        if not all(math.isfinite(v) for v in self.origin_xy_m):
            msg = f"GridGeometry.origin_xy_m must be finite, got {self.origin_xy_m}"
            raise ValueError(msg)

    @classmethod
    def centred(
        cls, centre_xy_m: npt.ArrayLike, size_m: float, resolution_m: float
    ) -> GridGeometry:
        """A square grid of edge >= ``size_m`` around a point, corners on the lattice.

        Args:
            centre_xy_m: (2,) (or (3,)) the point, metres.
            size_m: least edge, metres (0: the one cell holding the point).
            resolution_m: cell edge, metres.

        >>> g = GridGeometry.centred([0.02, 0.0], 1.0, 0.1)
        >>> g.width, g.origin_xy_m
        (10, (-0.5, -0.5))
        """
        centre = _xy(centre_xy_m, "centre_xy_m")[0] / resolution_m
        n = max(1, math.ceil(size_m / resolution_m - 1e-9))
        # Even n: the lattice line nearest the point is the middle; odd n: its cell is.
        mid = np.round(centre) if n % 2 == 0 else np.floor(centre)
        lo = mid.astype(np.int64) - n // 2
        return cls(
            resolution_m,
            (float(lo[0] * resolution_m), float(lo[1] * resolution_m)),
            int(n),
            int(n),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width): the shape of the data array."""
        return self.height, self.width

    @property
    def origin_cell(self) -> tuple[int, int]:
        """Lattice index (x, y) of cell (0, 0): origin / resolution, rounded."""
        r = self.resolution_m
        return round(self.origin_xy_m[0] / r), round(self.origin_xy_m[1] / r)

    def world_to_cell_float(self, xy: npt.ArrayLike) -> FloatArray:
        """(N, 2) float64 continuous cell coordinates (col, row): cell (c, r) is [c, c+1)."""
        pts = _xy(xy, "xy")
        # On the lattice x * (1 / r), as OctoMap's keys, not (x - origin) / r.
        return pts * (1.0 / self.resolution_m) - np.asarray(self.origin_cell, dtype=np.float64)

    def world_to_cell(self, xy: npt.ArrayLike) -> IntArray:
        """Cell (col, row) holding each point (outside the grid too: check :meth:`contains`).

        Args:
            xy: (N, 2) or (N, 3) metres, grid frame (z ignored).

        Returns:
            (N, 2) int64 (col, row); NaN rows give undefined values.

        >>> g = GridGeometry(0.5, (-1.0, 0.0), 4, 2)
        >>> g.world_to_cell([[0.1, 0.6], [-1.0, 0.0]]).tolist()
        [[2, 1], [0, 0]]
        """
        with np.errstate(invalid="ignore"):
            return np.floor(self.world_to_cell_float(xy)).astype(np.int64)

    def cell_to_world(self, cells: npt.ArrayLike) -> FloatArray:
        """(N, 2) float64 centres (x, y) of cells (col, row), metres.

        >>> GridGeometry(0.5, (-1.0, 0.0), 4, 2).cell_to_world([[2, 1]]).tolist()
        [[0.25, 0.75]]
        """
        c = np.asarray(cells, dtype=np.float64).reshape(-1, 2)
        origin = np.asarray(self.origin_xy_m, dtype=np.float64)
        return origin + (c + 0.5) * self.resolution_m

    def contains(self, cells: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """(N,) bool: each cell (col, row) lies inside the grid."""
        c = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
        return (c[:, 0] >= 0) & (c[:, 0] < self.width) & (c[:, 1] >= 0) & (c[:, 1] < self.height)

    def flat_index(self, cells: npt.ArrayLike) -> IntArray:
        """(N,) int64 index of cells (col, row) into the raveled (H, W) data: row * W + col."""
        c = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
        return c[:, 1] * self.width + c[:, 0]

    def grown_to_include(self, xy: npt.ArrayLike, margin_m: float = 0.0) -> GridGeometry:
        """The smallest grid on the same lattice holding this one and the points.

        Args:
            xy: (N, 2) or (N, 3) metres (NaN rows ignored).
            margin_m: when the grid must grow on a side, it grows this much further
                there, so that a moving robot does not regrow it on every update.

        Returns:
            This grid when every point is inside, else the grown grid (its cell (0, 0)
            lies at :meth:`offset_in` of the new one).

        >>> g = GridGeometry(1.0, (0.0, 0.0), 2, 2).grown_to_include([[-0.5, 3.2]])
        >>> g.origin_xy_m, g.width, g.height
        ((-1.0, 0.0), 3, 4)
        """
        pts = _xy(xy, "xy")
        pts = pts[np.isfinite(pts).all(axis=1)]
        if pts.shape[0] == 0:
            return self
        r = self.resolution_m
        ox, oy = self.origin_cell
        lo_pts = np.floor(pts.min(axis=0) / r).astype(np.int64)
        hi_pts = np.floor(pts.max(axis=0) / r).astype(np.int64)
        lo = np.array([ox, oy], dtype=np.int64)
        hi = lo + np.array([self.width, self.height], dtype=np.int64) - 1
        if self.width == 0 or self.height == 0:
            lo, hi = lo_pts, hi_pts
        if (lo_pts >= lo).all() and (hi_pts <= hi).all():
            return self
        pad = math.ceil(max(margin_m, 0.0) / r)
        new_lo = np.where(lo_pts < lo, lo_pts - pad, lo)
        new_hi = np.where(hi_pts > hi, hi_pts + pad, hi)
        size = new_hi - new_lo + 1
        return GridGeometry(
            r, (float(new_lo[0] * r), float(new_lo[1] * r)), int(size[0]), int(size[1])
        )

    def offset_in(self, other: GridGeometry) -> tuple[int, int]:
        """(col, row) of this grid's cell (0, 0) in ``other`` (same resolution, lattice)."""
        a, b = self.origin_cell, other.origin_cell
        return a[0] - b[0], a[1] - b[1]
