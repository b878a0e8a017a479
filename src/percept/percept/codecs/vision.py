"""Codecs of vision_msgs Detection2DArray and Detection3DArray."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from percept.codecs._codec import codec_functions
from percept.codecs._fields import (
    MessageFactory,
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
from percept.domain import (
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    Header,
    ObjectHypothesis,
)
from percept.errors import CodecError
from percept.geometry.pose import Pose
from percept.msgtypes import DETECTION2D_ARRAY, DETECTION3D_ARRAY

__all__ = [
    "decode_detection2d_array",
    "decode_detection3d_array",
    "encode_detection2d_array",
    "encode_detection3d_array",
]

_D = TypeVar("_D", Detection2D, Detection3D)


def _read_hypotheses(det: object, where: str) -> tuple[ObjectHypothesis, ...]:
    out = []
    for i, result in enumerate(as_seq(get(det, "results", where), f"{where}.results")):
        rw = f"{where}.results[{i}]"
        # Humble nests (class_id, score) in `hypothesis`; Foxy had `id` and `score` flat.
        if hasattr(result, "hypothesis"):
            hyp, hw, id_name = result.hypothesis, f"{rw}.hypothesis", "class_id"
        else:
            hyp, hw, id_name = result, rw, "id" if hasattr(result, "id") else "class_id"
        out.append(ObjectHypothesis(get_str(hyp, id_name, hw), get_float(hyp, "score", hw)))
    return tuple(out)


def _write_hypotheses(
    results: Sequence[ObjectHypothesis], factory: MessageFactory, where: str
) -> list[object]:
    out = []
    for i, hyp in enumerate(results):
        check_type(hyp, ObjectHypothesis, f"{where}.results[{i}]")
        out.append(
            factory.new(
                "vision_msgs/msg/ObjectHypothesisWithPose",
                hypothesis=factory.new(
                    "vision_msgs/msg/ObjectHypothesis",
                    class_id=str(hyp.class_id),
                    score=float(hyp.score),
                ),
                pose=factory.new(
                    "geometry_msgs/msg/PoseWithCovariance",
                    pose=write_pose(Pose(), factory),
                    covariance=factory.float_array(np.zeros(36), fixed=True),
                ),
            )
        )
    return out


def _read_detections(
    msg: object, where: str, read_one: Callable[[object, str], _D]
) -> tuple[_D, ...]:
    """Each of ``msg.detections`` read by ``read_one(det, where)``."""
    dets = as_seq(get(msg, "detections", where), f"{where}.detections")
    return tuple(read_one(det, f"{where}.detections[{i}]") for i, det in enumerate(dets))


def _write_detections(
    detections: Sequence[_D],
    det_type: type[_D],
    header: Header,
    factory: MessageFactory,
    where: str,
    write_one: Callable[[_D, Header, MessageFactory, str], object],
) -> list[object]:
    """Each detection, checked to be a ``det_type``, written by ``write_one``."""
    out = []
    for i, det in enumerate(detections):
        dw = f"{where}.detections[{i}]"
        check_type(det, det_type, dw)
        out.append(write_one(det, header, factory, dw))
    return out


def _read_detection2d(det: object, dw: str) -> Detection2D:
    bbox = get(det, "bbox", dw)
    bw = f"{dw}.bbox"
    center = get(bbox, "center", bw)
    cw = f"{bw}.center"
    # Humble: vision_msgs/Pose2D{position{x, y}, theta}; Foxy: geometry_msgs/Pose2D.
    pos, pw = (center.position, f"{cw}.position") if hasattr(center, "position") else (center, cw)
    return Detection2D(
        center_uv=(get_float(pos, "x", pw), get_float(pos, "y", pw)),
        size_uv=(get_float(bbox, "size_x", bw), get_float(bbox, "size_y", bw)),
        results=_read_hypotheses(det, dw),
        id=get_str(det, "id", dw),
        theta_rad=get_float(center, "theta", cw),
    )


def _read_detection2d_array(msg: object, where: str) -> Detection2DArray:
    dets = _read_detections(msg, where, _read_detection2d)
    return Detection2DArray(header=read_header(msg, where), detections=dets)


def _write_detection2d(
    det: Detection2D, header: Header, factory: MessageFactory, dw: str
) -> object:
    u, v = (float(c) for c in det.center_uv)
    w, h = (float(s) for s in det.size_uv)
    bbox = factory.new(
        "vision_msgs/msg/BoundingBox2D",
        center=factory.new(
            "vision_msgs/msg/Pose2D",
            position=factory.new("vision_msgs/msg/Point2D", x=u, y=v),
            theta=float(det.theta_rad),
        ),
        size_x=w,
        size_y=h,
    )
    return factory.new(
        "vision_msgs/msg/Detection2D",
        header=write_header(header, factory, dw),
        results=_write_hypotheses(det.results, factory, dw),
        bbox=bbox,
        id=str(det.id),
    )


def _write_detection2d_array(
    array: Detection2DArray, factory: MessageFactory, where: str
) -> object:
    check_type(array, Detection2DArray, where)
    dets = _write_detections(
        array.detections, Detection2D, array.header, factory, where, _write_detection2d
    )
    return factory.new(
        DETECTION2D_ARRAY, header=write_header(array.header, factory, where), detections=dets
    )


decode_detection2d_array, encode_detection2d_array = codec_functions(
    DETECTION2D_ARRAY,
    "detection2d_array",
    _read_detection2d_array,
    _write_detection2d_array,
    """Decode a vision_msgs/Detection2DArray (Humble: ``bbox.center.position.x``).

    Returns:
        Detection2DArray; centres and sizes in pixels (u = column, v = row).

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a Detection2DArray (Humble layout; each detection gets the array header).

    Raises:
        CodecError: wrong object types.
    """,
)


def _read_detection3d(det: object, dw: str) -> Detection3D:
    bbox = get(det, "bbox", dw)
    bw = f"{dw}.bbox"
    return Detection3D(
        center=read_pose(get(bbox, "center", bw), f"{bw}.center"),
        size_m=read_xyz(get(bbox, "size", bw), f"{bw}.size"),
        results=_read_hypotheses(det, dw),
        id=get_str(det, "id", dw),
    )


def _read_detection3d_array(msg: object, where: str) -> Detection3DArray:
    dets = _read_detections(msg, where, _read_detection3d)
    return Detection3DArray(header=read_header(msg, where), detections=dets)


def _write_detection3d(
    det: Detection3D, header: Header, factory: MessageFactory, dw: str
) -> object:
    size = np.asarray(det.size_m, dtype=np.float64).reshape(-1)
    if size.size != 3:
        msg = f"{dw}.size_m: expected 3 values, got {size.size}"
        raise CodecError(msg)
    return factory.new(
        "vision_msgs/msg/Detection3D",
        header=write_header(header, factory, dw),
        results=_write_hypotheses(det.results, factory, dw),
        bbox=factory.new(
            "vision_msgs/msg/BoundingBox3D",
            center=write_pose(det.center, factory),
            size=write_vector("geometry_msgs/msg/Vector3", size, factory),
        ),
        id=str(det.id),
    )


def _write_detection3d_array(
    array: Detection3DArray, factory: MessageFactory, where: str
) -> object:
    check_type(array, Detection3DArray, where)
    dets = _write_detections(
        array.detections, Detection3D, array.header, factory, where, _write_detection3d
    )
    return factory.new(
        DETECTION3D_ARRAY, header=write_header(array.header, factory, where), detections=dets
    )


decode_detection3d_array, encode_detection3d_array = codec_functions(
    DETECTION3D_ARRAY,
    "detection3d_array",
    _read_detection3d_array,
    _write_detection3d_array,
    """Decode a vision_msgs/Detection3DArray.

    Returns:
        Detection3DArray; box centres as Pose, sizes (3,) float64 metres.

    Raises:
        CodecError: missing or mistyped fields.
    """,
    """Encode a Detection3DArray (each detection gets the array header).

    Raises:
        CodecError: wrong object types or sizes.
    """,
)
