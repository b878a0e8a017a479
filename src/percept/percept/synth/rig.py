"""A stereo camera rig that renders raw (distorted) images of a scene.

Each raw pixel is undistorted once (``percept.calib.render.undistort_pixels``) into a
ray of its camera, so lens distortion is in the rendered images exactly as the
calibration describes it. The two cameras differ a little, as real ones do: the right
camera's focal length, principal point and distortion are off by a few tenths of a
percent and it is rotated by about 0.3 degrees; ``camera_info`` carries the
rectification (``R``, ``P``) of ``cv2.stereoRectify`` as ``camera_calibration`` writes
it, so rectifying with it gives row-aligned images.

Frames (REP 103/105): ``base_link`` carries the rig; ``stereo_left_optical_frame`` and
``stereo_right_optical_frame`` are z forward, x right, y down; ``imu_link``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.calib.render import project_points, undistort_pixels
from percept.geometry.camera import CameraModel
from percept.geometry.se3 import from_rotation_translation
from percept.synth.scene import RayHits, Scene

__all__ = [
    "ENCODINGS",
    "LEFT_FRAME",
    "RIGHT_FRAME",
    "StereoRender",
    "StereoRig",
    "StereoRigConfig",
    "to_image",
]

LEFT_FRAME: Final = "stereo_left_optical_frame"
RIGHT_FRAME: Final = "stereo_right_optical_frame"
#: Image encodings the rig renders.
ENCODINGS: Final = ("mono8", "bgr8")

# Optical frame axes in a body frame (x forward, y left, z up): z_opt = x, x_opt = -y,
# y_opt = -z.
_R_BODY_OPTICAL: Final = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
# A reprojected ray must land this close to its pixel, else the distortion model folds
# there and the pixel shows nothing.
_ROUND_TRIP_TOL_PX: Final = 0.05


@dataclass(frozen=True, slots=True)
class StereoRigConfig:
    """Geometry and optics of the stereo rig.

    Attributes:
        width: image width, pixels.
        height: image height, pixels.
        focal_px: focal length of the left camera, pixels (0: 0.72 * width, ~70 deg
            horizontal field of view).
        baseline_m: distance between the optical centres, metres.
        distortion: plumb_bob ``(k1, k2, p1, p2, k3)`` of the left camera (mild barrel).
        encoding: ``mono8`` or ``bgr8``.
        mount_xyz_m: rig centre (midway between the cameras) in ``base_link``, metres.
        mount_pitch_rad: downward tilt of the rig, radians.
        imu_xyz_m: ``imu_link`` origin in ``base_link``, metres.
        imu_rpy_rad: ``imu_link`` orientation in ``base_link`` (roll, pitch, yaw about
            fixed x, y, z), radians.
    """

    width: int = 640
    height: int = 480
    focal_px: float = 0.0
    baseline_m: float = 0.12
    distortion: tuple[float, float, float, float, float] = (-0.1, 0.02, 0.0005, -0.0004, 0.0)
    encoding: str = "mono8"
    mount_xyz_m: tuple[float, float, float] = (0.2, 0.0, 0.5)
    mount_pitch_rad: float = 0.05
    imu_xyz_m: tuple[float, float, float] = (0.05, 0.02, 0.3)
    imu_rpy_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            msg = f"image size must be at least 16x16, got {self.width}x{self.height}"
            raise ValueError(msg)
        if self.focal_px < 0 or not self.baseline_m > 0:
            msg = (
                f"focal_px must be >= 0 and baseline_m > 0, got {self.focal_px}, {self.baseline_m}"
            )
            raise ValueError(msg)
        if self.encoding not in ENCODINGS:
            msg = f"encoding must be one of {ENCODINGS}, got {self.encoding!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class StereoRender:
    """One rendered stereo frame before exposure.

    Attributes:
        left: (H, W, 3) float32 linear rgb radiance of the left raw image.
        right: (H, W, 3) float32, right raw image.
        depth_left: (H, W) float32 z-depth of the left raw image's pixels, metres,
            left optical frame; NaN where nothing is seen.
        object_left: (H, W) int32 labelled object index seen at each left pixel
            (``Scene.objects``), -1 for none.
    """

    left: npt.NDArray[np.float32]
    right: npt.NDArray[np.float32]
    depth_left: npt.NDArray[np.float32]
    object_left: npt.NDArray[np.int32]


class StereoRig:
    """Cameras, extrinsics and cached pixel rays of a ``StereoRigConfig``.

    Attributes:
        config: the configuration.
        left: left camera model (raw K, D; rectification R, P).
        right: right camera model; ``right.P[0, 3] = -fx * baseline``.
        T_base_left: (4, 4) float64 pose of the left optical frame in ``base_link``.
        T_base_right: (4, 4) float64 pose of the right optical frame in ``base_link``.
        T_base_imu: (4, 4) float64 pose of ``imu_link`` in ``base_link``.
        T_right_left: (4, 4) float64 takes left-camera points to the right camera.
    """

    def __init__(self, config: StereoRigConfig | None = None) -> None:
        cfg = config or StereoRigConfig()
        self.config = cfg
        w, h = cfg.width, cfg.height
        f = cfg.focal_px or 0.72 * w
        K1 = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
        D1 = np.asarray(cfg.distortion, dtype=np.float64)
        # Two lenses are never identical: a few tenths of a percent apart.
        K2 = K1.copy()
        K2[0, 0] *= 1.003
        K2[1, 1] *= 1.002
        K2[0, 2] += 0.004 * w
        K2[1, 2] -= 0.003 * h
        D2 = D1 * np.array([1.04, 0.95, 0.8, 1.2, 1.0])
        R_left_right = Rotation.from_rotvec([0.002, -0.004, 0.003]).as_matrix()
        T_left_right = from_rotation_translation(R_left_right, (cfg.baseline_m, 0.0, 0.0))
        self.T_right_left = np.asarray(np.linalg.inv(T_left_right), dtype=np.float64)
        R1, R2, P1, P2, *_ = cv2.stereoRectify(
            K1,
            D1,
            K2,
            D2,
            (w, h),
            self.T_right_left[:3, :3],
            self.T_right_left[:3, 3].reshape(3, 1),
            flags=cv2.CALIB_ZERO_DISPARITY,
            alpha=0.0,
        )
        self.left = CameraModel(w, h, "plumb_bob", K1, D1, np.asarray(R1), np.asarray(P1))
        self.right = CameraModel(w, h, "plumb_bob", K2, D2, np.asarray(R2), np.asarray(P2))
        R_base_rig = Rotation.from_euler("y", cfg.mount_pitch_rad).as_matrix() @ _R_BODY_OPTICAL
        T_base_rig = from_rotation_translation(R_base_rig, cfg.mount_xyz_m)
        # The rig frame is the left optical frame moved half a baseline to the left.
        self.T_base_left = T_base_rig @ from_rotation_translation(
            np.eye(3), (-cfg.baseline_m / 2, 0.0, 0.0)
        )
        self.T_base_right = self.T_base_left @ T_left_right
        self.T_base_imu = from_rotation_translation(
            Rotation.from_euler("xyz", cfg.imu_rpy_rad).as_matrix(), cfg.imu_xyz_m
        )
        self._rays_left, self._valid_left = _pixel_rays(self.left)
        self._rays_right, self._valid_right = _pixel_rays(self.right)
        self._all_valid = bool(self._valid_left.all() and self._valid_right.all())

    def render(self, scene: Scene, T_world_base: npt.NDArray[np.float64]) -> StereoRender:
        """Render both raw images; several poses average into a motion-blurred frame.

        Args:
            scene: what to render.
            T_world_base: (S, 4, 4) or (4, 4) float64 ``base_link`` poses during the
                exposure (S sub-frames, one ray cast for all); ground truth comes from
                the middle one.

        Returns:
            Radiance of both images, depth and object ids of the left one.
        """
        poses = np.asarray(T_world_base, dtype=np.float64).reshape(-1, 4, 4)
        h, w = self.config.height, self.config.width
        n = h * w
        all_rays = np.empty((poses.shape[0] * 2 * n, 6), dtype=np.float32)
        block = 0
        for T in poses:
            for T_base_cam, rays in (
                (self.T_base_left, self._rays_left),
                (self.T_base_right, self._rays_right),
            ):
                _world_rays(T @ T_base_cam, rays, all_rays[block * n : (block + 1) * n])
                block += 1
        hits = scene.cast(all_rays)
        pixel_angle = 1.0 / float(self.left.K[0, 0])
        radiance = scene.radiance(all_rays, hits, pixel_angle).reshape(poses.shape[0], 2, h, w, 3)
        image = radiance.mean(axis=0) if poses.shape[0] > 1 else radiance[0]
        if not self._all_valid:
            image[0][~self._valid_left] = 0.0
            image[1][~self._valid_right] = 0.0
        mid = slice((poses.shape[0] // 2) * 2 * n, (poses.shape[0] // 2) * 2 * n + n)
        left_hits = RayHits(
            hits.t_hit[mid], hits.geometry_ids[mid], hits.primitive_ids[mid], hits.normals[mid]
        )
        t_left = left_hits.t_hit.reshape(h, w)
        depth = np.where(np.isfinite(t_left) & self._valid_left, t_left, np.float32(np.nan))
        objects = scene.object_index(left_hits).reshape(h, w)
        if not self._all_valid:
            objects = np.where(self._valid_left, objects, -1).astype(np.int32)
        return StereoRender(image[0], image[1], depth.astype(np.float32, copy=False), objects)

    def left_rays(self, T_world_base: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """World-frame rays through the valid left raw pixel centres at one pose.

        Args:
            T_world_base: (4, 4) float64 ``base_link`` pose.

        Returns:
            (M, 6) float32 origin xyz and direction xyz (z = 1 in the optical frame), one
            row per valid pixel in row-major order (all H * W pixels when every pixel of
            the distortion model round-trips).
        """
        T = np.asarray(T_world_base, dtype=np.float64) @ self.T_base_left
        rays = self._rays_left[self._valid_left.ravel()]
        out = np.empty((rays.shape[0], 6), dtype=np.float32)
        _world_rays(T, rays, out)
        return out


def _world_rays(
    T_world_cam: npt.NDArray[np.float64],
    rays: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
) -> None:
    """Write optical-frame ray directions as world rays (origin, direction) into ``out``."""
    out[:, :3] = T_world_cam[:3, 3]
    np.matmul(rays, T_world_cam[:3, :3].T.astype(np.float32), out=out[:, 3:])


def _pixel_rays(
    model: CameraModel,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Rays (x, y, 1) of every raw pixel centre, optical frame, and which are valid."""
    v, u = np.mgrid[0 : model.height, 0 : model.width]
    pixels = np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64)
    xy = undistort_pixels(pixels, model)
    rays = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)
    back = project_points(rays, model)
    valid = np.linalg.norm(back - pixels, axis=1) < _ROUND_TRIP_TOL_PX
    return rays.astype(np.float32), valid.reshape(model.height, model.width)


