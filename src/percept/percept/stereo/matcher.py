"""The matcher interface and its OpenCV backends.

A ``Matcher`` turns one rectified pair into a disparity map of the left image. Everything
else (full-width padding, the left-right check, hole filling, downscaling, depth and
clouds) is built around this one call, so a learned or GPU matcher (an ONNX stereo
network on TensorRT, say) is added by subclassing ``Matcher`` and registering it under a
new ``stereo_algorithm`` value with :func:`register_matcher`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import ConfigError
from percept.stereo.config import BM, SGBM, StereoConfig

__all__ = [
    "BlockMatcher",
    "Matcher",
    "SemiGlobalMatcher",
    "create_matcher",
    "register_matcher",
]

FloatImage = npt.NDArray[np.float32]
# OpenCV's matchers return disparity x 16 (4 fractional bits) in int16.
_DISP_SCALE = 16


class Matcher(ABC):
    """Disparity of the left image of a rectified pair.

    Attributes:
        channels: image channels ``match`` takes: 1 (mono8 grey) or 3 (bgr8).
        subpixel_step_px: smallest disparity step the matcher resolves, pixels
            (DisparityImage ``delta_d``).
    """

    channels: ClassVar[int] = 1
    subpixel_step_px: ClassVar[float] = 1.0 / _DISP_SCALE

    def __init__(self, config: StereoConfig) -> None:
        """Build the matcher for ``config``'s search range and parameters."""
        self.config = config

    @property
    def min_disparity(self) -> int:
        """Smallest disparity searched, pixels."""
        return self.config.min_disparity

    @property
    def disparity_range(self) -> int:
        """Number of disparities searched, pixels."""
        return self.config.disparity_range

    @abstractmethod
    def match(self, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]) -> FloatImage:
        """Disparity of every left pixel.

        Args:
            left: (H, W) uint8 (``channels`` 1) or (H, W, 3) uint8 bgr8 rectified left
                image.
            right: the right image, same shape.

        Returns:
            (H, W) float32 disparity ``x_left - x_right``, pixels, within
            [min_disparity, min_disparity + disparity_range); NaN where there is none.
        """

    def match_right(self, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]) -> FloatImage:
        """Disparity of every right pixel (its match lies at ``x + d`` in the left image).

        Mirroring both images turns the right image into a left one with the same
        disparities, so any matcher gives it.

        Returns:
            (H, W) float32 disparity, pixels; NaN where there is none.
        """
        flipped = self.match(
            np.ascontiguousarray(right[:, ::-1]), np.ascontiguousarray(left[:, ::-1])
        )
        out: FloatImage = np.ascontiguousarray(flipped[:, ::-1])
        return out


def _to_float(fixed: npt.ArrayLike, min_disparity: int) -> FloatImage:
    """OpenCV's 16x fixed point to float32 pixels; its invalid value (< min) to NaN."""
    fixed = np.asarray(fixed)
    out = fixed.astype(np.float32)
    out *= np.float32(1.0 / _DISP_SCALE)
    out[fixed < min_disparity * _DISP_SCALE] = np.nan
    return out


class SemiGlobalMatcher(Matcher):
    """OpenCV ``StereoSGBM`` (Hirschmüller 2008) with stereo_image_proc's parameters."""

    def __init__(self, config: StereoConfig) -> None:
        """Create the OpenCV matcher."""
        super().__init__(config)
        self.opencv = cv2.StereoSGBM.create(
            minDisparity=config.min_disparity,
            numDisparities=config.disparity_range,
            blockSize=config.correlation_window_size,
            P1=round(config.P1),
            P2=round(config.P2),
            disp12MaxDiff=config.disp12_max_diff if config.disp12_max_diff > 0 else -1,
            preFilterCap=config.prefilter_cap,
            uniquenessRatio=round(config.uniqueness_ratio),
            speckleWindowSize=config.speckle_size,
            speckleRange=config.speckle_range,
            mode=config.opencv_sgbm_mode,
        )

    def match(self, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]) -> FloatImage:
        """SGBM disparity (see :meth:`Matcher.match`)."""
        return _to_float(self.opencv.compute(left, right), self.min_disparity)


class BlockMatcher(Matcher):
    """OpenCV ``StereoBM`` (stereo_image_proc's default algorithm)."""

    def __init__(self, config: StereoConfig) -> None:
        """Create the OpenCV matcher."""
        super().__init__(config)
        bm = cv2.StereoBM.create(config.disparity_range, config.correlation_window_size)
        bm.setMinDisparity(config.min_disparity)
        bm.setPreFilterType(cv2.STEREO_BM_PREFILTER_XSOBEL)
        bm.setPreFilterSize(config.prefilter_size)
        bm.setPreFilterCap(config.prefilter_cap)
        bm.setTextureThreshold(config.texture_threshold)
        bm.setUniquenessRatio(round(config.uniqueness_ratio))
        bm.setSpeckleWindowSize(config.speckle_size)
        # StereoBM compares speckles in fixed point, StereoSGBM in pixels: scale so
        # that speckle_range means pixels for both.
        bm.setSpeckleRange(config.speckle_range * _DISP_SCALE)
        bm.setDisp12MaxDiff(config.disp12_max_diff if config.disp12_max_diff > 0 else -1)
        self.opencv = bm

    def match(self, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]) -> FloatImage:
        """Block-matching disparity (see :meth:`Matcher.match`)."""
        return _to_float(self.opencv.compute(left, right), self.min_disparity)


_MATCHERS: dict[int, Callable[[StereoConfig], Matcher]] = {
    BM: BlockMatcher,
    SGBM: SemiGlobalMatcher,
}


def register_matcher(stereo_algorithm: int, factory: Callable[[StereoConfig], Matcher]) -> None:
    """Make ``factory`` the matcher of ``stereo_algorithm`` (a learned matcher, say).

    Raises:
        ConfigError: the value is one of the built-in algorithms (0 BM, 1 SGBM).
    """
    if stereo_algorithm in (BM, SGBM):
        msg = f"stereo_algorithm {stereo_algorithm} is built in (0 BM, 1 SGBM); use another"
        raise ConfigError(msg)
    _MATCHERS[stereo_algorithm] = factory


def create_matcher(config: StereoConfig) -> Matcher:
    """The matcher ``config.stereo_algorithm`` names.

    Raises:
        ConfigError: no matcher is registered for it.
    """
    factory = _MATCHERS.get(config.stereo_algorithm)
    if factory is None:
        msg = (
            f"stereo: no matcher for stereo_algorithm {config.stereo_algorithm}; "
            f"registered: {sorted(_MATCHERS)}"
        )
        raise ConfigError(msg)
    return factory(config)
