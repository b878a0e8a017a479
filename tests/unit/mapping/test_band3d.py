"""Tests of percept.mapping.band3d."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from percept.mapping.band3d import BandMap2D
from percept.mapping.config import MappingConfig
from percept.mapping.occupancy2d import OccupancyMap2D
from percept.units import NS_PER_S

FloatArray = npt.NDArray[np.float64]

RES = 0.05
PERIOD_NS = NS_PER_S // 10


def _box() -> npt.NDArray[np.float64]:
    """A camera's view of a low box (top at 0.3 m, x 1.0..1.3): front face and top."""
    y, z = np.meshgrid(np.linspace(-0.3, 0.3, 25), np.linspace(0.06, 0.29, 6))
    front = np.c_[np.full(y.size, 1.0), y.ravel(), z.ravel()]
    x, y = np.meshgrid(np.linspace(1.0, 1.3, 13), np.linspace(-0.3, 0.3, 25))
    top = np.c_[x.ravel(), y.ravel(), np.full(x.size, 0.3)]
    return np.concatenate([front, top])


def _floor_behind() -> npt.NDArray[np.float64]:
    """The floor beyond the box, seen over it (rays pass x 1.0..1.3 above 0.38 m)."""
    x, y = np.meshgrid(np.linspace(2.5, 3.5, 41), np.linspace(-0.3, 0.3, 25))
    return np.c_[x.ravel(), y.ravel(), np.zeros(x.size)]


def _state(grid_data: npt.NDArray[np.int8], m: BandMap2D | OccupancyMap2D, x: float) -> int:
    col, row = m.geometry.world_to_cell([[x, 0.01]])[0]
    return int(grid_data[row, col])


def test_rays_over_a_low_box_do_not_clear_it() -> None:
    cfg = MappingConfig(resolution_m=RES, max_range_m=5.0)
    band = BandMap2D(MappingConfig(resolution_m=RES, max_range_m=5.0, grid_model="band3d"))
    flat = OccupancyMap2D(cfg)
    cam = [0.0, 0.0, 0.8]  # looking down over the box
    for i in range(6):  # the box seen once, then five views over it
        points = _box() if i == 0 else _floor_behind()
        band.insert(cam, points, 0.0, i * PERIOD_NS)
        flat.insert(cam, points, 0.0, i * PERIOD_NS)
    b = band.to_occupancy_grid("map", 0).data
    f = flat.to_occupancy_grid("map", 0).data
    for x in (1.02, 1.12, 1.22):  # the box's top: occupied in the band map
        assert _state(b, band, x) == 100
    # The flat grid: rays to the floor pass the box's cells and clear its inside.
    assert _state(f, flat, 1.12) <= 25
    for x in (0.5, 2.0, 3.0):  # in front of it, behind it (seen over it), the floor
        assert _state(b, band, x) == 0
    assert _state(b, band, 4.5) == -1  # never reached


def test_projection_values_and_geometry() -> None:
    m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d", layer_height_m=0.2))
    assert m.layers == 10  # (2.0 - 0.05) / 0.2, rounded up
    stats = m.insert([0.0, 0.0, 0.5], [[2.02, 0.0, 0.5]], 0.0, 7)
    assert stats.points_marked == 1
    assert stats.rays == 1
    grid = m.to_occupancy_grid("odom", 7)
    assert set(np.unique(grid.data).tolist()) == {-1, 0, 100}
    assert grid.header.frame_id == "odom"
    np.testing.assert_allclose(grid.origin.translation_m[:2], m.geometry.origin_xy_m)
    assert _state(grid.data, m, 2.02) == 100
    assert _state(grid.data, m, 1.0) == 0
    voxels = m.voxel_log_odds()
    assert voxels.shape == (10, *m.geometry.shape)
    assert np.count_nonzero(voxels > 0) == 1


def test_ground_and_high_points_clear_but_do_not_mark() -> None:
    m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d"))
    pts = [[2.0, 0.0, 0.0], [2.0, 0.5, 2.5]]  # the floor; above the band
    stats = m.insert([0.0, 0.0, 0.5], pts, 0.0, 0)
    assert stats.points_ground == 1
    assert stats.points_above == 1
    grid = m.to_occupancy_grid("map", 0).data
    assert not (grid == 100).any()
    assert _state(grid, m, 1.0) == 0


