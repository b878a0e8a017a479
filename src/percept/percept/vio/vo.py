"""Stereo visual odometry from tracked features: frame-to-frame PnP on stereo points.

The vision-only baseline of the VIO (issue 17: "the same front end without the IMU")
and the pose source of the moving-start alignment (:mod:`percept.vio.init_dynamic`).
Each frame's features with a stereo match are triangulated from their rectified
disparity (``Z = fx B / d``); the next frame's tracks of those features give 3D-2D
pairs and OpenCV's ``solvePnPRansac`` (EPnP in RANSAC, then Levenberg-Marquardt on the
inliers) gives the motion between the two frames, chained into ``T_world_cam``. This is
the textbook frame-to-frame stereo VO (Scaramuzza and Fraundorfer, "Visual Odometry",
IEEE RAM 2011, part I, §"3D-to-2D"); it drifts without bound, which is the point of
comparing it with the fused estimate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from percept.features.klt import FeatureFrame
from percept.params import param
from percept.stereo.geometry import StereoGeometry

__all__ = ["StereoOdometry", "StereoVoConfig", "VoStep", "stereo_points"]

_log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StereoVoConfig:
    """Settings of the frame-to-frame stereo odometry.

    Attributes:
        min_disparity_px: smallest disparity triangulated (farther points are too
            uncertain in depth), pixels.
        max_depth_m: largest depth kept, metres.
        ransac_reprojection_px: RANSAC inlier threshold, pixels.
        ransac_iterations: RANSAC iterations.
        min_inliers: fewest inliers for a pose; below, the frame keeps the previous
            motion's velocity (constant-velocity guess) and is flagged.
    """

    min_disparity_px: float = param(1.0, "smallest disparity triangulated, px", min_value=0.0)
    max_depth_m: float = param(40.0, "largest depth kept, m", min_value=0.0)
    ransac_reprojection_px: float = param(4.0, "PnP RANSAC inlier threshold, px", min_value=0.1)
    ransac_iterations: int = param(100, "PnP RANSAC iterations", min_value=1)
    min_inliers: int = param(12, "fewest PnP inliers for a pose", min_value=6)


def stereo_points(
    frame: FeatureFrame, camera: StereoGeometry, config: StereoVoConfig | None = None
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """3D points of a frame's stereo-matched features in its left camera frame.

    Args:
        frame: rectified features (``uv_right`` NaN where unmatched).
        camera: the rectified pair.
        config: disparity and depth limits.

    Returns:
        ``(ids (M,) int64, points (M, 3) float64)`` in the left optical frame, metres.
    """
    cfg = config if config is not None else StereoVoConfig()
    d = frame.uv_left[:, 0].astype(np.float64) - frame.uv_right[:, 0] - camera.cx_offset_px
    ok = np.isfinite(d) & (d > cfg.min_disparity_px)
    z = np.full(d.shape, np.inf)
    z[ok] = camera.fx * camera.baseline_m / d[ok]
    ok &= z < cfg.max_depth_m
    uv = frame.uv_left[ok].astype(np.float64)
    zz = z[ok]
    x = (uv[:, 0] - camera.cx) / camera.fx * zz
    y = (uv[:, 1] - camera.cy) / camera.fy * zz
    return frame.ids[ok], np.stack([x, y, zz], axis=1)


@dataclass(frozen=True, slots=True, eq=False)
class VoStep:
    """The odometry at one frame.

    Attributes:
        stamp_ns: frame stamp, nanoseconds.
        T_world_cam: (4, 4) float64 left camera pose (world = first camera frame).
        T_prev_cur: (4, 4) float64 motion since the previous frame.
        inliers: PnP inliers (0 for the first frame).
        ok: False when PnP failed and the motion was guessed (constant velocity).
    """

    stamp_ns: int
    T_world_cam: FloatArray
    T_prev_cur: FloatArray
    inliers: int
    ok: bool


class StereoOdometry:
    """Frame-to-frame stereo PnP odometry over a feature tracker's frames.

    Args:
        camera: the rectified pair.
        config: settings.
        T_world_cam0: pose of the first frame (identity by default).
    """

    def __init__(
        self,
        camera: StereoGeometry,
        config: StereoVoConfig | None = None,
        T_world_cam0: npt.ArrayLike | None = None,
    ) -> None:
        self.camera = camera
        self.config = config if config is not None else StereoVoConfig()
        self._T0 = np.eye(4) if T_world_cam0 is None else np.asarray(T_world_cam0, np.float64)
        self._K = np.array([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1.0]])
        self.reset()

    def reset(self) -> None:
        """Forget the map and restart at the first frame's pose."""
        self._T_world_cam = self._T0.copy()
        self._prev_ids: npt.NDArray[np.int64] | None = None
        self._prev_points: FloatArray | None = None
        self._last_motion = np.eye(4)
        self.failures = 0

    def feed(self, frame: FeatureFrame) -> VoStep:
        """Add a frame; returns its pose.

        Args:
            frame: the tracker's features of the frame (with stereo matches).

        Returns:
            The step (pose, motion, inliers).
        """
        ids, points = stereo_points(frame, self.camera, self.config)
        motion, inliers, ok = np.eye(4), 0, True
        if self._prev_ids is not None and self._prev_points is not None:
            motion, inliers, ok = self._motion(frame)
            self._T_world_cam = self._T_world_cam @ motion
        self._prev_ids, self._prev_points = ids, points
        return VoStep(frame.stamp_ns, self._T_world_cam.copy(), motion, inliers, ok)

    def _motion(self, frame: FeatureFrame) -> tuple[FloatArray, int, bool]:
        assert self._prev_ids is not None
        assert self._prev_points is not None
        cfg = self.config
        common, i_prev, i_cur = np.intersect1d(
            self._prev_ids, frame.ids, assume_unique=True, return_indices=True
        )
        if common.size >= cfg.min_inliers:
            obj = self._prev_points[i_prev]
            img = frame.uv_left[i_cur].astype(np.float64)
            ok, rvec, tvec, inl = cv2.solvePnPRansac(
                obj,
                img,
                self._K,
                None,
                iterationsCount=cfg.ransac_iterations,
                reprojectionError=cfg.ransac_reprojection_px,
                confidence=0.999,
                flags=cv2.SOLVEPNP_EPNP,
            )
            if ok and inl is not None and len(inl) >= cfg.min_inliers:
                idx = inl.reshape(-1)
                rvec, tvec = cv2.solvePnPRefineLM(obj[idx], img[idx], self._K, None, rvec, tvec)
                T_cur_prev = np.eye(4)
                T_cur_prev[:3, :3] = cv2.Rodrigues(rvec)[0]
                T_cur_prev[:3, 3] = tvec.reshape(3)
                motion = np.asarray(np.linalg.inv(T_cur_prev), dtype=np.float64)
                if np.all(np.isfinite(motion)):
                    self._last_motion = motion
                    return motion, int(idx.size), True
        self.failures += 1
        _log.debug("stereo VO: PnP failed at %d ns (%d common tracks)", frame.stamp_ns, common.size)
        return self._last_motion.copy(), 0, False
