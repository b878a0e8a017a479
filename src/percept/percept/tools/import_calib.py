"""``percept calibrate import``: Kalibr or EuRoC calibrations into ``calibration/<robot>/``.

Reads a Kalibr camera chain (``camchain.yaml`` / ``camchain-imucam.yaml``, or OpenVINS's
Kalibr-style ``kalibr_imucam_chain.yaml``) with an optional Kalibr IMU file, or the
``sensor.yaml`` files of an EuRoC / ASL folder, and writes what the nodes read:

=====================  ============================================================
file                   content
=====================  ============================================================
left.yaml, right.yaml  camera_info YAML (camera_calibration_parsers layout): raw K, D
                       and the stereo rectification R, P (Bouguet, from the chain's
                       ``T_cn_cnm1`` or the two ``T_imu_cam``); ``camera.yaml`` for one
                       camera (R = I, P = [K | 0])
imu.yaml               noise densities, rate, topic, frame (``percept.calib.imu``
                       format) and ``T_imu_cam`` per camera frame, with the time shift
extrinsics.yaml        ``T_imu_cam`` per camera frame when there is no IMU file
=====================  ============================================================

Camera frames are the chain's camera names (``cam0``, ``cam1``), as in EuRoC bags.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from percept.calib.imu import ImuCalibration, read_imu_yaml
from percept.calib.kalibr import KalibrCamera, read_camchain, rectify_pair, stereo_extrinsics_of
from percept.calib.yaml_io import dump_camera_info_yaml
from percept.errors import CalibrationError
from percept.geometry import se3

__all__ = ["ImportResult", "import_euroc", "import_kalibr"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote.

    Attributes:
        folder: the calibration folder.
        files: the files written.
        cameras: camera frames, left first.
        baseline_m: stereo baseline (0 for one camera).
        rotation_deg: angle between the two raw cameras (0 for one camera).
    """

    folder: Path
    files: tuple[Path, ...]
    cameras: tuple[str, ...]
    baseline_m: float
    rotation_deg: float

    def summary(self) -> str:
        """Lines for the terminal."""
        lines = [f"cameras {', '.join(self.cameras)} -> {self.folder}"]
        if self.baseline_m:
            lines.append(
                f"  stereo baseline {self.baseline_m:.5f} m, rotation {self.rotation_deg:.3f} deg"
            )
        return "\n".join(lines + [f"wrote {f}" for f in self.files])


