"""VioNode: rectified stereo + IMU -> odometry, path and the odom -> base_link transform.

The ROS face of :class:`percept.vio.estimator.VioEstimator` (an MSCKF, as OpenVINS'
``ov_msckf`` ROS node wraps its ``VioManager``). Inputs keep stereo_image_proc's topic
names (``left/image_rect``, ``left/camera_info``, ``right/image_rect``,
``right/camera_info``: the camera_infos of the rectified images, so behind Percept's
``stereo_rectify`` remap them to ``*/camera_info_rect``) and ``imu/data``. Every IMU
sample is used: the IMU input has its own deep queue (1000), and a stereo pair waits
in a small bounded queue until the IMU covers its stamp (plus the camera-IMU time
offset); a full queue drops its oldest pair and counts it.

``T_imu_cam`` (the rectified left camera in the IMU frame) comes from TF (/tf_static,
``imu frame <- left camera_info frame``), or from ``calibration_dir`` (``imu.yaml``'s
``cameras.<name>.T_imu_cam``, Kalibr style) when TF has none or
``extrinsics_source: calibration``; with ``calibration_dir`` set, the left camera's
rectification rotation ``R`` from its ``left.yaml`` turns the raw optical frame into the
rectified one. ``base_link <- imu`` comes from TF (identity, flagged WARN, when TF has
none).

Outputs: ``odom`` (nav_msgs/Odometry at camera rate: pose of ``base_frame`` in
``odom_frame`` with its covariance in the parent frame, twist of ``base_frame`` in the
child frame with its covariance), ``odom_imu`` (the same at IMU rate, optional),
``path`` (nav_msgs/Path, bounded), the ``odom -> base_link`` transform on /tf (REP 105),
and the track debug image. The estimator's world is gravity-aligned, so ``odom`` is:
z up, its origin and yaw where the estimator initialised. After an automatic reset the
estimator restarts at its last good position and yaw; when the node itself starts a new
estimator (a changed estimator parameter or camera_info) it re-anchors the new world
(yaw and translation) on the last published pose, so that ``odom`` stays continuous as
REP 105 asks. A stamp jump back (a bag played again) starts afresh.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from percept.calib.imu import read_imu_yaml
from percept.calib.yaml_io import read_camera_info_yaml
from percept.domain import (
    CameraInfo,
    DiagnosticLevel,
    Header,
    Image,
    ImuSample,
    Odometry,
    PoseStamped,
    TransformStamped,
)
from percept.domain import Path as PathMessage
from percept.errors import CalibrationError, CodecError, ConfigError, InputRejected, TransformError
from percept.features.draw import draw_tracks
from percept.features.klt import FeatureFrame
from percept.geometry import se3
from percept.geometry.pose import Pose
from percept.image import convert_image
from percept.msgtypes import CAMERA_INFO, IMAGE, IMU, ODOMETRY, PATH, TF_MESSAGE
from percept.node import (
    RELIABLE,
    SENSOR_DATA,
    Input,
    Node,
    Output,
    Parameter,
    ParamValue,
    QosProfile,
    Sync,
)
from percept.nodes._camera import check_image_size, reject_bayer, stereo_sync, stereo_sync_params
from percept.nodes._odometry import (
    block_rotation,
    pose_covariance,
    symmetric,
    twist_and_covariance,
    yaw_and_translation,
)
from percept.params import ConfigParameters
from percept.rectify import expected_image_size
from percept.stereo.geometry import StereoGeometry
from percept.units import NS_PER_S
from percept.vio.estimator import EstimatorConfig, VioEstimate, VioEstimator, VioStatus

__all__ = [
    "ESTIMATOR_PARAMETERS",
    "VioNode",
    "estimator_config_from_params",
]

_LOGGER = logging.getLogger(__name__)

#: Every IMU sample counts: a deep queue, best effort so that any publisher connects.
IMU_QOS = QosProfile("best_effort", "volatile", 1000)
#: Encodings turned into mono8 for the front end (as cv_bridge's mono8).
ENCODINGS = ("mono8", "mono16", "8UC1", "16UC1", "bgr8", "rgb8", "bgra8", "rgba8")
#: IMU samples kept until the estimator exists (the first stereo pair): 20 s at 200 Hz.
_BACKLOG = 4000
#: IMU intervals over which the IMU rate is measured (gyro noise of the twist).
_RATE_WINDOW = 64

#: Prefix of the parameters of each nested config of EstimatorConfig (by field name);
#: a nested config not named here gets ``<field>_``.
_PREFIXES: Mapping[str, str] = {
    "tracker": "track_",
    "propagator": "",
    "init": "init_",
    "updater": "update_",
    "triangulation": "triangulation_",
}


@dataclasses.dataclass(frozen=True)
class NestedConfigParameters:
    """The parameters of a config and of the configs nested in it, flattened.

    Attributes:
        own: the config's own :func:`~percept.params.param` fields.
        children: (field name, parameters of the nested config) pairs.
    """

    own: ConfigParameters[Any]
    children: tuple[tuple[str, NestedConfigParameters], ...] = ()

    @classmethod
    def of(
        cls, config: type, prefix: str = "", instance: object | None = None
    ) -> NestedConfigParameters:
        """Flatten ``config``: nested dataclass fields get the prefixes of ``_PREFIXES``.

        A nested config's defaults are those of the instance its parent's default
        factory builds (``EstimatorConfig.tracker`` is ``VIO_TRACKER``, not
        ``FeatureTrackerConfig()``), so the node's defaults equal the estimator's.
        """
        children = []
        defaults: dict[str, ParamValue] = {}
        for f in dataclasses.fields(config):
            if instance is not None and f.default is not dataclasses.MISSING:
                value = getattr(instance, f.name)
                if value != f.default:
                    defaults[f.name] = value
            if f.default_factory is dataclasses.MISSING:
                continue
            value = f.default_factory()
            if dataclasses.is_dataclass(value):
                child_prefix = _PREFIXES.get(f.name, f"{prefix}{f.name}_")
                children.append((f.name, cls.of(type(value), child_prefix, value)))
        return cls(ConfigParameters(config, prefix=prefix, defaults=defaults), tuple(children))

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The config's parameters, then each nested config's, in field order."""
        nested = tuple(p for _, child in self.children for p in child.parameters)
        return (*self.own.parameters, *nested)

    def build(self, params: Mapping[str, ParamValue]) -> Any:
        """The config of parameter values, nested configs built first."""
        nested = {name: child.build(params) for name, child in self.children}
        return self.own.build(params, **nested)


