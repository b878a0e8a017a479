"""TfBuffer against tf2's BufferCore rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import Header, TransformStamped
from percept.errors import TransformError
from percept.geometry.pose import Pose
from percept.runtime.tf_buffer import TfBuffer

S = 1_000_000_000


def _tf(parent: str, child: str, stamp_ns: int, xyz, yaw_rad: float = 0.0) -> TransformStamped:
    quat = Rotation.from_euler("z", yaw_rad).as_quat()
    return TransformStamped(Header(stamp_ns, parent), child, Pose(np.asarray(xyz), quat))


def test_lookup_interpolates_midway() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("map", "odom", 10 * S, [0.0, 0.0, 0.0], 0.0))
    buf.set_transform(_tf("map", "odom", 12 * S, [2.0, 4.0, 0.0], np.pi / 2))
    T = buf.lookup_transform("map", "odom", 11 * S)
    np.testing.assert_allclose(T.translation_m, [1.0, 2.0, 0.0], atol=1e-12)
    assert T.allclose(Pose([1.0, 2.0, 0.0], Rotation.from_euler("z", np.pi / 4).as_quat()))


def test_lookup_chains_static_and_dynamic_transforms() -> None:
    buf = TfBuffer()
    for k in range(3):
        buf.set_transform(_tf("map", "odom", k * S, [float(k), 0.0, 0.0]))
        buf.set_transform(_tf("odom", "base_link", k * S, [0.0, float(k), 0.0], 0.1 * k))
    buf.set_transform(_tf("base_link", "camera", 0, [0.1, 0.0, 0.5]), "urdf", static=True)
    T = buf.lookup_transform("map", "camera", S + S // 2)
    expected = (
        Pose([1.5, 0.0, 0.0])
        @ Pose([0.0, 1.5, 0.0], Rotation.from_euler("z", 0.15).as_quat())
        @ Pose([0.1, 0.0, 0.5])
    )
    assert T.allclose(expected, atol=1e-12)
    assert buf.lookup_transform("camera", "map", S + S // 2).allclose(expected.inverse())


def test_lookup_goes_through_common_parent() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("base_link", "left", 0, [0.0, 0.1, 0.0]), static=True)
    buf.set_transform(_tf("base_link", "right", 0, [0.0, -0.1, 0.0], np.pi), static=True)
    T_left_right = buf.lookup_transform("left", "right", 5 * S)
    expected = Pose([0.0, 0.1, 0.0]).inverse() @ Pose(
        [0.0, -0.1, 0.0], Rotation.from_euler("z", np.pi).as_quat()
    )
    assert T_left_right.allclose(expected, atol=1e-12)
    p_right = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(
        T_left_right.as_matrix() @ p_right, [-1.0, -0.2, 0.0, 1.0], atol=1e-12
    )


def test_lookup_at_zero_uses_latest_common_time() -> None:
    buf = TfBuffer()
    for k in range(5):
        buf.set_transform(_tf("map", "odom", k * S, [float(k), 0.0, 0.0]))
    for k in range(3):
        buf.set_transform(_tf("odom", "base_link", k * S, [0.0, float(k), 0.0]))
    assert buf.latest_common_time_ns("map", "base_link") == 2 * S
    T = buf.lookup_transform("map", "base_link", 0)
    np.testing.assert_allclose(T.translation_m, [2.0, 2.0, 0.0], atol=1e-12)
    buf.set_transform(_tf("base_link", "camera", 0, [0.0, 0.0, 1.0]), static=True)
    assert buf.latest_common_time_ns("base_link", "camera") == 0
    assert buf.latest_common_time_ns("map", "camera") == 2 * S


def test_lookup_raises_on_extrapolation_into_future() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("map", "odom", 1 * S, [0.0, 0.0, 0.0]))
    buf.set_transform(_tf("map", "odom", 2 * S, [1.0, 0.0, 0.0]))
    with pytest.raises(
        TransformError,
        match=r"extrapolation into the future\.  Requested time 2\.500000 but the latest "
        r"data is at time 2\.000000, when looking up transform from frame \[odom\] to "
        r"frame \[map\]",
    ):
        buf.lookup_transform("map", "odom", 2 * S + S // 2)
    assert not buf.can_transform("map", "odom", 2 * S + S // 2)


def test_lookup_raises_on_extrapolation_into_past() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("map", "odom", 1 * S, [0.0, 0.0, 0.0]))
    buf.set_transform(_tf("map", "odom", 2 * S, [1.0, 0.0, 0.0]))
    with pytest.raises(
        TransformError,
        match=r"extrapolation into the past\.  Requested time 0\.500000 but the earliest "
        r"data is at time 1\.000000",
    ):
        buf.lookup_transform("odom", "map", S // 2)


def test_lookup_raises_when_only_one_sample_and_other_time() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("map", "odom", 1 * S, [0.0, 0.0, 0.0]))
    with pytest.raises(
        TransformError,
        match=r"extrapolation at time 1\.500000, but only time 1\.000000 is in the buffer",
    ):
        buf.lookup_transform("map", "odom", S + S // 2)
    assert buf.can_transform("map", "odom", S)


def test_lookup_raises_on_unknown_frame() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("map", "odom", S, [0.0, 0.0, 0.0]))
    with pytest.raises(TransformError, match='"base_link" passed to lookupTransform argument '):
        buf.lookup_transform("map", "base_link", S)
    assert not buf.can_transform("map", "base_link", S)


def test_lookup_raises_on_disconnected_trees() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("map", "odom", S, [0.0, 0.0, 0.0]))
    buf.set_transform(_tf("world", "robot2", S, [0.0, 0.0, 0.0]))
    with pytest.raises(
        TransformError,
        match="Could not find a connection between 'map' and 'robot2' because they are not "
        "part of the same tree",
    ):
        buf.lookup_transform("map", "robot2", S)
    with pytest.raises(TransformError, match="Could not find a connection between 'odom'"):
        buf.lookup_transform("odom", "robot2", 0)


def test_lookup_same_frame_is_identity_even_if_unknown() -> None:
    assert TfBuffer().lookup_transform("x", "x", 5).allclose(Pose.identity())


def test_cache_prunes_samples_older_than_cache_time() -> None:
    buf = TfBuffer(cache_time_ns=10 * S)
    for k in range(13):
        buf.set_transform(_tf("map", "odom", k * S, [float(k), 0.0, 0.0]))
    # Pruning runs before each insert with the previous latest (11 s): keeps >= 1 s.
    assert buf.can_transform("map", "odom", 1 * S)
    assert not buf.can_transform("map", "odom", S - 1)
    with pytest.raises(TransformError, match=r"earliest data is at time 1\.000000"):
        buf.lookup_transform("map", "odom", S // 2)


def test_set_transform_refuses_data_older_than_cache_time() -> None:
    buf = TfBuffer(cache_time_ns=10 * S)
    assert buf.set_transform(_tf("map", "odom", 20 * S, [0.0, 0.0, 0.0]))
    assert not buf.set_transform(_tf("map", "odom", 10 * S - 1, [0.0, 0.0, 0.0]))
    assert buf.set_transform(_tf("map", "odom", 10 * S, [0.0, 0.0, 0.0]))


def test_set_transform_refuses_invalid_transforms() -> None:
    buf = TfBuffer()
    assert not buf.set_transform(_tf("a", "a", 1, [0.0, 0.0, 0.0]))
    assert not buf.set_transform(_tf("", "a", 1, [0.0, 0.0, 0.0]))
    assert not buf.set_transform(_tf("a", "b", 1, [np.nan, 0.0, 0.0]))
    bad = TransformStamped(Header(1, "a"), "b", Pose([0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]))
    assert not buf.set_transform(bad)
    assert buf.all_frames() == []


def test_set_transform_strips_leading_slash_and_lists_frames() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("/map", "/odom", 1, [0.0, 0.0, 0.0]))
    buf.set_transform(_tf("odom", "base_link", 1, [0.0, 0.0, 0.0]))
    assert buf.all_frames() == ["odom", "map", "base_link"]


def test_static_transform_valid_at_every_time_and_survives_clear() -> None:
    buf = TfBuffer()
    buf.set_transform(_tf("base_link", "camera", 5 * S, [0.0, 0.0, 1.0]), static=True)
    buf.set_transform(_tf("odom", "base_link", 5 * S, [1.0, 0.0, 0.0]))
    assert buf.lookup_transform("base_link", "camera", 123).allclose(Pose([0.0, 0.0, 1.0]))
    buf.clear()
    assert buf.can_transform("base_link", "camera", 7)
    assert not buf.can_transform("odom", "base_link", 5 * S)


def test_lookup_matches_matrix_chain_on_random_trees() -> None:
    rng = np.random.default_rng(0)
    buf = TfBuffer()
    stamps = [0, S, 2 * S]
    poses: dict[tuple[str, int], Pose] = {}
    for child, parent in (("odom", "map"), ("base_link", "odom"), ("arm", "base_link")):
        for stamp in stamps:
            pose = Pose(rng.normal(size=3), Rotation.random(random_state=rng).as_quat())
            poses[(child, stamp)] = pose
            buf.set_transform(TransformStamped(Header(stamp, parent), child, pose))
    for stamp in stamps[1:]:
        expected = (
            poses[("odom", stamp)] @ poses[("base_link", stamp)] @ poses[("arm", stamp)]
        ).inverse() @ poses[("odom", stamp)]
        assert buf.lookup_transform("arm", "odom", stamp).allclose(expected, atol=1e-9)
