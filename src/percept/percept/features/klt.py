"""KLT feature tracking on a rectified stereo pair (OpenVINS' ``TrackKLT``).

Each :meth:`FeatureTracker.track` call takes one rectified pair and:

1. tracks the previous frame's features into the new left image with pyramidal
   Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``). When the IMU gives the rotation between
   the two frames, each point is seeded at its rotation-only prediction
   ``H = K R_cur_prev K^-1`` (the infinite homography), so that KLT only has to find
   the small translation-induced remainder, not a fast rotation's large flow;
2. tracks the result back into the previous image and drops tracks that do not return
   within ``fb_threshold_px`` (occlusions, drift on repeated texture);
3. drops temporal matches that RANSAC (``cv2.findFundamentalMat``) finds off their
   epipolar lines;
4. tops the tracks up to ``num_features`` with new grid-bucketed corners
   (:func:`percept.features.detect.detect_corners`);
5. matches every feature into the right image with KLT, seeded at the track's last
   disparity, and keeps the match when it tracks back to the left point, stays on its
   row (``|dv| <= max_row_error_px``) and has a disparity in range.

Track ids are monotonic int64; a track's age is the number
of frames it has been seen in (1 when new).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.features.config import FeatureTrackerConfig
from percept.features.detect import detect_corners

__all__ = ["FeatureFrame", "FeatureTracker", "TrackCounts"]

logger = logging.getLogger(__name__)

# RANSAC for a fundamental matrix needs 8 points; below 16 it rejects too little to trust.
_MIN_RANSAC_POINTS: Final = 16


@dataclass(frozen=True, slots=True)
class TrackCounts:
    """What happened to the features in one frame (for diagnostics).

    Attributes:
        tracked: tracks carried over from the previous frame.
        new: new corners detected.
        lost_klt: tracks KLT lost (no convergence or left the image).
        rejected_fb: tracks dropped by the forward-backward check.
        rejected_ransac: tracks dropped by RANSAC.
        stereo_matched: features with a right-image match.
        rejected_lr: features whose right match failed (KLT, right-to-left check, row
            or disparity range).
    """

    tracked: int = 0
    new: int = 0
    lost_klt: int = 0
    rejected_fb: int = 0
    rejected_ransac: int = 0
    stereo_matched: int = 0
    rejected_lr: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class FeatureFrame:
    """The features of one rectified stereo frame.

    Attributes:
        stamp_ns: image stamp, nanoseconds.
        ids: (N,) int64 track ids, tracked ones first, then new ones (increasing).
        uv_left: (N, 2) float32 positions in the rectified left image, pixels (x =
            column, y = row).
        uv_right: (N, 2) float32 positions in the rectified right image, pixels; NaN
            where the feature has no stereo match.
        ages: (N,) int32 frames each track has been seen in, this one included.
        counts: what happened in this frame.
    """

    stamp_ns: int
    ids: npt.NDArray[np.int64]
    uv_left: npt.NDArray[np.float32]
    uv_right: npt.NDArray[np.float32]
    ages: npt.NDArray[np.int32]
    counts: TrackCounts

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def has_right(self) -> npt.NDArray[np.bool_]:
        """(N,) bool: the feature has a stereo match."""
        return np.asarray(np.isfinite(self.uv_right[:, 0]))

    @property
    def disparity_px(self) -> npt.NDArray[np.float32]:
        """(N,) float32 ``u_left - u_right``, pixels; NaN without a stereo match."""
        return np.asarray(self.uv_left[:, 0] - self.uv_right[:, 0], dtype=np.float32)


def _check_image(image: npt.NDArray[np.uint8], name: str) -> None:
    """Raise ValueError unless ``image`` is (H, W) uint8."""
    if image.ndim != 2 or image.dtype != np.uint8:
        msg = f"{name} must be (H, W) uint8 mono, got {image.shape} {image.dtype}"
        raise ValueError(msg)


class FeatureTracker:
    """Tracks corners over a rectified stereo sequence; one instance per camera pair.

    >>> tracker = FeatureTracker(FeatureTrackerConfig(num_features=50))
    >>> left = np.random.default_rng(0).integers(0, 255, (120, 160), dtype=np.uint8)
    >>> frame = tracker.track(0, left, left)
    >>> bool(0 < len(frame) <= 50) and bool(np.all(frame.ages == 1))
    True
    """

    def __init__(self, config: FeatureTrackerConfig | None = None) -> None:
        self.config = config or FeatureTrackerConfig()
        cfg = self.config
        self._win = (cfg.klt_window_px, cfg.klt_window_px)
        self._criteria = (
            cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
            cfg.klt_max_iterations,
            cfg.klt_epsilon_px,
        )
        self._clahe = (
            cv2.createCLAHE(cfg.clahe_clip_limit, (cfg.clahe_tiles, cfg.clahe_tiles))
            if cfg.clahe
            else None
        )
        self._next_id = 0
        self.reset()

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so they are never reused)."""
        self._prev_image: npt.NDArray[np.uint8] | None = None
        self._prev_stamp_ns: int | None = None
        self._prev_shape: tuple[int, int] | None = None
        self._ids = np.empty(0, np.int64)
        self._uv = np.empty((0, 2), np.float32)
        self._ages = np.empty(0, np.int32)
        self._disparity = np.empty(0, np.float32)

    def _lk(
        self,
        image_from: npt.NDArray[np.uint8],
        image_to: npt.NDArray[np.uint8],
        uv_from: npt.NDArray[np.float32],
        uv_seed: npt.NDArray[np.float32],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """KLT from ``uv_from`` in one pyramid to the other, started at ``uv_seed``."""
        if uv_from.shape[0] == 0:
            return uv_from.copy(), np.zeros(0, dtype=bool)
        nxt, status, _err = cv2.calcOpticalFlowPyrLK(
            image_from,
            image_to,
            uv_from.reshape(-1, 1, 2),
            uv_seed.reshape(-1, 1, 2).copy(),
            winSize=self._win,
            maxLevel=self.config.klt_pyramid_levels,
            criteria=self._criteria,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        return nxt.reshape(-1, 2).astype(np.float32), status.reshape(-1).astype(bool)

    def _inside(self, uv: npt.NDArray[np.float32], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
        h, w = shape
        b = float(self.config.border_px)
        finite = np.isfinite(uv).all(axis=1)
        return np.asarray(
            finite
            & (uv[:, 0] >= b)
            & (uv[:, 0] <= w - 1 - b)
            & (uv[:, 1] >= b)
            & (uv[:, 1] <= h - 1 - b)
        )

    def _temporal(
        self,
        image: npt.NDArray[np.uint8],
        shape: tuple[int, int],
        R_cur_prev: npt.NDArray[np.float64] | None,
        K: npt.NDArray[np.float64] | None,
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32], TrackCounts]:
        """Track the previous features into ``image``: (keep mask, new uv, counts)."""
        cfg = self.config
        prev_uv = self._uv
        n = prev_uv.shape[0]
        if self._prev_image is None or n == 0:
            return np.zeros(n, dtype=bool), prev_uv.copy(), TrackCounts()
        seed = prev_uv
        if R_cur_prev is not None and K is not None:
            K64 = np.asarray(K, dtype=np.float64).reshape(3, 3)
            H = K64 @ np.asarray(R_cur_prev, dtype=np.float64).reshape(3, 3) @ np.linalg.inv(K64)
            seed = np.asarray(
                cv2.perspectiveTransform(prev_uv.reshape(-1, 1, 2), H), dtype=np.float32
            ).reshape(-1, 2)
        cur, ok = self._lk(self._prev_image, image, prev_uv, seed)
        ok &= self._inside(cur, shape)
        lost_klt = int(n - ok.sum())
        rejected_fb = 0
        if cfg.fb_threshold_px > 0 and ok.any():
            idx = np.flatnonzero(ok)
            back, ok_back = self._lk(image, self._prev_image, cur[idx], prev_uv[idx])
            err = np.linalg.norm(back - prev_uv[idx], axis=1)
            good = ok_back & (err <= cfg.fb_threshold_px)
            rejected_fb = int((~good).sum())
            ok[idx[~good]] = False
        rejected_ransac = 0
        if cfg.ransac_threshold_px > 0 and int(ok.sum()) >= _MIN_RANSAC_POINTS:
            idx = np.flatnonzero(ok)
            _F, inliers = cv2.findFundamentalMat(
                prev_uv[idx],
                cur[idx],
                cv2.FM_RANSAC,
                cfg.ransac_threshold_px,
                cfg.ransac_confidence,
            )
            if inliers is not None:
                inl = inliers.reshape(-1).astype(bool)
                rejected_ransac = int((~inl).sum())
                ok[idx[~inl]] = False
        counts = TrackCounts(
            tracked=int(ok.sum()),
            lost_klt=lost_klt,
            rejected_fb=rejected_fb,
            rejected_ransac=rejected_ransac,
        )
        return ok, cur, counts

    def _stereo(
        self,
        left: npt.NDArray[np.uint8],
        right_image: npt.NDArray[np.uint8],
        uv_left: npt.NDArray[np.float32],
        disparity_seed: npt.NDArray[np.float32],
        shape: tuple[int, int],
    ) -> npt.NDArray[np.float32]:
        """Right-image match of each left point: (N, 2) float32, NaN where none."""
        cfg = self.config
        n = uv_left.shape[0]
        out = np.full((n, 2), np.nan, dtype=np.float32)
        if n == 0:
            return out
        known = np.isfinite(disparity_seed)
        # A feature without a disparity of its own starts at the scene's typical one.
        typical = float(np.median(disparity_seed[known])) if known.any() else 0.0
        seed = uv_left.copy()
        seed[:, 0] -= np.where(known, disparity_seed, np.float32(typical))
        right, ok = self._lk(left, right_image, uv_left, seed)
        h, w = shape
        ok &= np.isfinite(right).all(axis=1)
        ok &= (right[:, 0] >= 0) & (right[:, 0] <= w - 1) & (right[:, 1] >= 0)
        ok &= right[:, 1] <= h - 1
        ok &= np.abs(right[:, 1] - uv_left[:, 1]) <= cfg.max_row_error_px
        disparity = uv_left[:, 0] - right[:, 0]
        ok &= (disparity >= cfg.min_disparity_px) & (disparity <= cfg.max_disparity_px)
        if cfg.fb_threshold_px > 0 and ok.any():
            idx = np.flatnonzero(ok)
            back, ok_back = self._lk(right_image, left, right[idx], uv_left[idx])
            err = np.linalg.norm(back - uv_left[idx], axis=1)
            ok[idx[~(ok_back & (err <= cfg.fb_threshold_px))]] = False
        out[ok] = right[ok]
        return out

    def track(
        self,
        stamp_ns: int,
        left: npt.NDArray[np.uint8],
        right: npt.NDArray[np.uint8] | None = None,
        R_cur_prev: npt.NDArray[np.float64] | None = None,
        K: npt.NDArray[np.float64] | None = None,
    ) -> FeatureFrame:
        """Track features into a new rectified pair.

        Args:
            stamp_ns: image stamp, nanoseconds; later than the previous call's.
            left: (H, W) uint8 mono rectified left image.
            right: (H, W) uint8 mono rectified right image; None (or ``stereo`` off in
                the config): no stereo matching, ``uv_right`` is all NaN.
            R_cur_prev: (3, 3) float64 rotation taking vectors from the previous left
                camera frame to the current one (IMU-predicted), or None.
            K: (3, 3) float64 intrinsics of the rectified left image; the rotation seed
                is used only when both ``R_cur_prev`` and ``K`` are given.

        Returns:
            The frame's features: tracked ones first, then new ones.

        Raises:
            ValueError: an image is not (H, W) uint8, the pair differs in size, or
                ``stamp_ns`` is not later than the previous frame's.
        """
        cfg = self.config
        _check_image(left, "left")
        use_right = right is not None and cfg.stereo
        if right is not None:
            _check_image(right, "right")
            if right.shape != left.shape:
                msg = f"right image must be {left.shape} like the left, got {right.shape}"
                raise ValueError(msg)
        if self._prev_stamp_ns is not None and stamp_ns <= self._prev_stamp_ns:
            msg = f"stamp_ns must increase: got {stamp_ns} after {self._prev_stamp_ns}"
            raise ValueError(msg)
        shape = (int(left.shape[0]), int(left.shape[1]))
        if self._prev_shape is not None and shape != self._prev_shape:
            logger.warning(
                "image size changed from %s to %s: tracks reset", self._prev_shape, shape
            )
            self.reset()
        if self._clahe is not None:
            left = np.asarray(self._clahe.apply(left), dtype=np.uint8)
            if right is not None:
                right = np.asarray(self._clahe.apply(right), dtype=np.uint8)
        keep, cur_uv, counts = self._temporal(left, shape, R_cur_prev, K)
        ids = self._ids[keep]
        uv = cur_uv[keep]
        ages = self._ages[keep] + np.int32(1)
        disparity = self._disparity[keep]
        new_uv = detect_corners(left, cfg, existing_uv=uv)
        n_new = new_uv.shape[0]
        ids = np.concatenate([ids, np.arange(self._next_id, self._next_id + n_new, dtype=np.int64)])
        self._next_id += n_new
        uv = np.concatenate([uv, new_uv]).astype(np.float32)
        ages = np.concatenate([ages, np.ones(n_new, np.int32)]).astype(np.int32)
        disparity = np.concatenate([disparity, np.full(n_new, np.nan, np.float32)])
        if use_right and right is not None:
            uv_right = self._stereo(left, right, uv, disparity, shape)
        else:
            uv_right = np.full(uv.shape, np.nan, dtype=np.float32)
        matched = np.isfinite(uv_right[:, 0])
        # A lost stereo match keeps the last disparity as the next frame's seed.
        disparity = np.where(matched, uv[:, 0] - uv_right[:, 0], disparity).astype(np.float32)
        counts = TrackCounts(
            tracked=counts.tracked,
            new=n_new,
            lost_klt=counts.lost_klt,
            rejected_fb=counts.rejected_fb,
            rejected_ransac=counts.rejected_ransac,
            stereo_matched=int(matched.sum()),
            rejected_lr=int((~matched).sum()) if use_right else 0,
        )
        self._prev_image = left
        self._prev_stamp_ns = int(stamp_ns)
        self._prev_shape = shape
        self._ids, self._uv, self._ages, self._disparity = ids, uv, ages, disparity
        return FeatureFrame(int(stamp_ns), ids.copy(), uv.copy(), uv_right, ages.copy(), counts)
