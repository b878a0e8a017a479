"""Tests of percept.codecs: round trips, zero-copy, agreement with rosbags-image, errors."""

from __future__ import annotations

import array
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from rosbags.image import compressed_image_to_cvimage, message_to_cvimage

from percept import codecs
from percept.codecs import (
    decode,
    decode_compressed_image,
    decode_image,
    decode_point_cloud,
    encode,
    encode_image,
    encode_point_cloud,
    make_point_cloud,
    unpack_rgb,
)
from percept.domain import (
    Image,
    ImuSample,
    OccupancyGrid,
    PoseStamped,
)
from percept.errors import CodecError
from percept.geometry.pose import Pose
from percept.image import compress_image, convert_image, debayer, decompress_image
from percept.image.convert import _cv_code
from percept.io.typestore import RosbagsFactory, get_typestore

from ...codec_samples import (
    HEADER,
    SAMPLE,
    SAMPLE_IDS,
    SAMPLES,
    _padded_big_endian_cloud,
    _pose,
    _random_image,
    _rng,
    assert_same,
)
from ...plain_factory import PlainFactory


def test_supported_types_cover_every_sample() -> None:
    assert {s[1] for s in SAMPLES} == set(codecs.SUPPORTED_TYPES)
    assert set(codecs.DOMAIN_TYPES) == set(codecs.SUPPORTED_TYPES)


@pytest.mark.parametrize(("name", "msgtype", "obj"), SAMPLES, ids=SAMPLE_IDS)
def test_round_trip_through_rosbags_message(name: str, msgtype: str, obj: object) -> None:
    msg = encode(msgtype, obj, RosbagsFactory())
    assert msg.__msgtype__ == msgtype  # type: ignore[attr-defined]
    decoded = decode(msgtype, msg)
    assert isinstance(decoded, codecs.DOMAIN_TYPES[msgtype])
    assert_same(obj, decoded)


@pytest.mark.parametrize(("name", "msgtype", "obj"), SAMPLES, ids=SAMPLE_IDS)
def test_round_trip_through_cdr(name: str, msgtype: str, obj: object) -> None:
    store = get_typestore()
    raw = store.serialize_cdr(encode(msgtype, obj, RosbagsFactory()), msgtype)
    assert_same(obj, decode(msgtype, store.deserialize_cdr(raw, msgtype)))


@pytest.mark.parametrize(("name", "msgtype", "obj"), SAMPLES, ids=SAMPLE_IDS)
def test_round_trip_through_plain_attribute_message(name: str, msgtype: str, obj: object) -> None:
    msg = encode(msgtype, obj, PlainFactory())
    assert_same(obj, decode(msgtype, msg))


def test_plain_factory_gets_rclpy_array_types() -> None:
    msg: Any = encode("sensor_msgs/msg/Image", _random_image("bgr8"), PlainFactory())
    assert isinstance(msg.data, array.array)
    assert msg.data.typecode == "B"
    info: Any = encode("sensor_msgs/msg/CameraInfo", SAMPLE["camera-info"], PlainFactory())
    assert isinstance(info.d, array.array)
    assert info.d.typecode == "d"


def test_decode_accepts_ros1_style_type_names() -> None:
    msg = encode("geometry_msgs/msg/PoseStamped", PoseStamped(HEADER, _pose(0)), RosbagsFactory())
    assert isinstance(decode("geometry_msgs/PoseStamped", msg), PoseStamped)


# ---------------------------------------------------------------------- image layout


@pytest.mark.parametrize("encoding", ["mono8", "bgr8", "32FC1"])
def test_decode_image_is_zero_copy_for_tight_rows(encoding: str) -> None:
    image = _random_image(encoding, 32, 48)
    rosbags_msg: Any = encode_image(image, RosbagsFactory())
    plain_msg: Any = encode_image(image, PlainFactory())
    store = get_typestore()
    cdr_msg: Any = store.deserialize_cdr(
        store.serialize_cdr(rosbags_msg, "sensor_msgs/msg/Image"), "sensor_msgs/msg/Image"
    )
    for msg in (rosbags_msg, plain_msg, cdr_msg):
        decoded = decode_image(msg)
        assert np.shares_memory(decoded.data, msg.data)
        np.testing.assert_array_equal(decoded.data, image.data)


