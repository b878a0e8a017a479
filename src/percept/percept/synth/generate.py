"""``percept synth``: render a ground-truthed stereo + IMU sequence into an MCAP bag.

Topics (standard messages, image_pipeline names; frames per REP 103/105):

============================================  =====================================  =========
topic                                         type                                   rate
============================================  =====================================  =========
/stereo/left/image_raw                        sensor_msgs/Image (mono8 or bgr8)      camera
/stereo/left/camera_info                      sensor_msgs/CameraInfo                 camera
/stereo/right/image_raw                       sensor_msgs/Image                      camera
/stereo/right/camera_info                     sensor_msgs/CameraInfo                 camera
/imu/data                                     sensor_msgs/Imu (no orientation)       200 Hz
/tf_static                                    tf2_msgs/TFMessage: base_link ->       once
                                              imu_link, stereo_{left,right}_optical_frame
/ground_truth/odom                            nav_msgs/Odometry, map -> base_link    100 Hz
/ground_truth/left/depth                      sensor_msgs/Image 32FC1, metres        camera
/ground_truth/left/detections_2d              vision_msgs/Detection2DArray           camera
/ground_truth/left/detections_2d/visibility   vision_msgs/Detection2DArray, score:   camera
                                              visible fraction (below)
/ground_truth/left/detections_3d              vision_msgs/Detection3DArray           camera
/ground_truth/objects                         vision_msgs/Detection3DArray, map      once
/ground_truth/map                             nav_msgs/OccupancyGrid, map            once
/ground_truth/map_visible                     nav_msgs/OccupancyGrid, map            at the end
============================================  =====================================  =========

Ground truth of the left camera is aligned with ``/stereo/left/image_raw`` (raw,
distorted pixels): depth is the z coordinate in ``stereo_left_optical_frame`` (NaN where
nothing is seen); 2-D boxes are the tight boxes of each object's *visible* pixels
(``id`` = object id, class id = class name, score 1) in pixel-edge coordinates as
detectors and COCO give them: the image spans [0, W] x [0, H] and pixel (u, v) covers
[u, u + 1) x [v, v + 1) (camera_info's K puts pixel centres at integers, so add 0.5 to
a projected point to compare); 3-D boxes are the objects' boxes
in the left optical frame, for the objects with a 2-D box. vision_msgs has no field for
an object's visible fraction (KITTI's occlusion, Isaac Replicator's ``occlusionRatio``:
its visible pixels over the pixels it would cover with nothing in front, within the
image, :func:`visible_fractions`), so ``/ground_truth/left/detections_2d/visibility``
repeats each frame's boxes (same header, order, ids and classes) with the fraction as
the hypothesis score: a standard message any ROS tool reads, paired by stamp and id,
while the boxes topic keeps score 1 for every reader. ``/ground_truth/odom`` carries
``T_map_base_link`` and the body-frame twist.

``/ground_truth/map`` marks a cell when any geometry between 0.05 m and 2 m above the
floor covers it (each part's footprint, filled): what a ground robot must avoid.
``/ground_truth/map_visible`` (same grid, published after the last frame) keeps of its
occupied cells (100) those where a perfect depth sensor on the true trajectory saw a
surface in that height band (the rendered left depth, every pixel); every other cell is
-1. The inside of objects and the parts of open structures (rack decks, pallets, carts)
that no ray reaches are not in it: a map can be scored on what could be seen.

Deterministic: the same configuration gives the same bytes. Noise streams are seeded per
purpose and per frame, so they do not depend on the order of rendering.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.calib.imu import ImuNoise, imu_yaml
from percept.calib.yaml_io import write_camera_info_yaml
from percept.domain import (
    CameraInfo,
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    Header,
    Image,
    ImuSample,
    ObjectHypothesis,
    OccupancyGrid,
    Odometry,
    TransformStamped,
)
from percept.errors import ConfigError
from percept.geometry.pose import Pose
from percept.io.bag import BagWriter
from percept.msgtypes import (
    CAMERA_INFO,
    DETECTION2D_ARRAY,
    DETECTION3D_ARRAY,
    IMAGE,
    IMU,
    OCCUPANCY_GRID,
    ODOMETRY,
    TF_MESSAGE,
)
from percept.synth import export
from percept.synth.imu import ADIS16448_EUROC, NO_NOISE, simulate_imu
from percept.synth.rig import LEFT_FRAME, RIGHT_FRAME, StereoRender, StereoRig, StereoRigConfig
from percept.synth.rig import to_image as _to_image
from percept.synth.scene import Scene
from percept.synth.trajectory import MOTIONS, LoopTrajectory
from percept.synth.warehouse import SCENES, build_scene
from percept.units import NS_PER_S

__all__ = [
    "GROUND_TRUTH_TOPICS",
    "SENSOR_TOPICS",
    "VISIBILITY_TOPIC",
    "SynthConfig",
    "SynthResult",
    "boxes_2d",
    "default_rig",
    "generate",
    "visible_fractions",
    "write_robot_files",
]

logger = logging.getLogger(__name__)

MAP_FRAME: Final = "map"
BASE_FRAME: Final = "base_link"
IMU_FRAME: Final = "imu_link"


#: Sensor topics -> message type.
SENSOR_TOPICS: Final = {
    "/stereo/left/image_raw": IMAGE,
    "/stereo/left/camera_info": CAMERA_INFO,
    "/stereo/right/image_raw": IMAGE,
    "/stereo/right/camera_info": CAMERA_INFO,
    "/imu/data": IMU,
    "/tf_static": TF_MESSAGE,
}
#: Visible fraction of each ground-truth box: its boxes again, score = visible fraction.
VISIBILITY_TOPIC: Final = "/ground_truth/left/detections_2d/visibility"
#: Ground-truth topics -> message type.
GROUND_TRUTH_TOPICS: Final = {
    "/ground_truth/odom": ODOMETRY,
    "/ground_truth/left/depth": IMAGE,
    "/ground_truth/left/detections_2d": DETECTION2D_ARRAY,
    VISIBILITY_TOPIC: DETECTION2D_ARRAY,
    "/ground_truth/left/detections_3d": DETECTION3D_ARRAY,
    "/ground_truth/objects": DETECTION3D_ARRAY,
    "/ground_truth/map": OCCUPANCY_GRID,
    "/ground_truth/map_visible": OCCUPANCY_GRID,
}
#: Heights above the floor that the ground-truth maps cover, metres.
MAP_HEIGHTS_M: Final = (0.05, 2.0)


def default_rig(motion: str, **changes: object) -> StereoRigConfig:
    """The rig of a motion kind.

    On a ground robot the cameras sit 0.5 m up, looking slightly down; a handheld rig's
    ``base_link`` is the rig itself.

    Args:
        motion: ``ground`` or ``handheld``.
        **changes: ``StereoRigConfig`` fields to override (``width``, ``encoding``...).

    Returns:
        The rig configuration.
    """
    base = StereoRigConfig()
    if motion == "handheld":
        base = dataclasses.replace(
            base, mount_xyz_m=(0.05, 0.0, 0.0), mount_pitch_rad=0.0, imu_xyz_m=(0.0, 0.03, -0.02)
        )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """What ``generate`` renders.

    Attributes:
        scene: scene kind (``warehouse``).
        seconds: sequence length, seconds.
        seed: scene, trajectory and noise seed.
        motion: ``ground`` or ``handheld``.
        robot_name: name of the robot (calibration folder, robot file); ``synth`` and
            ``synth_handheld`` are in the repository for the default rigs.
        camera_rate_hz: stereo frame rate.
        imu_rate_hz: IMU rate.
        ground_truth_rate_hz: rate of ``/ground_truth/odom``.
        rig: cameras and mounting (default: ``default_rig(motion)``).
        noise: image noise, exposure jitter and IMU noise on (False: exact data).
        imu_noise: IMU noise levels when ``noise`` is on.
        timeshift_cam_imu_s: Kalibr's camera-IMU time shift, ``t_imu = t_cam + shift``.
        exposure_s: exposure time for motion blur, seconds (0: no blur).
        blur_samples: sub-frames averaged over the exposure when ``exposure_s > 0``.
        occupancy_resolution_m: cell size of ``/ground_truth/map``.
        start_ns: stamp of the first message.
    """

    scene: str = "warehouse"
    seconds: float = 10.0
    seed: int = 0
    motion: str = "ground"
    robot_name: str = "synth"
    camera_rate_hz: float = 10.0
    imu_rate_hz: float = 200.0
    ground_truth_rate_hz: float = 100.0
    rig: StereoRigConfig | None = None
    noise: bool = True
    imu_noise: ImuNoise = field(default_factory=lambda: ADIS16448_EUROC)
    timeshift_cam_imu_s: float = 0.0
    exposure_s: float = 0.0
    blur_samples: int = 3
    occupancy_resolution_m: float = 0.05
    start_ns: int = 1_700_000_000 * NS_PER_S

    def __post_init__(self) -> None:
        rate = self.camera_rate_hz
        checks = [
            (self.scene in SCENES, "scene", f"one of {sorted(SCENES)}", self.scene),
            (self.motion in MOTIONS, "motion", f"one of {list(MOTIONS)}", self.motion),
            (0 < rate <= 100, "camera_rate_hz", "in (0, 100]", rate),
            (
                self.seconds * rate >= 1,
                "seconds",
                ">= 1 / camera_rate_hz (one frame)",
                self.seconds,
            ),
            (self.seed >= 0, "seed", ">= 0", self.seed),
            (self.imu_rate_hz >= rate, "imu_rate_hz", ">= camera_rate_hz", self.imu_rate_hz),
            (
                self.ground_truth_rate_hz > 0,
                "ground_truth_rate_hz",
                "> 0",
                self.ground_truth_rate_hz,
            ),
            (
                abs(self.timeshift_cam_imu_s) < 1,
                "timeshift_cam_imu_s",
                "in (-1, 1)",
                self.timeshift_cam_imu_s,
            ),
            (
                self.exposure_s >= 0 and self.exposure_s * rate < 1,
                "exposure_s",
                "in [0, 1 / camera_rate_hz)",
                self.exposure_s,
            ),
            (self.blur_samples >= 1, "blur_samples", ">= 1", self.blur_samples),
            (
                self.occupancy_resolution_m > 0,
                "occupancy_resolution_m",
                "> 0",
                self.occupancy_resolution_m,
            ),
            (self.start_ns >= 0, "start_ns", ">= 0", self.start_ns),
        ]
        for ok, name, expected, got in checks:
            if not ok:
                msg = f"synth: {name} must be {expected}, got {got!r}"
                raise ConfigError(msg)

    @property
    def rig_config(self) -> StereoRigConfig:
        """The rig actually used."""
        return self.rig if self.rig is not None else default_rig(self.motion)


@dataclass
class SynthResult:
    """What ``generate`` wrote and measured.

    Attributes:
        bag: the MCAP file.
        calibration_dir: folder of left.yaml, right.yaml, imu.yaml (None if not asked).
        robot_file: the robot file (None if not asked).
        frames: stereo frames rendered.
        counts: messages per topic.
        render_s_per_frame: mean wall time to render one stereo frame (ray cast and
            shading), seconds.
        objects: labelled objects in the scene.
    """

    bag: Path
    calibration_dir: Path | None
    robot_file: Path | None
    frames: int
    counts: dict[str, int]
    render_s_per_frame: float
    objects: int


def boxes_2d(
    object_index: npt.NDArray[np.int32], n_objects: int, min_pixels: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Tight boxes of the visible pixels of each object.

    Args:
        object_index: (H, W) int32 object index per pixel, -1 for none.
        n_objects: number of objects in the scene.
        min_pixels: objects with fewer visible pixels get no box.

    Returns:
        ``(ids, boxes)``: (K,) int64 object indices, ascending, and (K, 4) int64
        ``(u_min, v_min, u_max, v_max)`` inclusive pixel bounds (``uv`` = col, row).

    >>> ids, boxes = boxes_2d(np.array([[-1, 0], [0, 1]], dtype=np.int32), 2, 1)
    >>> ids.tolist(), boxes.tolist()
    ([0, 1], [[0, 0, 1, 1], [1, 1, 1, 1]])
    """
    flat = object_index.ravel()
    pixels = np.flatnonzero(flat >= 0)
    if pixels.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.int64)
    ids = flat[pixels].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    ids, pixels = ids[order], pixels[order]
    v, u = np.divmod(pixels, object_index.shape[1])
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    counts = np.diff(np.r_[starts, ids.size])
    boxes = np.stack(
        [
            np.minimum.reduceat(u, starts),
            np.minimum.reduceat(v, starts),
            np.maximum.reduceat(u, starts),
            np.maximum.reduceat(v, starts),
        ],
        axis=1,
    )
    keep = (counts >= min_pixels) & (ids[starts] < n_objects)
    return ids[starts][keep], boxes[keep]


