"""MCAP recovery: read what a cut or footer-less MCAP holds, and write it out clean.

A recorder killed by a power loss leaves an MCAP without its summary and footer, often
cut in the middle of a chunk. Every chunk written before the cut is whole and readable;
``scan_mcap`` walks the data section record by record (the MCAP spec's framing: opcode
uint8, length uint64, content), decompresses and checks each chunk, and stops at the
first record that runs past the end of the file. ``write_clean`` then copies the whole
chunks verbatim into a new file with message indexes, a summary (schemas, channels,
chunk indexes, statistics) and a footer, as ``mcap recover`` does; ``rosbags`` and
Foxglove read the result.

Nothing here raises on garbage: a file that is not an MCAP is a ``BagError`` with the
path, and a damaged record ends the scan (or, for a chunk whose framing is intact but
whose data are not, is skipped and counted).
"""

from __future__ import annotations

import logging
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from rosbags.rosbag2.storage_mcap import decompress

from percept.errors import BagError

__all__ = [
    "MAGIC",
    "ChunkSpan",
    "McapScan",
    "RecoveryReport",
    "mcap_files",
    "recover_bag",
    "recover_for_reading",
    "scan_mcap",
    "summary_chunks",
    "write_clean",
]

logger = logging.getLogger(__name__)

MAGIC = b"\x89MCAP0\r\n"
"""The 8 bytes an MCAP file begins and ends with."""

_HEADER, _FOOTER, _SCHEMA, _CHANNEL, _MESSAGE, _CHUNK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
_MESSAGE_INDEX, _CHUNK_INDEX, _STATISTICS, _DATA_END = 0x07, 0x08, 0x0B, 0x0F
_RECORD = struct.Struct("<BQ")
_CHUNK_HEAD = struct.Struct("<QQQI")
_MESSAGE_HEAD = struct.Struct("<HIQQ")


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """One whole, readable chunk of an MCAP file.

    Attributes:
        start: byte offset of the chunk record (its opcode) in the file.
        length: bytes of the record, opcode and length field included.
        compression: ``""``, ``"zstd"`` or ``"lz4"``.
        compressed_size: bytes of the chunk's (compressed) records.
        uncompressed_size: bytes of the records once decompressed.
        start_ns: earliest message log time (0 for a chunk without messages).
        end_ns: latest message log time.
        index: channel id -> ``[(log_time_ns, offset of the message record in the
            uncompressed records), ...]``.
    """

    start: int
    length: int
    compression: str
    compressed_size: int
    uncompressed_size: int
    start_ns: int
    end_ns: int
    index: dict[int, list[tuple[int, int]]]

    @property
    def message_count(self) -> int:
        """Messages in the chunk."""
        return sum(len(v) for v in self.index.values())


@dataclass(slots=True)
class McapScan:
    """What ``scan_mcap`` found in one file.

    Attributes:
        path: the file.
        file_size: its size in bytes.
        header: the Header record's content (profile, library), if whole.
        schemas: schema id -> Schema record content.
        channels: channel id -> Channel record content.
        chunks: the whole, readable chunks in file order.
        loose: ``(log_time_ns, channel id, Message record content)`` of messages outside
            chunks.
        data_end: byte offset where the readable data end.
        complete: the data section ran to its DataEnd record or the footer (only the
            summary, if anything, is missing).
        cut_chunk: the file ends inside a chunk record.
        corrupt_chunks: chunks whose framing was whole but whose data were not readable.
        corrupt_bytes: their bytes.
        reason: why the scan stopped, in words.
    """

    path: Path
    file_size: int
    header: bytes = b""
    schemas: dict[int, bytes] = field(default_factory=dict)
    channels: dict[int, bytes] = field(default_factory=dict)
    chunks: list[ChunkSpan] = field(default_factory=list)
    loose: list[tuple[int, int, bytes]] = field(default_factory=list)
    data_end: int = 0
    complete: bool = False
    cut_chunk: bool = False
    corrupt_chunks: int = 0
    corrupt_bytes: int = 0
    reason: str = ""

    @property
    def message_count(self) -> int:
        """Messages recovered (chunked and loose)."""
        return sum(c.message_count for c in self.chunks) + len(self.loose)

    @property
    def lost_bytes(self) -> int:
        """Bytes that could not be used.

        The tail after ``data_end`` (none when only the summary was lost) and the
        corrupt chunks.
        """
        tail = 0 if self.complete else self.file_size - self.data_end
        return tail + self.corrupt_bytes

    @property
    def lost_chunks(self) -> int:
        """Chunks lost: the one cut by the end of the file and the corrupt ones."""
        return int(self.cut_chunk) + self.corrupt_chunks


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """How much of a damaged bag (one file or a rosbag2 folder) was kept and lost.

    Attributes:
        path: the bag.
        files: MCAP files in it.
        damaged: names of the files that needed recovery.
        messages: messages kept.
        chunks: chunks kept.
        lost_bytes: bytes that could not be used.
        lost_chunks: chunks lost (cut or corrupt).
        lost_messages: messages lost when the bag says how many it held (a rosbag2
            folder's metadata.yaml), else None.
        reasons: why each damaged file's scan stopped.
    """

    path: Path
    files: int
    damaged: tuple[str, ...]
    messages: int
    chunks: int
    lost_bytes: int
    lost_chunks: int
    lost_messages: int | None
    reasons: tuple[str, ...]

    def describe(self) -> str:
        """One line for the warning: what was kept, what was lost and why."""
        lost_msgs = "unknown" if self.lost_messages is None else str(self.lost_messages)
        where = f" in {', '.join(self.damaged)}" if self.files > 1 else ""
        why = "; ".join(self.reasons)
        return (
            f"{self.path}: damaged MCAP{where} ({why}); kept {self.messages} messages in "
            f"{self.chunks} whole chunks, lost {self.lost_bytes} bytes, "
            f"{self.lost_chunks} chunk(s), {lost_msgs} message(s)"
        )


