"""Codec of visualization_msgs/MarkerArray (RViz markers) <-> :class:`MarkerArray`.

Registered in :mod:`percept.codecs`' table like every other type (``codecs.decode`` /
``codecs.encode`` reach it). RViz markers are output-only decoration, not sensor data;
the rules are those of the other codecs: fields read by name, every malformed input
raises :class:`percept.errors.CodecError` naming the field.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    as_flag,
    as_int,
    as_seq,
    check_type,
    get,
    get_float,
    get_str,
    read_header,
    read_pose,
    read_xyz,
    write_header,
    write_pose,
    write_vector,
)
from percept.domain import Marker, MarkerArray
from percept.errors import CodecError
from percept.msgtypes import MARKER_ARRAY

__all__ = ["MARKER_ARRAY", "decode_marker_array", "encode_marker_array"]

_MARKER: Final = "visualization_msgs/msg/Marker"
_INT32 = (-(2**31), 2**31 - 1)


def _read_color(msg: object, where: str) -> tuple[float, float, float, float]:
    r, g, b, a = (get_float(msg, name, where) for name in ("r", "g", "b", "a"))
    return (r, g, b, a)


def _duration_ns(msg: object, where: str) -> int:
    sec = as_int(get(msg, "sec", where), f"{where}.sec", *_INT32)
    nanosec = as_int(get(msg, "nanosec", where), f"{where}.nanosec", 0, 10**9 - 1)
    return sec * 10**9 + nanosec


def _read_marker(msg: object, where: str) -> Marker:
    points = [
        read_xyz(p, f"{where}.points[{i}]")
        for i, p in enumerate(as_seq(get(msg, "points", where), f"{where}.points"))
    ]
    colors = [
        _read_color(c, f"{where}.colors[{i}]")
        for i, c in enumerate(as_seq(get(msg, "colors", where), f"{where}.colors"))
    ]
    return Marker(
        header=read_header(msg, where),
        ns=get_str(msg, "ns", where),
        id=as_int(get(msg, "id", where), f"{where}.id", *_INT32),
        type=as_int(get(msg, "type", where), f"{where}.type", *_INT32),
        action=as_int(get(msg, "action", where), f"{where}.action", *_INT32),
        pose=read_pose(get(msg, "pose", where), f"{where}.pose"),
        scale_xyz=read_xyz(get(msg, "scale", where), f"{where}.scale"),
        color_rgba=_read_color(get(msg, "color", where), f"{where}.color"),
        lifetime_ns=_duration_ns(get(msg, "lifetime", where), f"{where}.lifetime"),
        frame_locked=as_flag(get(msg, "frame_locked", where), f"{where}.frame_locked"),
        points=np.array(points, dtype=np.float64).reshape(-1, 3),
        colors_rgba=np.array(colors, dtype=np.float32).reshape(-1, 4),
        text=get_str(msg, "text", where),
        mesh_resource=get_str(msg, "mesh_resource", where),
        mesh_use_embedded_materials=as_flag(
            get(msg, "mesh_use_embedded_materials", where),
            f"{where}.mesh_use_embedded_materials",
        ),
    )


def _read_marker_array(msg: object, where: str) -> MarkerArray:
    markers = as_seq(get(msg, "markers", where), f"{where}.markers")
    return MarkerArray(
        tuple(_read_marker(m, f"{where}.markers[{i}]") for i, m in enumerate(markers))
    )


def _write_color(rgba: npt.ArrayLike, factory: MessageFactory, where: str) -> object:
    values = np.asarray(rgba, dtype=np.float64).reshape(-1)
    if values.size != 4:
        msg = f"{where}: expected 4 values (r, g, b, a), got {values.size}"
        raise CodecError(msg)
    r, g, b, a = (float(v) for v in values)
    return factory.new("std_msgs/msg/ColorRGBA", r=r, g=g, b=b, a=a)


def _write_marker(marker: Marker, factory: MessageFactory, where: str) -> object:
    check_type(marker, Marker, where)
    points = np.asarray(marker.points, dtype=np.float64).reshape(-1, 3)
    colors = np.asarray(marker.colors_rgba, dtype=np.float64).reshape(-1, 4)
    sec, nanosec = divmod(int(marker.lifetime_ns), 10**9)
    return factory.new(
        _MARKER,
        header=write_header(marker.header, factory, where),
        ns=str(marker.ns),
        id=as_int(marker.id, f"{where}.id", *_INT32),
        type=as_int(marker.type, f"{where}.type", *_INT32),
        action=as_int(marker.action, f"{where}.action", *_INT32),
        pose=write_pose(marker.pose, factory),
        scale=write_vector("geometry_msgs/msg/Vector3", np.asarray(marker.scale_xyz), factory),
        color=_write_color(marker.color_rgba, factory, f"{where}.color_rgba"),
        lifetime=factory.new("builtin_interfaces/msg/Duration", sec=sec, nanosec=nanosec),
        frame_locked=bool(marker.frame_locked),
        points=[write_vector("geometry_msgs/msg/Point", p, factory) for p in points],
        colors=[_write_color(c, factory, f"{where}.colors_rgba") for c in colors],
        texture_resource="",
        texture=factory.new(
            "sensor_msgs/msg/CompressedImage",
            header=write_header(marker.header, factory, where),
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


def _write_marker_array(array: MarkerArray, factory: MessageFactory, where: str) -> object:
    check_type(array, MarkerArray, where)
    return factory.new(
        MARKER_ARRAY,
        markers=[
            _write_marker(m, factory, f"{where}.markers[{i}]") for i, m in enumerate(array.markers)
        ],
    )


decode_marker_array, encode_marker_array = codec_functions(
    MARKER_ARRAY,
    "marker_array",
    _read_marker_array,
    _write_marker_array,
    """Decode a visualization_msgs/MarkerArray.

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a MarkerArray as visualization_msgs/MarkerArray.

    Raises:
        CodecError: wrong object types, ids or types outside int32.
    """,
)
