"""``percept map save`` / ``percept map show`` on small bags written here."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from percept import codecs
from percept.cli import map as map_cli
from percept.cli.main import main
from percept.domain import Header, Image, OccupancyGrid
from percept.errors import BagError
from percept.geometry import Pose
from percept.io.bag import BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.mapping import map_io

GRID = "nav_msgs/msg/OccupancyGrid"


def _grid(stamp_ns: int, fill: int) -> OccupancyGrid:
    data = np.full((30, 40), -1, dtype=np.int8)
    data[:10, :] = fill  # the 10 lowest of 30 rows known
    data[0, 0] = 100
    origin = Pose(np.array([-1.0, -0.5, 0.0]))
    return OccupancyGrid(Header(stamp_ns, "map"), 0.05, origin, data)


def _write_bag(path: Path, topics: dict[str, list[OccupancyGrid]]) -> Path:
    store, factory = get_typestore(), RosbagsFactory()
    with BagWriter(path) as writer:
        for topic, grids in topics.items():
            for grid in grids:
                raw = bytes(store.serialize_cdr(codecs.encode(GRID, grid, factory), GRID))
                writer.write(topic, GRID, grid.header.stamp_ns, raw)
        image = Image(Header(1, "cam"), "mono8", np.zeros((4, 4), np.uint8))
        msg = codecs.encode("sensor_msgs/msg/Image", image, factory)
        raw = bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
        writer.write("/cam/image", "sensor_msgs/msg/Image", 1, raw)
    return path


def test_map_save_writes_the_last_grid_of_a_namespaced_topic(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bag = _write_bag(tmp_path / "run.mcap", {"/robot1/map": [_grid(10, 100), _grid(20, 0)]})
    out = tmp_path / "maps"
    with caplog.at_level(logging.INFO):
        assert main(["map", "save", str(bag), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["map.pgm", "map.yaml"]
    loaded = map_io.load_map(out / "map.yaml")
    np.testing.assert_array_equal(loaded.data, _grid(20, 0).data)  # the last one
    np.testing.assert_allclose(loaded.origin.translation_m, [-1.0, -0.5, 0.0])
    assert "40 x 30 cells at 0.05 m" in caplog.text
    assert "33.3 % known, from /robot1/map at 0.000 s" in caplog.text


def test_map_save_scale_with_a_name(tmp_path: Path) -> None:
    bag = _write_bag(tmp_path / "run.mcap", {"/map": [_grid(10, 40)]})
    saved = map_cli.save_bag_map(bag, tmp_path / "o", mode="scale", name="lab")
    assert (saved.yaml_path.name, saved.image_path.name) == ("lab.yaml", "lab.png")
    assert saved.image_path.is_file()
    assert (saved.width, saved.height, saved.topic) == (40, 30, "/map")
    assert saved.known_fraction == pytest.approx(1 / 3)


def test_map_save_without_the_topic_names_the_grid_topics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bag = _write_bag(tmp_path / "run.mcap", {"/ground_truth/map": [_grid(1, 0)]})
    assert main(["map", "save", str(bag), "--out", str(tmp_path / "o")]) == 1
    assert f"{bag}: no {GRID} topic /map; its grid topics: /ground_truth/map" in caplog.text
    status = main(["map", "save", str(bag), "--out", str(tmp_path / "o"), "--topic", "/cam/image"])
    assert status == 1
    assert "/cam/image is sensor_msgs/msg/Image, not nav_msgs/msg/OccupancyGrid" in caplog.text
    # asked for by its full name, the ground truth is saved
    argv = ["map", "save", str(bag), "--out", str(tmp_path / "o"), "--topic", "/ground_truth/map"]
    assert main(argv) == 0


def test_find_grid_topic_refuses_ambiguous_namespaces() -> None:
    topics = {"/r1/map": GRID, "/r2/map": GRID}
    with pytest.raises(BagError, match="several OccupancyGrid topics end with /map"):
        map_cli.find_grid_topic(topics, "/map", Path("b.mcap"))
    assert map_cli.find_grid_topic(topics, "/r2/map", Path("b.mcap")) == "/r2/map"


def test_map_show_draws_a_picture(tmp_path: Path) -> None:
    path = map_io.save_map(_grid(1, 0), tmp_path / "m.yaml")
    out = tmp_path / "view" / "m.png"
    assert main(["map", "show", str(path), "--out", str(out), "--rules", "main"]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape == (600 // 40 * 30, 600, 3)  # 15 px per cell
    assert picture[-1, -1].tolist() == [255, 255, 255]  # bottom rows free


def test_cli_choices_match_the_library() -> None:
    assert map_cli.MODES == map_io.MODES
    assert map_cli.RULES == map_io.RULES
    assert map_cli.DEFAULT_FREE_THRESH == map_io.DEFAULT_FREE_THRESH
    assert map_cli.DEFAULT_OCCUPIED_THRESH == map_io.DEFAULT_OCCUPIED_THRESH
