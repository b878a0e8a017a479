"""Codec of sensor_msgs/PointCloud2 <-> :class:`percept.domain.PointCloud`; PCL-layout clouds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    NATIVE_BIG,
    MessageFactory,
    as_flag,
    as_int,
    as_seq,
    bytes_view,
    check_type,
    get,
    get_str,
    get_uint,
    read_header,
    write_header,
)
from percept.domain import (
    Header,
    PointCloud,
)
from percept.errors import CodecError
from percept.msgtypes import POINT_CLOUD2

__all__ = [
    "POINTFIELD_DATATYPES",
    "decode_point_cloud",
    "encode_point_cloud",
    "make_point_cloud",
    "point_cloud_dtype",
    "unpack_rgb",
]


#: sensor_msgs/PointField datatype -> numpy type code (byte order added per message).
POINTFIELD_DATATYPES: Final[dict[int, str]] = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    8: "f8",
}
_DATATYPE_OF: Final = {code: dt for dt, code in POINTFIELD_DATATYPES.items()}


def _struct_dtype(
    names: list[str], formats: Sequence[object], offsets: list[int], itemsize: int
) -> np.dtype[np.void]:
    spec = {"names": names, "formats": list(formats), "offsets": offsets, "itemsize": itemsize}
    return np.dtype(spec)  # type: ignore[call-overload,no-any-return]


def point_cloud_dtype(
    fields: Sequence[object],
    point_step: int,
    *,
    is_bigendian: bool = False,
    where: str = f"{POINT_CLOUD2}.fields",
) -> np.dtype[np.void]:
    """Structured dtype of a point from sensor_msgs/PointField descriptions.

    Args:
        fields: objects with ``name``, ``offset``, ``datatype`` (1..8), ``count``.
        point_step: bytes per point; becomes the dtype's ``itemsize`` so that padding
            between and after fields is kept.
        is_bigendian: byte order of the multi-byte fields.
        where: prefix for error messages.

    Returns:
        dtype with one field per PointField at its offset (``count > 1``: a subarray).

    Raises:
        CodecError: unknown datatype, duplicate or empty names, a field past
            ``point_step``, zero count.
    """
    order = ">" if is_bigendian else "<"
    names: list[str] = []
    formats: list[object] = []
    offsets: list[int] = []
    for i, field in enumerate(as_seq(fields, where)):
        fw = f"{where}[{i}]"
        name = get_str(field, "name", fw)
        if not name or name in names:
            msg = f"{fw}.name: expected a unique non-empty name, got {name!r}"
            raise CodecError(msg)
        offset = get_uint(field, "offset", fw)
        datatype = as_int(get(field, "datatype", fw), f"{fw}.datatype")
        code = POINTFIELD_DATATYPES.get(datatype)
        if code is None:
            msg = f"{fw}.datatype: expected 1..8 (INT8..FLOAT64), got {datatype} for {name!r}"
            raise CodecError(msg)
        count = get_uint(field, "count", fw)
        if count < 1:
            msg = f"{fw}.count: expected >= 1, got {count} for {name!r}"
            raise CodecError(msg)
        base = np.dtype(order + code) if code[1] != "1" else np.dtype(code)
        if offset + base.itemsize * count > point_step:
            msg = (
                f"{fw}: field {name!r} (offset {offset} + {count} x {base.itemsize} bytes) "
                f"exceeds point_step {point_step}"
            )
            raise CodecError(msg)
        names.append(name)
        formats.append(base if count == 1 else (base, (count,)))
        offsets.append(offset)
    return _struct_dtype(names, formats, offsets, point_step)


def _read_point_cloud(msg: object, where: str) -> PointCloud:
    header = read_header(msg, where)
    height = get_uint(msg, "height", where)
    width = get_uint(msg, "width", where)
    point_step = get_uint(msg, "point_step", where)
    row_step = get_uint(msg, "row_step", where)
    big = as_flag(get(msg, "is_bigendian", where), f"{where}.is_bigendian")
    dense = as_flag(get(msg, "is_dense", where), f"{where}.is_dense")
    dtype = point_cloud_dtype(
        as_seq(get(msg, "fields", where), f"{where}.fields"), point_step, is_bigendian=big
    )
    buf = bytes_view(get(msg, "data", where), f"{where}.data")
    row = width * point_step
    if row_step < row:
        msg_ = (
            f"{where}.row_step: expected >= {row} (width {width} x point_step "
            f"{point_step}), got {row_step}"
        )
        raise CodecError(msg_)
    if buf.size != height * row_step:
        msg_ = (
            f"{where}.data: expected {height * row_step} bytes (height {height} x row_step "
            f"{row_step}), got {buf.size}"
        )
        raise CodecError(msg_)
    shape = (height, width) if height > 1 else (height * width,)
    npoints = height * width
    if npoints == 0:
        points = np.zeros(shape, dtype=dtype)
    elif point_step == 0:
        msg_ = f"{where}.point_step: expected > 0 for {npoints} points, got 0"
        raise CodecError(msg_)
    elif row_step == row:
        points = np.frombuffer(buf, dtype=dtype, count=npoints).reshape(shape)
    else:
        grid = np.ndarray((height, width), dtype=dtype, buffer=buf, strides=(row_step, point_step))
        points = grid if height > 1 else grid[0]
    return PointCloud(header=header, points=points, is_dense=dense)


def _dtype_fields(
    dtype: np.dtype[np.void], where: str
) -> tuple[list[tuple[str, int, int, int]], set[str]]:
    """PointField tuples (name, offset, datatype, count) and byte orders of a dtype."""
    if dtype.names is None or dtype.fields is None:
        msg = f"{where}.points: expected a structured array with named fields, got {dtype}"
        raise CodecError(msg)
    fields: list[tuple[str, int, int, int]] = []
    orders: set[str] = set()
    for name in dtype.names:
        fdtype, offset = dtype.fields[name][:2]
        base, count = fdtype, 1
        if fdtype.subdtype is not None:
            base = fdtype.subdtype[0]
            count = int(np.prod(fdtype.subdtype[1]))
        datatype = _DATATYPE_OF.get(f"{base.kind}{base.itemsize}")
        if datatype is None or base.names is not None:
            msg = (
                f"{where}.points: field {name!r} has dtype {fdtype}; expected int8..uint32, "
                "float32 or float64 (or a subarray of one)"
            )
            raise CodecError(msg)
        if base.itemsize > 1:
            orders.add(
                ">" if base.byteorder == ">" or (base.byteorder == "=" and NATIVE_BIG) else "<"
            )
        fields.append((name, int(offset), datatype, count))
    return fields, orders


def _write_point_cloud(cloud: PointCloud, factory: MessageFactory, where: str) -> object:
    check_type(cloud, PointCloud, where)
    points = np.asarray(cloud.points)
    if points.ndim not in (1, 2):
        msg = f"{where}.points: expected shape (N,) or (H, W), got {points.shape}"
        raise CodecError(msg)
    fields, orders = _dtype_fields(points.dtype, where)
    if len(orders) > 1:
        names = [f[0] for f in fields]
        native = _struct_dtype(
            names,
            [points.dtype[n].newbyteorder("=") for n in names],
            [f[1] for f in fields],
            points.dtype.itemsize,
        )
        points = points.astype(native)
        orders = {">" if NATIVE_BIG else "<"}
    big = orders == {">"}
    height, width = points.shape if points.ndim == 2 else (1, points.shape[0])
    data = np.ascontiguousarray(points).reshape(-1)
    point_step = points.dtype.itemsize
    return factory.new(
        POINT_CLOUD2,
        header=write_header(cloud.header, factory, where),
        height=int(height),
        width=int(width),
        fields=[
            factory.new(
                "sensor_msgs/msg/PointField",
                name=name,
                offset=offset,
                datatype=datatype,
                count=count,
            )
            for name, offset, datatype, count in fields
        ],
        is_bigendian=bool(big),
        point_step=int(point_step),
        row_step=int(width * point_step),
        data=factory.uint8_array(data.view(np.uint8)),
        is_dense=bool(cloud.is_dense),
    )


decode_point_cloud, encode_point_cloud = codec_functions(
    POINT_CLOUD2,
    "point_cloud",
    _read_point_cloud,
    _write_point_cloud,
    """Decode a sensor_msgs/PointCloud2 with any field layout.

    Returns:
        PointCloud whose ``points`` is a structured array viewing ``msg.data`` (no copy):
        shape (H, W) when ``height > 1``, else (N,); dtype from
        :func:`point_cloud_dtype`, byte order as in the message (numpy reads either).
        Padded rows (``row_step`` > width x point_step) give a strided view.

    Raises:
        CodecError: bad PointField, ``row_step`` too small, ``data`` size not
            ``height * row_step``, missing or mistyped fields.
    """,
    """Encode a PointCloud as sensor_msgs/PointCloud2.

    The PointFields come from the dtype's fields and offsets; ``point_step`` is its
    ``itemsize``, so padding is kept. Byte order follows the dtype (mixed orders are
    converted to native). (H, W) points give an organised cloud, (N,) ``height = 1``.

    Raises:
        CodecError: points not a structured array of int/float fields, ndim not 1 or 2.
    """,
)


def make_point_cloud(
    header: Header,
    xyz: npt.ArrayLike,
    rgb: npt.ArrayLike | None = None,
    intensity: npt.ArrayLike | None = None,
) -> PointCloud:
    """Build a PointCloud in PCL's memory layout.

    Layout (native byte order): x, y, z float32 at 0, 4, 8; ``rgb`` float32 at 16
    holding the uint32 ``0x00RRGGBB`` bit-punned as in PCL's PointXYZRGB; ``intensity``
    float32 at 16 (or 20 after rgb); point_step 16 for xyz only, else 32.

    Args:
        header: stamp and frame of the points.
        xyz: (N, 3) or (H, W, 3) coordinates, metres; NaN marks invalid points.
        rgb: (N, 3) or (H, W, 3) uint8 colours in RGB order, or None.
        intensity: (N,) or (H, W) intensities, or None.

    Returns:
        PointCloud; ``is_dense`` is True when every coordinate is finite.

    Raises:
        CodecError: shapes that do not match.

    >>> cloud = make_point_cloud(Header(), [[1, 2, 3]], rgb=[[255, 0, 1]])
    >>> cloud.points.dtype.itemsize, unpack_rgb(cloud).tolist()
    (32, [[255, 0, 1]])
    """
    coords = np.asarray(xyz, dtype=np.float32)
    if coords.ndim not in (2, 3) or coords.shape[-1] != 3:
        msg = f"make_point_cloud: xyz must be (N, 3) or (H, W, 3), got {coords.shape}"
        raise CodecError(msg)
    shape = coords.shape[:-1]
    names, offsets = ["x", "y", "z"], [0, 4, 8]
    if rgb is not None:
        names.append("rgb")
        offsets.append(16)
    if intensity is not None:
        names.append("intensity")
        offsets.append(20 if rgb is not None else 16)
    itemsize = 16 if len(names) == 3 else 32
    dtype = _struct_dtype(names, [np.dtype(np.float32)] * len(names), offsets, itemsize)
    points = np.zeros(shape, dtype=dtype)
    for i, name in enumerate(("x", "y", "z")):
        points[name] = coords[..., i]
    if rgb is not None:
        colours = np.asarray(rgb)
        if colours.shape != (*shape, 3):
            msg = f"make_point_cloud: rgb must be {(*shape, 3)}, got {colours.shape}"
            raise CodecError(msg)
        c = colours.astype(np.uint32)
        packed = (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
        points["rgb"].view(np.uint32)[...] = packed
    if intensity is not None:
        values = np.asarray(intensity, dtype=np.float32)
        if values.shape != shape:
            msg = f"make_point_cloud: intensity must be {shape}, got {values.shape}"
            raise CodecError(msg)
        points["intensity"] = values
    return PointCloud(header, points, is_dense=bool(np.isfinite(coords).all()))


def unpack_rgb(cloud: PointCloud) -> npt.NDArray[np.uint8]:
    """Colours of a cloud whose ``rgb`` (or ``rgba``) field packs ``0x00RRGGBB``.

    Returns:
        (..., 3) uint8 in RGB order, shaped like ``cloud.points``.

    Raises:
        CodecError: no 4-byte ``rgb`` / ``rgba`` field.
    """
    names = cloud.points.dtype.names or ()
    name = "rgb" if "rgb" in names else "rgba" if "rgba" in names else None
    if name is None or cloud.points.dtype[name].itemsize != 4:
        msg = f"unpack_rgb: expected a 4-byte 'rgb' or 'rgba' field, got fields {names}"
        raise CodecError(msg)
    field = cloud.points[name]
    order = field.dtype.byteorder if field.dtype.byteorder in "<>" else "="
    packed = np.ascontiguousarray(field).view(np.dtype(order + "u4")).astype(np.uint32)
    out = np.empty((*packed.shape, 3), dtype=np.uint8)
    out[..., 0] = (packed >> 16) & 0xFF
    out[..., 1] = (packed >> 8) & 0xFF
    out[..., 2] = packed & 0xFF
    return out
