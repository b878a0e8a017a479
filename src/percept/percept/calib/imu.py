"""IMU calibration: noise densities, rate, camera-IMU extrinsics and time shift.

Read and written in Kalibr's names and units, the ones EuRoC's ``mav0/imu0/sensor.yaml``,
OpenVINS and VINS-Fusion use too:

=============================  ==================  ===================================
key                            unit                meaning
=============================  ==================  ===================================
accelerometer_noise_density    m/s^2/sqrt(Hz)      accelerometer white noise
accelerometer_random_walk      m/s^3/sqrt(Hz)      accelerometer bias diffusion
gyroscope_noise_density        rad/s/sqrt(Hz)      gyroscope white noise
gyroscope_random_walk          rad/s^2/sqrt(Hz)    gyroscope bias diffusion
update_rate (rate_hz)          Hz                  sample rate
timeshift_cam_imu              s                   ``t_imu = t_cam + timeshift``
T_imu_cam                      (4, 4), metres      camera-frame points to the IMU frame
=============================  ==================  ===================================

Extrinsics: Kalibr's ``camchain-imucam.yaml`` stores ``T_cam_imu`` (IMU points to the
camera); we keep ``T_imu_cam``, its inverse, as STYLE.md and OpenVINS name it. Files that
already store ``T_imu_cam`` (ours, OpenVINS's ``kalibr_imucam_chain.yaml``) are read as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from percept.calib.kalibr import load_kalibr_yaml
from percept.errors import CalibrationError
from percept.geometry import se3

__all__ = ["ImuCalibration", "ImuNoise", "imu_yaml", "read_imu_yaml"]

_NOISE_KEYS = (
    "accelerometer_noise_density",
    "accelerometer_random_walk",
    "gyroscope_noise_density",
    "gyroscope_random_walk",
)


@dataclass(frozen=True, slots=True)
class ImuNoise:
    """Continuous-time IMU noise densities (Kalibr names and units).

    Attributes:
        accelerometer_noise_density: m/s^2/sqrt(Hz), white noise.
        accelerometer_random_walk: m/s^3/sqrt(Hz), bias diffusion.
        gyroscope_noise_density: rad/s/sqrt(Hz), white noise.
        gyroscope_random_walk: rad/s^2/sqrt(Hz), bias diffusion.
        accelerometer_bias_m_s2: standard deviation of the initial accelerometer bias
            (each axis), m/s^2.
        gyroscope_bias_rad_s: standard deviation of the initial gyroscope bias, rad/s.
    """

    accelerometer_noise_density: float = 2.0e-3
    accelerometer_random_walk: float = 3.0e-3
    gyroscope_noise_density: float = 1.6968e-4
    gyroscope_random_walk: float = 1.9393e-5
    accelerometer_bias_m_s2: float = 0.0
    gyroscope_bias_rad_s: float = 0.0

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                msg = f"ImuNoise.{name} must be finite and >= 0, got {value}"
                raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class ImuCalibration:
    """An IMU's calibration as read from a Kalibr/EuRoC-style YAML file.

    Attributes:
        noise: noise densities and random walks (initial bias spreads are 0).
        update_rate_hz: sample rate, Hz.
        topic: the IMU topic (``rostopic``), empty when the file does not say.
        frame_id: the IMU frame, ``imu_link`` when the file does not say.
        T_imu_cams: camera name -> (4, 4) float64 ``T_imu_cam``, camera-frame points to
            the IMU frame; empty when the file has no extrinsics.
        timeshift_cam_imu_s: ``t_imu = t_cam + timeshift``, seconds.
        noise_simulated: what a ``percept synth`` file says about its data (False:
            rendered without noise); None for files from elsewhere.
    """

    noise: ImuNoise
    update_rate_hz: float
    topic: str = ""
    frame_id: str = "imu_link"
    T_imu_cams: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    timeshift_cam_imu_s: float = 0.0
    noise_simulated: bool | None = None


def imu_yaml(
    noise: ImuNoise,
    rate_hz: float,
    topic: str,
    frame_id: str,
    T_imu_cams: Sequence[tuple[str, npt.NDArray[np.float64]]],
    timeshift_cam_imu_s: float,
    noise_simulated: bool = True,
) -> str:
    """IMU noise, camera-IMU extrinsics and time shift (Kalibr names and units).

    Args:
        noise: the IMU's noise densities (what an estimator should assume).
        rate_hz: sample rate.
        topic: the IMU topic.
        frame_id: the IMU frame.
        T_imu_cams: (camera frame, (4, 4) float64 ``T_imu_cam``) pairs.
        timeshift_cam_imu_s: ``t_imu = t_cam + shift``, seconds.
        noise_simulated: False when the data were rendered without noise.

    Returns:
        The YAML text.
    """
    doc: dict[str, object] = {
        "rostopic": topic,
        "frame_id": frame_id,
        "update_rate": float(rate_hz),
        "accelerometer_noise_density": noise.accelerometer_noise_density,
        "accelerometer_random_walk": noise.accelerometer_random_walk,
        "gyroscope_noise_density": noise.gyroscope_noise_density,
        "gyroscope_random_walk": noise.gyroscope_random_walk,
        "noise_simulated": bool(noise_simulated),
        "timeshift_cam_imu": float(timeshift_cam_imu_s),
        "cameras": {
            name: {"T_imu_cam": np.asarray(T, dtype=np.float64).round(12).tolist()}
            for name, T in T_imu_cams
        },
    }
    header = (
        "# IMU of the simulated robot: noise densities in Kalibr's units (m/s^2/sqrt(Hz),\n"
        "# m/s^3/sqrt(Hz), rad/s/sqrt(Hz), rad/s^2/sqrt(Hz)); T_imu_cam takes camera-frame\n"
        "# points to the IMU frame; t_imu = t_cam + timeshift_cam_imu (seconds).\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def _float(block: Mapping[str, object], key: str, where: str) -> float:
    value = block.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{where}: {key} must be a number, got {value!r}"
        raise CalibrationError(msg)
    return float(value)


def _matrix(value: object, where: str) -> npt.NDArray[np.float64]:
    try:
        T = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        msg = f"{where} must be a 4x4 matrix of numbers, got {value!r}"
        raise CalibrationError(msg) from err
    if T.shape != (4, 4) or not np.isfinite(T).all():
        msg = f"{where} must be a finite 4x4 matrix, got shape {T.shape}"
        raise CalibrationError(msg)
    return T


def _imu_block(doc: dict[str, object], path: Path) -> tuple[dict[str, object], str]:
    """The mapping holding the noise keys: the top level, or Kalibr's ``imu0`` block."""
    if "gyroscope_noise_density" in doc:
        return doc, str(path)
    for key, value in doc.items():
        if isinstance(value, dict) and "gyroscope_noise_density" in value:
            return value, f"{path}: {key}"
    msg = f"{path}: no gyroscope_noise_density, at the top or in an imu block (imu0)"
    raise CalibrationError(msg)