def test_encode_image_does_not_copy_contiguous_data_with_rosbags_factory() -> None:
    image = _random_image("bgr8", 16, 16)
    msg: Any = encode_image(image, RosbagsFactory())
    assert np.shares_memory(msg.data, image.data)


def test_decode_image_honours_row_padding_with_a_strided_view() -> None:
    rng = _rng()
    height, width, pad = 5, 7, 11
    step = width * 3 + pad
    raw = rng.integers(0, 256, size=height * step, dtype=np.uint8)
    msg = RosbagsFactory().new(
        "sensor_msgs/msg/Image",
        header=encode_image(_random_image("mono8"), RosbagsFactory()).header,  # type: ignore[attr-defined]
        height=height,
        width=width,
        encoding="bgr8",
        is_bigendian=0,
        step=step,
        data=raw,
    )
    decoded = decode_image(msg)
    expected = raw.reshape(height, step)[:, : width * 3].reshape(height, width, 3)
    np.testing.assert_array_equal(decoded.data, expected)
    assert np.shares_memory(decoded.data, raw)
    assert not decoded.data.flags.c_contiguous
    np.testing.assert_array_equal(decoded.data, message_to_cvimage(_tight(msg)))
    again = decode_image(encode_image(decoded, RosbagsFactory()))
    np.testing.assert_array_equal(again.data, expected)


def _tight(msg: Any) -> Any:
    """The same image with packed rows (rosbags-image ignores ``step``)."""
    data = decode_image(msg)
    return encode_image(
        Image(data.header, data.encoding, np.ascontiguousarray(data.data)), RosbagsFactory()
    )


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "32FC1", "64FC1", "bgr16"])
def test_decode_image_byteswaps_big_endian_data(encoding: str) -> None:
    image = _random_image(encoding)
    big = image.data.astype(image.data.dtype.newbyteorder(">"))
    msg: Any = encode_image(Image(HEADER, encoding, big), PlainFactory())
    assert msg.is_bigendian == 1
    decoded = decode_image(msg)
    assert decoded.data.dtype.isnative
    np.testing.assert_array_equal(decoded.data, image.data)
    np.testing.assert_array_equal(
        decoded.data,
        message_to_cvimage(encode_image(Image(HEADER, encoding, big), RosbagsFactory())),
    )


# --------------------------------------------------------------- rosbags-image agreement

ROSBAGS_IMAGE_ENCODINGS = [
    "mono8",
    "mono16",
    "rgb8",
    "bgr8",
    "rgba8",
    "bgra8",
    "rgb16",
    "bgr16",
    "rgba16",
    "bgra16",
    "8UC1",
    "8UC3",
    "8UC4",
    "16UC1",
    "16SC1",
    "32SC1",
    "32FC1",
    "64FC1",
    "bayer_rggb8",
    "bayer_bggr8",
    "bayer_gbrg8",
    "bayer_grbg8",
    "bayer_rggb16",
    "bayer_bggr16",
    "bayer_gbrg16",
    "bayer_grbg16",
]


@pytest.mark.parametrize("encoding", ROSBAGS_IMAGE_ENCODINGS)
def test_decode_image_agrees_with_rosbags_image(encoding: str) -> None:
    msg = encode_image(_random_image(encoding), RosbagsFactory())
    expected = message_to_cvimage(msg)
    decoded = decode_image(msg)
    assert decoded.data.dtype == expected.dtype
    np.testing.assert_array_equal(decoded.data, expected)


