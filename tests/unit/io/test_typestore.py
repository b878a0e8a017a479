"""Tests of percept.io.typestore: vision_msgs registered from the packaged .msg texts."""

from __future__ import annotations

import numpy as np
import pytest

from percept.errors import CodecError
from percept.io.typestore import (
    VISION_MSGS_TYPES,
    RosbagsFactory,
    get_typestore,
    vision_msgs_definitions,
)


def test_get_typestore_is_cached() -> None:
    assert get_typestore() is get_typestore()


def test_every_packaged_vision_msgs_definition_is_registered() -> None:
    assert set(vision_msgs_definitions()) == set(VISION_MSGS_TYPES)
    store = get_typestore()
    for name in VISION_MSGS_TYPES:
        assert name in store.types
    assert "sensor_msgs/msg/Image" in store.types


def test_vision_msgs_use_the_humble_layout() -> None:
    store = get_typestore()
    fields = dict(store.fielddefs["vision_msgs/msg/BoundingBox2D"][1])
    assert fields["center"][1] == "vision_msgs/msg/Pose2D"
    pose2d = [name for name, _ in store.fielddefs["vision_msgs/msg/Pose2D"][1]]
    assert pose2d == ["position", "theta"]
    hyp = [name for name, _ in store.fielddefs["vision_msgs/msg/ObjectHypothesisWithPose"][1]]
    assert hyp == ["hypothesis", "pose"]


def _detection_array() -> object:
    f = RosbagsFactory()
    stamp = f.new("builtin_interfaces/msg/Time", sec=12, nanosec=34)
    header = f.new("std_msgs/msg/Header", stamp=stamp, frame_id="cam")
    pose = f.new(
        "geometry_msgs/msg/Pose",
        position=f.new("geometry_msgs/msg/Point", x=1.0, y=2.0, z=3.0),
        orientation=f.new("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
    )
    result = f.new(
        "vision_msgs/msg/ObjectHypothesisWithPose",
        hypothesis=f.new("vision_msgs/msg/ObjectHypothesis", class_id="car", score=0.75),
        pose=f.new(
            "geometry_msgs/msg/PoseWithCovariance",
            pose=pose,
            covariance=f.float_array(np.arange(36.0), fixed=True),
        ),
    )
    bbox = f.new(
        "vision_msgs/msg/BoundingBox2D",
        center=f.new(
            "vision_msgs/msg/Pose2D",
            position=f.new("vision_msgs/msg/Point2D", x=5.5, y=6.5),
            theta=0.25,
        ),
        size_x=10.0,
        size_y=20.0,
    )
    det = f.new("vision_msgs/msg/Detection2D", header=header, results=[result], bbox=bbox, id="1")
    return f.new("vision_msgs/msg/Detection2DArray", header=header, detections=[det])


def test_detection2d_array_serializes_and_deserializes() -> None:
    store = get_typestore()
    msg = _detection_array()
    raw = store.serialize_cdr(msg, "vision_msgs/msg/Detection2DArray")
    back = store.deserialize_cdr(raw, "vision_msgs/msg/Detection2DArray")
    det = back.detections[0]
    assert det.bbox.center.position.x == 5.5
    assert det.bbox.center.theta == 0.25
    assert det.results[0].hypothesis.class_id == "car"
    np.testing.assert_array_equal(det.results[0].pose.covariance, np.arange(36.0))
    assert store.serialize_cdr(back, "vision_msgs/msg/Detection2DArray") == raw


def test_vision_msgs_definitions_can_be_written_to_a_bag() -> None:
    # Writers (MCAP, rosbag2) store the full definition text; it must be generated.
    text, md5 = get_typestore().generate_msgdef("vision_msgs/msg/Detection3DArray")
    assert len(md5) == 32
    assert "MSG: vision_msgs/BoundingBox3D" in text


def test_rosbags_factory_raises_on_unknown_type() -> None:
    with pytest.raises(CodecError, match="unknown message type"):
        RosbagsFactory().new("vision_msgs/msg/Nope")


def test_rosbags_factory_raises_on_missing_fields() -> None:
    with pytest.raises(CodecError, match="cannot build message"):
        RosbagsFactory().new("vision_msgs/msg/Point2D", x=1.0)
