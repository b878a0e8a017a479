"""Disparity and depth metrics: a hand-checked example, file formats, Middlebury data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.errors import EvalError
from percept.eval.disparity import (
    DepthBand,
    DisparityMetrics,
    depth_error_by_band,
    depth_from_disparity,
    disparity_error_map,
    disparity_metrics,
    read_disparity,
    read_pfm,
    rectify_depth,
    write_disparity_png,
    write_pfm,
)
from percept.geometry.camera import CameraModel

from .generators import plane_depth

# scene folder -> (left, right, left GT, PNG scale, mask) as PROVENANCE.md gives them
MIDDLEBURY = {
    "teddy_2003": ("im2.png", "im6.png", "disp2.png", 4.0, None),
    "baby1_2006": ("view1.png", "view5.png", "disp1.png", 3.0, None),
    "flowerpots_2006": ("view1.png", "view5.png", "disp1.png", 3.0, None),
    "wood2_2006": ("view1.png", "view5.png", "disp1.png", 3.0, None),
    "cones_2003_int": ("cones_left.png", "cones_right.png", "cones_gt.png", 1.0, "cones_mask.png"),
    "adirondack_2014_quarter": (
        "Adirondack_left.png",
        "Adirondack_right.png",
        "Adirondack_gt.png",
        1.0,
        "Adirondack_mask.png",
    ),
}


def test_hand_checked_three_by_three() -> None:
    inf = np.inf
    gt = np.array([[10.0, 20.0, 30.0], [inf, 5.0, 5.0], [7.0, 7.0, inf]])
    est = np.array([[10.4, 21.5, 33.0], [0.0, inf, 5.0], [np.nan, 2.0, 9.0]])
    # scored: 7 pixels (two unknown GT); no estimate at (1,1) and (2,0): 2 invalid
    # errors on the 5 valid: 0.4, 1.5, 3.0, 0.0, 5.0
    m = disparity_metrics(est, gt)
    assert (m.scored_px, m.invalid_px) == (7, 2)
    assert m.density_pct == pytest.approx(100 * 5 / 7)
    assert m.epe_px == pytest.approx((0.4 + 1.5 + 3.0 + 0.0 + 5.0) / 5)
    assert m.rms_px == pytest.approx(np.sqrt((0.16 + 2.25 + 9.0 + 0.0 + 25.0) / 5))
    # bad means error > threshold, strictly
    assert m.bad_valid_pct[0.5] == pytest.approx(100 * 3 / 5)
    assert m.bad_valid_pct[1.0] == pytest.approx(100 * 3 / 5)
    assert m.bad_valid_pct[2.0] == pytest.approx(100 * 2 / 5)
    assert m.bad_valid_pct[4.0] == pytest.approx(100 * 1 / 5)
    assert m.bad_total_pct[4.0] == pytest.approx(100 * 3 / 7)
    errors = disparity_error_map(est, gt)
    assert np.isnan(errors[1, 0])
    assert np.isnan(errors[1, 1])
    assert errors[0, 2] == pytest.approx(3.0)
    # a mask leaves out pixels; evaldisp's maxdisp clips the estimate first
    mask = np.ones_like(gt, dtype=bool)
    mask[2, :] = False
    assert disparity_metrics(est, gt, mask=mask).scored_px == 5
    clipped = disparity_metrics(est, gt, max_disparity_px=31.0)
    assert clipped.epe_px == pytest.approx((0.4 + 1.5 + 1.0 + 0.0 + 5.0) / 5)
    # pooling frames equals scoring them side by side
    pooled = DisparityMetrics.pool([m, disparity_metrics(est[::-1], gt[::-1])])
    side = disparity_metrics(np.vstack([est, est[::-1]]), np.vstack([gt, gt[::-1]]))
    assert pooled.as_dict() == pytest.approx(side.as_dict())


def test_metrics_raise_on_mismatched_or_unknown_input() -> None:
    with pytest.raises(EvalError, match="one size"):
        disparity_metrics(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(EvalError, match="no pixel to score"):
        disparity_metrics(np.zeros((2, 2)), np.full((2, 2), np.inf))


def test_pfm_round_trip_keeps_inf_and_orientation(tmp_path: Path) -> None:
    disp = np.arange(12, dtype=np.float32).reshape(3, 4)
    disp[0, 0] = np.inf
    back = read_pfm(write_pfm(tmp_path / "d.pfm", disp))
    np.testing.assert_array_equal(back, disp)
    colour = np.random.default_rng(0).random((2, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(read_pfm(write_pfm(tmp_path / "c.pfm", colour)), colour)


def test_pfm_reader_handles_big_endian_bottom_up_files(tmp_path: Path) -> None:
    rows = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)  # top row first
    path = tmp_path / "be.pfm"
    path.write_bytes(b"Pf\n2 2\n1.0\n" + np.flipud(rows).astype(">f4").tobytes())
    np.testing.assert_array_equal(read_pfm(path), rows)
    path.write_bytes(b"P5\n2 2\n255\n" + bytes(4))
    with pytest.raises(EvalError, match="not a PFM"):
        read_pfm(path)
    path.write_bytes(b"Pf\n2 2\n-1.0\n" + bytes(8))
    with pytest.raises(EvalError, match="truncated"):
        read_pfm(path)


def test_png_with_scale_round_trips_and_zero_is_unknown(tmp_path: Path) -> None:
    disp = np.array([[0.0, 1.5], [100.25, np.inf]], dtype=np.float32)
    path = write_disparity_png(tmp_path / "d.png", disp, scale=256.0)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    back = read_disparity(path, scale=256.0)
    np.testing.assert_array_equal(back, [[np.inf, 1.5], [100.25, np.inf]])
    with pytest.raises(EvalError, match="16 bits"):
        write_disparity_png(tmp_path / "big.png", np.array([[300.0]]), scale=256.0)
    with pytest.raises(EvalError, match="scale must be > 0"):
        read_disparity(path, scale=0.0)


def test_depth_bands_hand_checked() -> None:
    gt = np.array([[1.0, 1.5, 3.0, 4.0, 8.0, 12.0, np.nan]])
    est = np.array([[1.1, np.inf, 3.3, 3.6, 8.0, 12.0, 5.0]])
    near, mid, far = depth_error_by_band(est, gt)
    assert (near.pixels, near.density_pct) == (2, 50.0)
    assert near.abs_rel_mean == pytest.approx(0.1)
    assert mid.pixels == 2
    assert mid.abs_rel_mean == pytest.approx(0.1)
    assert mid.abs_err_mean_m == pytest.approx(0.35)
    assert mid.rmse_m == pytest.approx(np.sqrt((0.09 + 0.16) / 2))
    assert (far.pixels, far.abs_rel_mean, far.name) == (1, 0.0, "5-10m")
    (empty,) = depth_error_by_band(est, gt, [(20.0, 30.0)])
    assert empty.pixels == 0
    assert np.isnan(empty.abs_rel_mean)
    # pooling two frames is the same as scoring them side by side
    pooled = [
        DepthBand.pool([a, b])
        for a, b in zip(
            depth_error_by_band(est, gt),
            depth_error_by_band(est[:, ::-1], gt[:, ::-1]),
            strict=True,
        )
    ]
    side = depth_error_by_band(np.hstack([est, est]), np.hstack([gt, gt]))
    for a, b in zip(pooled, side, strict=True):
        assert a.as_dict() == pytest.approx(b.as_dict(), nan_ok=True)
    np.testing.assert_allclose(depth_from_disparity(np.array([[50.0]]), 500.0, 0.1), [[1.0]])


def _middlebury(data_dir: Path, scene: str) -> tuple[Path, tuple]:
    folder = data_dir / "middlebury_stereo" / scene
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder, MIDDLEBURY[scene]


@pytest.mark.parametrize("scene", sorted(MIDDLEBURY))
def test_middlebury_ground_truth_against_itself_and_shifted(data_dir: Path, scene: str) -> None:
    folder, (_, _, gt_name, scale, mask_name) = _middlebury(data_dir, scene)
    gt = read_disparity(folder / gt_name, scale)
    raw = cv2.imread(str(folder / gt_name), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(np.isinf(gt), raw == 0)  # 0 = unknown in these PNGs
    mask = None
    if mask_name is not None:
        mask = cv2.imread(str(folder / mask_name), cv2.IMREAD_GRAYSCALE) == 255
    same = disparity_metrics(gt, gt, mask=mask)
    assert same.epe_px == 0.0
    assert same.density_pct == 100.0
    assert all(v == 0.0 for v in same.bad_total_pct.values())
    known = np.isfinite(gt) & (mask if mask is not None else True)
    assert same.scored_px == int(np.count_nonzero(known))
    shifted = disparity_metrics(gt + 1.5, gt, mask=mask)
    assert shifted.epe_px == pytest.approx(1.5, abs=1e-5)
    assert shifted.bad_total_pct[1.0] == 100.0
    assert shifted.bad_total_pct[2.0] == 0.0
    # holes in the estimate: every 10th scored pixel has none
    holes = gt.copy()
    idx = np.flatnonzero(known)[::10]
    holes.flat[idx] = np.inf
    m = disparity_metrics(holes, gt, mask=mask)
    assert m.invalid_px == idx.size
    assert m.bad_total_pct[0.5] == pytest.approx(100.0 * idx.size / same.scored_px)
    assert m.bad_valid_pct[0.5] == 0.0


@pytest.mark.parametrize("scene", ["teddy_2003", "cones_2003_int"])
def test_sgbm_on_middlebury_scores_like_a_real_matcher(data_dir: Path, scene: str) -> None:
    folder, (left, right, gt_name, scale, _) = _middlebury(data_dir, scene)
    L = cv2.imread(str(folder / left), cv2.IMREAD_GRAYSCALE)
    R = cv2.imread(str(folder / right), cv2.IMREAD_GRAYSCALE)
    sgbm = cv2.StereoSGBM_create(
        0, 64, 5, P1=200, P2=800, uniquenessRatio=10, speckleWindowSize=100, speckleRange=2
    )
    disp = sgbm.compute(L, R).astype(np.float32) / 16.0
    disp[disp <= 0] = np.inf
    m = disparity_metrics(disp, read_disparity(folder / gt_name, scale))
    # SGBM leaves holes (occlusions, speckles) and is mostly right where it answers
    assert 60.0 < m.density_pct < 95.0
    assert m.bad_valid_pct[2.0] < 15.0
    assert m.bad_total_pct[2.0] > m.bad_valid_pct[2.0]
    assert 0.2 < m.epe_px < 2.0


def test_aloe_ground_truth_reads_at_scale_one(data_dir: Path) -> None:
    path = data_dir / "opencv_aloe_stereo" / "aloeGT.png"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    gt = read_disparity(path)
    assert gt.shape == (1110, 1282)
    assert np.isinf(gt).mean() == pytest.approx(0.035, abs=0.01)  # PROVENANCE: 3.5 % unknown
    assert gt[np.isfinite(gt)].max() == 211.0
    assert disparity_metrics(gt, gt).epe_px == 0.0


@pytest.mark.parametrize("model_name", ["plumb_bob", "equidistant"])
def test_rectify_depth_matches_the_geometry_of_a_plane(model_name: str) -> None:
    w, h = 160, 120
    K = np.array([[150.0, 0, 80.0], [0, 150.0, 60.0], [0, 0, 1]])
    D = (
        np.array([-0.2, 0.05, 0.001, -0.001, 0.0])
        if model_name == "plumb_bob"
        else np.array([0.05, -0.01, 0.002, 0.0])
    )
    R = Rotation.from_euler("xyz", [0.3, -0.4, 0.2], degrees=True).as_matrix()
    P = np.hstack([np.array([[140.0, 0, 82.0], [0, 140.0, 58.0], [0, 0, 1]]), np.zeros((3, 1))])
    model = CameraModel(w, h, model_name, K, D, R, P)
    normal, offset = np.array([0.1, -0.3, 1.0]), 2.5  # a tilted plane about 2.5 m away
    v, u = np.mgrid[0:h, 0:w]
    pix = np.stack([u, v], -1).reshape(-1, 1, 2).astype(np.float64)
    if model_name == "equidistant":
        norm = cv2.fisheye.undistortPoints(pix, K, D[:4]).reshape(-1, 2)
    else:
        norm = cv2.undistortPoints(pix, K, D).reshape(-1, 2)
    raw_rays = np.hstack([norm, np.ones((norm.shape[0], 1))])
    raw = plane_depth(raw_rays, normal, offset).reshape(h, w)
    rect_rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(P[:, :3]).T
    # the plane in the rectified frame: n' = R n, same offset
    expected = plane_depth(rect_rays, R @ normal, offset).reshape(h, w)
    rect = rectify_depth(raw, model)
    known = np.isfinite(rect)
    assert known.mean() > 0.8  # the border the raw image does not cover is unknown
    rel = np.abs(rect[known] - expected[known]) / expected[known]
    # nearest-pixel sampling on a tilted plane: well under 1 %
    assert np.median(rel) < 0.001
    assert rel.max() < 0.005
    with pytest.raises(EvalError, match="camera_info is 160x120"):
        rectify_depth(raw[:, :100], model)
