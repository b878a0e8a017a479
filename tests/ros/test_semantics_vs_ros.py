"""The local synchronisers and TF buffer against the real message_filters and tf2_ros.

The unit tests (tests/unit/sync, tests/unit/runtime/test_tf_buffer.py) check Percept against
transcriptions of the upstream algorithms; here the reference is the installed ROS 2
code itself: ``message_filters.ApproximateTimeSynchronizer`` / ``TimeSynchronizer`` fed
through ``SimpleFilter`` inputs, and ``tf2_ros.Buffer`` (tf2's C++ BufferCore). Every
sequence is seeded, so a failure names a reproducible case.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from .ros_helpers import NEEDS_ROS

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
message_filters = pytest.importorskip("message_filters", reason=NEEDS_ROS)
tf2_ros = pytest.importorskip("tf2_ros", reason=NEEDS_ROS)
builtin_interfaces = pytest.importorskip("builtin_interfaces.msg", reason=NEEDS_ROS)
geometry_msgs = pytest.importorskip("geometry_msgs.msg", reason=NEEDS_ROS)

from rclpy.duration import Duration  # noqa: E402
from rclpy.time import Time  # noqa: E402

from percept.domain import Header, TransformStamped  # noqa: E402
from percept.errors import TransformError  # noqa: E402
from percept.geometry.pose import Pose  # noqa: E402
from percept.runtime.tf_buffer import TfBuffer  # noqa: E402
from percept.sync import ApproximateTimeSynchronizer, ExactTimeSynchronizer  # noqa: E402

MS = 1_000_000
N_SEQUENCES = 1000


def _stamped(index: int, stamp_ns: int, serial: int) -> Any:
    """A message with a header, as message_filters reads it; ``serial`` identifies it."""
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    header = SimpleNamespace(stamp=builtin_interfaces.Time(sec=sec, nanosec=nanosec))
    return SimpleNamespace(header=header, key=(index, stamp_ns, serial))


def _arrivals(
    rng: np.random.Generator, n_inputs: int, *, exact: bool
) -> list[tuple[int, int, int]]:
    """One seeded arrival sequence: (input, stamp_ns, serial), in arrival order.

    Each input is a stream at 5-50 Hz with 0-30 % drops, occasional outliers and
    duplicate stamps, and a random transport delay, so arrival order differs from stamp
    order (reordering within and across inputs). For the approximate synchroniser each
    input also has its own offset and Gaussian stamp jitter; for the exact one the
    inputs share stamps (one trigger), as exact synchronisation assumes.
    """
    period_ns = int(rng.integers(20, 200)) * MS
    n_frames = int(rng.integers(10, 60))
    drop = float(rng.uniform(0.0, 0.3))
    jitter_ns = 0.0 if exact else float(rng.uniform(0.0, 0.2)) * period_ns
    delay_s = float(rng.uniform(0.0, 3.0)) * period_ns / 1e9
    events: list[tuple[float, int, int]] = []
    for index in range(n_inputs):
        offset = 0 if exact else int(rng.integers(-period_ns // 4, period_ns // 4 + 1))
        for k in range(n_frames):
            if rng.random() < drop:
                continue
            noise = int(rng.normal(0.0, jitter_ns)) if jitter_ns else 0
            stamp = 10**9 + k * period_ns + offset + noise
            if rng.random() < 0.03:
                stamp = 10**9 + int(rng.integers(0, n_frames * period_ns))
            arrival = stamp / 1e9 + float(rng.exponential(delay_s + 1e-6))
            events.append((arrival, index, max(stamp, 0)))
            if rng.random() < 0.02:
                events.append((arrival + 1e-4, index, max(stamp, 0)))  # duplicate stamp
    events.sort(key=lambda e: e[0])
    return [(index, stamp, serial) for serial, (_, index, stamp) in enumerate(events)]


def _run_both(
    arrivals: list[tuple[int, int, int]],
    n_inputs: int,
    queue_size: int,
    slop_ns: int | None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Feed one sequence to message_filters and to percept.sync; both emitted set lists."""
    want: list[tuple[Any, ...]] = []
    got: list[tuple[object, ...]] = []
    relays = [message_filters.SimpleFilter() for _ in range(n_inputs)]
    ours: ExactTimeSynchronizer | ApproximateTimeSynchronizer
    if slop_ns is None:
        ros_sync = message_filters.TimeSynchronizer(relays, queue_size)
        ours = ExactTimeSynchronizer(n_inputs, queue_size, got.append)
    else:
        ros_sync = message_filters.ApproximateTimeSynchronizer(relays, queue_size, slop_ns / 1e9)
        ours = ApproximateTimeSynchronizer(n_inputs, queue_size, slop_ns, got.append)
    ros_sync.registerCallback(lambda *msgs: want.append(tuple(m.key for m in msgs)))
    for index, stamp, serial in arrivals:
        msg = _stamped(index, stamp, serial)
        relays[index].signalMessage(msg)
        ours.add(index, stamp, msg)
    return want, [tuple(m.key for m in s) for s in got]