CONVERSIONS = [
    ("rgb8", "bgr8"),
    ("bgr8", "rgb8"),
    ("bgr8", "mono8"),
    ("rgb8", "mono8"),
    ("mono8", "bgr8"),
    ("mono8", "rgb8"),
    ("rgba8", "bgr8"),
    ("bgra8", "rgb8"),
    ("bgra8", "bgr8"),
    ("8UC3", "bgr8"),
    ("8UC1", "mono8"),
    ("bgr16", "rgb16"),
    ("mono16", "bgr16"),
    ("bayer_rggb8", "bgr8"),
    ("bayer_bggr8", "bgr8"),
    ("bayer_gbrg8", "bgr8"),
    ("bayer_grbg8", "bgr8"),
    ("bayer_rggb8", "rgb8"),
    ("bayer_rggb8", "mono8"),
    ("bayer_grbg8", "mono8"),
    ("bayer_gbrg16", "bgr16"),
    ("bayer_bggr16", "rgb16"),
]


@pytest.mark.parametrize(("source", "target"), CONVERSIONS)
def test_convert_image_agrees_with_rosbags_image(source: str, target: str) -> None:
    msg = encode_image(_random_image(source, 12, 16), RosbagsFactory())
    expected = message_to_cvimage(msg, target)
    converted = convert_image(decode_image(msg), target)
    assert converted.encoding == target
    assert converted.data.dtype == expected.dtype
    np.testing.assert_array_equal(converted.data, expected)


@pytest.mark.parametrize(
    ("encoding", "fmt"),
    [
        ("bgr8", "jpeg"),
        ("bgr8", "png"),
        ("mono8", "jpeg"),
        ("mono8", "png"),
        ("rgb8", "png"),
    ],
)
def test_decompress_image_agrees_with_rosbags_image(encoding: str, fmt: str) -> None:
    compressed = compress_image(_random_image(encoding, 16, 24), fmt)
    msg = encode("sensor_msgs/msg/CompressedImage", compressed, RosbagsFactory())
    decoded = decompress_image(decode_compressed_image(msg))
    np.testing.assert_array_equal(decoded.data, compressed_image_to_cvimage(msg))
    np.testing.assert_array_equal(
        decompress_image(decode_compressed_image(msg), "rgb8").data,
        compressed_image_to_cvimage(msg, "rgb8"),
    )


def test_png_round_trip_is_lossless_and_rgb_is_stored_as_bgr() -> None:
    image = _random_image("rgb8")
    compressed = compress_image(image, "png")
    assert compressed.format == "rgb8; png compressed bgr8"
    decoded = decompress_image(compressed)
    assert decoded.encoding == "bgr8"
    np.testing.assert_array_equal(decoded.data, image.data[:, :, ::-1])
    np.testing.assert_array_equal(decompress_image(compressed, "rgb8").data, image.data)


def test_png_keeps_16_bit_depth() -> None:
    image = _random_image("mono16")
    decoded = decompress_image(compress_image(image, "png"))
    assert decoded.encoding == "mono16"
    np.testing.assert_array_equal(decoded.data, image.data)


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_debayer_recovers_a_flat_colour_for_every_pattern(pattern: str) -> None:
    rgb = {"r": 200, "g": 100, "b": 50}
    mosaic = np.zeros((8, 8), dtype=np.uint8)
    for (dy, dx), channel in zip([(0, 0), (0, 1), (1, 0), (1, 1)], pattern, strict=True):
        mosaic[dy::2, dx::2] = rgb[channel]
    raw = Image(HEADER, f"bayer_{pattern}8", mosaic)
    bgr = debayer(raw, "bgr8").data
    np.testing.assert_array_equal(bgr[2:-2, 2:-2], np.broadcast_to([50, 100, 200], (4, 4, 3)))
    rgb_image = debayer(raw, "rgb8").data
    np.testing.assert_array_equal(rgb_image[2:-2, 2:-2], np.broadcast_to([200, 100, 50], (4, 4, 3)))


def test_convert_image_adds_alpha() -> None:
    # rosbags-image skips this one: cv2.COLOR_BGR2BGRA is 0, which it reads as "no-op".
    converted = convert_image(_random_image("bgr8"), "bgra8")
    assert converted.data.shape == (6, 8, 4)
    assert (converted.data[:, :, 3] == 255).all()


