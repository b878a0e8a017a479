from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from percept import codecs
from percept.domain import CameraInfo, Header, Image, ImuSample
from percept.errors import ConfigError
from percept.geometry.camera import CameraModel
from percept.io.bag import BagReader
from percept.io.typestore import get_typestore
from percept.runtime.robot import load_robot
from percept.tools.demo import make_pattern_bag
from percept.tools.perturb import Perturber, PerturbSpec, describe, parse_spec
from percept.tools.replay import replay

IMG = "sensor_msgs/msg/Image"
INFO = "sensor_msgs/msg/CameraInfo"
IMU = "sensor_msgs/msg/Imu"


def _image(stamp: int, value: int = 100, shape: tuple[int, ...] = (48, 64)) -> Image:
    return Image(Header(stamp, "cam"), "mono8", np.full(shape, value, np.uint8))


def _info(stamp: int) -> CameraInfo:
    k = np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]])
    model = CameraModel(
        64, 48, "plumb_bob", k, np.zeros(5), np.eye(3), np.hstack([k, [[0], [0], [0]]])
    )
    return CameraInfo(Header(stamp, "cam"), model)


def test_parse_spec_reads_every_setting_and_describes_it() -> None:
    spec = parse_spec("brightness=1.5, blur=2, noise=3, jpeg=40, drop=0.2, jitter_ms=4, seed=9")
    assert spec == PerturbSpec(brightness=1.5, blur=2.0, noise=3.0, jpeg=40, drop=0.2,
                               jitter_ms=4.0, seed=9)  # fmt: skip
    assert parse_spec(describe(spec)) == spec


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("brightnes=2", "name one of"),
        ("blur", "name=value"),
        ("jpeg=high", "expected an integer"),
        ("noise=abc", "expected a number"),
        ("drop=1.5", r"drop=1.5: must be within \[0.0, 1.0\]"),
        ("noise=nan", "must be within"),
    ],
)
def test_parse_spec_raises_naming_the_bad_item(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_spec(text)


def test_same_seed_same_result_other_seed_other_result() -> None:
    img = _image(1_000, shape=(32, 32))
    a = Perturber(parse_spec("noise=5,seed=1")).apply("/cam/image_raw", IMG, img)
    b = Perturber(parse_spec("noise=5,seed=1")).apply("/cam/image_raw", IMG, img)
    c = Perturber(parse_spec("noise=5,seed=2")).apply("/cam/image_raw", IMG, img)
    assert isinstance(a, Image)
    assert isinstance(b, Image)
    assert isinstance(c, Image)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)


def test_noise_has_the_requested_sigma_and_brightness_scales() -> None:
    img = _image(5, 100, (200, 200))
    noisy = Perturber(parse_spec("noise=6")).apply("/c/image", IMG, img)
    assert isinstance(noisy, Image)
    assert abs(float(noisy.data.astype(float).std()) - 6.0) < 0.3
    bright = Perturber(parse_spec("brightness=1.5")).apply("/c/image", IMG, img)
    assert isinstance(bright, Image)
    assert np.all(bright.data == 150)
    assert img.data[0, 0] == 100  # the input is not modified


def test_blur_and_jpeg_change_edges_not_flat_areas() -> None:
    data = np.zeros((64, 64), np.uint8)
    data[:, 32:] = 200
    img = Image(Header(1, "c"), "mono8", data)
    blurred = Perturber(parse_spec("blur=2")).apply("/c/image", IMG, img)
    assert isinstance(blurred, Image)
    assert 20 < blurred.data[10, 31] < 180  # edge softened
    assert blurred.data[10, 5] == 0
    assert blurred.data[10, 60] == 200
    jpeg = Perturber(parse_spec("jpeg=5")).apply("/c/image", IMG, img)
    assert isinstance(jpeg, Image)
    assert jpeg.data.shape == data.shape
    assert not np.array_equal(jpeg.data, data)


def test_bayer_mosaic_is_perturbed_per_colour_plane() -> None:
    # A flat colour as an RGGB mosaic: each plane is constant, so a blur keeps it exact.
    mosaic = np.empty((32, 32), np.uint8)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2], mosaic[1::2, 0::2], mosaic[1::2, 1::2] = 200, 90, 90, 10
    img = Image(Header(1, "c"), "bayer_rggb8", mosaic)
    out = Perturber(parse_spec("blur=3")).apply("/c/image_raw", IMG, img)
    assert isinstance(out, Image)
    np.testing.assert_array_equal(out.data, mosaic)


