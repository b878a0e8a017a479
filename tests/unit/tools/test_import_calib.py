from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from percept.calib.imu import read_imu_yaml
from percept.calib.kalibr import read_camchain
from percept.calib.yaml_io import read_camera_info_yaml
from percept.cli.main import main
from percept.errors import CalibrationError
from percept.geometry import se3
from percept.io.euroc import read_euroc
from percept.rectify import compute_rectify_maps, rectify_image
from percept.tools.import_calib import import_euroc, import_kalibr

OPENVINS_EUROC = "euroc_calibration/open_vins_kalibr"
MH01 = "vi_moving_euroc_mh01"


def _euroc_files(data_dir: Path, out: Path) -> Path:
    folder = data_dir / OPENVINS_EUROC
    import_kalibr(folder / "kalibr_imucam_chain.yaml", out, imu=folder / "kalibr_imu_chain.yaml")
    return out


def test_import_kalibr_agrees_with_the_euroc_sensor_yaml(data_dir: Path, tmp_path: Path) -> None:
    out = _euroc_files(data_dir, tmp_path / "euroc")
    data = read_euroc(data_dir / MH01)
    imu = read_imu_yaml(out / "imu.yaml")
    for side, cam in zip(("left", "right"), data.cameras, strict=True):
        name, model = read_camera_info_yaml(out / f"{side}.yaml")
        assert name == cam.name
        np.testing.assert_allclose(model.K, cam.model.K, atol=1e-9)
        np.testing.assert_allclose(model.D, cam.model.D, atol=1e-12)
        # imu0's T_BS is the identity: T_imu_cam is the camera's T_BS.
        np.testing.assert_allclose(imu.T_imu_cams[cam.name], cam.T_body_cam, atol=1e-9)
    assert data.imu is not None
    assert imu.noise == data.imu.noise
    assert (imu.update_rate_hz, imu.topic, imu.frame_id) == (200.0, "/imu0", "imu0")
    _, right = read_camera_info_yaml(out / "right.yaml")
    assert right.baseline_m == pytest.approx(0.11008, abs=1e-5)


def test_import_euroc_writes_the_same_cameras_as_the_kalibr_chain(
    data_dir: Path, tmp_path: Path
) -> None:
    kalibr = _euroc_files(data_dir, tmp_path / "kalibr")
    euroc = import_euroc(data_dir / MH01, tmp_path / "folder")
    assert [f.name for f in euroc.files] == ["left.yaml", "right.yaml", "imu.yaml"]
    for name in ("left.yaml", "right.yaml"):
        assert (kalibr / name).read_text() == (euroc.folder / name).read_text()


def test_shipped_euroc_calibration_is_what_the_importer_writes(
    data_dir: Path, repo_root: Path, tmp_path: Path
) -> None:
    result = import_euroc(data_dir / MH01, tmp_path)
    for path in result.files:
        assert path.read_text() == (repo_root / "calibration" / "euroc" / path.name).read_text()


