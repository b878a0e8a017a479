"""Tests of percept.mapping.occupancy2d."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from percept.mapping.config import MappingConfig
from percept.mapping.occupancy2d import OccupancyMap2D, decay_weight
from percept.units import NS_PER_S

RES = 0.05
PERIOD_NS = NS_PER_S // 10  # 10 Hz scans


def _wall(x_m: float, y0: float = -1.0, y1: float = 1.0, z0: float = 0.1, z1: float = 1.0):
    """Points on a vertical wall x = x_m (a camera's view of it)."""
    y, z = np.meshgrid(np.linspace(y0, y1, 161), np.linspace(z0, z1, 10))
    return np.c_[np.full(y.size, x_m), y.ravel(), z.ravel()]


def _cell_state(m: OccupancyMap2D, xy: tuple[float, float]) -> float:
    """Occupancy probability of the cell holding a point (NaN unobserved)."""
    col, row = m.geometry.world_to_cell([xy])[0]
    return float(m.occupancy_probability()[row, col])


def test_a_wall_marks_its_cells_and_frees_the_cells_in_front() -> None:
    m = OccupancyMap2D(MappingConfig(resolution_m=RES))
    stats = m.insert([0.0, 0.0, 0.5], _wall(2.02), 0.0, 0)
    assert stats.points_used == stats.points_marked == 1610
    assert stats.rays == 41  # one per unique endpoint cell: y in [-1, 1] at 5 cm
    p = m.occupancy_probability()
    g = m.geometry
    wall_col = g.world_to_cell([[2.02, 0.0]])[0, 0]
    rows = g.world_to_cell([[0.0, -0.9], [0.0, 0.9]])[:, 1]
    band = slice(rows[0], rows[1] + 1)
    hit = MappingConfig().prob_hit
    np.testing.assert_allclose(p[band, wall_col], hit, atol=1e-6)
    col0 = g.world_to_cell([[0.0, 0.0]])[0, 0]
    np.testing.assert_allclose(
        p[g.world_to_cell([[0.0, 0.0]])[0, 1], col0:wall_col], 0.4, atol=1e-6
    )
    assert np.isnan(p[band, wall_col + 1 :]).all()  # behind the wall: unknown
    grid = m.to_occupancy_grid("map", 5)
    assert grid.data.dtype == np.int8
    assert grid.data[rows[0] + 2, wall_col] == 70
    assert grid.data[rows[0] + 2, wall_col - 1] == 40
    assert (grid.data[band, wall_col + 1 :] == -1).all()
    assert grid.header.frame_id == "map"
    assert grid.header.stamp_ns == 5
    np.testing.assert_allclose(grid.origin.translation_m[:2], g.origin_xy_m)


def test_repeated_scans_clamp_at_octomaps_bounds() -> None:
    cfg = MappingConfig(resolution_m=RES)
    m = OccupancyMap2D(cfg)
    for i in range(12):
        stats = m.insert([0.0, 0.0, 0.5], _wall(2.02), 0.0, i * PERIOD_NS)
    assert stats.cells_changed == 0  # everything sits at a clamp
    lo = m.log_odds[m.observed()]
    assert lo.max() == pytest.approx(cfg.log_odds_max, abs=1e-6)
    assert lo.min() == pytest.approx(cfg.log_odds_min, abs=1e-6)


def test_ground_above_band_and_far_points_clear_without_marking() -> None:
    cfg = MappingConfig(resolution_m=RES, max_range_m=3.0, min_height_m=0.05, max_height_m=1.5)
    m = OccupancyMap2D(cfg)
    ground = [1.02, 0.0, 0.01]  # floor: freed, its own cell too
    above = [0.02, 1.02, 2.5]  # ceiling: freed up to its cell, not its cell
    far = [4.02, -0.5, 0.5]  # beyond range: freed up to 3 m along the ray
    stats = m.insert([0.0, 0.0, 1.0], np.array([ground, above, far]), 0.0, 0)
    assert (stats.points_ground, stats.points_above, stats.points_far) == (1, 1, 1)
    assert stats.points_marked == 0
    assert stats.cells_hit == 0
    assert _cell_state(m, (1.02, 0.0)) == pytest.approx(0.4)
    assert np.isnan(_cell_state(m, (0.02, 1.02)))
    assert _cell_state(m, (0.02, 0.98)) == pytest.approx(0.4)
    # The far ray ends 3 m (3-D) from the origin: xy within 3 m, nothing beyond it.
    assert _cell_state(m, (2.5, -0.31)) == pytest.approx(0.4)
    assert np.isnan(_cell_state(m, (3.5, -0.43)))


def test_no_return_beams_clear_to_max_range_when_enabled() -> None:
    beam = np.array([[10.0, 0.01, 0.5]])
    for enabled in (True, False):
        cfg = MappingConfig(resolution_m=RES, max_range_m=2.0, clear_no_return=enabled)
        m = OccupancyMap2D(cfg)
        stats = m.insert([0.0, 0.01, 0.5], np.empty((0, 3)), 0.0, 0, no_return_m=beam)
        assert stats.no_return == int(enabled)
        state = _cell_state(m, (1.9, 0.01)) if m.geometry.width else float("nan")
        assert (state == pytest.approx(0.4)) if enabled else np.isnan(state)
        if enabled:
            assert np.isnan(_cell_state(m, (2.1, 0.01)))


def test_nan_rows_are_dropped_and_counted_and_empty_input_is_a_no_op() -> None:
    m = OccupancyMap2D(MappingConfig(resolution_m=RES))
    empty = m.insert([0.0, 0.0, 0.5], np.empty((0, 3), np.float32), 0.0, 0)
    assert (empty.points_in, empty.points_used, empty.rays, empty.cells_changed) == (0, 0, 0, 0)
    assert m.geometry.width == 0
    organised = _wall(2.02).reshape(10, 161, 3).copy()
    organised[::2, ::3] = np.nan
    organised[1, 1, 2] = np.inf
    stats = m.insert([0.0, 0.0, 0.5], organised, 0.0, 1)
    assert stats.points_in == 1610
    assert stats.points_nan == 5 * 54 + 1
    assert stats.points_used == 1610 - stats.points_nan
    with pytest.raises(ValueError, match="origin_m"):
        m.insert([np.nan, 0.0, 0.0], organised, 0.0, 2)
    with pytest.raises(ValueError, match="points_m"):
        m.insert([0.0, 0.0, 0.0], np.zeros((4, 2)), 0.0, 2)


def test_the_grid_grows_and_keeps_what_it_held() -> None:
    m = OccupancyMap2D(MappingConfig(resolution_m=RES, initial_size_m=4.0, max_range_m=5.0))
    m.insert([0.0, 0.0, 0.5], _wall(1.52), 0.0, 0)
    before = m.to_occupancy_grid("map", 0)
    m.insert([20.0, -7.0, 0.5], _wall(22.02, -8.0, -6.0), 0.0, 1)
    g = m.geometry
    assert g.width > 400
    assert g.height > 100
    col, row = before.data.shape[1], before.data.shape[0]
    old = m.to_occupancy_grid("map", 1)
    dc, dr = np.rint((before.origin.translation_m[:2] - g.origin_xy_m) / RES).astype(int)
    np.testing.assert_array_equal(old.data[dr : dr + row, dc : dc + col], before.data)
    assert _cell_state(m, (22.02, -7.0)) == pytest.approx(0.7)


def test_a_moved_obstacle_clears_after_nine_scans_through_it_without_decay() -> None:
    m = OccupancyMap2D(MappingConfig(resolution_m=RES))
    for i in range(6):
        m.insert([0.0, 0.0, 0.5], _wall(1.02), 0.0, i * PERIOD_NS)
    # The obstacle goes; the wall behind it is seen through its cells.
    states = []
    for i in range(6, 16):
        m.insert([0.0, 0.0, 0.5], _wall(3.02), 0.0, i * PERIOD_NS)
        states.append(_cell_state(m, (1.02, 0.0)))
    # From the clamp 3.5 a miss of -0.405 needs ceil(3.5 / 0.405) = 9 scans below 0.5.
    assert states[7] > 0.5 > states[8]


@pytest.mark.parametrize(("model", "scans"), [("linear", 10), ("exponential", 30)])
def test_decay_forgets_an_obstacle_nobody_looks_at(model: str, scans: int) -> None:
    cfg = MappingConfig(resolution_m=RES, decay_model=model, decay_s=1.0)
    m = OccupancyMap2D(cfg)
    m.insert([0.0, 0.0, 0.5], _wall(1.02), 0.0, 0)
    assert _cell_state(m, (1.02, 0.0)) == pytest.approx(0.7)
    states = []
    for i in range(1, scans + 1):
        # Looking the other way: no ray passes the old obstacle.
        m.insert([0.0, 0.0, 0.5], _wall(-2.02), 0.0, i * PERIOD_NS)
        states.append(_cell_state(m, (1.02, 0.0)))
    # Linear: gone at decay_s (10 scans at 10 Hz); exponential: at 3 decay_s.
    assert 0.5 < states[-2] < 0.7
    assert np.isnan(states[-1])
    assert not np.isnan(_cell_state(m, (-2.02, 0.0)))


def test_decay_weights_follow_the_models() -> None:
    age: npt.NDArray[np.int64] = np.array([0, NS_PER_S, 3 * NS_PER_S], dtype=np.int64)
    w, gone = decay_weight(MappingConfig(decay_model="linear", decay_s=2.0), age)
    np.testing.assert_allclose(w, [1.0, 0.5, 0.0])
    assert gone.tolist() == [False, False, True]
    w, gone = decay_weight(MappingConfig(decay_model="exponential", decay_s=1.0), age)
    np.testing.assert_allclose(w, np.exp([0.0, -1.0, -3.0]))
    assert gone.tolist() == [False, False, True]
    w, gone = decay_weight(MappingConfig(), age)
    assert w.tolist() == [1.0, 1.0, 1.0]
    assert not gone.any()
