"""Tests of percept.mapping.grid."""

from __future__ import annotations

import numpy as np
import pytest

from percept.mapping.grid import GridGeometry


def test_world_to_cell_round_trips_cell_centres() -> None:
    g = GridGeometry(0.05, (-2.5, -1.0), 100, 60)
    rng = np.random.default_rng(0)
    cells = np.c_[rng.integers(0, 100, 500), rng.integers(0, 60, 500)]
    np.testing.assert_array_equal(g.world_to_cell(g.cell_to_world(cells)), cells)
    assert g.contains(cells).all()
    assert not g.contains([[-1, 0], [0, 60], [100, 0]]).any()


def test_points_fall_in_the_cell_whose_square_holds_them() -> None:
    g = GridGeometry(0.1, (0.0, 0.0), 10, 10)
    pts = np.array([[0.0, 0.0], [0.0999, 0.1], [0.95, 0.31], [-0.01, 0.5]])
    np.testing.assert_array_equal(g.world_to_cell(pts), [[0, 0], [0, 1], [9, 3], [-1, 5]])
    # Row 0 holds the lowest y (nav_msgs layout): flat index is row * width + col.
    assert g.flat_index([[9, 3]]).tolist() == [39]


def test_centred_grid_holds_its_centre_on_the_lattice() -> None:
    rng = np.random.default_rng(1)
    for centre in rng.uniform(-50.0, 50.0, (50, 2)):
        for size in (0.0, 0.05, 1.0, 1.03, 10.0):
            g = GridGeometry.centred(centre, size, 0.05)
            assert g.width == g.height >= max(1, round(size / 0.05))
            assert g.contains(g.world_to_cell(centre)).all()
            ox, oy = g.origin_xy_m
            assert abs(ox / 0.05 - round(ox / 0.05)) < 1e-9
            assert abs(oy / 0.05 - round(oy / 0.05)) < 1e-9


def test_grown_grid_keeps_the_old_cells_and_holds_the_new_points() -> None:
    g = GridGeometry(0.05, (-1.0, -1.0), 40, 40)
    pts = np.array([[-3.02, 0.0], [1.5, 4.99], [np.nan, 7.0]])
    grown = g.grown_to_include(pts, margin_m=0.5)
    assert grown.contains(grown.world_to_cell(pts[:2])).all()
    col, row = g.offset_in(grown)
    centres = g.cell_to_world([[0, 0], [39, 39], [17, 5]])
    shifted = np.array([[0, 0], [39, 39], [17, 5]]) + np.array([col, row])
    np.testing.assert_array_equal(grown.world_to_cell(centres), shifted)
    # Grows by the margin on the sides that needed it only.
    assert grown.origin_xy_m[1] == pytest.approx(-1.0)
    assert grown.origin_xy_m[0] == pytest.approx(-3.55)
    assert g.grown_to_include([[0.0, 0.0]]) is g


def test_grid_raises_on_bad_geometry() -> None:
    with pytest.raises(ValueError, match="resolution_m"):
        GridGeometry(0.0, (0.0, 0.0), 1, 1)
    with pytest.raises(ValueError, match="size"):
        GridGeometry(0.1, (0.0, 0.0), -1, 1)
