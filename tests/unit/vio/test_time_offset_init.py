"""The time-offset guess of the moving start: known shifts, weak motion, the estimator."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from percept.domain import ImuSample
from percept.features.klt import FeatureFrame
from percept.synth.features import FeatureSimConfig, simulate_features
from percept.vio.estimator import EstimatorConfig, VioEstimator
from percept.vio.time_offset_init import (
    TimeOffsetEstimate,
    TimeOffsetInitConfig,
    estimate_time_offset,
)
from percept.vio.vo import VoStep

FloatArray = npt.NDArray[np.float64]
R_IMU_CAM = Rotation.from_euler("xyz", [-90.0, 0.0, -90.0], degrees=True).as_matrix()
BIAS = np.array([0.004, -0.003, 0.002])


def _rate(t_s: FloatArray, scale: float) -> FloatArray:
    """(N, 3) true angular rate, IMU frame: sinusoids of 0.3-1.1 Hz, rad/s."""
    return scale * np.stack(
        [
            np.sin(2 * np.pi * 0.7 * t_s),
            0.8 * np.sin(2 * np.pi * 1.1 * t_s + 1.0),
            0.6 * np.sin(2 * np.pi * 0.3 * t_s + 2.0),
        ],
        axis=1,
    )


def _scenario(
    td_s: float,
    scale: float = 1.0,
    frame_hz: float = 10.0,
    seconds: float = 2.0,
    pixel_rad: float = 0.0,
    seed: int = 0,
) -> tuple[list[VoStep], npt.NDArray[np.int64], FloatArray]:
    """Camera steps (camera clock) and gyro readings (IMU clock ``t_cam + td``)."""
    rng = np.random.default_rng(seed)
    fine_s = np.arange(0.0, seconds + 0.2, 1e-4)  # true time, 10 kHz
    w = _rate(fine_s, scale)
    steps = Rotation.from_rotvec(0.5 * (w[:-1] + w[1:]) * 1e-4).as_matrix()
    R = np.empty((fine_s.shape[0], 3, 3))
    R[0] = np.eye(3)
    for i, step in enumerate(steps):
        R[i + 1] = R[i] @ step
    frames_s = np.arange(0.1, seconds + 0.1, 1.0 / frame_hz)
    R_cam = R[np.round(frames_s / 1e-4).astype(int)] @ R_IMU_CAM
    vo: list[VoStep] = []
    for k, t in enumerate(frames_s):
        motion = np.eye(4)
        if k:
            rel = R_cam[k - 1].T @ R_cam[k]
            motion[:3, :3] = rel @ Rotation.from_rotvec(rng.normal(0, pixel_rad, 3)).as_matrix()
        vo.append(VoStep(round(t * 1e9), np.eye(4), motion, 50, True))
    imu_true_s = np.arange(0.0, seconds + 0.2, 1.0 / 200.0)
    gyro = _rate(imu_true_s, scale) + BIAS
    imu_stamps = np.round((imu_true_s + td_s) * 1e9).astype(np.int64)
    return vo, imu_stamps, gyro


@pytest.mark.parametrize("td_s", [0.005, -0.012, 0.0, 0.0213])
def test_a_known_shift_is_recovered_within_half_a_millisecond(td_s: float) -> None:
    steps, t, g = _scenario(td_s)
    est = estimate_time_offset(steps, t, g, R_IMU_CAM)
    assert est.offset_s is not None, est.reason
    assert abs(est.offset_s - td_s) < 5e-4, (est.offset_s, td_s)
    assert est.reason == ""
    assert est.intervals == 19
    assert est.sigma_s < 5e-4
    assert est.candidates_s.shape == est.cost.shape == (101,)


def test_rotation_noise_of_a_milliradian_still_gives_the_shift() -> None:
    steps, t, g = _scenario(0.005, pixel_rad=1e-3, seconds=3.0, seed=1)
    est = estimate_time_offset(steps, t, g, R_IMU_CAM)
    assert est.offset_s is not None, est.reason
    assert abs(est.offset_s - 0.005) < 5e-4, est.offset_s
    assert 1e-5 < est.sigma_s < 5e-4


def test_weak_motion_falls_back_with_the_reason() -> None:
    steps, t, g = _scenario(0.005, scale=0.05)
    est = estimate_time_offset(steps, t, g, R_IMU_CAM)
    assert est.offset_s is None
    assert "rotation too slow" in est.reason
    assert est.rate_rms_rad_s < 0.2


def test_noise_that_hides_the_shift_falls_back_on_sigma() -> None:
    steps, t, g = _scenario(0.005, scale=0.3, pixel_rad=5e-3, seed=2)
    est = estimate_time_offset(steps, t, g, R_IMU_CAM, TimeOffsetInitConfig(min_rate_rad_s=0.0))
    assert est.offset_s is None
    assert "motion too weak: sigma" in est.reason
    assert est.sigma_s > 2e-3


def test_too_few_frames_or_readings_fall_back() -> None:
    steps, t, g = _scenario(0.005, seconds=0.5)
    assert "valid frame intervals" in str(estimate_time_offset(steps, t, g, R_IMU_CAM).reason)
    full, t, g = _scenario(0.005)
    failed = [
        VoStep(s.stamp_ns, s.T_world_cam, s.T_prev_cur, 0, i % 2 == 0) for i, s in enumerate(full)
    ]
    assert estimate_time_offset(failed, t, g, R_IMU_CAM).offset_s is not None
    failed = [
        VoStep(s.stamp_ns, s.T_world_cam, s.T_prev_cur, 0, i % 4 == 0) for i, s in enumerate(full)
    ]
    assert estimate_time_offset(failed, t, g, R_IMU_CAM).offset_s is None
    assert "IMU readings" in estimate_time_offset(full, t[:1], g[:1], R_IMU_CAM).reason
    assert estimate_time_offset([], t, g, R_IMU_CAM).reason == "no stereo odometry"


def test_a_shift_beyond_the_search_is_refused_at_the_edge() -> None:
    steps, t, g = _scenario(0.08)
    est = estimate_time_offset(steps, t, g, R_IMU_CAM, TimeOffsetInitConfig(max_offset_s=0.03))
    assert est.offset_s is None
    assert "search edge" in est.reason


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="step_s"):
        TimeOffsetInitConfig(step_s=0.1, max_offset_s=0.05)
    with pytest.raises(ValueError, match="min_frames"):
        TimeOffsetInitConfig(min_frames=2)


def _start(td_s: float, config: EstimatorConfig) -> VioEstimator:
    """An estimator fed a fast-turning handheld simulation until it starts."""
    sim = simulate_features(
        FeatureSimConfig(motion="handheld", seconds=1.5, seed=7, timeshift_cam_imu_s=td_s)
    )
    est = VioEstimator(sim.camera, sim.T_imu_cam, config)
    pending: list[FeatureFrame] = []
    for kind, obj in sim.stream():
        if kind == "imu":
            assert isinstance(obj, ImuSample)
            est.feed_imu(obj)
        else:
            assert isinstance(obj, FeatureFrame)
            pending.append(obj)
        while pending and est.imu_covers(pending[0].stamp_ns):
            est.feed_features(pending.pop(0))
        if est.state is not None:
            break
    return est


def test_the_estimator_logs_why_it_starts_without_a_guess(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="percept.vio.estimator"):
        est = _start(0.005, EstimatorConfig())
    assert est.state is not None
    guess = est.time_offset_guess
    assert guess is not None
    # The moving start comes after a few frames of a slow turn: no guess, and the log
    # says why.
    assert guess.offset_s is None
    assert guess.reason
    assert guess.reason in caplog.text
    assert est.state.time_offset_s == 0.0


def test_the_guess_is_off_with_its_switch_or_without_td_estimation() -> None:
    off = EstimatorConfig(time_offset_init=TimeOffsetInitConfig(enabled=False))
    est = _start(0.005, off)
    assert est.state is not None
    assert est.time_offset_guess is None
    assert est.state.time_offset_s == 0.0
    est = _start(0.005, EstimatorConfig(estimate_time_offset=False))
    assert est.time_offset_guess is None


def test_an_accepted_guess_is_the_filter_s_first_td(monkeypatch: pytest.MonkeyPatch) -> None:
    import percept.vio.estimator as estimator_module

    def guess(*_: object, **__: object) -> TimeOffsetEstimate:
        empty = np.zeros(0)
        return TimeOffsetEstimate(0.004, 3e-4, "", 9, 0.5, empty, empty)

    monkeypatch.setattr(estimator_module, "estimate_time_offset", guess)
    est = _start(0.004, EstimatorConfig())
    assert est.state is not None
    assert est.time_offset_guess is not None
    assert est.state.time_offset_s == pytest.approx(0.004, abs=1e-9)
    # The first clone is at the frame's stamp + the guess (IMU clock).
    assert est.state.stamp_ns == est.state.clones[-1].stamp_ns + 4_000_000
