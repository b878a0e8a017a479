"""Codec of visualization_msgs/MarkerArray (RViz markers) <-> :class:`MarkerArray`.

Registered in :mod:`percept.codecs`' table like every other type (``codecs.decode`` /
``codecs.encode`` reach it); kept in its own module because RViz markers are output-only
decoration, not sensor data. Same rules as the other codecs: fields read by name, every
malformed input raises :class:`percept.errors.CodecError` naming the field.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from percept.codecs import (
    MessageFactory,
    _check_type,
    _enc_header,
    _enc_pose,
    _enc_vector,
    _flag,
    _get,
    _getf,
    _gets,
    _header,
    _int,
    _pose,
    _seq,
    _xyz,
)
from percept.domain import Marker, MarkerArray
from percept.errors import CodecError
from percept.errors import codec_guard as _guard

__all__ = ["MARKER_ARRAY", "decode_marker_array", "encode_marker_array"]

MARKER_ARRAY: Final = "visualization_msgs/msg/MarkerArray"
_MARKER: Final = "visualization_msgs/msg/Marker"
_INT32 = (-(2**31), 2**31 - 1)


def _color(msg: object, where: str) -> tuple[float, float, float, float]:
    r, g, b, a = (_getf(msg, name, where) for name in ("r", "g", "b", "a"))
    return (r, g, b, a)


def _duration_ns(msg: object, where: str) -> int:
    sec = _int(_get(msg, "sec", where), f"{where}.sec", *_INT32)
    nanosec = _int(_get(msg, "nanosec", where), f"{where}.nanosec", 0, 10**9 - 1)
    return sec * 10**9 + nanosec


def _decode_marker(msg: object, where: str) -> Marker:
    points = [
        _xyz(p, f"{where}.points[{i}]")
        for i, p in enumerate(_seq(_get(msg, "points", where), f"{where}.points"))
    ]
    colors = [
        _color(c, f"{where}.colors[{i}]")
        for i, c in enumerate(_seq(_get(msg, "colors", where), f"{where}.colors"))
    ]
    return Marker(
        header=_header(msg, where),
        ns=_gets(msg, "ns", where),
        id=_int(_get(msg, "id", where), f"{where}.id", *_INT32),
        type=_int(_get(msg, "type", where), f"{where}.type", *_INT32),
        action=_int(_get(msg, "action", where), f"{where}.action", *_INT32),
        pose=_pose(_get(msg, "pose", where), f"{where}.pose"),
        scale_xyz=_xyz(_get(msg, "scale", where), f"{where}.scale"),
        color_rgba=_color(_get(msg, "color", where), f"{where}.color"),
        lifetime_ns=_duration_ns(_get(msg, "lifetime", where), f"{where}.lifetime"),
        frame_locked=_flag(_get(msg, "frame_locked", where), f"{where}.frame_locked"),
        points=np.array(points, dtype=np.float64).reshape(-1, 3),
        colors_rgba=np.array(colors, dtype=np.float32).reshape(-1, 4),
        text=_gets(msg, "text", where),
        mesh_resource=_gets(msg, "mesh_resource", where),
        mesh_use_embedded_materials=_flag(
            _get(msg, "mesh_use_embedded_materials", where),
            f"{where}.mesh_use_embedded_materials",
        ),
    )


@_guard(MARKER_ARRAY, "decode")
def decode_marker_array(msg: object) -> MarkerArray:
    """Decode a visualization_msgs/MarkerArray.

    Raises:
        CodecError: missing or mistyped fields.
    """
    where = MARKER_ARRAY
    markers = _seq(_get(msg, "markers", where), f"{where}.markers")
    return MarkerArray(
        tuple(_decode_marker(m, f"{where}.markers[{i}]") for i, m in enumerate(markers))
    )


def _enc_color(rgba: npt.ArrayLike, factory: MessageFactory, where: str) -> object:
    values = np.asarray(rgba, dtype=np.float64).reshape(-1)
    if values.size != 4:
        msg = f"{where}: expected 4 values (r, g, b, a), got {values.size}"
        raise CodecError(msg)
    r, g, b, a = (float(v) for v in values)
    return factory.new("std_msgs/msg/ColorRGBA", r=r, g=g, b=b, a=a)


def _enc_marker(marker: Marker, factory: MessageFactory, where: str) -> object:
    _check_type(marker, Marker, where)
    points = np.asarray(marker.points, dtype=np.float64).reshape(-1, 3)
    colors = np.asarray(marker.colors_rgba, dtype=np.float64).reshape(-1, 4)
    sec, nanosec = divmod(int(marker.lifetime_ns), 10**9)
    return factory.new(
        _MARKER,
        header=_enc_header(marker.header, factory, where),
        ns=str(marker.ns),
        id=_int(marker.id, f"{where}.id", *_INT32),
        type=_int(marker.type, f"{where}.type", *_INT32),
        action=_int(marker.action, f"{where}.action", *_INT32),
        pose=_enc_pose(marker.pose, factory),
        scale=_enc_vector("geometry_msgs/msg/Vector3", np.asarray(marker.scale_xyz), factory),
        color=_enc_color(marker.color_rgba, factory, f"{where}.color_rgba"),
        lifetime=factory.new("builtin_interfaces/msg/Duration", sec=sec, nanosec=nanosec),
        frame_locked=bool(marker.frame_locked),
        points=[_enc_vector("geometry_msgs/msg/Point", p, factory) for p in points],
        colors=[_enc_color(c, factory, f"{where}.colors_rgba") for c in colors],
        texture_resource="",
        texture=factory.new(
            "sensor_msgs/msg/CompressedImage",
            header=_enc_header(marker.header, factory, where),
            format="",
            data=factory.uint8_array(b""),
        ),
        uv_coordinates=[],
        text=str(marker.text),
        mesh_resource=str(marker.mesh_resource),
        mesh_file=factory.new(
            "visualization_msgs/msg/MeshFile", filename="", data=factory.uint8_array(b"")
        ),
        mesh_use_embedded_materials=bool(marker.mesh_use_embedded_materials),
    )


@_guard(MARKER_ARRAY, "encode")
def encode_marker_array(array: MarkerArray, factory: MessageFactory) -> object:
    """Encode a MarkerArray as visualization_msgs/MarkerArray.

    Raises:
        CodecError: wrong object types, ids or types outside int32.
    """
    where = MARKER_ARRAY
    _check_type(array, MarkerArray, where)
    return factory.new(
        MARKER_ARRAY,
        markers=[
            _enc_marker(m, factory, f"{where}.markers[{i}]") for i, m in enumerate(array.markers)
        ],
    )