def test_convert_image_rescales_between_8_and_16_bit() -> None:
    image = Image(HEADER, "mono8", np.array([[0, 1, 128, 255]], dtype=np.uint8))
    wide = convert_image(image, "mono16")
    np.testing.assert_array_equal(wide.data, [[0, 257, 128 * 257, 65535]])
    np.testing.assert_array_equal(convert_image(wide, "mono8").data, image.data)
    assert convert_image(image, "passthrough") is image


# ------------------------------------------------------------------------ point clouds


def test_decode_point_cloud_is_zero_copy_and_keeps_padding() -> None:
    cloud = make_point_cloud(HEADER, _rng().normal(size=(10, 3)), intensity=np.arange(10))
    msg: Any = encode_point_cloud(cloud, RosbagsFactory())
    assert msg.point_step == 32
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        ("x", 0, 7, 1),
        ("y", 4, 7, 1),
        ("z", 8, 7, 1),
        ("intensity", 16, 7, 1),
    ]
    decoded = decode_point_cloud(msg)
    assert np.shares_memory(decoded.points, msg.data)
    assert decoded.points.dtype.itemsize == 32
    np.testing.assert_array_equal(decoded.xyz(), cloud.xyz())


def test_decode_point_cloud_reads_big_endian_fields_and_subarrays() -> None:
    cloud = _padded_big_endian_cloud()
    msg: Any = encode_point_cloud(cloud, PlainFactory())
    assert msg.is_bigendian
    assert msg.fields[-1].count == 3
    decoded = decode_point_cloud(msg)
    np.testing.assert_array_equal(decoded.points["ring"], np.arange(5))
    np.testing.assert_array_equal(decoded.points["normal"], cloud.points["normal"])
    assert decoded.points["t"].dtype == np.dtype(">f8")


def test_decode_point_cloud_honours_row_step_padding() -> None:
    cloud = make_point_cloud(HEADER, _rng().normal(size=(3, 4, 3)))
    packed: Any = encode_point_cloud(cloud, RosbagsFactory())
    rows = packed.data.reshape(3, 4 * 16)
    padded = np.zeros((3, 4 * 16 + 8), dtype=np.uint8)
    padded[:, : 4 * 16] = rows
    fields = packed.fields
    msg = RosbagsFactory().new(
        "sensor_msgs/msg/PointCloud2",
        header=packed.header,
        height=3,
        width=4,
        fields=fields,
        is_bigendian=False,
        point_step=16,
        row_step=4 * 16 + 8,
        data=padded.reshape(-1),
        is_dense=True,
    )
    decoded = decode_point_cloud(msg)
    assert decoded.points.shape == (3, 4)
    assert decoded.is_organized
    np.testing.assert_array_equal(decoded.xyz(), cloud.xyz())
    assert np.shares_memory(decoded.points, msg.data)  # type: ignore[attr-defined]


def test_make_point_cloud_packs_rgb_like_pcl() -> None:
    cloud = make_point_cloud(HEADER, np.zeros((2, 3)), rgb=[[255, 128, 1], [0, 0, 0]])
    packed = cloud.points["rgb"].view(np.uint32)
    assert packed.tolist() == [0xFF8001, 0]
    np.testing.assert_array_equal(unpack_rgb(cloud), [[255, 128, 1], [0, 0, 0]])
    assert cloud.is_dense


# -------------------------------------------------------------------------- errors


def _image_msg(**changes: object) -> SimpleNamespace:
    msg: Any = encode_image(_random_image("bgr8", 4, 5), PlainFactory())
    for key, value in changes.items():
        setattr(msg, key, value)
    return msg


def test_decode_image_raises_on_short_data() -> None:
    msg = _image_msg()
    msg.data = msg.data[:-1]
    with pytest.raises(CodecError, match=r"Image\.data: expected 60 bytes .* got 59"):
        decode_image(msg)


