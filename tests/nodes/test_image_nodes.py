from __future__ import annotations

import numpy as np
import pytest

from percept.domain import CameraInfo, Header, Image
from percept.geometry.camera import CameraModel
from percept.nodes.debayer import DebayerNode
from percept.nodes.resize import ResizeNode
from percept.runtime.local import Envelope, LocalRuntime
from percept.runtime.params import resolve_parameters
from percept.tools.demo import mosaic_rggb, pattern_frame

IMG = "sensor_msgs/msg/Image"
INFO = "sensor_msgs/msg/CameraInfo"


def model(w: int, h: int) -> CameraModel:
    K = np.array([[500.0, 0, w / 2], [0, 500.0, h / 2], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    return CameraModel(w, h, "plumb_bob", K, np.zeros(5), np.eye(3), P)


def run(
    node_cls: type, feeds: list[tuple[str, str, object]], outs: list[str], **overrides: object
) -> tuple[dict[str, list[Envelope]], LocalRuntime]:
    rt = LocalRuntime(publish_diagnostics=False)
    rt.add_node(node_cls, resolve_parameters(node_cls, node_cls.NAME, overrides=overrides))
    got: dict[str, list[Envelope]] = {t: [] for t in outs}
    for topic in outs:
        rt.subscribe(topic, got[topic].append)
    for i, (topic, msgtype, obj) in enumerate(feeds):
        rt.feed_and_spin(topic, msgtype, i, obj=obj)
    return got, rt


def test_debayer_recovers_pattern_from_rggb_mosaic() -> None:
    truth = pattern_frame(3, 160, 120)
    raw = Image(Header(1, "cam"), "bayer_rggb8", mosaic_rggb(truth))
    got, _ = run(DebayerNode, [("/image_raw", IMG, raw)], ["/image_color", "/image_mono"])
    color = got["/image_color"][0].obj
    mono = got["/image_mono"][0].obj
    assert isinstance(color, Image)
    assert isinstance(mono, Image)
    assert (color.encoding, mono.encoding) == ("bgr8", "mono8")
    # Flat interior regions come back exactly; edges carry demosaicing error.
    err = np.abs(color.data[2:-2, 2:-2].astype(int) - truth[2:-2, 2:-2].astype(int))
    assert np.median(err) == 0
    assert mono.data.shape == (120, 160)


def test_debayer_publishes_no_colour_for_mono_input() -> None:
    mono = Image(Header(1, "cam"), "mono8", np.zeros((8, 8), np.uint8))
    got, _ = run(DebayerNode, [("/image_raw", IMG, mono)], ["/image_color", "/image_mono"])
    assert len(got["/image_mono"]) == 1
    assert got["/image_color"] == []


def test_resize_scales_image_and_intrinsics() -> None:
    img = Image(Header(7, "cam"), "bgr8", np.zeros((120, 160, 3), np.uint8))
    info = CameraInfo(Header(7, "cam"), model(160, 120))
    got, _ = run(
        ResizeNode,
        [("/image/image_raw", IMG, img), ("/image/camera_info", INFO, info)],
        ["/resize/image_raw", "/resize/camera_info"],
        scale_width=0.5,
        scale_height=0.25,
    )
    out = got["/resize/image_raw"][0].obj
    out_info = got["/resize/camera_info"][0].obj
    assert isinstance(out, Image)
    assert isinstance(out_info, CameraInfo)
    assert out.data.shape == (30, 80, 3)
    np.testing.assert_allclose(out_info.model.K[0], [250.0, 0, 40.0])
    np.testing.assert_allclose(out_info.model.K[1], [0, 125.0, 15.0])
    assert (out_info.model.width, out_info.model.height) == (80, 30)


def test_resize_rejects_image_that_does_not_match_camera_info() -> None:
    img = Image(Header(7, "cam"), "mono8", np.zeros((10, 10), np.uint8))
    info = CameraInfo(Header(7, "cam"), model(160, 120))
    got, rt = run(
        ResizeNode,
        [("/image/image_raw", IMG, img), ("/image/camera_info", INFO, info)],
        ["/resize/image_raw"],
    )
    assert got["/resize/image_raw"] == []
    assert "camera_info says 160x120" in rt.hosts[0].monitor.inputs["image"].last_reason


@pytest.mark.parametrize("encoding", ["mono16", "32FC1", "rgba8"])
def test_resize_keeps_encoding(encoding: str) -> None:
    dtype = {"mono16": np.uint16, "32FC1": np.float32, "rgba8": np.uint8}[encoding]
    shape = (20, 20, 4) if encoding == "rgba8" else (20, 20)
    img = Image(Header(1, "cam"), encoding, np.ones(shape, dtype))
    info = CameraInfo(Header(1, "cam"), model(20, 20))
    got, _ = run(
        ResizeNode,
        [("/image/image_raw", IMG, img), ("/image/camera_info", INFO, info)],
        ["/resize/image_raw"],
        scale_width=0.5,
        scale_height=0.5,
    )
    out = got["/resize/image_raw"][0].obj
    assert isinstance(out, Image)
    assert out.encoding == encoding
    assert out.data.dtype == dtype
    assert out.data.shape[:2] == (10, 10)
