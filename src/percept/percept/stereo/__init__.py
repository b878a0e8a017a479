"""Stereo depth: disparity of rectified pairs, depth and point clouds (ROS-free).

``StereoProcessor`` wraps a ``Matcher`` (OpenCV SGBM or BM, or one registered with
``register_matcher``) with full-width matching, a left-right consistency check, hole
filling and downscaled matching; ``StereoGeometry`` reads a rectified pair's
camera_infos; ``cloud_from_depth`` builds organised or dense point clouds.
"""

from __future__ import annotations

from percept.stereo.cloud import (
    XYZ,
    XYZRGB,
    XYZRGB_PACKED,
    CloudConfig,
    cloud_from_depth,
    cloud_xyz_rgb,
    remove_statistical_outliers,
    voxel_downsample,
    write_ply,
)
from percept.stereo.config import ALGORITHMS, BM, SGBM, SGBM_MODES, StereoConfig
from percept.stereo.disparity import DisparityResult, StereoProcessor, compute_disparity
from percept.stereo.filters import fill_holes, left_right_consistent, remove_speckles
from percept.stereo.geometry import (
    StereoGeometry,
    depth_from_disparity,
    projection_of,
    rectified_pair_models,
)
from percept.stereo.matcher import (
    BlockMatcher,
    Matcher,
    SemiGlobalMatcher,
    create_matcher,
    register_matcher,
)

__all__ = [
    "ALGORITHMS",
    "BM",
    "SGBM",
    "SGBM_MODES",
    "XYZ",
    "XYZRGB",
    "XYZRGB_PACKED",
    "BlockMatcher",
    "CloudConfig",
    "DisparityResult",
    "Matcher",
    "SemiGlobalMatcher",
    "StereoConfig",
    "StereoGeometry",
    "StereoProcessor",
    "cloud_from_depth",
    "cloud_xyz_rgb",
    "compute_disparity",
    "create_matcher",
    "depth_from_disparity",
    "fill_holes",
    "left_right_consistent",
    "projection_of",
    "rectified_pair_models",
    "register_matcher",
    "remove_speckles",
    "remove_statistical_outliers",
    "voxel_downsample",
    "write_ply",
]
