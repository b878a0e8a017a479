"""Small synthetic bags for the bag and recovery tests."""

from __future__ import annotations

import struct
from pathlib import Path

from percept.io.bag import BagReader, BagWriter

STRING = "std_msgs/msg/String"

Message = tuple[str, int, bytes]


def string_cdr(text: str) -> bytes:
    """A std_msgs/String in CDR (little endian)."""
    data = text.encode() + b"\0"
    return b"\x00\x01\x00\x00" + struct.pack("<I", len(data)) + data


def messages(n: int, start_ns: int = 0) -> list[Message]:
    """``n`` messages on two topics at 1 kHz, each with its index in the text."""
    return [
        ("/b" if i % 3 == 0 else "/a", start_ns + 1_000_000 * i, string_cdr(f"msg {i:05d} " * 6))
        for i in range(n)
    ]


def write(path: Path, msgs: list[Message], *, compression: str, chunk_bytes: int = 2048) -> Path:
    """Write ``msgs`` with ``BagWriter`` in small chunks."""
    with BagWriter(path, compression=compression, chunk_bytes=chunk_bytes) as w:
        for topic, t, raw in msgs:
            w.write(topic, STRING, t, raw)
    return path


def read(path: Path) -> list[Message]:
    """Every message of a bag, in time order."""
    with BagReader(path) as bag:
        return [(m.topic, m.log_time_ns, m.raw or b"") for m in bag.messages()]