def _parse_chunk(content: bytes) -> tuple[ChunkSpan, dict[int, bytes], dict[int, bytes]]:
    """Decode one Chunk record's content; raise on anything malformed."""
    _, _, uncompressed_size, crc = _CHUNK_HEAD.unpack_from(content, 0)
    pos = _CHUNK_HEAD.size
    (n,) = struct.unpack_from("<I", content, pos)
    compression = content[pos + 4 : pos + 4 + n].decode()
    pos += 4 + n
    (size,) = struct.unpack_from("<Q", content, pos)
    pos += 8
    if pos + size != len(content):
        msg = f"chunk data of {size} bytes do not fill the record"
        raise ValueError(msg)
    raw = decompress(content[pos:], compression, uncompressed_size, crc)
    schemas: dict[int, bytes] = {}
    channels: dict[int, bytes] = {}
    index: dict[int, list[tuple[int, int]]] = {}
    at = 0
    while at < len(raw):
        op, length = _RECORD.unpack_from(raw, at)
        body_at = at + _RECORD.size
        if body_at + length > len(raw):
            msg = f"record at {at} runs past the chunk's end"
            raise ValueError(msg)
        body = raw[body_at : body_at + length]
        if op == _SCHEMA:
            schemas[struct.unpack_from("<H", body)[0]] = body
        elif op == _CHANNEL:
            channels[struct.unpack_from("<H", body)[0]] = body
        elif op == _MESSAGE:
            channel, _, log_time, _ = _MESSAGE_HEAD.unpack_from(body)
            index.setdefault(channel, []).append((log_time, at))
        at = body_at + length
    times = [t for v in index.values() for t, _ in v]
    span = ChunkSpan(
        0,
        0,
        compression,
        size,
        uncompressed_size,
        min(times, default=0),
        max(times, default=0),
        index,
    )
    return span, schemas, channels


def scan_mcap(path: Path | str) -> McapScan:
    """Walk an MCAP file's data section and keep every whole, readable record.

    Raises:
        BagError: the file cannot be read or does not begin with the MCAP magic.
    """
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as err:
        msg = f"{path}: cannot read ({err.strerror})"
        raise BagError(msg) from err
    with f:
        size = path.stat().st_size
        if f.read(8) != MAGIC:
            msg = f"{path}: not an MCAP file (no MCAP magic at its start)"
            raise BagError(msg)
        scan = McapScan(path, size, data_end=8)
        _scan_records(f, scan)
    return scan


