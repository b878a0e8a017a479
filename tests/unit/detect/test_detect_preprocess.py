"""Letterbox, colour order and normalisation: the pre-processing both backends share."""

from __future__ import annotations

import numpy as np
import pytest

from percept.detect.preprocess import PAD_VALUE, letterbox, make_batch, rgb_or_bgr, scale_boxes
from percept.domain import Header, Image
from percept.errors import InputRejected


def test_letterbox_matches_ultralytics_split_of_the_padding() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    out, placed = letterbox(image, 640, 640)
    assert out.shape == (640, 640, 3)
    assert (placed.scale, placed.pad_x, placed.pad_y) == (1.0, 0, 80)
    assert (out[:80] == PAD_VALUE).all()
    assert (out[560:] == PAD_VALUE).all()
    assert (out[80:560] == 200).all()
    # Odd padding: 13 rows split round(6.5 - 0.1) = 6 above, round(6.5 + 0.1) = 7 below.
    _, odd = letterbox(np.zeros((51, 64, 3), np.uint8), 64, 64)
    assert (odd.pad_x, odd.pad_y) == (0, 6)


def test_an_image_of_the_network_size_is_not_copied() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    out, placed = letterbox(image, 64, 64)
    assert out is image
    assert placed.scale == 1.0


def test_boxes_map_back_to_the_original_image() -> None:
    _, placed = letterbox(np.zeros((100, 200, 3), np.uint8), 64, 64)  # r = 0.32, pad_y 16
    boxes_net = np.array([[0.32 * 10, 16 + 0.32 * 20, 0.32 * 110, 16 + 0.32 * 90]], np.float32)
    np.testing.assert_allclose(scale_boxes(boxes_net, placed), [[10, 20, 110, 90]], atol=1e-3)
    outside = np.array([[-5, -5, 70, 70]], np.float32)
    np.testing.assert_allclose(scale_boxes(outside, placed), [[0, 0, 200, 100]])


def test_make_batch_stacks_rgb_nchw_in_0_1_from_bgr_and_rgb_images() -> None:
    bgr = np.zeros((32, 64, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0] = 255  # red
    tensor, placements = make_batch([bgr, rgb], [True, False], 64, 64)
    assert tensor.shape == (2, 3, 64, 64)
    assert tensor.dtype == np.float32
    assert tensor[0, 2, 32, 32] == 1.0
    assert tensor[0, 0, 32, 32] == 0.0
    assert tensor[1, 0, 32, 32] == 1.0
    assert tensor[1, 2, 32, 32] == 0.0
    np.testing.assert_allclose(tensor[0, :, 0, 0], PAD_VALUE / 255, rtol=1e-6)  # padding
    assert placements[0].pad_y == 16
    assert placements[1].pad_y == 0
    half, _ = make_batch([bgr], [True], 64, 64, np.float16)
    assert half.dtype == np.float16


@pytest.mark.parametrize(
    ("encoding", "data", "expect_bgr"),
    [
        ("bgr8", np.zeros((4, 5, 3), np.uint8), True),
        ("rgb8", np.zeros((4, 5, 3), np.uint8), False),
        ("mono8", np.zeros((4, 5), np.uint8), False),
        ("mono16", np.zeros((4, 5), np.uint16), False),
        ("bgra8", np.zeros((4, 5, 4), np.uint8), False),
        ("bayer_rggb8", np.zeros((4, 6), np.uint8), False),
    ],
)
def test_colour_images_become_8_bit_three_channel(
    encoding: str, data: np.ndarray, expect_bgr: bool
) -> None:
    pixels, is_bgr = rgb_or_bgr(Image(Header(), encoding, data))
    assert pixels.dtype == np.uint8
    assert pixels.ndim == 3
    assert pixels.shape[2] == 3
    assert is_bgr == expect_bgr


@pytest.mark.parametrize(
    ("encoding", "data", "match"),
    [
        ("32FC1", np.zeros((4, 5), np.float32), "unsupported image encoding '32FC1'"),
        ("8UC3", np.zeros((4, 5, 3), np.uint8), "unsupported image encoding '8UC3'"),
        ("bgr8", np.zeros((0, 5, 3), np.uint8), "empty image 5x0"),
    ],
)
def test_unusable_images_are_rejected_with_the_reason(
    encoding: str, data: np.ndarray, match: str
) -> None:
    with pytest.raises(InputRejected, match=match):
        rgb_or_bgr(Image(Header(), encoding, data))


def test_stretch_resizes_without_padding_and_maps_boxes_back_per_axis() -> None:
    image = np.full((100, 200, 3), 50, np.uint8)
    out, placed = letterbox(image, 64, 64, stretch=True)
    assert out.shape == (64, 64, 3)
    assert (out == 50).all()  # no grey 114 border
    assert (placed.pad_x, placed.pad_y, placed.scale_x, placed.scale_y) == (0, 0, 0.32, 0.64)
    boxes = np.array([[32, 32, 64, 64]], np.float32)
    np.testing.assert_allclose(scale_boxes(boxes, placed), [[100, 50, 200, 100]], atol=1e-4)
