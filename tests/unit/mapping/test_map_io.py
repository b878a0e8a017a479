"""nav2 map files: save -> load identity, nav2's pixel rules per version, malformed YAMLs.

Expected occupancy arrays are written out by hand from nav2_map_server/src/map_io.cpp
(occ = 1 - p / 255, or p / 255 with negate; Humble: occ > occupied -> 100, occ < free ->
0; main: >= / <=), never produced by the loader under test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from percept.domain import Header, OccupancyGrid
from percept.errors import ConfigError
from percept.geometry import Pose
from percept.mapping.map_io import (
    MapFileError,
    image_from_occupancy,
    load_map,
    occupancy_from_image,
    read_map_yaml,
    render_map,
    save_map,
)

RULES = ("humble", "main")


def _grid(
    data: np.ndarray, *, yaw_rad: float = 0.0, xy: tuple[float, float] = (0.0, 0.0)
) -> OccupancyGrid:
    quat = np.array([0.0, 0.0, np.sin(yaw_rad / 2), np.cos(yaw_rad / 2)])
    origin = Pose(np.array([xy[0], xy[1], 0.0]), quat)
    return OccupancyGrid(Header(5, "map"), 0.05, origin, np.asarray(data, dtype=np.int8))


def _write_map(folder: Path, pixels: np.ndarray, suffix: str = "pgm", **keys: object) -> Path:
    """A map as a person or nav2 writes it: image file + YAML with ``keys`` over defaults."""
    image_path = folder / f"hand.{suffix}"
    assert cv2.imwrite(str(image_path), pixels)
    doc: dict[str, object] = {
        "image": image_path.name,
        "resolution": 0.1,
        "origin": [1.0, -2.0, 0.0],
        "negate": 0,
        "occupied_thresh": 0.65,
        "free_thresh": 0.196,
    }
    doc.update(keys)
    doc = {k: v for k, v in doc.items() if v is not None}
    yaml_path = folder / "hand.yaml"
    yaml_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return yaml_path


# --- save -> load ------------------------------------------------------------------------


@pytest.mark.parametrize("rules", RULES)
def test_trinary_save_load_is_the_identity(tmp_path: Path, rules: str) -> None:
    rng = np.random.default_rng(0)
    data = rng.choice(np.array([0, 100, -1], dtype=np.int8), size=(37, 53))
    grid = _grid(data, yaw_rad=0.3, xy=(-12.345678, 7.5))
    path = save_map(grid, tmp_path / "out" / "map.yaml")
    loaded = load_map(path, rules=rules, stamp_ns=9)
    np.testing.assert_array_equal(loaded.data, data)
    assert loaded.header == Header(9, "map")
    assert loaded.resolution_m == pytest.approx(0.05, abs=1e-12)
    np.testing.assert_allclose(loaded.origin.translation_m, [-12.345678, 7.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(loaded.origin.quat_xyzw, grid.origin.quat_xyzw, atol=1e-12)
    assert (tmp_path / "out" / "map.pgm").read_bytes().startswith(b"P5")


@pytest.mark.parametrize("rules", RULES)
def test_raw_save_load_is_the_identity_for_every_value(tmp_path: Path, rules: str) -> None:
    data = np.arange(-1, 101, dtype=np.int8).reshape(6, 17)
    loaded = load_map(save_map(_grid(data), tmp_path / "map.yaml", mode="raw"), rules=rules)
    np.testing.assert_array_equal(loaded.data, data)


@pytest.mark.parametrize("rules", RULES)
def test_scale_with_thresholds_0_and_1_round_trips_every_value(tmp_path: Path, rules: str) -> None:
    # grey floor(2.55 (100 - v)) comes back as rint(100 - grey / 2.55) = v (error < 0.4)
    data = np.arange(-1, 101, dtype=np.int8).reshape(6, 17)
    path = save_map(_grid(data), tmp_path / "m.yaml", mode="scale", occupied_thresh=1.0,
                    free_thresh=0.0)  # fmt: skip
    assert path.with_suffix(".png").is_file()
    np.testing.assert_array_equal(load_map(path, rules=rules).data, data)


@pytest.mark.parametrize("rules", RULES)
def test_scale_with_default_thresholds_rescales_between_them(tmp_path: Path, rules: str) -> None:
    data = np.arange(0, 101, dtype=np.int8)[None, :]
    loaded = load_map(save_map(_grid(data), tmp_path / "m.yaml", mode="scale"), rules=rules)
    v = np.arange(0, 101) / 100.0
    expected = np.clip((v - 0.196) / (0.65 - 0.196) * 100.0, 0, 100)  # nav2's scale rule
    # within one grey level (1/255 of occupancy, stretched by 1 / (0.65 - 0.196)) + rint
    step = 100.0 / 255.0 / (0.65 - 0.196)
    assert np.abs(loaded.data[0] - expected).max() <= step + 0.5


def test_saved_pixels_are_map_savers(tmp_path: Path) -> None:
    # trinary: free if v <= rint(19.6) = 20, occupied if v >= rint(65) = 65, else 205
    row = np.array([[0, 20, 21, 64, 65, 100, -1, 101, -128]], dtype=np.int8)
    assert image_from_occupancy(row).tolist() == [[254, 254, 205, 205, 0, 0, 205, 205, 205]]
    raw = image_from_occupancy(row, mode="raw")
    assert raw.tolist() == [[0, 20, 21, 64, 65, 100, 255, 255, 255]]
    scale = image_from_occupancy(np.array([[0, 10, 50, 100, -1]], dtype=np.int8), mode="scale")
    # grey floor(255 (100 - v) / 100): 255, 229, 127, 0; unknown 127 transparent
    assert scale[0, :, 0].tolist() == [255, 229, 127, 0, 127]
    assert scale[0, :, 3].tolist() == [255, 255, 255, 255, 0]
    # image row 0 is the top: the grid's last row
    save_map(_grid(np.array([[0, 0], [100, -1]], dtype=np.int8)), tmp_path / "m.yaml")
    image = cv2.imread(str(tmp_path / "m.pgm"), cv2.IMREAD_UNCHANGED)
    assert image.tolist() == [[0, 205], [254, 254]]


def test_yaml_has_map_savers_keys_in_order(tmp_path: Path) -> None:
    grid = _grid(np.zeros((2, 3), dtype=np.int8), xy=(-10.0, 2.25))
    grid = OccupancyGrid(grid.header, float(np.float32(0.05)), grid.origin, grid.data)
    save_map(grid, tmp_path / "lab.yaml")
    assert (tmp_path / "lab.yaml").read_text(encoding="utf-8") == (
        "image: lab.pgm\nmode: trinary\nresolution: 0.05\norigin: [-10.0, 2.25, 0.0]\n"
        "negate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n"
    )
    meta = read_map_yaml(tmp_path / "lab.yaml")
    assert (meta.image_path, meta.mode, meta.negate) == (tmp_path / "lab.pgm", "trinary", False)


def test_nav2s_free_thresh_025_turns_unknown_free_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = np.array([[0, 100, -1]], dtype=np.int8)
    with caplog.at_level(logging.WARNING):
        path = save_map(_grid(data), tmp_path / "m.yaml", free_thresh=0.25)
    assert "humble reads 0/254/205 as [100, 0, 0]" in caplog.text
    # 205: occ = 50/255 = 0.196 < 0.25, so nav2 serves the unknown cell as free
    assert load_map(path).data.tolist() == [[0, 100, 0]]


def test_save_refuses_scale_in_pgm_and_crossed_thresholds(tmp_path: Path) -> None:
    grid = _grid(np.zeros((2, 2), dtype=np.int8))
    with pytest.raises(ConfigError, match="needs image_format png"):
        save_map(grid, tmp_path / "m.yaml", mode="scale", image_format="pgm")
    with pytest.raises(ConfigError, match=r"free_thresh 0\.7, occupied_thresh 0\.6"):
        save_map(grid, tmp_path / "m.yaml", occupied_thresh=0.6, free_thresh=0.7)


# --- files written by nav2's rules --------------------------------------------------------

# Top row then bottom row of a hand-made PGM; the grid's row 0 is the bottom one.
HAND = np.array([[0, 254, 205, 128, 90, 200], [255, 1, 100, 50, 230, 204]], dtype=np.uint8)
# negate 0, occupied 0.65, free 0.196; occ = 1 - p/255:
#   0:1 -> 100  254:.004 -> 0  205:.1961 -> -1  128:.498 -> -1  90:.647 -> -1  200:.216 -> -1
#   255:0 -> 0  1:.996 -> 100  100:.608 -> -1   50:.804 -> 100  230:.098 -> 0   204:.2 -> -1
HAND_TRINARY = [[0, 100, -1, 100, 0, -1], [100, 0, -1, -1, -1, -1]]
# negate 1: occ = p/255:
#   0:0 -> 0  254:.996 -> 100  205:.804 -> 100  128:.502 -> -1  90:.353 -> -1  200:.784 -> 100
#   255:1 -> 100  1:.004 -> 0  100:.392 -> -1   50:.1961 -> -1  230:.902 -> 100  204:.8 -> 100
HAND_NEGATED = [[100, 0, -1, -1, 100, 100], [0, 100, 100, -1, -1, 100]]


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize(
    ("negate", "expected"),
    [(0, HAND_TRINARY), (False, HAND_TRINARY), (1, HAND_NEGATED), (True, HAND_NEGATED)],
)
def test_trinary_pgm_loads_as_nav2(
    tmp_path: Path, rules: str, negate: object, expected: list
) -> None:
    grid = load_map(_write_map(tmp_path, HAND, negate=negate), rules=rules)
    assert grid.data.tolist() == expected
    assert grid.header.frame_id == "map"
    assert grid.resolution_m == 0.1
    np.testing.assert_allclose(grid.origin.translation_m, [1.0, -2.0, 0.0])


def test_boundary_pixels_differ_between_humble_and_main(tmp_path: Path) -> None:
    # negate 1: p = 51 gives occ = 0.2 = free_thresh and p = 153 gives occ = 0.6 =
    # occupied_thresh, exactly in float64 and in float32. Humble's strict < / > leaves both
    # unknown; main's <= / >= makes them free and occupied.
    image = np.array([[51, 153]], dtype=np.uint8)
    path = _write_map(tmp_path, image, negate=1, free_thresh=0.2, occupied_thresh=0.6)
    assert load_map(path).data.tolist() == [[-1, -1]]
    assert load_map(path, rules="main").data.tolist() == [[0, 100]]
    # negate 0 with thresholds 0 and 1: black (occ 1.0) and white (occ 0.0)
    path = _write_map(
        tmp_path, np.array([[0, 255]], np.uint8), free_thresh=0.0, occupied_thresh=1.0
    )
    assert load_map(path, rules="humble").data.tolist() == [[-1, -1]]
    assert load_map(path, rules="main").data.tolist() == [[100, 0]]


@pytest.mark.parametrize("rules", RULES)
def test_scale_alpha_png_loads_as_nav2(tmp_path: Path, rules: str) -> None:
    grey = np.array([[0, 255, 127, 128, 180, 60, 205, 100]], dtype=np.uint8)
    alpha = np.array([[255, 255, 0, 255, 255, 255, 255, 128]], dtype=np.uint8)
    image = np.stack([grey, grey, grey, alpha], axis=-1)
    grid = load_map(_write_map(tmp_path, image, "png", mode="scale"), rules=rules)
    # occ = 1 - p/255, between the thresholds rint((occ - 0.196) / (0.65 - 0.196) * 100):
    #   128: 66.53 -> 67; 180: 21.61 -> 22; 205: 0.017 -> 0; 60: occ .765 -> 100;
    #   alpha < 255 -> -1
    assert grid.data.tolist() == [[100, 0, -1, 67, 22, 100, 0, -1]]


@pytest.mark.parametrize("rules", RULES)
def test_raw_pgm_loads_as_nav2(tmp_path: Path, rules: str) -> None:
    image = np.array([[0, 1, 50, 100, 101, 200, 254, 255]], dtype=np.uint8)
    grid = load_map(_write_map(tmp_path, image, mode="raw", negate=1), rules=rules)
    assert grid.data.tolist() == [[0, 1, 50, 100, -1, -1, -1, -1]]  # raw ignores negate


def test_rgb_png_greys_by_mean_in_humble_and_by_luma_in_main(tmp_path: Path) -> None:
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [0, 255, 0], [255, 0, 0], [255, 255, 0]]])
    path = _write_map(tmp_path, rgb[..., ::-1].astype(np.uint8), "png")  # bgr8 for OpenCV
    # Humble: shade = (R + G + B) / 3 / 255: green, red 1/3 -> occ .667 -> 100; yellow
    #   2/3 -> occ .333 -> -1.
    assert load_map(path).data.tolist() == [[100, 0, 100, 100, -1]]
    # main: grey = Rec.601 luma: green 149 -> occ .416 -> -1; red 76 -> occ .702 -> 100;
    #   yellow 225 -> occ .118 -> 0.
    assert load_map(path, rules="main").data.tolist() == [[100, 0, -1, 100, 0]]


def test_alpha_png_in_trinary_mode(tmp_path: Path) -> None:
    grey = np.array([[0, 0, 205, 255, 254]], dtype=np.uint8)
    alpha = np.array([[0, 255, 255, 0, 255]], dtype=np.uint8)
    path = _write_map(tmp_path, np.stack([grey, grey, grey, alpha], axis=-1), "png")
    # Humble averages alpha in: shade = (3 p + a) / (4 * 255):
    #   (0, 0): 0 -> occ 1 -> 100; (0, 255): .25 -> occ .75 -> 100;
    #   (205, 255): .853 -> occ .147 -> 0; (255, 0): .75 -> occ .25 -> -1; (254, 255) -> 0
    assert load_map(path).data.tolist() == [[100, 100, 0, -1, 0]]
    # main: transparent (alpha < 255) -> -1, else the grey alone
    assert load_map(path, rules="main").data.tolist() == [[-1, 100, -1, -1, 0]]


def test_image_path_relative_absolute_and_mode_case(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    image = np.array([[0, 254]], dtype=np.uint8)
    absolute = _write_map(tmp_path / "sub", image)
    relative = _write_map(tmp_path, image, image="sub/hand.pgm", mode="Trinary")
    assert load_map(relative).data.tolist() == [[100, 0]]
    moved = _write_map(tmp_path, image, image=str(tmp_path / "sub" / "hand.pgm"), mode=None)
    assert read_map_yaml(moved).mode == "trinary"
    assert load_map(absolute).data.tolist() == load_map(moved).data.tolist()


def test_origin_yaw_is_a_z_rotation(tmp_path: Path) -> None:
    grid = load_map(_write_map(tmp_path, np.zeros((1, 1), np.uint8), origin=[0.5, 1.5, np.pi / 2]))
    np.testing.assert_allclose(
        grid.origin.quat_xyzw, [0, 0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12
    )


# --- malformed files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"image": None}, "missing key image"),
        ({"resolution": None}, "missing key resolution"),
        ({"origin": None}, "missing key origin"),
        ({"occupied_thresh": None}, "missing key occupied_thresh"),
        ({"free_thresh": None}, "missing key free_thresh"),
        ({"negate": None}, "missing key negate"),
        ({"origin": [1.0, 2.0]}, r"origin must have 3 elements \[x, y, yaw\], got 2 elements"),
        ({"origin": "0 0 0"}, "origin must have 3 elements"),
        ({"origin": [0, "a", 0]}, "origin must be a number, got 'a'"),
        ({"resolution": "abc"}, "resolution must be a number, got 'abc'"),
        ({"resolution": True}, "resolution must be a number, got True"),
        ({"resolution": -0.05}, "resolution must be finite and > 0"),
        ({"negate": 0.5}, "negate must be an int or a bool, got 0.5"),
        ({"mode": "bogus"}, "mode must be one of trinary, scale, raw, got 'bogus'"),
        ({"image": ""}, "image must be a non-empty file name"),
        ({"image": "absent.pgm"}, r"image .*absent.pgm: missing"),
        ({"free_thresh": [0.1]}, "free_thresh must be a number"),
    ],
)
def test_malformed_yaml_names_file_and_key(tmp_path: Path, keys: dict, match: str) -> None:
    path = _write_map(tmp_path, np.zeros((2, 2), np.uint8), **keys)
    with pytest.raises(MapFileError, match=match) as info:
        load_map(path)
    assert str(path) in str(info.value)


def test_unreadable_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(MapFileError, match="cannot read map YAML"):
        load_map(tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(MapFileError, match=r"list\.yaml: expected a mapping"):
        load_map(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("image: [unclosed\n", encoding="utf-8")
    with pytest.raises(MapFileError, match=r"bad\.yaml: not valid YAML"):
        load_map(tmp_path / "bad.yaml")
    (tmp_path / "text.pgm").write_text("not an image", encoding="utf-8")
    path = _write_map(tmp_path, np.zeros((1, 1), np.uint8), image="text.pgm")
    with pytest.raises(MapFileError, match="not an image OpenCV reads"):
        load_map(path)


def test_render_map_draws_north_up_and_enlarges() -> None:
    grid = _grid(np.array([[0, 100], [-1, 50]], dtype=np.int8))
    picture = render_map(grid, min_size_px=10)
    assert picture.shape == (10, 10, 3)
    assert picture[0, 0].tolist() == [205, 190, 175]  # top-left: grid row 1, col 0 unknown
    assert picture[0, 9].tolist() == [127, 127, 127]  # 50 %
    assert picture[9, 0].tolist() == [255, 255, 255]  # free
    assert picture[9, 9].tolist() == [0, 0, 0]  # occupied


def test_occupancy_from_image_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="uint8 or uint16"):
        occupancy_from_image(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        occupancy_from_image(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ConfigError, match="rules must be one of humble, main"):
        occupancy_from_image(np.zeros((2, 2), np.uint8), rules="jazzy")
