"""2D boxes + depth -> 3D boxes in the camera optical frame."""

from __future__ import annotations

import numpy as np
import pytest

from percept.detect.lift3d import Lift3DConfig, depth_from_disparity, depth_metres, lift_boxes
from percept.domain import Disparity, Header, Image
from percept.errors import InputRejected
from percept.geometry.camera import CameraModel

K = np.array([[400.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]])
MODEL = CameraModel(
    640, 480, "plumb_bob", K, np.zeros(5), np.eye(3), np.hstack([K, np.zeros((3, 1))])
)


def _scene() -> np.ndarray:
    """A wall at 6 m with a 0.5 m deep box whose front is at 2 m, and holes."""
    depth = np.full((480, 640), 6.0, np.float32)
    depth[200:300, 400:480] = 2.0  # the object's front face
    depth[200:210, 400:480] = np.nan  # missing depth at its top edge
    return depth


def test_box_on_a_fronto_parallel_face_gets_its_position_and_size() -> None:
    box = np.array([[400, 200, 480, 300]], np.float32)
    (lifted,) = lift_boxes(box, _scene(), MODEL, (640, 480))
    # Centre pixel (440, 250) at the face depth 2 m (flat face: no depth extent).
    np.testing.assert_allclose(
        lifted.center_m[:2], [(440 - 320) / 400 * 2, (250 - 240) / 400 * 2], atol=0.01
    )
    assert lifted.center_m[2] == pytest.approx(2.0, abs=0.01)
    np.testing.assert_allclose(lifted.size_m[:2], [80 / 400 * 2, 100 / 400 * 2], atol=1e-6)
    assert lifted.size_m[2] == pytest.approx(0.01)
    assert lifted.valid_fraction > 0.8


def test_background_at_the_box_edges_does_not_move_the_depth() -> None:
    loose = np.array([[390, 190, 490, 310]], np.float32)  # 10 px of 6 m wall around the face
    (lifted,) = lift_boxes(loose, _scene(), MODEL, (640, 480))
    assert lifted.center_m[2] == pytest.approx(2.0, abs=0.05)


def test_depth_of_another_resolution_and_a_box_without_depth() -> None:
    half = _scene()[::2, ::2]  # registered depth at half resolution
    boxes = np.array([[400, 200, 480, 300], [0, 0, 40, 40]], np.float32)
    half[:30, :30] = np.nan
    lifted = lift_boxes(boxes, half, MODEL, (640, 480), Lift3DConfig(min_valid_fraction=0.5))
    assert [b.index for b in lifted] == [0]
    assert lifted[0].center_m[2] == pytest.approx(2.0, abs=0.01)


def test_depth_encodings_and_disparity() -> None:
    mm = np.array([[0, 1500]], np.uint16)
    np.testing.assert_allclose(depth_metres(Image(Header(), "16UC1", mm)), [[np.nan, 1.5]])
    metres = np.array([[0.0, np.inf, 2.5]], np.float32)
    np.testing.assert_allclose(
        depth_metres(Image(Header(), "32FC1", metres)), [[np.nan, np.nan, 2.5]]
    )
    with pytest.raises(InputRejected, match=r"32FC1 \(metres\) or 16UC1"):
        depth_metres(Image(Header(), "bgr8", np.zeros((2, 2, 3), np.uint8)))
    disparity = Disparity(Header(), np.array([[0.0, 20.0, -1.0]], np.float32), 400.0, 0.1)
    np.testing.assert_allclose(depth_from_disparity(disparity), [[np.nan, 2.0, np.nan]])
    with pytest.raises(InputRejected, match="must be > 0"):
        depth_from_disparity(Disparity(Header(), np.ones((1, 1), np.float32), 400.0, 0.0))