#: EstimatorConfig and its nested configs as parameters (``track_*``, ``init_*``, ...).
ESTIMATOR_PARAMETERS = NestedConfigParameters.of(EstimatorConfig)


def estimator_config_from_params(params: Mapping[str, ParamValue]) -> EstimatorConfig:
    """The ``EstimatorConfig`` of a VioNode's parameter values.

    Raises:
        ConfigError: values that do not go together.
    """
    try:
        config = ESTIMATOR_PARAMETERS.build(params)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if not isinstance(config, EstimatorConfig):  # pragma: no cover - build returns it
        msg = f"estimator parameters built {type(config).__name__}, not EstimatorConfig"
        raise ConfigError(msg)
    return config


class _Frame(NamedTuple):
    """A stereo pair waiting for the IMU to cover its stamp."""

    header: Header
    left: npt.NDArray[np.uint8]
    right: npt.NDArray[np.uint8]


def _grey(image: Image, where: str) -> npt.NDArray[np.uint8]:
    """(H, W) uint8 mono8 of an image (the image itself when it is mono8)."""
    reject_bayer(image, where, "debayer and rectify it")
    if image.encoding not in ENCODINGS:
        msg = f"{where}: encoding {image.encoding} cannot be tracked; expected one of {ENCODINGS}"
        raise InputRejected(msg)
    try:
        grey = np.asarray(convert_image(image, "mono8").data, dtype=np.uint8)
    except CodecError as err:
        msg = f"{where}: {err}"
        raise InputRejected(msg) from err
    return np.ascontiguousarray(grey)