def test_a_moved_obstacle_clears_and_decay_forgets() -> None:
    cfg = MappingConfig(resolution_m=RES, grid_model="band3d", max_range_m=4.0)
    m = BandMap2D(cfg)
    wall = np.c_[np.full(21, 2.02), np.linspace(-0.5, 0.5, 21), np.full(21, 0.5)]
    behind = wall + np.array([1.0, 0.0, 0.0])
    m.insert([0.0, 0.0, 0.5], wall, 0.0, 0)
    assert _state(m.to_occupancy_grid("map", 0).data, m, 2.02) == 100
    scans = 0
    while _state(m.to_occupancy_grid("map", 0).data, m, 2.02) == 100:
        scans += 1
        m.insert([0.0, 0.0, 0.5], behind, 0.0, scans * PERIOD_NS)
        assert scans < 10
    assert scans == 3  # +0.85 then three misses of -0.41
    d = BandMap2D(
        MappingConfig(resolution_m=RES, grid_model="band3d", decay_model="linear", decay_s=1.0)
    )
    d.insert([0.0, 0.0, 0.5], wall, 0.0, 0)
    d.insert([10.0, 0.0, 0.5], [[12.0, 0.0, 0.5]], 0.0, 2 * NS_PER_S)
    assert _state(d.to_occupancy_grid("map", 0).data, d, 2.02) == -1


def test_hit_min_fraction_keeps_a_noisy_wall_thin() -> None:
    rng = np.random.default_rng(3)
    y, z = np.meshgrid(np.linspace(-0.5, 0.5, 60), np.linspace(0.1, 0.9, 40))
    maps = {f: BandMap2D(MappingConfig(grid_model="band3d", hit_min_fraction=f)) for f in (0, 0.3)}
    for i in range(10):  # a wall at x = 3.025 m seen with 5 cm (1 sigma) depth noise
        x = 3.025 + rng.normal(0.0, 0.05, y.size)
        wall = np.c_[x, y.ravel(), z.ravel()]
        for m in maps.values():
            m.insert([0.0, 0.0, 0.5], wall, 0.0, i * PERIOD_NS)
    plain, voted = (maps[f].to_occupancy_grid("map", 0).data for f in (0, 0.3))
    front = [2.925, 2.975]  # two cells in front of the wall's cell
    assert [_state(plain, maps[0], x) for x in front] == [100, 100]
    assert _state(voted, maps[0.3], 2.925) == 0
    assert np.count_nonzero(voted == 100) < 0.9 * np.count_nonzero(plain == 100)
    assert _state(voted, maps[0.3], 3.025) == 100
    with pytest.raises(ValueError, match="hit_min_fraction"):
        MappingConfig(hit_min_fraction=1.5)


def test_empty_and_bad_input() -> None:
    m = BandMap2D(MappingConfig(grid_model="band3d"))
    stats = m.insert([0.0, 0.0, 0.5], np.empty((0, 3)), 0.0, 0)
    assert stats.rays == 0
    assert m.geometry.width == 0
    stats = m.insert([0.0, 0.0, 0.5], [[np.nan, 0.0, 0.0]], 0.0, 1)
    assert stats.points_nan == 1
    with pytest.raises(ValueError, match="base_z_m"):
        m.insert([0.0, 0.0, 0.5], [[1.0, 0.0, 0.5]], float("nan"), 2)
    with pytest.raises(ValueError, match="origin"):
        m.insert([np.inf, 0.0, 0.5], [[1.0, 0.0, 0.5]], 0.0, 2)


def test_config_rejects_unknown_model() -> None:
    with pytest.raises(ValueError, match="grid_model"):
        MappingConfig(grid_model="octree")
    with pytest.raises(ValueError, match="layer_height_m"):
        MappingConfig(layer_height_m=float("inf"))


def test_sublayers_keep_a_deck_that_rays_only_graze() -> None:
    # A pallet deck's top (0.14 m: the top third of the first voxel, 0.05-0.15 m) is
    # seen once; then five rays to the floor behind it cross that voxel's top 3 cm only.
    deck = [[1.275, 0.025, 0.14]]
    cam = [0.0, 0.025, 0.8]
    states = {}
    for sub in (1, 3):
        m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d", clear_sublayers=sub))
        m.insert(cam, deck, 0.0, 0)
        for i in range(1, 6):
            m.insert(cam, [[1.56, 0.025, 0.0]], 0.0, i * PERIOD_NS)
        states[sub] = _state(m.to_occupancy_grid("map", 0).data, m, 1.275)
        assert _state(m.to_occupancy_grid("map", 0).data, m, 1.37) == 0  # through the middle
    assert states == {1: 0, 3: 100}  # whole voxels: cleared by grazing rays; 3: kept
    # A ray through the voxel's middle clears it with sub-layers too.
    m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d", clear_sublayers=3))
    m.insert([0.0, 0.025, 0.1], deck, 0.0, 0)
    for i in range(1, 4):
        m.insert([0.0, 0.025, 0.1], [[2.0, 0.025, 0.1]], 0.0, i * PERIOD_NS)
    assert _state(m.to_occupancy_grid("map", 0).data, m, 1.275) == 0
    with pytest.raises(ValueError, match="clear_sublayers"):
        MappingConfig(clear_sublayers=2)  # even: no middle sub-layer


