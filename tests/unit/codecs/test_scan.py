"""Tests of the sensor_msgs/LaserScan codec and of LaserScan.points / valid_mask."""

from __future__ import annotations

import array
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from percept.codecs import decode, decode_laser_scan, encode, encode_laser_scan
from percept.domain import Header, LaserScan
from percept.errors import CodecError
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.msgtypes import LASER_SCAN

from ...codec_samples import assert_same
from ...plain_factory import PlainFactory


def _scan(n: int = 180, *, intensities: bool = True) -> LaserScan:
    """A 180-degree scan at 1-degree steps, as a SICK LMS 2xx sweeps; float32-exact scalars."""
    rng = np.random.default_rng(3)
    ranges = rng.uniform(0.3, 25.0, size=n).astype(np.float32)
    ranges[[0, 10, 20, 30]] = [np.inf, np.nan, -np.inf, 0.01]  # no return, bad, too near
    inc = np.float32(np.pi / (n - 1))
    return LaserScan(
        Header(1_700_000_000_250_000_000, "base_laser"),
        float(np.float32(-np.pi / 2)),
        float(np.float32(np.pi / 2)),
        float(inc),
        0.0,
        0.25,
        0.125,
        30.0,
        ranges,
        rng.uniform(0, 255, size=n).astype(np.float32) if intensities else np.zeros(0, np.float32),
    )


@pytest.mark.parametrize("intensities", [True, False])
def test_laser_scan_round_trips_through_cdr(intensities: bool) -> None:
    scan = _scan(intensities=intensities)
    store = get_typestore()
    raw = store.serialize_cdr(encode(LASER_SCAN, scan, RosbagsFactory()), LASER_SCAN)
    back = decode(LASER_SCAN, store.deserialize_cdr(raw, LASER_SCAN))
    assert isinstance(back, LaserScan)
    assert_same(scan, back)
    np.testing.assert_array_equal(back.points(), scan.points())


def test_decode_laser_scan_is_zero_copy_for_float32_arrays() -> None:
    msg: Any = encode_laser_scan(_scan(), RosbagsFactory())
    scan = decode_laser_scan(msg)
    assert np.shares_memory(scan.ranges, msg.ranges)
    assert np.shares_memory(scan.intensities, msg.intensities)


def test_decode_laser_scan_reads_rclpy_arrays_and_lists() -> None:
    scan = _scan()
    msg: Any = encode_laser_scan(scan, PlainFactory())
    msg.ranges = array.array("f", scan.ranges.tobytes())  # what rclpy holds
    msg.intensities = [float(v) for v in scan.intensities]
    back = decode_laser_scan(msg)
    assert back.ranges.dtype == np.float32
    np.testing.assert_array_equal(back.ranges, scan.ranges)
    np.testing.assert_array_equal(back.intensities, scan.intensities)


def test_points_and_valid_mask_follow_rep_117() -> None:
    scan = _scan()
    valid = scan.valid_mask()
    assert not valid[[0, 10, 20, 30]].any()  # +inf, NaN, -inf, below range_min
    assert valid.sum() == scan.ranges.size - 4
    pts = scan.points()
    assert pts.shape == (scan.ranges.size, 2)
    assert pts.dtype == np.float32
    assert np.isnan(pts[~valid]).all()
    assert np.isfinite(pts[valid]).all()
    np.testing.assert_allclose(np.hypot(*pts[valid].T), scan.ranges[valid], rtol=1e-6)
    # First beam at -90 deg points along -y, the middle one along +x (REP 103).
    np.testing.assert_allclose(
        np.arctan2(pts[1, 1], pts[1, 0]), -np.pi / 2 + scan.angle_increment_rad, atol=1e-6
    )
    np.testing.assert_allclose(scan.angles_rad()[[0, -1]], [-np.pi / 2, np.pi / 2], atol=1e-6)


def test_decode_laser_scan_raises_on_intensity_count_mismatch() -> None:
    msg: Any = encode_laser_scan(_scan(), PlainFactory())
    msg.intensities = msg.intensities[:5]
    with pytest.raises(CodecError, match=r"LaserScan\.intensities: expected 0 or 180 .* got 5"):
        decode_laser_scan(msg)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("angle_increment", float("nan"), r"angle_increment: expected a number, got NaN"),
        ("range_max", "far", r"range_max: expected a number, got str"),
        ("ranges", np.ones((2, 2), np.float32), r"ranges: expected a flat list of floats"),
        ("ranges", b"\x00\x00\x80\x3f", r"ranges: expected a list of floats, got bytes"),
        ("ranges", [1.0, None], r"ranges: expected a flat list of floats"),
        ("ranges", [1e300], r"ranges: values must fit float32"),
    ],
)
def test_decode_laser_scan_raises_on_malformed_field(field: str, value: object, match: str) -> None:
    msg: Any = encode_laser_scan(_scan(), PlainFactory())
    setattr(msg, field, value)
    with pytest.raises(CodecError, match=match):
        decode_laser_scan(msg)


def test_decode_laser_scan_raises_on_missing_field() -> None:
    msg = SimpleNamespace(**vars(encode_laser_scan(_scan(), PlainFactory())))
    del msg.ranges
    with pytest.raises(CodecError, match=r"sensor_msgs/msg/LaserScan\.ranges: missing field"):
        decode_laser_scan(msg)


def test_encode_laser_scan_raises_on_non_float_ranges() -> None:
    scan = _scan()
    bad = LaserScan(scan.header, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0, 1.0, np.ones((2, 2), np.float32))
    with pytest.raises(CodecError, match=r"ranges: expected \(N,\) float32"):
        encode_laser_scan(bad, RosbagsFactory())
    ints = LaserScan(scan.header, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0, 1.0, np.ones(3, np.int32))  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"ranges: expected \(N,\) float32"):
        encode_laser_scan(ints, RosbagsFactory())
