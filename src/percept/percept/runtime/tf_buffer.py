"""A TF buffer with the lookup semantics of tf2 (``tf2::BufferCore`` / ``tf2_ros.Buffer``).

Reference: ros2/geometry2 branch ``jazzy`` (commit
646342c6164e837d69460e3d28e7a025396544f6): ``tf2/src/buffer_core.cpp``,
``tf2/src/cache.cpp``, ``tf2/src/static_cache.cpp``, ``tf2_ros_py/tf2_ros/buffer.py``.
Humble (commit d0dbd516d1748cfe1b293e0f7d5b2f82ddd3438a) has the same caches, walk and
messages; it only reports every extrapolation as the generic ``ExtrapolationException``
where Jazzy distinguishes forward, backward and no-data extrapolation. Here all of them
are :class:`~percept.errors.TransformError` with tf2's message text.

Rules reproduced:

- Per child frame, a time cache kept sorted by stamp. Before each insert, samples older
  than ``latest - cache_time`` (strictly) are pruned, the latest taken *before* the
  insert; a sample older than that bound is refused (``TF_OLD_DATA``); an exact
  duplicate is not inserted twice; a same-stamp, different sample is kept and is
  preferred at that stamp.
- Lookup at time ``t``: no data -> error; ``t == 0`` -> newest sample; one sample ->
  only its own stamp; ``t`` equal to the newest or oldest stamp -> that sample; outside
  -> extrapolation error naming both times; otherwise linear interpolation of the
  translation and SLERP of the rotation between the neighbours (no interpolation if the
  two name different parents: the older one is used).
- Static transforms (``static=True``) hold one sample valid at every time; setting a
  frame static replaces its dynamic history and vice versa.
- ``lookup_transform(target, source, 0)`` uses tf2's latest common time: the oldest of
  the newest stamps along the path to the common ancestor, static links ignored.
- The walk goes from source and from target up to the common ancestor (tf2's
  ``walkToTopParent``), including its early exits when one frame is an ancestor of the
  other.
- ``set_transform`` strips one leading ``/`` and refuses (logs and returns ``False``)
  self transforms, empty frame ids, NaN values and quaternions whose squared norm is not
  within 0.01 of 1.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation, Slerp

from percept.domain import TransformStamped
from percept.errors import TransformError
from percept.geometry.pose import Pose

__all__ = ["DEFAULT_CACHE_TIME_NS", "TfBuffer"]

_LOGGER = logging.getLogger(__name__)

DEFAULT_CACHE_TIME_NS = 10_000_000_000
"""tf2's ``BUFFER_CORE_DEFAULT_CACHE_TIME``: 10 s."""

_MAX_GRAPH_DEPTH = 1000  # tf2 BufferCore::MAX_GRAPH_DEPTH
_QUATERNION_NORMALIZATION_TOLERANCE = 10e-3  # tf2 buffer_core.cpp, on the squared norm
_NO_PARENT = "NO_PARENT"


def _display_time(stamp_ns: int) -> str:
    """Format a stamp as tf2's ``displayTimePoint``: seconds with 6 decimals."""
    nsec = int(math.fmod(stamp_ns, 1_000_000_000))  # C++ % truncates towards zero
    sec = (stamp_ns - nsec) // 1_000_000_000
    return f"{float(sec) + 1e-9 * float(nsec):.6f}"


