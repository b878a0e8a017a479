"""The stereo visual-inertial estimator: IMU and stereo frames in, the state at each frame out.

As OpenVINS' ``VioManager``, from the units of this package:

- ``feed_imu`` buffers readings (:class:`~percept.vio.propagator.Propagator`);
- ``feed_stereo`` propagates to the frame (camera stamp + time offset), tracks features
  seeded with the IMU-predicted rotation (:class:`~percept.features.klt.FeatureTracker`),
  clones the pose, runs the MSCKF update with the tracks that ended and with those seen
  at the clone about to be marginalised (:func:`~percept.vio.update_msckf.msckf_update`),
  and marginalises the oldest clone beyond ``max_clones``; when the IMU says the rig is
  still, a zero-velocity update replaces cloning (OpenVINS' ``UpdaterZeroVelocity``);
- initialisation: static (:func:`~percept.vio.init_static.initialize_static`) when the
  IMU window is still, else the moving start
  (:func:`~percept.vio.init_dynamic.initialize_dynamic`) over a window of stereo odometry;
- the camera-IMU time offset ``td`` (Kalibr: ``t_imu = t_cam + td``) is a state
  variable when ``estimate_time_offset`` is on; the moving start first guesses it from
  the stereo odometry's rotations and the gyro
  (:func:`~percept.vio.time_offset_init.estimate_time_offset`), else starts it at
  ``time_offset_s``.

**Failure detection** (each counted in ``failures`` by reason): a non-finite state or a
failed update, the position standard deviation over ``max_position_sigma_m``, the
chi-square gate rejecting most tracks ``max_gated_updates`` updates in a row, or no
visual update for ``max_imu_only_s``. Each resets the filter (``resets`` + 1) and
re-initialises; the new start keeps the last good position and yaw, so the published
odometry does not jump (REP 105 asks ``odom`` to be continuous). Between
``imu_only_after_s`` and ``max_imu_only_s`` without a visual update (a camera blackout)
the estimate is IMU-only and says so in ``status``. The estimator never returns a
non-finite estimate.

filterpy is not used: its ``ExtendedKalmanFilter`` adds the correction to the state by
vector addition and keeps a fixed state size, while this filter's state lives on SO(3)
and grows and shrinks with the clones (see :mod:`percept.vio.state_ops`).
"""

from __future__ import annotations

import enum
import logging
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from percept.domain import ImuSample
from percept.features.config import FeatureTrackerConfig
from percept.features.database import FeatureDatabase
from percept.features.klt import FeatureFrame, FeatureTracker
from percept.geometry import so3
from percept.params import param
from percept.stereo.geometry import StereoGeometry
from percept.units import NS_PER_S
from percept.vio.config import InitConfig, PropagatorConfig
from percept.vio.init_dynamic import initialize_dynamic
from percept.vio.init_static import ZeroVelocityDetector, initialize_static
from percept.vio.propagator import ImuGap, PropagationError, Propagator, integrate_imu
from percept.vio.state import (
    BA,
    BG,
    IMU_DIM,
    POS,
    THETA,
    VEL,
    State,
    augment_clone,
    marginalize_oldest_clone,
    time_offset_ns,
    with_time_offset,
)
from percept.vio.state_ops import UpdateError, ekf_update
from percept.vio.time_offset_init import (
    TimeOffsetEstimate,
    TimeOffsetInitConfig,
    estimate_time_offset,
)
from percept.vio.update_config import UpdaterConfig
from percept.vio.update_msckf import UpdateStats, msckf_update
from percept.vio.vo import StereoOdometry, StereoVoConfig, VoStep

__all__ = ["VIO_TRACKER", "EstimatorConfig", "VioEstimate", "VioEstimator", "VioStatus"]

_log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


#: The VIO's front end: the generic tracker without the forward-backward KLT checks
#: (temporal and left-right). RANSAC on the fundamental matrix, the rectified row
#: check and the MSCKF's chi-square gate reject outliers, as in OpenVINS, whose KLT
#: tracker has no forward-backward check. It halves the LK calls per frame: on a
#: 640x480, 20 Hz synthetic sequence, one core, 22.3 -> 14.3 ms per frame; ATE on six
#: 60 s sequences 0.11-0.35 % -> 0.14-0.30 % of the path, EuRoC MH_01 6.0 -> 5.8 mm.
VIO_TRACKER: Final = FeatureTrackerConfig(fb_threshold_px=0.0)


