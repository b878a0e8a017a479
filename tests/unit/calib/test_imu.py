"""IMU calibration YAML: our synth file round trips; Kalibr/EuRoC/OpenVINS files read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percept.calib.imu import ImuNoise, imu_yaml, read_imu_yaml
from percept.errors import CalibrationError
from percept.geometry import se3, so3


def _T_imu_cam(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return se3.from_rotation_translation(so3.exp(rng.normal(size=3)), rng.normal(size=3) * 0.1)


def test_imu_yaml_round_trips_through_read_imu_yaml(tmp_path: Path) -> None:
    noise = ImuNoise(1e-3, 2e-4, 3e-5, 4e-6)
    cams = [("left_optical", _T_imu_cam(0)), ("right_optical", _T_imu_cam(1))]
    path = tmp_path / "imu.yaml"
    path.write_text(imu_yaml(noise, 400.0, "/imu/data", "imu_link", cams, -0.004, False))
    calib = read_imu_yaml(path)
    assert calib.noise == noise
    assert calib.update_rate_hz == 400.0
    assert calib.topic == "/imu/data"
    assert calib.frame_id == "imu_link"
    assert calib.timeshift_cam_imu_s == -0.004
    assert calib.noise_simulated is False
    assert list(calib.T_imu_cams) == ["left_optical", "right_optical"]
    for name, T in cams:
        # The writer rounds to 12 decimals.
        np.testing.assert_allclose(calib.T_imu_cams[name], T, atol=1e-12, rtol=0)


def test_imu_yaml_writes_kalibr_names_in_a_fixed_order() -> None:
    text = imu_yaml(ImuNoise(), 200.0, "/imu0", "imu", [("cam0", np.eye(4))], 0.0)
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == [
        "rostopic",
        "frame_id",
        "update_rate",
        "accelerometer_noise_density",
        "accelerometer_random_walk",
        "gyroscope_noise_density",
        "gyroscope_random_walk",
        "noise_simulated",
        "timeshift_cam_imu",
        "cameras",
    ]


def test_read_imu_yaml_inverts_kalibr_T_cam_imu(tmp_path: Path) -> None:
    T_cam_imu = _T_imu_cam(2)
    (tmp_path / "imu.yaml").write_text(
        "imu0:\n  accelerometer_noise_density: 0.01\n  accelerometer_random_walk: 0.002\n"
        "  gyroscope_noise_density: 0.0003\n  gyroscope_random_walk: 4.0e-05\n"
        "  update_rate: 100.0\n  rostopic: /imu0\n"
    )
    rows = "\n".join(f"    - {row}" for row in T_cam_imu.tolist())
    (tmp_path / "camchain.yaml").write_text(
        f"cam0:\n  T_cam_imu:\n{rows}\n  timeshift_cam_imu: 0.0025\n"
    )
    calib = read_imu_yaml(tmp_path / "imu.yaml", tmp_path / "camchain.yaml")
    np.testing.assert_allclose(calib.T_imu_cams["cam0"] @ T_cam_imu, np.eye(4), atol=1e-12)
    assert calib.timeshift_cam_imu_s == 0.0025
    assert calib.noise_simulated is None
    assert calib.frame_id == "imu_link"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- 1\n", r"imu\.yaml: expected a mapping at the top, got list"),
        ("a: [\n", r"imu\.yaml: not YAML"),
        ("update_rate: 200\n", r"imu\.yaml: no gyroscope_noise_density"),
        (
            "gyroscope_noise_density: x\n",
            r"imu\.yaml: accelerometer_noise_density must be a number, got None",
        ),
        (
            "accelerometer_noise_density: 1\naccelerometer_random_walk: 1\n"
            "gyroscope_noise_density: -1\ngyroscope_random_walk: 1\nupdate_rate: 200\n",
            r"imu\.yaml: ImuNoise\.gyroscope_noise_density must be finite and >= 0, got -1",
        ),
        (
            "accelerometer_noise_density: 1\naccelerometer_random_walk: 1\n"
            "gyroscope_noise_density: 1\ngyroscope_random_walk: 1\nupdate_rate: 0\n",
            r"imu\.yaml: update_rate must be > 0, got 0\.0",
        ),
        (
            "accelerometer_noise_density: 1\naccelerometer_random_walk: 1\n"
            "gyroscope_noise_density: 1\ngyroscope_random_walk: 1\nrate_hz: 200\n"
            "cameras: {cam0: {T_imu_cam: [[1, 0], [0, 1]]}}\n",
            r"imu\.yaml: cam0\.T_imu_cam must be a finite 4x4 matrix, got shape \(2, 2\)",
        ),
    ],
)
def test_read_imu_yaml_raises_on_malformed_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "imu.yaml"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=match):
        read_imu_yaml(path)


def test_read_imu_yaml_raises_on_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"missing\.yaml: cannot read"):
        read_imu_yaml(tmp_path / "missing.yaml")


def test_read_imu_yaml_reads_euroc_sensor_yaml(data_dir: Path) -> None:
    calib = read_imu_yaml(data_dir / "euroc_v1_01_easy_micro/mav0/imu0/sensor.yaml")
    # EuRoC's published ADIS16448 levels, the simulator's defaults.
    assert calib.noise == ImuNoise()
    assert calib.update_rate_hz == 200.0
    assert calib.T_imu_cams == {}


def test_read_imu_yaml_reads_open_vins_euroc_chain(data_dir: Path) -> None:
    folder = data_dir / "euroc_calibration/open_vins_kalibr"
    calib = read_imu_yaml(folder / "kalibr_imu_chain.yaml", folder / "kalibr_imucam_chain.yaml")
    assert calib.noise == ImuNoise()
    assert calib.topic == "/imu0"
    assert sorted(calib.T_imu_cams) == ["cam0", "cam1"]
    # OpenVINS stores T_imu_cam; EuRoC's cam0 sensor.yaml has the same matrix as T_BS
    # (body = IMU for EuRoC).
    T_BS = np.array(
        [
            [0.0148655429818, -0.999880929698, 0.00414029679422, -0.0216401454975],
            [0.999557249008, 0.0149672133247, 0.025715529948, -0.064676986768],
            [-0.0257744366974, 0.00375618835797, 0.999660727178, 0.00981073058949],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    np.testing.assert_array_equal(calib.T_imu_cams["cam0"], T_BS)


@pytest.mark.parametrize("rig", ["tum_vi", "rs_d455"])
def test_read_imu_yaml_reads_kalibr_chains(data_dir: Path, rig: str) -> None:
    folder = data_dir / "kalibr_calibration" / rig
    calib = read_imu_yaml(folder / "kalibr_imu_chain.yaml", folder / "kalibr_imucam_chain.yaml")
    assert calib.update_rate_hz > 0
    assert calib.noise.gyroscope_noise_density > 0
    assert calib.T_imu_cams
    for T in calib.T_imu_cams.values():
        np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6)
        assert np.linalg.norm(T[:3, 3]) < 0.2  # a camera within 20 cm of its IMU
    if rig == "rs_d455":
        assert calib.timeshift_cam_imu_s == pytest.approx(0.002524377913673846)