def test_bottom_voxel_rule_leaves_columns_seen_only_from_above_unknown() -> None:
    near_floor = np.c_[np.linspace(0.3, 0.9, 13), np.zeros(13), np.zeros(13)]
    maps = {
        rule: BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d", free_column_rule=rule))
        for rule in ("any_voxel", "bottom_voxel")
    }
    for m in maps.values():
        for i, points in enumerate((_box(), _floor_behind(), near_floor)):
            m.insert([0.0, 0.0, 0.8], points, 0.0, i * PERIOD_NS)
    grids = {rule: m.to_occupancy_grid("map", 0).data for rule, m in maps.items()}
    for rule, m in maps.items():
        g = grids[rule]
        assert _state(g, m, 1.12) == 100  # the box's top
        assert _state(g, m, 0.6) == 0  # floor seen
        assert _state(g, m, 3.0) == 0
        np.testing.assert_array_equal(m.observed(), g != -1)
        np.testing.assert_array_equal(m.occupied(), g == 100)
    # Behind the box the floor is hidden (rays over it reach the floor beyond 2.08 m).
    assert _state(grids["any_voxel"], maps["any_voxel"], 1.6) == 0
    assert _state(grids["bottom_voxel"], maps["bottom_voxel"], 1.6) == -1
    np.testing.assert_array_equal(grids["any_voxel"] == 100, grids["bottom_voxel"] == 100)
    assert np.count_nonzero(grids["bottom_voxel"] == 0) < np.count_nonzero(grids["any_voxel"] == 0)
    with pytest.raises(ValueError, match="free_column_rule"):
        MappingConfig(free_column_rule="floor")


def _noisy_wall(rng: np.random.Generator, x_m: float, sigma_m: float) -> npt.NDArray[np.float64]:
    """A wall at ``x_m`` seen from (0, 0, 0.5) with range noise of ``sigma_m`` (1 sigma)."""
    y, z = np.meshgrid(np.linspace(-0.5, 0.5, 60), np.linspace(0.1, 0.9, 40))
    wall = np.c_[np.full(y.size, x_m), y.ravel(), z.ravel()]
    ray = wall - [0.0, 0.0, 0.5]
    rng_m = np.linalg.norm(ray, axis=1)
    noisy = rng_m + rng.normal(0.0, sigma_m, rng_m.size)
    return np.asarray([0.0, 0.0, 0.5] + ray * (noisy / rng_m)[:, None])


def test_tsdf_surface_drops_the_noise_band_in_front_of_a_far_wall() -> None:
    # Stereo at 3.5 m: about 7 cm of range noise. Log-odds mark every voxel that one
    # insert's points reach, in front of the wall too; the fused surface sits in the
    # wall's cell, and the voxels in front of it are no longer occupied.
    rng = np.random.default_rng(5)
    models = ("log_odds", "tsdf")
    maps = {
        s: BandMap2D(MappingConfig(grid_model="band3d", prob_hit=0.6, surface_model=s))
        for s in models
    }
    for i in range(20):
        wall = _noisy_wall(rng, 3.52, 0.07)
        for m in maps.values():
            m.insert([0.0, 0.0, 0.5], wall, 0.0, i * PERIOD_NS)
    grids = {s: m.to_occupancy_grid("map", 0).data for s, m in maps.items()}
    front = [3.375, 3.425]  # three and two cells in front of the wall's cell 3.50-3.55
    assert [_state(grids["log_odds"], maps["log_odds"], x) for x in front] == [100, 100]
    assert [_state(grids["tsdf"], maps["tsdf"], x) for x in front] == [0, 0]
    assert _state(grids["tsdf"], maps["tsdf"], 3.52) == 100
    # Occupied cells more than one cell in front of the wall's cell (x < 3.45 m).
    in_front = {}
    for s, m in maps.items():
        g = m.geometry
        x_centres = g.origin_xy_m[0] + (np.arange(g.width) + 0.5) * g.resolution_m
        in_front[s] = int(np.count_nonzero((grids[s] == 100) & (x_centres < 3.45)[None, :]))
    assert in_front["log_odds"] > 20
    assert in_front["tsdf"] < 0.1 * in_front["log_odds"]
    # Free space and what is known behind the wall stay those of the log-odds map.
    assert _state(grids["tsdf"], maps["tsdf"], 2.0) == 0
    np.testing.assert_array_equal(maps["tsdf"].voxel_log_odds(), maps["log_odds"].voxel_log_odds())


