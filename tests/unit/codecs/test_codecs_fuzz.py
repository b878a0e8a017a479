"""Seeded fuzzing of percept.codecs: malformed messages decode or raise CodecError only."""

from __future__ import annotations

import array
import copy
from types import SimpleNamespace

import numpy as np
import pytest

from percept.codecs import SUPPORTED_TYPES, decode, encode
from percept.domain import Header
from percept.errors import CodecError
from percept.io.typestore import RosbagsFactory, get_typestore

from ...codec_samples import fuzz_samples
from ...plain_factory import PlainFactory

VARIANTS_PER_TYPE = 1000
CDR_VARIANTS_PER_TYPE = 200
HEADER = Header(1_000_000_123, "frame")


SAMPLES = fuzz_samples(HEADER)

ENCODINGS = ["mono8", "bgr8", "rgb8", "32FC1", "16UC1", "8UC3", "bayer_rggb8", "64FC7", "x", ""]


def _slots(node: object, out: list[tuple[object, str | int]]) -> None:
    """Every (container, key) in a message tree: attributes and list items."""
    if isinstance(node, SimpleNamespace):
        for name, value in vars(node).items():
            out.append((node, name))
            _slots(value, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((node, i))
            _slots(value, out)


def _random_value(rng: np.random.Generator, old: object) -> object:
    choice = int(rng.integers(0, 16))
    if choice == 0:
        return int(rng.integers(-(2**40), 2**40))
    if choice == 1:
        return int(rng.integers(-3, 64))
    if choice == 2:
        return float(rng.choice([np.nan, np.inf, -1.0, 0.5, 1e300]))
    if choice == 3:
        return "".join(rng.choice(list("abc8UC1;jpeg "), size=int(rng.integers(0, 8))))
    if choice == 4:
        return None
    if choice == 5:
        return rng.bytes(int(rng.integers(0, 80)))
    if choice == 6:
        return [int(v) for v in rng.integers(-300, 300, size=int(rng.integers(0, 12)))]
    if choice == 7:
        return array.array("d", rng.normal(size=int(rng.integers(0, 40))))
    if choice == 8:
        return rng.normal(size=(2, 2))
    if choice == 9:
        return SimpleNamespace()
    if choice == 10:
        return str(rng.choice(ENCODINGS))
    if choice == 11 and hasattr(old, "__len__") and not isinstance(old, SimpleNamespace):
        return old[: int(rng.integers(0, max(len(old), 1)))]  # type: ignore[index]
    if choice == 12 and isinstance(old, (array.array, bytes, list)):
        return old + old[: int(rng.integers(0, len(old) + 1))]
    if choice == 13 and isinstance(old, (int, np.integer)) and not isinstance(old, bool):
        return int(old) + int(rng.integers(-3, 4))
    if choice == 14:
        return True
    return rng.integers(0, 255, size=int(rng.integers(0, 80)), dtype=np.uint8)


def _mutate(rng: np.random.Generator, msg: object) -> object:
    mutated = copy.deepcopy(msg)
    for _ in range(int(rng.integers(1, 4))):
        slots: list[tuple[object, str | int]] = []
        _slots(mutated, slots)
        if not slots:
            break
        parent, key = slots[int(rng.integers(0, len(slots)))]
        if isinstance(parent, list):
            if rng.random() < 0.3:
                del parent[key]  # type: ignore[arg-type]
            else:
                parent[key] = _random_value(rng, parent[key])  # type: ignore[index]
        elif rng.random() < 0.15:
            delattr(parent, key)  # type: ignore[arg-type]
        else:
            setattr(parent, key, _random_value(rng, getattr(parent, key)))  # type: ignore[arg-type]
    return mutated


def _decode_or_codec_error(msgtype: str, msg: object) -> bool:
    try:
        decode(msgtype, msg)
    except CodecError:
        return False
    return True


def test_fuzz_samples_cover_every_supported_type() -> None:
    assert set(SAMPLES) == set(SUPPORTED_TYPES)


@pytest.mark.parametrize("msgtype", sorted(SAMPLES))
def test_decode_of_mutated_messages_raises_only_codec_error(msgtype: str) -> None:
    rng = np.random.default_rng(0)
    base = encode(msgtype, SAMPLES[msgtype], PlainFactory())
    assert _decode_or_codec_error(msgtype, base)
    outcomes = [
        _decode_or_codec_error(msgtype, _mutate(rng, base)) for _ in range(VARIANTS_PER_TYPE)
    ]
    assert any(outcomes), "no variant decoded: the decoder rejects even harmless mutations"
    assert not all(outcomes), "no variant was rejected: the mutations do not reach the decoder"


@pytest.mark.parametrize("msgtype", sorted(SAMPLES))
def test_decode_of_corrupted_cdr_raises_only_codec_error(msgtype: str) -> None:
    rng = np.random.default_rng(0)
    store = get_typestore()
    raw = store.serialize_cdr(encode(msgtype, SAMPLES[msgtype], RosbagsFactory()), msgtype)
    decoded = 0
    for _ in range(CDR_VARIANTS_PER_TYPE):
        data = bytearray(raw)
        for pos in rng.integers(4, len(data), size=int(rng.integers(1, 4))):
            data[pos] = int(rng.integers(0, 256))
        try:
            msg = store.deserialize_cdr(bytes(data), msgtype)
        except Exception:
            continue
        decoded += 1
        _decode_or_codec_error(msgtype, msg)
    assert decoded > 0
