"""Codec of nav_msgs/OccupancyGrid <-> :class:`percept.domain.OccupancyGrid`."""

from __future__ import annotations

import numpy as np

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    bytes_view,
    check_type,
    get,
    get_float,
    get_uint,
    read_header,
    read_pose,
    read_stamp_ns,
    write_header,
    write_pose,
    write_time,
)
from percept.domain import (
    OccupancyGrid,
)
from percept.errors import CodecError
from percept.msgtypes import OCCUPANCY_GRID

__all__ = ["OCCUPANCY_GRID", "decode_occupancy_grid", "encode_occupancy_grid"]


def _read_occupancy_grid(msg: object, where: str) -> OccupancyGrid:
    info = get(msg, "info", where)
    iw = f"{where}.info"
    width = get_uint(info, "width", iw)
    height = get_uint(info, "height", iw)
    data = bytes_view(get(msg, "data", where), f"{where}.data", np.int8)
    if data.size != width * height:
        msg_ = (
            f"{where}.data: expected {width * height} cells (info.width {width} x "
            f"info.height {height}), got {data.size}"
        )
        raise CodecError(msg_)
    return OccupancyGrid(
        header=read_header(msg, where),
        resolution_m=get_float(info, "resolution", iw),
        origin=read_pose(get(info, "origin", iw), f"{iw}.origin"),
        data=data.reshape(height, width),  # type: ignore[arg-type]
        map_load_time_ns=read_stamp_ns(get(info, "map_load_time", iw), f"{iw}.map_load_time"),
    )


def _write_occupancy_grid(grid: OccupancyGrid, factory: MessageFactory, where: str) -> object:
    check_type(grid, OccupancyGrid, where)
    data = np.asarray(grid.data)
    if data.ndim != 2 or data.dtype != np.int8:
        msg = f"{where}.data: expected (H, W) int8, got {data.shape} {data.dtype}"
        raise CodecError(msg)
    height, width = data.shape
    return factory.new(
        OCCUPANCY_GRID,
        header=write_header(grid.header, factory, where),
        info=factory.new(
            "nav_msgs/msg/MapMetaData",
            map_load_time=write_time(grid.map_load_time_ns, factory, f"{where}.info"),
            resolution=float(grid.resolution_m),
            width=int(width),
            height=int(height),
            origin=write_pose(grid.origin, factory),
        ),
        data=factory.int8_array(np.ascontiguousarray(data).reshape(-1)),
    )


decode_occupancy_grid, encode_occupancy_grid = codec_functions(
    OCCUPANCY_GRID,
    "occupancy_grid",
    _read_occupancy_grid,
    _write_occupancy_grid,
    """Decode a nav_msgs/OccupancyGrid.

    Returns:
        OccupancyGrid with ``data`` (H, W) int8 (a view of ``msg.data`` when possible).

    Raises:
        CodecError: ``data`` size not width x height, missing or mistyped fields.
    """,
    """Encode an OccupancyGrid as nav_msgs/OccupancyGrid (``resolution`` is float32).

    Raises:
        CodecError: ``data`` not (H, W) int8.
    """,
)
