"""Tests of percept.mapping.voxel3d."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percept.mapping.config import MappingConfig
from percept.mapping.voxel3d import FREE, OCCUPIED, UNKNOWN, VoxelMap3D, pack_keys, unpack_keys


def _wall(x_m: float) -> np.ndarray:
    y, z = np.meshgrid(np.linspace(-0.5, 0.5, 41), np.linspace(0.2, 0.8, 25))
    return np.c_[np.full(y.size, x_m), y.ravel(), z.ravel()]


def test_keys_round_trip_and_keep_the_lexicographic_order() -> None:
    rng = np.random.default_rng(0)
    voxels = rng.integers(-(2**20), 2**20, (1000, 3))
    keys = pack_keys(voxels)
    np.testing.assert_array_equal(unpack_keys(keys), voxels)
    order = np.lexsort(voxels.T[::-1])
    np.testing.assert_array_equal(np.argsort(keys, kind="stable"), order)
    with pytest.raises(ValueError, match="voxel index"):
        pack_keys([[2**20, 0, 0]])


def test_a_wall_is_occupied_the_space_before_it_free_behind_it_unknown() -> None:
    cfg = MappingConfig(resolution_m=0.05)
    m = VoxelMap3D(cfg)
    stats = m.insert([0.0, 0.0, 0.5], _wall(1.52), 0)
    assert stats.points_marked == 41 * 25
    states = m.voxel_states([[1.52, 0.0, 0.5], [0.8, 0.0, 0.5], [2.0, 0.0, 0.5]])
    assert states.tolist() == [OCCUPIED, FREE, UNKNOWN]
    centres = m.occupied_centers()
    assert centres.dtype == np.float32
    np.testing.assert_allclose(centres[:, 0], 1.525, atol=1e-6)
    cloud = m.to_point_cloud("map", 7)
    assert cloud.header.frame_id == "map"
    assert not cloud.is_organized
    np.testing.assert_array_equal(cloud.xyz(), centres)


def test_repeated_inserts_clamp_and_decay_forgets() -> None:
    cfg = MappingConfig(resolution_m=0.05, decay_model="linear", decay_s=1.0)
    m = VoxelMap3D(cfg)
    for i in range(10):
        m.insert([0.0, 0.0, 0.5], _wall(1.02), i * 10_000_000)
    _, log_odds = m.voxels()
    assert log_odds.max() == pytest.approx(cfg.log_odds_max, abs=1e-2)
    assert log_odds.min() == pytest.approx(cfg.log_odds_min, abs=1e-2)
    m.insert([0.0, 0.0, 0.5], np.empty((0, 3)), 2_000_000_000)
    assert len(m) == 0


def test_far_points_and_no_return_beams_clear_without_marking() -> None:
    cfg = MappingConfig(resolution_m=0.1, max_range_m=2.0)
    m = VoxelMap3D(cfg)
    stats = m.insert(
        [0.05, 0.05, 0.05],
        [[5.05, 0.05, 0.05], [np.nan, 0.0, 0.0]],
        0,
        no_return_m=[[0.05, 3.05, 0.05]],
    )
    assert (stats.points_far, stats.points_nan, stats.no_return) == (1, 1, 1)
    assert m.occupied_centers().shape == (0, 3)
    states = m.voxel_states([[1.85, 0.05, 0.05], [2.5, 0.05, 0.05], [0.05, 1.85, 0.05]])
    assert states.tolist() == [FREE, UNKNOWN, FREE]


def test_save_ply_writes_a_cube_per_occupied_voxel(tmp_path: Path) -> None:
    m = VoxelMap3D(MappingConfig(resolution_m=0.1))
    m.insert([0.0, 0.0, 0.5], [[1.05, 0.05, 0.55], [1.05, 0.15, 0.55]], 0)
    path = tmp_path / "voxels.ply"
    m.save_ply(path)
    data = path.read_bytes()
    header, body = data.split(b"end_header\n", 1)
    assert b"element vertex 16" in header
    assert b"element face 24" in header
    assert len(body) == 16 * 12 + 24 * 13
    o3d = pytest.importorskip("open3d")
    mesh = o3d.io.read_triangle_mesh(str(path))
    assert len(mesh.triangles) == 24
    bounds = np.asarray(mesh.get_axis_aligned_bounding_box().get_box_points())
    np.testing.assert_allclose(bounds.min(axis=0), [1.0, 0.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(bounds.max(axis=0), [1.1, 0.2, 0.6], atol=1e-6)
