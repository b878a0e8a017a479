"""Codec of sensor_msgs/CameraInfo <-> :class:`percept.domain.CameraInfo`."""

from __future__ import annotations

import numpy as np

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
    as_flag,
    as_floats,
    check_type,
    get,
    get_any,
    get_str,
    get_uint,
    read_header,
    write_fixed,
    write_header,
    write_roi,
)
from percept.domain import (
    CameraInfo,
)
from percept.geometry.camera import CameraModel, RegionOfInterest
from percept.msgtypes import CAMERA_INFO

__all__ = ["CAMERA_INFO", "decode_camera_info", "encode_camera_info"]


def _read_camera_info(msg: object, where: str) -> CameraInfo:
    header = read_header(msg, where)
    mats = {}
    for name, size in (("d", None), ("k", 9), ("r", 9), ("p", 12)):
        value = get_any(msg, (name, name.upper()), where)
        mats[name] = as_floats(value, size, f"{where}.{name}")
    roi = get(msg, "roi", where)
    rw = f"{where}.roi"
    model = CameraModel(
        width=get_uint(msg, "width", where),
        height=get_uint(msg, "height", where),
        distortion_model=get_str(msg, "distortion_model", where),
        K=mats["k"].reshape(3, 3),
        D=mats["d"],
        R=mats["r"].reshape(3, 3),
        P=mats["p"].reshape(3, 4),
        binning_x=get_uint(msg, "binning_x", where),
        binning_y=get_uint(msg, "binning_y", where),
        roi=RegionOfInterest(
            x_offset=get_uint(roi, "x_offset", rw),
            y_offset=get_uint(roi, "y_offset", rw),
            height=get_uint(roi, "height", rw),
            width=get_uint(roi, "width", rw),
            do_rectify=as_flag(get(roi, "do_rectify", rw), f"{rw}.do_rectify"),
        ),
    )
    return CameraInfo(header=header, model=model)


def _write_camera_info(info: CameraInfo, factory: MessageFactory, where: str) -> object:
    check_type(info, CameraInfo, where)
    model = info.model
    roi = model.roi
    return factory.new(
        CAMERA_INFO,
        header=write_header(info.header, factory, where),
        height=int(model.height),
        width=int(model.width),
        distortion_model=str(model.distortion_model),
        d=factory.float_array(np.ascontiguousarray(model.D, dtype=np.float64), fixed=False),
        k=write_fixed(model.K, 9, factory, f"{where}.k"),
        r=write_fixed(model.R, 9, factory, f"{where}.r"),
        p=write_fixed(model.P, 12, factory, f"{where}.p"),
        binning_x=int(model.binning_x),
        binning_y=int(model.binning_y),
        roi=write_roi(roi.x_offset, roi.y_offset, roi.height, roi.width, roi.do_rectify, factory),
    )


decode_camera_info, encode_camera_info = codec_functions(
    CAMERA_INFO,
    "camera_info",
    _read_camera_info,
    _write_camera_info,
    """Decode a sensor_msgs/CameraInfo (ROS 2 ``d k r p``; ROS 1 ``D K R P`` too).

    Returns:
        CameraInfo whose model holds K (3, 3), D (N,), R (3, 3), P (3, 4) float64.

    Raises:
        CodecError: wrong matrix sizes, missing or mistyped fields.
    """,
    """Encode a CameraInfo exactly (every matrix element, binning and ROI).

    Raises:
        CodecError: wrong object type or matrix sizes.
    """,
)
