"""A 3-D log-odds voxel map (OctoMap's sensor model on a flat voxel store), as a cloud or a mesh.

The sensor model, range, no-return clearing and decay are those of
:mod:`percept.mapping.occupancy2d`, with full 3-D rays
(:func:`~percept.mapping.raycast.traverse_3d`) and no height band: every point within
``max_range_m`` marks its voxel (OctoMap's ``insertPointCloud(..., discretize=true)``).
Voxel ``(i, j, k)`` covers ``[i r, (i + 1) r) x [j r, (j + 1) r) x [k r, (k + 1) r)``
(``r`` = ``resolution_m``), the lattice of OctoMap's keys (``floor(x / r)``). Points
beyond ``max_range_m`` are handled as OctoMap's ``insertPointCloud(discretize=true)``
does: one ray per unique voxel of the raw points, towards its centre, cut at the range
(the 2-D grid instead casts to the cell of the cut point).

**Store.** Voxels live in three flat arrays sorted by a packed int64 key (21 bits per
axis, +-2**20 voxels, +-52 km at 5 cm): updates find their voxels with
``np.searchsorted`` and new voxels are merged in with one ``np.insert``. Memory grows with
the observed voxels only (a dense block around a robot's path at 5 cm would be mostly
unknown air, and regrowing it copies every voxel); an insert costs O(K) for the merge
plus O(U log K) for the look-ups, with K voxels stored and U updated.

A voxel is occupied when its log-odds is > 0 (OctoMap's occupancy threshold 0.5),
free when < 0 ... or exactly 0, which OctoMap also calls free.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from percept.domain import Header, PointCloud
from percept.mapping.config import MappingConfig
from percept.mapping.occupancy2d import InsertStats, decay_weight, log_odds_step, split_points
from percept.mapping.raycast import HIT, PASS, traverse_3d

__all__ = ["FREE", "OCCUPIED", "UNKNOWN", "VoxelMap3D", "pack_keys", "unpack_keys"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

#: :meth:`VoxelMap3D.voxel_states` values.
UNKNOWN, FREE, OCCUPIED = -1, 0, 1
_BITS = 21
_OFFSET = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1
#: x y z float32, 16-byte points, as ``percept.codecs.make_point_cloud`` lays them out.
_XYZ_DTYPE = np.dtype(
    {"names": ["x", "y", "z"], "formats": [np.float32] * 3, "offsets": [0, 4, 8], "itemsize": 16}
)


def pack_keys(voxels: npt.ArrayLike) -> IntArray:
    """(N,) int64 keys of voxels (i, j, k), ordered as the voxels lexicographically.

    Raises:
        ValueError: a voxel index outside +-2**20.

    >>> unpack_keys(pack_keys([[-3, 0, 7]])).tolist()
    [[-3, 0, 7]]
    """
    v = np.asarray(voxels, dtype=np.int64).reshape(-1, 3) + _OFFSET
    if v.size and (v.min() < 0 or v.max() > _MASK):
        msg = f"voxel index outside +-{_OFFSET} (too far from the map's origin)"
        raise ValueError(msg)
    packed: IntArray = (v[:, 0] << (2 * _BITS)) | (v[:, 1] << _BITS) | v[:, 2]
    return packed


def unpack_keys(keys: npt.ArrayLike) -> IntArray:
    """(N, 3) int64 voxels (i, j, k) of packed keys."""
    k = np.asarray(keys, dtype=np.int64).reshape(-1)
    out = np.stack([(k >> (2 * _BITS)) & _MASK, (k >> _BITS) & _MASK, k & _MASK], axis=1)
    return out - _OFFSET


class VoxelMap3D:
    """Log-odds voxels updated by full 3-D rays (module docstring).

    Args:
        config: sensor model, range, decay (default ``MappingConfig()``; the height
            band and ``initial_size_m`` are not used here).
    """

    def __init__(self, config: MappingConfig | None = None) -> None:
        self.config = config if config is not None else MappingConfig()
        self._keys = np.empty(0, dtype=np.int64)
        self._log_odds = np.empty(0, dtype=np.float32)
        self._stamp_ns = np.empty(0, dtype=np.int64)
        self._now_ns: int | None = None

    def __len__(self) -> int:
        """Number of observed voxels."""
        return int(self._keys.shape[0])

    def voxels(self) -> tuple[IntArray, npt.NDArray[np.float32]]:
        """(K, 3) int64 observed voxels (i, j, k), sorted, and (K,) float32 log-odds now."""
        return unpack_keys(self._keys), self._current()

    def _current(self) -> npt.NDArray[np.float32]:
        if self.config.decay_model == "none" or self._now_ns is None:
            out: npt.NDArray[np.float32] = self._log_odds.copy()
            return out
        weight, _ = decay_weight(self.config, self._now_ns - self._stamp_ns)
        return (self._log_odds * weight).astype(np.float32)

    def insert(
        self,
        origin_m: npt.ArrayLike,
        points_m: npt.ArrayLike,
        stamp_ns: int,
        no_return_m: npt.ArrayLike | None = None,
    ) -> InsertStats:
        """Integrate one cloud with full 3-D rays.

        Args:
            origin_m: (3,) sensor position, metres, map frame.
            points_m: (N, 3) or (H, W, 3) points, metres, map frame; NaN/inf rows are
                dropped and counted.
            stamp_ns: the data's stamp (the decay clock), nanoseconds.
            no_return_m: (M, 3) points on beams without a return (clear only), or None.

        Returns:
            What the insert did (``points_marked``: points in range).

        Raises:
            ValueError: bad shapes, a non-finite origin, or voxels beyond +-2**20.
        """
        start = time.perf_counter()
        cfg = self.config
        split = split_points(cfg, origin_m, points_m, None, no_return_m)
        origin = np.asarray(origin_m, dtype=np.float64).reshape(3)
        self._now_ns = int(stamp_ns) if self._now_ns is None else max(self._now_ns, int(stamp_ns))
        r = cfg.resolution_m
        rays = changed = n_free = n_hit = 0
        if split.ends.shape[0]:
            inv_r = 1.0 / r  # OctoMap's keys: floor(x * (1 / r)) in double precision

            def cells(rows: npt.NDArray[np.bool_]) -> IntArray:
                ends = split.ends[rows].astype(np.float64)
                return np.floor(ends * inv_r).astype(np.int64)

            # Beyond the range, as OctoMap's discretised insert: one ray per unique
            # voxel of the raw points, towards its centre, cut at max_range_m.
            o_vox = origin * inv_r
            far_keys = np.floor(split.far_points.astype(np.float64) * inv_r).astype(np.int64)
            direction = np.unique(far_keys, axis=0) + 0.5 - o_vox
            length = np.linalg.norm(direction, axis=1, keepdims=True)
            cut = o_vox + direction * (np.minimum(length, cfg.max_range_m * inv_r) / length)
            trav = traverse_3d(
                o_vox,
                cells(split.kind == HIT),
                None,
                cells((split.kind == PASS) & ~split.far),
                cut,
            )
            rays, n_free, n_hit = trav.rays, trav.free.shape[0], trav.hit.shape[0]
            changed = self._update(pack_keys(trav.free), pack_keys(trav.hit))
        self._forget()
        stats = InsertStats(
            rays=rays,
            cells_changed=changed,
            seconds=time.perf_counter() - start,
            cells_free=n_free,
            cells_hit=n_hit,
            **split.counts,
        )
        logger.debug("voxel insert: %s", stats)
        return stats

    def _update(self, free: IntArray, hit: IntArray) -> int:
        assert self._now_ns is not None
        keys = np.concatenate([free, hit])
        is_hit = np.concatenate([np.zeros(free.shape[0], bool), np.ones(hit.shape[0], bool)])
        order = np.argsort(keys, kind="stable")
        keys, is_hit = keys[order], is_hit[order]
        pos = np.searchsorted(self._keys, keys)
        found = pos < self._keys.shape[0]
        found[found] = self._keys[pos[found]] == keys[found]
        stored = np.zeros(keys.shape[0], dtype=np.float32)
        stored[found] = self._log_odds[pos[found]]
        age = np.zeros(keys.shape[0], dtype=np.int64)
        age[found] = self._now_ns - self._stamp_ns[pos[found]]
        new, changed = log_odds_step(self.config, stored, age, found, is_hit)
        self._log_odds[pos[found]] = new[found]
        self._stamp_ns[pos[found]] = self._now_ns
        fresh = ~found
        if fresh.any():
            at = pos[fresh]
            self._keys = np.insert(self._keys, at, keys[fresh])
            self._log_odds = np.insert(self._log_odds, at, new[fresh])
            self._stamp_ns = np.insert(self._stamp_ns, at, np.int64(self._now_ns))
        return changed

    def _forget(self) -> None:
        if self.config.decay_model == "none" or self._now_ns is None:
            return
        _, gone = decay_weight(self.config, self._now_ns - self._stamp_ns)
        if gone.any():
            keep = ~gone
            self._keys = self._keys[keep]
            self._log_odds = self._log_odds[keep]
            self._stamp_ns = self._stamp_ns[keep]

    def key_states(self, voxels: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """(N,) int8 state of voxels (i, j, k): OCCUPIED 1, FREE 0, UNKNOWN -1."""
        keys = pack_keys(voxels)
        out = np.full(keys.shape[0], UNKNOWN, dtype=np.int8)
        if self._keys.shape[0] == 0:
            return out
        pos = np.minimum(np.searchsorted(self._keys, keys), self._keys.shape[0] - 1)
        found = self._keys[pos] == keys
        values = self._current()[pos[found]]
        out[found] = np.where(values > 0.0, OCCUPIED, FREE)
        return out

    def voxel_states(self, points_m: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """(N,) int8 state of the voxels holding points (N, 3) metres: 1 / 0 / -1 unknown."""
        pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
        return self.key_states(np.floor(pts * (1.0 / self.config.resolution_m)).astype(np.int64))

    def occupied_centers(self) -> npt.NDArray[np.float32]:
        """(K, 3) float32 centres of the occupied voxels, metres, map frame."""
        voxels, log_odds = self.voxels()
        occupied = voxels[log_odds > 0.0]
        return ((occupied + 0.5) * self.config.resolution_m).astype(np.float32)

    def to_point_cloud(self, frame_id: str, stamp_ns: int) -> PointCloud:
        """Occupied voxel centres as an unorganised x y z float32 cloud."""
        centres = self.occupied_centers()
        points = np.zeros(centres.shape[0], dtype=_XYZ_DTYPE)
        for i, name in enumerate("xyz"):
            points[name] = centres[:, i]
        return PointCloud(Header(int(stamp_ns), frame_id), points, is_dense=True)

    def save_ply(self, path: Path | str) -> None:
        """Write the occupied voxels as a mesh of cubes (binary little-endian PLY).

        Plain PLY writing with numpy (8 vertices and 12 triangles per voxel, vertex
        positions float32 metres), readable by Open3D, MeshLab and Blender; no Open3D
        needed to write it.

        Args:
            path: the ``.ply`` file to write.
        """
        centres = self.occupied_centers().astype(np.float64)
        h = 0.5 * self.config.resolution_m
        corners = np.array(
            [[x, y, z] for x in (-h, h) for y in (-h, h) for z in (-h, h)], dtype=np.float64
        )
        vertices = (centres[:, None, :] + corners[None, :, :]).reshape(-1, 3).astype("<f4")
        # Corner index = 4 x + 2 y + z; two outward-facing triangles per cube face.
        faces = np.array(
            [
                [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # -x, +x
                [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # -y, +y
                [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # -z, +z
            ],
            dtype=np.int32,
        )  # fmt: skip
        tri = faces[None, :, :] + 8 * np.arange(centres.shape[0], dtype=np.int32)[:, None, None]
        records = np.zeros(tri.shape[0] * 12, dtype=[("n", "u1"), ("v", "<i4", (3,))])
        records["n"] = 3
        records["v"] = tri.reshape(-1, 3)
        header = (
            "ply\nformat binary_little_endian 1.0\n"
            "comment percept VoxelMap3D occupied voxels\n"
            f"element vertex {vertices.shape[0]}\n"
            "property float x\nproperty float y\nproperty float z\n"
            f"element face {records.shape[0]}\n"
            "property list uchar int vertex_indices\nend_header\n"
        )
        with Path(path).open("wb") as f:
            f.write(header.encode("ascii"))
            f.write(vertices.tobytes())
            f.write(records.tobytes())
