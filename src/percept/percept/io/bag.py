"""Bags: read rosbag2 (sqlite3, MCAP) and ROS 1 bags, write MCAP, all through ``rosbags``.

Time is integer nanoseconds. A bag that ends in the middle of a record (a recorder that
was killed) is read up to the damage with one warning; everything before it is kept. An
MCAP cut before its footer (or a rosbag2 folder whose last file is cut) is read through a
recovered copy of its whole chunks (``percept.io.recover``), again with one warning.

MCAP is written with zstd-compressed chunks unless ``compression="none"`` (or the
environment variable ``PERCEPT_BAG_COMPRESSION=none``) says otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from percept import msgtypes
from percept.errors import BagError
from percept.io.typestore import get_typestore

if TYPE_CHECKING:
    from rosbags.interfaces import Connection

    from percept.io.recover import RecoveryReport

__all__ = [
    "COMPRESSIONS",
    "BagMessage",
    "BagReader",
    "BagWriter",
    "TopicSummary",
    "format_summary",
    "stereo_camera_topics",
    "storage_facts",
    "summarize_bag",
]

logger = logging.getLogger(__name__)

COMPRESSIONS = ("zstd", "none")
"""Chunk compressions ``BagWriter`` writes."""

COMPRESSION_ENV = "PERCEPT_BAG_COMPRESSION"
"""Environment variable giving ``BagWriter``'s default compression (``zstd``, ``none``)."""

_ROSBAGS_CHUNK_BYTES = 1 << 20


class _Openable(Protocol):
    def open(self) -> None: ...


_H = TypeVar("_H", bound=_Openable)


def _opened(make: Callable[[], _H], failure: str) -> _H:
    """``make()``, opened; any error on the way becomes ``BagError("<failure>: <error>")``."""
    try:
        handle = make()
        handle.open()
    except Exception as err:
        msg = f"{failure}: {err}"
        raise BagError(msg) from err
    return handle


@dataclass(frozen=True, slots=True)
class BagMessage:
    """One message of a bag.

    Attributes:
        topic: topic name.
        msgtype: ROS 2 type name (``sensor_msgs/msg/Image``), also for ROS 1 bags.
        log_time_ns: receive time recorded in the bag.
        raw: CDR bytes for ROS 2 bags; None for ROS 1 bags.
        msg: the deserialised message for ROS 1 bags; None for ROS 2 bags.
    """

    topic: str
    msgtype: str
    log_time_ns: int
    raw: bytes | None
    msg: object | None


