"""Wire compatibility: rclpy and rosbags produce the same CDR bytes for the same content.

For every message type the codecs handle (the samples of tests/codec_samples.py), the
domain object is encoded once through the rclpy factory and serialised by
``rclpy.serialization`` (the rmw's own CDR writer), and once through the rosbags
factory and serialised by rosbags; the bytes must be identical, and both decode back
to the same domain object, whichever deserialiser reads them.
"""

from __future__ import annotations

from typing import Any

import pytest

from percept import codecs
from percept.io.typestore import RosbagsFactory, get_typestore

from ..codec_samples import SAMPLE_IDS, SAMPLES, assert_same
from .ros_helpers import NEEDS_ROS

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
pytest.importorskip("vision_msgs.msg", reason=NEEDS_ROS + "; and vision_msgs")

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402

from percept_ros.adapter import RclpyMessageFactory  # noqa: E402


def _rclpy_bytes(msgtype: str, obj: object) -> tuple[bytes, type]:
    factory = RclpyMessageFactory()
    msg = codecs.encode(msgtype, obj, factory)
    cls = factory.message_class(msgtype)
    assert isinstance(msg, cls)
    return bytes(serialize_message(msg)), cls


@pytest.mark.parametrize(("name", "msgtype", "obj"), SAMPLES, ids=SAMPLE_IDS)
def test_rclpy_and_rosbags_write_identical_cdr(name: str, msgtype: str, obj: object) -> None:
    store = get_typestore()
    ours = bytes(store.serialize_cdr(codecs.encode(msgtype, obj, RosbagsFactory()), msgtype))
    theirs, _ = _rclpy_bytes(msgtype, obj)
    assert theirs == ours, f"{msgtype}: {len(theirs)} vs {len(ours)} bytes"


@pytest.mark.parametrize(("name", "msgtype", "obj"), SAMPLES, ids=SAMPLE_IDS)
def test_both_deserialisers_decode_to_the_same_domain_object(
    name: str, msgtype: str, obj: object
) -> None:
    raw, cls = _rclpy_bytes(msgtype, obj)
    from_rclpy: Any = deserialize_message(raw, cls)
    from_rosbags = get_typestore().deserialize_cdr(raw, msgtype)
    assert_same(obj, codecs.decode(msgtype, from_rclpy))
    assert_same(obj, codecs.decode(msgtype, from_rosbags))
