"""A feature-level visual-inertial simulator (OpenVINS' ``ov_msckf::Simulator``).

It simulates what the VIO estimator consumes, not images: the tracked stereo features
of a front end (``percept.features.klt.FeatureFrame``) and the IMU samples
(``percept.domain.ImuSample``) of the synthetic robot (``percept.synth.trajectory``,
``percept.synth.rig``, ``percept.synth.imu``), with exact ground truth. Sixty seconds
simulate in about a second, so Monte-Carlo consistency runs and estimator tests need
no rendering.

**Landmarks** lie on the surfaces of the synthetic warehouse, where a camera would see
texture: when fewer than ``num_features`` tracks are visible, rays through random
pixels of the left image (one per free cell of a ``min_distance_px`` grid, as a front
end's bucketing) are cast into the scene and the first hit within the depth range
becomes a new landmark with a fixed world position. (OpenVINS draws new landmarks
along random bearings at random depths; the scene gives the walls, racks and floor
their true depths and occlusions instead.)

**Observations.** At each camera stamp every active landmark is projected into the
rectified left and right images of the rig (pinhole, intrinsics of
:class:`~percept.stereo.geometry.StereoGeometry`; the right camera sits ``baseline_m``
along +x of the rectified left optical frame). A track continues while its landmark is
in front of the camera (``z > min_depth_m``), inside the image (``border_px`` margin),
unoccluded (a ray cast from the camera reaches it) and younger than
``max_track_length`` frames, as KLT loses a track; a lost landmark is never observed
again. The right observation is NaN where the landmark is outside the right image or
occluded from the right camera. Independent Gaussian noise of ``pixel_noise_px`` is
added to each coordinate of each observation.

**Time.** Camera stamps are true time; the IMU follows Kalibr's ``t_imu = t_cam +
timeshift_cam_imu_s``: the sample stamped ``t`` measures the motion at true time
``t - shift``. Ground truth is given at the camera stamps. :meth:`FeatureSimulation.stream`
yields the inputs as a sensor stream arrives: before each frame every IMU sample up to
the first one at or after ``frame stamp + shift`` (so the estimator can interpolate the
IMU at the frame, as OpenVINS' ROS node waits for it).

**Seeds.** ``trajectory_seed`` picks the scene and the path (as ``percept synth
--seed``); ``seed`` draws the IMU noise, pixel noise and landmarks from three
independent streams, so Monte-Carlo runs vary ``seed`` over one path, and the same
configuration repeats bit for bit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from percept.calib.imu import ImuNoise
from percept.domain import Header, ImuSample
from percept.errors import ConfigError
from percept.features.klt import FeatureFrame, TrackCounts
from percept.params import param
from percept.rectify.model import rectified_model
from percept.stereo.geometry import StereoGeometry
from percept.synth.generate import IMU_FRAME, default_rig
from percept.synth.imu import ADIS16448_EUROC, imu_kinematics, simulate_imu
from percept.synth.rig import StereoRig, StereoRigConfig
from percept.synth.scene import Scene
from percept.synth.trajectory import MOTIONS, LoopTrajectory
from percept.synth.warehouse import SCENES, build_scene
from percept.units import NS_PER_S

__all__ = [
    "FeatureSimConfig",
    "FeatureSimulation",
    "SimEvent",
    "simulate_features",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: An input of the estimator: ``("imu", sample)`` or ``("features", frame)``.
SimEvent: TypeAlias = tuple[Literal["imu"], ImuSample] | tuple[Literal["features"], FeatureFrame]

# Independent random streams drawn from ``seed``.
_IMU_STREAM: Final = 0x1A1
_PIXEL_STREAM: Final = 0x91C
_LANDMARK_STREAM: Final = 0x1A7D
# A landmark is occluded when a surface lies this far in front of it along the ray.
_OCCLUSION_TOL_M: Final = 0.02
# Candidate pixels cast per missing feature (some land beyond the depth range).
_CANDIDATES_PER_FEATURE: Final = 3


@dataclass(frozen=True, slots=True)
class FeatureSimConfig:
    """What :func:`simulate_features` simulates.

    Attributes:
        motion: ``ground`` or ``handheld`` (``percept.synth.trajectory.MOTIONS``).
        seconds: sequence length, seconds.
        seed: IMU noise, pixel noise and landmark seed.
        trajectory_seed: scene and path seed (``percept synth --seed``).
        scene: scene kind (``warehouse``).
        camera_rate_hz: stereo frame rate.
        imu_rate_hz: IMU rate.
        imu_noise: IMU noise densities (``percept.synth.imu.NO_NOISE`` for exact
            readings).
        pixel_noise_px: standard deviation of the noise on each image coordinate,
            pixels (0: exact observations).
        timeshift_cam_imu_s: Kalibr's camera-IMU time shift, ``t_imu = t_cam + shift``.
        num_features: features kept per frame; new landmarks top the tracks up to it.
        max_track_length: frames a track lasts at most, then it ends as when KLT loses it.
        min_distance_px: new features keep this distance to the others (grid cell size),
            pixels (0: no bucketing).
        border_px: margin of the image where features are not kept, pixels.
        min_depth_m: nearest landmark depth, metres (tracks closer than this end).
        max_depth_m: farthest new landmark depth, metres.
        rig: cameras and mounting (default: ``default_rig(motion)``).
        start_ns: stamp of the first camera frame.
    """

    motion: str = param("ground", "trajectory kind: ground or handheld", choices=MOTIONS)
    seconds: float = param(60.0, "sequence length, seconds", min_value=0.0, max_value=3600.0)
    seed: int = param(0, "IMU noise, pixel noise and landmark seed", min_value=0)
    trajectory_seed: int = param(0, "scene and trajectory seed", min_value=0)
    scene: str = param("warehouse", "scene kind", choices=tuple(SCENES))
    camera_rate_hz: float = param(20.0, "stereo frame rate, Hz", min_value=1.0, max_value=100.0)
    imu_rate_hz: float = param(200.0, "IMU rate, Hz", min_value=1.0, max_value=2000.0)
    imu_noise: ImuNoise = field(default_factory=lambda: ADIS16448_EUROC)
    pixel_noise_px: float = param(
        1.0, "pixel noise standard deviation, pixels", min_value=0.0, max_value=50.0
    )
    timeshift_cam_imu_s: float = param(
        0.0, "camera-IMU time shift (t_imu = t_cam + shift), s", min_value=-0.5, max_value=0.5
    )
    num_features: int = param(150, "features kept per frame", min_value=1, max_value=10000)
    max_track_length: int = param(40, "longest track, frames", min_value=1, max_value=100000)
    min_distance_px: float = param(
        10.0, "least distance of a new feature to the others, pixels", min_value=0.0
    )
    border_px: float = param(5.0, "image margin without features, pixels", min_value=0.0)
    min_depth_m: float = param(0.3, "nearest landmark depth, metres", min_value=0.01)
    max_depth_m: float = param(15.0, "farthest new landmark depth, metres", min_value=0.1)
    rig: StereoRigConfig | None = None
    start_ns: int = 1_700_000_000 * NS_PER_S

    def __post_init__(self) -> None:
        rate = self.camera_rate_hz
        checks = [
            (self.motion in MOTIONS, "motion", f"one of {list(MOTIONS)}", self.motion),
            (self.scene in SCENES, "scene", f"one of {sorted(SCENES)}", self.scene),
            (1 <= rate <= 100, "camera_rate_hz", "in [1, 100]", rate),
            (self.seconds * rate >= 1, "seconds", ">= 1 / camera_rate_hz", self.seconds),
            (self.seed >= 0, "seed", ">= 0", self.seed),
            (self.trajectory_seed >= 0, "trajectory_seed", ">= 0", self.trajectory_seed),
            (self.imu_rate_hz >= rate, "imu_rate_hz", ">= camera_rate_hz", self.imu_rate_hz),
            (
                self.pixel_noise_px >= 0 and math.isfinite(self.pixel_noise_px),
                "pixel_noise_px",
                "finite and >= 0",
                self.pixel_noise_px,
            ),
            (
                abs(self.timeshift_cam_imu_s) < 0.5,
                "timeshift_cam_imu_s",
                "in (-0.5, 0.5)",
                self.timeshift_cam_imu_s,
            ),
            (self.num_features >= 1, "num_features", ">= 1", self.num_features),
            (self.max_track_length >= 1, "max_track_length", ">= 1", self.max_track_length),
            (self.min_distance_px >= 0, "min_distance_px", ">= 0", self.min_distance_px),
            (self.border_px >= 0, "border_px", ">= 0", self.border_px),
            (self.min_depth_m > 0, "min_depth_m", "> 0", self.min_depth_m),
            (self.max_depth_m > self.min_depth_m, "max_depth_m", "> min_depth_m", self.max_depth_m),
            (self.start_ns >= 2 * NS_PER_S, "start_ns", ">= 2 s (IMU lead)", self.start_ns),
        ]
        for ok, name, expected, got in checks:
            if not ok:
                msg = f"feature simulation: {name} must be {expected}, got {got!r}"
                raise ConfigError(msg)

    @property
    def rig_config(self) -> StereoRigConfig:
        """The rig actually used."""
        return self.rig if self.rig is not None else default_rig(self.motion)

    @property
    def timeshift_ns(self) -> int:
        """``timeshift_cam_imu_s`` in integer nanoseconds."""
        return round(self.timeshift_cam_imu_s * NS_PER_S)


@dataclass(frozen=True, slots=True, eq=False)
class FeatureSimulation:
    """A simulated feature and IMU sequence with its ground truth.

    Construct the estimator with ``VioEstimator(sim.camera, sim.T_imu_cam)`` and feed it
    ``sim.stream()``.

    Attributes:
        config: what was simulated.
        camera: the rectified stereo pair the features are in.
        T_imu_cam: (4, 4) float64 pose of the rectified left optical frame in
            ``imu_link``.
        frames: one feature frame per camera stamp.
        imu: IMU samples (IMU clock), from before the first frame to after the last.
        stamps_ns: (N,) int64 camera stamps (true time), one per frame.
        T_world_imu: (N, 4, 4) float64 true ``imu_link`` pose at each camera stamp
            (world ``map``, z up).
        v_world_imu_m_s: (N, 3) float64 true IMU velocity, world frame.
        bias_gyro_rad_s: (N, 3) float64 true gyroscope bias at each camera stamp.
        bias_accel_m_s2: (N, 3) float64 true accelerometer bias at each camera stamp.
        landmarks_world_m: (M, 3) float64 landmark positions, world frame; row ``i`` is
            the landmark of track id ``i``.
    """

    config: FeatureSimConfig
    camera: StereoGeometry
    T_imu_cam: FloatArray
    frames: tuple[FeatureFrame, ...]
    imu: tuple[ImuSample, ...]
    stamps_ns: npt.NDArray[np.int64]
    T_world_imu: FloatArray
    v_world_imu_m_s: FloatArray
    bias_gyro_rad_s: FloatArray
    bias_accel_m_s2: FloatArray
    landmarks_world_m: FloatArray

    @property
    def T_world_cam(self) -> FloatArray:
        """(N, 4, 4) float64 true pose of the rectified left optical frame per frame."""
        out: FloatArray = self.T_world_imu @ self.T_imu_cam
        return out

    def stream(self, latency_s: float = 0.0) -> Iterator[SimEvent]:
        """The estimator's inputs in arrival order.

        Before each frame come the IMU samples up to the first one stamped at or after
        ``frame.stamp_ns + timeshift + latency_s``; the samples after the last frame
        come at the end.

        Args:
            latency_s: how much later than the IMU a frame arrives (transfer and
                processing delay), seconds; 0 hands each frame over as soon as the IMU
                covers it, the least an estimator can be given.

        Yields:
            ``("imu", sample)`` and ``("features", frame)`` tuples.

        Raises:
            ValueError: a negative latency.
        """
        if not latency_s >= 0:
            msg = f"latency_s must be >= 0, got {latency_s}"
            raise ValueError(msg)
        imu_stamps = np.fromiter((s.header.stamp_ns for s in self.imu), np.int64, len(self.imu))
        targets = self.stamps_ns + self.config.timeshift_ns + round(latency_s * NS_PER_S)
        ends = np.minimum(np.searchsorted(imu_stamps, targets, side="left") + 1, len(self.imu))
        start = 0
        for frame, end in zip(self.frames, ends.tolist(), strict=True):
            for sample in self.imu[start:end]:
                yield ("imu", sample)
            start = max(start, end)
            yield ("features", frame)
        for sample in self.imu[start:]:
            yield ("imu", sample)


def _stamps_ns(start_ns: int, first: int, count: int, rate_hz: float) -> npt.NDArray[np.int64]:
    """``count`` stamps ``start_ns + k / rate`` for ``k = first, first + 1, ...``."""
    k = np.arange(first, first + count, dtype=np.float64)
    return start_ns + np.round(k * (NS_PER_S / rate_hz)).astype(np.int64)


class _Cameras:
    """The rectified pair of a rig and the vectorised projection into it."""

    def __init__(self, rig: StereoRig, border_px: float) -> None:
        left, right = rectified_model(rig.left), rectified_model(rig.right)
        self.geometry = StereoGeometry.from_models(left, right)
        # Rectified coordinates are x_rect = R1 x_raw: the rectified frame is the raw
        # left optical frame rotated by R1^T.
        T_left_rect = np.eye(4)
        T_left_rect[:3, :3] = rig.left.R.T
        self.T_base_cam = rig.T_base_left @ T_left_rect
        self.T_imu_cam = np.linalg.inv(rig.T_base_imu) @ self.T_base_cam
        g = self.geometry
        self.lo_px = np.array([border_px, border_px])
        self.hi_px = np.array([g.width - 1 - border_px, g.height - 1 - border_px])

    def project(
        self, T_world_cam: FloatArray, points_world: FloatArray, right: bool = False
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """Pixels, depths and in-image flags of world points in the left (or right) image.

        Returns:
            (n, 2) pixels, (n,) depths (metres, along the optical axis) and (n,) bool:
            in front of the camera and inside the image margin.
        """
        g = self.geometry
        p = (points_world - T_world_cam[:3, 3]) @ T_world_cam[:3, :3]
        cx = g.cx
        if right:
            p[:, 0] -= g.baseline_m
            cx = g.cx - g.cx_offset_px
        z = p[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([g.fx * p[:, 0] / z + cx, g.fy * p[:, 1] / z + g.cy], axis=1)
        inside = (z > 0) & np.all((uv >= self.lo_px) & (uv <= self.hi_px), axis=1)
        return uv, z, inside

    def right_centre(self, T_world_cam: FloatArray) -> FloatArray:
        """(3,) world position of the right optical centre."""
        out: FloatArray = T_world_cam[:3, 3] + self.geometry.baseline_m * T_world_cam[:3, 0]
        return out


def _unoccluded(scene: Scene, origins: FloatArray, points: FloatArray) -> npt.NDArray[np.bool_]:
    """(n,) bool: no surface lies between each origin ((n, 3)) and its point ((n, 3))."""
    if points.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    d = points - origins
    rays = np.concatenate([origins, d], axis=1).astype(np.float32)
    t_hit = scene.cast(rays).t_hit.astype(np.float64)
    dist = np.linalg.norm(d, axis=1)
    return np.asarray(t_hit * dist >= dist - _OCCLUSION_TOL_M)


class _Tracks:
    """Landmarks and the active tracks of the simulated front end."""

    def __init__(
        self, config: FeatureSimConfig, scene: Scene, cameras: _Cameras, seed: int
    ) -> None:
        self.config = config
        self.scene = scene
        self.cameras = cameras
        self.rng = np.random.default_rng([seed, _LANDMARK_STREAM])
        self._points: FloatArray = np.empty((4 * config.num_features, 3))  # grows by doubling
        self.n_landmarks = 0
        self.ids = np.empty(0, np.int64)
        self.ages = np.empty(0, np.int32)
        g = cameras.geometry
        self.cell_px = config.min_distance_px
        self.grid_cols = math.ceil(g.width / self.cell_px) if self.cell_px > 0 else 1
        self.grid_rows = math.ceil(g.height / self.cell_px) if self.cell_px > 0 else 1

    @property
    def landmarks(self) -> FloatArray:
        """(M, 3) float64 every landmark made so far, row = track id."""
        out: FloatArray = self._points[: self.n_landmarks].copy()
        return out

    def _add(self, points: FloatArray) -> npt.NDArray[np.int64]:
        """Store new landmarks; their ids."""
        n = points.shape[0]
        if self.n_landmarks + n > self._points.shape[0]:
            grown = np.empty((2 * (self.n_landmarks + n), 3))
            grown[: self.n_landmarks] = self._points[: self.n_landmarks]
            self._points = grown
        self._points[self.n_landmarks : self.n_landmarks + n] = points
        ids = self.n_landmarks + np.arange(n, dtype=np.int64)
        self.n_landmarks += n
        return ids

    def _cells(self, uv: FloatArray) -> npt.NDArray[np.int64]:
        """Grid cell index of each pixel."""
        col = np.clip((uv[:, 0] // self.cell_px).astype(np.int64), 0, self.grid_cols - 1)
        row = np.clip((uv[:, 1] // self.cell_px).astype(np.int64), 0, self.grid_rows - 1)
        out: npt.NDArray[np.int64] = row * self.grid_cols + col
        return out

    def _new_landmarks(
        self, T_world_cam: FloatArray, uv_kept: FloatArray, needed: int
    ) -> FloatArray:
        """Up to ``needed`` new landmarks, (n, 3) world, seen at free pixels of the left image."""
        cfg, cams = self.config, self.cameras
        g = cams.geometry
        m = max(_CANDIDATES_PER_FEATURE * needed, 32)
        uv = cams.lo_px + self.rng.uniform(size=(m, 2)) * (cams.hi_px - cams.lo_px)
        if self.cell_px > 0:
            occupied = np.zeros(self.grid_rows * self.grid_cols, dtype=bool)
            occupied[self._cells(uv_kept)] = True
            cells = self._cells(uv)
            free = np.flatnonzero(~occupied[cells])
            _, first = np.unique(cells[free], return_index=True)
            uv = uv[free[np.sort(first)]]  # one per free cell, in random order
        rays_cam = np.stack(
            [(uv[:, 0] - g.cx) / g.fx, (uv[:, 1] - g.cy) / g.fy, np.ones(uv.shape[0])], axis=1
        )
        dirs = rays_cam @ T_world_cam[:3, :3].T
        origin = np.broadcast_to(T_world_cam[:3, 3], dirs.shape)
        rays = np.concatenate([origin, dirs], axis=1).astype(np.float32)
        # Directions have z = 1 in the camera, so t_hit is the depth.
        depth = self.scene.cast(rays).t_hit.astype(np.float64)
        ok = np.flatnonzero((depth >= cfg.min_depth_m) & (depth <= cfg.max_depth_m))[:needed]
        points: FloatArray = T_world_cam[:3, 3] + depth[ok, None] * dirs[ok]
        return points

    def step(self, T_world_cam: FloatArray) -> tuple[FloatArray, FloatArray, TrackCounts]:
        """Advance the tracks to one frame.

        Args:
            T_world_cam: (4, 4) pose of the rectified left camera.

        Returns:
            Exact (n, 2) left and right pixels of the tracks ``self.ids`` (right NaN where
            not seen) and the frame's counts.
        """
        cfg, cams = self.config, self.cameras
        centre = T_world_cam[:3, 3]
        n_prev = int(self.ids.shape[0])
        points = self._points[self.ids]
        _, z, keep = cams.project(T_world_cam, points)
        keep &= (z > cfg.min_depth_m) & (self.ages < cfg.max_track_length)
        idx = np.flatnonzero(keep)
        idx = idx[_unoccluded(self.scene, np.broadcast_to(centre, (idx.size, 3)), points[idx])]
        n_tracked = int(idx.size)
        ids, ages = self.ids[idx], self.ages[idx] + 1
        needed = cfg.num_features - n_tracked
        if needed > 0:
            uv_kept, _, _ = cams.project(T_world_cam, points[idx])
            new_ids = self._add(self._new_landmarks(T_world_cam, uv_kept, needed))
            ids = np.concatenate([ids, new_ids])
            ages = np.concatenate([ages, np.ones(new_ids.shape[0], np.int32)])
        self.ids, self.ages = ids, ages.astype(np.int32)
        points = self._points[ids]
        uv_left, _, _ = cams.project(T_world_cam, points)
        uv_right, _, in_right = cams.project(T_world_cam, points, right=True)
        at = np.flatnonzero(in_right)
        right_centre = cams.right_centre(T_world_cam)
        at = at[_unoccluded(self.scene, np.broadcast_to(right_centre, (at.size, 3)), points[at])]
        has_right = np.zeros(ids.shape[0], dtype=bool)
        has_right[at] = True
        uv_right[~has_right] = np.nan
        n_stereo = int(at.size)
        counts = TrackCounts(
            tracked=n_tracked,
            new=int(ids.shape[0]) - n_tracked,
            lost_klt=n_prev - n_tracked,
            stereo_matched=n_stereo,
            rejected_lr=int(ids.shape[0]) - n_stereo,
        )
        return uv_left, uv_right, counts


def _imu_samples(
    stamps_ns: npt.NDArray[np.int64],
    gyro: FloatArray,
    accel: FloatArray,
    noise: ImuNoise,
    rate_hz: float,
) -> tuple[ImuSample, ...]:
    """``ImuSample`` objects as ``percept synth`` publishes them (no orientation)."""
    gyro_cov = np.eye(3) * (noise.gyroscope_noise_density**2 * rate_hz)
    accel_cov = np.eye(3) * (noise.accelerometer_noise_density**2 * rate_hz)
    return tuple(
        ImuSample(
            Header(stamp, IMU_FRAME),
            g,
            a,
            None,
            angular_velocity_covariance=gyro_cov,
            linear_acceleration_covariance=accel_cov,
        )
        for stamp, g, a in zip(stamps_ns.tolist(), gyro, accel, strict=True)
    )


def simulate_features(
    config: FeatureSimConfig | None = None, scene: Scene | None = None
) -> FeatureSimulation:
    """Simulate a stereo feature and IMU sequence (module docstring).

    Args:
        config: what to simulate (default ``FeatureSimConfig()``: 60 s, ground robot).
        scene: the scene of ``config.scene`` and ``config.trajectory_seed``, when already
            built (Monte-Carlo runs share one; building it takes about 2 s).

    Returns:
        The simulation.

    Raises:
        ValueError: ``scene`` is not the configured scene.
    """
    cfg = config or FeatureSimConfig()
    wall = time.perf_counter()
    if scene is None:
        scene = build_scene(cfg.scene, cfg.trajectory_seed)
    elif (scene.name, scene.seed) != (cfg.scene, cfg.trajectory_seed):
        msg = (
            f"scene is {scene.name!r} seed {scene.seed}, the config asks for "
            f"{cfg.scene!r} seed {cfg.trajectory_seed}"
        )
        raise ValueError(msg)
    trajectory = LoopTrajectory(scene.loop, cfg.motion, cfg.trajectory_seed)
    rig = StereoRig(cfg.rig_config)
    cameras = _Cameras(rig, cfg.border_px)

    # Camera frames at true time; ground truth there.
    n_frames = int(np.floor(cfg.seconds * cfg.camera_rate_hz + 1e-9))
    cam_stamps = _stamps_ns(cfg.start_ns, 0, n_frames, cfg.camera_rate_hz)
    cam_t_s = (cam_stamps - cfg.start_ns) / NS_PER_S
    truth = imu_kinematics(trajectory, rig.T_base_imu, cam_t_s)
    T_world_imu = np.zeros((n_frames, 4, 4))
    T_world_imu[:, :3, :3] = truth.rotation.as_matrix()
    T_world_imu[:, :3, 3] = truth.position_m
    T_world_imu[:, 3, 3] = 1.0
    T_world_cam = T_world_imu @ cameras.T_imu_cam

    # IMU from a frame period (plus the shift) before the first frame to one sample
    # after the last frame's IMU time.
    shift = cfg.timeshift_cam_imu_s
    lead = math.ceil((1.0 / cfg.camera_rate_hz + abs(shift)) * cfg.imu_rate_hz)
    last = math.floor((cam_t_s[-1] + shift) * cfg.imu_rate_hz + 1e-6) + 1
    imu_stamps = _stamps_ns(cfg.start_ns, -lead, last + lead + 1, cfg.imu_rate_hz)
    imu_t_s = np.arange(-lead, last + 1) / cfg.imu_rate_hz
    imu = simulate_imu(
        trajectory,
        rig.T_base_imu,
        imu_t_s,
        cfg.imu_noise,
        np.random.default_rng([cfg.seed, _IMU_STREAM]),
        shift,
    )
    at_imu = cam_t_s + shift
    bias_gyro = np.stack(
        [np.interp(at_imu, imu_t_s, imu.gyroscope_bias_rad_s[:, k]) for k in range(3)], axis=1
    )
    bias_accel = np.stack(
        [np.interp(at_imu, imu_t_s, imu.accelerometer_bias_m_s2[:, k]) for k in range(3)], axis=1
    )

    tracks = _Tracks(cfg, scene, cameras, cfg.seed)
    pixel_rng = np.random.default_rng([cfg.seed, _PIXEL_STREAM])
    sigma = cfg.pixel_noise_px
    frames = []
    for k in range(n_frames):
        uv_left, uv_right, counts = tracks.step(T_world_cam[k])
        if sigma > 0:
            noise = pixel_rng.standard_normal((uv_left.shape[0], 4)) * sigma
            uv_left = uv_left + noise[:, :2]
            uv_right = uv_right + noise[:, 2:]
        frames.append(
            FeatureFrame(
                stamp_ns=int(cam_stamps[k]),
                ids=tracks.ids.copy(),
                uv_left=uv_left.astype(np.float32),
                uv_right=uv_right.astype(np.float32),
                ages=tracks.ages.copy(),
                counts=counts,
            )
        )
    sim = FeatureSimulation(
        config=cfg,
        camera=cameras.geometry,
        T_imu_cam=cameras.T_imu_cam,
        frames=tuple(frames),
        imu=_imu_samples(
            imu_stamps,
            imu.angular_velocity_rad_s,
            imu.linear_acceleration_m_s2,
            cfg.imu_noise,
            cfg.imu_rate_hz,
        ),
        stamps_ns=cam_stamps,
        T_world_imu=T_world_imu,
        v_world_imu_m_s=truth.velocity_m_s,
        bias_gyro_rad_s=bias_gyro,
        bias_accel_m_s2=bias_accel,
        landmarks_world_m=tracks.landmarks,
    )
    logger.info(
        "simulated %d frames, %d IMU samples, %d landmarks in %.2f s",
        n_frames,
        len(sim.imu),
        tracks.n_landmarks,
        time.perf_counter() - wall,
    )
    return sim