def test_drop_takes_a_whole_stamp_and_the_requested_fraction() -> None:
    p = Perturber(parse_spec("drop=0.3,seed=4"))
    kept = []
    for k in range(1000):
        stamp = 10**9 + k * 50_000_000
        left = p.apply("/stereo/left/image_raw", IMG, _image(stamp))
        right = p.apply("/stereo/right/image_raw", IMG, _image(stamp))
        info = p.apply("/stereo/left/camera_info", INFO, _info(stamp))
        assert (left is None) == (right is None) == (info is None)
        kept.append(left is not None)
    assert abs(1 - np.mean(kept) - 0.3) < 0.05
    assert p.dropped == 3 * kept.count(False)


def test_jitter_moves_image_and_camera_info_of_one_camera_together() -> None:
    p = Perturber(parse_spec("jitter_ms=5,seed=3"))
    shifts_left, shifts_right = [], []
    for k in range(200):
        stamp = 10**9 + k * 10**8
        img = p.apply("/stereo/left/image_raw", IMG, _image(stamp))
        info = p.apply("/stereo/left/camera_info", INFO, _info(stamp))
        right = p.apply("/stereo/right/image_raw", IMG, _image(stamp))
        assert isinstance(img, Image)
        assert isinstance(info, CameraInfo)
        assert isinstance(right, Image)
        assert img.header.stamp_ns == info.header.stamp_ns
        shifts_left.append(img.header.stamp_ns - stamp)
        shifts_right.append(right.header.stamp_ns - stamp)
    assert 4e6 < np.std(shifts_left) < 6e6
    assert shifts_left != shifts_right


def test_imu_bias_is_constant_with_the_requested_magnitude() -> None:
    p = Perturber(parse_spec("imu_acc_bias=0.2,imu_gyro_bias=0.01,seed=5"))
    acc, gyro = np.array([0.0, 0.0, 9.81]), np.array([0.1, 0.0, 0.0])
    out = [p.apply("/imu/data", IMU, ImuSample(Header(k, "imu"), gyro, acc)) for k in range(3)]
    biases = [o.linear_acceleration_m_s2 - acc for o in out if isinstance(o, ImuSample)]
    assert len(biases) == 3
    np.testing.assert_allclose(biases[0], biases[2])
    assert np.linalg.norm(biases[0]) == pytest.approx(0.2)
    assert isinstance(out[0], ImuSample)
    assert np.linalg.norm(out[0].angular_velocity_rad_s - gyro) == pytest.approx(0.01)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_replay_with_perturbation_is_reproducible_and_drops_frames(tmp_path: Path) -> None:
    bag = make_pattern_bag(tmp_path / "in.mcap", seconds=2.0, width=64, height=48)
    robot = load_robot("example")
    outs = {}
    for name, spec in (("a", "drop=0.5,noise=3,seed=1"), ("b", "drop=0.5,noise=3,seed=1")):
        (tmp_path / name).mkdir()
        outs[name] = tmp_path / name / "out.mcap"  # same name: MCAP bytes are comparable
        replay(bag, outs[name], robot, diagnostics=False, perturb=Perturber(parse_spec(spec)))
    clean = tmp_path / "clean.mcap"
    replay(bag, clean, robot, diagnostics=False)
    assert _sha(outs["a"]) == _sha(outs["b"])
    with BagReader(outs["a"]) as r_pert, BagReader(clean) as r_clean:
        n_pert = sum(1 for m in r_pert.messages() if m.topic == "/camera/resize/image_raw")
        n_clean = sum(1 for m in r_clean.messages() if m.topic == "/camera/resize/image_raw")
    assert n_clean == 20
    assert 3 <= n_pert <= 17


# -- time windows: blackout, imu_gap, burst --------------------------------------------
T0 = 10**9  # the first stamp the Perturber sees
MS = 1_000_000


def test_windows_parse_repeat_and_round_trip_through_describe() -> None:
    spec = parse_spec("blackout=3:2,imu_gap=4:0.1,brightness=0.2,burst=1:0.5;6:0.25,burst=9:1")
    assert spec.blackout == ((3.0, 2.0),)
    assert spec.imu_gap == ((4.0, 0.1),)
    assert spec.burst == ((1.0, 0.5), (6.0, 0.25), (9.0, 1.0))
    assert parse_spec(describe(spec)) == spec
    assert "burst=6.0:0.25" in describe(spec)
    assert describe(parse_spec("blur=2,seed=3")) == "blur=2.0,seed=3"  # no window items


@pytest.mark.parametrize(
    "text", ["blackout=3", "imu_gap=4:0", "burst=-1:2", "burst=a:1", "blackout=1:nan", "burst=1:2;"]
)
def test_a_malformed_window_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="START:DURATION"):
        parse_spec(text)


