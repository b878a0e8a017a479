"""Settings of stereo matching, named as stereo_image_proc's disparity node names them.

``StereoConfig`` carries the OpenCV matcher parameters under their stereo_image_proc
names (``min_disparity``, ``disparity_range``, ``correlation_window_size``, ...) plus
what Percept adds around the matcher: full-width matching, a left-right consistency
check, hole filling and downscaled matching.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import cv2

from percept.errors import ConfigError
from percept.params import param

__all__ = [
    "ALGORITHMS",
    "BM",
    "SGBM",
    "SGBM_MODES",
    "StereoConfig",
]

#: stereo_image_proc's ``stereo_algorithm`` values.
BM: Final = 0
SGBM: Final = 1
#: ``stereo_algorithm`` value -> name.
ALGORITHMS: Final[dict[int, str]] = {BM: "block matching", SGBM: "semi-global block matching"}
#: ``sgbm_mode`` -> OpenCV's StereoSGBM mode. ``sgbm``: 5 paths; ``hh``: 8 paths, full
#: image (stereo_image_proc's ``full_dp``); ``sgbm_3way``: 3 paths, fastest;
#: ``hh4``: 4 paths.
SGBM_MODES: Final[dict[str, int]] = {
    "sgbm": cv2.STEREO_SGBM_MODE_SGBM,
    "hh": cv2.STEREO_SGBM_MODE_HH,
    "sgbm_3way": cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    "hh4": cv2.STEREO_SGBM_MODE_HH4,
}


@dataclass(frozen=True, slots=True)
class StereoConfig:
    """How disparity is computed from a rectified pair.

    Matcher parameters (OpenCV ``StereoSGBM`` / ``StereoBM``, stereo_image_proc names):

    Attributes:
        stereo_algorithm: 0 block matching (``StereoBM``), 1 semi-global block matching
            (``StereoSGBM``); other values name matchers added with
            ``percept.stereo.register_matcher``.
        min_disparity: smallest disparity searched, pixels.
        disparity_range: number of disparities searched, a multiple of 16, pixels.
        correlation_window_size: matching block size, odd, pixels (SGBM 1..255, BM
            5..255).
        uniqueness_ratio: % by which the best cost must beat the second best.
        texture_threshold: BM only: least texture (sum of |x-gradient|) of a window.
        speckle_size: largest region of similar disparity treated as a speckle and
            removed, pixels (0: no speckle filter).
        speckle_range: largest disparity difference inside one speckle region, pixels.
        P1: SGBM penalty for a disparity change of 1 between neighbours.
        P2: SGBM penalty for larger changes; must exceed P1.
        disp12_max_diff: OpenCV's internal left-right check tolerance, pixels (<= 0:
            off).
        full_dp: SGBM over 8 paths (``MODE_HH``), as stereo_image_proc's ``full_dp``;
            overrides ``sgbm_mode``.
        sgbm_mode: ``sgbm``, ``hh``, ``sgbm_3way`` or ``hh4`` (see ``SGBM_MODES``).
        prefilter_size: BM only: normalisation window, odd, 5..255.
        prefilter_cap: clip of the pre-filtered pixels, 1..63.

    What Percept adds:

    Attributes:
        full_width: match the whole image width: the pair is padded by
            ``min_disparity + disparity_range`` replicated columns, so that pixels in
            the left band (which bare OpenCV leaves invalid) get a disparity when their
            match lies inside the right image.
        lr_check: left-right consistency check: the right image is matched against
            the left one too, and a left disparity is kept only when the right
            disparity at its match agrees within ``lr_tolerance_px``; the speckle
            filter runs again on what remains.
        lr_tolerance_px: largest left-right disagreement kept, pixels.
        fill_holes: fill pixels without a disparity that lie between two valid pixels
            of their row with the smaller (background) of the two disparities
            (occlusions lie beside the far side of a depth edge).
        fill_max_width_px: fill only holes up to this many pixels wide (0: any).
        downscale: match at 1/downscale of the resolution (1, 2 or 4) and upsample the
            disparity, for speed; disparities are in full-resolution pixels.
    """

    stereo_algorithm: int = param(
        SGBM, "0 block matching, 1 semi-global block matching", min_value=0, max_value=1
    )
    min_disparity: int = param(
        0, "smallest disparity searched, pixels", min_value=-2048, max_value=2048
    )
    disparity_range: int = param(
        64, "disparities searched, a multiple of 16", min_value=16, max_value=4096
    )
    correlation_window_size: int = param(
        5,
        "matching block size, odd, pixels (SGBM 1..255, BM 5..255; BM: try 15)",
        min_value=1,
        max_value=255,
    )
    uniqueness_ratio: float = param(
        10.0, "% the best match must beat the next", min_value=0.0, max_value=100.0
    )
    texture_threshold: int = param(
        10, "BM: least window texture to match", min_value=0, max_value=10000
    )
    speckle_size: int = param(
        100, "largest speckle region removed, pixels (0: off)", min_value=0, max_value=100000
    )
    speckle_range: int = param(
        2, "largest disparity step inside a speckle, pixels", min_value=0, max_value=31
    )
    P1: float = param(
        200.0, "SGBM penalty of a disparity change of 1", min_value=0.0, max_value=1e6
    )
    P2: float = param(800.0, "SGBM penalty of larger changes, > P1", min_value=0.0, max_value=1e6)
    disp12_max_diff: int = param(
        1,
        "OpenCV's internal left-right check tolerance, pixels (0: off)",
        min_value=0,
        max_value=128,
    )
    full_dp: bool = param(False, "SGBM over 8 paths (MODE_HH); overrides sgbm_mode")
    sgbm_mode: str = param(
        "sgbm_3way",
        "SGBM variant: sgbm (5 paths), hh (8), sgbm_3way (3, fastest), hh4 (4)",
        choices=tuple(SGBM_MODES),
    )
    prefilter_size: int = param(9, "BM: normalisation window, odd", min_value=5, max_value=255)
    prefilter_cap: int = param(31, "clip of pre-filtered pixels", min_value=1, max_value=63)
    full_width: bool = param(
        True, "match the left band too (pad by min_disparity + disparity_range columns)"
    )
    lr_check: bool = param(True, "left-right consistency check (a second matching pass)")
    lr_tolerance_px: float = param(
        1.0, "largest left-right disagreement kept, pixels", min_value=0.0, max_value=64.0
    )
    fill_holes: bool = param(
        False, "fill holes between two disparities of a row with the smaller (background) one"
    )
    fill_max_width_px: int = param(
        0, "widest hole filled, pixels (0: any)", min_value=0, max_value=100000
    )
    downscale: int = param(
        1, "match at 1/downscale resolution (1, 2 or 4), upsample", min_value=1, max_value=4
    )

    def __post_init__(self) -> None:
        window_min = 5 if self.stereo_algorithm == BM else 1
        checks: list[tuple[bool, str, str, object]] = [
            (
                self.stereo_algorithm >= 0,
                "stereo_algorithm",
                ">= 0 (0 block matching, 1 semi-global block matching)",
                self.stereo_algorithm,
            ),
            (
                self.disparity_range >= 16 and self.disparity_range % 16 == 0,
                "disparity_range",
                "a positive multiple of 16",
                self.disparity_range,
            ),
            (
                window_min <= self.correlation_window_size <= 255
                and self.correlation_window_size % 2 == 1,
                "correlation_window_size",
                f"odd, {window_min}..255",
                self.correlation_window_size,
            ),
            (
                0.0 <= self.uniqueness_ratio <= 100.0,
                "uniqueness_ratio",
                "in [0, 100]",
                self.uniqueness_ratio,
            ),
            (self.texture_threshold >= 0, "texture_threshold", ">= 0", self.texture_threshold),
            (self.speckle_size >= 0, "speckle_size", ">= 0", self.speckle_size),
            (self.speckle_range >= 0, "speckle_range", ">= 0", self.speckle_range),
            (self.P1 >= 0.0, "P1", ">= 0", self.P1),
            (self.P2 > self.P1, "P2", f"> P1 ({self.P1})", self.P2),
            (
                self.sgbm_mode in SGBM_MODES,
                "sgbm_mode",
                f"one of {sorted(SGBM_MODES)}",
                self.sgbm_mode,
            ),
            (
                5 <= self.prefilter_size <= 255 and self.prefilter_size % 2 == 1,
                "prefilter_size",
                "odd, 5..255",
                self.prefilter_size,
            ),
            (1 <= self.prefilter_cap <= 63, "prefilter_cap", "in 1..63", self.prefilter_cap),
            (self.lr_tolerance_px >= 0.0, "lr_tolerance_px", ">= 0", self.lr_tolerance_px),
            (self.fill_max_width_px >= 0, "fill_max_width_px", ">= 0", self.fill_max_width_px),
            (self.downscale in (1, 2, 4), "downscale", "1, 2 or 4", self.downscale),
        ]
        for ok, name, expected, got in checks:
            if not ok:
                msg = f"stereo: {name} must be {expected}, got {got!r}"
                raise ConfigError(msg)

    @property
    def max_disparity(self) -> int:
        """Largest disparity searched, pixels (stereo_image_proc's ``max_disparity``)."""
        return self.min_disparity + self.disparity_range - 1

    @property
    def opencv_sgbm_mode(self) -> int:
        """The OpenCV StereoSGBM mode flag (``full_dp`` wins over ``sgbm_mode``)."""
        return cv2.STEREO_SGBM_MODE_HH if self.full_dp else SGBM_MODES[self.sgbm_mode]

    def bare(self) -> StereoConfig:
        """The same matcher with nothing of Percept's around it (what OpenCV alone does).

        >>> StereoConfig().bare().lr_check
        False
        """
        return replace(self, full_width=False, lr_check=False, fill_holes=False, downscale=1)