class BagReader:
    """Read any bag ``rosbags`` reads: rosbag2 folder, .db3, .mcap, ROS 1 .bag.

    Use as a context manager::

        with BagReader(Path("run.mcap")) as bag:
            for m in bag.messages(["/imu/data"]):
                ...

    Raises:
        BagError: the path does not exist or is not a bag (message names the path).
    """

    def __init__(self, path: Path | str) -> None:
        """Remember the path; the bag is opened by ``__enter__``."""
        self.path = Path(path)
        self._reader: object | None = None
        self._workdir: Path | None = None
        self.truncated = False
        self.recovery: RecoveryReport | None = None

    def __enter__(self) -> BagReader:
        """Open the bag."""
        from rosbags.highlevel import AnyReader

        if not self.path.exists():
            msg = f"{self.path}: no such bag"
            raise BagError(msg)
        paths = [self.path]
        if self.path.is_file() and self.path.suffix == ".db3":
            paths = [self.path.parent]
        try:
            self._reader = _opened(
                lambda: AnyReader(paths, default_typestore=get_typestore()),
                f"{self.path}: cannot open bag",
            )
        except BagError as err:
            if not self._is_mcap():
                raise
            self._reader = self._open_recovered(err)
        return self

    def _is_mcap(self) -> bool:
        if self.path.is_file():
            return self.path.suffix == ".mcap"
        return any(self.path.glob("*.mcap"))

    def _open_recovered(self, err: BagError) -> object:
        """Open a recovered copy of a cut MCAP bag; re-raise ``err`` if nothing is cut."""
        from rosbags.highlevel import AnyReader

        from percept.io.recover import recover_for_reading

        self._workdir = Path(tempfile.mkdtemp(prefix="percept-recover-"))
        try:
            paths, report = recover_for_reading(self.path, self._workdir)
        except Exception as rec_err:
            self._cleanup()
            msg = f"{err}; recovery failed: {rec_err}"
            raise BagError(msg) from rec_err
        if not report.damaged:
            self._cleanup()
            raise err
        try:
            reader = _opened(
                lambda: AnyReader(paths, default_typestore=get_typestore()),
                f"{self.path}: cannot open the recovered bag",
            )
        except BagError:
            self._cleanup()
            raise
        logger.warning("%s", report.describe())
        self.truncated = True
        self.recovery = report
        return reader

    def _cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the bag."""
        if self._reader is not None:
            self._reader.close()  # type: ignore[attr-defined]
            self._reader = None
        self._cleanup()

    @property
    def _any(self):  # type: ignore[no-untyped-def]  # rosbags AnyReader
        if self._reader is None:
            msg = f"{self.path}: bag is not open (use 'with BagReader(...)')"
            raise BagError(msg)
        return self._reader

    @property
    def is_ros1(self) -> bool:
        """True for a ROS 1 bag."""
        return bool(getattr(self._any, "is2", True) is False)

    @property
    def start_ns(self) -> int:
        """Earliest receive time."""
        return int(self._any.start_time)

    @property
    def end_ns(self) -> int:
        """Latest receive time (exclusive end as rosbags reports it)."""
        return int(self._any.end_time)

    def connections(self) -> list[Connection]:
        """The bag's connections (topic, msgtype, message count per connection)."""
        return list(self._any.connections)

    def topics(self) -> dict[str, str]:
        """Topic -> message type."""
        return {c.topic: c.msgtype for c in self._any.connections}

    def messages(
        self,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> Iterator[BagMessage]:
        """Messages in receive-time order, optionally filtered by topic and time window.

        A truncated or corrupt bag ends the iteration with one warning; ``truncated``
        becomes True.
        """
        wanted = None if topics is None else set(topics)
        conns = [c for c in self._any.connections if wanted is None or c.topic in wanted]
        if not conns:
            return
        ros1 = self.is_ros1
        it = self._any.messages(connections=conns, start=start_ns, stop=stop_ns)
        while True:
            try:
                conn, timestamp, rawdata = next(it)
            except StopIteration:
                return
            except Exception as err:
                self.truncated = True
                logger.warning("%s: bag ends early (%s); keeping what was read", self.path, err)
                return
            if ros1:
                try:
                    msg = self._any.deserialize(rawdata, conn.msgtype)
                except Exception as err:
                    logger.warning(
                        "%s: undecodable %s message skipped: %s", self.path, conn.topic, err
                    )
                    continue
                yield BagMessage(conn.topic, conn.msgtype, int(timestamp), None, msg)
            else:
                yield BagMessage(conn.topic, conn.msgtype, int(timestamp), bytes(rawdata), None)


class BagWriter:
    """Write a rosbag2 MCAP bag with ``rosbags``.

    ``path`` ending in ``.mcap`` gives a single MCAP file (what ``ros2 bag play`` and
    Foxglove open directly); any other path gives a rosbag2 folder (metadata.yaml plus
    the MCAP file). The output is deterministic: the same messages give the same bytes.

    Chunks are zstd-compressed by default (``compression="none"`` writes them plain; the
    default comes from ``PERCEPT_BAG_COMPRESSION`` when set). A chunk is closed, and so
    written to disk, once it holds ``chunk_bytes`` of records (at most 1 MiB, the
    ``rosbags`` writer's own limit): a recording cut by a crash keeps every closed chunk.

    Raises:
        BagError: the output exists or cannot be written, or a bad ``compression`` or
            ``chunk_bytes``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        overwrite: bool = False,
        compression: str | None = None,
        chunk_bytes: int = _ROSBAGS_CHUNK_BYTES,
    ) -> None:
        """Remember where to write; ``__enter__`` creates the bag.

        Args:
            path: ``.mcap`` file or rosbag2 folder to create.
            overwrite: replace an existing output.
            compression: ``"zstd"`` or ``"none"``; None: ``$PERCEPT_BAG_COMPRESSION``,
                else ``"zstd"``.
            chunk_bytes: uncompressed bytes of records per chunk, 1 to 1 MiB.
        """
        self.path = Path(path)
        self.overwrite = overwrite
        if compression is None:
            compression = os.environ.get(COMPRESSION_ENV, "").strip().lower() or "zstd"
        if compression not in COMPRESSIONS:
            msg = f"{self.path}: compression must be one of {COMPRESSIONS}, got {compression!r}"
            raise BagError(msg)
        if not 0 < chunk_bytes <= _ROSBAGS_CHUNK_BYTES:
            msg = (
                f"{self.path}: chunk_bytes must be in 1..{_ROSBAGS_CHUNK_BYTES}, got {chunk_bytes}"
            )
            raise BagError(msg)
        self.compression = compression
        self.chunk_bytes = chunk_bytes
        self._writer: object | None = None
        self._tmp: Path | None = None
        self._conns: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> BagWriter:
        """Create the bag."""
        from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

        if self.path.exists():
            if not self.overwrite:
                msg = f"{self.path}: exists already (pass overwrite=True / --force)"
                raise BagError(msg)
            if self.path.is_dir():
                shutil.rmtree(self.path)
            else:
                self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        target = self.path
        if self.path.suffix == ".mcap":
            self._tmp = Path(tempfile.mkdtemp(prefix="percept-bag-", dir=self.path.parent))
            target = self._tmp / self.path.stem

        def make() -> Writer:
            writer = Writer(target, version=9, storage_plugin=StoragePlugin.MCAP)
            if self.compression == "zstd":
                writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
            return writer

        self._writer = _opened(make, f"{self.path}: cannot create bag")
        return self

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic (done implicitly by ``write``)."""
        if topic in self._conns:
            return
        assert self._writer is not None
        try:
            conn = self._writer.add_connection(  # type: ignore[attr-defined]
                topic, msgtype, typestore=get_typestore()
            )
        except Exception as err:
            msg = f"{self.path}: cannot add topic {topic} ({msgtype}): {err}"
            raise BagError(msg) from err
        self._conns[topic] = conn
        self.counts[topic] = 0

    def write(self, topic: str, msgtype: str, log_time_ns: int, raw: bytes) -> None:
        """Append one CDR-serialised message."""
        self.add_topic(topic, msgtype)
        assert self._writer is not None
        self._writer.write(  # type: ignore[attr-defined]
            self._conns[topic], log_time_ns, raw
        )
        self.counts[topic] += 1
        if self.chunk_bytes < _ROSBAGS_CHUNK_BYTES:
            storage = getattr(self._writer, "storage", None)
            chunk = getattr(storage, "chunk", None)
            if chunk is not None and chunk.bio.tell() >= self.chunk_bytes:
                storage.close_chunk()  # type: ignore[union-attr]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the bag; a single-file output is moved into place."""
        if self._writer is None:
            return
        self._writer.close()  # type: ignore[attr-defined]
        self._writer = None
        if self._tmp is not None:
            inner = sorted(self._tmp.rglob("*.mcap"))
            if inner:
                shutil.move(str(inner[0]), self.path)
            shutil.rmtree(self._tmp, ignore_errors=True)


@dataclass
class TopicSummary:
    """What ``percept bag info`` reports for one topic."""

    topic: str
    msgtype: str
    count: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    rate_hz: float = 0.0
    max_gap_s: float = 0.0
    gaps: list[tuple[int, float]] = field(default_factory=list)
    bytes: int = 0
    share: float = 0.0


def _size(n: int) -> str:
    """Bytes in B, KiB, MiB or GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def storage_facts(path: Path | str) -> dict[str, object]:
    """Storage of a bag: format, compression, chunk count and sizes on disk.

    Returns:
        ``storage`` (``MCAP``, ``sqlite3``, ``ROS 1``), ``file_bytes`` (bytes on disk),
        and for MCAP ``compression`` (chunk compressions, ``none`` for plain chunks),
        ``chunks``, ``chunk_bytes`` (as stored) and ``chunk_raw_bytes`` (uncompressed).
    """
    from percept.io.recover import mcap_files, scan_mcap, summary_chunks

    path = Path(path)
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    facts: dict[str, object] = {"file_bytes": sum(f.stat().st_size for f in files)}
    if path.suffix == ".bag":
        facts["storage"] = "ROS 1"
        return facts
    mcaps = [] if path.suffix == ".db3" else mcap_files(path)
    if not mcaps:
        facts["storage"] = "sqlite3"
        return facts
    facts["storage"] = "MCAP"
    chunks: list[tuple[str, int, int]] = []
    for file in mcaps:
        listed = summary_chunks(file)
        if listed is None:
            try:
                scan = scan_mcap(file)
            except BagError:
                continue
            listed = [(c.compression, c.compressed_size, c.uncompressed_size) for c in scan.chunks]
        chunks.extend(listed)
    facts["compression"] = ", ".join(sorted({c or "none" for c, _, _ in chunks})) or "none"
    facts["chunks"] = len(chunks)
    facts["chunk_bytes"] = sum(c[1] for c in chunks)
    facts["chunk_raw_bytes"] = sum(c[2] for c in chunks)
    return facts


def summarize_bag(
    path: Path | str, gap_factor: float = 3.0
) -> tuple[list[TopicSummary], dict[str, object]]:
    """Topics, types, counts, rates and gaps of a bag.

    A gap is an interval between consecutive messages longer than ``gap_factor`` times
    the topic's median interval.

    Returns:
        (per-topic summaries sorted by topic, bag-level facts: path, format, start_ns,
        end_ns, duration_s, messages, truncated).
    """
    times: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    with BagReader(path) as bag:
        summaries = {t: TopicSummary(t, mt) for t, mt in sorted(bag.topics().items())}
        for conn in bag.connections():
            times.setdefault(conn.topic, [])
            sizes.setdefault(conn.topic, 0)
        for m in bag.messages():
            times[m.topic].append(m.log_time_ns)
            sizes[m.topic] += len(m.raw) if m.raw is not None else 0
        facts: dict[str, object] = {
            "path": str(path),
            "format": "ROS 1" if bag.is_ros1 else "rosbag2",
            "start_ns": bag.start_ns,
            "end_ns": bag.end_ns,
            "duration_s": max(0, bag.end_ns - bag.start_ns) / 1e9,
            "truncated": bag.truncated,
            "indexed_messages": sum(int(c.msgcount) for c in bag.connections()),
        }
        if bag.recovery is not None:
            facts["recovery"] = bag.recovery.describe()
    facts.update(storage_facts(path))
    total = 0
    all_bytes = sum(sizes.values())
    facts["message_bytes"] = all_bytes
    for topic, stamps in times.items():
        s = summaries[topic]
        s.count = len(stamps)
        s.bytes = sizes[topic]
        s.share = s.bytes / all_bytes if all_bytes else 0.0
        total += s.count
        if not stamps:
            continue
        t = np.sort(np.asarray(stamps, dtype=np.int64))
        s.first_ns, s.last_ns = int(t[0]), int(t[-1])
        if t.size >= 2:
            dt = np.diff(t)
            span = int(t[-1] - t[0])
            s.rate_hz = (t.size - 1) * 1e9 / span if span > 0 else 0.0
            s.max_gap_s = float(dt.max()) / 1e9
            median = float(np.median(dt))
            if median > 0:
                idx = np.flatnonzero(dt > gap_factor * median)
                s.gaps = [(int(t[i]), float(dt[i]) / 1e9) for i in idx[:20]]
    facts["messages"] = total
    return list(summaries.values()), facts


def format_summary(summaries: Sequence[TopicSummary], facts: dict[str, object]) -> str:
    """Human-readable ``percept bag info`` text."""
    lines = [
        f"bag:       {facts['path']} ({facts['format']})",
        f"duration:  {facts['duration_s']:.3f} s",
        f"messages:  {facts['messages']} ({_size(int(str(facts.get('message_bytes', 0))))})",
    ]
    if "storage" in facts:
        lines.append(
            f"storage:   {facts['storage']}, {_size(int(str(facts['file_bytes'])))} on disk"
        )
    if "chunks" in facts:
        raw, stored = int(str(facts["chunk_raw_bytes"])), int(str(facts["chunk_bytes"]))
        ratio = f", ratio {raw / stored:.2f}" if stored else ""
        lines.append(
            f"chunks:    {facts['chunks']}, compression {facts['compression']}: "
            f"{_size(raw)} -> {_size(stored)}{ratio}"
        )
    if facts.get("truncated"):
        lines.append("WARNING:   bag is truncated; counts cover the readable part")
    if facts.get("recovery"):
        lines.append(f"RECOVERED: {facts['recovery']}")
    if facts.get("indexed_messages") != facts.get("messages"):
        lines.append(
            f"WARNING:   the bag's index lists {facts.get('indexed_messages')} messages but "
            f"{facts.get('messages')} could be read (storage format not fully supported?)"
        )
    width = max([len(s.topic) for s in summaries] + [5])
    twidth = max([len(s.msgtype) for s in summaries] + [4])
    lines.append(
        f"{'topic':<{width}}  {'type':<{twidth}}  {'count':>7}  {'rate Hz':>8}  "
        f"{'max gap s':>9}  {'gaps':>4}  {'MiB':>9}  share"
    )
    for s in summaries:
        lines.append(
            f"{s.topic:<{width}}  {s.msgtype:<{twidth}}  {s.count:>7}  {s.rate_hz:>8.2f}  "
            f"{s.max_gap_s:>9.3f}  {len(s.gaps):>4}  {s.bytes / 2**20:>9.2f}  {s.share:>5.1%}"
        )
        for start, length in s.gaps[:3]:
            lines.append(f"{'':<{width}}    gap of {length:.3f} s at t={start / 1e9:.3f}")
    return "\n".join(lines)


def stereo_camera_topics(topics: Mapping[str, str]) -> tuple[str, str, str, str]:
    """The stereo pair of a bag: ``(left image, left info, right image, right info)``.

    Raw images (``.../image_raw``) are preferred; each needs a ``camera_info`` beside it
    (same namespace), and left/right are told by ``left``/``cam0`` and ``right``/``cam1``
    in the name (image_pipeline and EuRoC conventions).

    Args:
        topics: topic -> message type, as ``BagReader.topics()``.

    Raises:
        BagError: no such pair.
    """
    images = sorted(t for t, ty in topics.items() if ty == msgtypes.IMAGE and "raw" in t)
    if len(images) < 2:
        images = sorted(t for t, ty in topics.items() if ty == msgtypes.IMAGE)

    def info(image: str) -> str:
        return image.rsplit("/", 1)[0] + "/camera_info"

    paired = [i for i in images if topics.get(info(i)) == msgtypes.CAMERA_INFO]
    left = [i for i in paired if "left" in i or "cam0" in i]
    right = [i for i in paired if "right" in i or "cam1" in i]
    if not left or not right:
        msg = f"no left/right image topics with camera_info among {sorted(topics)}"
        raise BagError(msg)
    return left[0], info(left[0]), right[0], info(right[0])