def test_decode_image_raises_on_step_too_small() -> None:
    with pytest.raises(CodecError, match=r"Image\.step: expected >= 15 .* got 14"):
        decode_image(_image_msg(step=14))


def test_decode_image_raises_on_height_step_mismatch() -> None:
    with pytest.raises(CodecError, match=r"data: expected 75 bytes \(height 5 x step 15\)"):
        decode_image(_image_msg(height=5))


def test_decode_image_raises_on_unknown_encoding() -> None:
    with pytest.raises(CodecError, match="unknown image encoding 'hsv8'"):
        decode_image(_image_msg(encoding="hsv8"))


def test_decode_image_raises_on_missing_field() -> None:
    msg = _image_msg()
    del msg.step
    with pytest.raises(CodecError, match=r"Image\.step: missing field"):
        decode_image(msg)


def test_decode_image_raises_on_negative_size() -> None:
    with pytest.raises(CodecError, match=r"Image\.width: expected 0 <= value"):
        decode_image(_image_msg(width=-5))


def test_decode_image_raises_on_wrong_field_type() -> None:
    with pytest.raises(CodecError, match=r"Image\.height: expected an integer, got str"):
        decode_image(_image_msg(height="4"))
    with pytest.raises(CodecError, match=r"Image\.data: expected 1-byte elements"):
        decode_image(_image_msg(data=array.array("d", [0.0] * 60)))


def test_decode_image_raises_on_bad_nanosec() -> None:
    msg = _image_msg()
    msg.header.stamp.nanosec = 10**9
    with pytest.raises(CodecError, match=r"header\.stamp\.nanosec"):
        decode_image(msg)


def test_encode_image_raises_on_dtype_mismatch() -> None:
    with pytest.raises(CodecError, match="expected dtype float32 for 32FC1, got float64"):
        encode_image(Image(HEADER, "32FC1", np.zeros((2, 2))), RosbagsFactory())


def test_convert_image_raises_on_unsupported_conversion() -> None:
    with pytest.raises(CodecError, match="'32FC1' -> 'bgr8' is not supported"):
        convert_image(_random_image("32FC1"), "bgr8")


def test_debayer_raises_on_non_bayer_input() -> None:
    with pytest.raises(CodecError, match="expected a bayer_"):
        debayer(_random_image("bgr8"))


def test_decompress_image_raises_on_garbage() -> None:
    msg = SimpleNamespace(
        header=encode_image(_random_image("mono8"), PlainFactory()).header,  # type: ignore[attr-defined]
        format="jpeg",
        data=b"not a jpeg",
    )
    with pytest.raises(CodecError, match="cannot decode 10 bytes as jpeg"):
        decompress_image(decode_compressed_image(msg))


def test_decode_compressed_image_raises_on_unknown_format() -> None:
    msg: Any = encode("sensor_msgs/msg/CompressedImage", SAMPLE["compressed-png"], PlainFactory())
    msg.format = "16UC1; compressedDepth png"
    with pytest.raises(CodecError, match="format: unsupported compression"):
        decode_compressed_image(msg)


def _cloud_msg() -> Any:
    return encode_point_cloud(make_point_cloud(HEADER, np.zeros((4, 3))), PlainFactory())


def test_decode_point_cloud_raises_on_bad_datatype() -> None:
    msg = _cloud_msg()
    msg.fields[1].datatype = 9
    with pytest.raises(CodecError, match=r"fields\[1\]\.datatype: expected 1..8 .* got 9"):
        decode_point_cloud(msg)


def test_decode_point_cloud_raises_on_field_past_point_step() -> None:
    msg = _cloud_msg()
    msg.fields[2].offset = 14
    with pytest.raises(CodecError, match=r"field 'z' .* exceeds point_step 16"):
        decode_point_cloud(msg)


def test_decode_point_cloud_raises_on_row_step_too_small() -> None:
    msg = _cloud_msg()
    msg.row_step = 10
    with pytest.raises(CodecError, match=r"row_step: expected >= 64 .* got 10"):
        decode_point_cloud(msg)


