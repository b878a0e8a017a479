"""Automatic view selection, as ROS cameracalibrator does it.

Each detection is summarised by four numbers in [0, 1] (cameracalibrator's
``get_parameters``): X and Y of the board in the image, its size (square root of the
fraction of the image it covers) and its skew (how far the angle at a board corner is
from 90 degrees, i.e. the tilt). A view is kept when its parameters differ from every
kept view by more than ``min_distance`` (L1 distance), so that near-duplicate views do not
weigh the solution towards one pose; a stream also drops boards that moved too fast
between consecutive frames (motion blur). Coverage is the spread of each parameter over
the kept views relative to cameracalibrator's target ranges (0.7, 0.7, 0.4, 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.board import BoardSpec, Detection

__all__ = [
    "PARAM_NAMES",
    "Coverage",
    "ParamCoverage",
    "ViewSelector",
    "board_outline_uv",
    "view_params",
]

PARAM_NAMES = ("x", "y", "size", "skew")
# cameracalibrator's param_ranges: the spread of each parameter that counts as full.
_TARGET_RANGES = np.array([0.7, 0.7, 0.4, 0.5])
# cameracalibrator's "good enough" sample count.
_ENOUGH_VIEWS = 40

T = TypeVar("T")


def board_outline_uv(detection: Detection, board: BoardSpec) -> npt.NDArray[np.float64]:
    """(4, 2) float64 image positions of the corner grid's outer corners.

    Top-left, top-right, bottom-right, bottom-left (board frame). Full chessboard views
    use the detected corners; partial ChArUco views map the outline through the
    board-to-image homography of the detected corners.
    """
    cols, rows = board.corner_grid
    uv = detection.corners_uv.astype(np.float64)
    if detection.is_complete(board):
        return uv[[0, cols - 1, cols * rows - 1, cols * (rows - 1)]]
    obj = detection.object_points(board)[:, :2].astype(np.float64)
    H, _ = cv2.findHomography(obj, uv, 0)
    if H is None:
        return uv[[0, 0, -1, -1]]
    outline = board.outline_points()[:, :2].astype(np.float64)
    mapped = cv2.perspectiveTransform(outline.reshape(-1, 1, 2), H)
    return np.asarray(mapped, dtype=np.float64).reshape(4, 2)


def _angle(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], c: npt.NDArray[np.float64]
) -> float:
    ab, cb = a - b, c - b
    cosine = float(np.dot(ab, cb) / (np.linalg.norm(ab) * np.linalg.norm(cb) + 1e-12))
    return math.acos(max(-1.0, min(1.0, cosine)))


def view_params(detection: Detection, board: BoardSpec) -> npt.NDArray[np.float64]:
    """View parameters as cameracalibrator computes them: ``(x, y, size, skew)``, each in [0, 1].

    Args:
        detection: corners found in one image.
        board: the target.

    Returns:
        (4,) float64: x and y of the board centre (0 = left/top edge, 1 = right/bottom),
        size = sqrt(board area / image area), skew = min(1, 2 |pi/2 - corner angle|).
    """
    width, height = detection.image_size
    up_left, up_right, down_right, down_left = board_outline_uv(detection, board)
    a = up_right - up_left
    b = down_right - up_right
    c = down_left - down_right
    p, q = b + c, a + b
    area = abs(p[0] * q[1] - p[1] * q[0]) / 2.0
    skew = min(1.0, 2.0 * abs(math.pi / 2.0 - _angle(up_left, up_right, down_right)))
    border = math.sqrt(area)
    mean_u, mean_v = detection.corners_uv.astype(np.float64).mean(axis=0)
    p_x = min(1.0, max(0.0, (mean_u - border / 2) / max(width - border, 1e-9)))
    p_y = min(1.0, max(0.0, (mean_v - border / 2) / max(height - border, 1e-9)))
    p_size = math.sqrt(area / (width * height))
    return np.array([p_x, p_y, p_size, skew])


@dataclass(frozen=True, slots=True)
class ParamCoverage:
    """Spread of one view parameter over the kept views.

    Attributes:
        name: ``x``, ``y``, ``size`` or ``skew``.
        low: smallest value seen.
        high: largest value seen.
        progress: ``(high - low) / target range``, capped at 1.
    """

    name: str
    low: float
    high: float
    progress: float


@dataclass(frozen=True, slots=True)
class Coverage:
    """How well the kept views cover the image, board sizes and tilts.

    Attributes:
        n_views: views kept.
        params: coverage of x, y, size and skew.
        good_enough: cameracalibrator's criterion: every parameter at full progress,
            or 40 views.
    """

    n_views: int
    params: tuple[ParamCoverage, ...]
    good_enough: bool

    @classmethod
    def from_params(cls, params: npt.NDArray[np.float64]) -> Coverage:
        """Coverage of an (N, 4) array of view parameters."""
        arr = np.asarray(params, dtype=np.float64).reshape(-1, 4)
        if arr.shape[0] == 0:
            items = tuple(ParamCoverage(n, 0.0, 0.0, 0.0) for n in PARAM_NAMES)
            return cls(0, items, False)
        low, high = arr.min(axis=0), arr.max(axis=0)
        progress = np.minimum((high - low) / _TARGET_RANGES, 1.0)
        items = tuple(
            ParamCoverage(name, float(lo), float(hi), float(pr))
            for name, lo, hi, pr in zip(PARAM_NAMES, low, high, progress, strict=True)
        )
        good = bool((progress >= 1.0).all() or arr.shape[0] >= _ENOUGH_VIEWS)
        return cls(int(arr.shape[0]), items, good)

    def progress(self, name: str) -> float:
        """Progress of one parameter (``x``, ``y``, ``size``, ``skew``)."""
        for item in self.params:
            if item.name == name:
                return item.progress
        msg = f"no view parameter {name!r}; expected one of {PARAM_NAMES}"
        raise KeyError(msg)

    def summary(self) -> str:
        """One line: ``12 views; x 100%, y 85%, size 60%, skew 100%``."""
        parts = ", ".join(f"{p.name} {p.progress * 100:.0f}%" for p in self.params)
        return f"{self.n_views} views; {parts}" + (" (good enough)" if self.good_enough else "")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a view was kept or dropped."""

    accepted: bool
    reason: str


