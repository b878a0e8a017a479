"""Malformed messages for fuzzing nodes: mutated fields and corrupt CDR bytes."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["JUNK", "corrupt_cdr", "mutate"]

#: Values that replace a message field: wrong types, out-of-range numbers, empty arrays.
JUNK: list[Any] = [
    None,
    -1,
    2**40,
    "",
    "???",
    1.5,
    float("nan"),
    [],
    [1, 2, 3],
    np.zeros(3),
    np.zeros(0, np.uint8),
    b"\x00" * 3,
    object(),
]


def _fields(msg: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(msg)] if dataclasses.is_dataclass(msg) else []


def mutate(msg: Any, rng: np.random.Generator, depth: int = 0) -> Any:
    """A copy of a rosbags message with one field replaced by junk, at any depth."""
    names = [n for n in _fields(msg) if n != "__msgtype__"]
    if not names:
        return JUNK[rng.integers(len(JUNK))]
    name = names[rng.integers(len(names))]
    value = getattr(msg, name)
    if dataclasses.is_dataclass(value) and rng.random() < 0.6 and depth < 4:
        new = mutate(value, rng, depth + 1)
    elif isinstance(value, np.ndarray) and value.size and rng.random() < 0.5:
        choice = rng.integers(3)
        if choice == 0:
            new = value[: rng.integers(value.size)]  # truncated
        elif choice == 1:
            new = value.astype(np.float64) * np.nan if value.dtype.kind == "f" else value[::2]
        else:
            new = np.concatenate([value, value])
    elif isinstance(value, list) and value and rng.random() < 0.5:
        new = [mutate(value[0], rng, depth + 1), *value[1:]]
    else:
        new = JUNK[rng.integers(len(JUNK))]
    return dataclasses.replace(msg, **{name: new})


def corrupt_cdr(raw: bytes, rng: np.random.Generator) -> bytes:
    """CDR bytes truncated, or with up to eight bytes overwritten."""
    if rng.random() < 0.5:
        return raw[: rng.integers(len(raw))]
    data = bytearray(raw)
    for _ in range(1 + rng.integers(8)):
        data[rng.integers(len(data))] = int(rng.integers(256))
    return bytes(data)
