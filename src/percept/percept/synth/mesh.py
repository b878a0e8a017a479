"""Triangle meshes of the primitive shapes the synthetic scenes are built from.

Each builder returns ``(vertices, triangles)``: (V, 3) float64 metres in the shape's own
frame and (T, 3) int64 vertex indices. The renderer takes the surface normal of the
triangle a ray hits and turns it towards the camera, so the winding only has to be
consistent within a shape, not outward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from percept.geometry.se3 import transform_points

__all__ = ["Part", "box", "cylinder", "sphere", "transform"]

Mesh = tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]

# Corner order of ``box``: bit 0 -> x, bit 1 -> y, bit 2 -> z.
_BOX_CORNERS = np.array([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=float)
_BOX_TRIANGLES = np.array(
    [
        [0, 2, 1], [1, 2, 3],  # z = 0
        [4, 5, 6], [5, 7, 6],  # z = 1
        [0, 1, 4], [1, 5, 4],  # y = 0
        [2, 6, 3], [3, 6, 7],  # y = 1
        [0, 4, 2], [2, 4, 6],  # x = 0
        [1, 3, 5], [3, 7, 5],  # x = 1
    ],
    dtype=np.int64,
)  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class Part:
    """One primitive of an object, placed and coloured.

    Attributes:
        vertices: (V, 3) float64, metres, in the frame the part was placed into.
        triangles: (T, 3) int64 indices into ``vertices``.
        material: index into the scene's material table.
    """

    vertices: npt.NDArray[np.float64]
    triangles: npt.NDArray[np.int64]
    material: int


def box(size_m: npt.ArrayLike, centre_m: npt.ArrayLike = (0.0, 0.0, 0.0)) -> Mesh:
    """An axis-aligned box.

    Args:
        size_m: (3,) extent along x, y, z, metres.
        centre_m: (3,) centre, metres.

    Returns:
        (8, 3) vertices and (12, 3) triangles.

    >>> v, t = box((1.0, 2.0, 3.0))
    >>> v.min(axis=0).tolist(), t.shape
    ([-0.5, -1.0, -1.5], (12, 3))
    """
    size = np.asarray(size_m, dtype=np.float64)
    centre = np.asarray(centre_m, dtype=np.float64)
    return (_BOX_CORNERS - 0.5) * size + centre, _BOX_TRIANGLES.copy()


def cylinder(
    radius_m: float, height_m: float, segments: int = 20, top_radius_m: float | None = None
) -> Mesh:
    """A closed cylinder (or truncated cone) standing on z = 0 with its axis along +z.

    Args:
        radius_m: radius at z = 0, metres.
        height_m: height, metres.
        segments: facets around the axis.
        top_radius_m: radius at the top (default ``radius_m``; smaller gives a cone).

    Returns:
        (2 * segments + 2, 3) vertices and (4 * segments, 3) triangles.
    """
    top_r = radius_m if top_radius_m is None else top_radius_m
    angle = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    bottom = np.c_[radius_m * ring, np.zeros(segments)]
    top = np.c_[top_r * ring, np.full(segments, height_m)]
    vertices = np.concatenate([bottom, top, [[0.0, 0.0, 0.0], [0.0, 0.0, height_m]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    n = segments
    side = np.concatenate([np.stack([i, j, i + n], 1), np.stack([j, j + n, i + n], 1)])
    caps = np.concatenate(
        [np.stack([np.full(n, 2 * n), j, i], 1), np.stack([np.full(n, 2 * n + 1), i + n, j + n], 1)]
    )
    return vertices, np.concatenate([side, caps]).astype(np.int64)


def sphere(radius_m: float, rings: int = 8, segments: int = 12) -> Mesh:
    """A UV sphere centred on the origin.

    Args:
        radius_m: radius, metres.
        rings: latitude bands.
        segments: longitude facets.

    Returns:
        ((rings - 1) * segments + 2, 3) vertices and (2 * (rings - 1) * segments, 3)
        triangles.
    """
    lat = np.linspace(0.0, np.pi, rings + 1)[1:-1]
    lon = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    body = np.stack([np.sin(la) * np.cos(lo), np.sin(la) * np.sin(lo), np.cos(la)], -1)
    vertices = np.concatenate([[[0.0, 0.0, 1.0]], body.reshape(-1, 3), [[0.0, 0.0, -1.0]]])
    n = segments
    last = vertices.shape[0] - 1
    i = np.arange(n)
    j = (i + 1) % n
    tris = [np.stack([np.zeros(n, dtype=np.int64), 1 + i, 1 + j], 1)]
    for r in range(rings - 2):
        a, b = 1 + r * n, 1 + (r + 1) * n
        tris += [np.stack([a + i, b + i, a + j], 1), np.stack([a + j, b + i, b + j], 1)]
    base = 1 + (rings - 2) * n
    tris.append(np.stack([base + j, base + i, np.full(n, last)], 1))
    return vertices * radius_m, np.concatenate(tris).astype(np.int64)


def transform(mesh: Mesh, T_parent_local: npt.NDArray[np.float64]) -> Mesh:
    """Move a mesh into a parent frame.

    Args:
        mesh: (vertices, triangles) in the local frame.
        T_parent_local: (4, 4) float64 pose of the local frame in the parent.

    Returns:
        The same triangles with (V, 3) vertices in the parent frame.
    """
    vertices, triangles = mesh
    return transform_points(T_parent_local, vertices), triangles