def _scan_records(f: BinaryIO, scan: McapScan) -> None:
    pos = 8
    while True:
        scan.data_end = pos
        if pos == scan.file_size:
            scan.reason = f"the file ends after byte {pos} without a footer"
            return
        head = f.read(_RECORD.size)
        if len(head) < _RECORD.size:
            scan.reason = f"cut inside a record header at byte {pos}"
            return
        op, length = _RECORD.unpack(head)
        end = pos + _RECORD.size + length
        if end > scan.file_size:
            scan.cut_chunk = op == _CHUNK
            kind = "chunk" if op == _CHUNK else f"record 0x{op:02x}"
            scan.reason = f"cut inside a {kind} at byte {pos} ({end - scan.file_size} bytes short)"
            return
        if op in (_DATA_END, _FOOTER):
            scan.complete = True
            scan.reason = "the data are whole; the summary or footer is damaged"
            return
        if op in (_HEADER, _SCHEMA, _CHANNEL, _MESSAGE, _CHUNK):
            content = f.read(length)
            try:
                _keep_record(op, content, pos, scan)
            except Exception as err:  # a damaged record of whole length: skip it, count it
                if op != _CHUNK:
                    scan.reason = f"damaged record 0x{op:02x} at byte {pos} ({err})"
                    return
                scan.corrupt_chunks += 1
                scan.corrupt_bytes += end - pos
                logger.debug("%s: unreadable chunk at byte %d skipped: %s", scan.path, pos, err)
        else:
            f.seek(end)
        pos = end


def _keep_record(op: int, content: bytes, pos: int, scan: McapScan) -> None:
    if op == _HEADER:
        scan.header = content
    elif op == _SCHEMA:
        scan.schemas[struct.unpack_from("<H", content)[0]] = content
    elif op == _CHANNEL:
        scan.channels[struct.unpack_from("<H", content)[0]] = content
    elif op == _MESSAGE:
        channel, _, log_time, _ = _MESSAGE_HEAD.unpack_from(content)
        scan.loose.append((int(log_time), int(channel), content))
    else:
        span, schemas, channels = _parse_chunk(content)
        scan.schemas.update(schemas)
        scan.channels.update(channels)
        scan.chunks.append(
            ChunkSpan(
                pos,
                _RECORD.size + len(content),
                span.compression,
                span.compressed_size,
                span.uncompressed_size,
                span.start_ns,
                span.end_ns,
                span.index,
            )
        )


def _record(op: int, content: bytes) -> bytes:
    return _RECORD.pack(op, len(content)) + content


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<I", len(data)) + data


def _write_chunk(dst: BinaryIO, chunk_record: bytes, span: ChunkSpan) -> bytes:
    """Write a chunk record and its message indexes; return its ChunkIndex content."""
    chunk_start = dst.tell()
    dst.write(chunk_record)
    chunk_end = dst.tell()
    offsets = []
    for channel in sorted(span.index):
        entries = sorted(span.index[channel])
        offsets.append((channel, dst.tell()))
        body = struct.pack("<HI", channel, 16 * len(entries))
        body += b"".join(struct.pack("<QQ", t, o) for t, o in entries)
        dst.write(_record(_MESSAGE_INDEX, body))
    index_end = dst.tell()
    return (
        struct.pack("<QQQQ", span.start_ns, span.end_ns, chunk_start, chunk_end - chunk_start)
        + struct.pack("<I", 10 * len(offsets))
        + b"".join(struct.pack("<HQ", c, o) for c, o in offsets)
        + struct.pack("<Q", index_end - chunk_end)
        + _string(span.compression)
        + struct.pack("<QQ", span.compressed_size, span.uncompressed_size)
    )


def _loose_chunk(scan: McapScan) -> tuple[bytes, ChunkSpan]:
    """Pack the messages found outside chunks into one uncompressed chunk."""
    raw = BytesIO()
    index: dict[int, list[tuple[int, int]]] = {}
    for log_time, channel, content in sorted(scan.loose, key=lambda x: x[0]):
        index.setdefault(channel, []).append((log_time, raw.tell()))
        raw.write(_record(_MESSAGE, content))
    data = raw.getvalue()
    t0, t1 = min(x[0] for x in scan.loose), max(x[0] for x in scan.loose)
    body = _CHUNK_HEAD.pack(t0, t1, len(data), 0) + _string("") + struct.pack("<Q", len(data))
    span = ChunkSpan(0, 0, "", len(data), len(data), t0, t1, index)
    return _record(_CHUNK, body + data), span


def write_clean(scan: McapScan, out: Path | str) -> None:
    """Write the scan's whole chunks (verbatim) into a new, indexed MCAP file.

    Raises:
        BagError: the output cannot be written.
    """
    out = Path(out)
    try:
        with scan.path.open("rb") as src, out.open("wb") as dst:
            _write_clean(scan, src, dst)
    except OSError as err:
        msg = f"{out}: cannot write the recovered bag ({err.strerror})"
        raise BagError(msg) from err


