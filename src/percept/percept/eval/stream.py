"""Reading the bags for ``percept eval``: decoding, merging by receive time, pairing by stamp."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from percept import codecs
from percept.domain import CameraInfo
from percept.errors import CodecError
from percept.io.bag import BagMessage, BagReader
from percept.io.typestore import get_typestore

if TYPE_CHECKING:
    from percept.eval.metrics.base import Collector

__all__ = ["StampJoin", "decode", "first_camera_info", "merged_messages", "stream"]

logger = logging.getLogger(__name__)


def decode(m: BagMessage) -> object:
    """The domain object of a bag message (see :func:`percept.codecs.decode`).

    Raises:
        CodecError: the message cannot be decoded.
    """
    msg = m.msg if m.raw is None else get_typestore().deserialize_cdr(m.raw, m.msgtype)
    return codecs.decode(m.msgtype, msg)


def first_camera_info(reader: BagReader, topic: str) -> CameraInfo | None:
    """The first decodable camera_info of ``topic`` (calibration does not change)."""
    for m in reader.messages([topic]):
        try:
            info = decode(m)
        except CodecError:
            continue
        if isinstance(info, CameraInfo) and info.model.is_calibrated:
            return info
    return None


class StampJoin:
    """Pairs ground-truth and run frames by header stamp while the bags stream.

    A frame waits in its side's pool until a frame of the other side has the same stamp
    (within ``max_diff_ns``). Once the other side has moved ``window_ns`` past it in
    stamp time (stamps per side increase), it cannot be paired any more and is dropped,
    so the pools stay small when the two bags interleave.
    """

    def __init__(self, max_diff_ns: int, window_ns: int) -> None:
        self.max_diff_ns = max_diff_ns
        self.window_ns = window_ns
        self.pools: dict[str, dict[int, object]] = {"gt": {}, "run": {}}
        self.unmatched = {"gt": 0, "run": 0}

    def add(self, side: str, stamp: int, obj: object) -> tuple[object, object] | None:
        """Add a frame of ``side`` (``gt`` or ``run``); returns (gt, run) when paired."""
        other_side = "run" if side == "gt" else "gt"
        other = self.pools[other_side]
        stale = [s for s in other if s < stamp - self.window_ns]
        for s in stale:
            del other[s]
        self.unmatched[other_side] += len(stale)
        match = stamp if stamp in other else min(other, key=lambda s: abs(s - stamp), default=None)
        if match is not None and abs(match - stamp) <= self.max_diff_ns:
            partner = other.pop(match)
            return (obj, partner) if side == "gt" else (partner, obj)
        self.pools[side][stamp] = obj
        return None

    def finish(self) -> None:
        """Count what is left as unmatched."""
        for side, pool in self.pools.items():
            self.unmatched[side] += len(pool)
            pool.clear()


def merged_messages(
    readers: Sequence[tuple[BagReader, list[str]]],
) -> Iterator[tuple[int, BagMessage]]:
    """Messages of several open bags merged by receive time: (reader index, message)."""
    streams = [
        ((m.log_time_ns, i, m) for m in reader.messages(topics))
        for i, (reader, topics) in enumerate(readers)
        if topics
    ]
    for _, i, m in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield i, m


def stream(
    readers: Sequence[tuple[BagReader, list[str]]],
    by_topic: Mapping[str, str],
    sinks: Mapping[str, Sequence[Collector]],
) -> dict[str, int]:
    """Decode the messages of the bags in receive-time order and hand them to collectors.

    Args:
        readers: open bags and the topics to read from each.
        by_topic: topic -> input key.
        sinks: input key -> collectors taking it.

    Returns:
        topic -> messages that could not be decoded (or converted by a collector), in the
        order the topics first had one.
    """
    undecodable: dict[str, int] = {}
    for _, m in merged_messages(readers):
        key = by_topic.get(m.topic)
        if key is None:
            continue
        try:
            obj = decode(m)
        except CodecError as err:
            count = undecodable.get(m.topic, 0)
            if count == 0:
                logger.warning("%s: undecodable message skipped: %s", m.topic, err)
            undecodable[m.topic] = count + 1
            continue
        for sink in sinks.get(key, ()):
            try:
                sink.add(key, obj)
            except CodecError:
                undecodable[m.topic] = undecodable.get(m.topic, 0) + 1
    return undecodable
