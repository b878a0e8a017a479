"""Unit conversions shared across the layers: time is int nanoseconds (STYLE.md)."""

from __future__ import annotations

from typing import Final

__all__ = ["NS_PER_MS", "NS_PER_S"]

#: Nanoseconds per second: ``stamp_ns / NS_PER_S`` is seconds.
NS_PER_S: Final = 1_000_000_000
#: Nanoseconds per millisecond.
NS_PER_MS: Final = 1_000_000