def test_tsdf_surface_is_the_voxel_nearest_the_zero_crossing() -> None:
    for x_wall, cell in ((2.02, 40), (2.045, 40), (2.055, 41)):
        m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d", surface_model="tsdf"))
        y = np.linspace(-0.2, 0.2, 9)
        m.insert([0.0, 0.0, 0.5], np.c_[np.full(9, x_wall), y, np.full(9, 0.5)], 0.0, 0)
        surface = m.surface()
        col, row = m.geometry.world_to_cell([[x_wall, 0.0]])[0]
        layer = int((0.5 - 0.05) // 0.1)
        cols = np.nonzero(surface[layer, row])[0]
        world_cols = cols + m.geometry.origin_cell[0]
        assert world_cols.tolist() == [cell], x_wall
        assert col + m.geometry.origin_cell[0] == cell
    with pytest.raises(ValueError, match="surface_model"):
        BandMap2D(MappingConfig(grid_model="band3d")).surface()


def test_tsdf_keeps_what_is_behind_the_surface_and_clears_a_moved_obstacle() -> None:
    # A box's front face and top: the top's voxels lie behind the front surface along
    # the rays (negative distance) and stay occupied, as with log-odds alone.
    m = BandMap2D(
        MappingConfig(resolution_m=RES, max_range_m=5.0, grid_model="band3d", surface_model="tsdf")
    )
    m.insert([0.0, 0.0, 0.8], _box(), 0.0, 0)
    g = m.to_occupancy_grid("map", 0).data
    for x in (1.02, 1.12, 1.22):
        assert _state(g, m, x) == 100
    # The obstacle leaves: rays through its place free it as log-odds do (3 misses).
    wall = np.c_[np.full(21, 2.02), np.linspace(-0.5, 0.5, 21), np.full(21, 0.5)]
    t = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d", surface_model="tsdf"))
    t.insert([0.0, 0.0, 0.5], wall, 0.0, 0)
    assert _state(t.to_occupancy_grid("map", 0).data, t, 2.02) == 100
    for i in range(1, 4):
        t.insert([0.0, 0.0, 0.5], wall + np.array([1.0, 0.0, 0.0]), 0.0, i * PERIOD_NS)
    assert _state(t.to_occupancy_grid("map", 0).data, t, 2.02) == 0
    # The fused arrays grow with the grid and keep what they hold, voxel for voxel.
    layer = int((0.5 - 0.05) // 0.1)
    col, row = t.geometry.world_to_cell([[3.02, 0.01]])[0]
    before = (t._sdf[layer, row, col], t._sdf_weight[layer, row, col], t.surface()[layer, row, col])
    assert before[1] > 0.0
    t.insert([30.0, 0.0, 0.5], [[31.0, 0.0, 0.5]], 0.0, 5 * PERIOD_NS)
    assert t.surface().shape == (t.layers, *t.geometry.shape)
    col, row = t.geometry.world_to_cell([[3.02, 0.01]])[0]
    after = (t._sdf[layer, row, col], t._sdf_weight[layer, row, col], t.surface()[layer, row, col])
    assert after == before
    with pytest.raises(ValueError, match="tsdf_truncation_m"):
        MappingConfig(tsdf_truncation_m=0.0)
    with pytest.raises(ValueError, match="surface_model"):
        MappingConfig(surface_model="esdf")


def test_heights_in_the_base_frame_decide_the_band() -> None:
    # A floor point 12 cm above base_link's height in a tilted map frame, 0 m in base_link.
    pts = [[3.5, 0.0, 0.12]]
    for given, marked, ground in ((None, 1, 0), ([0.0], 0, 1)):
        m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d"))
        stats = m.insert([0.0, 0.0, 0.5], pts, 0.0, 0, heights_m=given)
        assert (stats.points_marked, stats.points_ground) == (marked, ground)
        f = OccupancyMap2D(MappingConfig(resolution_m=RES))
        stats = f.insert([0.0, 0.0, 0.5], pts, 0.0, 0, heights_m=given)
        assert (stats.points_marked, stats.points_ground) == (marked, ground)
    with pytest.raises(ValueError, match="heights_m"):
        BandMap2D(MappingConfig(grid_model="band3d")).insert(
            [0.0, 0.0, 0.5], pts, 0.0, 0, heights_m=[0.0, 1.0]
        )


def test_tsdf_forgets_so_an_object_in_front_of_a_known_wall_shows() -> None:
    def wall(x_m: float) -> npt.NDArray[np.float64]:
        y, z = np.meshgrid(np.linspace(-0.5, 0.5, 60), np.linspace(0.1, 0.9, 40))
        return np.c_[np.full(y.size, x_m), y.ravel(), z.ravel()]

    shown_after = {}
    for keep in (1.0, 0.7):
        cfg = MappingConfig(
            grid_model="band3d", prob_hit=0.6, surface_model="tsdf", tsdf_weight_keep=keep
        )
        m = BandMap2D(cfg)
        for i in range(50):  # a wall seen 50 times
            m.insert([0.0, 0.0, 0.5], wall(2.52), 0.0, i * PERIOD_NS)
        k = 0
        while _state(m.to_occupancy_grid("map", 0).data, m, 2.42) != 100 and k < 200:
            k += 1  # then a crate 10 cm in front of it
            m.insert([0.0, 0.0, 0.5], wall(2.42), 0.0, (50 + k) * PERIOD_NS)
        shown_after[keep] = k
    # Log-odds alone need 5 hits (0.41 each from the -2.0 clamp); forgetting adds none.
    assert shown_after[0.7] == 5
    assert shown_after[1.0] > 40
    with pytest.raises(ValueError, match="tsdf_weight_keep"):
        MappingConfig(tsdf_weight_keep=1.5)


def test_tsdf_drops_a_thin_pole_only_within_the_truncation_of_a_surface() -> None:
    # The price of the gate: rays to a wall that pass beside a pole thinner than a voxel
    # cross the pole's voxel in front of the wall and outweigh the pole's own points. A
    # pole 10 cm before the wall is lost, one 30 cm before it (beyond the 20 cm
    # truncation) is kept: what is lost lies within tsdf_truncation_m of an occupied
    # surface, inside any costmap inflation radius at least that large.
    def scene(x_pole: float, x_wall: float = 2.52, width: float = 0.02) -> FloatArray:
        y, z = np.meshgrid(np.linspace(-0.5, 0.5, 200), np.linspace(0.1, 0.9, 40))
        y, z = y.ravel(), z.ravel()
        shadow = np.abs(y) <= width / 2 * x_wall / x_pole
        wall = np.c_[np.full(y.size, x_wall), y, z][~shadow]
        yp, zp = np.meshgrid(np.linspace(-width / 2, width / 2, 5), np.linspace(0.1, 0.9, 40))
        pole = np.c_[np.full(yp.size, x_pole), yp.ravel(), zp.ravel()]
        return np.concatenate([wall, pole])

    for x_pole, kept in ((2.42, False), (2.22, True)):
        grids = {}
        for model in ("log_odds", "tsdf"):
            m = BandMap2D(MappingConfig(grid_model="band3d", prob_hit=0.6, surface_model=model))
            for i in range(10):
                m.insert([0.0, 0.0, 0.5], scene(x_pole), 0.0, i * PERIOD_NS)
            grids[model] = (m, m.to_occupancy_grid("map", 0).data)
        assert _state(grids["log_odds"][1], grids["log_odds"][0], x_pole) == 100
        assert (_state(grids["tsdf"][1], grids["tsdf"][0], x_pole) == 100) is kept
        assert _state(grids["tsdf"][1], grids["tsdf"][0], 2.52) == 100  # the wall


def test_heights_keep_a_mark_whose_map_z_leaves_the_band_and_drop_nan_heights() -> None:
    # Tilted odometry: a crate's point 8 cm above base_link reads -4 cm in map z,
    # below the band's first layer (5-15 cm); it marks that layer of its column.
    m = BandMap2D(MappingConfig(resolution_m=RES, grid_model="band3d"))
    stats = m.insert([0.0, 0.0, 0.5], [[2.02, 0.0, -0.04]], 0.0, 0, heights_m=[0.08])
    assert (stats.points_marked, stats.cells_hit) == (1, 1)
    assert _state(m.to_occupancy_grid("map", 0).data, m, 2.02) == 100
    stats = m.insert([0.0, 0.0, 0.5], [[2.02, 0.0, 0.5]], 0.0, 1, heights_m=[np.nan])
    assert (stats.points_used, stats.points_nan, stats.rays) == (0, 1, 0)
