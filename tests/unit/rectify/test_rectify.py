from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel, RegionOfInterest
from percept.geometry.pose import Pose
from percept.rectify import (
    Rectifier,
    StereoRectifier,
    check_rectifiable,
    compute_rectify_maps,
    expected_image_size,
    optimal_projection,
    rectified_model,
    rectify_image,
    stereo_extrinsics,
    stereo_rectify,
)

W, H = 320, 240
K = np.array([[260.0, 0.0, 163.5], [0.0, 262.0, 118.0], [0.0, 0.0, 1.0]])
PLUMB_BOB = np.array([-0.30, 0.09, 0.0012, -0.0008, -0.01])
RATIONAL = np.array([0.4, -0.1, 0.001, 0.0005, 0.02, 0.7, -0.05, 0.05])
EQUIDISTANT = np.array([0.04, -0.012, 0.003, -0.0005])


def camera(distortion_model: str = "plumb_bob", D: npt.ArrayLike = PLUMB_BOB) -> CameraModel:
    return CameraModel(W, H, distortion_model, K, D, np.eye(3), np.hstack([K, np.zeros((3, 1))]))


def texture(shape: tuple[int, ...] = (H, W), seed: int = 0) -> npt.NDArray[np.uint8]:
    """Smooth random texture: remap differences then come from geometry, not aliasing."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=shape, dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def test_rectify_agrees_with_cv2_undistort_for_plumb_bob() -> None:
    img = texture()
    out = rectify_image(img, compute_rectify_maps(camera()))
    ref = cv2.undistort(img, K, PLUMB_BOB)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert out.shape == img.shape
    assert out.dtype == np.uint8
    assert diff.max() <= 1
    assert diff.mean() < 0.01


def test_rectify_agrees_with_cv2_undistort_for_rational_polynomial() -> None:
    img = texture()
    out = rectify_image(img, compute_rectify_maps(camera("rational_polynomial", RATIONAL)))
    ref = cv2.undistort(img, K, RATIONAL)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_rectify_agrees_with_cv2_fisheye_for_equidistant() -> None:
    img = texture()
    maps = compute_rectify_maps(camera("equidistant", EQUIDISTANT))
    ref = cv2.fisheye.undistortImage(img, K, EQUIDISTANT, Knew=K)
    assert np.abs(rectify_image(img, maps).astype(int) - ref.astype(int)).max() <= 1
    # A rectified fisheye image is a pinhole image.
    assert maps.rectified.distortion_model == "plumb_bob"
    np.testing.assert_array_equal(maps.rectified.D, np.zeros(5))


def test_identity_model_passes_the_image_through_without_a_copy() -> None:
    img = texture()
    maps = compute_rectify_maps(camera(D=np.zeros(5)))
    assert maps.identity
    assert rectify_image(img, maps) is img


def test_equidistant_with_zero_d_is_not_an_identity() -> None:
    # theta_d = theta still bends straight lines; only a pinhole model with D = 0 is flat.
    maps = compute_rectify_maps(camera("equidistant", np.zeros(4)))
    assert not maps.identity


def test_rectified_model_has_k_from_p_zero_d_and_identity_r() -> None:
    P = np.array([[250.0, 0, 160, -25.0], [0, 250.0, 120, 0], [0, 0, 1, 0]])
    R = cv2.Rodrigues(np.array([0.01, -0.02, 0.005]))[0]
    model = replace(camera(), R=R, P=P)
    rect = rectified_model(model)
    np.testing.assert_array_equal(rect.K, P[:, :3])
    np.testing.assert_array_equal(rect.P, P)
    np.testing.assert_array_equal(rect.R, np.eye(3))
    np.testing.assert_array_equal(rect.D, np.zeros(5))
    assert rect.distortion_model == "plumb_bob"
    assert (rect.width, rect.height) == (W, H)


def test_maps_are_computed_once_and_again_only_when_the_model_changes() -> None:
    rectifier = Rectifier()
    img = texture()
    first, _ = rectifier.rectify(img, camera())
    maps = rectifier.maps(camera())
    # A new but equal camera_info (every message decodes to a new object) reuses the maps.
    for _ in range(5):
        again, _ = rectifier.rectify(img, camera())
        assert rectifier.maps(camera()) is maps
    assert rectifier.computed == 1
    np.testing.assert_array_equal(first, again)
    changed = camera(D=PLUMB_BOB * 1.01)
    rectifier.rectify(img, changed)
    assert rectifier.computed == 2
    assert rectifier.maps(changed) is not maps
    rectifier.rectify(img, camera())
    assert rectifier.computed == 3


def test_colour_rectifies_each_channel_as_mono() -> None:
    bgr = texture((H, W, 3))
    maps = compute_rectify_maps(camera())
    out = rectify_image(bgr, maps)
    assert out.shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], rectify_image(bgr[..., c].copy(), maps))


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32, np.float64])
def test_rectify_keeps_dtype_and_fills_float_borders_with_nan(dtype: type) -> None:
    img = (texture().astype(np.float64) * 10).astype(dtype)
    maps = compute_rectify_maps(camera(), P=optimal_projection(camera(), 1.0))
    out = rectify_image(img, maps)
    assert out.dtype == dtype
    # Barrel distortion: with alpha = 1 the middle of the left edge lies outside the raw image.
    corner = out[H // 2, 0]
    if np.dtype(dtype).kind == "f":
        assert np.isnan(corner)
    else:
        assert corner == 0


def test_read_only_input_is_accepted() -> None:
    img = texture()
    img.flags.writeable = False
    out = rectify_image(img, compute_rectify_maps(camera()))
    assert out.flags.writeable


def test_nearest_maps_round_to_the_nearest_source_pixel() -> None:
    img = texture()
    maps = compute_rectify_maps(camera(), interpolation=cv2.INTER_NEAREST)
    assert maps.map2 is None
    map_x, map_y = cv2.initUndistortRectifyMap(K, PLUMB_BOB, None, K, (W, H), cv2.CV_32FC1)
    ref = cv2.remap(img, map_x, map_y, cv2.INTER_NEAREST)
    assert (rectify_image(img, maps) != ref).mean() < 0.001


def test_roi_rectifies_the_same_window_as_the_full_image() -> None:
    img = texture()
    full = rectify_image(img, compute_rectify_maps(camera()))
    roi = RegionOfInterest(x_offset=40, y_offset=30, height=120, width=200)
    model = replace(camera(), roi=roi)
    assert expected_image_size(model) == (200, 120)
    window = img[30:150, 40:240]
    out = rectify_image(window, compute_rectify_maps(model))
    # Inside the window the result is exact; pixels whose source lies outside it are 0.
    inside = out > 0
    assert inside.mean() > 0.9
    np.testing.assert_array_equal(out[inside], full[30:150, 40:240][inside])


def test_binning_rectifies_like_a_camera_with_scaled_intrinsics() -> None:
    binned = replace(camera(), binning_x=2, binning_y=2)
    assert expected_image_size(binned) == (W // 2, H // 2)
    half = np.diag([0.5, 0.5, 1.0])
    scaled = CameraModel(
        W // 2, H // 2, "plumb_bob", half @ K, PLUMB_BOB, np.eye(3), half @ camera().P
    )
    img = texture((H // 2, W // 2))
    np.testing.assert_array_equal(
        rectify_image(img, compute_rectify_maps(binned)),
        rectify_image(img, compute_rectify_maps(scaled)),
    )


@pytest.mark.parametrize(
    ("distortion_model", "D"),
    [("plumb_bob", PLUMB_BOB), ("plumb_bob", -PLUMB_BOB), ("equidistant", EQUIDISTANT)],
)
def test_alpha_zero_keeps_only_valid_pixels_and_alpha_one_every_source_pixel(
    distortion_model: str, D: npt.NDArray[np.float64]
) -> None:
    model = camera(distortion_model, D)
    white = np.full((H, W), 255, np.uint8)
    valid = rectify_image(white, compute_rectify_maps(model, P=optimal_projection(model, 0.0)))
    # Fixed-point bilinear sampling can reach 1/32 px past the last row or column.
    assert valid[1:-1, 1:-1].min() >= 240
    P1 = optimal_projection(model, 1.0)
    everything = rectify_image(white, compute_rectify_maps(model, P=P1))
    assert (everything == 0).any()
    # Every raw border pixel lands inside the alpha = 1 image.
    u = np.arange(W, dtype=np.float64)
    v = np.arange(H, dtype=np.float64)
    border = np.concatenate(
        [
            np.stack([u, np.zeros(W)], 1),
            np.stack([u, np.full(W, H - 1.0)], 1),
            np.stack([np.zeros(H), v], 1),
            np.stack([np.full(H, W - 1.0), v], 1),
        ]
    ).reshape(-1, 1, 2)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
    if distortion_model == "equidistant":
        pts = cv2.fisheye.undistortPoints(border, K, D, P=P1[:, :3], criteria=crit)
    elif hasattr(cv2, "undistortPointsIter"):  # OpenCV <= 4.11: criteria only here
        pts = cv2.undistortPointsIter(border, K, D, np.eye(3), P1[:, :3], crit)
    else:
        pts = cv2.undistortPoints(border, K, D, P=P1[:, :3], criteria=crit)
    pts = pts.reshape(-1, 2)
    assert pts[:, 0].min() >= -0.01
    assert pts[:, 1].min() >= -0.01
    assert pts[:, 0].max() <= W - 1 + 0.01
    assert pts[:, 1].max() <= H - 1 + 0.01


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_optimal_projection_matches_cv2_for_plumb_bob_within_half_a_pixel(alpha: float) -> None:
    ours = optimal_projection(camera(), alpha)
    ref, _ = cv2.getOptimalNewCameraMatrix(K, PLUMB_BOB, (W, H), alpha)
    np.testing.assert_allclose(ours[:, :3], ref, atol=0.5)
    np.testing.assert_array_equal(ours[:, 3], np.zeros(3))


def test_valid_roi_holds_only_pixels_from_inside_the_raw_image() -> None:
    model = camera()
    maps = compute_rectify_maps(model, P=optimal_projection(model, 1.0))
    x, y, w, h = maps.valid_roi
    assert w > W // 2
    assert h > H // 2
    out = rectify_image(np.full((H, W), 255, np.uint8), maps)
    assert out[y : y + h, x : x + w].min() >= 240
    # The rectangle is tight: one pixel outside it on each side, some pixel is invalid.
    assert out[y - 1 : y + h + 1, x - 1 : x + w + 1].min() < 240


BAD_MODELS = [
    ("K is not a calibration", {"K": np.zeros((3, 3))}),
    (r"K has NaN", {"K": np.full((3, 3), np.nan)}),
    (r"D is empty \(missing distortion\); plumb_bob needs 5", {"D": np.zeros(0)}),
    (r"D has 3 coefficients; plumb_bob needs 5", {"D": np.zeros(3)}),
    (r"distortion_model 'kannala' is not supported", {"distortion_model": "kannala"}),
    (r"distortion_model is empty", {"distortion_model": ""}),
    (r"P is not a projection", {"P": np.zeros((3, 4))}),
    (r"width x height must be positive", {"width": 0}),
    (r"roi 300x100\+40\+0 lies outside", {"roi": RegionOfInterest(40, 0, 100, 300)}),
]


@pytest.mark.parametrize(("match", "changes"), BAD_MODELS)
def test_check_rectifiable_raises_on_unusable_camera_info(
    match: str, changes: dict[str, object]
) -> None:
    model = replace(camera(), **changes)  # type: ignore[arg-type]
    with pytest.raises(CalibrationError, match=match):
        check_rectifiable(model)
    with pytest.raises(CalibrationError, match=match):
        Rectifier().maps(model)


def test_rectify_image_raises_on_size_mismatch_and_unsupported_dtype() -> None:
    maps = compute_rectify_maps(camera())
    with pytest.raises(ValueError, match=r"image is 10x20 but the camera model gives 320x240"):
        rectify_image(np.zeros((20, 10), np.uint8), maps)
    with pytest.raises(ValueError, match="cannot rectify int32"):
        rectify_image(np.zeros((H, W), np.int32), maps)


def stereo_pair(
    distortion_model: str, D_left: npt.ArrayLike, D_right: npt.ArrayLike
) -> tuple[CameraModel, CameraModel, Pose]:
    K_right = K + np.array([[3.0, 0, -2.0], [0, 2.0, 1.5], [0, 0, 0]])
    left = CameraModel(W, H, distortion_model, K, D_left)
    right = CameraModel(W, H, distortion_model, K_right, D_right)
    R = cv2.Rodrigues(np.array([0.01, -0.03, 0.02]))[0]
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = [-0.12, 0.003, 0.002]
    return left, right, Pose.from_matrix(T)


@pytest.mark.parametrize(
    ("distortion_model", "D_left", "D_right"),
    [
        ("plumb_bob", PLUMB_BOB, PLUMB_BOB * 0.8),
        ("equidistant", EQUIDISTANT, EQUIDISTANT * 1.1),
    ],
)
def test_stereo_rectify_fills_r_and_p_and_round_trips_the_extrinsics(
    distortion_model: str, D_left: npt.NDArray[np.float64], D_right: npt.NDArray[np.float64]
) -> None:
    left, right, T_right_left = stereo_pair(distortion_model, D_left, D_right)
    rect_left, rect_right = stereo_rectify(left, right, T_right_left, alpha=0.0)
    np.testing.assert_array_equal(rect_left.K, left.K)
    np.testing.assert_array_equal(rect_right.D, right.D)
    baseline = float(np.linalg.norm(T_right_left.translation_m))
    assert rect_right.baseline_m == pytest.approx(baseline, rel=1e-9)
    assert rect_left.baseline_m == 0.0
    # Rows align: the same fy and cy in both rectified cameras.
    assert rect_left.P[1, 1] == pytest.approx(rect_right.P[1, 1])
    assert rect_left.P[1, 2] == pytest.approx(rect_right.P[1, 2])
    recovered = stereo_extrinsics(rect_left, rect_right)
    assert recovered.allclose(T_right_left, atol=1e-9)


def test_stereo_rectifier_uses_camera_info_r_and_p_and_caches_the_pair() -> None:
    left, right, T_right_left = stereo_pair("plumb_bob", PLUMB_BOB, PLUMB_BOB)
    rect_left, rect_right = stereo_rectify(left, right, T_right_left)
    rectifier = StereoRectifier()
    img = texture()
    out = rectifier.rectify(img, img, rect_left, rect_right)
    rectifier.rectify(img, img, replace(rect_left), replace(rect_right))
    assert rectifier.computed == 1
    np.testing.assert_array_equal(out[2].P, rect_left.P)
    np.testing.assert_array_equal(out[3].P, rect_right.P)
    np.testing.assert_array_equal(out[3].K, rect_right.P[:, :3])
    # The same pair from intrinsics + extrinsics gives the same images.
    direct = StereoRectifier().rectify(img, img, left, right, T_right_left)
    np.testing.assert_array_equal(direct[0], out[0])
    np.testing.assert_array_equal(direct[1], out[1])
    rectifier.rectify(img, img, rect_left, replace(rect_right, D=PLUMB_BOB * 0.5))
    assert rectifier.computed == 2


def test_stereo_rectifier_with_alpha_recomputes_p_from_the_same_extrinsics() -> None:
    left, right, T_right_left = stereo_pair("plumb_bob", PLUMB_BOB, PLUMB_BOB)
    rect_left, rect_right = stereo_rectify(left, right, T_right_left, alpha=0.0)
    maps = StereoRectifier(alpha=1.0).maps(rect_left, rect_right)
    wide_left, wide_right = stereo_rectify(left, right, T_right_left, alpha=1.0)
    np.testing.assert_allclose(maps[0].rectified.P, wide_left.P, atol=1e-6)
    np.testing.assert_allclose(maps[1].rectified.P, wide_right.P, atol=1e-6)
    assert maps[0].rectified.P[0, 0] < rect_left.P[0, 0]


def test_stereo_rectifier_raises_on_a_pair_without_stereo_rectification() -> None:
    with pytest.raises(CalibrationError, match=r"right camera_info P has no baseline"):
        StereoRectifier().maps(camera(), camera())
    with pytest.raises(CalibrationError, match=r"left camera_info: D is empty"):
        StereoRectifier().maps(camera(D=np.zeros(0)), camera())


def test_stereo_rectify_raises_on_mixed_models_and_zero_baseline() -> None:
    left, right, T_right_left = stereo_pair("plumb_bob", PLUMB_BOB, PLUMB_BOB)
    fisheye = camera("equidistant", EQUIDISTANT)
    with pytest.raises(CalibrationError, match="both equidistant or both pinhole"):
        stereo_rectify(left, fisheye, T_right_left)
    with pytest.raises(CalibrationError, match="zero translation"):
        stereo_rectify(left, right, Pose.identity())
    with pytest.raises(CalibrationError, match=r"right camera: K is not a calibration"):
        stereo_rectify(left, replace(right, K=np.zeros((3, 3))), T_right_left)


def test_rectify_benchmark_cli_reports_node_and_bare_remap_per_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from percept.cli.main import main

    out = tmp_path / "bench.json"
    assert main(["bench", "rectify", "--repeats", "2", "--threads", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    for encoding in ("mono8", "bgr8"):
        prefix = f"rectify_{encoding}_1280x720"
        assert results[f"{prefix}.node_ms"] > 0
        assert results[f"{prefix}.bare_remap_ms"] > 0
        assert results[f"{prefix}.node_vs_remap"] > 0
        assert results[f"{prefix}.maps_computed"] == 1
    report = capsys.readouterr().out
    assert "rectify_mono8_1280x720" in report
    assert "rectify_bgr8_1280x720" in report
    assert results["opencv_threads"] == 1