def to_image(
    radiance: npt.NDArray[np.float32],
    exposure: float,
    encoding: str,
    rng: np.random.Generator | None = None,
    read_noise_dn: float = 1.0,
    shot_noise_gain: float = 0.02,
) -> npt.NDArray[np.uint8]:
    """Expose, gamma-encode, add sensor noise and quantise.

    Args:
        radiance: (H, W, 3) float32 linear rgb.
        exposure: radiance-to-full-scale factor (1 / radiance that saturates).
        encoding: ``mono8`` (BT.601 luma of the gamma-encoded colours, as
            ``cv2.cvtColor``) or ``bgr8``.
        rng: noise generator; None renders without noise.
        read_noise_dn: standard deviation of the signal-independent noise, digital
            numbers (0..255 scale).
        shot_noise_gain: shot noise variance per digital number of signal.

    Returns:
        (H, W) uint8 for mono8, (H, W, 3) uint8 bgr8.

    Raises:
        ValueError: unknown encoding.
    """
    if encoding not in ENCODINGS:
        msg = f"encoding must be one of {ENCODINGS}, got {encoding!r}"
        raise ValueError(msg)
    value = np.clip(radiance * np.float32(exposure), 0.0, 1.0) ** np.float32(1 / 2.2)
    value *= np.float32(255.0)
    if encoding == "mono8":
        signal = value @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    else:
        signal = value[..., ::-1]
    if rng is not None:
        sigma = np.sqrt(np.float32(read_noise_dn**2) + np.float32(shot_noise_gain) * signal)
        signal = signal + sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    image: npt.NDArray[np.uint8] = np.clip(np.rint(signal), 0, 255).astype(np.uint8)
    return image
