"""Procedural warehouse scenes, and the scene kinds ``percept synth --scene`` offers.

A warehouse is a room (floor, walls, ceiling), pallet racks along the walls and a
back-to-back rack row in the middle, floor objects of five classes (``CLASS_NAMES``)
and unlabelled clutter (cones, wall signs, floor markings). Every labelled object has
a known pose and box; objects never overlap. Layout, sizes, colours, textures, lighting
and clutter are drawn from one ``numpy.random.Generator`` seeded by the scene seed, so
scenes of different seeds can serve as training and test sets of a detector.

The racks leave an elliptical aisle loop free (``AisleLoop``): trajectories follow it,
and no object is placed within its clearance.

World frame ``map`` (REP 103): x east, y north, z up, floor at z = 0, room centred on
the origin.
"""

from __future__ import annotations

import colorsys
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.geometry.se3 import from_rotation_translation
from percept.synth import mesh
from percept.synth.mesh import Part
from percept.synth.scene import CLASS_NAMES, AisleLoop, Scene, SceneGeometry, SceneObject
from percept.synth.shading import Lighting, Material, make_noise_tile

__all__ = ["SCENES", "build_scene", "build_warehouse"]


class _Palette:
    """Random materials of one scene."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.materials: list[Material] = []

    def add(self, material: Material) -> int:
        self.materials.append(material)
        return len(self.materials) - 1

    def color(
        self,
        hue: float | None = None,
        sat: tuple[float, float] = (0.5, 0.9),
        val: tuple[float, float] = (0.4, 0.9),
    ) -> tuple[float, float, float]:
        h = self.rng.uniform(0.0, 1.0) if hue is None else (hue + self.rng.normal(0, 0.02)) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, self.rng.uniform(*sat), self.rng.uniform(*val))
        # sRGB-ish picks to linear albedo.
        return (r**2.2, g**2.2, b**2.2)

    def grey(self, lo: float, hi: float) -> tuple[float, float, float]:
        v = self.rng.uniform(lo, hi) ** 2.2
        return (v, v, v)

    def pick(self, *patterns: str) -> str:
        return str(patterns[int(self.rng.integers(len(patterns)))])


def _T(xyz: npt.ArrayLike = (0.0, 0.0, 0.0), yaw_rad: float = 0.0) -> npt.NDArray[np.float64]:
    return from_rotation_translation(Rotation.from_euler("z", yaw_rad).as_matrix(), xyz)


def _part(shape: mesh.Mesh, material: int, T: npt.NDArray[np.float64] | None = None) -> Part:
    vertices, triangles = shape if T is None else mesh.transform(shape, T)
    return Part(vertices, triangles, material)


def _box_on(size: tuple[float, float, float], x: float, y: float, z0: float, mat: int) -> Part:
    """A box of ``size`` whose bottom face centre is at (x, y, z0)."""
    return _part(mesh.box(size, (x, y, z0 + size[2] / 2)), mat)


def _pallet(p: _Palette) -> list[Part]:
    length, width = (1.2, 0.8) if p.rng.uniform() < 0.7 else (1.2, 1.0)
    if p.rng.uniform() < 0.75:
        wood = p.add(
            Material(
                "wood",
                p.color(0.08, (0.45, 0.7), (0.45, 0.75)),
                p.color(0.07, (0.5, 0.8), (0.25, 0.45)),
                scale_m=p.rng.uniform(0.3, 0.8),
                grain=0.2,
            )
        )
    else:  # plastic pallet
        wood = p.add(Material("plain", p.color(sat=(0.3, 0.8), val=(0.2, 0.6)), grain=0.1))
    board = 0.022
    parts = [
        _box_on((length, 0.1, board), 0.0, y * width / 0.8, 0.0, wood) for y in (-0.35, 0, 0.35)
    ]
    for x in (-(length / 2 - 0.0725), 0.0, length / 2 - 0.0725):
        for y in (-(width / 2 - 0.05), 0.0, width / 2 - 0.05):
            parts.append(_box_on((0.145, 0.1, 0.078), x, y, board, wood))
        parts.append(_box_on((0.145, width, board), x, 0.0, board + 0.078, wood))
    top = 2 * board + 0.078
    for y in np.linspace(-(width / 2 - 0.0725), width / 2 - 0.0725, 5):
        parts.append(_box_on((length, 0.145, board), 0.0, float(y), top, wood))
    return parts


def _carton_material(p: _Palette) -> int:
    return p.add(
        Material(
            "noise",
            p.color(0.085, (0.35, 0.6), (0.55, 0.85)),
            p.color(0.08, (0.4, 0.7), (0.35, 0.6)),
            scale_m=p.rng.uniform(0.2, 0.6),
            grain=0.15,
        )
    )


def _carton(p: _Palette, size: tuple[float, float, float], mat: int | None = None) -> list[Part]:
    mat = _carton_material(p) if mat is None else mat
    tape = p.add(Material("plain", p.color(0.1, (0.2, 0.5), (0.6, 0.9)), grain=0.05))
    parts = [_box_on(size, 0.0, 0.0, 0.0, mat)]
    # Packing tape across the top and down two sides: sharp features for matching.
    parts.append(_box_on((size[0] + 0.004, 0.05, 0.002), 0.0, 0.0, size[2], tape))
    for x in (-size[0] / 2 - 0.002, size[0] / 2):
        parts.append(_box_on((0.002, 0.05, size[2] * 0.3), x + 0.001, 0.0, size[2] * 0.7, tape))
    return parts


def _random_carton_size(p: _Palette, max_h: float = 0.6) -> tuple[float, float, float]:
    w = float(p.rng.uniform(0.25, 0.6))
    d = float(p.rng.uniform(0.2, min(w, 0.5)))
    return (w, d, float(p.rng.uniform(0.15, max_h)))


def _barrel(p: _Palette) -> list[Part]:
    radius, height = (0.29, 0.88) if p.rng.uniform() < 0.6 else (0.28, 0.93)
    body = p.add(
        Material(
            p.pick("plain", "stripes", "noise"),
            p.color(sat=(0.6, 1.0), val=(0.3, 0.9)),
            p.color(sat=(0.0, 0.3), val=(0.7, 1.0)),
            scale_m=p.rng.uniform(0.2, 0.5),
            angle_rad=np.pi / 2,
            grain=0.12,
        )
    )
    rib = p.add(Material("plain", p.grey(0.2, 0.5), grain=0.1))
    parts = [_part(mesh.cylinder(radius, height, 24), body)]
    for z in (height / 3, 2 * height / 3):
        parts.append(_part(mesh.cylinder(radius + 0.012, 0.025, 24), rib, _T((0, 0, z))))
    return parts


def _person(p: _Palette) -> list[Part]:
    h = float(p.rng.uniform(1.55, 1.95))
    skin = p.add(Material("plain", p.color(0.07, (0.3, 0.6), (0.35, 0.9)), grain=0.05))
    trousers = p.add(Material("noise", p.color(val=(0.1, 0.5)), p.color(val=(0.1, 0.4)), 0.3))
    shirt = p.add(
        Material(
            p.pick("plain", "stripes", "checker", "noise"),
            p.color(),
            p.color(),
            scale_m=p.rng.uniform(0.04, 0.15),
            angle_rad=float(p.rng.uniform(0, np.pi)),
        )
    )
    vest = p.add(Material("stripes", p.color(0.13, (0.8, 1.0), (0.8, 1.0)), (0.7, 0.7, 0.7), 0.25))
    leg_h, torso_h = 0.47 * h, 0.3 * h
    parts = [_box_on((0.15, 0.14, leg_h), 0.0, y, 0.0, trousers) for y in (-0.1, 0.1)]
    parts.append(_box_on((0.24, 0.4, torso_h), 0.0, 0.0, leg_h, shirt))
    if p.rng.uniform() < 0.5:  # hi-vis vest
        parts.append(_box_on((0.26, 0.42, torso_h * 0.7), 0.0, 0.0, leg_h + torso_h * 0.25, vest))
    for y in (-0.255, 0.255):
        parts.append(_box_on((0.1, 0.09, 0.34 * h), 0.0, y, leg_h + torso_h - 0.34 * h, shirt))
    parts.append(_box_on((0.08, 0.08, 0.04 * h), 0.0, 0.0, leg_h + torso_h, skin))
    r_head = 0.065 * h
    parts.append(_part(mesh.sphere(r_head), skin, _T((0, 0, h - r_head))))
    return parts


def _cart(p: _Palette) -> list[Part]:
    length, width = float(p.rng.uniform(0.9, 1.2)), float(p.rng.uniform(0.5, 0.7))
    deck = p.add(Material(p.pick("plain", "checker", "noise"), p.color(), p.grey(0.1, 0.3), 0.1))
    metal = p.add(Material("plain", p.grey(0.3, 0.8), grain=0.05))
    rubber = p.add(Material("plain", p.grey(0.03, 0.1), grain=0.05))
    wheel_r, deck_z = 0.07, 0.16
    parts = [_box_on((length, width, 0.04), 0.0, 0.0, deck_z, deck)]
    axle = Rotation.from_euler("x", np.pi / 2).as_matrix()
    for x in (-length / 2 + 0.1, length / 2 - 0.1):
        for y in (-width / 2 + 0.05, width / 2 - 0.05):
            T = from_rotation_translation(axle, (x, y + 0.02, wheel_r))
            parts.append(_part(mesh.cylinder(wheel_r, 0.04, 14), rubber, T))
    x_handle = -length / 2 + 0.02
    for y in (-width / 2 + 0.02, width / 2 - 0.02):
        parts.append(_box_on((0.03, 0.03, 0.8), x_handle, y, deck_z + 0.04, metal))
    parts.append(_box_on((0.03, width, 0.03), x_handle, 0.0, deck_z + 0.84, metal))
    return parts


def _cone(p: _Palette) -> list[Part]:
    paint = p.add(
        Material("stripes", p.color(0.06, (0.8, 1.0), (0.8, 1.0)), (0.8, 0.8, 0.8), 0.12, np.pi / 2)
    )
    base = p.add(Material("plain", p.grey(0.03, 0.1)))
    return [
        _box_on((0.38, 0.38, 0.03), 0.0, 0.0, 0.0, base),
        _part(mesh.cylinder(0.14, 0.7, 16, top_radius_m=0.025), paint, _T((0, 0, 0.03))),
    ]


@dataclass
class _Layout:
    """Free-space bookkeeping while placing things on the floor."""

    half_x: float
    half_y: float
    loop_points: npt.NDArray[np.float64]
    clearance: float
    rects: list[tuple[float, float, float, float]]  # x0, y0, x1, y1 keep-out
    circles: list[tuple[float, float, float]]  # x, y, r of placed things

    def free(self, x: float, y: float, r: float) -> bool:
        if abs(x) > self.half_x - r - 0.15 or abs(y) > self.half_y - r - 0.15:
            return False
        d_loop = np.min(np.hypot(self.loop_points[:, 0] - x, self.loop_points[:, 1] - y))
        if d_loop < self.clearance + r:
            return False
        for x0, y0, x1, y1 in self.rects:
            dx = max(x0 - x, 0.0, x - x1)
            dy = max(y0 - y, 0.0, y - y1)
            if np.hypot(dx, dy) < r + 0.1:
                return False
        return all(np.hypot(cx - x, cy - y) >= cr + r + 0.1 for cx, cy, cr in self.circles)

    def place(self, rng: np.random.Generator, r: float, tries: int = 400) -> tuple[float, float]:
        for _ in range(tries):
            x = float(rng.uniform(-self.half_x, self.half_x))
            y = float(rng.uniform(-self.half_y, self.half_y))
            if self.free(x, y, r):
                self.circles.append((x, y, r))
                return x, y
        return float("nan"), float("nan")


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.palette = _Palette(rng)
        self.geometries: list[SceneGeometry] = []
        self.objects: list[SceneObject] = []

    def structure(self, parts: list[Part]) -> None:
        self.geometries.append(SceneGeometry(parts, -1))

    def obj(
        self, class_name: str, parts_local: list[Part], T_world_obj: npt.NDArray[np.float64]
    ) -> None:
        verts = np.concatenate([part.vertices for part in parts_local])
        lo, hi = verts.min(axis=0), verts.max(axis=0)
        T_world_box = T_world_obj @ _T((lo + hi) / 2)
        index = len(self.objects)
        self.objects.append(SceneObject(index, class_name, T_world_box, hi - lo))
        placed = [
            Part(*mesh.transform((part.vertices, part.triangles), T_world_obj), part.material)
            for part in parts_local
        ]
        self.geometries.append(SceneGeometry(placed, index))


def _rack(
    b: _Builder,
    x_range: tuple[float, float],
    y_front: float,
    depth: float,
    facing: float,
    height: float,
    levels: int,
    upright: int,
    beam: int,
    deck: int,
) -> None:
    """A pallet rack along x; ``facing`` = +1 when its open side looks towards +y."""
    p = b.palette
    x0, x1 = x_range
    bays = max(1, round((x1 - x0) / p.rng.uniform(2.4, 2.9)))
    xs = np.linspace(x0, x1, bays + 1)
    y_back = y_front - facing * depth
    y_mid = (y_front + y_back) / 2
    parts: list[Part] = []
    for x in xs:
        for y in (y_front - facing * 0.04, y_back + facing * 0.04):
            parts.append(_box_on((0.08, 0.08, height), float(x), y, 0.0, upright))
    level_z = 0.12 + (height - 0.35) * np.arange(levels) / levels
    for z in level_z:
        for y in (y_front - facing * 0.03, y_back + facing * 0.03):
            parts.append(_box_on((x1 - x0 + 0.08, 0.05, 0.12), (x0 + x1) / 2, y, float(z), beam))
        parts.append(
            _box_on((x1 - x0, depth - 0.1, 0.02), (x0 + x1) / 2, y_mid, float(z) + 0.12, deck)
        )
    b.structure(parts)
    # Cartons on the decks: labelled objects, packed along each bay without overlap.
    spacing = (height - 0.35) / levels
    for z in level_z:
        for bx0, bx1 in itertools.pairwise(xs):
            x = float(bx0) + 0.1 + p.rng.uniform(0.0, 0.3)
            while True:
                size = _random_carton_size(p, max_h=min(0.6, spacing - 0.2))
                if x + size[0] > float(bx1) - 0.1 or p.rng.uniform() < 0.2:
                    break
                y = y_mid + p.rng.uniform(-1, 1) * max(0.0, (depth - 0.15 - size[1]) / 2)
                yaw = p.rng.normal(0.0, 0.05)
                b.obj("carton", _carton(p, size), _T((x + size[0] / 2, y, z + 0.14), yaw))
                x += size[0] + p.rng.uniform(0.05, 0.4)


def build_warehouse(seed: int) -> Scene:
    """Build the warehouse scene of ``seed``.

    Args:
        seed: any non-negative integer; the same seed gives the same scene.

    Returns:
        The scene.

    Raises:
        ValueError: a negative seed.
    """
    if seed < 0:
        msg = f"seed must be >= 0, got {seed}"
        raise ValueError(msg)
    rng = np.random.default_rng([seed, 0x5CE7E])
    b = _Builder(rng)
    p = b.palette
    size_x, size_y, size_z = rng.uniform(22, 28), rng.uniform(15, 19), rng.uniform(5.5, 7.0)
    hx, hy = size_x / 2, size_y / 2
    wall_t = 0.2

    floor = p.add(
        Material(
            p.pick("checker", "noise"),
            p.grey(0.45, 0.75),
            p.grey(0.3, 0.6),
            scale_m=float(rng.uniform(0.5, 2.0)),
            grain=float(rng.uniform(0.2, 0.45)),
        )
    )
    wall = p.add(
        Material(
            p.pick("stripes", "noise", "plain"),
            p.color(sat=(0.0, 0.3), val=(0.5, 0.9)),
            p.color(sat=(0.0, 0.3), val=(0.3, 0.7)),
            scale_m=float(rng.uniform(0.1, 0.4)),
            grain=0.3,
        )
    )
    dado = p.add(Material("noise", p.color(sat=(0.3, 0.7), val=(0.3, 0.6)), p.grey(0.2, 0.4), 1.0))
    ceiling = p.add(Material("stripes", p.grey(0.3, 0.5), p.grey(0.15, 0.3), 0.5, grain=0.2))
    room = [
        _part(mesh.box((size_x + 2 * wall_t, size_y + 2 * wall_t, 0.2), (0, 0, -0.1)), floor),
        _part(
            mesh.box((size_x + 2 * wall_t, size_y + 2 * wall_t, 0.2), (0, 0, size_z + 0.1)), ceiling
        ),
    ]
    for sx, sy, cx, cy in (
        (size_x + 2 * wall_t, wall_t, 0.0, hy + wall_t / 2),
        (size_x + 2 * wall_t, wall_t, 0.0, -hy - wall_t / 2),
        (wall_t, size_y, hx + wall_t / 2, 0.0),
        (wall_t, size_y, -hx - wall_t / 2, 0.0),
    ):
        room.append(_part(mesh.box((sx, sy, size_z), (cx, cy, size_z / 2)), wall))
        inset = 0.01 * np.sign([cx, cy])
        room.append(_part(mesh.box((sx, sy, 1.2), (cx - inset[0], cy - inset[1], 0.6)), dado))
    b.structure(room)

    # Racks: along both long walls and a back-to-back row in the middle.
    upright = p.add(Material("plain", p.color(sat=(0.5, 0.9), val=(0.3, 0.7)), grain=0.1))
    beam = p.add(Material("plain", p.color(sat=(0.7, 1.0), val=(0.6, 1.0)), grain=0.1))
    deck = p.add(Material("checker", p.grey(0.4, 0.7), p.grey(0.2, 0.4), 0.05, grain=0.1))
    depth = float(rng.uniform(0.9, 1.1))
    rack_h = float(rng.uniform(3.0, min(4.5, size_z - 0.8)))
    levels = int(rng.integers(3, 5))
    wall_x = (-hx + 2.0, hx - 2.0)
    mid_x = (-hx + 6.5, hx - 6.5)
    keep_out: list[tuple[float, float, float, float]] = []
    for y_front, facing, xr in (
        (hy - 0.1 - depth, -1.0, wall_x),
        (-hy + 0.1 + depth, 1.0, wall_x),
        (depth, 1.0, mid_x),
        (-depth, -1.0, mid_x),
    ):
        _rack(b, xr, y_front, depth, facing, rack_h, levels, upright, beam, deck)
        y_back = y_front - facing * depth
        keep_out.append((xr[0] - 0.1, min(y_front, y_back), xr[1] + 0.1, max(y_front, y_back)))

    wall_face = hy - 0.1 - depth
    loop = AisleLoop((0.0, 0.0), (hx - 3.2, (wall_face + depth) / 2), clearance_m=1.2)
    layout = _Layout(hx, hy, loop.polyline(), loop.clearance_m, keep_out, [])

    # Labelled floor objects.
    counts = {
        "pallet": int(rng.integers(3, 7)),
        "carton": int(rng.integers(3, 8)),
        "barrel": int(rng.integers(3, 8)),
        "person": int(rng.integers(2, 5)),
        "cart": int(rng.integers(2, 5)),
    }
    makers: dict[str, Callable[[_Palette], list[Part]]] = {
        "pallet": _pallet,
        "barrel": _barrel,
        "person": _person,
        "cart": _cart,
    }
    order = [name for name in CLASS_NAMES for _ in range(counts[name])]
    rng.shuffle(order)
    for name in order:
        if name == "carton":
            stack = int(rng.integers(1, 4))
            sizes = [_random_carton_size(p) for _ in range(stack)]
            r = max(np.hypot(s[0], s[1]) / 2 for s in sizes)
            x, y = layout.place(rng, r)
            if np.isnan(x):
                continue
            yaw, z = float(rng.uniform(0, np.pi)), 0.0
            mat = _carton_material(p)
            for s in sizes:
                b.obj("carton", _carton(p, s, mat), _T((x, y, z), yaw + rng.normal(0, 0.08)))
                z += s[2] + 0.002
            continue
        parts = makers[name](p)
        verts = np.concatenate([part.vertices for part in parts])
        r = float(np.max(np.hypot(verts[:, 0], verts[:, 1])))
        x, y = layout.place(rng, r)
        if np.isnan(x):
            continue
        yaw = float(rng.uniform(-np.pi, np.pi))
        b.obj(name, parts, _T((x, y, 0.0), yaw))
        if name == "pallet" and rng.uniform() < 0.5:  # a load of cartons on the pallet
            top = float(verts[:, 2].max())
            mat = _carton_material(p)
            cw = float(rng.uniform(0.28, 0.4))
            for ix in (-1, 1):
                for iy in (-1, 1):
                    size = (cw, cw * 0.9, float(rng.uniform(0.2, 0.35)))
                    local = _T((ix * (cw / 2 + 0.01), iy * (cw * 0.45 + 0.01), top))
                    b.obj("carton", _carton(p, size, mat), _T((x, y, 0.0), yaw) @ local)

    # Unlabelled clutter: cones on the floor, signs on the walls, lane markings.
    clutter: list[Part] = []
    for _ in range(int(rng.integers(3, 9))):
        x, y = layout.place(rng, 0.27)
        if not np.isnan(x):
            clutter += [
                Part(*mesh.transform((q.vertices, q.triangles), _T((x, y, 0.0))), q.material)
                for q in _cone(p)
            ]
    for _ in range(int(rng.integers(4, 10))):
        sign = p.add(
            Material(
                p.pick("checker", "stripes", "noise"),
                p.color(),
                p.color(),
                scale_m=float(rng.uniform(0.1, 0.4)),
                angle_rad=float(rng.uniform(0, np.pi)),
                grain=0.1,
            )
        )
        w, h = float(rng.uniform(0.6, 2.0)), float(rng.uniform(0.4, 1.2))
        z = float(rng.uniform(1.4, size_z - h - 0.5))
        if rng.uniform() < 0.5:  # an end wall (x = +-hx)
            sx = float(rng.choice([-1.0, 1.0]))
            c = (sx * (hx - 0.01), float(rng.uniform(-hy + 1.5 + w / 2, hy - 1.5 - w / 2)), z)
            clutter.append(_part(mesh.box((0.02, w, h), (c[0], c[1], c[2] + h / 2)), sign))
        else:  # a long wall, above the racks
            sy = float(rng.choice([-1.0, 1.0]))
            z = max(z, rack_h + 0.2)
            if z + h > size_z - 0.1:
                continue
            c = (float(rng.uniform(-hx + 1 + w / 2, hx - 1 - w / 2)), sy * (hy - 0.01), z)
            clutter.append(_part(mesh.box((w, 0.02, h), (c[0], c[1], c[2] + h / 2)), sign))
    paint = p.add(Material("plain", p.color(0.14, (0.8, 1.0), (0.8, 1.0)), grain=0.2))
    for y in (depth + 0.35, -depth - 0.35, wall_face - 0.35, -wall_face + 0.35):
        clutter.append(_part(mesh.box((mid_x[1] - mid_x[0], 0.1, 0.003), (0, y, 0.0015)), paint))
    b.structure(clutter)

    # Lights: a ceiling grid of lamps, a key light from skylights, ambient.
    nx, ny = int(rng.integers(2, 5)), 2  # at most 8 lamps: each costs ~3 ms a frame
    gx, gy = np.meshgrid(np.linspace(-hx + 3, hx - 3, nx), np.linspace(-hy + 3, hy - 3, ny))
    lamps = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, size_z - 0.4)], 1)
    elevation = rng.uniform(np.radians(35), np.radians(80))
    azimuth = rng.uniform(0, 2 * np.pi)
    key = np.array(
        [
            np.cos(elevation) * np.cos(azimuth),
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation),
        ]
    )
    lighting = Lighting(
        ambient=float(rng.uniform(0.15, 0.35)),
        key_direction=key.astype(np.float32),
        key_intensity=float(rng.uniform(0.2, 0.6)),
        lamp_positions_m=lamps.astype(np.float32),
        lamp_intensity=np.full(len(lamps), rng.uniform(4.0, 12.0), dtype=np.float32),
    )
    tile = make_noise_tile(rng)
    bounds = ((-hx - wall_t, -hy - wall_t, 0.0), (hx + wall_t, hy + wall_t, size_z))
    return Scene(
        "warehouse", seed, b.geometries, p.materials, lighting, b.objects, loop, bounds, tile
    )


#: Scene kinds ``percept synth --scene`` offers.
SCENES: Final[dict[str, Callable[[int], Scene]]] = {"warehouse": build_warehouse}


def build_scene(name: str, seed: int) -> Scene:
    """Build scene ``name`` (a key of ``SCENES``) for ``seed``.

    Raises:
        ValueError: unknown scene name or negative seed.
    """
    builder = SCENES.get(name)
    if builder is None:
        msg = f"unknown scene {name!r}; expected one of {sorted(SCENES)}"
        raise ValueError(msg)
    return builder(seed)