def _write_clean(scan: McapScan, src: BinaryIO, dst: BinaryIO) -> None:
    dst.write(MAGIC)
    header = scan.header or (_string("ros2") + _string("percept-recover"))
    dst.write(_record(_HEADER, header))
    meta = b"".join(_record(_SCHEMA, s) for _, s in sorted(scan.schemas.items()))
    meta += b"".join(_record(_CHANNEL, c) for _, c in sorted(scan.channels.items()))
    dst.write(meta)
    indexes: list[bytes] = []
    counts: dict[int, int] = dict.fromkeys(scan.channels, 0)
    for span in scan.chunks:
        src.seek(span.start)
        indexes.append(_write_chunk(dst, src.read(span.length), span))
    spans = list(scan.chunks)
    if scan.loose:
        record, span = _loose_chunk(scan)
        indexes.append(_write_chunk(dst, record, span))
        spans.append(span)
    for span in spans:
        for channel, entries in span.index.items():
            counts[channel] = counts.get(channel, 0) + len(entries)
    dst.write(_record(_DATA_END, struct.pack("<I", 0)))
    summary_start = dst.tell()
    dst.write(meta)
    dst.write(b"".join(_record(_CHUNK_INDEX, c) for c in indexes))
    timed = [s for s in spans if s.message_count]
    stats = struct.pack(
        "<QHIIIIQQ",
        sum(counts.values()),
        len(scan.schemas),
        len(scan.channels),
        0,
        0,
        len(spans),
        min((s.start_ns for s in timed), default=0),
        max((s.end_ns for s in timed), default=0),
    )
    stats += struct.pack("<I", 10 * len(counts))
    stats += b"".join(struct.pack("<HQ", c, n) for c, n in sorted(counts.items()))
    dst.write(_record(_STATISTICS, stats))
    dst.write(_record(_FOOTER, struct.pack("<QQI", summary_start, 0, 0)))
    dst.write(MAGIC)