class ViewSelector(Generic[T]):
    """Keeps views that add information; drops near duplicates and blurred motion.

    ``T`` is what is stored per view: a ``Detection`` (mono) or a pair (stereo).

    Args:
        min_distance: smallest L1 distance in (x, y, size, skew) to every kept view
            (cameracalibrator: 0.2).
        max_views: stop accepting after this many views (0: no limit).
        max_speed_px: largest mean corner motion between consecutive frames of a
            stream, pixels (0: no check); faster boards are motion-blurred.
    """

    def __init__(
        self, *, min_distance: float = 0.2, max_views: int = 0, max_speed_px: float = 0.0
    ) -> None:
        self.min_distance = min_distance
        self.max_views = max_views
        self.max_speed_px = max_speed_px
        self.views: list[T] = []
        self._params: list[npt.NDArray[np.float64]] = []
        self._last: Detection | None = None
        self.considered = 0
        self.rejected_duplicate = 0
        self.rejected_motion = 0

    @property
    def params(self) -> npt.NDArray[np.float64]:
        """(N, 4) float64 parameters of the kept views."""
        if not self._params:
            return np.zeros((0, 4))
        return np.stack(self._params)

    def coverage(self) -> Coverage:
        """Coverage of the kept views."""
        return Coverage.from_params(self.params)

    def _moved_too_fast(self, detection: Detection) -> bool:
        last, self._last = self._last, detection
        if self.max_speed_px <= 0 or last is None:
            return False
        common, i_new, i_old = np.intersect1d(detection.ids, last.ids, return_indices=True)
        if common.size == 0:
            return False
        motion = np.linalg.norm(detection.corners_uv[i_new] - last.corners_uv[i_old], axis=1)
        return bool(motion.mean() > self.max_speed_px)

    def consider(self, params: npt.NDArray[np.float64], view: T, detection: Detection) -> Verdict:
        """Keep ``view`` when it is new enough.

        Args:
            params: (4,) view parameters (``view_params``) that decide.
            view: what to store when kept.
            detection: the detection the motion check compares with the previous one.

        Returns:
            Whether the view was kept, and why (not).
        """
        self.considered += 1
        if self._moved_too_fast(detection):
            self.rejected_motion += 1
            return Verdict(False, f"board moved more than {self.max_speed_px:g} px per frame")
        if self.max_views and len(self.views) >= self.max_views:
            return Verdict(False, f"already {self.max_views} views")
        p = np.asarray(params, dtype=np.float64).reshape(4)
        if self._params:
            distance = np.abs(self.params - p).sum(axis=1)
            nearest = int(np.argmin(distance))
            if distance[nearest] <= self.min_distance:
                self.rejected_duplicate += 1
                return Verdict(
                    False,
                    f"near-duplicate of view {nearest} (distance {distance[nearest]:.2f} "
                    f"<= {self.min_distance:g})",
                )
        self.views.append(view)
        self._params.append(p)
        return Verdict(True, "new view")
