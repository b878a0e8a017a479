"""Codec of diagnostic_msgs/DiagnosticArray <-> :class:`percept.domain.DiagnosticArray`."""

from __future__ import annotations

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    as_int,
    as_seq,
    check_type,
    get,
    get_str,
    read_header,
    write_header,
)
from percept.domain import (
    DiagnosticArray,
    DiagnosticStatus,
)
from percept.errors import CodecError
from percept.msgtypes import DIAGNOSTIC_ARRAY

__all__ = ["DIAGNOSTIC_ARRAY", "decode_diagnostic_array", "encode_diagnostic_array"]


def _level(value: object, where: str) -> int:
    """A ROS ``byte``: int (rosbags) or bytes of length 1 (rclpy)."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 1:
            msg = f"{where}: expected one byte, got {len(value)}"
            raise CodecError(msg)
        return value[0]
    return as_int(value, where, 0, 255)


def _read_diagnostic_array(msg: object, where: str) -> DiagnosticArray:
    statuses = []
    for i, status in enumerate(as_seq(get(msg, "status", where), f"{where}.status")):
        sw = f"{where}.status[{i}]"
        values = tuple(
            (get_str(kv, "key", f"{sw}.values[{j}]"), get_str(kv, "value", f"{sw}.values[{j}]"))
            for j, kv in enumerate(as_seq(get(status, "values", sw), f"{sw}.values"))
        )
        statuses.append(
            DiagnosticStatus(
                level=_level(get(status, "level", sw), f"{sw}.level"),
                name=get_str(status, "name", sw),
                message=get_str(status, "message", sw),
                hardware_id=get_str(status, "hardware_id", sw),
                values=values,
            )
        )
    return DiagnosticArray(header=read_header(msg, where), status=tuple(statuses))


def _write_diagnostic_array(array: DiagnosticArray, factory: MessageFactory, where: str) -> object:
    check_type(array, DiagnosticArray, where)
    statuses = []
    for i, status in enumerate(array.status):
        sw = f"{where}.status[{i}]"
        check_type(status, DiagnosticStatus, sw)
        statuses.append(
            factory.new(
                "diagnostic_msgs/msg/DiagnosticStatus",
                level=factory.byte(as_int(status.level, f"{sw}.level", 0, 255)),
                name=str(status.name),
                message=str(status.message),
                hardware_id=str(status.hardware_id),
                values=[
                    factory.new("diagnostic_msgs/msg/KeyValue", key=str(k), value=str(v))
                    for k, v in status.values
                ],
            )
        )
    return factory.new(
        DIAGNOSTIC_ARRAY, header=write_header(array.header, factory, where), status=statuses
    )


decode_diagnostic_array, encode_diagnostic_array = codec_functions(
    DIAGNOSTIC_ARRAY,
    "diagnostic_array",
    _read_diagnostic_array,
    _write_diagnostic_array,
    """Decode a diagnostic_msgs/DiagnosticArray.

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a DiagnosticArray as diagnostic_msgs/DiagnosticArray.

    Raises:
        CodecError: wrong object types, level outside 0..255.
    """,
)