def test_decode_point_cloud_raises_on_duplicate_field() -> None:
    msg = _cloud_msg()
    msg.fields[1].name = "x"
    with pytest.raises(CodecError, match="unique non-empty name, got 'x'"):
        decode_point_cloud(msg)


def test_decode_camera_info_raises_on_wrong_matrix_size() -> None:
    msg: Any = encode("sensor_msgs/msg/CameraInfo", SAMPLE["camera-info"], PlainFactory())
    msg.k = msg.k[:8]
    with pytest.raises(CodecError, match=r"CameraInfo\.k: expected shape \(9,\), got \(8,\)"):
        decode("sensor_msgs/msg/CameraInfo", msg)


def test_decode_occupancy_grid_raises_on_size_mismatch() -> None:
    grid = OccupancyGrid(HEADER, 0.5, Pose(), np.zeros((2, 3), dtype=np.int8))
    msg: Any = encode("nav_msgs/msg/OccupancyGrid", grid, PlainFactory())
    msg.info.width = 4
    with pytest.raises(CodecError, match=r"data: expected 8 cells .* got 6"):
        decode("nav_msgs/msg/OccupancyGrid", msg)


def test_decode_raises_on_unknown_type() -> None:
    with pytest.raises(CodecError, match="no codec for this message type"):
        decode("sensor_msgs/msg/JointState", SimpleNamespace())


def test_encode_raises_on_wrong_domain_class() -> None:
    with pytest.raises(CodecError, match="expected Image to encode, got PoseStamped"):
        encode("sensor_msgs/msg/Image", PoseStamped(HEADER, Pose()), RosbagsFactory())


def test_encode_imu_raises_on_orientation_flagged_unknown() -> None:
    sample = ImuSample(
        HEADER, np.zeros(3), np.zeros(3), np.array([0, 0, 0, 1.0]), np.diag([-1.0, 0, 0])
    )
    with pytest.raises(CodecError, match=r"orientation_covariance: \[0, 0\] is -1"):
        encode("sensor_msgs/msg/Imu", sample, RosbagsFactory())


def test_decode_imu_without_orientation_gives_none() -> None:
    msg: Any = encode("sensor_msgs/msg/Imu", SAMPLE["imu-no-orientation"], RosbagsFactory())
    assert msg.orientation_covariance[0] == -1
    assert decode("sensor_msgs/msg/Imu", msg).orientation_xyzw is None  # type: ignore[attr-defined]


def test_decode_rclpy_style_byte_level() -> None:
    msg: Any = encode("diagnostic_msgs/msg/DiagnosticArray", SAMPLE["diagnostics"], PlainFactory())
    assert msg.status[0].level == b"\x02"
    assert decode("diagnostic_msgs/msg/DiagnosticArray", msg).status[0].level == 2  # type: ignore[attr-defined]


def test_cv2_bayer_constants_match_ros_naming() -> None:
    # ROS bayer_rggb is OpenCV's legacy BayerBG (cv_bridge, rosbags-image).
    assert _cv_code("bayer_rggb", "BGR", "bayer_rggb8", "bgr8") == cv2.COLOR_BayerBG2BGR
    assert _cv_code("bayer_grbg", "BGR", "bayer_grbg8", "bgr8") == cv2.COLOR_BayerGB2BGR


def test_codec_benchmark_reports_every_payload_and_factory() -> None:
    from percept.benchmark import format_report, run_codec_benchmark

    results = run_codec_benchmark(repeats=1)
    for payload in ("image_bgr8_1280x720", "cloud_xyzrgb_300k"):
        assert results[f"{payload}.numpy_copy_ms"] > 0
        for key in ("decode_rosbags", "encode_rosbags", "decode_array", "encode_array"):
            assert results[f"{payload}.{key}_ms"] >= 0
    report = format_report(results)
    assert "cloud_xyzrgb_300k" in report
    assert "encode array" in report