def _extrinsics(
    doc: dict[str, object], where: str
) -> tuple[dict[str, npt.NDArray[np.float64]], float | None]:
    """``T_imu_cam`` per camera and the first camera's time shift from a camera chain."""
    cameras = doc.get("cameras", doc)
    if not isinstance(cameras, dict):
        msg = f"{where}: cameras must be a mapping, got {cameras!r}"
        raise CalibrationError(msg)
    T_imu_cams: dict[str, npt.NDArray[np.float64]] = {}
    timeshift_s: float | None = None
    for name, block in cameras.items():
        if not isinstance(block, dict):
            continue
        here = f"{where}: {name}"
        if "T_imu_cam" in block:
            T_imu_cams[str(name)] = _matrix(block["T_imu_cam"], f"{here}.T_imu_cam")
        elif "T_cam_imu" in block:
            T_cam_imu = _matrix(block["T_cam_imu"], f"{here}.T_cam_imu")
            T_imu_cams[str(name)] = se3.inverse(T_cam_imu)
        if timeshift_s is None and "timeshift_cam_imu" in block:
            timeshift_s = _float(block, "timeshift_cam_imu", here)
    return T_imu_cams, timeshift_s


def read_imu_yaml(path: str | Path, imucam_path: str | Path | None = None) -> ImuCalibration:
    """Read an IMU calibration.

    ``path`` may be the file ``percept synth`` writes, Kalibr's ``imu.yaml`` (or
    OpenVINS's ``kalibr_imu_chain.yaml``, noise under ``imu0``) or EuRoC's
    ``mav0/imu0/sensor.yaml`` (``rate_hz``). ``imucam_path``, Kalibr's
    ``camchain-imucam.yaml``, adds the extrinsics and time shift; Kalibr keeps one
    ``timeshift_cam_imu`` per camera, of which the first camera's is used.

    Args:
        path: the IMU file.
        imucam_path: optional camera-IMU chain file.

    Returns:
        The calibration, ``T_imu_cam`` per camera (``T_cam_imu`` inverted).

    Raises:
        CalibrationError: a file cannot be read, is not YAML, or a key is missing or
            malformed (the message names the file and key).
    """
    path = Path(path)
    doc = load_kalibr_yaml(path)
    block, where = _imu_block(doc, path)
    try:
        noise = ImuNoise(*(_float(block, key, where) for key in _NOISE_KEYS))
    except ValueError as err:
        msg = f"{where}: {err}"
        raise CalibrationError(msg) from err
    rate_key = "update_rate" if "update_rate" in block else "rate_hz"
    rate_hz = _float(block, rate_key, where)
    if rate_hz <= 0:
        msg = f"{where}: {rate_key} must be > 0, got {rate_hz}"
        raise CalibrationError(msg)
    T_imu_cams, timeshift_s = _extrinsics(block, where) if "cameras" in block else ({}, None)
    if imucam_path is not None:
        imucam_path = Path(imucam_path)
        T_imu_cams, timeshift_s = _extrinsics(load_kalibr_yaml(imucam_path), str(imucam_path))
    if "timeshift_cam_imu" in block:
        timeshift_s = _float(block, "timeshift_cam_imu", where)
    simulated = block.get("noise_simulated")
    return ImuCalibration(
        noise=noise,
        update_rate_hz=rate_hz,
        topic=str(block.get("rostopic", "")),
        frame_id=str(block.get("frame_id", "imu_link")),
        T_imu_cams=T_imu_cams,
        timeshift_cam_imu_s=0.0 if timeshift_s is None else timeshift_s,
        noise_simulated=simulated if isinstance(simulated, bool) else None,
    )
