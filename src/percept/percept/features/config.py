"""Settings of the visual front end: corner detection, KLT tracking, stereo matching.

``FeatureTrackerConfig`` carries what OpenVINS' ``TrackKLT`` takes as options (``num_pts``,
``grid_x``/``grid_y``, ``min_px_dist``, ``fast_threshold``, ``win_size``, ``pyr_levels``,
``histogram_method``), with units in the names, plus the checks Percept adds: a
forward-backward KLT check, left-right matching constrained to the rectified rows and
RANSAC on the temporal matches. ``TriangulationConfig`` holds the acceptance tests of
:func:`percept.features.triangulate.triangulate_point`.

Defaults follow OpenVINS' EuRoC configuration (200 points, 5 x 5 grid, FAST threshold
20, 10 px apart) where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from percept.errors import ConfigError
from percept.params import param

__all__ = ["DETECTORS", "FeatureTrackerConfig", "TriangulationConfig"]

#: Corner detectors: FAST (OpenCV's ``FastFeatureDetector``, scored by its response) or
#: GFTT (Shi-Tomasi minimum eigenvalue, as ``cv2.goodFeaturesToTrack`` scores).
DETECTORS: Final = ("fast", "gftt")


def _check(checks: list[tuple[bool, str, str, object]], prefix: str) -> None:
    """Raise ConfigError for the first failed ``(ok, name, expected, got)`` check."""
    for ok, name, expected, got in checks:
        if not ok:
            msg = f"{prefix}: {name} must be {expected}, got {got!r}"
            raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class FeatureTrackerConfig:
    """How corners are found, tracked over time and matched left to right.

    Attributes:
        num_features: target number of tracks; new corners top the tracks up to it.
        grid_cols: columns of the bucketing grid (each cell gets an equal share).
        grid_rows: rows of the bucketing grid.
        min_distance_px: least distance between two features (new corners keep it to
            every track and to each other), pixels.
        border_px: corners closer than this to the image border are not detected and
            tracks that move closer are dropped, pixels.
        detector: ``fast`` or ``gftt`` (see ``DETECTORS``).
        fast_threshold: FAST intensity threshold, grey levels.
        gftt_quality_level: GFTT: least minimum eigenvalue, as a fraction of the
            image's largest.
        klt_window_px: side of the square KLT window, pixels (odd).
        klt_pyramid_levels: pyramid levels above the full image (0: none).
        klt_max_iterations: KLT iterations per level.
        klt_epsilon_px: KLT stops when an update is smaller than this, pixels.
        fb_threshold_px: forward-backward check: a track is kept when tracking it back
            lands within this distance of where it started, pixels (0: off). Also used
            for the right-to-left check of stereo matches.
        stereo: match features into the right image of the rectified pair.
        max_row_error_px: largest row difference of a stereo match, pixels (the pair is
            rectified, so matches lie on the same row).
        min_disparity_px: smallest disparity (u_left - u_right) accepted, pixels.
        max_disparity_px: largest disparity accepted, pixels.
        ransac_threshold_px: RANSAC on the temporal matches (``cv2.findFundamentalMat``):
            largest distance to the epipolar line of an inlier, pixels (0: off).
        ransac_confidence: RANSAC confidence.
        clahe: equalise both images with CLAHE before anything else (OpenVINS'
            ``histogram_method: CLAHE``).
        clahe_clip_limit: CLAHE contrast limit.
        clahe_tiles: CLAHE tiles per image side.
    """

    num_features: int = param(200, "target number of tracks", min_value=1, max_value=10000)
    grid_cols: int = param(5, "columns of the bucketing grid", min_value=1, max_value=64)
    grid_rows: int = param(5, "rows of the bucketing grid", min_value=1, max_value=64)
    min_distance_px: float = param(
        10.0, "least distance between two features, pixels", min_value=0.0, max_value=200.0
    )
    border_px: int = param(
        8, "margin where no corner is detected or kept, pixels", min_value=0, max_value=200
    )
    detector: str = param("fast", "corner detector: fast or gftt", choices=DETECTORS)
    fast_threshold: int = param(
        20, "FAST intensity threshold, grey levels", min_value=1, max_value=255
    )
    gftt_quality_level: float = param(
        0.01, "GFTT least eigenvalue, fraction of the largest", min_value=1e-6, max_value=1.0
    )
    klt_window_px: int = param(21, "KLT window side, odd, pixels", min_value=5, max_value=101)
    klt_pyramid_levels: int = param(
        3, "KLT pyramid levels above the full image", min_value=0, max_value=8
    )
    klt_max_iterations: int = param(30, "KLT iterations per level", min_value=1, max_value=200)
    klt_epsilon_px: float = param(
        0.01, "KLT stops below this update, pixels", min_value=1e-6, max_value=1.0
    )
    fb_threshold_px: float = param(
        1.0, "forward-backward KLT check tolerance, pixels (0: off)", min_value=0.0, max_value=50.0
    )
    stereo: bool = param(True, "match features into the right rectified image")
    max_row_error_px: float = param(
        2.0, "largest row difference of a stereo match, pixels", min_value=0.0, max_value=50.0
    )
    min_disparity_px: float = param(
        -1.0, "smallest accepted disparity, pixels", min_value=-100.0, max_value=1000.0
    )
    max_disparity_px: float = param(
        150.0, "largest accepted disparity, pixels", min_value=0.0, max_value=2000.0
    )
    ransac_threshold_px: float = param(
        1.0, "RANSAC epipolar tolerance, pixels (0: off)", min_value=0.0, max_value=50.0
    )
    ransac_confidence: float = param(0.99, "RANSAC confidence", min_value=0.5, max_value=0.9999)
    clahe: bool = param(False, "equalise the images with CLAHE first")
    clahe_clip_limit: float = param(2.0, "CLAHE contrast limit", min_value=0.1, max_value=100.0)
    clahe_tiles: int = param(8, "CLAHE tiles per image side", min_value=1, max_value=64)

    def __post_init__(self) -> None:
        _check(
            [
                (self.num_features >= 1, "num_features", ">= 1", self.num_features),
                (self.grid_cols >= 1, "grid_cols", ">= 1", self.grid_cols),
                (self.grid_rows >= 1, "grid_rows", ">= 1", self.grid_rows),
                (self.min_distance_px >= 0, "min_distance_px", ">= 0", self.min_distance_px),
                (self.border_px >= 0, "border_px", ">= 0", self.border_px),
                (self.detector in DETECTORS, "detector", f"one of {DETECTORS}", self.detector),
                (
                    1 <= self.fast_threshold <= 255,
                    "fast_threshold",
                    "in 1..255",
                    self.fast_threshold,
                ),
                (
                    0 < self.gftt_quality_level <= 1,
                    "gftt_quality_level",
                    "in (0, 1]",
                    self.gftt_quality_level,
                ),
                (
                    self.klt_window_px >= 5 and self.klt_window_px % 2 == 1,
                    "klt_window_px",
                    "odd, >= 5",
                    self.klt_window_px,
                ),
                (
                    0 <= self.klt_pyramid_levels <= 8,
                    "klt_pyramid_levels",
                    "in 0..8",
                    self.klt_pyramid_levels,
                ),
                (
                    self.klt_max_iterations >= 1,
                    "klt_max_iterations",
                    ">= 1",
                    self.klt_max_iterations,
                ),
                (self.klt_epsilon_px > 0, "klt_epsilon_px", "> 0", self.klt_epsilon_px),
                (self.fb_threshold_px >= 0, "fb_threshold_px", ">= 0", self.fb_threshold_px),
                (self.max_row_error_px >= 0, "max_row_error_px", ">= 0", self.max_row_error_px),
                (
                    self.max_disparity_px > self.min_disparity_px,
                    "max_disparity_px",
                    f"> min_disparity_px ({self.min_disparity_px})",
                    self.max_disparity_px,
                ),
                (
                    self.ransac_threshold_px >= 0,
                    "ransac_threshold_px",
                    ">= 0",
                    self.ransac_threshold_px,
                ),
                (
                    0.5 <= self.ransac_confidence < 1,
                    "ransac_confidence",
                    "in [0.5, 1)",
                    self.ransac_confidence,
                ),
                (self.clahe_clip_limit > 0, "clahe_clip_limit", "> 0", self.clahe_clip_limit),
                (self.clahe_tiles >= 1, "clahe_tiles", ">= 1", self.clahe_tiles),
            ],
            "features",
        )

    @property
    def cell_quota(self) -> int:
        """Features wanted per grid cell (the target spread evenly, rounded up)."""
        cells = self.grid_cols * self.grid_rows
        return -(-self.num_features // cells)


@dataclass(frozen=True, slots=True)
class TriangulationConfig:
    """When a triangulated point is accepted (OpenVINS ``FeatureInitializerOptions``).

    Attributes:
        max_iterations: Gauss-Newton iterations at most.
        step_tolerance: stop when a step moves the inverse-depth parameters by less
            than this, relative (1e-7 of a normalised coordinate is ~5e-5 px at
            fx 460; Gauss-Newton converges quadratically, so the next step would be
            far below it).
        min_parallax_rad: least angle between two of the point's viewing rays (too
            little parallax: the depth is not observable), radians.
        min_depth_m: least depth in every camera (behind or at the camera: rejected).
        max_depth_m: largest depth in the first camera (OpenVINS ``max_dist``).
        max_condition: largest condition number of the linear system (OpenVINS
            ``max_cond_number``).
    """

    max_iterations: int = param(10, "Gauss-Newton iterations at most", min_value=0, max_value=100)
    step_tolerance: float = param(
        1e-7, "stop below this relative step of the parameters", min_value=1e-15, max_value=1e-2
    )
    min_parallax_rad: float = param(
        0.005, "least angle between two viewing rays, radians", min_value=0.0, max_value=1.0
    )
    min_depth_m: float = param(
        0.05, "least depth in every camera, metres", min_value=0.0, max_value=100.0
    )
    max_depth_m: float = param(
        60.0, "largest depth in the first camera, metres", min_value=0.1, max_value=1e5
    )
    max_condition: float = param(
        1e4, "largest condition number of the linear system", min_value=1.0, max_value=1e12
    )

    def __post_init__(self) -> None:
        _check(
            [
                (self.max_iterations >= 0, "max_iterations", ">= 0", self.max_iterations),
                (self.min_parallax_rad >= 0, "min_parallax_rad", ">= 0", self.min_parallax_rad),
                (self.min_depth_m >= 0, "min_depth_m", ">= 0", self.min_depth_m),
                (
                    self.max_depth_m > self.min_depth_m,
                    "max_depth_m",
                    f"> min_depth_m ({self.min_depth_m})",
                    self.max_depth_m,
                ),
                (self.max_condition >= 1, "max_condition", ">= 1", self.max_condition),
            ],
            "triangulation",
        )