def visible_fractions(
    object_index: npt.NDArray[np.int32],
    footprint: npt.NDArray[np.int64],
    ids: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """Visible fraction of objects: their visible pixels over their unoccluded footprint.

    Args:
        object_index: (H, W) int32 object index per pixel, -1 for none.
        footprint: (n_objects,) pixels each object would cover with nothing in front
            (``Scene.footprint_pixels`` of the same pixels' rays).
        ids: (K,) object indices to report.

    Returns:
        (K,) float32 in [0, 1]; 1 for an object with no footprint.

    >>> idx = np.array([[0, 0], [1, -1]], dtype=np.int32)
    >>> visible_fractions(idx, np.array([4, 1]), np.array([0, 1])).tolist()
    [0.5, 1.0]
    """
    seen = object_index[object_index >= 0].ravel()
    visible = np.bincount(seen, minlength=footprint.size)[ids].astype(np.float64)
    total = np.asarray(footprint, dtype=np.float64)[ids]
    fraction = np.divide(visible, total, out=np.ones_like(visible), where=total > 0)
    return np.clip(fraction, 0.0, 1.0).astype(np.float32)


class _Encoder:
    """Domain object -> CDR bytes through percept.codecs and the rosbags typestore."""

    def __init__(self) -> None:
        from percept.io.typestore import RosbagsFactory, get_typestore

        self.store = get_typestore()
        self.factory = RosbagsFactory(self.store)

    def __call__(self, msgtype: str, obj: object) -> bytes:
        msg = codecs.encode(msgtype, obj, self.factory)
        return bytes(self.store.serialize_cdr(msg, msgtype))


def _stamps_ns(start_ns: int, seconds: float, rate_hz: float) -> npt.NDArray[np.int64]:
    n = int(np.floor(seconds * rate_hz + 1e-9))
    return start_ns + np.round(np.arange(n) * (NS_PER_S / rate_hz)).astype(np.int64)


def _hypothesis(scene: Scene, index: int) -> tuple[ObjectHypothesis, ...]:
    return (ObjectHypothesis(scene.objects[index].class_name, 1.0),)


def _tf_static(rig: StereoRig, stamp_ns: int) -> list[TransformStamped]:
    header = Header(stamp_ns, BASE_FRAME)
    return [
        TransformStamped(header, IMU_FRAME, Pose.from_matrix(rig.T_base_imu)),
        TransformStamped(header, LEFT_FRAME, Pose.from_matrix(rig.T_base_left)),
        TransformStamped(header, RIGHT_FRAME, Pose.from_matrix(rig.T_base_right)),
    ]


class _Sequence:
    """Everything ``generate`` needs, set up once."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.scene = build_scene(config.scene, config.seed)
        self.trajectory = LoopTrajectory(self.scene.loop, config.motion, config.seed)
        self.rig = StereoRig(config.rig_config)
        self.exposure = 1.0
        self.render_s: list[float] = []
        #: Cells of the ground-truth grid where a surface in the band was seen.
        self.visible: npt.NDArray[np.bool_] | None = None
        self.grid_origin_xy = (0.0, 0.0)

    def see(self, depth: npt.NDArray[np.float32], T_world_base: npt.NDArray[np.float64]) -> None:
        """Mark the grid cells of the left depth's surfaces inside the height band."""
        if self.visible is None:
            return
        z = depth.reshape(-1)
        ok = np.isfinite(z) & self.rig._valid_left.reshape(-1)
        rays = self.rig._rays_left[ok].astype(np.float64)
        T = T_world_base @ self.rig.T_base_left
        points = (rays * z[ok, None]) @ T[:3, :3].T + T[:3, 3]
        band = (points[:, 2] >= MAP_HEIGHTS_M[0]) & (points[:, 2] <= MAP_HEIGHTS_M[1])
        res = self.config.occupancy_resolution_m
        cells = np.floor((points[band, :2] - self.grid_origin_xy) / res).astype(np.int64)
        h, w = self.visible.shape
        inside = (cells[:, 0] >= 0) & (cells[:, 0] < w) & (cells[:, 1] >= 0) & (cells[:, 1] < h)
        self.visible[cells[inside, 1], cells[inside, 0]] = True

    def t_s(self, stamp_ns: int | npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return np.asarray(
            (np.asarray(stamp_ns) - self.config.start_ns) / NS_PER_S, dtype=np.float64
        )

    def _times(self, stamp_ns: int) -> npt.NDArray[np.float64]:
        """Sub-frame times of the exposure around ``stamp_ns``, seconds."""
        cfg = self.config
        t = float(self.t_s(stamp_ns))
        if cfg.exposure_s > 0 and cfg.blur_samples > 1:
            return t + np.linspace(-0.5, 0.5, cfg.blur_samples) * cfg.exposure_s
        return np.array([t])

    def render(self, stamp_ns: int) -> StereoRender:
        start = time.perf_counter()
        poses = self.trajectory.sample(self._times(stamp_ns)).matrices()
        out = self.rig.render(self.scene, poses)
        self.render_s.append(time.perf_counter() - start)
        return out

    def footprint(self, stamp_ns: int) -> npt.NDArray[np.int64]:
        """Unoccluded left-image footprint of every object at the ground-truth pose."""
        times = self._times(stamp_ns)
        pose = self.trajectory.sample(times[times.size // 2 : times.size // 2 + 1]).matrices()
        return self.scene.footprint_pixels(self.rig.left_rays(pose.reshape(4, 4)))

    def calibrate_exposure(self, render: StereoRender) -> None:
        """Fix the exposure so that the first left image's median is mid-grey."""
        luminance = render.left @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        median = float(np.median(luminance))
        # 0.2 linear is ~124 after the 1/2.2 gamma.
        self.exposure = 0.2 / median if median > 0 else 1.0


def _messages(seq: _Sequence, encode: _Encoder) -> Iterator[tuple[str, str, int, bytes]]:
    """All messages in stamp order, rendering frames as they come."""
    cfg = seq.config
    rig, scene = seq.rig, seq.scene
    start = cfg.start_ns
    yield "/tf_static", TF_MESSAGE, start, encode(TF_MESSAGE, _tf_static(rig, start))
    grid, origin_xy = scene.occupancy(cfg.occupancy_resolution_m, MAP_HEIGHTS_M)
    seq.visible = np.zeros(grid.shape, dtype=bool)
    seq.grid_origin_xy = origin_xy
    occupancy = OccupancyGrid(
        Header(start, MAP_FRAME),
        cfg.occupancy_resolution_m,
        Pose(np.array([origin_xy[0], origin_xy[1], 0.0])),
        grid,
        map_load_time_ns=start,
    )
    yield "/ground_truth/map", OCCUPANCY_GRID, start, encode(OCCUPANCY_GRID, occupancy)
    objects = Detection3DArray(
        Header(start, MAP_FRAME),
        tuple(
            Detection3D(o.pose, o.size_m, _hypothesis(scene, o.object_id), str(o.object_id))
            for o in scene.objects
        ),
    )
    yield "/ground_truth/objects", DETECTION3D_ARRAY, start, encode(DETECTION3D_ARRAY, objects)

    imu_stamps = _stamps_ns(start, cfg.seconds, cfg.imu_rate_hz)
    imu_noise = cfg.imu_noise if cfg.noise else NO_NOISE
    imu = simulate_imu(
        seq.trajectory,
        rig.T_base_imu,
        seq.t_s(imu_stamps),
        imu_noise,
        np.random.default_rng([cfg.seed, 1]),
        cfg.timeshift_cam_imu_s,
    )
    dt = 1.0 / cfg.imu_rate_hz
    gyro_var = imu_noise.gyroscope_noise_density**2 / dt
    accel_var = imu_noise.accelerometer_noise_density**2 / dt
    gt_stamps = _stamps_ns(start, cfg.seconds, cfg.ground_truth_rate_hz)
    gt = seq.trajectory.sample(seq.t_s(gt_stamps))
    cam_stamps = _stamps_ns(start, cfg.seconds, cfg.camera_rate_hz)
    # Merge the three streams by stamp; at equal stamps: IMU, then pose, then images.
    events = sorted(
        [(int(s), 0, i) for i, s in enumerate(imu_stamps)]
        + [(int(s), 1, i) for i, s in enumerate(gt_stamps)]
        + [(int(s), 2, i) for i, s in enumerate(cam_stamps)]
    )
    min_pixels = max(4, round(1e-4 * rig.config.width * rig.config.height))
    for stamp, kind, i in events:
        if kind == 0:
            sample = ImuSample(
                Header(stamp, IMU_FRAME),
                imu.angular_velocity_rad_s[i],
                imu.linear_acceleration_m_s2[i],
                None,
                angular_velocity_covariance=np.eye(3) * gyro_var,
                linear_acceleration_covariance=np.eye(3) * accel_var,
            )
            yield "/imu/data", IMU, stamp, encode(IMU, sample)
        elif kind == 1:
            R_wb = gt.rotation[i]
            odom = Odometry(
                Header(stamp, MAP_FRAME),
                BASE_FRAME,
                Pose(gt.position_m[i], R_wb.as_quat()),
                linear_velocity_m_s=R_wb.inv().apply(gt.velocity_m_s[i]),
                angular_velocity_rad_s=R_wb.inv().apply(gt.angular_velocity_rad_s[i]),
            )
            yield "/ground_truth/odom", ODOMETRY, stamp, encode(ODOMETRY, odom)
        else:
            yield from _frame_messages(seq, encode, stamp, i, min_pixels)
    seen = np.where(seq.visible & (grid == 100), 100, -1).astype(np.int8)
    visible = dataclasses.replace(
        occupancy, header=Header(int(cam_stamps[-1]), MAP_FRAME), data=seen
    )
    yield (
        "/ground_truth/map_visible",
        OCCUPANCY_GRID,
        int(cam_stamps[-1]),
        encode(OCCUPANCY_GRID, visible),
    )


def _frame_messages(
    seq: _Sequence, encode: _Encoder, stamp: int, index: int, min_pixels: int
) -> Iterator[tuple[str, str, int, bytes]]:
    cfg, rig, scene = seq.config, seq.rig, seq.scene
    render = seq.render(stamp)
    if index == 0:
        seq.calibrate_exposure(render)
    encoding = rig.config.encoding
    left_h, right_h = Header(stamp, LEFT_FRAME), Header(stamp, RIGHT_FRAME)
    if cfg.noise:
        # One exposure jitter for both cameras (one auto-exposure), sensor noise per camera.
        rng = np.random.default_rng([cfg.seed, 2, index])
        exposure = seq.exposure * float(np.exp(0.02 * rng.standard_normal()))
        left = _to_image(render.left, exposure, encoding, rng)
        right = _to_image(render.right, exposure, encoding, rng)
    else:
        left = _to_image(render.left, seq.exposure, encoding)
        right = _to_image(render.right, seq.exposure, encoding)
    yield "/stereo/left/image_raw", IMAGE, stamp, encode(IMAGE, Image(left_h, encoding, left))
    yield (
        "/stereo/left/camera_info",
        CAMERA_INFO,
        stamp,
        encode(CAMERA_INFO, CameraInfo(left_h, rig.left)),
    )
    yield "/stereo/right/image_raw", IMAGE, stamp, encode(IMAGE, Image(right_h, encoding, right))
    yield (
        "/stereo/right/camera_info",
        CAMERA_INFO,
        stamp,
        encode(CAMERA_INFO, CameraInfo(right_h, rig.right)),
    )
    depth = Image(left_h, "32FC1", render.depth_left)
    yield "/ground_truth/left/depth", IMAGE, stamp, encode(IMAGE, depth)
    ids, boxes = boxes_2d(render.object_left, len(scene.objects), min_pixels)
    dets_2d = tuple(
        Detection2D(
            center_uv=((b[0] + b[2] + 1) / 2.0, (b[1] + b[3] + 1) / 2.0),
            size_uv=(float(b[2] - b[0] + 1), float(b[3] - b[1] + 1)),
            results=_hypothesis(scene, int(k)),
            id=str(int(k)),
        )
        for k, b in zip(ids, boxes, strict=True)
    )
    yield (
        "/ground_truth/left/detections_2d",
        DETECTION2D_ARRAY,
        stamp,
        encode(DETECTION2D_ARRAY, Detection2DArray(left_h, dets_2d)),
    )
    fractions = visible_fractions(render.object_left, seq.footprint(stamp), ids)
    seen_2d = tuple(
        dataclasses.replace(d, results=(dataclasses.replace(d.results[0], score=float(f)),))
        for d, f in zip(dets_2d, fractions, strict=True)
    )
    yield (
        VISIBILITY_TOPIC,
        DETECTION2D_ARRAY,
        stamp,
        encode(DETECTION2D_ARRAY, Detection2DArray(left_h, seen_2d)),
    )
    T_world_base = seq.trajectory.sample([float(seq.t_s(stamp))]).matrices()[0]
    seq.see(render.depth_left, T_world_base)
    T_left_world = np.linalg.inv(T_world_base @ rig.T_base_left)
    dets_3d = tuple(
        Detection3D(
            Pose.from_matrix(T_left_world @ scene.objects[int(k)].T_world_box),
            scene.objects[int(k)].size_m,
            _hypothesis(scene, int(k)),
            str(int(k)),
        )
        for k in ids
    )
    yield (
        "/ground_truth/left/detections_3d",
        DETECTION3D_ARRAY,
        stamp,
        encode(DETECTION3D_ARRAY, Detection3DArray(left_h, dets_3d)),
    )


def _map_entry() -> dict[str, object]:
    """The robot file's ``occupancy_map`` node: stereo_depth's cloud on VIO's poses.

    The map is in ``odom`` (VIO's TF); ``percept eval`` brings it into the ground
    truth's frame by the trajectory alignment. Its ``odom`` input listens to the ground
    truth, used only with ``pose_source: odometry`` (``percept replay --set
    occupancy_map.pose_source=odometry --set occupancy_map.map_frame=map``) to map on
    the true poses. 4 m range: stereo depth error grows with the square of the range.
    ``band3d`` with hit 0.6 (a voxel is occupied while its hits outnumber its misses):
    rays over low objects do not clear them (issue 18's tuning, seed 611). A column is
    free only where its bottom voxel is seen free (``free_column_rule: bottom_voxel``):
    space behind and under objects that no ray reaches at floor level stays unknown
    (occupied IoU in the observed area 0.536 -> 0.560 on tuning seeds 611-613). With
    ``surface_model: tsdf`` a voxel in front of the surface fused from the points is not
    occupied: the stereo noise band before far walls goes (0.560 -> 0.593 on 611-613,
    0.604 -> 0.648 on seeds 631-643). Heights are taken in ``base_link``
    (``height_reference: base_frame``): a ground robot's floor stays out of the band
    when VIO's gravity is off by a degree (seed 652: 1.0 deg, occupied IoU on VIO poses
    0.024 -> 0.386).
    """
    return {
        "type": "occupancy_map",
        "threads": 1,
        "parameters": {
            "map_frame": "odom",
            "base_frame": BASE_FRAME,
            "max_range_m": 4.0,
            "grid_model": "band3d",
            "prob_hit": 0.6,
            "free_column_rule": "bottom_voxel",
            "surface_model": "tsdf",
            "height_reference": "base_frame",
            "publish_rate_hz": 1.0,
        },
        "remappings": {
            "points2": "/stereo/points2",
            "odom": "/ground_truth/odom",
            "map": "/map",
        },
    }


def _vio_entry(cfg: SynthConfig, calibration: Path | None, config_dir: Path) -> dict[str, object]:
    """The robot file's ``vio`` node: the rectified pair and /imu/data -> /odom, TF.

    ``T_imu_cam`` comes from /tf_static (``base_link -> imu_link``, ``-> left``);
    ``calibration_dir`` gives the left camera's rectification rotation: relative to the
    project folder (``config_dir``'s parent, as ``config/robots/`` sits in it) when the
    calibration is inside it, else absolute; ``calibration/<robot>`` when none is
    written. The IMU noise is what the IMU is simulated with, the time offset the
    calibration's. No debug image: nothing extra to compute.
    """
    calibration_dir = f"calibration/{cfg.robot_name}"
    if calibration is not None:
        root, where = config_dir.resolve().parent, calibration.resolve()
        inside = where.is_relative_to(root)
        calibration_dir = (where.relative_to(root) if inside else where).as_posix()
    noise = cfg.imu_noise
    return {
        "type": "vio",
        "namespace": "stereo",
        "threads": 1,
        "parameters": {
            "calibration_dir": calibration_dir,
            "publish_debug_image": False,
            "gyroscope_noise_density": noise.gyroscope_noise_density,
            "gyroscope_random_walk": noise.gyroscope_random_walk,
            "accelerometer_noise_density": noise.accelerometer_noise_density,
            "accelerometer_random_walk": noise.accelerometer_random_walk,
            "time_offset_s": cfg.timeshift_cam_imu_s,
        },
        "remappings": {
            "imu/data": "/imu/data",
            "left/camera_info": "left/camera_info_rect",
            "right/camera_info": "right/camera_info_rect",
            "odom": "/odom",
            "path": "/path",
        },
    }


def write_robot_files(
    config: SynthConfig,
    calib_dir: Path | str | None,
    config_dir: Path | str | None,
    rig: StereoRig | None = None,
) -> tuple[Path | None, Path | None]:
    """Write the calibration and robot file of a simulated robot (no rendering).

    Args:
        config: the sequence configuration (robot name, rig, IMU).
        calib_dir: when given, write ``<calib_dir>/<robot>/{left,right,imu}.yaml``.
        config_dir: when given, write ``<config_dir>/robots/<robot>.yaml``.
        rig: the rig built from ``config`` (built here when None).

    Returns:
        ``(calibration folder, robot file)``, None for what was not asked.

    Raises:
        ConfigError: a bad robot name or an unwritable file.
        CalibrationError: a camera model that cannot be written.
    """
    cfg = config
    if calib_dir is None and config_dir is None:
        return None, None
    rig = rig or StereoRig(cfg.rig_config)
    calib_dir = None if calib_dir is None else Path(calib_dir)
    config_dir = None if config_dir is None else Path(config_dir)
    calibration = None
    if calib_dir is not None:
        calibration = calib_dir / cfg.robot_name
        write_camera_info_yaml(calibration / "left.yaml", rig.left, "left")
        write_camera_info_yaml(calibration / "right.yaml", rig.right, "right")
        T_imu_base = np.linalg.inv(rig.T_base_imu)
        export.write_text(
            calibration / "imu.yaml",
            imu_yaml(
                cfg.imu_noise,
                cfg.imu_rate_hz,
                "/imu/data",
                IMU_FRAME,
                [
                    (LEFT_FRAME, T_imu_base @ rig.T_base_left),
                    (RIGHT_FRAME, T_imu_base @ rig.T_base_right),
                ],
                cfg.timeshift_cam_imu_s,
                noise_simulated=cfg.noise,
            ),
        )
    robot_file = None
    if config_dir is not None:
        from percept.nodes import NODE_TYPES

        nodes: list[dict[str, object]] = []
        if "stereo_rectify" in NODE_TYPES:
            nodes.append({"type": "stereo_rectify", "namespace": "stereo", "threads": 1})
            if "stereo_depth" in NODE_TYPES:
                # Disparity, depth and points2 from the rectified pair (stereo_image_proc).
                nodes.append(
                    {
                        "type": "stereo_depth",
                        "namespace": "stereo",
                        "threads": 1,
                        "remappings": {
                            "left/camera_info": "left/camera_info_rect",
                            "right/camera_info": "right/camera_info_rect",
                        },
                    }
                )
        if "detector" in NODE_TYPES:
            # The shipped warehouse detector (its default model_path) on the raw left
            # image, whose pixels the ground-truth boxes are in; /detections is what
            # `percept eval` scores against /ground_truth/left/detections_2d. Tiles at
            # 1.5x find the small cartons (validation seeds 800-807: mAP@0.5 0.740 ->
            # 0.797); the tracker's settings for them were chosen on seeds 810-812.
            nodes.append(
                {
                    "type": "detector",
                    "namespace": "stereo",
                    "threads": 1,
                    "parameters": {
                        "tile_scale": 1.5,
                        "track_high_score": 0.65,
                        "track_min_hits": 1,
                    },
                    "remappings": {
                        "image": "left/image_raw",
                        "camera_info": "left/camera_info",
                        "detections": "/detections",
                    },
                }
            )
            if "stereo_rectify" in NODE_TYPES and "stereo_depth" in NODE_TYPES:
                # A second instance on the rectified left image, whose pixels stereo_depth's
                # depth is registered to, lifts its boxes to 3D (/detections_3d, in the
                # rectified left camera) for `percept eval`'s 3D error by range; its 2D
                # output (rectified pixels) goes to /detections_rect, so /detections stays
                # the raw-image one. No TF_MESSAGE target or markers: nothing extra to compute.
                nodes.append(
                    {
                        "type": "detector",
                        "name": "detector_3d",
                        "namespace": "stereo",
                        "threads": 1,
                        "parameters": {
                            "depth_source": "depth",
                            "target_frame_id": "",
                            "publish_markers": False,
                        },
                        "remappings": {
                            "image": "left/image_rect",
                            "camera_info": "left/camera_info_rect",
                            "depth": "depth",
                            "detections": "/detections_rect",
                            "detections_3d": "/detections_3d",
                        },
                    }
                )
        if "vio" in NODE_TYPES and "stereo_rectify" in NODE_TYPES:
            nodes.append(_vio_entry(cfg, calibration, config_dir))
            if "occupancy_map" in NODE_TYPES and "stereo_depth" in NODE_TYPES:
                if cfg.motion == "ground":
                    nodes.append(_map_entry())
        record = [
            "/stereo/left/camera_info",
            "/stereo/right/camera_info",
            "/imu/data",
            "/tf_static",
            *(t for t in GROUND_TRUTH_TOPICS if t != VISIBILITY_TOPIC),
        ]
        description = (
            f"percept synth: simulated {cfg.motion} stereo + IMU rig "
            f"({rig.config.width}x{rig.config.height} {rig.config.encoding}, "
            f"{rig.config.baseline_m:g} m baseline)"
        )
        robot_file = export.write_text(
            config_dir / "robots" / f"{cfg.robot_name}.yaml",
            export.robot_yaml(cfg.robot_name, description, nodes, record),
        )
    return calibration, robot_file


def generate(
    out: Path | str,
    config: SynthConfig | None = None,
    *,
    calib_dir: Path | str | None = None,
    config_dir: Path | str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> SynthResult:
    """Render a sequence into ``out`` (an MCAP file, or a rosbag2 folder).

    Args:
        out: output bag path (``.mcap`` gives one file).
        config: what to render (default ``SynthConfig()``).
        calib_dir: when given, write ``<calib_dir>/<robot>/{left,right,imu}.yaml``.
        config_dir: when given, write ``<config_dir>/robots/<robot>.yaml``.
        overwrite: replace an existing output bag.
        progress: show a progress bar (stderr).

    Returns:
        What was written, and the render time per stereo frame.

    Raises:
        ConfigError: bad configuration or unwritable side files.
        BagError: the bag exists (without ``overwrite``) or cannot be written.
    """
    from tqdm import tqdm

    cfg = config or SynthConfig()
    seq = _Sequence(cfg)
    calibration, robot_file = write_robot_files(cfg, calib_dir, config_dir, seq.rig)
    encode = _Encoder()
    n_frames = _stamps_ns(cfg.start_ns, cfg.seconds, cfg.camera_rate_hz).size
    bar = tqdm(total=n_frames, desc="synth", unit="frame", disable=not progress, leave=False)
    with BagWriter(Path(out), overwrite=overwrite) as writer, bar:
        for topic in (*SENSOR_TOPICS, *GROUND_TRUTH_TOPICS):
            writer.add_topic(topic, {**SENSOR_TOPICS, **GROUND_TRUTH_TOPICS}[topic])
        for topic, msgtype, stamp, raw in _messages(seq, encode):
            writer.write(topic, msgtype, stamp, raw)
            if topic == "/ground_truth/left/detections_3d":
                bar.update(1)
        counts = dict(writer.counts)
    per_frame = float(np.mean(seq.render_s)) if seq.render_s else 0.0
    logger.debug(
        "synth: %d stereo frames, %.0f ms per frame, %d objects -> %s",
        n_frames,
        per_frame * 1e3,
        len(seq.scene.objects),
        out,
    )
    return SynthResult(
        Path(out), calibration, robot_file, n_frames, counts, per_frame, len(seq.scene.objects)
    )