def _quat_via_matrix(quat_xyzw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Normalise and pick the sign tf2 does, via its quaternion -> matrix -> quaternion trip.

    tf2 stores rotations in a ``tf2::Transform`` (a 3x3 basis) and reads them back with
    ``Matrix3x3::getRotation``, so both stored and returned quaternions are normalised
    and signed by that conversion (w > 0 when the trace is positive).

    Args:
        quat_xyzw: (4,) float64 Hamilton quaternion, xyzw, any non-zero norm.

    Returns:
        (4,) float64 unit quaternion, xyzw.
    """
    x, y, z, w = (float(v) for v in quat_xyzw)
    s = 2.0 / (x * x + y * y + z * z + w * w)
    xs, ys, zs = x * s, y * s, z * s
    wx, wy, wz = w * xs, w * ys, w * zs
    xx, xy, xz = x * xs, x * ys, x * zs
    yy, yz, zz = y * ys, y * zs, z * zs
    m = (
        (1.0 - (yy + zz), xy - wz, xz + wy),
        (xy + wz, 1.0 - (xx + zz), yz - wx),
        (xz - wy, yz + wx, 1.0 - (xx + yy)),
    )
    out = [0.0, 0.0, 0.0, 0.0]
    trace = m[0][0] + m[1][1] + m[2][2]
    if trace > 0.0:
        r = math.sqrt(trace + 1.0)
        out[3] = r * 0.5
        r = 0.5 / r
        out[0] = (m[2][1] - m[1][2]) * r
        out[1] = (m[0][2] - m[2][0]) * r
        out[2] = (m[1][0] - m[0][1]) * r
    else:
        if m[0][0] < m[1][1]:
            i = 2 if m[1][1] < m[2][2] else 1
        else:
            i = 2 if m[0][0] < m[2][2] else 0
        j, k = (i + 1) % 3, (i + 2) % 3
        r = math.sqrt(m[i][i] - m[j][j] - m[k][k] + 1.0)
        out[i] = r * 0.5
        r = 0.5 / r
        out[3] = (m[k][j] - m[j][k]) * r
        out[j] = (m[j][i] + m[i][j]) * r
        out[k] = (m[k][i] + m[i][k]) * r
    return np.array(out)


@dataclass(frozen=True, slots=True, eq=False)
class _Sample:
    """One stored transform: ``T_parent_child`` at ``stamp_ns``."""

    stamp_ns: int
    parent: str
    translation_m: npt.NDArray[np.float64]
    quat_xyzw: npt.NDArray[np.float64]

    def same_as(self, other: _Sample) -> bool:
        """Exact equality, as tf2's ``TransformStorage::operator==``."""
        return (
            self.stamp_ns == other.stamp_ns
            and self.parent == other.parent
            and bool(np.array_equal(self.translation_m, other.translation_m))
            and bool(np.array_equal(self.quat_xyzw, other.quat_xyzw))
        )

    def pose(self) -> Pose:
        return Pose(self.translation_m, self.quat_xyzw)


class _Miss:
    """Why a cache could not answer: tf2's error string (may be empty, as tf2's)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _TimeCache:
    """tf2 ``TimeCache``: samples of one child frame, ascending by stamp.

    Among equal stamps the most recently inserted sample sits last (tf2 keeps its list
    newest-first and inserts before equal stamps).
    """

    def __init__(self, max_storage_ns: int) -> None:
        self._max_storage_ns = max_storage_ns
        self._samples: list[_Sample] = []
        self._stamps: list[int] = []

    def insert(self, sample: _Sample) -> bool:
        if self._samples:
            latest = self._stamps[-1]
            # Prune with the latest stamp from before this insert, as tf2 does.
            cut = bisect.bisect_left(self._stamps, latest - self._max_storage_ns)
            del self._samples[:cut]
            del self._stamps[:cut]
            if sample.stamp_ns < latest - self._max_storage_ns:
                return False
        lo = bisect.bisect_left(self._stamps, sample.stamp_ns)
        hi = bisect.bisect_right(self._stamps, sample.stamp_ns)
        if any(self._samples[i].same_as(sample) for i in range(lo, hi)):
            return True
        self._samples.insert(hi, sample)
        self._stamps.insert(hi, sample.stamp_ns)
        return True

    def get(self, stamp_ns: int) -> _Sample | _Miss:
        """tf2 ``TimeCache::getData`` (``findClosest`` then ``interpolate``)."""
        samples = self._samples
        if not samples:
            return _Miss("")
        if stamp_ns == 0:
            return samples[-1]
        if len(samples) == 1:
            if samples[0].stamp_ns == stamp_ns:
                return samples[0]
            return _Miss(
                f"Lookup would require extrapolation at time {_display_time(stamp_ns)}, "
                f"but only time {_display_time(samples[0].stamp_ns)} is in the buffer"
            )
        latest, earliest = samples[-1], samples[0]
        if stamp_ns == latest.stamp_ns:
            return latest
        if stamp_ns == earliest.stamp_ns:
            return earliest
        if stamp_ns > latest.stamp_ns:
            return _Miss(
                "Lookup would require extrapolation into the future.  Requested time "
                f"{_display_time(stamp_ns)} but the latest data is at time "
                f"{_display_time(latest.stamp_ns)}"
            )
        if stamp_ns < earliest.stamp_ns:
            return _Miss(
                "Lookup would require extrapolation into the past.  Requested time "
                f"{_display_time(stamp_ns)} but the earliest data is at time "
                f"{_display_time(earliest.stamp_ns)}"
            )
        i = bisect.bisect_right(self._stamps, stamp_ns) - 1
        older, newer = samples[i], samples[i + 1]
        if older.parent != newer.parent:
            return older
        return _interpolate(older, newer, stamp_ns)

    def latest_time_and_parent(self) -> tuple[int, str | None]:
        if not self._samples:
            return 0, None
        return self._samples[-1].stamp_ns, self._samples[-1].parent

    def clear(self) -> None:
        self._samples.clear()
        self._stamps.clear()


class _StaticCache:
    """tf2 ``StaticCache``: one sample, valid at every time, latest time 0."""

    def __init__(self, sample: _Sample) -> None:
        self._sample = sample

    def insert(self, sample: _Sample) -> bool:
        self._sample = sample
        return True

    def get(self, stamp_ns: int) -> _Sample | _Miss:
        return self._sample

    def latest_time_and_parent(self) -> tuple[int, str | None]:
        return 0, self._sample.parent

    def clear(self) -> None:
        """tf2's ``StaticCache::clearList`` does nothing: statics survive ``clear()``."""


def _interpolate(older: _Sample, newer: _Sample, stamp_ns: int) -> _Sample:
    """tf2 ``TimeCache::interpolate``: lerp translation, SLERP rotation."""
    ratio = float(stamp_ns - older.stamp_ns) / float(newer.stamp_ns - older.stamp_ns)
    # tf2 Vector3::setInterpolate3: (1 - r) * a + r * b.
    translation = (1.0 - ratio) * older.translation_m + ratio * newer.translation_m
    # SLERP along the shortest arc, as tf2::slerp.
    slerp = Slerp([0.0, 1.0], Rotation.from_quat(np.stack([older.quat_xyzw, newer.quat_xyzw])))
    quat = np.asarray(slerp([ratio]).as_quat()[0], dtype=np.float64)
    return _Sample(older.stamp_ns, older.parent, translation, quat)


class TfBuffer:
    """Transforms between frames over time, answering lookups as tf2 does.

    Thread-safe: every public method holds one lock.

    >>> from percept.domain import Header
    >>> buf = TfBuffer()
    >>> t = TransformStamped(Header(1, "map"), "odom", Pose([1.0, 0.0, 0.0]))
    >>> buf.set_transform(t)
    True
    >>> buf.lookup_transform("map", "odom", 0).translation_m.tolist()
    [1.0, 0.0, 0.0]
    """

    def __init__(self, cache_time_ns: int = DEFAULT_CACHE_TIME_NS) -> None:
        """Create an empty buffer.

        Args:
            cache_time_ns: how far behind its newest sample a dynamic frame keeps data,
                integer nanoseconds, >= 0 (tf2 default 10 s).

        Raises:
            ValueError: if ``cache_time_ns`` is negative or not an int.
        """
        if isinstance(cache_time_ns, bool) or not isinstance(cache_time_ns, int):
            msg = f"cache_time_ns must be an int, got {type(cache_time_ns).__name__}"
            raise ValueError(msg)
        if cache_time_ns < 0:
            msg = f"cache_time_ns must be >= 0, got {cache_time_ns}"
            raise ValueError(msg)
        self._cache_time_ns = cache_time_ns
        self._lock = threading.Lock()
        # Every frame ever named, in tf2's id order; roots map to None (no cache).
        self._frames: dict[str, _TimeCache | _StaticCache | None] = {}
        self._authority: dict[str, str] = {}

    @property
    def cache_time_ns(self) -> int:
        """Storage time of dynamic frames, integer nanoseconds."""
        return self._cache_time_ns

    def set_transform(
        self, transform: TransformStamped, authority: str = "", *, static: bool = False
    ) -> bool:
        """Add ``T_parent_child`` (``header.frame_id`` <- ``child_frame_id``) at its stamp.

        Invalid or too old transforms are logged and refused, as tf2 does.

        Args:
            transform: the transform; ``transform.transform`` is ``T_frame_child``.
            authority: who sent it (a node name), for log lines.
            static: store it as a static transform, valid at every time.

        Returns:
            True if stored.
        """
        parent = transform.header.frame_id.removeprefix("/")
        child = transform.child_frame_id.removeprefix("/")
        stamp_ns = int(transform.header.stamp_ns)
        translation = np.asarray(transform.transform.translation_m, dtype=np.float64)
        quat = np.asarray(transform.transform.quat_xyzw, dtype=np.float64)
        problems = []
        if child == parent:
            problems.append(
                f'TF_SELF_TRANSFORM: Ignoring transform from authority "{authority}" with '
                f'frame_id and child_frame_id "{child}" because they are the same'
            )
        if not child:
            problems.append(
                f'TF_NO_CHILD_FRAME_ID: Ignoring transform from authority "{authority}" '
                "because child_frame_id not set"
            )
        if not parent:
            problems.append(
                f'TF_NO_FRAME_ID: Ignoring transform with child_frame_id "{child}" from '
                f'authority "{authority}" because frame_id not set'
            )
        if np.isnan(translation).any() or np.isnan(quat).any():
            problems.append(
                f'TF_NAN_INPUT: Ignoring transform for child_frame_id "{child}" from '
                f'authority "{authority}" because of a nan value in the transform'
            )
        elif abs(float(quat @ quat) - 1.0) >= _QUATERNION_NORMALIZATION_TOLERANCE:
            problems.append(
                f'TF_DENORMALIZED_QUATERNION: Ignoring transform for child_frame_id "{child}" '
                f'from authority "{authority}" because of an invalid quaternion in the '
                f"transform {quat.tolist()}"
            )
        if problems:
            for problem in problems:
                _LOGGER.error("%s", problem)
            return False

        sample = _Sample(stamp_ns, parent, translation.copy(), _quat_via_matrix(quat))
        with self._lock:
            cache = self._frames.get(child)
            if static:
                if not isinstance(cache, _StaticCache):
                    cache = _StaticCache(sample)
            elif not isinstance(cache, _TimeCache):
                cache = _TimeCache(self._cache_time_ns)
            self._frames[child] = cache
            self._frames.setdefault(parent, None)
            stored = cache.insert(sample)
            if stored:
                self._authority[child] = authority
        if not stored:
            _LOGGER.warning(
                "TF_OLD_DATA ignoring data from the past for frame %s at time %s according "
                "to authority %s",
                child,
                _display_time(stamp_ns),
                authority,
            )
        return stored

    def lookup_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> Pose:
        """``T_target_source`` at ``stamp_ns``: ``p_target = T @ p_source``.

        Args:
            target_frame: frame the result expresses points in.
            source_frame: frame the points come from.
            stamp_ns: time, integer nanoseconds; 0 = latest common time of the two
                frames (tf2's rule).

        Returns:
            Pose of ``source_frame`` in ``target_frame``.

        Raises:
            TransformError: unknown frame, no connection, extrapolation or a loop, with
                tf2's message.
            ValueError: if ``stamp_ns`` is negative.
        """
        _check_stamp(stamp_ns)
        if target_frame == source_frame:
            return Pose.identity()  # tf2 does not even check that the frame exists
        with self._lock:
            self._check_frame("lookupTransform argument target_frame", target_frame)
            self._check_frame("lookupTransform argument source_frame", source_frame)
            pose = self._walk(target_frame, source_frame, stamp_ns)
        return Pose(pose.translation_m, _quat_via_matrix(pose.quat_xyzw))

    def can_transform(self, target_frame: str, source_frame: str, stamp_ns: int) -> bool:
        """Whether :meth:`lookup_transform` would succeed (tf2 ``canTransform``).

        Args:
            target_frame: frame the result expresses points in.
            source_frame: frame the points come from.
            stamp_ns: time, integer nanoseconds; 0 = latest common time.

        Returns:
            True if the lookup would succeed.

        Raises:
            ValueError: if ``stamp_ns`` is negative.
        """
        _check_stamp(stamp_ns)
        if target_frame == source_frame:
            return True
        with self._lock:
            if not self._valid_frame(target_frame) or not self._valid_frame(source_frame):
                return False
            try:
                self._walk(target_frame, source_frame, stamp_ns)
            except TransformError:
                return False
        return True

    def latest_common_time_ns(self, target_frame: str, source_frame: str) -> int:
        """The time a lookup at stamp 0 uses (tf2 ``getLatestCommonTime``).

        Args:
            target_frame: target frame.
            source_frame: source frame.

        Returns:
            Stamp in integer nanoseconds; 0 if only static links join the frames.

        Raises:
            TransformError: unknown frame or no connection.
        """
        with self._lock:
            self._check_frame("getLatestCommonTime argument target_frame", target_frame)
            self._check_frame("getLatestCommonTime argument source_frame", source_frame)
            if target_frame == source_frame:
                cache = self._frames[source_frame]
                return cache.latest_time_and_parent()[0] if cache is not None else 0
            return self._latest_common_time(target_frame, source_frame)

    def all_frames(self) -> list[str]:
        """Every frame named so far (child or parent), in order of first appearance."""
        with self._lock:
            return list(self._frames)

    def clear(self) -> None:
        """Drop dynamic data (tf2 ``clear``); static transforms and frame names stay."""
        with self._lock:
            for cache in self._frames.values():
                if cache is not None:
                    cache.clear()

    # -- internals, called with the lock held ---------------------------------------------

    def _valid_frame(self, frame: str) -> bool:
        return bool(frame) and not frame.startswith("/") and frame in self._frames

    def _check_frame(self, what: str, frame: str) -> None:
        if not frame:
            msg = f'Invalid argument "{frame}" passed to {what} - in tf2 frame_ids cannot be empty'
            raise TransformError(msg)
        if frame.startswith("/"):
            msg = (
                f'Invalid argument "{frame}" passed to {what} - in tf2 frame_ids cannot '
                "start with a '/'"
            )
            raise TransformError(msg)
        if frame not in self._frames:
            msg = f'"{frame}" passed to {what} does not exist. '
            raise TransformError(msg)

    def _connectivity_error(self, target: str, source: str) -> TransformError:
        return TransformError(
            f"Could not find a connection between '{target}' and '{source}' because they "
            "are not part of the same tree.Tf has two or more unconnected trees."
        )

    def _loop_error(self) -> TransformError:
        lines = []
        for frame, cache in self._frames.items():
            if cache is None:
                continue
            data = cache.get(0)
            parent = data.parent if isinstance(data, _Sample) else _NO_PARENT
            lines.append(f"Frame {frame} exists with parent {parent}.\n")
        return TransformError(
            "The tf tree is invalid because it contains a loop.\n" + "".join(lines) + "\n"
        )

    def _walk(self, target: str, source: str, stamp_ns: int) -> Pose:
        """tf2 ``walkToTopParent`` with ``TransformAccum``: ``T_target_source``."""
        if source == target:
            return Pose.identity()
        if stamp_ns == 0:
            stamp_ns = self._latest_common_time(target, source)

        suffix = f", when looking up transform from frame [{source}] to frame [{target}]"
        # Up from the source, accumulating T_top_source.
        T_top_source = Pose.identity()
        frame = source
        top_parent = frame
        source_miss: _Miss | None = None
        depth = 0
        while True:
            cache = self._frames.get(frame)
            if cache is None:  # a root: no parent
                top_parent = frame
                break
            data = cache.get(stamp_ns)
            if isinstance(data, _Miss):  # there may still be a path from the target side
                top_parent = frame
                source_miss = data
                break
            if frame == target:  # target is an ancestor of source
                return T_top_source
            T_top_source = data.pose() @ T_top_source
            top_parent = frame
            frame = data.parent
            depth += 1
            if depth > _MAX_GRAPH_DEPTH:
                raise self._loop_error()

        # Up from the target until the source's top parent, accumulating T_top_target.
        T_top_target = Pose.identity()
        frame = target
        depth = 0
        while frame != top_parent:
            cache = self._frames.get(frame)
            if cache is None:
                break
            data = cache.get(stamp_ns)
            if isinstance(data, _Miss):
                raise TransformError(data.message + suffix)
            if frame == source:  # source is an ancestor of target
                return T_top_target.inverse()
            T_top_target = data.pose() @ T_top_target
            frame = data.parent
            depth += 1
            if depth > _MAX_GRAPH_DEPTH:
                raise self._loop_error()

        if frame != top_parent:
            if source_miss is not None:
                raise TransformError(source_miss.message + suffix)
            raise self._connectivity_error(target, source)
        return T_top_target.inverse() @ T_top_source

    def _walk_up(self, frame: str) -> Iterator[tuple[int, str]]:
        """``(newest stamp, parent)`` of each link up from ``frame``; static links report 0.

        Raises:
            TransformError: the tree is deeper than ``_MAX_GRAPH_DEPTH`` (a loop).
        """
        depth = 0
        while True:
            cache = self._frames.get(frame)
            if cache is None:
                return
            latest, parent = cache.latest_time_and_parent()
            if parent is None:
                return
            yield latest, parent
            frame = parent
            depth += 1
            if depth > _MAX_GRAPH_DEPTH:
                raise self._loop_error()

    def _latest_common_time(self, target: str, source: str) -> int:
        """tf2 ``getLatestCommonTime`` for two different, known frames."""
        # Up from the source, keeping the links.
        source_links: list[tuple[int, str]] = []
        common: int | None = None
        for latest, parent in self._walk_up(source):
            if latest != 0:
                common = latest if common is None else min(common, latest)
            source_links.append((latest, parent))
            if parent == target:
                return common if common is not None else 0

        # Up from the target until a parent on the source's path.
        common = None
        common_parent: str | None = None
        source_parents = {parent for _, parent in source_links}
        for latest, parent in self._walk_up(target):
            if latest != 0:
                common = latest if common is None else min(common, latest)
            if parent in source_parents:
                common_parent = parent
                break
            if parent == source:
                return common if common is not None else 0

        if common_parent is None:
            raise self._connectivity_error(target, source)
        for latest, parent in source_links:
            if latest != 0:
                common = latest if common is None else min(common, latest)
            if parent == common_parent:
                break
        return common if common is not None else 0


def _check_stamp(stamp_ns: int) -> None:
    if isinstance(stamp_ns, bool) or not isinstance(stamp_ns, int):
        msg = f"stamp_ns must be an int, got {type(stamp_ns).__name__} {stamp_ns!r}"
        raise ValueError(msg)
    if stamp_ns < 0:
        msg = f"stamp_ns must be >= 0, got {stamp_ns}"
        raise ValueError(msg)