def test_imported_rectification_aligns_rows_of_a_real_pair(data_dir: Path, repo_root: Path) -> None:
    _, left = read_camera_info_yaml(repo_root / "calibration" / "euroc" / "left.yaml")
    _, right = read_camera_info_yaml(repo_root / "calibration" / "euroc" / "right.yaml")
    data = read_euroc(data_dir / MH01)
    raw_l, raw_r = data.cameras[0].image(50), data.cameras[1].image(50)
    rect_l = rectify_image(raw_l, compute_rectify_maps(left))
    rect_r = rectify_image(raw_r, compute_rectify_maps(right))

    def row_error_px(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
        # GFTT corners tracked left -> right by KLT, kept when the backward track returns.
        p = cv2.goodFeaturesToTrack(a, 500, 0.01, 10)
        q, st, _ = cv2.calcOpticalFlowPyrLK(a, b, p, None, winSize=(21, 21), maxLevel=3)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, q, None, winSize=(21, 21), maxLevel=3)
        ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - p)[:, 0], axis=1) < 0.5)
        d = (p - q)[ok, 0]
        d = d[(d[:, 0] > -1) & (d[:, 0] < 150) & (np.abs(d[:, 1]) < 20)]
        return float(np.median(np.abs(d[:, 1]))), len(d)

    dy_px, n = row_error_px(rect_l, rect_r)
    assert n >= 100
    assert dy_px < 0.5  # 0.18 px measured on frame 50
    orb = cv2.ORB_create(1000)
    ka, da = orb.detectAndCompute(raw_l, None)
    kb, db = orb.detectAndCompute(raw_r, None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    dy_raw = [abs(ka[m.queryIdx].pt[1] - kb[m.trainIdx].pt[1]) for m in matches]
    assert np.median(dy_raw) > 10  # 14.9 px before rectification


def test_import_kalibr_inverts_t_cam_imu_of_a_fisheye_chain(data_dir: Path, tmp_path: Path) -> None:
    folder = data_dir / "kalibr_calibration" / "tum_vi"
    result = import_kalibr(
        folder / "kalibr_imucam_chain.yaml", tmp_path, imu=folder / "kalibr_imu_chain.yaml"
    )
    assert result.baseline_m == pytest.approx(0.101, abs=1e-3)
    chain = read_camchain(folder / "kalibr_imucam_chain.yaml")
    imu = read_imu_yaml(tmp_path / "imu.yaml")
    from percept.calib.kalibr import load_kalibr_yaml

    raw = load_kalibr_yaml(folder / "kalibr_imucam_chain.yaml")
    for cam in chain:
        T_cam_imu = np.array(raw[cam.name]["T_cam_imu"])  # type: ignore[index]
        np.testing.assert_allclose(imu.T_imu_cams[cam.name], se3.inverse(T_cam_imu), atol=1e-9)
    _, left = read_camera_info_yaml(tmp_path / "left.yaml")
    _, right = read_camera_info_yaml(tmp_path / "right.yaml")
    assert left.distortion_model == right.distortion_model == "equidistant"
    np.testing.assert_allclose(left.P[:, :3], right.P[:, :3])
    assert right.P[0, 3] < 0
    assert imu.noise.gyroscope_noise_density == pytest.approx(0.00016)


def test_import_kalibr_of_one_camera_writes_camera_yaml_and_time_shift(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = data_dir / "kalibr_calibration" / "rs_d455"
    result = import_kalibr(
        folder / "kalibr_imucam_chain.yaml", tmp_path, imu=folder / "kalibr_imu_chain.yaml"
    )
    assert [f.name for f in result.files] == ["camera.yaml", "imu.yaml"]
    name, model = read_camera_info_yaml(tmp_path / "camera.yaml")
    assert (name, model.width, model.height) == ("cam0", 848, 480)
    np.testing.assert_allclose(model.R, np.eye(3))
    imu = read_imu_yaml(tmp_path / "imu.yaml")
    assert imu.timeshift_cam_imu_s == pytest.approx(0.002524377913673846)
    assert imu.update_rate_hz == 400.0


def test_import_kalibr_without_imu_writes_extrinsics_yaml(data_dir: Path, tmp_path: Path) -> None:
    chain = data_dir / OPENVINS_EUROC / "kalibr_imucam_chain.yaml"
    result = import_kalibr(chain, tmp_path)
    assert [f.name for f in result.files] == ["left.yaml", "right.yaml", "extrinsics.yaml"]
    imu = read_imu_yaml(
        data_dir / OPENVINS_EUROC / "kalibr_imu_chain.yaml", tmp_path / "extrinsics.yaml"
    )
    assert set(imu.T_imu_cams) == {"cam0", "cam1"}


def test_import_raises_on_existing_files_and_unsupported_models(
    data_dir: Path, tmp_path: Path
) -> None:
    chain = data_dir / OPENVINS_EUROC / "kalibr_imucam_chain.yaml"
    import_kalibr(chain, tmp_path)
    with pytest.raises(CalibrationError, match=r"left\.yaml: exists already"):
        import_kalibr(chain, tmp_path)
    omni = tmp_path / "omni.yaml"
    omni.write_text(
        "cam0:\n  camera_model: omni\n  intrinsics: [0.8, 400, 400, 320, 240]\n"
        "  distortion_model: radtan\n  distortion_coeffs: [0, 0, 0, 0]\n  resolution: [640, 480]\n"
    )
    with pytest.raises(CalibrationError, match=r"omni\.yaml: cam0: camera_model 'omni'"):
        import_kalibr(omni, tmp_path / "o")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cam0:\n  intrinsics: [1, 2, 3]\n  resolution: [640, 480]\n")
    with pytest.raises(CalibrationError, match=r"cam0: intrinsics must be 4 finite numbers"):
        import_kalibr(bad, tmp_path / "b")


def test_calibrate_import_cli(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = data_dir / OPENVINS_EUROC
    argv = [
        "calibrate", "import",
        "--camchain", str(folder / "kalibr_imucam_chain.yaml"),
        "--imu", str(folder / "kalibr_imu_chain.yaml"),
        "--out", str(tmp_path),
    ]  # fmt: skip
    assert main(argv) == 0
    assert "stereo baseline 0.11008 m" in capsys.readouterr().out
    assert main(argv) == 1  # exists already
    assert main([*argv, "--force"]) == 0
