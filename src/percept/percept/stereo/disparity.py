"""Disparity of a rectified pair: the matcher and everything Percept does around it.

``StereoProcessor.compute`` runs, in order: optional downscaling, full-width padding,
the matcher on the left image (and on the mirrored pair for the right image when the
left-right check is on), the left-right check, a second speckle filter, hole filling
and upsampling. With ``StereoConfig.bare()`` it is one matcher call and a fixed-point
to float conversion: what OpenCV alone gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from percept.stereo.config import StereoConfig
from percept.stereo.filters import fill_holes, left_right_consistent, remove_speckles
from percept.stereo.matcher import Matcher, create_matcher

__all__ = ["DisparityResult", "StereoProcessor", "compute_disparity"]

FloatImage = npt.NDArray[np.float32]
BoolImage = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class DisparityResult:
    """Disparity of the left image and where it came from.

    Attributes:
        disparity: (H, W) float32 ``x_left - x_right``, pixels; NaN where there is none.
        matched: (H, W) bool, pixels the matcher found and every check kept.
        filled: (H, W) bool, pixels set by hole filling (finite, not ``matched``).
        min_disparity: smallest disparity searched, pixels.
        max_disparity: largest disparity searched, pixels.
        delta_d: smallest disparity step, pixels (1/16, times the downscale factor).
    """

    disparity: FloatImage
    matched: BoolImage
    filled: BoolImage
    min_disparity: int
    max_disparity: int
    delta_d: float

    @property
    def density(self) -> float:
        """Share of pixels with a disparity (matched or filled), 0..1."""
        return float(np.count_nonzero(self.matched | self.filled)) / max(self.matched.size, 1)


def _scaled_config(config: StereoConfig) -> StereoConfig:
    """The matcher settings at 1/downscale resolution (range rounded up to 16)."""
    n = config.downscale
    if n == 1:
        return config
    lo = math.floor(config.min_disparity / n)
    hi = math.ceil((config.min_disparity + config.disparity_range) / n)
    disparity_range = max(16, 16 * math.ceil((hi - lo) / 16))
    window = max(3 if config.stereo_algorithm != 0 else 5, config.correlation_window_size // n)
    window += 1 - window % 2
    return replace(
        config,
        min_disparity=lo,
        disparity_range=disparity_range,
        correlation_window_size=window,
        speckle_size=config.speckle_size // (n * n),
        downscale=1,
    )


def _pad(image: npt.NDArray[np.uint8], left: int, right: int) -> npt.NDArray[np.uint8]:
    if left == 0 and right == 0:
        return image
    return np.asarray(cv2.copyMakeBorder(image, 0, 0, left, right, cv2.BORDER_REPLICATE), np.uint8)


class StereoProcessor:
    """Computes disparity maps with one ``StereoConfig`` (matchers built once).

    Args:
        config: the settings.
        matcher: a matcher to use instead of the one ``config.stereo_algorithm`` names
            (a learned matcher, say); it must search ``config``'s range.

    Raises:
        ConfigError: no matcher for ``config.stereo_algorithm``.
    """

    def __init__(self, config: StereoConfig, matcher: Matcher | None = None) -> None:
        """Build the matcher."""
        self.config = config
        self.match_config = _scaled_config(config)
        self.matcher = matcher if matcher is not None else create_matcher(self.match_config)

    @property
    def channels(self) -> int:
        """Image channels the matcher takes: 1 (grey) or 3 (bgr8)."""
        return self.matcher.channels

    def _padding(self) -> tuple[int, int]:
        """Columns to add left and right so that every column can be matched."""
        if not self.config.full_width:
            return 0, 0
        lo = self.matcher.min_disparity
        hi = lo + self.matcher.disparity_range
        return max(hi, 0), max(-lo, 0)

    def compute(self, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]) -> DisparityResult:
        """Disparity of the left image.

        Args:
            left: (H, W) uint8 grey or (H, W, 3) uint8 bgr8 rectified left image, as the
                matcher takes (``channels``).
            right: the right image, same shape.

        Returns:
            The disparity, in pixels of the input resolution.

        Raises:
            ValueError: the images differ in shape, or have the wrong channel count.
        """
        if left.shape != right.shape:
            msg = f"left and right images differ in shape: {left.shape} vs {right.shape}"
            raise ValueError(msg)
        channels = 1 if left.ndim == 2 else left.shape[2]
        if channels != self.channels:
            msg = f"the matcher takes {self.channels}-channel images, got {channels}"
            raise ValueError(msg)
        cfg = self.config
        height, width = left.shape[:2]
        n = cfg.downscale
        if n > 1:
            size = (max(width // n, 1), max(height // n, 1))
            left = np.asarray(cv2.resize(left, size, interpolation=cv2.INTER_AREA), np.uint8)
            right = np.asarray(cv2.resize(right, size, interpolation=cv2.INTER_AREA), np.uint8)
        columns = left.shape[1]
        pad_left, pad_right = self._padding()
        disparity = self.matcher.match(
            _pad(left, pad_left, pad_right), _pad(right, pad_left, pad_right)
        )[:, pad_left : pad_left + columns]
        if cfg.lr_check:
            # The mirrored pass needs its padding on the other side.
            right_disparity = self.matcher.match_right(
                _pad(left, pad_right, pad_left), _pad(right, pad_right, pad_left)
            )[:, pad_right : pad_right + columns]
            keep = left_right_consistent(disparity, right_disparity, cfg.lr_tolerance_px)
            disparity = np.where(keep, disparity, np.float32(np.nan))
            # The check breaks regions into pieces; drop the small ones it leaves.
            disparity = remove_speckles(
                disparity,
                self.match_config.speckle_size,
                self.match_config.speckle_range,
                self.matcher.min_disparity,
            )
        elif pad_left or pad_right:
            disparity = np.ascontiguousarray(disparity)
        matched = np.isfinite(disparity)
        if cfg.fill_holes:
            disparity, filled = fill_holes(disparity, math.ceil(cfg.fill_max_width_px / n))
        else:
            filled = np.zeros_like(matched)
        if n > 1:
            size = (width, height)
            nearest = cv2.INTER_NEAREST
            disparity = np.asarray(cv2.resize(disparity, size, interpolation=nearest), np.float32)
            disparity *= np.float32(n)
            matched = cv2.resize(matched.view(np.uint8), size, interpolation=nearest) > 0
            filled = cv2.resize(filled.view(np.uint8), size, interpolation=nearest) > 0
        return DisparityResult(
            disparity=disparity,
            matched=matched,
            filled=filled,
            min_disparity=cfg.min_disparity,
            max_disparity=cfg.max_disparity,
            delta_d=self.matcher.subpixel_step_px * n,
        )


def compute_disparity(
    left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8], config: StereoConfig | None = None
) -> DisparityResult:
    """Disparity of a rectified pair with ``config`` (default: ``StereoConfig()``).

    Args:
        left: (H, W) uint8 grey rectified left image (bgr8 (H, W, 3) for matchers that
            take colour).
        right: the right image, same shape.
        config: the settings.

    Returns:
        The disparity of the left image.

    Raises:
        ValueError: the images differ in shape.
        ConfigError: no matcher for ``config.stereo_algorithm``.
    """
    return StereoProcessor(config or StereoConfig()).compute(left, right)