class VioStatus(str, enum.Enum):
    """What the estimator is doing."""

    INITIALIZING = "initializing"
    TRACKING = "tracking"
    IMU_ONLY = "imu_only"


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    """Settings of the estimator and of every unit it runs.

    Attributes:
        tracker: the front end (``VIO_TRACKER``: no forward-backward checks).
        propagator: IMU noise, gravity, gap threshold.
        init: static and moving start, zero-velocity test.
        updater: the MSCKF update.
        vo: the stereo odometry of the moving start.
        time_offset_init: the moving start's guess of ``td`` (with
            ``estimate_time_offset``).
        max_clones: sliding-window size (OpenVINS ``max_clones``: 11).
        estimate_time_offset: estimate ``td`` online.
        time_offset_s: initial (or fixed) ``td``, Kalibr's ``t_imu = t_cam + td``, s.
        sigma_time_offset_s: prior standard deviation of ``td``, s.
        use_zupt: zero-velocity update when the IMU says the rig is still.
        zupt_sigma_m_s: noise of the zero-velocity measurement, m/s.
        static_init: allow the static start.
        dynamic_init: allow the moving start.
        min_tracked_features: fewer tracked features in a frame count as no visual
            information.
        imu_only_after_s: without a visual update this long, the status is
            ``imu_only``, s.
        max_imu_only_s: without a visual update this long, reset, s.
        max_position_sigma_m: position standard deviation that counts as a blow-up, m.
        max_gated_fraction: fraction of candidate tracks the gate rejects that counts
            as a rejection pile-up.
        max_gated_updates: consecutive pile-ups before a reset.
        database_frames: frames of feature observations kept.
        blas_threads: BLAS threads while the filter runs (0 leaves the process
            setting). The filter's matrices are about 100 x 100: with more threads
            OpenBLAS only contends, 100x slower on a loaded 2-core machine (a
            1700 x 67 QR: 3.8 ms on one thread, 540 ms on two beside other work).
    """

    tracker: FeatureTrackerConfig = field(default_factory=lambda: VIO_TRACKER)
    propagator: PropagatorConfig = field(default_factory=PropagatorConfig)
    init: InitConfig = field(default_factory=InitConfig)
    updater: UpdaterConfig = field(default_factory=UpdaterConfig)
    vo: StereoVoConfig = field(default_factory=StereoVoConfig)
    time_offset_init: TimeOffsetInitConfig = field(default_factory=TimeOffsetInitConfig)
    max_clones: int = param(11, "sliding-window clones", min_value=2)
    estimate_time_offset: bool = param(True, "estimate the camera-IMU time offset online")
    time_offset_s: float = param(0.0, "initial camera-IMU time offset t_imu = t_cam + td, s")
    sigma_time_offset_s: float = param(0.01, "prior sigma of the time offset, s", min_value=0.0)
    use_zupt: bool = param(True, "zero-velocity update when still")
    zupt_sigma_m_s: float = param(0.01, "zero-velocity measurement sigma, m/s", min_value=1e-6)
    static_init: bool = param(True, "allow the static start")
    dynamic_init: bool = param(True, "allow the moving start")
    min_tracked_features: int = param(8, "fewer tracked features: no visual information")
    imu_only_after_s: float = param(0.3, "IMU-only status after this long without vision, s")
    max_imu_only_s: float = param(5.0, "reset after this long without vision, s", min_value=0.0)
    max_position_sigma_m: float = param(20.0, "position sigma that is a blow-up, m")
    max_gated_fraction: float = param(0.8, "gated share of tracks that is a pile-up")
    max_gated_updates: int = param(5, "consecutive pile-ups before a reset", min_value=1)
    database_frames: int = param(40, "frames of feature observations kept", min_value=2)
    blas_threads: int = param(1, "BLAS threads while filtering (0: leave as set)", min_value=0)

    def __post_init__(self) -> None:
        if self.max_clones < 2:
            msg = f"EstimatorConfig.max_clones must be >= 2, got {self.max_clones}"
            raise ValueError(msg)
        if self.database_frames <= self.max_clones:
            msg = (
                f"EstimatorConfig.database_frames ({self.database_frames}) must exceed "
                f"max_clones ({self.max_clones})"
            )
            raise ValueError(msg)
        if not np.isfinite(self.time_offset_s) or abs(self.time_offset_s) > 1.0:
            td = self.time_offset_s
            msg = f"EstimatorConfig.time_offset_s must be finite and within 1 s, got {td}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class VioEstimate:
    """The estimate at one camera frame (or IMU reading).

    Attributes:
        stamp_ns: the frame's camera stamp (or the IMU stamp of an IMU-rate estimate).
        T_world_imu: (4, 4) float64 IMU pose; world gravity-aligned (z up), origin and
            yaw fixed at initialisation.
        v_world_imu_m_s: (3,) float64 velocity, world frame.
        angular_velocity_imu_rad_s: (3,) float64 bias-corrected rate, IMU frame.
        covariance: (15, 15) float64 covariance of ``[δθ, δp, δv, δb_g, δb_a]``; δθ is the
            IMU-frame (right) perturbation ``R = R̂ Exp(δθ)``, δp and δv world frame.
        bias_gyro_rad_s: (3,) float64.
        bias_accel_m_s2: (3,) float64.
        time_offset_s: the current ``td``.
        status: what the estimator is doing.
        resets: automatic re-initialisations so far.
        features: the front end's output (None for IMU-rate estimates).
        update: the MSCKF update's counts (None when none ran).
        zupt: a zero-velocity update ran at this frame.
        timings_s: ``front_end``, ``propagation``, ``update`` wall seconds.
        imu_gaps: IMU gaps crossed while propagating to this frame.
    """

    stamp_ns: int
    T_world_imu: FloatArray
    v_world_imu_m_s: FloatArray
    angular_velocity_imu_rad_s: FloatArray
    covariance: FloatArray
    bias_gyro_rad_s: FloatArray
    bias_accel_m_s2: FloatArray
    time_offset_s: float
    status: VioStatus
    resets: int
    features: FeatureFrame | None = None
    update: UpdateStats | None = None
    zupt: bool = False
    timings_s: Mapping[str, float] = field(default_factory=dict)
    imu_gaps: tuple[ImuGap, ...] = ()


