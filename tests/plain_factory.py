"""A message factory that mimics rclpy, shared by the codec tests."""

from __future__ import annotations

import array
from types import SimpleNamespace
from typing import Any

import numpy as np

from percept.io.typestore import get_typestore


class PlainFactory:
    """Mimics rclpy: checks field names, uint8[] as array('B'), float64[] as array('d')."""

    def new(self, msgtype: str, /, **fields: object) -> object:
        expected = {name for name, _ in get_typestore().fielddefs[msgtype][1]}
        assert set(fields) == expected, (msgtype, sorted(fields), sorted(expected))
        return SimpleNamespace(**fields)

    def uint8_array(self, buf: Any, /) -> object:
        out = array.array("B")
        out.frombytes(memoryview(np.ascontiguousarray(buf)).cast("B"))
        return out

    def int8_array(self, buf: Any, /) -> object:
        out = array.array("b")
        out.frombytes(memoryview(np.ascontiguousarray(buf)).cast("B"))
        return out

    def float_array(self, values: Any, /, *, fixed: bool) -> object:
        values = np.asarray(values, dtype=np.float64)
        return values.copy() if fixed else array.array("d", values.tobytes())

    def byte(self, value: int, /) -> object:
        return bytes([value])