def test_blackout_blacks_images_in_the_window_and_keeps_camera_info() -> None:
    p = Perturber(parse_spec("blackout=3:2"))
    assert all(p.wants(t) for t in (IMU, INFO, IMG))  # every input starts the clock
    assert p.apply("/imu/data", IMU, ImuSample(Header(T0, "imu"), np.zeros(3), np.ones(3)))
    assert p.start_ns == T0
    black = []
    for k in range(80):  # 10 Hz for 8 s
        stamp = T0 + k * 100 * MS
        img = p.apply("/stereo/left/image_raw", IMG, _image(stamp))
        info = p.apply("/stereo/left/camera_info", INFO, _info(stamp))
        assert isinstance(img, Image)
        assert isinstance(info, CameraInfo)
        assert img.header == info.header
        assert img.data.shape == (48, 64)
        black.append(not img.data.any())
    assert black == [30 <= k < 50 for k in range(80)]  # [3 s, 5 s)
    assert p.perturbed == 20
    assert p.dropped == 0


def test_imu_gap_drops_imu_in_the_window_only() -> None:
    p = Perturber(parse_spec("imu_gap=4:0.1"), start_ns=T0)
    assert not p.wants("sensor_msgs/msg/PointCloud2")
    kept = []
    for k in range(1000):  # 200 Hz for 5 s
        stamp = T0 + k * 5 * MS
        out = p.apply("/imu/data", IMU, ImuSample(Header(stamp, "imu"), np.zeros(3), np.ones(3)))
        kept.append(out is not None)
        if out is not None:
            assert isinstance(out, ImuSample)
            assert out.header.stamp_ns == stamp
        img = p.apply("/cam/image_raw", IMG, _image(stamp))
        assert isinstance(img, Image)
        assert np.all(img.data == 100)
    assert kept.count(False) == 20  # 4.000 .. 4.095 s
    assert not any(kept[800:820])
    assert p.dropped == 20
    assert p.perturbed == 0


def test_burst_confines_pixel_perturbations_to_its_windows() -> None:
    p = Perturber(parse_spec("brightness=0.15,blur=3,noise=2,seed=4,burst=1:0.5;3:0.2"), T0)
    inside = []
    for k in range(40):
        stamp = T0 + k * 100 * MS
        img = p.apply("/cam/image_raw", IMG, _image(stamp, 200, (32, 32)))
        assert isinstance(img, Image)
        changed = not np.all(img.data == 200)
        if changed:
            assert abs(float(img.data.mean()) - 30.0) < 2.0
        inside.append(changed)
    assert inside == [10 <= k < 15 or 30 <= k < 32 for k in range(40)]
    # Draws are still keyed by topic and stamp: the same frame gives the same pixels.
    again = Perturber(p.spec, T0).apply(
        "/cam/image_raw", IMG, _image(T0 + 12 * 100 * MS, 200, (32, 32))
    )
    first = Perturber(p.spec, T0).apply(
        "/cam/image_raw", IMG, _image(T0 + 12 * 100 * MS, 200, (32, 32))
    )
    assert isinstance(again, Image)
    assert isinstance(first, Image)
    np.testing.assert_array_equal(again.data, first.data)


def test_windows_count_from_unjittered_stamps_and_compose_with_other_settings() -> None:
    p = Perturber(parse_spec("jitter_ms=30,blackout=1:1,imu_acc_bias=0.5"), T0)
    for k in range(30):
        stamp = T0 + k * 100 * MS
        img = p.apply("/stereo/left/image_raw", IMG, _image(stamp))
        assert isinstance(img, Image)
        assert (not img.data.any()) == (10 <= k < 20)
    imu = p.apply("/imu/data", IMU, ImuSample(Header(T0, "imu"), np.zeros(3), np.zeros(3)))
    assert isinstance(imu, ImuSample)
    assert np.linalg.norm(imu.linear_acceleration_m_s2) == pytest.approx(0.5)


def test_replay_with_a_blackout_blacks_the_window_of_the_bag(tmp_path: Path) -> None:
    bag = make_pattern_bag(tmp_path / "in.mcap", seconds=2.0, width=64, height=48)
    robot = load_robot("example")
    out = tmp_path / "out.mcap"
    p = Perturber(parse_spec("blackout=0.5:0.5"))
    replay(bag, out, robot, diagnostics=False, perturb=p, keep_inputs=["/camera/image_raw"])
    with BagReader(out) as reader:
        frames = [
            codecs.decode(m.msgtype, get_typestore().deserialize_cdr(m.raw or b"", m.msgtype))
            for m in reader.messages(["/camera/image_raw"])
        ]
    dark = [not f.data.any() for f in frames if isinstance(f, Image)]
    assert len(dark) == 20
    assert dark == [5 <= k < 10 for k in range(20)]
