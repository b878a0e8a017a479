"""Kalibr camera chains and EuRoC ``sensor.yaml`` cameras as camera_info models.

Kalibr (``camchain.yaml``, ``camchain-imucam.yaml``) and the EuRoC/ASL dataset format
(``mav0/cam0/sensor.yaml``) describe a camera with the same vocabulary:

====================  ==========================================================
key                   meaning
====================  ==========================================================
camera_model          ``pinhole`` (the only projection camera_info can carry)
intrinsics            ``[fu, fv, cu, cv]``, pixels
distortion_model      ``radtan`` / ``radial-tangential`` (k1, k2, p1, p2),
                      ``equidistant`` (Kannala-Brandt k1..k4), ``none``
distortion_coeffs     the coefficients (EuRoC spells it ``distortion_coefficients``)
resolution            ``[width, height]``, pixels
T_cam_imu             Kalibr: IMU-frame points to the camera (``camchain-imucam``)
T_imu_cam             OpenVINS's Kalibr-style files: camera points to the IMU
T_cn_cnm1             Kalibr: points of camera n-1 to camera n (stereo extrinsics)
T_BS                  EuRoC: sensor points to the body (``T_body_sensor``)
====================  ==========================================================

``radtan`` becomes camera_info's ``plumb_bob`` with ``k3 = 0`` (five coefficients, as
``camera_calibration_parsers`` expects); ``equidistant`` stays ``equidistant``.
A model's R is the identity and P = [K | 0] until :func:`rectify_pair` fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from percept.errors import CalibrationError
from percept.geometry import se3
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.rectify.stereo import stereo_rectify

__all__ = [
    "KalibrCamera",
    "kalibr_camera_model",
    "load_kalibr_yaml",
    "read_camchain",
    "rectify_pair",
    "stereo_extrinsics_of",
]

#: Kalibr / EuRoC distortion names -> (camera_info distortion_model, coefficient count).
_DISTORTIONS: dict[str, tuple[str, int]] = {
    "radtan": ("plumb_bob", 4),
    "radial-tangential": ("plumb_bob", 4),
    "plumb_bob": ("plumb_bob", 4),
    "equidistant": ("equidistant", 4),
    "none": ("plumb_bob", 0),
}


def load_kalibr_yaml(path: str | Path) -> dict[str, object]:
    """A Kalibr / EuRoC YAML file as a mapping (OpenCV's ``%YAML:1.0`` line dropped).

    Raises:
        CalibrationError: unreadable, not YAML, or not a mapping at the top.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot read: {err.strerror}"
        raise CalibrationError(msg) from err
    if text.startswith("%YAML:"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"{path}: not YAML: {err}"
        raise CalibrationError(msg) from err
    if not isinstance(doc, dict):
        msg = f"{path}: expected a mapping at the top, got {type(doc).__name__}"
        raise CalibrationError(msg)
    return doc


def _numbers(value: object, count: int | None, where: str) -> npt.NDArray[np.float64]:
    """A flat float64 array of ``count`` finite numbers (``{rows, cols, data}`` accepted)."""
    if isinstance(value, Mapping) and "data" in value:
        value = value["data"]
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        msg = f"{where} must be numbers, got {value!r}"
        raise CalibrationError(msg) from err
    if (count is not None and arr.size != count) or not np.isfinite(arr).all():
        want = f"{count} finite numbers" if count is not None else "finite numbers"
        msg = f"{where} must be {want}, got {value!r}"
        raise CalibrationError(msg)
    return arr


def _transform(value: object, where: str) -> npt.NDArray[np.float64]:
    T = _numbers(value, 16, where).reshape(4, 4)
    R = T[:3, :3]
    if not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
        msg = f"{where} must be a rigid 4x4 transform (orthonormal R, last row 0 0 0 1)"
        raise CalibrationError(msg)
    return T


def kalibr_camera_model(block: Mapping[str, object], where: str) -> CameraModel:
    """The camera_info model of one Kalibr camera block or EuRoC camera ``sensor.yaml``.

    Args:
        block: the mapping with ``intrinsics``, ``resolution``, ``distortion_model``,
            ``distortion_coeffs`` (or ``distortion_coefficients``), ``camera_model``.
        where: file and key for error messages.

    Returns:
        The raw camera: K from ``[fu, fv, cu, cv]``, D in camera_info order, R = I,
        P = [K | 0].

    Raises:
        CalibrationError: a missing or malformed key, or a model camera_info cannot
            carry (Kalibr's ``omni``, ``ds``, ``eucm``; ``fov`` distortion).
    """
    projection = str(block.get("camera_model", "pinhole"))
    if projection != "pinhole":
        msg = f"{where}: camera_model {projection!r} is not supported; expected pinhole"
        raise CalibrationError(msg)
    fu, fv, cu, cv = _numbers(block.get("intrinsics"), 4, f"{where}: intrinsics")
    width, height = _numbers(block.get("resolution"), 2, f"{where}: resolution")
    if fu <= 0 or fv <= 0 or width < 1 or height < 1 or width % 1 or height % 1:
        msg = f"{where}: intrinsics need fu, fv > 0 and resolution whole pixels, got {block}"
        raise CalibrationError(msg)
    name = str(block.get("distortion_model", "none"))
    if name not in _DISTORTIONS:
        msg = f"{where}: distortion_model {name!r} is not supported; expected one of "
        msg += f"{sorted(_DISTORTIONS)}"
        raise CalibrationError(msg)
    model, count = _DISTORTIONS[name]
    raw = block.get("distortion_coeffs", block.get("distortion_coefficients", []))
    coeffs = _numbers(raw, count, f"{where}: distortion_coeffs")
    if model == "plumb_bob":
        coeffs = np.concatenate([coeffs, np.zeros(5 - coeffs.size)])  # k3 = 0
    K = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
    return CameraModel(
        int(width), int(height), model, K, coeffs, np.eye(3), np.hstack([K, np.zeros((3, 1))])
    )


@dataclass(frozen=True, slots=True, eq=False)
class KalibrCamera:
    """One camera of a Kalibr chain.

    Attributes:
        name: the chain's key (``cam0``).
        model: raw camera_info model (R = I, P = [K | 0]).
        T_imu_cam: (4, 4) float64, camera points to the IMU frame; None in a chain
            without IMU (``camchain.yaml``).
        T_cn_cnm1: (4, 4) float64, points of the previous camera to this one; None for
            the first camera or when the file does not say.
        rostopic: the image topic the file names, or empty.
        timeshift_cam_imu_s: ``t_imu = t_cam + timeshift``, seconds.
    """

    name: str
    model: CameraModel
    T_imu_cam: npt.NDArray[np.float64] | None = None
    T_cn_cnm1: npt.NDArray[np.float64] | None = None
    rostopic: str = ""
    timeshift_cam_imu_s: float = 0.0


def read_camchain(path: str | Path) -> tuple[KalibrCamera, ...]:
    """The cameras of a Kalibr ``camchain.yaml`` / ``camchain-imucam.yaml``, in key order.

    Kalibr stores ``T_cam_imu`` (IMU points to the camera), which is inverted here;
    OpenVINS's Kalibr-style files store ``T_imu_cam`` and are read as they are.

    Raises:
        CalibrationError: no ``cam<N>`` block, or a malformed one (file and key named).
    """
    path = Path(path)
    doc = load_kalibr_yaml(path)
    names = sorted(
        (k for k, v in doc.items() if str(k).startswith("cam") and isinstance(v, Mapping)),
        key=lambda k: (len(str(k)), str(k)),
    )
    if not names:
        msg = f"{path}: no camera blocks (cam0, cam1, ...) at the top"
        raise CalibrationError(msg)
    cameras = []
    for name in names:
        block = doc[name]
        assert isinstance(block, Mapping)
        where = f"{path}: {name}"
        T_imu_cam = None
        if "T_imu_cam" in block:
            T_imu_cam = _transform(block["T_imu_cam"], f"{where}.T_imu_cam")
        elif "T_cam_imu" in block:
            T_imu_cam = se3.inverse(_transform(block["T_cam_imu"], f"{where}.T_cam_imu"))
        T_cn_cnm1 = None
        if "T_cn_cnm1" in block:
            T_cn_cnm1 = _transform(block["T_cn_cnm1"], f"{where}.T_cn_cnm1")
        shift = block.get("timeshift_cam_imu", 0.0)
        if isinstance(shift, bool) or not isinstance(shift, int | float):
            msg = f"{where}.timeshift_cam_imu must be a number, got {shift!r}"
            raise CalibrationError(msg)
        cameras.append(
            KalibrCamera(
                str(name),
                kalibr_camera_model(block, where),
                T_imu_cam,
                T_cn_cnm1,
                str(block.get("rostopic", "")),
                float(shift),
            )
        )
    return tuple(cameras)


def stereo_extrinsics_of(left: KalibrCamera, right: KalibrCamera) -> npt.NDArray[np.float64]:
    """``T_right_left`` (left-camera points to the right camera) of two chain cameras.

    Kalibr's own ``T_cn_cnm1`` of the right camera when it has one, else
    ``inv(T_imu_right) @ T_imu_left``.

    Raises:
        CalibrationError: neither is available.
    """
    if right.T_cn_cnm1 is not None:
        return right.T_cn_cnm1
    if left.T_imu_cam is None or right.T_imu_cam is None:
        msg = (
            f"{right.name}: no T_cn_cnm1 and no T_cam_imu/T_imu_cam for both cameras; "
            "cannot tell the stereo extrinsics"
        )
        raise CalibrationError(msg)
    return se3.compose(se3.inverse(right.T_imu_cam), left.T_imu_cam)


def rectify_pair(
    left: CameraModel,
    right: CameraModel,
    T_right_left: npt.NDArray[np.float64],
    alpha: float = 0.0,
) -> tuple[CameraModel, CameraModel]:
    """Fill R and P of a raw stereo pair (Bouguet, :func:`percept.rectify.stereo_rectify`).

    Args:
        left: raw left model.
        right: raw right model.
        T_right_left: (4, 4) float64, left-camera points to the right camera, metres.
        alpha: 0 keeps only valid pixels, 1 keeps every source pixel.

    Returns:
        (left, right) with the rectification R and projection P (right ``P[0, 3] =
        -fx * baseline``); K and D unchanged.

    Raises:
        CalibrationError: the pair cannot be rectified (sizes, models, no baseline).
    """
    left = replace(left, R=np.eye(3))
    right = replace(right, R=np.eye(3))
    return stereo_rectify(left, right, Pose.from_matrix(T_right_left), alpha=alpha)
