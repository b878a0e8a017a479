"""Tests of percept.mapping.raycast: traversal against a brute-force slab test."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from percept.mapping.raycast import (
    ray_cells_2d,
    ray_cells_3d,
    traverse_2d,
    traverse_3d,
    traverse_counts,
    unique_cells,
)


def _brute_cells(
    origin: npt.NDArray[np.float64], end: npt.NDArray[np.float64]
) -> set[tuple[int, ...]]:
    """Cells whose open interior the segment enters (slab test on every cell of its box)."""
    lo = np.floor(np.minimum(origin, end)).astype(int)
    hi = np.floor(np.maximum(origin, end)).astype(int)
    out = set()
    d = end - origin
    for cell in itertools.product(*(range(a, b + 1) for a, b in zip(lo, hi, strict=True))):
        t0, t1 = 0.0, 1.0
        for axis, c in enumerate(cell):
            if d[axis] == 0.0:
                if not c < origin[axis] < c + 1:
                    t0, t1 = 1.0, 0.0
                continue
            ta, tb = sorted(((c - origin[axis]) / d[axis], (c + 1 - origin[axis]) / d[axis]))
            t0, t1 = max(t0, ta), min(t1, tb)
        if t0 < t1:
            out.add(tuple(cell))
    return out


@pytest.mark.parametrize("dims", [2, 3])
def test_ray_cells_match_a_brute_force_slab_test_on_random_rays(dims: int) -> None:
    rng = np.random.default_rng(dims)
    origin = rng.uniform(-3.0, 3.0, dims)
    ends = origin + rng.uniform(-12.0, 12.0, (60, dims))
    cast = ray_cells_2d if dims == 2 else ray_cells_3d
    cells, ray = cast(origin, ends)
    for i, end in enumerate(ends):
        got = {tuple(c) for c in cells[ray == i].tolist()}
        assert got == _brute_cells(origin, end), f"ray {i} to {end}"


def test_ray_cells_of_axis_aligned_and_zero_length_rays() -> None:
    cells, _ = ray_cells_2d([0.5, 0.5], [[0.5, 3.5], [0.5, 0.5], [-1.5, 0.5]])
    assert {tuple(c) for c in cells.tolist()} == {(0, 0), (0, 1), (0, 2), (0, 3), (-1, 0), (-2, 0)}


@pytest.mark.parametrize("dims", [2, 3])
def test_traverse_is_the_union_of_the_rays_minus_the_hits(dims: int) -> None:
    rng = np.random.default_rng(10 + dims)
    origin = np.r_[rng.uniform(40.0, 41.0, dims)]
    n = 600
    ends = rng.integers(0, 80, (n, dims))
    kind = rng.integers(0, 3, n)
    hit, clear, passing = ends[kind == 0], ends[kind == 1], ends[kind == 2]
    trav = (traverse_2d if dims == 2 else traverse_3d)(origin, hit, clear, passing)
    cast = ray_cells_2d if dims == 2 else ray_cells_3d
    cells, ray = cast(origin, ends + 0.5)
    # A pass ray's own end cell is not freed by it; priority hit > clear > pass.
    own = (cells == ends[ray]).all(axis=1) & (kind[ray] == 2)
    hits = {tuple(c) for c in hit.tolist()}
    expected = {tuple(c) for c in cells[~own].tolist()} - hits
    assert {tuple(c) for c in trav.free.tolist()} == expected
    assert {tuple(c) for c in trav.hit.tolist()} == hits
    assert trav.rays == unique_cells(ends).shape[0]
    assert trav.free.shape[0] == len(expected)  # unique


def test_traverse_counts_a_cell_hit_and_passed_in_one_update_as_hit() -> None:
    # The second ray passes (2, 0), which the first marks.
    trav = traverse_2d([0.5, 0.5], [[2, 0]], pass_cells=[[5, 0]])
    assert trav.hit.tolist() == [[2, 0]]
    assert trav.free.tolist() == [[0, 0], [1, 0], [3, 0], [4, 0]]
    ground = traverse_2d([0.5, 0.5], None, clear_cells=[[3, 0], [3, 0]])
    assert ground.free.tolist() == [[0, 0], [1, 0], [2, 0], [3, 0]]
    assert ground.rays == 1


def test_traverse_of_nothing_and_bad_input() -> None:
    trav = traverse_3d([0.0, 0.0, 0.0], None)
    assert trav.free.shape == (0, 3)
    assert trav.hit.shape == (0, 3)
    assert trav.rays == 0
    with pytest.raises(ValueError, match="origin"):
        traverse_2d([np.nan, 0.0], [[1, 1]])
    with pytest.raises(ValueError, match="hit_cells"):
        traverse_2d([0.0, 0.0], [[1, 1, 1]])


def test_unique_cells_of_a_wide_box_falls_back_to_a_sort() -> None:
    cells = np.array([[0, 0, 0], [10**6, 10**6, 10**6], [0, 0, 0]])
    assert unique_cells(cells).tolist() == [[0, 0, 0], [10**6, 10**6, 10**6]]


def test_traverse_raises_on_a_box_too_large_for_its_masks() -> None:
    with pytest.raises(ValueError, match="box"):
        traverse_3d([0.0, 0.0, 0.0], [[10**4, 10**4, 10**4]])


@pytest.mark.parametrize("dims", [2, 3])
def test_traverse_counts_sum_the_weights_of_the_rays_entering_each_cell(dims: int) -> None:
    rng = np.random.default_rng(20 + dims)
    ext = (30,) * dims
    origin = rng.uniform(14.0, 15.0, dims)
    weight = np.zeros(ext)
    ends = rng.integers(0, 30, (80, dims))
    np.add.at(weight, tuple(ends.T), rng.integers(1, 4, 80).astype(float))
    got = traverse_counts(origin, weight)
    expected = np.zeros(ext)
    cells_with = np.argwhere(weight > 0)
    cells, ray = (ray_cells_2d if dims == 2 else ray_cells_3d)(origin, cells_with + 0.5)
    before = ~(cells == cells_with[ray]).all(axis=1)  # not the ray's own end cell
    np.add.at(expected, tuple(cells[before].T), weight[tuple(cells_with[ray[before]].T)])
    np.testing.assert_array_equal(got, expected)
    assert not traverse_counts(origin, np.zeros(ext)).any()
    with pytest.raises(ValueError, match="origin"):
        traverse_counts(np.full(dims, np.nan), weight)