def _geometry_key(info: CameraInfo) -> tuple[object, ...]:
    model = info.model
    return (model.width, model.height, model.P.tobytes(), model.R.tobytes(), model.roi)


class VioNode(Node):
    """Stereo visual-inertial odometry (MSCKF): odom, path and TF from stereo + IMU.

    See the module docstring for inputs, extrinsics and outputs. Diagnostics: the
    estimator's status and resets, tracked and stereo-matched features, the MSCKF
    update's used and gated tracks, the time-offset estimate, per-frame processing
    time and latency, IMU gaps, rejected IMU samples, stereo pairs dropped while
    waiting for the IMU, and estimates withheld for a non-finite value.
    """

    NAME = "vio"
    DESCRIPTION = "rectified stereo + IMU -> odometry, path, odom -> base_link TF"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("imu", "imu/data", IMU, IMU_QOS, "IMU samples, every one (queue depth 1000)"),
        Input("left_image", "left/image_rect", IMAGE, SENSOR_DATA, "left rectified image"),
        Input(
            "left_camera_info",
            "left/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "left rectified camera_info (R = I)",
        ),
        Input("right_image", "right/image_rect", IMAGE, SENSOR_DATA, "right rectified image"),
        Input(
            "right_camera_info",
            "right/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "right rectified camera_info (P[0][3] = -fx * baseline)",
        ),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("odom", "odom", ODOMETRY, RELIABLE, "base_link in odom at camera rate"),
        Output("odom_imu", "odom_imu", ODOMETRY, RELIABLE, "the same at IMU rate (optional)"),
        Output("path", "path", PATH, RELIABLE, "the last path_max_poses camera-rate poses"),
        Output("tf", "/tf", TF_MESSAGE, QosProfile(depth=100), "odom -> base_link"),
        Output("debug_image", "debug_image", IMAGE, SENSOR_DATA, "tracks drawn, bgr8"),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (stereo_sync(),)
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        Parameter("odom_frame", "string", "odom", "parent frame of odom, path and TF (REP 105)"),
        Parameter("base_frame", "string", "base_link", "child frame of odom and TF (REP 105)"),
        Parameter("imu_frame", "string", "", "frame of the IMU; empty: the IMU messages' frame_id"),
        Parameter("publish_tf", "bool", True, "publish odom -> base_link on /tf"),
        Parameter("publish_odom_imu", "bool", False, "publish odom_imu at the IMU rate"),
        Parameter("publish_path", "bool", True, "publish path"),
        Parameter(
            "path_max_poses",
            "integer",
            2000,
            "poses kept in path (the oldest go)",
            min_value=1,
            max_value=1000000,
        ),
        Parameter("publish_debug_image", "bool", True, "publish debug_image"),
        Parameter(
            "debug_image_stereo", "bool", False, "debug_image: the right image beside the left"
        ),
        Parameter(
            "extrinsics_source",
            "string",
            "tf",
            "T_imu_cam from tf (calibration_dir if TF has none) or calibration",
            choices=("tf", "calibration"),
        ),
        Parameter(
            "calibration_dir",
            "string",
            "",
            "calibration/<robot>/ folder: imu.yaml T_imu_cam, left.yaml R; empty: none",
        ),
        Parameter(
            "calibration_camera",
            "string",
            "",
            "camera of imu.yaml; empty: the left frame_id, cam0 or left, else the first",
        ),
        Parameter(
            "pending_frames",
            "integer",
            5,
            "stereo pairs kept waiting for the IMU (the oldest is dropped, counted)",
            min_value=1,
            max_value=1000,
        ),
        *ESTIMATOR_PARAMETERS.parameters,
        *stereo_sync_params("the four image inputs"),
    )

    # -- set-up -------------------------------------------------------------------------
    def setup(self) -> None:
        """Build the estimator settings; the estimator starts with the first stereo pair.

        Raises:
            ConfigError: parameter values that do not go together.
        """
        self.config = estimator_config_from_params(self.params)
        self.estimator: VioEstimator | None = None
        self._geometry: tuple[tuple[object, ...], StereoGeometry] | None = None
        self._pending: deque[_Frame] = deque()
        self._backlog: deque[ImuSample] = deque(maxlen=_BACKLOG)
        self._imu_frame = self.param_str("imu_frame")
        self._last_imu_ns: int | None = None
        self._imu_dt_ns: deque[int] = deque(maxlen=_RATE_WINDOW)
        self._imu_rate_hz = 0.0
        self._last_frame_ns: int | None = None
        self._previous_features: FeatureFrame | None = None
        self.T_imu_cam: npt.NDArray[np.float64] | None = None
        self.T_base_imu = np.eye(4)
        self.extrinsics = "waiting"
        self.base_is_imu_fallback = False
        self._path: deque[PoseStamped] = deque(maxlen=self.param_int("path_max_poses"))
        self._T_odom_world = np.eye(4)
        self._last_T_odom_base: npt.NDArray[np.float64] | None = None
        self._reanchor = False
        self.last: VioEstimate | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "frames_processed",
                "frames_pending_dropped",
                "imu_rejected",
                "imu_backlog_evicted",
                "nonfinite_withheld",
                "gated_total",
                "restarts",
                "frames_failed",
            ),
            0,
        )
        self.imu_gap_max_ns = 0
        # Gaps and refused samples of the estimators before the current one.
        self._gaps_before = 0
        self._imu_dropped_before = 0
        self.processing_ms = 0.0
        self.latency_ms = 0.0

    def on_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        """Apply a change; an estimator setting restarts the estimator (odom continues).

        Raises:
            ConfigError: estimator values that do not go together (the change is
                refused).
        """
        merged = {**self.params, **changed}
        config = estimator_config_from_params(merged)
        self.params.update(changed)
        self._imu_frame = self.param_str("imu_frame") or self._imu_frame
        if "path_max_poses" in changed:
            self._path = deque(self._path, maxlen=self.param_int("path_max_poses"))
        estimator_keys = {p.name for p in ESTIMATOR_PARAMETERS.parameters}
        estimator_keys |= {"extrinsics_source", "calibration_dir", "calibration_camera"}
        estimator_keys |= {"imu_frame", "base_frame"}
        if estimator_keys & set(changed):
            self.config = config
            self._restart("parameters changed", keep_odom=True)
        return None

    def _restart(self, reason: str, *, keep_odom: bool) -> None:
        """Drop the estimator (a new one starts with the next pair)."""
        self.ctx.logger.warning("vio: estimator restarts: %s", reason)
        self.counts["restarts"] += 1
        if self.estimator is not None:
            self._gaps_before += self.estimator.imu_gap_count
            self._imu_dropped_before += self.estimator.imu_dropped
        self.counts["frames_pending_dropped"] += len(self._pending)
        self._pending.clear()
        self._backlog.clear()
        self.estimator = None
        self.T_imu_cam = None
        self.extrinsics = "waiting"
        self._previous_features = None
        self._last_frame_ns = None
        if keep_odom:
            self._reanchor = True
        else:
            self._path.clear()
            self._T_odom_world = np.eye(4)
            self._last_T_odom_base = None
            self._reanchor = False

    # -- extrinsics ---------------------------------------------------------------------
    def _calibration_T_imu_cam(self, left_frame: str) -> npt.NDArray[np.float64]:
        folder = Path(self.param_str("calibration_dir"))
        try:
            calib = read_imu_yaml(folder / "imu.yaml")
        except CalibrationError as err:
            raise InputRejected(f"calibration_dir: {err}") from err
        cameras = dict(calib.T_imu_cams)
        if not cameras:
            msg = f"{folder / 'imu.yaml'}: no cameras with T_imu_cam"
            raise InputRejected(msg)
        name = self.param_str("calibration_camera")
        if not name:
            name = next((n for n in (left_frame, "cam0", "left") if n in cameras), "")
            name = name or next(iter(cameras))
        if name not in cameras:
            msg = f"{folder / 'imu.yaml'}: no camera {name!r}; it has {sorted(cameras)}"
            raise InputRejected(msg)
        return cameras[name]

    def _rectification(self) -> npt.NDArray[np.float64]:
        """(4, 4) ``T_raw_rect`` of the left camera: R^T of calibration_dir/left.yaml."""
        T = np.eye(4)
        folder = self.param_str("calibration_dir")
        path = Path(folder) / "left.yaml"
        if folder and path.is_file():
            try:
                _, model = read_camera_info_yaml(path)
            except CalibrationError as err:
                raise InputRejected(f"calibration_dir: {err}") from err
            T[:3, :3] = model.R.T
        elif folder:
            _LOGGER.warning(
                "calibration_dir %s has no left.yaml: the rectification rotation is taken "
                "as identity (T_imu_cam is then that of the raw left camera)",
                Path(folder).resolve(),
            )
        return T

    def _resolve_extrinsics(self, left_frame: str) -> None:
        """Set ``T_imu_cam`` (rectified left camera) and ``T_base_imu``.

        Raises:
            InputRejected: neither TF nor calibration_dir gives ``T_imu_cam``.
        """
        imu_frame = self._imu_frame
        T_imu_raw: npt.NDArray[np.float64] | None = None
        why = ""
        if self.param_str("extrinsics_source") == "tf":
            try:
                T_imu_raw = self.ctx.lookup_transform(imu_frame, left_frame, 0).as_matrix()
                self.extrinsics = "tf"
            except TransformError as err:
                why = f"tf: no T_{imu_frame}_{left_frame}: {err}"
        if T_imu_raw is None:
            if not self.param_str("calibration_dir"):
                msg = f"no T_imu_cam: {why or 'extrinsics_source calibration'}; no calibration_dir"
                raise InputRejected(msg)
            T_imu_raw = self._calibration_T_imu_cam(left_frame)
            self.extrinsics = "calibration"
        self.T_imu_cam = T_imu_raw @ self._rectification()
        base = self.param_str("base_frame")
        self.T_base_imu = np.eye(4)
        self.base_is_imu_fallback = False
        if base != imu_frame:
            try:
                self.T_base_imu = self.ctx.lookup_transform(base, imu_frame, 0).as_matrix()
            except TransformError as err:
                self.base_is_imu_fallback = True
                self.ctx.logger.warning(
                    "vio: no T_%s_%s in TF (%s): %s is taken as the IMU frame",
                    base,
                    imu_frame,
                    err,
                    base,
                )

    def _start(self, left_info: CameraInfo, geometry: StereoGeometry) -> VioEstimator:
        if not self._imu_frame:
            msg = "waiting for the first IMU sample (its frame_id names the IMU frame)"
            raise InputRejected(msg)
        self._resolve_extrinsics(left_info.header.frame_id)
        assert self.T_imu_cam is not None
        try:
            estimator = VioEstimator(geometry, self.T_imu_cam, self.config)
        except ValueError as err:
            raise InputRejected(f"estimator refused the camera: {err}") from err
        for sample in self._backlog:
            try:
                estimator.feed_imu(sample)
            except ValueError:
                self.counts["imu_rejected"] += 1
        self._backlog.clear()
        self.estimator = estimator
        return estimator

    # -- inputs -------------------------------------------------------------------------
    def on_imu(self, sample: ImuSample) -> dict[str, list[object]] | None:
        """Feed one IMU sample; serve the pairs it covers and the IMU-rate odometry."""
        stamp = sample.header.stamp_ns
        frame = sample.header.frame_id
        if self._imu_frame and frame and frame != self._imu_frame:
            self.counts["imu_rejected"] += 1
            msg = f"imu/data: frame_id {frame!r}, but the IMU frame is {self._imu_frame!r}"
            raise InputRejected(msg)
        last = self._last_imu_ns
        if last is not None and stamp <= last:
            if stamp == last:
                self.counts["imu_rejected"] += 1
                msg = f"imu/data: stamp {stamp} repeats the last sample's"
                raise InputRejected(msg)
            # The runtime let an earlier stamp through: a new timeline (bag loop).
            self._restart(f"IMU time went back {(last - stamp) / 1e6:.1f} ms", keep_odom=False)
            self._imu_dt_ns.clear()
        elif last is not None:
            self._imu_dt_ns.append(stamp - last)
            if len(self._imu_dt_ns) == _RATE_WINDOW:  # a full window: measure, start again
                self._imu_rate_hz = NS_PER_S / max(float(np.median(self._imu_dt_ns)), 1.0)
                self._imu_dt_ns.clear()
        if not self._imu_frame:
            self._imu_frame = frame or "imu_link"
        estimator = self.estimator
        if estimator is None:
            if len(self._backlog) == self._backlog.maxlen:
                self.counts["imu_backlog_evicted"] += 1
            self._backlog.append(sample)
            self._last_imu_ns = stamp
            return None
        try:
            estimator.feed_imu(sample)
        except ValueError as err:
            self.counts["imu_rejected"] += 1
            raise InputRejected(f"imu/data: {err}") from err
        self._last_imu_ns = stamp
        out = self._drain()
        if self.param_bool("publish_odom_imu"):
            estimate = estimator.imu_estimate(stamp)
            if estimate is not None:
                odom = self._odometry(estimate)
                if odom is not None:
                    out.setdefault("odom_imu", []).append(odom)
        return out or None

    def _check_pair(
        self, left_image: Image, left_info: CameraInfo, right_image: Image, right_info: CameraInfo
    ) -> None:
        tolerance_ns = (
            round(self.param_float("approximate_sync_tolerance_seconds") * NS_PER_S)
            if self.param_bool("approximate_sync")
            else 0
        )
        left_ns = left_image.header.stamp_ns
        for name, stamp_ns in (
            ("left/camera_info", left_info.header.stamp_ns),
            ("right/image_rect", right_image.header.stamp_ns),
            ("right/camera_info", right_info.header.stamp_ns),
        ):
            if abs(stamp_ns - left_ns) > tolerance_ns:
                msg = (
                    f"unsynchronised set: {name} is {(stamp_ns - left_ns) / 1e6:+.3f} ms from "
                    f"left/image_rect (tolerance {tolerance_ns / 1e6:.3f} ms)"
                )
                raise InputRejected(msg)
        for side, image, info in (
            ("left", left_image, left_info),
            ("right", right_image, right_info),
        ):
            size = expected_image_size(info.model)
            check_image_size(image, size, f"{side}/image_rect", f"{side}/camera_info")
        if self._last_frame_ns is not None and left_ns <= self._last_frame_ns:
            msg = f"left/image_rect: stamp {left_ns} is not after the last pair's"
            raise InputRejected(msg)

    def _stereo_geometry(self, left: CameraInfo, right: CameraInfo) -> StereoGeometry:
        key = (*_geometry_key(left), *_geometry_key(right))
        if self._geometry is not None and self._geometry[0] == key:
            return self._geometry[1]
        try:
            geometry = StereoGeometry.from_models(left.model, right.model)
        except CalibrationError as err:
            raise InputRejected(str(err)) from err
        if self._geometry is not None and self.estimator is not None:
            self._restart("the camera_infos changed", keep_odom=True)
        self._geometry = (key, geometry)
        return geometry

    def on_stereo(
        self,
        left_image: Image,
        left_info: CameraInfo,
        right_image: Image,
        right_info: CameraInfo,
    ) -> dict[str, list[object]] | None:
        """Queue one synchronised pair; serve the queued pairs the IMU covers."""
        self._check_pair(left_image, left_info, right_image, right_info)
        left = _grey(left_image, "left/image_rect")
        right = _grey(right_image, "right/image_rect")
        geometry = self._stereo_geometry(left_info, right_info)
        if self.estimator is None:
            self._start(left_info, geometry)
        self._pending.append(_Frame(left_info.header, left, right))
        self._last_frame_ns = left_info.header.stamp_ns
        limit = self.param_int("pending_frames")
        while len(self._pending) > limit:
            dropped = self._pending.popleft()
            self.counts["frames_pending_dropped"] += 1
            self.ctx.logger.warning(
                "vio: stereo pair %d dropped: no IMU up to its stamp (%d pairs waiting)",
                dropped.header.stamp_ns,
                limit,
            )
        return self._drain() or None

    # -- outputs ------------------------------------------------------------------------
    def _drain(self) -> dict[str, list[object]]:
        """Feed every queued pair the IMU covers, oldest first; their outputs."""
        out: dict[str, list[object]] = {}
        estimator = self.estimator
        while (
            estimator is not None
            and self._pending
            and estimator.imu_covers(self._pending[0].header.stamp_ns)
        ):
            frame = self._pending.popleft()
            start = time.perf_counter()
            try:
                estimate = estimator.feed_stereo(frame.header.stamp_ns, frame.left, frame.right)
            except ValueError as err:
                self.counts["frames_failed"] += 1
                self.ctx.logger.warning("vio: pair %d failed: %s", frame.header.stamp_ns, err)
                continue
            self.processing_ms = 1e3 * (time.perf_counter() - start)
            self.latency_ms = (self.ctx.now_ns() - frame.header.stamp_ns) / 1e6
            self.counts["frames_processed"] += 1
            if estimate is None:
                continue
            self._publish_estimate(estimate, frame, out)
        return out

    def _publish_estimate(
        self, estimate: VioEstimate, frame: _Frame, out: dict[str, list[object]]
    ) -> None:
        self.last = estimate
        for gap in estimate.imu_gaps:
            self.imu_gap_max_ns = max(self.imu_gap_max_ns, gap.duration_ns)
        if estimate.update is not None:
            self.counts["gated_total"] += estimate.update.gated
        odom = self._odometry(estimate)
        if odom is not None:
            out.setdefault("odom", []).append(odom)
            odom_frame = self.param_str("odom_frame")
            if self.param_bool("publish_path"):
                self._path.append(PoseStamped(odom.header, odom.pose))
                path = PathMessage(Header(odom.header.stamp_ns, odom_frame), tuple(self._path))
                out.setdefault("path", []).append(path)
            if self.param_bool("publish_tf"):
                tf = TransformStamped(odom.header, odom.child_frame_id, odom.pose)
                out.setdefault("tf", []).append((tf,))
        features = estimate.features
        if self.param_bool("publish_debug_image") and features is not None:
            right = frame.right if self.param_bool("debug_image_stereo") else None
            canvas = draw_tracks(frame.left, features, self._previous_features, right)
            out.setdefault("debug_image", []).append(Image(frame.header, "bgr8", canvas))
        if features is not None:
            self._previous_features = features

    def _anchor(self, T_world_base: npt.NDArray[np.float64]) -> None:
        """Keep odom continuous over node restarts: re-anchor the new estimator's world.

        (The estimator's own resets keep its world: it restarts at its last good
        position and yaw.)
        """
        if self._reanchor:
            self._reanchor = False
            if self._last_T_odom_base is not None:
                T = self._last_T_odom_base @ se3.inverse(T_world_base)
                self._T_odom_world = yaw_and_translation(T)

    def _gyro_white_var(self) -> float:
        """Variance of one gyro reading's white noise, density^2 x the IMU rate."""
        if len(self._imu_dt_ns) < _RATE_WINDOW and self._imu_dt_ns:
            self._imu_rate_hz = NS_PER_S / max(float(np.median(self._imu_dt_ns)), 1.0)
        return float(self.config.propagator.gyroscope_noise_density**2 * self._imu_rate_hz)

    def _odometry(self, estimate: VioEstimate) -> Odometry | None:
        """The estimate as Odometry of base_frame in odom_frame; None if not finite."""
        T_imu_base = se3.inverse(self.T_base_imu)
        T_world_base = estimate.T_world_imu @ T_imu_base
        self._anchor(T_world_base)
        T_odom_base = self._T_odom_world @ T_world_base
        R_odom_world = self._T_odom_world[:3, :3]
        t_imu_base = T_imu_base[:3, 3]
        cov_world = pose_covariance(estimate.covariance, estimate.T_world_imu[:3, :3], t_imu_base)
        G = block_rotation(R_odom_world)
        pose_cov = symmetric(G @ cov_world @ G.T)
        linear, angular, twist_cov = twist_and_covariance(
            estimate, self.T_base_imu[:3, :3], t_imu_base, self._gyro_white_var()
        )
        arrays = (T_odom_base, pose_cov, linear, angular, twist_cov)
        if not all(np.isfinite(a).all() for a in arrays):
            self.counts["nonfinite_withheld"] += 1
            self.ctx.logger.error("vio: estimate at %d has NaN/Inf: withheld", estimate.stamp_ns)
            return None
        self._last_T_odom_base = T_odom_base
        return Odometry(
            header=Header(estimate.stamp_ns, self.param_str("odom_frame")),
            child_frame_id=self.param_str("base_frame"),
            pose=Pose.from_matrix(T_odom_base),
            pose_covariance=pose_cov,
            linear_velocity_m_s=linear,
            angular_velocity_rad_s=angular,
            twist_covariance=twist_cov,
        )

    # -- diagnostics --------------------------------------------------------------------
    @property
    def status(self) -> str:
        """The estimator's status, ``waiting`` before it exists."""
        return "waiting" if self.estimator is None else VioStatus(self.estimator.status).value

    def diagnostic_values(self) -> list[tuple[str, str]]:
        """Status, features, updates, resets, time offset, timing, IMU and queue counters."""
        est = self.last
        est_ = self.estimator
        resets = est_.resets if est_ is not None else 0
        values = [
            ("status", self.status),
            ("resets", str(resets)),
            ("extrinsics", self.extrinsics),
            ("tracked_features", str(len(est.features)) if est and est.features else "0"),
            (
                "stereo_matched",
                str(est.features.counts.stereo_matched) if est and est.features else "0",
            ),
            ("update_used", str(est.update.used) if est and est.update else "0"),
            ("update_gated", str(est.update.gated) if est and est.update else "0"),
            ("time_offset_ms", f"{1e3 * est.time_offset_s:.3f}" if est else "nan"),
            ("processing_ms", f"{self.processing_ms:.2f}"),
            ("latency_ms", f"{self.latency_ms:.2f}"),
            ("frames_pending", str(len(self._pending))),
            ("imu_gaps", str(self._gaps_before + (est_.imu_gap_count if est_ else 0))),
            ("imu_gap_max_ms", f"{self.imu_gap_max_ns / 1e6:.1f}"),
            (
                "imu_dropped_by_estimator",
                str(self._imu_dropped_before + (est_.imu_dropped if est_ else 0)),
            ),
        ]
        if est is not None:
            values += [(f"{k}_ms", f"{1e3 * v:.2f}") for k, v in est.timings_s.items()]
        values += [(k, str(v)) for k, v in self.counts.items()]
        return values

    def diagnostic_summary(self) -> tuple[int, str] | None:
        """WARN while IMU-only or with base_link taken as the IMU frame."""
        if self.estimator is not None and self.estimator.status == VioStatus.IMU_ONLY:
            return DiagnosticLevel.WARN, "IMU only: no usable visual update"
        if self.base_is_imu_fallback:
            base = self.param_str("base_frame")
            return DiagnosticLevel.WARN, f"no TF {base} <- {self._imu_frame}: odom is the IMU's"
        return None
