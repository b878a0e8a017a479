"""percept.stereo: configuration, matchers, filters, the processor and pair geometry."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from percept.benchmark.stereo import benchmark_pair
from percept.errors import CalibrationError, ConfigError
from percept.geometry.camera import CameraModel, RegionOfInterest
from percept.stereo import (
    BM,
    Matcher,
    StereoConfig,
    StereoGeometry,
    StereoProcessor,
    create_matcher,
    depth_from_disparity,
    fill_holes,
    left_right_consistent,
    projection_of,
    register_matcher,
    remove_speckles,
)

W, H, RANGE = 320, 240, 32
NAN = np.nan


@pytest.fixture(scope="module")
def pair() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    return benchmark_pair(W, H, RANGE)


# --------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"disparity_range": 40}, "disparity_range must be a positive multiple of 16, got 40"),
        ({"correlation_window_size": 4}, "correlation_window_size must be odd"),
        ({"stereo_algorithm": BM, "correlation_window_size": 3}, "odd, 5..255"),
        ({"P1": 800.0, "P2": 800.0}, r"P2 must be > P1 \(800.0\)"),
        ({"sgbm_mode": "fast"}, "sgbm_mode must be one of"),
        ({"downscale": 3}, "downscale must be 1, 2 or 4"),
        ({"prefilter_cap": 0}, "prefilter_cap must be in 1..63"),
    ],
)
def test_stereo_config_raises_on_bad_values(change: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        StereoConfig(**change)  # type: ignore[arg-type]


def test_bare_config_turns_off_what_percept_adds_and_keeps_the_matcher() -> None:
    cfg = StereoConfig(disparity_range=128, fill_holes=True, downscale=2, P2=1000.0)
    bare = cfg.bare()
    assert (bare.full_width, bare.lr_check, bare.fill_holes, bare.downscale) == (
        False,
        False,
        False,
        1,
    )
    assert (bare.disparity_range, bare.P2, bare.max_disparity) == (128, 1000.0, 127)


def test_full_dp_selects_opencv_mode_hh() -> None:
    assert StereoConfig(full_dp=True).opencv_sgbm_mode == cv2.STEREO_SGBM_MODE_HH
    assert StereoConfig().opencv_sgbm_mode == cv2.STEREO_SGBM_MODE_SGBM_3WAY


def test_register_matcher_raises_on_builtin_algorithms() -> None:
    with pytest.raises(ConfigError, match="built in"):
        register_matcher(BM, create_matcher)


def test_create_matcher_raises_on_unregistered_algorithm() -> None:
    with pytest.raises(ConfigError, match="no matcher for stereo_algorithm 9"):
        create_matcher(StereoConfig(stereo_algorithm=9))


class ShiftMatcher(Matcher):
    """A stand-in for a learned matcher: the best integer shift by sum of abs diff."""

    def match(
        self, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.float32]:
        costs = np.full((self.disparity_range, *left.shape), np.inf, dtype=np.float32)
        a = left.astype(np.float32)
        b = right.astype(np.float32)
        for i, d in enumerate(range(self.min_disparity, self.min_disparity + self.disparity_range)):
            costs[i, :, d:] = cv2.blur(np.abs(a[:, d:] - b[:, : b.shape[1] - d]), (7, 7))
        best = np.argmin(costs, axis=0).astype(np.float32) + self.min_disparity
        best[~np.isfinite(costs.min(axis=0))] = np.nan
        return best


def test_a_registered_matcher_runs_behind_the_same_processor(
    pair: tuple[npt.NDArray[np.uint8], ...],
) -> None:
    left, right, truth = pair
    register_matcher(7, ShiftMatcher)
    result = StereoProcessor(StereoConfig(stereo_algorithm=7, disparity_range=RANGE)).compute(
        left, right
    )
    # Integer disparities of the slanted plane; the left-right check keeps most.
    err = np.abs(result.disparity - truth)[result.matched]
    assert result.density > 0.8
    assert np.median(err) <= 0.5


# --------------------------------------------------------------------------- filters


def test_left_right_consistent_raises_on_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="one size"):
        left_right_consistent(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32), 1.0)


def test_left_right_consistent_keeps_agreeing_pixels_and_drops_matches_outside() -> None:
    left = np.array([[NAN, 1.0, 1.0, 3.0, 5.0]], dtype=np.float32)
    right = np.array([[1.0, 2.0, 2.5, 1.0, NAN]], dtype=np.float32)
    # x=1 -> right x=0 (1.0, agrees); x=2 -> right x=1 (2.0, off by 1); x=3 -> right x=0
    # (1.0 vs 3.0); x=4, d=5 -> right x=-1 (outside).
    assert left_right_consistent(left, right, 0.5).tolist() == [[False, True, False, False, False]]
    assert left_right_consistent(left, right, 1.0).tolist() == [[False, True, True, False, False]]


def test_remove_speckles_drops_small_islands_and_keeps_large_regions() -> None:
    d = np.full((20, 20), 10.0, dtype=np.float32)
    d[5:7, 5:7] = 30.0  # a 4-pixel island of another disparity
    out = remove_speckles(d, max_size_px=10, max_difference_px=1.0)
    assert np.isnan(out[5:7, 5:7]).all()
    assert np.isfinite(out).sum() == 400 - 4
    assert np.array_equal(remove_speckles(d, 0, 1.0), d)


def test_fill_holes_takes_the_background_and_leaves_border_holes() -> None:
    d = np.array([[NAN, 4.0, NAN, NAN, 9.0, NAN, NAN, NAN, NAN, 2.0]], dtype=np.float32)
    filled, mask = fill_holes(d)
    np.testing.assert_array_equal(filled, [[NAN, 4, 4, 4, 9, 2, 2, 2, 2, 2]])
    assert mask.tolist() == [[False, False, True, True, False, True, True, True, True, False]]
    narrow, narrow_mask = fill_holes(d, max_width_px=2)
    np.testing.assert_array_equal(narrow, [[NAN, 4, 4, 4, 9, NAN, NAN, NAN, NAN, 2]])
    assert narrow_mask.sum() == 2


# ------------------------------------------------------------------------- processor


def test_default_processor_recovers_a_slanted_plane_to_a_fifth_of_a_pixel(
    pair: tuple[npt.NDArray[np.uint8], ...],
) -> None:
    left, right, truth = pair
    result = StereoProcessor(StereoConfig(disparity_range=RANGE)).compute(left, right)
    assert result.disparity.shape == (H, W)
    assert result.disparity.dtype == np.float32
    err = np.abs(result.disparity - truth)[result.matched]
    assert result.density > 0.95
    assert np.median(err) < 0.2
    assert (result.min_disparity, result.max_disparity, result.delta_d) == (0, RANGE - 1, 1 / 16)
    assert not result.filled.any()


def test_full_width_matches_the_left_band_that_bare_sgbm_leaves_empty(
    pair: tuple[npt.NDArray[np.uint8], ...],
) -> None:
    left, right, truth = pair
    cfg = StereoConfig(disparity_range=RANGE)
    bare = StereoProcessor(cfg.bare()).compute(left, right)
    ours = StereoProcessor(cfg).compute(left, right)
    band = (slice(None), slice(0, RANGE))
    assert not bare.matched[band].any()
    # Left-band pixels whose match lies inside the right image (x >= d) get one.
    visible = np.arange(RANGE)[None, :] >= truth[band] + 1
    assert ours.matched[band][visible].mean() > 0.9
    assert np.median(np.abs(ours.disparity - truth)[band][ours.matched[band]]) < 0.2


def test_bare_processor_is_exactly_opencv_sgbm(pair: tuple[npt.NDArray[np.uint8], ...]) -> None:
    left, right, _ = pair
    cfg = StereoConfig(disparity_range=RANGE)
    sgbm = cv2.StereoSGBM.create(
        minDisparity=0,
        numDisparities=RANGE,
        blockSize=5,
        P1=200,
        P2=800,
        disp12MaxDiff=1,
        preFilterCap=31,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    reference = sgbm.compute(left, right).astype(np.float32) / 16.0
    result = StereoProcessor(cfg.bare()).compute(left, right)
    valid = reference >= 0
    np.testing.assert_array_equal(result.matched, valid)
    np.testing.assert_array_equal(result.disparity[valid], reference[valid])


def test_downscaled_matching_gives_full_resolution_pixels(
    pair: tuple[npt.NDArray[np.uint8], ...],
) -> None:
    left, right, truth = pair
    result = StereoProcessor(StereoConfig(disparity_range=RANGE, downscale=2)).compute(left, right)
    assert result.disparity.shape == (H, W)
    assert result.delta_d == pytest.approx(2 / 16)
    assert np.median(np.abs(result.disparity - truth)[result.matched]) < 0.5


def test_fill_holes_option_makes_the_map_denser(pair: tuple[npt.NDArray[np.uint8], ...]) -> None:
    left, right, _ = pair
    right = right.copy()
    right[100:110, 150:200] = 128  # a flat patch: no match there
    cfg = StereoConfig(disparity_range=RANGE)
    plain = StereoProcessor(cfg).compute(left, right)
    filled = StereoProcessor(replace(cfg, fill_holes=True)).compute(left, right)
    assert filled.filled.any()
    assert not (filled.filled & filled.matched).any()
    assert filled.density > plain.density
    np.testing.assert_array_equal(filled.disparity[plain.matched], plain.disparity[plain.matched])


def test_block_matching_backend_matches_the_plane(pair: tuple[npt.NDArray[np.uint8], ...]) -> None:
    left, right, truth = pair
    cfg = StereoConfig(stereo_algorithm=BM, disparity_range=RANGE, correlation_window_size=15)
    result = StereoProcessor(cfg).compute(left, right)
    assert result.density > 0.8
    assert np.median(np.abs(result.disparity - truth)[result.matched]) < 0.2


def test_processor_raises_on_images_of_different_shapes() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        StereoProcessor(StereoConfig()).compute(
            np.zeros((10, 20), np.uint8), np.zeros((10, 21), np.uint8)
        )


# -------------------------------------------------------------------------- geometry


def rectified_pair(
    baseline_m: float = 0.12, width: int = 64, height: int = 48
) -> tuple[CameraModel, CameraModel]:
    K = np.array([[100.0, 0, 31.5], [0, 100.0, 23.5], [0, 0, 1]])
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = P_left.copy()
    P_right[0, 3] = -100.0 * baseline_m
    return (
        CameraModel(width, height, "plumb_bob", K, np.zeros(5), np.eye(3), P_left),
        CameraModel(width, height, "plumb_bob", K, np.zeros(5), np.eye(3), P_right),
    )


def test_stereo_geometry_reads_focal_length_and_baseline() -> None:
    g = StereoGeometry.from_models(*rectified_pair(0.12))
    assert (g.focal_length_px, g.cx_offset_px, g.width, g.height) == (100.0, 0.0, 64, 48)
    assert g.baseline_m == pytest.approx(0.12)


@pytest.mark.parametrize(
    ("side", "change", "match"),
    [
        ("left", {"R": np.diag([1.0, -1.0, -1.0])}, "left/camera_info is not of rectified images"),
        ("right", {"P": np.hstack([np.eye(3), np.zeros((3, 1))]) * 100}, "no baseline"),
        ("left", {"P": np.zeros((3, 4))}, "left/camera_info P is not a projection"),
        ("right", {"width": 80}, "different image sizes: 64x48 vs 80x48"),
    ],
)
def test_stereo_geometry_raises_on_pairs_that_are_not_rectified(
    side: str, change: dict[str, object], match: str
) -> None:
    left, right = rectified_pair()
    if side == "left":
        left = replace(left, **change)  # type: ignore[arg-type]
    else:
        right = replace(right, **change)  # type: ignore[arg-type]
    with pytest.raises(CalibrationError, match=match):
        StereoGeometry.from_models(left, right)


def test_stereo_geometry_raises_on_swapped_cameras_and_misaligned_rows() -> None:
    left, right = rectified_pair()
    with pytest.raises(CalibrationError, match="negative baseline"):
        StereoGeometry.from_models(right, left)
    P = right.P.copy()
    P[1, 2] += 3.0
    with pytest.raises(CalibrationError, match="differ in cy"):
        StereoGeometry.from_models(left, replace(right, P=P))
    P = right.P.copy()
    P[0, 0] *= 1.1
    with pytest.raises(CalibrationError, match="differ in fx"):
        StereoGeometry.from_models(left, replace(right, P=P))


def test_projection_of_applies_binning_and_region_of_interest() -> None:
    left, _ = rectified_pair()
    binned = replace(left, binning_x=2, binning_y=2, roi=RegionOfInterest(10, 4, 40, 30))
    P = projection_of(binned)
    np.testing.assert_allclose(P[0, :3], [50.0, 0.0, (31.5 - 10) / 2])
    np.testing.assert_allclose(P[1, :3], [0.0, 50.0, (23.5 - 4) / 2])


def test_depth_from_disparity_is_f_b_over_d_with_nan_for_no_disparity() -> None:
    d = np.array([[12.0, 0.0, -1.0, NAN]], dtype=np.float32)
    depth = depth_from_disparity(d, 100.0, 0.12)
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth[0, 0], 1.0)
    assert np.isnan(depth[0, 1:]).all()
