"""EuRoC / ASL dataset folders: read them as domain messages, or write them into a bag.

The layout (Burri et al., "The EuRoC micro aerial vehicle datasets", IJRR 2016)::

    <sequence>/mav0/cam0/data.csv + data/<stamp>.png + sensor.yaml   left camera
                    cam1/...                                          right camera
                    imu0/data.csv + sensor.yaml                       200 Hz IMU
                    state_groundtruth_estimate0/data.csv + sensor.yaml   pose ground truth
                    leica0/data.csv + sensor.yaml                     laser-tracker positions

Stamps are integer nanoseconds of one hardware clock (cameras and IMU). Every
``sensor.yaml`` holds ``T_BS``: sensor-frame points to the body frame
(``T_body_sensor``); the body is the IMU (``imu0``'s ``T_BS`` is the identity), so
``T_imu_cam = inv(T_body_imu) @ T_body_cam``. Camera frames are already optical (z
forward, x right, y down). Ground-truth poses are ``T_world_body``.

Ground truth is read from ``state_groundtruth_estimate0/``: the official ``data.csv``
(``#timestamp, p_RS_R_xyz [m], q_RS_wxyz [], v_RS_R_xyz [m s^-1], b_w_RS_S_xyz [rad
s^-1], b_a_RS_S_xyz [m s^-2]``; OpenVINS's state CSVs have the same columns), else a TUM
file (``t[s] tx ty tz qx qy qz qw``) there. ``leica0`` positions are read too but are not
a pose and their clock is not the cameras' (on MH_01 it lags by about 135 ms), so they do
not become ground truth.

Bag topics (the names of the ASL rosbags and of Kalibr/OpenVINS/VINS configs):

====================  =====================================  ============================
topic                 type                                   frame
====================  =====================================  ============================
/cam0/image_raw       sensor_msgs/Image mono8                cam0 (left, optical)
/cam0/camera_info     sensor_msgs/CameraInfo, R and P set    cam0
/cam1/image_raw       sensor_msgs/Image mono8                cam1 (right, optical)
/cam1/camera_info     sensor_msgs/CameraInfo                 cam1
/imu0                 sensor_msgs/Imu (no orientation)       imu0
/tf_static            tf2_msgs/TFMessage                     base_link -> imu0 -> cam0, cam1
/ground_truth/pose    geometry_msgs/PoseStamped              world, pose of base_link
====================  =====================================  ============================

``base_link`` is EuRoC's body frame. camera_info carries the raw K and D of
``sensor.yaml`` (radtan as plumb_bob with k3 = 0) and, for a stereo pair, R and P from
Bouguet rectification with the ``T_BS`` extrinsics, so ``stereo_rectify`` runs on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.imu import ImuNoise
from percept.calib.kalibr import kalibr_camera_model, load_kalibr_yaml, rectify_pair
from percept.domain import CameraInfo, Header, Image, ImuSample, PoseStamped, TransformStamped
from percept.errors import BagError, CalibrationError
from percept.geometry import se3
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.image_files import read_image_file
from percept.msgtypes import CAMERA_INFO, IMAGE, IMU, POSE_STAMPED, TF_MESSAGE
from percept.units import NS_PER_S

__all__ = [
    "BASE_FRAME",
    "GROUND_TRUTH_TOPIC",
    "WORLD_FRAME",
    "EurocBagResult",
    "EurocCamera",
    "EurocDataset",
    "EurocGroundTruth",
    "EurocImu",
    "EurocMessage",
    "read_euroc",
    "read_ground_truth",
    "write_euroc_bag",
]

logger = logging.getLogger(__name__)

BASE_FRAME: Final = "base_link"
WORLD_FRAME: Final = "world"
GROUND_TRUTH_TOPIC: Final = "/ground_truth/pose"

FloatArray = npt.NDArray[np.float64]
StampArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class EurocCamera:
    """One camera folder (``cam0``).

    Attributes:
        name: folder name, also the frame id and topic prefix.
        model: camera_info model: raw K and D of ``sensor.yaml``; R and P rectified when
            the dataset has a stereo pair, else R = I and P = [K | 0].
        T_body_cam: (4, 4) float64 ``T_BS``, camera points to the body frame.
        rate_hz: nominal frame rate (``rate_hz``).
        stamps_ns: (N,) int64 frame stamps, increasing.
        files: N image files, one per stamp.
    """

    name: str
    model: CameraModel
    T_body_cam: FloatArray
    rate_hz: float
    stamps_ns: StampArray
    files: tuple[Path, ...]

    def image(self, index: int) -> npt.NDArray[np.uint8]:
        """(H, W) uint8 mono image ``index``.

        Raises:
            CalibrationError: unreadable file, or not the size ``sensor.yaml`` says.
        """
        path = self.files[index]
        image = read_image_file(path, cv2.IMREAD_GRAYSCALE)
        if image is None:
            msg = f"{path}: cannot read the image"
            raise CalibrationError(msg)
        if image.shape != (self.model.height, self.model.width):
            msg = (
                f"{path}: image is {image.shape[1]}x{image.shape[0]}, sensor.yaml says "
                f"{self.model.width}x{self.model.height}"
            )
            raise CalibrationError(msg)
        return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True, slots=True, eq=False)
class EurocImu:
    """The IMU folder (``imu0``).

    Attributes:
        name: folder name, also the frame id and topic.
        T_body_imu: (4, 4) float64 ``T_BS`` (the identity in EuRoC: the body is the IMU).
        noise: noise densities and random walks (Kalibr units).
        rate_hz: nominal rate.
        stamps_ns: (N,) int64, increasing.
        angular_velocity_rad_s: (N, 3) float64, IMU frame (``w_RS_S``).
        linear_acceleration_m_s2: (N, 3) float64, IMU frame, gravity included (``a_RS_S``).
    """

    name: str
    T_body_imu: FloatArray
    noise: ImuNoise
    rate_hz: float
    stamps_ns: StampArray
    angular_velocity_rad_s: FloatArray
    linear_acceleration_m_s2: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class EurocGroundTruth:
    """Ground-truth states of the body (``T_world_body``).

    Attributes:
        source: the file read.
        stamps_ns: (N,) int64, increasing.
        positions_m: (N, 3) float64 body origin in the world frame.
        quat_xyzw: (N, 4) float64 Hamilton ``q_world_body``, unit norm.
        velocity_m_s: (N, 3) float64 in the world frame, or None (TUM files).
        gyro_bias_rad_s: (N, 3) float64, or None.
        accel_bias_m_s2: (N, 3) float64, or None.
    """

    source: Path
    stamps_ns: StampArray
    positions_m: FloatArray
    quat_xyzw: FloatArray
    velocity_m_s: FloatArray | None = None
    gyro_bias_rad_s: FloatArray | None = None
    accel_bias_m_s2: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class EurocMessage:
    """One message of a dataset, in time order.

    Attributes:
        topic: bag topic.
        msgtype: ROS 2 type name.
        stamp_ns: header stamp, also the bag's log time.
        obj: the domain object (Image, CameraInfo, ImuSample, PoseStamped, or a list of
            TransformStamped for ``/tf_static``).
    """

    topic: str
    msgtype: str
    stamp_ns: int
    obj: object


def _stamps(column: npt.NDArray[np.str_], where: str) -> StampArray:
    """Integer-ns stamps from CSV text; exact for integers and ``1.40363658876356E+018``."""
    values: list[int] = []
    for row, text in enumerate(map(str, column), start=1):
        try:
            values.append(int(text) if text.isdigit() else int(Decimal(text)))
        except (ValueError, ArithmeticError) as err:
            msg = f"{where}: data row {row}: timestamp must be integer nanoseconds, got {text!r}"
            raise CalibrationError(msg) from err
    stamps = np.array(values, np.int64)
    if stamps.size > 1 and not (np.diff(stamps) > 0).all():
        bad = int(np.argmax(np.diff(stamps) <= 0)) + 1
        msg = f"{where}: timestamps must increase; row {bad + 1} is {stamps[bad]}"
        raise CalibrationError(msg)
    return stamps


def _seconds_to_ns(column: npt.NDArray[np.str_]) -> StampArray:
    """Decimal seconds (``1403636588.76356``) to integer ns without float rounding."""
    out = np.empty(column.size, np.int64)
    for i, text in enumerate(column):
        whole, _, frac = text.partition(".")
        out[i] = int(whole) * NS_PER_S + int((frac + "000000000")[:9])
    return out


def _csv(path: Path, columns: int) -> npt.NDArray[np.str_]:
    """Rows of a comma- or space-separated file as strings, ``#`` lines skipped."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise CalibrationError(msg)
    rows = [
        line.replace(",", " ").split()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    bad = [i for i, r in enumerate(rows) if len(r) < columns]
    if bad:
        msg = f"{path}: data row {bad[0] + 1} has {len(rows[bad[0]])} columns, need {columns}"
        raise CalibrationError(msg)
    return np.array([r[:columns] for r in rows], dtype=str).reshape(-1, columns)


def _floats(table: npt.NDArray[np.str_], where: str) -> FloatArray:
    try:
        values = table.astype(np.float64)
    except ValueError as err:
        msg = f"{where}: not a number: {err}"
        raise CalibrationError(msg) from err
    if not np.isfinite(values).all():
        msg = f"{where}: NaN or Inf in the data"
        raise CalibrationError(msg)
    return values


def _T_BS(doc: dict[str, object], where: str) -> FloatArray:
    block = doc.get("T_BS")
    data = block.get("data") if isinstance(block, dict) else block
    try:
        T = np.asarray(data, dtype=np.float64).reshape(4, 4)
    except (TypeError, ValueError) as err:
        msg = f"{where}: T_BS must be a 4x4 matrix, got {block!r}"
        raise CalibrationError(msg) from err
    if not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6):
        msg = f"{where}: T_BS rotation is not orthonormal"
        raise CalibrationError(msg)
    return T