def _finite_state(state: State) -> bool:
    imu = state.imu
    return bool(
        np.all(np.isfinite(imu.R_world_imu))
        and np.all(np.isfinite(imu.p_world_imu_m))
        and np.all(np.isfinite(imu.v_world_imu_m_s))
        and np.all(np.isfinite(imu.bias_gyro_rad_s))
        and np.all(np.isfinite(imu.bias_accel_m_s2))
        and np.all(np.isfinite(state.covariance))
    )


class VioEstimator:
    """Stereo + IMU MSCKF (module docstring).

    Args:
        camera: the rectified stereo pair (left intrinsics, baseline).
        T_imu_cam: (4, 4) float64 pose of the left optical frame in the IMU frame.
        config: settings (default ``EstimatorConfig()``).

    Attributes:
        failures: resets by reason.
        frames: stereo frames processed.
        zupts: zero-velocity updates applied.
        time_offset_guess: the last moving start's guess of ``td`` (None before one).
    """

    def __init__(
        self,
        camera: StereoGeometry,
        T_imu_cam: npt.ArrayLike,
        config: EstimatorConfig | None = None,
    ) -> None:
        T = np.asarray(T_imu_cam, dtype=np.float64)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            msg = f"T_imu_cam must be a finite (4, 4) matrix, got shape {T.shape}"
            raise ValueError(msg)
        self.camera = camera
        self.T_imu_cam = T
        self.config = config if config is not None else EstimatorConfig()
        self._K = np.array([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1.0]])
        self._prop = Propagator(self.config.propagator)
        self._tracker = FeatureTracker(self.config.tracker)
        self.failures: Counter[str] = Counter()
        self.frames = 0
        self.zupts = 0
        self.time_offset_guess: TimeOffsetEstimate | None = None
        self._resets = 0
        self._zupt_detector: ZeroVelocityDetector | None = None
        self._anchor: FloatArray | None = None
        self._threads = ThreadpoolController() if self.config.blas_threads > 0 else None
        self._start()

    # ------------------------------------------------------------------ bookkeeping
    def _start(self) -> None:
        cfg = self.config
        self._state: State | None = None
        self._status = VioStatus.INITIALIZING
        self._db = FeatureDatabase(cfg.database_frames)
        self._vo = StereoOdometry(self.camera, cfg.vo)
        self._init_steps: list[VoStep] = []
        self._last_visual_ns: int | None = None
        self._gated_streak = 0
        self._prev_frame_ns: int | None = None
        self._prev_R_world_cam: FloatArray | None = None
        self._td_start_ns = round(cfg.time_offset_s * NS_PER_S)
        self._td_guessed = False

    @property
    def status(self) -> VioStatus:
        """What the estimator is doing."""
        return self._status

    @property
    def resets(self) -> int:
        """Automatic re-initialisations so far."""
        return self._resets

    @property
    def state(self) -> State | None:
        """The filter state (None while initialising)."""
        return self._state

    @property
    def imu_dropped(self) -> int:
        """IMU readings refused (out of order or not finite)."""
        return self._prop.dropped_count

    @property
    def imu_gap_count(self) -> int:
        """IMU gaps crossed so far."""
        return self._prop.gap_count

    def reset(self) -> None:
        """Forget the filter and the tracks and initialise again (IMU buffer kept)."""
        self._tracker.reset()
        self._start()

    def _fail(self, reason: str) -> None:
        self.failures[reason] += 1
        self._resets += 1
        _log.warning("VIO reset #%d: %s", self._resets, reason)
        self._tracker.reset()
        self._start()

    def start_at(self, state: State) -> None:
        """Start the filter from a known state instead of initialising.

        For a robot that knows where it starts, and for simulations that test the
        filter apart from its initialisation (as OpenVINS' Monte-Carlo runs start from
        the true state). The next frame at the state's time (camera stamp + ``td``)
        takes the first clone.

        Args:
            state: the IMU state and its covariance (no clones; a time offset is added
                when ``estimate_time_offset`` is on).

        Raises:
            ValueError: the state has clones or is not finite.
        """
        if state.clones or not _finite_state(state):
            msg = "start_at: the state must be finite and have no clones"
            raise ValueError(msg)
        self._tracker.reset()
        self._start()
        if self.config.estimate_time_offset and state.time_offset_s is None:
            state = with_time_offset(
                state, self.config.time_offset_s, self.config.sigma_time_offset_s
            )
        self._state = state
        self._status = VioStatus.TRACKING

    def _td_ns(self) -> int:
        if self._state is not None and self._state.time_offset_s is not None:
            return time_offset_ns(self._state)
        return self._td_start_ns

    def imu_covers(self, stamp_ns: int) -> bool:
        """Whether the IMU fed so far reaches the frame at ``stamp_ns`` (+ ``td``)."""
        newest = self._prop.newest_stamp_ns
        return newest is not None and newest >= stamp_ns + self._td_ns()

    # ------------------------------------------------------------------ inputs
    def feed_imu(self, sample: ImuSample) -> None:
        """Buffer one IMU reading.

        Raises:
            ValueError: the reading is not finite.
        """
        g = np.asarray(sample.angular_velocity_rad_s, dtype=np.float64)
        a = np.asarray(sample.linear_acceleration_m_s2, dtype=np.float64)
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(a))):
            msg = f"IMU reading at {sample.header.stamp_ns} ns is not finite"
            raise ValueError(msg)
        self._prop.feed_imu(sample)
        if self._state is None:
            # Nothing propagates while initialising: keep the init windows plus 0.5 s.
            newest = self._prop.newest_stamp_ns
            if newest is not None:
                init = self.config.init
                keep = max(init.window_s, init.dynamic_window_s) + 0.5
                buffer_s = self.config.propagator.buffer_s
                self._prop.prune(newest - round((keep - buffer_s) * NS_PER_S))

    def _check_frame(self, stamp_ns: int) -> None:
        if not self.imu_covers(stamp_ns):
            msg = (
                f"frame at {stamp_ns} ns: the IMU reaches only {self._prop.newest_stamp_ns} ns "
                f"(feed IMU readings up to the frame + td first)"
            )
            raise ValueError(msg)
        if self._prev_frame_ns is not None and stamp_ns <= self._prev_frame_ns:
            msg = f"frame at {stamp_ns} ns is not newer than the previous ({self._prev_frame_ns})"
            raise ValueError(msg)

    def feed_stereo(
        self, stamp_ns: int, left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]
    ) -> VioEstimate | None:
        """Process a rectified mono8 stereo pair.

        Returns:
            The estimate at the frame, or None while initialising.

        Raises:
            ValueError: the IMU does not reach the frame yet, the frame is not newer
                than the previous one, or the images are not (H, W) uint8 of one size.
        """
        self._check_frame(stamp_ns)
        with self._blas_limit():
            t0 = time.perf_counter()
            gaps = self._propagate_to(stamp_ns)
            t1 = time.perf_counter()
            seed = self._rotation_seed()
            K = self._K if seed is not None else None
            frame = self._tracker.track(stamp_ns, left, right, seed, K)
            t2 = time.perf_counter()
            return self._process(frame, {"propagation": t1 - t0, "front_end": t2 - t1}, gaps)

    def feed_features(self, frame: FeatureFrame) -> VioEstimate | None:
        """Process a frame of features tracked elsewhere (e.g. the simulator).

        Returns:
            The estimate at the frame, or None while initialising.

        Raises:
            ValueError: the IMU does not reach the frame yet or it is not newer.
        """
        self._check_frame(frame.stamp_ns)
        with self._blas_limit():
            t0 = time.perf_counter()
            gaps = self._propagate_to(frame.stamp_ns)
            t1 = time.perf_counter()
            return self._process(frame, {"propagation": t1 - t0, "front_end": 0.0}, gaps)

    def _blas_limit(self) -> AbstractContextManager[object]:
        if self._threads is None:
            return nullcontext()
        limit: AbstractContextManager[object] = self._threads.limit(
            limits=self.config.blas_threads, user_api="blas"
        )
        return limit

    # ------------------------------------------------------------------ steps
    def _propagate_to(self, stamp_ns: int) -> tuple[ImuGap, ...]:
        if self._state is None:
            return ()
        target = max(stamp_ns + self._td_ns(), self._state.stamp_ns)
        try:
            self._state = self._prop.propagate(self._state, target)
        except (PropagationError, ValueError) as err:
            self._fail(f"propagation failed: {err}")
            return ()
        return self._prop.last_gaps

    def _R_world_cam(self) -> FloatArray | None:
        if self._state is None:
            return None
        return np.asarray(self._state.imu.R_world_imu @ self.T_imu_cam[:3, :3])

    def _rotation_seed(self) -> FloatArray | None:
        R_now = self._R_world_cam()
        if R_now is None or self._prev_R_world_cam is None:
            return None
        return np.asarray(R_now.T @ self._prev_R_world_cam)

    def _process(
        self, frame: FeatureFrame, timings: dict[str, float], gaps: tuple[ImuGap, ...]
    ) -> VioEstimate | None:
        self.frames += 1
        stamp = frame.stamp_ns
        self._db.add(frame)
        tracked = int(np.count_nonzero(frame.ages > 1))
        t0 = time.perf_counter()
        if self._state is None:
            out = self._initialize(frame)
            timings["update"] = time.perf_counter() - t0
            self._prev_frame_ns = stamp
            self._prev_R_world_cam = self._R_world_cam()
            return None if out is None else self._estimate(out, frame, None, timings, gaps)
        stats: UpdateStats | None = None
        zupt = self._try_zupt(stamp)
        if not zupt and self._clone(stamp):
            stats = self._update(stamp)
        if self._state is None:  # an update failed and reset
            return None
        timings["update"] = time.perf_counter() - t0
        if zupt or tracked >= self.config.min_tracked_features:
            self._last_visual_ns = stamp
        reason = self._health(stamp, stats)
        if reason:
            self._fail(reason)
            return None
        self._prev_frame_ns = stamp
        self._prev_R_world_cam = self._R_world_cam()
        return self._estimate(self._state, frame, stats, timings, gaps, zupt)

    def _visually_still(self) -> bool:
        """The stereo odometry saw (almost) no motion over the static window."""
        steps = self._init_steps
        if len(steps) < 2:
            return False
        window = round(self.config.init.window_s * NS_PER_S)
        recent = [s for s in steps if s.stamp_ns >= steps[-1].stamp_ns - window]
        if len(recent) < 2 or not all(s.ok for s in recent[1:]):
            return False
        rel = np.linalg.inv(recent[0].T_world_cam) @ recent[-1].T_world_cam
        angle = float(np.linalg.norm(so3.log(rel[:3, :3])))
        return bool(np.linalg.norm(rel[:3, 3]) < 0.02 and angle < np.radians(1.0))

    def _initialize(self, frame: FeatureFrame) -> State | None:
        cfg = self.config
        td = self._td_ns()
        t_imu = frame.stamp_ns + td
        self._init_steps.append(self._vo.feed(frame))
        span = round(max(cfg.init.window_s, cfg.init.dynamic_window_s) * NS_PER_S)
        while len(self._init_steps) > 2 and (
            self._init_steps[-1].stamp_ns - self._init_steps[1].stamp_ns >= span
        ):
            self._init_steps.pop(0)
        state: State | None = None
        oldest = self._prop.oldest_stamp_ns
        window = round(cfg.init.window_s * NS_PER_S)
        if (
            cfg.static_init
            and oldest is not None
            and oldest <= t_imu - window
            and self._visually_still()
        ):
            t, g, a = self._prop.readings(t_imu - window, t_imu)
            state = initialize_static(t, g, a, cfg.init, cfg.propagator.gravity_m_s2).state
        # Visually still and the static window not yet buffered: wait for it rather
        # than align a still rig over a short window (the gyro bias would be poor).
        static_pending = (
            cfg.static_init
            and (oldest is None or oldest > t_imu - window)
            and self._visually_still()
        )
        if state is None and cfg.dynamic_init and not static_pending:
            dyn = round(cfg.init.dynamic_window_s * NS_PER_S)
            steps = [s for s in self._init_steps if s.stamp_ns >= frame.stamp_ns - dyn]
            start = steps[0].stamp_ns + td
            if len(steps) >= cfg.init.dynamic_min_frames and oldest is not None and oldest <= start:
                if not self._td_guessed:
                    # Once per start; a guess beyond the IMU received waits for a frame.
                    self._td_guessed = True
                    self._td_start_ns = td = self._guess_time_offset(td)
                    start, t_imu = steps[0].stamp_ns + td, frame.stamp_ns + td
                newest = self._prop.newest_stamp_ns
                if oldest <= start and newest is not None and t_imu <= newest:
                    t, g, a = self._prop.readings(start, t_imu)
                    res = initialize_dynamic(
                        steps, (t, g, a), self.T_imu_cam, td, cfg.init, cfg.propagator
                    )
                    if res.state is None:
                        _log.debug("moving start refused: %s", res.reason)
                    state = res.state
        if state is None:
            return None
        # The static start ends at the newest IMU reading of the window: move it to the frame.
        if state.stamp_ns != t_imu:
            state = self._prop.propagate(state, t_imu)
        state = self._continue_from_anchor(state)
        if cfg.estimate_time_offset:
            state = with_time_offset(state, td / NS_PER_S, cfg.sigma_time_offset_s)
        self._state = state
        self._status = VioStatus.TRACKING
        self._last_visual_ns = frame.stamp_ns
        self._init_steps = []
        if not self._clone(frame.stamp_ns):
            return None
        _log.info("VIO initialised at %d ns (resets so far %d)", frame.stamp_ns, self._resets)
        return self._state

    def _guess_time_offset(self, td_ns: int) -> int:
        """``td`` for the moving start: the guess from vision and gyro, else ``td_ns``."""
        cfg = self.config
        if not (cfg.estimate_time_offset and cfg.time_offset_init.enabled):
            return td_ns
        oldest, newest = self._prop.oldest_stamp_ns, self._prop.newest_stamp_ns
        if oldest is None or newest is None or newest <= oldest:
            return td_ns
        t, g, _ = self._prop.readings(oldest, newest)
        guess = estimate_time_offset(
            self._init_steps, t, g, self.T_imu_cam[:3, :3], cfg.time_offset_init
        )
        self.time_offset_guess = guess
        if guess.offset_s is None:
            _log.info("no time offset guess, td starts at %d ns: %s", td_ns, guess.reason)
            return td_ns
        ms = (guess.offset_s * 1e3, guess.sigma_s * 1e3, guess.intervals)
        _log.info("time offset guess %.2f ms (sigma %.2f ms, %d frame intervals)", *ms)
        return round(guess.offset_s * NS_PER_S)

    def _continue_from_anchor(self, state: State) -> State:
        """After a reset, start where the last good estimate was (position and yaw)."""
        if self._anchor is None:
            return state
        R_new, R_old = state.imu.R_world_imu, self._anchor[:3, :3]

        def yaw(R: FloatArray) -> float:
            return float(np.arctan2(R[1, 0], R[0, 0]))

        Rz = so3.exp(np.array([0.0, 0.0, yaw(R_old) - yaw(R_new)]))
        imu = replace(
            state.imu,
            R_world_imu=Rz @ R_new,
            p_world_imu_m=self._anchor[:3, 3].copy(),
            v_world_imu_m_s=Rz @ state.imu.v_world_imu_m_s,
        )
        return replace(state, imu=imu)

    def _clone(self, stamp_ns: int) -> bool:
        assert self._state is not None
        state = self._state
        if state.stamp_ns != stamp_ns + time_offset_ns(state):
            _log.debug("no clone at %d ns: the state is already past the frame", stamp_ns)
            return False
        gyro, _ = self._prop.reading_at(state.stamp_ns)
        omega = gyro - state.imu.bias_gyro_rad_s
        self._state = augment_clone(state, stamp_ns, omega)
        return True

    def _try_zupt(self, stamp_ns: int) -> bool:
        cfg = self.config
        state = self._state
        if not cfg.use_zupt or state is None or self._prev_frame_ns is None:
            return False
        start = self._prev_frame_ns + time_offset_ns(state)
        if start >= state.stamp_ns:
            return False
        t, g, a = self._prop.readings(start, state.stamp_ns)
        if self._zupt_detector is None:
            rate = 1e9 / max(float(np.median(np.diff(t))), 1.0) if t.shape[0] > 2 else 200.0
            self._zupt_detector = ZeroVelocityDetector(cfg.init, cfg.propagator, rate)
        inner = slice(1, -1) if t.shape[0] > 3 else slice(None)
        g_in, a_in = g[inner], a[inner]
        test = self._zupt_detector.test(state.imu, g_in, a_in)
        if not test.still:
            return False
        try:
            self._state = ekf_update(state, *self._zupt_rows(state, g_in, a_in))
        except UpdateError as err:
            self._fail(f"zero-velocity update failed: {err}")
            return False
        self.zupts += 1
        return True

    def _zupt_rows(
        self, state: State, gyro: FloatArray, accel: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Zero-velocity measurement rows, as OpenVINS' ``UpdaterZeroVelocity``.

        Still, the mean gyro reading is the bias (``H`` on δb_g), the mean accelerometer
        reading is the bias plus gravity seen in the IMU frame (``H`` on δθ and δb_a:
        ``(R̂ Exp(δθ))ᵀ g ≈ R̂ᵀ g + [R̂ᵀ g]× δθ``), and the velocity is zero. The readings'
        noise is inflated by ``init.zupt_noise_multiplier``.
        """
        cfg = self.config
        pc = cfg.propagator
        n = gyro.shape[0]
        rate = self._zupt_detector.rate_hz if self._zupt_detector is not None else 200.0
        k = cfg.init.zupt_noise_multiplier
        var_g = (k * pc.gyroscope_noise_density) ** 2 * rate / n
        var_a = (k * pc.accelerometer_noise_density) ** 2 * rate / n
        imu = state.imu
        g_imu = imu.R_world_imu.T @ np.array([0.0, 0.0, pc.gravity_m_s2])
        H = np.zeros((9, state.size))
        H[0:3, BG] = np.eye(3)
        H[3:6, THETA] = so3.hat(g_imu)
        H[3:6, BA] = np.eye(3)
        H[6:9, VEL] = np.eye(3)
        r = np.concatenate(
            [
                gyro.mean(axis=0) - imu.bias_gyro_rad_s,
                accel.mean(axis=0) - imu.bias_accel_m_s2 - g_imu,
                -imu.v_world_imu_m_s,
            ]
        )
        R = np.diag([var_g] * 3 + [var_a] * 3 + [cfg.zupt_sigma_m_s**2] * 3)
        return H, r, R

    def _update(self, stamp_ns: int) -> UpdateStats | None:
        cfg = self.config
        assert self._state is not None
        state = self._state
        lost = self._db.tracks_lost_since(stamp_ns)
        marg = np.zeros(0, dtype=np.int64)
        if len(state.clones) > cfg.max_clones:
            marg = self._db.tracks_seen_at(state.clones[0].stamp_ns)
        ids = np.union1d(lost, marg)
        tracks = self._db.observations_many(ids)
        try:
            state, stats = msckf_update(state, tracks, self.camera, self.T_imu_cam, cfg.updater)
        except (UpdateError, ValueError) as err:
            self._fail(f"MSCKF update failed: {err}")
            return None
        self._db.remove_tracks(ids)
        while len(state.clones) > cfg.max_clones:
            state = marginalize_oldest_clone(state)
        if state.clones:
            self._db.clean_older_than(state.clones[0].stamp_ns)
        self._state = state
        tried = stats.used + stats.gated
        if tried >= 5 and stats.gated > cfg.max_gated_fraction * tried:
            self._gated_streak += 1
        else:
            self._gated_streak = 0
        return stats

    def _health(self, stamp_ns: int, stats: UpdateStats | None) -> str:
        cfg = self.config
        state = self._state
        if state is None:
            return "no state"
        if not _finite_state(state):
            return "non-finite state"
        sigma_p = float(np.sqrt(np.max(np.diag(state.covariance)[POS])))
        if sigma_p > cfg.max_position_sigma_m:
            return f"position sigma {sigma_p:.1f} m > {cfg.max_position_sigma_m} m"
        if self._gated_streak >= cfg.max_gated_updates:
            return f"chi-square gate rejected most tracks {self._gated_streak} updates in a row"
        last = self._last_visual_ns if self._last_visual_ns is not None else stamp_ns
        blind_s = (stamp_ns - last) / NS_PER_S
        if blind_s > cfg.max_imu_only_s:
            return f"no visual update for {blind_s:.1f} s"
        self._status = VioStatus.IMU_ONLY if blind_s > cfg.imu_only_after_s else VioStatus.TRACKING
        self._anchor = state.imu.T_world_imu
        return ""

    def _estimate(
        self,
        state: State,
        frame: FeatureFrame | None,
        stats: UpdateStats | None,
        timings: Mapping[str, float],
        gaps: tuple[ImuGap, ...],
        zupt: bool = False,
        stamp_ns: int | None = None,
        covariance: FloatArray | None = None,
    ) -> VioEstimate:
        imu = state.imu
        gyro, _ = self._prop.reading_at(imu.stamp_ns)
        td = state.time_offset_s if state.time_offset_s is not None else self.config.time_offset_s
        P = state.covariance[:IMU_DIM, :IMU_DIM] if covariance is None else covariance
        return VioEstimate(
            stamp_ns=frame.stamp_ns
            if stamp_ns is None and frame is not None
            else int(stamp_ns or imu.stamp_ns),
            T_world_imu=imu.T_world_imu,
            v_world_imu_m_s=imu.v_world_imu_m_s.copy(),
            angular_velocity_imu_rad_s=gyro - imu.bias_gyro_rad_s,
            covariance=P.copy(),
            bias_gyro_rad_s=imu.bias_gyro_rad_s.copy(),
            bias_accel_m_s2=imu.bias_accel_m_s2.copy(),
            time_offset_s=float(td),
            status=self._status,
            resets=self._resets,
            features=frame,
            update=stats,
            zupt=zupt,
            timings_s=dict(timings),
            imu_gaps=gaps,
        )

    def imu_estimate(self, stamp_ns: int) -> VioEstimate | None:
        """The state carried to an IMU stamp without changing the filter.

        For IMU-rate odometry between frames. Returns None before initialisation, for a
        stamp older than the filter's state, or beyond the buffered IMU.
        """
        state = self._state
        newest = self._prop.newest_stamp_ns
        if state is None or newest is None or not state.stamp_ns < stamp_ns <= newest:
            return None
        t, g, a = self._prop.readings(state.stamp_ns, stamp_ns)
        mid_g, mid_a = 0.5 * (g[1:] + g[:-1]), 0.5 * (a[1:] + a[:-1])
        res = integrate_imu(state.imu, np.diff(t), mid_g, mid_a, self.config.propagator)
        P = state.covariance[:IMU_DIM, :IMU_DIM]
        P = res.transition @ P @ res.transition.T + res.noise
        moved = replace(state, imu=res.imu, covariance=state.covariance.copy())
        est = self._estimate(
            moved, None, None, {}, (), stamp_ns=stamp_ns, covariance=0.5 * (P + P.T)
        )
        return (
            est
            if np.all(np.isfinite(est.T_world_imu)) and np.all(np.isfinite(est.covariance))
            else None
        )
