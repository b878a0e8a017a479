"""Ray-cast scenes: triangle meshes in Open3D's ``RaycastingScene``, shaded on a hit.

A ``Scene`` holds its geometry (``SceneGeometry``: parts, and which labelled object they
belong to), materials, lighting, the labelled objects of the classes ``CLASS_NAMES`` with
their poses and boxes, and the free aisle loop (``AisleLoop``) trajectories follow.
``percept.synth.warehouse`` builds them.

World frame ``map`` (REP 103): x east, y north, z up, floor at z = 0, room centred on
the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.geometry.pose import Pose
from percept.geometry.se3 import transform_points
from percept.synth import mesh
from percept.synth.mesh import Part
from percept.synth.shading import (
    Lighting,
    Material,
    MaterialTable,
    NoiseAtlas,
    shade,
)

__all__ = [
    "CLASS_NAMES",
    "AisleLoop",
    "RayHits",
    "Scene",
    "SceneGeometry",
    "SceneObject",
]

#: Object classes with ground truth boxes; the class id of a detection is the name.
CLASS_NAMES: Final = ("pallet", "carton", "barrel", "person", "cart")

_NO_HIT: Final = np.iinfo(np.uint32).max  # Open3D's INVALID_ID


@dataclass(frozen=True, slots=True, eq=False)
class SceneObject:
    """A labelled object.

    Attributes:
        object_id: instance id, unique in the scene (index into ``Scene.objects``).
        class_name: one of ``CLASS_NAMES``.
        T_world_box: (4, 4) float64 pose of the object's 3-D box centre in the world
            (box axes: x along its length, z up).
        size_m: (3,) float64 box extent along its own x, y, z, metres.
    """

    object_id: int
    class_name: str
    T_world_box: npt.NDArray[np.float64]
    size_m: npt.NDArray[np.float64]

    @property
    def pose(self) -> Pose:
        """``T_world_box`` as a Pose."""
        return Pose.from_matrix(self.T_world_box)

    def corners_world(self) -> npt.NDArray[np.float64]:
        """(8, 3) float64 box corners, metres, world frame."""
        corners, _ = mesh.box(self.size_m)
        return transform_points(self.T_world_box, corners)


@dataclass(frozen=True, slots=True)
class AisleLoop:
    """The free elliptical aisle that trajectories follow.

    Attributes:
        centre_xy_m: (x, y) centre, metres, world frame.
        semi_axes_m: (a, b) semi-axes along x and y, metres.
        clearance_m: half-width of the band around the ellipse kept free of objects.
    """

    centre_xy_m: tuple[float, float]
    semi_axes_m: tuple[float, float]
    clearance_m: float

    def polyline(self, n: int = 720) -> npt.NDArray[np.float64]:
        """(n, 2) float64 points along the ellipse, metres."""
        theta = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
        a, b = self.semi_axes_m
        cx, cy = self.centre_xy_m
        return np.stack([cx + a * np.cos(theta), cy + b * np.sin(theta)], axis=1)


@dataclass(frozen=True, slots=True, eq=False)
class RayHits:
    """What ``Scene.cast`` returns, one entry per ray.

    Attributes:
        t_hit: (N,) float32 ray parameter of the hit (distance in units of the ray's
            direction vector), inf where nothing is hit.
        geometry_ids: (N,) uint32 geometry hit, ``0xFFFFFFFF`` for none.
        primitive_ids: (N,) uint32 triangle hit within the geometry.
        normals: (N, 3) float32 unit triangle normals, world frame (either side).
    """

    t_hit: npt.NDArray[np.float32]
    geometry_ids: npt.NDArray[np.uint32]
    primitive_ids: npt.NDArray[np.uint32]
    normals: npt.NDArray[np.float32]

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        """(N,) bool, True where the ray hit something."""
        return np.asarray(self.geometry_ids != _NO_HIT)


@dataclass
class SceneGeometry:
    """Parts ray cast as one geometry.

    Attributes:
        parts: the triangle meshes, world frame, with their materials.
        object_index: the labelled object they make up (``Scene.objects``), -1 for
            unlabelled structure or clutter.
    """

    parts: list[Part]
    object_index: int


class Scene:
    """A built scene: geometry in an Open3D ``RaycastingScene``, materials, lights.

    Attributes:
        name: scene kind (``warehouse``).
        seed: the seed it was built from.
        objects: labelled objects, ``objects[i].object_id == i``.
        loop: the free aisle loop trajectories follow.
        bounds_m: ((x_min, y_min, z_min), (x_max, y_max, z_max)) of the room, metres.
        lighting: the lights.
    """

    def __init__(
        self,
        name: str,
        seed: int,
        geometries: list[SceneGeometry],
        materials: list[Material],
        lighting: Lighting,
        objects: list[SceneObject],
        loop: AisleLoop,
        bounds_m: tuple[tuple[float, float, float], tuple[float, float, float]],
        noise_tile: npt.NDArray[np.float32],
    ) -> None:
        import open3d as o3d

        self.name = name
        self.seed = seed
        self.objects = tuple(objects)
        self.loop = loop
        self.bounds_m = bounds_m
        self.lighting = lighting
        self._materials = MaterialTable.from_materials(materials)
        self._noise = NoiseAtlas.from_tile(noise_tile)
        self._raycaster = o3d.t.geometry.RaycastingScene()
        self._parts: list[Part] = []
        tri_offset: list[int] = []
        tri_material: list[npt.NDArray[np.int32]] = []
        geom_object: list[int] = []
        count = 0
        for index, geom in enumerate(geometries):
            verts: list[npt.NDArray[np.float64]] = []
            tris: list[npt.NDArray[np.int64]] = []
            base = 0
            for part in geom.parts:
                verts.append(part.vertices)
                tris.append(part.triangles + base)
                tri_material.append(np.full(part.triangles.shape[0], part.material, np.int32))
                base += part.vertices.shape[0]
            self._parts.extend(geom.parts)
            gid = self._raycaster.add_triangles(
                o3d.core.Tensor.from_numpy(np.concatenate(verts).astype(np.float32)),
                o3d.core.Tensor.from_numpy(np.concatenate(tris).astype(np.uint32)),
            )
            if gid != index:  # Open3D numbers geometries 0, 1, ... in insertion order
                msg = f"Open3D gave geometry id {gid} to geometry {index}"
                raise RuntimeError(msg)
            tri_offset.append(count)
            count += sum(t.shape[0] for t in tris)
            geom_object.append(geom.object_index)
        self._tri_offset = np.asarray(tri_offset, dtype=np.int64)
        self._tri_material = np.concatenate(tri_material)
        # Index -1 of this table (a miss) maps to -1 too.
        self._geom_object = np.asarray([*geom_object, -1], dtype=np.int32)

    @property
    def triangle_count(self) -> int:
        """Triangles in the scene."""
        return int(self._tri_material.shape[0])

    def cast(self, rays: npt.NDArray[np.float32]) -> RayHits:
        """Cast rays (one Open3D call).

        Args:
            rays: (N, 6) float32 origin xyz and direction xyz, world frame; directions
                need not be unit vectors (``t_hit`` is in units of their length).

        Returns:
            The hits.
        """
        import open3d as o3d

        tensor = o3d.core.Tensor.from_numpy(np.ascontiguousarray(rays, dtype=np.float32))
        out = self._raycaster.cast_rays(tensor)
        return RayHits(
            t_hit=out["t_hit"].numpy(),
            geometry_ids=out["geometry_ids"].numpy(),
            primitive_ids=out["primitive_ids"].numpy(),
            normals=out["primitive_normals"].numpy(),
        )

    def footprint_pixels(self, rays: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
        """How many rays meet each labelled object anywhere along them.

        With one ray per pixel this is the object's footprint in the image as if nothing
        stood in front of it (amodal, within the image); the visible pixels of
        ``object_index`` divided by it is the object's visible fraction, the occlusion
        measure of KITTI or Isaac Replicator's ``occlusionRatio``. One Open3D
        ``list_intersections`` call.

        Args:
            rays: (N, 6) float32 origin xyz and direction xyz, world frame.

        Returns:
            (len(objects),) int64 ray counts.
        """
        import open3d as o3d

        tensor = o3d.core.Tensor.from_numpy(np.ascontiguousarray(rays, dtype=np.float32))
        out = self._raycaster.list_intersections(tensor)
        splits = out["ray_splits"].numpy().astype(np.int64)
        ray = np.repeat(np.arange(splits.size - 1, dtype=np.int64), np.diff(splits))
        obj = self._geom_object[out["geometry_ids"].numpy().astype(np.int64)].astype(np.int64)
        hit = obj >= 0
        n = len(self.objects)
        # A ray enters and leaves a closed object: count each (ray, object) pair once.
        pairs = np.unique(ray[hit] * n + obj[hit])
        return np.bincount(pairs % n, minlength=n).astype(np.int64)

    def object_index(self, hits: RayHits) -> npt.NDArray[np.int32]:
        """(N,) int32 labelled object hit by each ray (index into ``objects``), -1 for none."""
        gid = hits.geometry_ids.astype(np.int64)
        gid[~hits.valid] = -1
        return np.asarray(self._geom_object[gid])

    def radiance(
        self, rays: npt.NDArray[np.float32], hits: RayHits, pixel_angle_rad: float = 0.0
    ) -> npt.NDArray[np.float32]:
        """Linear rgb radiance seen along each ray.

        Args:
            rays: (N, 6) float32, as given to ``cast``.
            hits: the result of ``cast(rays)``.
            pixel_angle_rad: angle one pixel subtends; textures are filtered over the
                pixel's footprint on the surface (0: point samples, aliasing).

        Returns:
            (N, 3) float32 linear rgb, 0 where nothing is hit.
        """
        valid = hits.valid
        everything = bool(valid.all())
        r = rays if everything else rays[valid]
        t = hits.t_hit if everything else hits.t_hit[valid]
        if r.shape[0] == 0:
            return np.zeros((rays.shape[0], 3), dtype=np.float32)
        points = r[:, :3] + r[:, 3:] * t[:, None]
        normals = hits.normals if everything else hits.normals[valid]
        # Face the viewer, so that thin or open surfaces shade the same from both sides.
        facing = normals[:, 0] * r[:, 3] + normals[:, 1] * r[:, 4] + normals[:, 2] * r[:, 5]
        normals = normals * np.where(facing > 0, -1.0, 1.0).astype(np.float32)[:, None]
        length = np.sqrt(r[:, 3] ** 2 + r[:, 4] ** 2 + r[:, 5] ** 2)
        # Pixel footprint: distance * angle, stretched on surfaces seen at grazing angles.
        cos = np.maximum(np.abs(facing) / np.maximum(length, 1e-12), 0.2)
        footprint = (t * length * np.float32(pixel_angle_rad) / cos).astype(np.float32)
        gid = hits.geometry_ids if everything else hits.geometry_ids[valid]
        pid = hits.primitive_ids if everything else hits.primitive_ids[valid]
        material = np.take(self._tri_material, np.take(self._tri_offset, gid) + pid)
        albedo = self._materials.albedo(points, normals, material, footprint, self._noise)
        radiance = shade(points, normals, albedo, self.lighting)
        if everything:
            return radiance
        out = np.zeros((rays.shape[0], 3), dtype=np.float32)
        out[valid] = radiance
        return out

    def occupancy(
        self, resolution_m: float = 0.05, z_range_m: tuple[float, float] = (0.05, 2.0)
    ) -> tuple[npt.NDArray[np.int8], tuple[float, float]]:
        """Occupancy grid of the room: any geometry between two heights marks a cell.

        Args:
            resolution_m: cell edge, metres.
            z_range_m: (low, high) heights, metres: what a ground robot can hit.

        Returns:
            ``(data, origin_xy_m)``: (H, W) int8 with 100 occupied and 0 free, row 0 at
            the lowest y (nav_msgs/OccupancyGrid layout); and the world (x, y) of cell
            (0, 0)'s outer corner.
        """
        (x0, y0, _), (x1, y1, _) = self.bounds_m
        width = int(np.ceil((x1 - x0) / resolution_m))
        height = int(np.ceil((y1 - y0) / resolution_m))
        grid = np.zeros((height, width), dtype=np.uint8)
        shift = 4  # cv2 fixed-point bits: sub-cell precision of the footprints
        for part in self._parts:
            z = part.vertices[:, 2]
            if z.max() < z_range_m[0] or z.min() > z_range_m[1]:
                continue
            xy = (part.vertices[:, :2] - (x0, y0)) / resolution_m - 0.5
            hull = cv2.convexHull(np.round(xy * (1 << shift)).astype(np.int32))
            cv2.fillConvexPoly(grid, hull, 100, lineType=cv2.LINE_8, shift=shift)
        return grid.astype(np.int8), (float(x0), float(y0))