def _read_camera(folder: Path) -> EurocCamera:
    yaml_path = folder / "sensor.yaml"
    doc = load_kalibr_yaml(yaml_path)
    model = kalibr_camera_model(doc, str(yaml_path))
    table = _csv(folder / "data.csv", 2)
    stamps = _stamps(table[:, 0], str(folder / "data.csv"))
    files = tuple(folder / "data" / name for name in table[:, 1])
    missing = [f for f in files if not f.is_file()]
    if missing:
        msg = f"{folder}: {len(missing)} images listed in data.csv are missing, e.g. {missing[0]}"
        raise CalibrationError(msg)
    rate = doc.get("rate_hz", 0.0)
    return EurocCamera(
        folder.name,
        model,
        _T_BS(doc, str(yaml_path)),
        float(rate) if isinstance(rate, int | float) else 0.0,
        stamps,
        files,
    )


def _read_imu(folder: Path) -> EurocImu:
    yaml_path = folder / "sensor.yaml"
    doc = load_kalibr_yaml(yaml_path)
    try:
        noise = ImuNoise(
            float(doc["accelerometer_noise_density"]),  # type: ignore[arg-type]
            float(doc["accelerometer_random_walk"]),  # type: ignore[arg-type]
            float(doc["gyroscope_noise_density"]),  # type: ignore[arg-type]
            float(doc["gyroscope_random_walk"]),  # type: ignore[arg-type]
        )
        rate_hz = float(doc["rate_hz"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as err:
        msg = f"{yaml_path}: noise densities and rate_hz must be numbers: {err!r}"
        raise CalibrationError(msg) from err
    path = folder / "data.csv"
    table = _csv(path, 7)
    values = _floats(table[:, 1:], str(path))
    return EurocImu(
        folder.name,
        _T_BS(doc, str(yaml_path)),
        noise,
        rate_hz,
        _stamps(table[:, 0], str(path)),
        values[:, :3].copy(),
        values[:, 3:].copy(),
    )


def _ground_truth_file(folder: Path) -> Path | None:
    """``data.csv``, else the first TUM ``*.txt``, else the first other ``*.csv``."""
    if not folder.is_dir():
        return None
    found = [folder / "data.csv"] if (folder / "data.csv").is_file() else []
    found += sorted(folder.glob("*.txt")) + sorted(
        p for p in folder.glob("*.csv") if p.name != "data.csv"
    )
    return found[0] if found else None


def read_ground_truth(path: Path | str) -> EurocGroundTruth:
    """Read a ground-truth file: EuRoC state CSV (ns, wxyz) or TUM text (s, xyzw).

    Raises:
        CalibrationError: unreadable or malformed file (named), stamps not increasing.
    """
    path = Path(path)
    if path.suffix == ".csv":
        columns = min(_columns(path), 17)
        table = _csv(path, max(columns, 8))
        stamps = _stamps(table[:, 0], str(path))
        values = _floats(table[:, 1:], str(path))
        quat = values[:, [4, 5, 6, 3]]  # EuRoC writes q_RS_w first: wxyz -> xyzw
        full = values.shape[1] >= 16
        velocity = values[:, 7:10] if full else None
        gyro_bias = values[:, 10:13] if full else None
        accel_bias = values[:, 13:16] if full else None
    else:
        table = _csv(path, 8)
        stamps = _seconds_to_ns(table[:, 0])
        if stamps.size > 1 and not (np.diff(stamps) > 0).all():
            msg = f"{path}: timestamps must increase"
            raise CalibrationError(msg)
        values = _floats(table[:, 1:], str(path))
        quat = values[:, 3:7]
        velocity = gyro_bias = accel_bias = None
    norms = np.linalg.norm(quat, axis=1, keepdims=True)
    if (np.abs(norms - 1.0) > 1e-2).any():
        msg = f"{path}: quaternions are not unit length (norm {float(norms.min()):.3f}..)"
        raise CalibrationError(msg)
    return EurocGroundTruth(
        path, stamps, values[:, :3].copy(), quat / norms, velocity, gyro_bias, accel_bias
    )


def _columns(path: Path) -> int:
    """Columns of the first data row (0 for a file without data)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        msg = f"{path}: cannot read: {err.strerror}"
        raise CalibrationError(msg) from err
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            return len(line.replace(",", " ").split())
    return 0


@dataclass(frozen=True, slots=True, eq=False)
class EurocDataset:
    """An EuRoC / ASL sequence folder.

    Attributes:
        root: the ``mav0`` folder.
        cameras: camera folders in name order (``cam0`` = left, ``cam1`` = right).
        imu: the IMU, or None when the folder has none.
        ground_truth: body poses, or None.
        leica_stamps_ns: (M,) int64 ``leica0`` stamps (empty when absent); its own clock.
        leica_positions_m: (M, 3) float64 prism positions in the world frame.
    """

    root: Path
    cameras: tuple[EurocCamera, ...]
    imu: EurocImu | None
    ground_truth: EurocGroundTruth | None
    leica_stamps_ns: StampArray = field(default_factory=lambda: np.zeros(0, np.int64))
    leica_positions_m: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))

    def camera(self, name: str) -> EurocCamera:
        """The camera called ``name``.

        Raises:
            CalibrationError: no such camera.
        """
        for cam in self.cameras:
            if cam.name == name:
                return cam
        msg = f"{self.root}: no camera {name!r}; have {[c.name for c in self.cameras]}"
        raise CalibrationError(msg)

    def T_imu_cam(self, name: str) -> FloatArray:
        """(4, 4) float64 ``T_imu_cam`` of a camera: ``inv(T_body_imu) @ T_body_cam``."""
        T_body_imu = np.eye(4) if self.imu is None else self.imu.T_body_imu
        return se3.compose(se3.inverse(T_body_imu), self.camera(name).T_body_cam)

    @property
    def start_ns(self) -> int:
        """Earliest camera or IMU stamp."""
        firsts = [int(c.stamps_ns[0]) for c in self.cameras if c.stamps_ns.size]
        if self.imu is not None and self.imu.stamps_ns.size:
            firsts.append(int(self.imu.stamps_ns[0]))
        return min(firsts) if firsts else 0

    def _tf_static(self, stamp_ns: int) -> list[TransformStamped]:
        imu_name = "imu0" if self.imu is None else self.imu.name
        T_body_imu = np.eye(4) if self.imu is None else self.imu.T_body_imu
        header = Header(stamp_ns, BASE_FRAME)
        out = [TransformStamped(header, imu_name, Pose.from_matrix(T_body_imu))]
        for cam in self.cameras:
            T = Pose.from_matrix(self.T_imu_cam(cam.name))
            out.append(TransformStamped(Header(stamp_ns, imu_name), cam.name, T))
        return out

    def messages(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> Iterator[EurocMessage]:
        """Every message with ``start_ns <= stamp < stop_ns``, in stamp order.

        ``/tf_static`` comes first (at the first stamp); at equal stamps the IMU comes
        before the ground truth, then the cameras in name order (image, camera_info).
        Images are read from disk as they are yielded.
        """
        lo = self.start_ns if start_ns is None else start_ns
        hi = np.iinfo(np.int64).max if stop_ns is None else stop_ns
        streams: list[StampArray] = []
        if self.imu is not None:
            streams.append(self.imu.stamps_ns)
        gt = self.ground_truth
        if gt is not None:
            streams.append(gt.stamps_ns)
        streams += [c.stamps_ns for c in self.cameras]
        kinds = np.concatenate([np.full(s.size, k, np.int64) for k, s in enumerate(streams)])
        index = np.concatenate([np.arange(s.size) for s in streams])
        stamps = np.concatenate(streams) if streams else np.zeros(0, np.int64)
        keep = (stamps >= lo) & (stamps < hi)
        kinds, index, stamps = kinds[keep], index[keep], stamps[keep]
        order = np.lexsort((kinds, stamps))
        if order.size == 0:
            return
        first = int(stamps[order[0]])
        yield EurocMessage("/tf_static", TF_MESSAGE, first, self._tf_static(first))
        n_first_camera = len(streams) - len(self.cameras)
        for k, i, stamp in zip(kinds[order], index[order], stamps[order], strict=True):
            stamp_ns = int(stamp)
            if self.imu is not None and k == 0:
                yield EurocMessage(f"/{self.imu.name}", IMU, stamp_ns, self._imu_sample(i))
            elif k < n_first_camera:
                assert gt is not None
                pose = Pose(gt.positions_m[i], gt.quat_xyzw[i])
                msg = PoseStamped(Header(stamp_ns, WORLD_FRAME), pose)
                yield EurocMessage(GROUND_TRUTH_TOPIC, POSE_STAMPED, stamp_ns, msg)
            else:
                cam = self.cameras[k - n_first_camera]
                header = Header(stamp_ns, cam.name)
                image = Image(header, "mono8", cam.image(int(i)))
                yield EurocMessage(f"/{cam.name}/image_raw", IMAGE, stamp_ns, image)
                info = CameraInfo(header, cam.model)
                yield EurocMessage(f"/{cam.name}/camera_info", CAMERA_INFO, stamp_ns, info)

    def _imu_sample(self, i: int) -> ImuSample:
        imu = self.imu
        assert imu is not None
        # Discrete white-noise variance of one sample: density^2 * rate (Kalibr's model).
        gyro_var = imu.noise.gyroscope_noise_density**2 * imu.rate_hz
        accel_var = imu.noise.accelerometer_noise_density**2 * imu.rate_hz
        return ImuSample(
            Header(int(imu.stamps_ns[i]), imu.name),
            imu.angular_velocity_rad_s[i],
            imu.linear_acceleration_m_s2[i],
            None,
            angular_velocity_covariance=np.eye(3) * gyro_var,
            linear_acceleration_covariance=np.eye(3) * accel_var,
        )


def _mav0(path: Path) -> Path:
    for candidate in (path, path / "mav0"):
        if (candidate / "cam0").is_dir() or (candidate / "imu0").is_dir():
            return candidate
    msg = f"{path}: not an EuRoC/ASL folder (no mav0/cam0 or mav0/imu0)"
    raise CalibrationError(msg)


def read_euroc(
    path: Path | str, *, ground_truth: Path | str | None = None, alpha: float = 0.0
) -> EurocDataset:
    """Read an EuRoC / ASL sequence (the folder holding ``mav0``, or ``mav0`` itself).

    Args:
        path: the sequence folder.
        ground_truth: a ground-truth file to use instead of the one found in
            ``state_groundtruth_estimate0`` (EuRoC CSV or TUM text).
        alpha: rectification scaling of the stereo camera_infos, 0..1.

    Returns:
        The dataset; images are read lazily.

    Raises:
        CalibrationError: not an ASL folder, or a malformed file (named).
    """
    root = _mav0(Path(path))
    cameras = [_read_camera(d) for d in sorted(root.glob("cam[0-9]*")) if d.is_dir()]
    imu = _read_imu(root / "imu0") if (root / "imu0").is_dir() else None
    if len(cameras) >= 2:
        left, right = cameras[0], cameras[1]
        T_right_left = se3.compose(se3.inverse(right.T_body_cam), left.T_body_cam)
        rect_left, rect_right = rectify_pair(left.model, right.model, T_right_left, alpha)
        cameras[0] = _with_model(left, rect_left)
        cameras[1] = _with_model(right, rect_right)
    gt_path = (
        Path(ground_truth)
        if ground_truth is not None
        else _ground_truth_file(root / "state_groundtruth_estimate0")
    )
    gt = None
    if gt_path is not None:
        gt = read_ground_truth(gt_path)
        logger.info("%s: ground truth from %s (%d poses)", root, gt_path.name, gt.stamps_ns.size)
    leica_stamps = np.zeros(0, np.int64)
    leica_positions = np.zeros((0, 3))
    if (root / "leica0" / "data.csv").is_file():
        table = _csv(root / "leica0" / "data.csv", 4)
        leica_stamps = _stamps(table[:, 0], str(root / "leica0" / "data.csv"))
        leica_positions = _floats(table[:, 1:], str(root / "leica0" / "data.csv"))
    return EurocDataset(root, tuple(cameras), imu, gt, leica_stamps, leica_positions)


def _with_model(cam: EurocCamera, model: CameraModel) -> EurocCamera:
    return EurocCamera(cam.name, model, cam.T_body_cam, cam.rate_hz, cam.stamps_ns, cam.files)


@dataclass(frozen=True, slots=True)
class EurocBagResult:
    """What :func:`write_euroc_bag` wrote.

    Attributes:
        path: the bag.
        counts: messages per topic.
        start_ns: first stamp written.
        stop_ns: last stamp written.
        seconds: wall time taken.
    """

    path: Path
    counts: dict[str, int]
    start_ns: int
    stop_ns: int
    seconds: float


def write_euroc_bag(
    source: Path | str | EurocDataset,
    out: Path | str,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> EurocBagResult:
    """Write an EuRoC / ASL sequence into an MCAP bag (topics in the module docstring).

    Args:
        source: the sequence folder, or a dataset already read.
        out: output bag (``.mcap``: one file; else a rosbag2 folder).
        start_s: skip this much from the first camera or IMU stamp, seconds.
        duration_s: keep this much after the start (None: to the end), seconds.
        overwrite: replace an existing output.
        progress: a progress bar on stderr.

    Returns:
        What was written.

    Raises:
        CalibrationError: a malformed dataset.
        BagError: the output exists (without ``overwrite``), cannot be written, or the
            window holds no messages.
    """
    import time

    from tqdm import tqdm

    from percept import codecs
    from percept.io.bag import BagWriter
    from percept.io.typestore import RosbagsFactory, get_typestore

    if start_s < 0 or (duration_s is not None and duration_s <= 0):
        msg = f"start_s must be >= 0 and duration_s > 0, got {start_s}, {duration_s}"
        raise BagError(msg)
    began = time.perf_counter()
    data = source if isinstance(source, EurocDataset) else read_euroc(source)
    lo = data.start_ns + round(start_s * NS_PER_S)
    hi = None if duration_s is None else lo + round(duration_s * NS_PER_S)
    top = np.iinfo(np.int64).max if hi is None else hi
    streams = [c.stamps_ns for c in data.cameras]
    streams += [] if data.imu is None else [data.imu.stamps_ns]
    in_window = [int(((s >= lo) & (s < top)).sum()) for s in streams]
    if not any(in_window):
        msg = f"{data.root}: no camera or IMU data between {start_s} s and {duration_s} s after "
        msg += "the start"
        raise BagError(msg)
    store = get_typestore()
    factory = RosbagsFactory(store)
    n_images = sum(in_window[: len(data.cameras)])
    bar = tqdm(total=n_images, desc="from-euroc", unit="image", disable=not progress, leave=False)
    first = last = lo
    with BagWriter(Path(out), overwrite=overwrite) as writer, bar:
        for i, m in enumerate(data.messages(lo, hi)):
            ros_msg = codecs.encode(m.msgtype, m.obj, factory)
            raw = bytes(store.serialize_cdr(ros_msg, m.msgtype))
            writer.write(m.topic, m.msgtype, m.stamp_ns, raw)
            first = m.stamp_ns if i == 0 else first
            last = m.stamp_ns
            if m.msgtype == IMAGE:
                bar.update(1)
        counts = dict(writer.counts)
    seconds = time.perf_counter() - began
    logger.debug("%s: %d messages in %.2f s -> %s", data.root, sum(counts.values()), seconds, out)
    return EurocBagResult(Path(out), counts, first, last, seconds)
