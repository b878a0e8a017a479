"""Mono and stereo calibration on rendered boards with known cameras (issue 6, item 2)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from percept.calib.board import Detection
from percept.calib.solve import CalibrationConfig, calibrate_mono, calibrate_stereo
from percept.errors import CalibrationError

from .calib_views import BOARD, CAMERAS, T_right_left, render_views, rendered

log = logging.getLogger(__name__)


@pytest.mark.parametrize("model", ["plumb_bob", "equidistant"])
def test_mono_recovers_known_intrinsics(model: str) -> None:
    views = rendered(model)
    truth = CAMERAS[model].K
    result = calibrate_mono(views.detections(), BOARD, CalibrationConfig(model=model))  # type: ignore[arg-type]
    K = result.camera.K
    fx_err = K[0, 0] / truth[0, 0] - 1
    fy_err = K[1, 1] / truth[1, 1] - 1
    c_err = K[:2, 2] - truth[:2, 2]
    log.info(
        "%s mono: %d views, RMS %.3f px, fx %+.3f%%, fy %+.3f%%, cx %+.2f px, cy %+.2f px",
        model,
        len(result.used),
        result.rms_px,
        fx_err * 100,
        fy_err * 100,
        *c_err,
    )
    assert abs(fx_err) < 0.005
    assert abs(fy_err) < 0.005
    assert np.abs(c_err).max() < 1.0
    assert result.camera.distortion_model == model
    assert result.camera.D.shape == ((4,) if model == "equidistant" else (5,))
    assert result.rms_px < 0.2
    # Standard deviations are reported for every intrinsic; the truth lies within a few.
    estimates = {"fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2]}
    truths = {"fx": truth[0, 0], "fy": truth[1, 1], "cx": truth[0, 2], "cy": truth[1, 2]}
    for name, estimate in estimates.items():
        assert 0 < result.std[name] < 2.0
        assert abs(estimate - truths[name]) < 5 * result.std[name] + 0.3
    assert result.coverage.n_views == len(result.used)
    assert not result.camera.validate()


@pytest.mark.parametrize("model", ["plumb_bob", "equidistant"])
def test_stereo_recovers_baseline_within_0p5_percent(model: str) -> None:
    views = rendered(model)
    result = calibrate_stereo(views.pairs(), BOARD, CalibrationConfig(model=model))  # type: ignore[arg-type]
    true_baseline = float(np.linalg.norm(T_right_left()[:3, 3]))
    baseline_err = result.baseline_m / true_baseline - 1
    true_angle = np.degrees(np.linalg.norm([0.01, -0.02, 0.005]))
    log.info(
        "%s stereo: %d pairs, RMS %.3f px, baseline %.5f m (%+.3f%%), rotation %.3f deg "
        "(true %.3f), rectified epipolar RMS %.3f px",
        model,
        len(result.used),
        result.rms_px,
        result.baseline_m,
        baseline_err * 100,
        result.rotation_deg,
        true_angle,
        result.epipolar_rms_px,
    )
    assert abs(baseline_err) < 0.005
    # cv2.fisheye.stereoCalibrate (intrinsics fixed) is a little less exact than the
    # pinhole solver: about 0.09 deg off here, 0.01 deg for plumb_bob.
    assert abs(result.rotation_deg - true_angle) < 0.15
    assert result.epipolar_rms_px < 0.2
    np.testing.assert_allclose(result.T_right_left.as_matrix(), T_right_left(), atol=2e-3)
    # The right camera's P carries the baseline the way stereo_image_proc reads it.
    assert result.right.baseline_m == pytest.approx(result.baseline_m, rel=1e-6)
    assert result.left.baseline_m == 0.0
    for cam, true_cam in ((result.left, CAMERAS[model]), (result.right, CAMERAS[model])):
        assert abs(cam.K[0, 0] / true_cam.K[0, 0] - 1) < 0.005
        assert np.abs(cam.K[:2, 2] - true_cam.K[:2, 2]).max() < 1.0


def test_rational_polynomial_fits_eight_coefficients() -> None:
    views = render_views(CAMERAS["rational_polynomial"], 14, 5, stereo=False)
    result = calibrate_mono(
        views.detections(), BOARD, CalibrationConfig(model="rational_polynomial")
    )
    assert result.camera.D.shape == (8,)
    assert result.rms_px < 0.2
    truth = CAMERAS["rational_polynomial"].K
    assert abs(result.camera.K[0, 0] / truth[0, 0] - 1) < 0.01
    assert {"k4", "k5", "k6"} <= set(result.std)


def _corrupted(det: Detection, shift_px: float) -> Detection:
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, shift_px, det.corners_uv.shape).astype(np.float32)
    return Detection(det.corners_uv + noise, det.ids, det.image_size, "bad view")


def test_outlier_view_is_dropped_by_its_reprojection_error() -> None:
    dets = rendered("plumb_bob").detections()
    bad = _corrupted(dets[3], 2.0)
    views = [*dets[:3], bad, *dets[4:]]
    result = calibrate_mono(views, BOARD)
    assert [i for i, _ in result.rejected] == [3]
    assert result.rejected[0][1] > 1.0
    assert 3 not in result.used
    assert result.rms_px < 0.2


def test_too_few_views_raise_calibration_error() -> None:
    dets = rendered("plumb_bob").detections()[:3]
    with pytest.raises(CalibrationError, match=r"too few views: 3 .* at least 6"):
        calibrate_mono(dets, BOARD, what="cam0")


def test_fronto_parallel_views_are_degenerate_coverage() -> None:
    views = render_views(CAMERAS["plumb_bob"], 8, 3, stereo=False, max_tilt_deg=0.0)
    dets = views.detections()
    assert len(dets) >= 6
    with pytest.raises(CalibrationError, match="degenerate coverage"):
        calibrate_mono(dets, BOARD, what="cam0")


def test_images_of_different_sizes_raise() -> None:
    dets = rendered("plumb_bob").detections()
    odd = Detection(dets[0].corners_uv, dets[0].ids, (800, 600), "big.png")
    with pytest.raises(CalibrationError, match=r"big\.png 800x600"):
        calibrate_mono([*dets[1:], odd], BOARD)


def test_stereo_needs_enough_pairs() -> None:
    pairs = rendered("plumb_bob").pairs()[:2]
    with pytest.raises(CalibrationError, match="too few views: 2 pairs"):
        calibrate_stereo(pairs, BOARD)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="min_views"):
        CalibrationConfig(min_views=1)
    with pytest.raises(CalibrationError, match="camera model"):
        CalibrationConfig(model="kannala")  # type: ignore[arg-type]