def _imu_doc(
    imu: ImuCalibration | None,
    frame_id: str,
    cameras: Sequence[KalibrCamera],
    sources: Sequence[Path | str],
) -> tuple[str, str]:
    """(file name, text) of the IMU / extrinsics file."""
    extrinsics = {
        c.name: {"T_imu_cam": np.asarray(c.T_imu_cam).round(15).tolist()}
        for c in cameras
        if c.T_imu_cam is not None
    }
    header = (
        f"# Imported by `percept calibrate import` from {', '.join(str(s) for s in sources)}.\n"
        "# Kalibr names and units; T_imu_cam takes camera-frame points to the IMU frame;\n"
        "# t_imu = t_cam + timeshift_cam_imu (seconds).\n"
    )
    doc: dict[str, object] = {}
    if imu is not None:
        doc = {
            "rostopic": imu.topic,
            "frame_id": frame_id,
            "update_rate": imu.update_rate_hz,
            "accelerometer_noise_density": imu.noise.accelerometer_noise_density,
            "accelerometer_random_walk": imu.noise.accelerometer_random_walk,
            "gyroscope_noise_density": imu.noise.gyroscope_noise_density,
            "gyroscope_random_walk": imu.noise.gyroscope_random_walk,
        }
    doc["timeshift_cam_imu"] = cameras[0].timeshift_cam_imu_s if cameras else 0.0
    doc["cameras"] = extrinsics
    name = "imu.yaml" if imu is not None else "extrinsics.yaml"
    return name, header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def _rotation_deg(T: npt.NDArray[np.float64]) -> float:
    cos = (np.trace(T[:3, :3]) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _write(
    out_dir: Path,
    cameras: Sequence[KalibrCamera],
    imu: ImuCalibration | None,
    *,
    imu_frame: str,
    names: tuple[str, str],
    alpha: float,
    overwrite: bool,
    sources: Sequence[Path | str],
) -> ImportResult:
    if not cameras:
        msg = f"{', '.join(map(str, sources))}: no cameras"
        raise CalibrationError(msg)
    texts: dict[str, str] = {}
    baseline = rotation = 0.0
    if len(cameras) == 1:
        texts["camera.yaml"] = dump_camera_info_yaml(cameras[0].model, cameras[0].name)
    else:
        if len(cameras) > 2:
            logger.warning(
                "%d cameras in the chain; importing the first two (%s, %s) as a stereo pair",
                len(cameras),
                cameras[0].name,
                cameras[1].name,
            )
        left, right = cameras[0], cameras[1]
        T_right_left = stereo_extrinsics_of(left, right)
        rect_left, rect_right = rectify_pair(left.model, right.model, T_right_left, alpha)
        texts[f"{names[0]}.yaml"] = dump_camera_info_yaml(rect_left, left.name)
        texts[f"{names[1]}.yaml"] = dump_camera_info_yaml(rect_right, right.name)
        baseline = float(np.linalg.norm(T_right_left[:3, 3]))
        rotation = _rotation_deg(T_right_left)
        cameras = cameras[:2]
    if imu is not None or any(c.T_imu_cam is not None for c in cameras):
        name, text = _imu_doc(imu, imu_frame, cameras, sources)
        texts[name] = text
    targets = [out_dir / name for name in texts]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        msg = f"{existing[0]}: exists already (pass overwrite=True / --force)"
        raise CalibrationError(msg)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for target, text in zip(targets, texts.values(), strict=True):
            target.write_text(text, encoding="utf-8")
    except OSError as err:
        msg = f"{out_dir}: cannot write the calibration: {err}"
        raise CalibrationError(msg) from err
    return ImportResult(out_dir, tuple(targets), tuple(c.name for c in cameras), baseline, rotation)


def import_kalibr(
    camchain: Path | str,
    out_dir: Path | str,
    *,
    imu: Path | str | None = None,
    imu_frame: str = "imu0",
    names: tuple[str, str] = ("left", "right"),
    alpha: float = 0.0,
    overwrite: bool = False,
) -> ImportResult:
    """Import a Kalibr camera chain (and IMU file) into a calibration folder.

    Args:
        camchain: ``camchain.yaml`` / ``camchain-imucam.yaml`` (``T_cam_imu``) or an
            OpenVINS ``kalibr_imucam_chain.yaml`` (``T_imu_cam``).
        out_dir: the folder to write, ``calibration/<robot>/``.
        imu: Kalibr ``imu.yaml`` (noise under ``imu0``) or any file
            :func:`percept.calib.imu.read_imu_yaml` reads.
        imu_frame: the IMU's frame id in ``imu.yaml``.
        names: file names (without ``.yaml``) of the left and right cameras.
        alpha: rectification scaling, 0 (valid pixels only) .. 1 (every source pixel).
        overwrite: replace existing files.

    Returns:
        What was written.

    Raises:
        CalibrationError: unreadable or malformed input (file and key named), a pair
            that cannot be rectified, or an existing file without ``overwrite``.
    """
    camchain = Path(camchain)
    cameras = read_camchain(camchain)
    imu_cal = None if imu is None else read_imu_yaml(imu)
    sources = [camchain] + ([] if imu is None else [Path(imu)])
    return _write(
        Path(out_dir),
        cameras,
        imu_cal,
        imu_frame=imu_frame,
        names=names,
        alpha=alpha,
        overwrite=overwrite,
        sources=[s.name for s in sources],
    )


def import_euroc(
    folder: Path | str,
    out_dir: Path | str,
    *,
    names: tuple[str, str] = ("left", "right"),
    alpha: float = 0.0,
    overwrite: bool = False,
) -> ImportResult:
    """Import the calibration of an EuRoC / ASL folder (its ``sensor.yaml`` files).

    ``T_imu_cam = inv(T_BS of imu0) @ T_BS of the camera``; the IMU's noise and rate come
    from ``imu0/sensor.yaml``, its topic and frame are ``/imu0`` and ``imu0`` as in
    ``percept bag from-euroc``.

    Raises:
        CalibrationError: not an ASL folder, malformed files, or existing output
            without ``overwrite``.
    """
    from percept.io.euroc import read_euroc

    data = read_euroc(folder)
    cameras = [
        KalibrCamera(c.name, c.model, data.T_imu_cam(c.name), None, f"/{c.name}/image_raw")
        for c in data.cameras
    ]
    if len(cameras) >= 2:
        # Stereo extrinsics from the two T_BS, as read_euroc rectified the bag's pair.
        T_rl = se3.compose(se3.inverse(data.cameras[1].T_body_cam), data.cameras[0].T_body_cam)
        cameras[1] = KalibrCamera(
            cameras[1].name, cameras[1].model, cameras[1].T_imu_cam, T_rl, cameras[1].rostopic
        )
    imu = None
    imu_frame = "imu0"
    if data.imu is not None:
        imu_frame = data.imu.name
        imu = ImuCalibration(data.imu.noise, data.imu.rate_hz, f"/{data.imu.name}", imu_frame)
    return _write(
        Path(out_dir),
        cameras,
        imu,
        imu_frame=imu_frame,
        names=names,
        alpha=alpha,
        overwrite=overwrite,
        sources=[f"{data.root.parent.name}/{data.root.name}/*/sensor.yaml"],
    )
