"""Warehouse scenes: seeded layout, labelled objects that never overlap, occupancy."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from percept.synth.rig import StereoRig, StereoRigConfig, to_image
from percept.synth.scene import CLASS_NAMES, Scene, SceneObject
from percept.synth.shading import Material, NoiseAtlas, make_noise_tile, noise_pyramid
from percept.synth.warehouse import build_scene, build_warehouse


def _footprint(obj: SceneObject) -> npt.NDArray[np.float64]:
    """(4, 2) corners of the object's box seen from above (boxes are yaw-only)."""
    corners = obj.corners_world()
    return corners[corners[:, 2] <= corners[:, 2].min() + 1e-9][:, :2]


def _rects_overlap(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], tol: float) -> bool:
    """Separating-axis test of two convex quadrilaterals, shrunk by ``tol``."""
    for poly in (a, b):
        for i in range(len(poly)):
            edge = poly[(i + 1) % len(poly)] - poly[i]
            if np.linalg.norm(edge) < 1e-12:
                continue
            axis = np.array([-edge[1], edge[0]]) / np.linalg.norm(edge)
            pa, pb = a @ axis, b @ axis
            if pa.max() - tol <= pb.min() or pb.max() - tol <= pa.min():
                return False
    return True


def _order(quad: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    centre = quad.mean(axis=0)
    angle = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    return quad[np.argsort(angle)]


def test_same_seed_gives_the_same_layout(scene0: Scene) -> None:
    again = build_warehouse(0)
    assert len(again.objects) == len(scene0.objects)
    for a, b in zip(again.objects, scene0.objects, strict=True):
        assert a.class_name == b.class_name
        np.testing.assert_array_equal(a.T_world_box, b.T_world_box)
        np.testing.assert_array_equal(a.size_m, b.size_m)


def test_different_seeds_give_different_layouts(scene0: Scene, scene1: Scene) -> None:
    assert scene0.bounds_m != scene1.bounds_m
    centres0 = np.array([o.T_world_box[:3, 3] for o in scene0.objects])
    centres1 = np.array([o.T_world_box[:3, 3] for o in scene1.objects])
    assert centres0.shape != centres1.shape or not np.allclose(centres0, centres1)


def test_every_class_is_in_the_scene(scene0: Scene, scene1: Scene) -> None:
    for scene in (scene0, scene1, build_scene("warehouse", 2)):
        assert {o.class_name for o in scene.objects} == set(CLASS_NAMES)


def test_object_ids_index_the_object_list(scene0: Scene) -> None:
    assert [o.object_id for o in scene0.objects] == list(range(len(scene0.objects)))
    assert all(o.size_m.min() > 0.01 for o in scene0.objects)


def test_labelled_objects_do_not_overlap(scene0: Scene, scene1: Scene) -> None:
    for scene in (scene0, scene1):
        boxes = []
        for obj in scene.objects:
            z = obj.corners_world()[:, 2]
            boxes.append((_order(_footprint(obj)), z.min(), z.max()))
        for (fa, za0, za1), (fb, zb0, zb1) in itertools.combinations(boxes, 2):
            if za1 - 1e-3 <= zb0 or zb1 - 1e-3 <= za0:
                continue  # stacked, or at different shelf levels
            assert not _rects_overlap(fa, fb, tol=1e-3)


def test_objects_stay_out_of_the_aisle_loop(scene0: Scene) -> None:
    loop = scene0.loop.polyline(2000)
    for obj in scene0.objects:
        footprint = _footprint(obj)
        distance = np.linalg.norm(footprint[:, None, :] - loop[None, :, :], axis=2).min()
        assert distance > scene0.loop.clearance_m * 0.5


def test_occupancy_marks_walls_racks_and_objects_and_frees_the_aisle(scene0: Scene) -> None:
    resolution = 0.05
    grid, (x0, y0) = scene0.occupancy(resolution)
    (bx0, by0, _), (bx1, by1, _) = scene0.bounds_m
    expected = (np.ceil((by1 - by0) / resolution), np.ceil((bx1 - bx0) / resolution))
    assert grid.shape == tuple(int(n) for n in expected)
    assert set(np.unique(grid).tolist()) == {0, 100}

    def cell(x: float, y: float) -> int:
        return int(grid[int((y - y0) / resolution), int((x - x0) / resolution)])

    # Walls: the outermost ring of cells.
    for edge in (grid[0, :], grid[-1, :], grid[:, 0], grid[:, -1]):
        assert (edge == 100).all()
    # The aisle loop is free all the way round.
    for x, y in scene0.loop.polyline(400):
        assert cell(x, y) == 0
    # Every object: floor objects stand there, shelf cartons sit on rack decks.
    for obj in scene0.objects:
        centre = obj.T_world_box[:3, 3]
        assert cell(centre[0], centre[1]) == 100, obj.class_name
    assert 0.05 < (grid == 100).mean() < 0.6


def test_scenes_look_different_per_seed_and_the_same_per_seed(scene0: Scene, scene1: Scene) -> None:
    rig = StereoRig(StereoRigConfig(width=96, height=72))
    T_world_base = np.eye(4)  # room centre, looking along +x: the middle rack's end
    T_world_base[:3, 3] = (-5.0, -3.0, 0.0)
    images = [
        to_image(rig.render(s, T_world_base).left, 4.0, "mono8").astype(float)
        for s in (scene0, scene1, build_warehouse(0))
    ]
    assert np.abs(images[0] - images[1]).mean() > 10.0
    np.testing.assert_array_equal(images[0], images[2])


def test_build_scene_raises_on_unknown_scene() -> None:
    with pytest.raises(ValueError, match="unknown scene 'office'"):
        build_scene("office", 0)


def test_build_warehouse_raises_on_negative_seed() -> None:
    with pytest.raises(ValueError, match="seed must be >= 0"):
        build_warehouse(-1)


def test_material_raises_on_unknown_pattern() -> None:
    with pytest.raises(ValueError, match="pattern must be one of"):
        Material("plaid", (0.5, 0.5, 0.5))


def test_noise_pyramid_levels_get_smoother_and_keep_the_mean() -> None:
    tile = make_noise_tile(np.random.default_rng(0), 64)
    pyramid = noise_pyramid(tile, 5)
    roughness = [np.abs(np.diff(level, axis=1)).mean() for level in pyramid]
    assert all(a > b for a, b in itertools.pairwise(roughness))
    np.testing.assert_allclose([level.mean() for level in pyramid], tile.mean(), atol=1e-5)
    # The atlas wraps: sampling one period apart gives the same value, at every level.
    atlas = NoiseAtlas.from_tile(tile, 5)
    x = np.array([3.25, 3.25 + 64.0, 3.25, 3.25 - 128.0])
    y = np.array([7.5, 7.5, 63.75, 63.75 + 64.0])
    for width in (1.0, 4.0, 16.0):
        values = atlas.sample(x, y, np.full(4, width))
        assert values[0] == pytest.approx(values[1], abs=1e-4)
        assert values[2] == pytest.approx(values[3], abs=1e-4)
    # Level 0 is the tile itself (bilinear between its pixels).
    at_pixel = atlas.sample(np.array([5.0]), np.array([9.0]), np.array([1.0]))
    assert at_pixel[0] == pytest.approx(tile[9, 5], abs=1e-4)


def test_footprint_counts_objects_whatever_stands_in_front(scene0: Scene) -> None:
    # Floor objects never share floor space, so a vertical ray through the centre of one
    # meets that object only; from below, the floor hides it.
    floor = [o for o in scene0.objects if o.class_name in ("barrel", "person", "cart")]
    xy = np.array([o.T_world_box[:2, 3] for o in floor])
    n = len(floor)
    zeros, ones = np.zeros(n), np.ones(n)
    down = np.c_[xy, np.full(n, 20.0), zeros, zeros, -ones].astype(np.float32)
    up = np.c_[xy, np.full(n, -1.0), zeros, zeros, ones].astype(np.float32)
    counts = scene0.footprint_pixels(np.vstack([down, up]))
    expected = np.zeros(len(scene0.objects), np.int64)
    expected[[o.object_id for o in floor]] = 2
    np.testing.assert_array_equal(counts, expected)
    assert (scene0.object_index(scene0.cast(up)) == -1).all()
