"""DebayerNode and ResizeNode through the local runtime: images, intrinsics, rejections."""

from __future__ import annotations

import numpy as np
import pytest

from percept.domain import CameraInfo, Header, Image
from percept.geometry.camera import CameraModel
from percept.node import Node
from percept.nodes.debayer import DebayerNode
from percept.nodes.resize import ResizeNode
from percept.testing import NodeHarness
from percept.tools.demo import mosaic_rggb, pattern_frame


def model(w: int, h: int) -> CameraModel:
    K = np.array([[500.0, 0, w / 2], [0, 500.0, h / 2], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    return CameraModel(w, h, "plumb_bob", K, np.zeros(5), np.eye(3), P)


def run(
    node_cls: type[Node], feeds: list[tuple[str, object]], **overrides: object
) -> NodeHarness[Node]:
    """The node with ``overrides``, fed ``(input name, message)`` at receive times 0, 1, ..."""
    h: NodeHarness[Node] = NodeHarness(node_cls, overrides)
    for i, (input_name, obj) in enumerate(feeds):
        h.feed(input_name, obj, i)
    return h


def test_debayer_recovers_pattern_from_rggb_mosaic() -> None:
    truth = pattern_frame(3, 160, 120)
    raw = Image(Header(1, "cam"), "bayer_rggb8", mosaic_rggb(truth))
    h = run(DebayerNode, [("image_raw", raw)])
    color, mono = h.last("image_color"), h.last("image_mono")
    assert isinstance(color, Image)
    assert isinstance(mono, Image)
    assert (color.encoding, mono.encoding) == ("bgr8", "mono8")
    # Flat interior regions come back exactly; edges carry demosaicing error.
    err = np.abs(color.data[2:-2, 2:-2].astype(int) - truth[2:-2, 2:-2].astype(int))
    assert np.median(err) == 0
    assert mono.data.shape == (120, 160)


def test_debayer_publishes_no_colour_for_mono_input() -> None:
    mono = Image(Header(1, "cam"), "mono8", np.zeros((8, 8), np.uint8))
    h = run(DebayerNode, [("image_raw", mono)])
    assert h.count("image_mono") == 1
    assert h.count("image_color") == 0


def test_resize_scales_image_and_intrinsics() -> None:
    img = Image(Header(7, "cam"), "bgr8", np.zeros((120, 160, 3), np.uint8))
    info = CameraInfo(Header(7, "cam"), model(160, 120))
    h = run(ResizeNode, [("image", img), ("camera_info", info)], scale_width=0.5, scale_height=0.25)
    out, out_info = h.last("image_out"), h.last("camera_info_out")
    assert isinstance(out, Image)
    assert isinstance(out_info, CameraInfo)
    assert out.data.shape == (30, 80, 3)
    np.testing.assert_allclose(out_info.model.K[0], [250.0, 0, 40.0])
    np.testing.assert_allclose(out_info.model.K[1], [0, 125.0, 15.0])
    assert (out_info.model.width, out_info.model.height) == (80, 30)


def test_resize_rejects_image_that_does_not_match_camera_info() -> None:
    img = Image(Header(7, "cam"), "mono8", np.zeros((10, 10), np.uint8))
    info = CameraInfo(Header(7, "cam"), model(160, 120))
    h = run(ResizeNode, [("image", img), ("camera_info", info)])
    assert h.count("image_out") == 0
    assert "camera_info says 160x120" in h.rejections()["image"].last_reason


@pytest.mark.parametrize("encoding", ["mono16", "32FC1", "rgba8"])
def test_resize_keeps_encoding(encoding: str) -> None:
    dtype = {"mono16": np.uint16, "32FC1": np.float32, "rgba8": np.uint8}[encoding]
    shape = (20, 20, 4) if encoding == "rgba8" else (20, 20)
    img = Image(Header(1, "cam"), encoding, np.ones(shape, dtype))
    info = CameraInfo(Header(1, "cam"), model(20, 20))
    h = run(ResizeNode, [("image", img), ("camera_info", info)], scale_width=0.5, scale_height=0.5)
    out = h.last("image_out")
    assert isinstance(out, Image)
    assert out.encoding == encoding
    assert out.data.dtype == dtype
    assert out.data.shape[:2] == (10, 10)