def summary_chunks(path: Path | str) -> list[tuple[str, int, int]] | None:
    """Every chunk's ``(compression, compressed_size, uncompressed_size)``.

    Read from the summary of an intact MCAP file; None when it has no readable summary.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            if size < 8 + 37 + 8:
                return None
            f.seek(size - 37)
            tail = f.read(37)
            if tail[-8:] != MAGIC or tail[0] != _FOOTER:
                return None
            (summary_start,) = struct.unpack_from("<Q", tail, 9)
            if not 8 < summary_start < size - 37:
                return None
            f.seek(summary_start)
            summary = f.read(size - 37 - summary_start)
    except OSError:
        return None
    out = []
    at = 0
    try:
        while at + _RECORD.size <= len(summary):
            op, length = _RECORD.unpack_from(summary, at)
            body = summary[at + _RECORD.size : at + _RECORD.size + length]
            if op == _CHUNK_INDEX:
                (n,) = struct.unpack_from("<I", body, 32)
                pos = 36 + n + 8
                (m,) = struct.unpack_from("<I", body, pos)
                compression = body[pos + 4 : pos + 4 + m].decode()
                csize, usize = struct.unpack_from("<QQ", body, pos + 4 + m)
                out.append((compression, int(csize), int(usize)))
            at += _RECORD.size + length
    except (struct.error, UnicodeDecodeError):
        return None
    return out


def mcap_files(path: Path) -> list[Path]:
    """The MCAP files of a bag, in order.

    The file itself, or a rosbag2 folder's files: metadata.yaml's ``relative_file_paths``,
    else the folder's ``*.mcap`` by their trailing index.
    """
    if path.is_file():
        return [path]
    listed = _metadata(path).get("relative_file_paths")
    if isinstance(listed, list) and listed:
        files = [path / Path(str(x)).name for x in listed]
        return [f for f in files if f.suffix == ".mcap" and f.exists()]

    def order(p: Path) -> tuple[int, str]:
        tail = p.stem.rsplit("_", 1)[-1]
        return (int(tail) if tail.isdigit() else -1, p.name)

    return sorted(path.glob("*.mcap"), key=order)


def _metadata(folder: Path) -> dict[str, object]:
    import yaml

    try:
        doc = yaml.safe_load((folder / "metadata.yaml").read_text())
        info = doc["rosbag2_bagfile_information"]
    except Exception:  # missing or damaged metadata: the folder's files decide
        return {}
    return dict(info) if isinstance(info, dict) else {}


def _readable(path: Path) -> bool:
    from rosbags.rosbag2.storage_mcap import McapReader

    reader = McapReader(path)
    try:
        reader.open()
    except Exception:
        return False
    reader.close()
    return True


def _scans(path: Path) -> Iterator[tuple[Path, McapScan | None]]:
    """Each MCAP file of the bag with its scan when it needs recovery (None: intact)."""
    files = mcap_files(path)
    if not files:
        msg = f"{path}: no MCAP files to recover"
        raise BagError(msg)
    for file in files:
        yield file, (None if _readable(file) else scan_mcap(file))


def recover_for_reading(path: Path, workdir: Path) -> tuple[list[Path], RecoveryReport]:
    """Recovered copies (in ``workdir``) of a bag's damaged MCAP files, with its intact ones.

    Args:
        path: an MCAP file or a rosbag2 folder of MCAP files.
        workdir: an empty folder for the recovered copies.

    Returns:
        (the files to read in order, the report).

    Raises:
        BagError: no MCAP file, or one that is not an MCAP at all.
    """
    paths: list[Path] = []
    scans: list[McapScan] = []
    intact_messages = 0
    intact_chunks = 0
    for i, (file, scan) in enumerate(_scans(path)):
        if scan is None:
            paths.append(file)
            chunks = summary_chunks(file)
            intact_chunks += len(chunks or [])
            intact_messages += _message_count(file)
            continue
        out = workdir / f"{i:04d}_{file.name}"
        write_clean(scan, out)
        paths.append(out)
        scans.append(scan)
    kept = intact_messages + sum(s.message_count for s in scans)
    expected = _metadata(path).get("message_count") if path.is_dir() else None
    lost_messages = None
    if isinstance(expected, int) and expected >= kept:
        lost_messages = expected - kept
    report = RecoveryReport(
        path=path,
        files=len(paths),
        damaged=tuple(s.path.name for s in scans),
        messages=kept,
        chunks=intact_chunks + sum(len(s.chunks) for s in scans),
        lost_bytes=sum(s.lost_bytes for s in scans),
        lost_chunks=sum(s.lost_chunks for s in scans),
        lost_messages=lost_messages,
        reasons=tuple(s.reason for s in scans),
    )
    return paths, report


def _message_count(file: Path) -> int:
    from rosbags.rosbag2.storage_mcap import McapReader

    reader = McapReader(file)
    reader.open()
    try:
        return int(reader.metadata.message_count)
    finally:
        reader.close()


def recover_bag(src: Path | str, out: Path | str, *, overwrite: bool = False) -> RecoveryReport:
    """Write a clean bag from a damaged one, as ``mcap recover`` does.

    An MCAP file becomes an MCAP file holding its whole chunks verbatim (compression
    kept). A rosbag2 folder is read through its recovered files and written with
    ``BagWriter`` (``out`` ending in ``.mcap``: one file; else a folder).

    Raises:
        BagError: the input is not a bag of MCAP files, or the output exists.
    """
    src, out = Path(src), Path(out)
    if not src.exists():
        msg = f"{src}: no such bag"
        raise BagError(msg)
    if out.exists():
        if not overwrite:
            msg = f"{out}: exists already (pass overwrite=True / --force)"
            raise BagError(msg)
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    if src.is_file():
        scan = scan_mcap(src)
        write_clean(scan, out)
        return RecoveryReport(
            path=src,
            files=1,
            damaged=() if scan.complete and not scan.lost_bytes else (src.name,),
            messages=scan.message_count,
            chunks=len(scan.chunks),
            lost_bytes=scan.lost_bytes,
            lost_chunks=scan.lost_chunks,
            lost_messages=None,
            reasons=(scan.reason,),
        )
    from percept.io.bag import BagReader, BagWriter

    with BagReader(src) as bag, BagWriter(out) as writer:
        for m in bag.messages():
            assert m.raw is not None
            writer.write(m.topic, m.msgtype, m.log_time_ns, m.raw)
        report = bag.recovery
    if report is None:
        n = sum(writer.counts.values())
        report = RecoveryReport(src, len(mcap_files(src)), (), n, 0, 0, 0, 0, ())
    return report