@pytest.mark.parametrize("kind", ["approximate", "exact"])
def test_synchroniser_emits_the_sets_message_filters_emits(kind: str) -> None:
    rng = np.random.default_rng(20261123 if kind == "approximate" else 7)
    sets_compared = 0
    for case in range(N_SEQUENCES):
        n_inputs = int(rng.integers(2, 5))
        queue_size = int(rng.choice([1, 2, 3, 5, 10, 30]))
        slop_ns = int(rng.choice([1, 5, 10, 20, 50, 100])) * MS if kind == "approximate" else None
        arrivals = _arrivals(rng, n_inputs, exact=kind == "exact")
        want, got = _run_both(arrivals, n_inputs, queue_size, slop_ns)
        assert got == want, f"case {case}: inputs={n_inputs} queue={queue_size} slop={slop_ns}"
        sets_compared += len(want)
    # Degenerate data (nothing ever matching) would make the comparison vacuous.
    assert sets_compared > 5 * N_SEQUENCES
    print(f"{kind}: {N_SEQUENCES} sequences, {sets_compared} sets identical")


# --------------------------------------------------------------------------------- TF

FRAMES = ["map", "odom", "base_link", "camera", "camera_optical", "imu", "lidar", "wheel"]


def _random_pose(rng: np.random.Generator) -> Pose:
    return Pose(rng.uniform(-3, 3, 3), Rotation.random(random_state=rng).as_quat())


def _ros_transform(parent: str, child: str, stamp_ns: int, pose: Pose) -> Any:
    msg = geometry_msgs.TransformStamped()
    msg.header.frame_id = parent
    msg.header.stamp = Time(nanoseconds=stamp_ns).to_msg()
    msg.child_frame_id = child
    t = msg.transform.translation
    t.x, t.y, t.z = (float(v) for v in pose.translation_m)
    q = msg.transform.rotation
    q.x, q.y, q.z, q.w = (float(v) for v in pose.quat_xyzw)
    return msg


def _ros_pose(msg: Any) -> Pose:
    t, q = msg.transform.translation, msg.transform.rotation
    return Pose(np.array([t.x, t.y, t.z]), np.array([q.x, q.y, q.z, q.w]))


def _fill_trees(rng: np.random.Generator) -> tuple[Any, TfBuffer, list[int]]:
    """A random forest over FRAMES with static and dynamic edges, in both buffers."""
    ros = tf2_ros.Buffer(cache_time=Duration(seconds=10))
    ours = TfBuffer()
    order = list(rng.permutation(FRAMES))
    n_roots = int(rng.integers(1, 3))
    parents = {
        child: order[int(rng.integers(0, i))] for i, child in enumerate(order) if i >= n_roots
    }
    stamps = sorted({int(s) * MS + 10**9 for s in rng.integers(0, 4000, size=12)})
    for child, parent in parents.items():
        if rng.random() < 0.4:
            pose = _random_pose(rng)
            ros.set_transform_static(_ros_transform(parent, child, 0, pose), "test")
            ours.set_transform(TransformStamped(Header(0, parent), child, pose), static=True)
            continue
        # Each dynamic edge is published at its own subset of the stamps.
        for stamp in stamps:
            if rng.random() < 0.6:
                pose = _random_pose(rng)
                ros.set_transform(_ros_transform(parent, child, stamp, pose), "test")
                ours.set_transform(TransformStamped(Header(stamp, parent), child, pose))
    return ros, ours, stamps


def _query_times(rng: np.random.Generator, stamps: list[int]) -> list[int]:
    lo, hi = stamps[0], stamps[-1]
    times = [0, lo, hi, *rng.choice(stamps, size=3).tolist()]
    times += [int(t) for t in rng.integers(lo, hi + 1, size=6)]
    times += [lo - int(rng.integers(1, 500)) * MS, hi + int(rng.integers(1, 500)) * MS]
    return times


def _lookup_ros(buffer: Any, target: str, source: str, stamp_ns: int) -> Pose | str:
    """tf2_ros' answer: the transform, or the exception's message."""
    try:
        return _ros_pose(buffer.lookup_transform(target, source, Time(nanoseconds=stamp_ns)))
    except tf2_ros.TransformException as err:
        return str(err)


def _lookup_ours(buffer: TfBuffer, target: str, source: str, stamp_ns: int) -> Pose | str:
    """TfBuffer's answer: the transform, or the TransformError's message."""
    try:
        return buffer.lookup_transform(target, source, stamp_ns)
    except TransformError as err:
        return str(err)


def test_tf_buffer_answers_as_tf2_ros() -> None:
    rng = np.random.default_rng(646342)
    compared = {"ok": 0, "error": 0}
    for case in range(300):
        ros, ours, stamps = _fill_trees(rng)
        for _ in range(10):
            target, source = (str(f) for f in rng.choice([*FRAMES, "nowhere"], size=2))
            for t in _query_times(rng, stamps):
                where = f"case {case}: {target} <- {source} at {t}"
                want = _lookup_ros(ros, target, source, t)
                got = _lookup_ours(ours, target, source, t)
                if isinstance(want, str) or isinstance(got, str):
                    assert got == want, where
                    compared["error"] += 1
                    continue
                np.testing.assert_allclose(
                    got.translation_m, want.translation_m, atol=1e-9, err_msg=where
                )
                # q and -q are one rotation; compare the sign-aligned quaternions.
                sign = math.copysign(1.0, float(np.dot(got.quat_xyzw, want.quat_xyzw)))
                np.testing.assert_allclose(
                    sign * got.quat_xyzw, want.quat_xyzw, atol=1e-9, err_msg=where
                )
                compared["ok"] += 1
    assert compared["ok"] > 1000
    assert compared["error"] > 1000
    print(f"tf: {compared['ok']} transforms and {compared['error']} errors identical")
