"""What the synchronizer tests share: a collecting callback and random runs against an oracle."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from percept.units import NS_PER_MS

__all__ = ["MS", "Collector", "check_random_run"]

MS = NS_PER_MS


class Collector:
    """Callback of a synchronizer under test: keeps every emitted set."""

    def __init__(self) -> None:
        self.sets: list[tuple[object, ...]] = []

    def __call__(self, msgs: tuple[object, ...]) -> None:
        self.sets.append(msgs)


class _Synchronizer(Protocol):
    def add(self, index: int, stamp_ns: int, msg: object) -> None: ...

    def queued(self) -> tuple[int, ...]: ...


class _Oracle(Protocol):
    queues: list[dict[int, object]]
    out: list[tuple[object, ...]]

    def add(self, msg: object, stamp: int, my_queue_index: int) -> None: ...


def check_random_run(
    rng: np.random.Generator,
    sync: _Synchronizer,
    got: Collector,
    oracle: _Oracle,
    *,
    steps: int,
    stamps: int,
) -> None:
    """Feed both the same ``steps`` random messages; they must emit and queue alike.

    Each message goes to a random input with a random stamp below ``stamps`` (small
    integers, so that ties and duplicates are common).
    """
    n_inputs = len(oracle.queues)
    for step in range(steps):
        index = int(rng.integers(0, n_inputs))
        stamp = int(rng.integers(0, stamps))
        sync.add(index, stamp, (index, stamp, step))
        oracle.add((index, stamp, step), stamp, index)
    assert got.sets == oracle.out
    assert sync.queued() == tuple(len(q) for q in oracle.queues)
