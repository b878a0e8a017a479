"""Tiled inference: the tile grid, cut-off boxes, and tiles through the whole detector."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from percept.detect.detector import Detector, DetectorConfig
from percept.detect.tiling import EDGE_MARGIN, Tile, drop_cut, tile_grid
from percept.errors import DetectionError

from ...detect_models import constant_output_model, yolov8_output


@pytest.mark.parametrize(
    ("width", "height"), [(960, 720), (1120, 840), (640, 480), (641, 481), (2000, 300)]
)
def test_tiles_cover_the_image_overlap_by_half_and_end_flush(width: int, height: int) -> None:
    tiles = tile_grid(width, height, 640, 480)
    covered = np.zeros((height, width), bool)
    for t in tiles:
        assert 0 <= t.x <= t.x + t.width <= width
        assert 0 <= t.y <= t.y + t.height <= height
        covered[t.y : t.y + t.height, t.x : t.x + t.width] = True
        assert t.inner == (t.x > 0, t.y > 0, t.x + t.width < width, t.y + t.height < height)
    assert covered.all()
    xs = sorted({t.x for t in tiles})
    ys = sorted({t.y for t in tiles})
    assert xs[-1] + tiles[0].width == width
    assert ys[-1] + tiles[0].height == height
    # Steps of at most half a tile: an object half a tile wide lies whole in some tile.
    assert all(b - a <= 320 for a, b in itertools.pairwise(xs))
    assert all(b - a <= 240 for a, b in itertools.pairwise(ys))


def test_an_image_smaller_than_a_tile_is_one_tile_with_no_inner_edge() -> None:
    (tile,) = tile_grid(300, 200, 640, 480)
    assert (tile.x, tile.y, tile.width, tile.height) == (0, 0, 300, 200)
    assert tile.inner == (False, False, False, False)
    with pytest.raises(ValueError, match="positive"):
        tile_grid(0, 10, 640, 480)


def test_boxes_touching_an_inner_edge_are_cut_offs() -> None:
    tile = Tile(320, 0, 640, 480, (True, False, True, True))
    m = EDGE_MARGIN
    boxes = np.array(
        [
            [100, 0, 200, 100],  # touches the image's top border only: kept
            [m / 2, 50, 90, 100],  # touches the inner left edge
            [500, 50, 640 - m / 2, 100],  # touches the inner right edge
            [500, 300, 600, 480],  # touches the inner bottom edge
            [m + 1, m + 1, 639 - m, 479 - m],  # inside
        ],
        np.float32,
    )
    assert drop_cut(boxes, tile).tolist() == [True, False, False, False, True]
    assert drop_cut(np.zeros((0, 4), np.float32), tile).shape == (0,)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    # Network 64x32 (W x H). Every crop gets the same two boxes: A inside, B on the
    # right border of whatever crop it is given.
    out = yolov8_output([[20, 12, 8, 8], [60, 16, 8, 8]], [[0.9, 0.0], [0.0, 0.8]])
    return constant_output_model(tmp_path / "c.onnx", [("output0", out)], input_hw=(32, 64))


def test_tiles_map_back_to_the_image_and_cut_offs_are_dropped(model: Path) -> None:
    image = np.zeros((32, 64, 3), np.uint8)
    plain = Detector(DetectorConfig(model, backend="onnxruntime"))
    (whole,) = plain.detect([image])
    np.testing.assert_allclose(whole.boxes_xyxy, [[16, 8, 24, 16], [56, 12, 64, 20]])
    tiled = Detector(DetectorConfig(model, backend="onnxruntime", tile_scale=1.5))
    (found,) = tiled.detect([image])
    # Enlarged to 96x48: tiles at x 0/32, y 0/16. A is kept in all four tiles; B only
    # where the tile's right edge is the image border (x = 32).
    a = np.array([16, 8, 24, 16], np.float32)
    b = np.array([56, 12, 64, 20], np.float32)
    expected = [a, b]
    for x, y in [(0, 0), (32, 0), (0, 16), (32, 16)]:
        offset = np.array([x, y, x, y], np.float32)
        expected.append((a + offset) / 1.5)
        if x == 32:
            expected.append((b + offset) / 1.5)
    got = sorted(map(tuple, np.round(found.boxes_xyxy, 3).tolist()))
    want = sorted(map(tuple, np.round(np.array(expected), 3).tolist()))
    assert got == want
    assert sorted(found.class_ids.tolist()) == [0] * 5 + [1] * 3
    assert np.all(np.diff(found.scores) <= 0)  # best first, as without tiles
    assert tiled.timing.inference_ms > 0


def test_tiles_keep_images_apart_and_nms_merges_and_fuses_the_views(tmp_path: Path) -> None:
    # A 24x24 box in the middle of the network input. Enlarged 1.1x (70x35), each of
    # the four tiles (x 0/6, y 0/3) sees it whole, a little shifted (IoU about 0.7 with
    # the whole image's box): NMS keeps one box per image, at the mean of the five
    # equally scored views.
    out = yolov8_output([[32, 16, 24, 24]], [[0.9]])
    model = constant_output_model(tmp_path / "mid.onnx", [("output0", out)], input_hw=(32, 64))
    tiled = Detector(DetectorConfig(model, backend="onnxruntime", tile_scale=1.1))
    images = [np.zeros((32, 64, 3), np.uint8), np.zeros((64, 128, 3), np.uint8)]
    first, second = tiled.detect(images)
    net = np.array([20, 4, 44, 28], np.float64)
    for found, (width, height) in [(first, (64, 32)), (second, (128, 64))]:
        fit = 64 / width  # both images fill the network input exactly
        scale = np.array([70 / width, 35 / height] * 2)
        shifts = [np.array([x, y, x, y]) for x in (0, 6) for y in (0, 3)]
        views = [net / fit] + [(net + s) / scale for s in shifts]
        assert len(found) == 1
        np.testing.assert_allclose(found.boxes_xyxy[0], np.mean(views, axis=0), atol=1e-4)
    # With NMS loose enough to keep them apart, the five views are all there, unfused.
    loose = Detector(
        DetectorConfig(model, backend="onnxruntime", tile_scale=1.1, iou_threshold=0.95)
    )
    (apart,) = loose.detect(images[:1])
    assert len(apart) == 5
    assert [20, 4, 44, 28] in np.round(apart.boxes_xyxy, 4).tolist()


def test_an_empty_image_fails_as_it_does_without_tiles(model: Path) -> None:
    for scale in (1.0, 1.5):
        detector = Detector(DetectorConfig(model, backend="onnxruntime", tile_scale=scale))
        with pytest.raises(ValueError, match="sizes must be > 0"):
            detector.detect([np.zeros((0, 0, 3), np.uint8)])


def test_tile_scale_out_of_range_is_refused(model: Path) -> None:
    with pytest.raises(DetectionError, match="tile_scale"):
        DetectorConfig(model, tile_scale=0.5)
    detector = Detector(DetectorConfig(model, backend="onnxruntime"))
    detector.set_thresholds(
        score_threshold=0.25, iou_threshold=0.45, max_detections=10, classes=(), tile_scale=2.0
    )
    assert detector.config.tile_scale == 2.0
    with pytest.raises(DetectionError, match="tile_scale"):
        detector.set_thresholds(
            score_threshold=0.25, iou_threshold=0.45, max_detections=10, classes=(), tile_scale=9
        )
    assert detector.config.tile_scale == 2.0
