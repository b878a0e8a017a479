"""Offline VIO on a bag: the fused estimate beside IMU-only and stereo-only baselines.

``run_vio_bag`` reads a stereo + IMU bag (a synthetic sequence from ``percept synth``,
a EuRoC sequence from ``percept bag from-euroc``, a robot's recording), rectifies the
raw pair with its camera_infos, takes ``T_imu_cam`` and ``T_imu_base`` from /tf_static,
and runs in one pass:

- ``vio``: :class:`percept.vio.estimator.VioEstimator` (stereo + IMU);
- ``vo``: the same front end without the IMU (no rotation seed) into
  :class:`percept.vio.vo.StereoOdometry`, frame-to-frame stereo PnP;
- ``imu``: dead reckoning: the VIO's first estimate (same start, same biases)
  propagated through every later IMU reading with no update.

``score_runs`` scores each against the ground-truth topic (``/ground_truth/odom`` or
``/ground_truth/pose``) with :func:`percept.eval.trajectory.evaluate_trajectory`: ATE
after SE(3) and 4-DoF alignment, ATE per path length, RPE per metre of travel, and the
NEES of the fused estimate from its covariance
(:func:`percept.eval.trajectory.evaluate_consistency`). All poses are of ``base_link``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from percept import msgtypes
from percept.domain import (
    CameraInfo,
    Header,
    Image,
    ImuSample,
    Odometry,
    PoseStamped,
    TransformStamped,
)
from percept.errors import CodecError, EvalError, PerceptError
from percept.eval.stream import decode
from percept.eval.trajectory import (
    ConsistencyConfig,
    ConsistencyResult,
    MonteCarloNees,
    Trajectory,
    TrajectoryEvalConfig,
    evaluate_consistency,
    evaluate_trajectory,
    monte_carlo_nees,
)
from percept.features.klt import FeatureTracker
from percept.geometry.camera import CameraModel
from percept.image.convert import convert_image
from percept.io.bag import BagReader, stereo_camera_topics
from percept.nodes._odometry import pose_covariance
from percept.rectify.maps import RectifyMaps, compute_rectify_maps, rectify_image
from percept.rectify.model import rectified_model
from percept.runtime.tf_buffer import TfBuffer
from percept.stereo.geometry import StereoGeometry
from percept.vio.estimator import EstimatorConfig, VioEstimate, VioEstimator
from percept.vio.propagator import integrate_imu
from percept.vio.state import ImuState
from percept.vio.vo import StereoOdometry

__all__ = [
    "MODES",
    "ModeScore",
    "MonteCarloRun",
    "VioBagRun",
    "estimate_covariance_world",
    "format_table",
    "run_monte_carlo",
    "run_vio_bag",
    "score_runs",
    "write_top_view",
]

_log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Runs of ``run_vio_bag``: fused, IMU-only dead reckoning, stereo-only odometry.
MODES = ("vio", "imu", "vo")


@dataclass(frozen=True, slots=True, eq=False)
class VioBagRun:
    """What one pass over a bag produced.

    Attributes:
        bag: the bag.
        poses: mode -> (stamps_ns (N,) int64, T_world_base (N, 4, 4)).
        covariances: (N, 6, 6) float64 pose covariance of the ``vio`` poses, order
            (x, y, z, rot_x, rot_y, rot_z), world frame (as nav_msgs/Odometry).
        ground_truth: (stamps_ns, T_world_base) of the ground-truth topic, or None.
        estimates: the fused estimates (timings, counts, biases, time offset).
        frames: stereo frames read.
        resets: automatic re-initialisations of the fused estimator.
        wall_s: wall time of the pass, seconds.
    """

    bag: Path
    poses: Mapping[str, tuple[npt.NDArray[np.int64], FloatArray]]
    covariances: FloatArray
    ground_truth: tuple[npt.NDArray[np.int64], FloatArray] | None
    estimates: Sequence[VioEstimate]
    frames: int
    resets: int
    wall_s: float


def estimate_covariance_world(estimate: VioEstimate, T_imu_base: FloatArray) -> FloatArray:
    """Pose covariance of ``base_link`` from an estimate, nav_msgs/Odometry convention.

    The filter's ``[δθ (IMU frame, right), δp (world)]`` becomes ``[δp_base, δθ_world]``
    with ``δθ_world = R δθ`` and ``δp_base = δp - [R t]× δθ_world`` for the lever arm
    ``t`` of ``base_link`` in the IMU frame: the vio node's own conversion
    (:func:`percept.nodes._odometry.pose_covariance`), so offline scores use what the
    robot publishes.

    Args:
        estimate: the filter's estimate.
        T_imu_base: (4, 4) float64 pose of ``base_link`` in the IMU frame.

    Returns:
        (6, 6) float64 symmetric covariance.
    """
    return pose_covariance(estimate.covariance, estimate.T_world_imu[:3, :3], T_imu_base[:3, 3])


def _one_topic(topics: Mapping[str, str], msgtype: str, hint: str = "") -> str | None:
    found = sorted(t for t, ty in topics.items() if ty == msgtype and hint in t)
    return found[0] if found else None


def _grey(image: Image, topic: str) -> npt.NDArray[np.uint8]:
    """mono8 of an image, as cv_bridge converts it."""
    try:
        return np.asarray(convert_image(image, "mono8").data, dtype=np.uint8)
    except CodecError as err:
        msg = f"{topic}: {err}"
        raise EvalError(msg) from err


@dataclass
class _Rectifier:
    left: RectifyMaps
    right: RectifyMaps
    camera: StereoGeometry
    R_rect: FloatArray  # rectified-from-raw rotation of the left camera

    @classmethod
    def of(cls, left: CameraModel, right: CameraModel) -> _Rectifier:
        camera = StereoGeometry.from_models(rectified_model(left), rectified_model(right))
        R = np.asarray(left.R, dtype=np.float64).reshape(3, 3)
        return cls(compute_rectify_maps(left), compute_rectify_maps(right), camera, R)


@dataclass
class _Pass:
    """State of one pass (kept small: images are processed as they come)."""

    estimator: VioEstimator | None = None
    vo: StereoOdometry | None = None
    vo_tracker: FeatureTracker | None = None
    T_imu_cam: FloatArray | None = None
    T_imu_base: FloatArray | None = None
    pending: list[tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8]]] = field(
        default_factory=list
    )
    estimates: list[VioEstimate] = field(default_factory=list)
    vo_poses: list[tuple[int, FloatArray]] = field(default_factory=list)
    imu_t: list[int] = field(default_factory=list)
    imu_g: list[FloatArray] = field(default_factory=list)
    imu_a: list[FloatArray] = field(default_factory=list)
    gt: list[tuple[int, FloatArray]] = field(default_factory=list)
    frames: int = 0


def _messages(reader: BagReader, topics: Sequence[str]) -> Iterator[tuple[str, object]]:
    for m in reader.messages(topics):
        try:
            yield m.topic, decode(m)
        except PerceptError as err:
            _log.warning("%s: skipped a malformed %s message: %s", reader.path, m.topic, err)


def run_vio_bag(
    bag: Path | str,
    config: EstimatorConfig | None = None,
    *,
    modes: Sequence[str] = MODES,
    progress: bool = True,
) -> VioBagRun:
    """Run the fused estimator and the baselines over a bag (module docstring).

    Args:
        bag: stereo + IMU bag with /tf_static (imu and left camera frames) and,
            optionally, a ground-truth pose topic.
        config: the estimator's settings (IMU noise!).
        modes: which of ``MODES`` to run (``imu`` needs ``vio``).
        progress: a progress bar on stderr.

    Returns:
        The poses of each mode, the fused covariances and the ground truth.

    Raises:
        EvalError: the bag lacks a stereo pair, an IMU, or the transforms.
    """
    import time

    path = Path(bag)
    cfg = config if config is not None else EstimatorConfig()
    t_start = time.perf_counter()
    with BagReader(path) as reader:
        topics = reader.topics()
        l_img, l_info, r_img, r_info = stereo_camera_topics(topics)
        imu_topic = _one_topic(topics, msgtypes.IMU)
        if imu_topic is None:
            msg = f"{path}: no sensor_msgs/Imu topic"
            raise EvalError(msg)
        gt_topic = _one_topic(topics, msgtypes.ODOMETRY, "ground_truth") or _one_topic(
            topics, msgtypes.POSE_STAMPED, "ground_truth"
        )
        wanted = [l_img, l_info, r_img, r_info, imu_topic, "/tf_static"]
        if gt_topic is not None:
            wanted.append(gt_topic)
        tf = TfBuffer()
        run = _Pass()
        infos: dict[str, CameraInfo] = {}
        rect: _Rectifier | None = None
        images: dict[str, tuple[int, Image]] = {}
        imu_frame = ""
        bar = tqdm(
            total=(reader.end_ns - reader.start_ns) / 1e9,
            unit="s",
            desc=f"vio {path.name}",
            disable=not progress,
            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s",
        )
        for topic, obj in _messages(reader, wanted):
            if topic == "/tf_static" and isinstance(obj, list | tuple):
                for tr in obj:
                    if isinstance(tr, TransformStamped):
                        tf.set_transform(tr, "bag", static=True)
            elif topic == imu_topic and isinstance(obj, ImuSample):
                imu_frame = imu_frame or obj.header.frame_id
                _feed_imu(run, obj)
                bar.n = round((obj.header.stamp_ns - reader.start_ns) / 1e9, 1)
                bar.refresh()
            elif topic in (l_info, r_info) and isinstance(obj, CameraInfo):
                infos[topic] = obj
            elif topic in (l_img, r_img) and isinstance(obj, Image):
                images[topic] = (obj.header.stamp_ns, obj)
                if len(images) < 2 or images[l_img][0] != images[r_img][0]:
                    continue
                if rect is None:
                    if l_info not in infos or r_info not in infos or not imu_frame:
                        images.clear()
                        continue
                    rect = _Rectifier.of(infos[l_info].model, infos[r_info].model)
                    cam_frame = images[l_img][1].header.frame_id or infos[l_info].header.frame_id
                    _setup(run, tf, rect, imu_frame, cam_frame, cfg, modes)
                left = np.asarray(
                    rectify_image(_grey(images[l_img][1], l_img), rect.left), np.uint8
                )
                right = np.asarray(
                    rectify_image(_grey(images[r_img][1], r_img), rect.right), np.uint8
                )
                stamp = images[l_img][0]
                images.clear()
                run.frames += 1
                run.pending.append((stamp, left, right))
                if "vo" in modes and run.vo is not None and run.vo_tracker is not None:
                    frame = run.vo_tracker.track(stamp, left, right)
                    run.vo_poses.append((stamp, run.vo.feed(frame).T_world_cam))
                _drain(run)
            elif topic == gt_topic and isinstance(obj, Odometry | PoseStamped):
                run.gt.append((obj.header.stamp_ns, obj.pose.as_matrix()))
        bar.close()
    if run.estimator is None or run.T_imu_base is None or run.T_imu_cam is None:
        msg = f"{path}: no stereo frame could be processed (camera_info, IMU or /tf_static)"
        raise EvalError(msg)
    return _collect(path, run, modes, time.perf_counter() - t_start)


def _feed_imu(run: _Pass, sample: ImuSample) -> None:
    if run.imu_t and sample.header.stamp_ns <= run.imu_t[-1]:
        return
    run.imu_t.append(sample.header.stamp_ns)
    run.imu_g.append(np.asarray(sample.angular_velocity_rad_s, dtype=np.float64))
    run.imu_a.append(np.asarray(sample.linear_acceleration_m_s2, dtype=np.float64))
    if run.estimator is not None:
        try:
            run.estimator.feed_imu(sample)
        except ValueError as err:
            _log.warning("IMU reading refused: %s", err)
        _drain(run)


def _setup(
    run: _Pass,
    tf: TfBuffer,
    rect: _Rectifier,
    imu_frame: str,
    cam_frame: str,
    cfg: EstimatorConfig,
    modes: Sequence[str],
) -> None:
    try:
        T_imu_cam_raw = tf.lookup_transform(imu_frame, cam_frame, 0).as_matrix()
    except PerceptError as err:
        msg = f"no transform {imu_frame} <- {cam_frame} in /tf_static: {err}"
        raise EvalError(msg) from err
    base = "base_link" if tf.can_transform(imu_frame, "base_link", 0) else imu_frame
    run.T_imu_base = tf.lookup_transform(imu_frame, base, 0).as_matrix()
    T_raw_rect = np.eye(4)
    T_raw_rect[:3, :3] = rect.R_rect.T
    run.T_imu_cam = T_imu_cam_raw @ T_raw_rect
    run.estimator = VioEstimator(rect.camera, run.T_imu_cam, cfg)
    if "vo" in modes:
        run.vo_tracker = FeatureTracker(cfg.tracker)
        run.vo = StereoOdometry(rect.camera, cfg.vo)
    # Readings that came before the first frame.
    for t, g, a in zip(run.imu_t, run.imu_g, run.imu_a, strict=True):
        run.estimator.feed_imu(ImuSample(Header(t, imu_frame), g, a))


def _drain(run: _Pass) -> None:
    est = run.estimator
    if est is None:
        return
    while run.pending and est.imu_covers(run.pending[0][0]):
        stamp, left, right = run.pending.pop(0)
        out = est.feed_stereo(stamp, left, right)
        if out is not None:
            run.estimates.append(out)


def _collect(path: Path, run: _Pass, modes: Sequence[str], wall_s: float) -> VioBagRun:
    assert run.T_imu_base is not None
    assert run.T_imu_cam is not None
    assert run.estimator is not None
    T_ib = run.T_imu_base
    poses: dict[str, tuple[npt.NDArray[np.int64], FloatArray]] = {}
    est = run.estimates
    if est:
        stamps = np.array([e.stamp_ns for e in est], dtype=np.int64)
        poses["vio"] = (stamps, np.stack([e.T_world_imu @ T_ib for e in est]))
        cov = np.stack([estimate_covariance_world(e, T_ib) for e in est])
    else:
        cov = np.zeros((0, 6, 6))
    if "imu" in modes and est:
        poses["imu"] = _dead_reckoning(run, est[0], T_ib)
    if "vo" in modes and run.vo_poses:
        T_ci = np.linalg.inv(run.T_imu_cam)
        vo_stamps = np.array([s for s, _ in run.vo_poses], dtype=np.int64)
        T_vo = np.stack([T for _, T in run.vo_poses])
        if est:
            # The same start as the fused estimate: its gravity-aligned camera pose at
            # its first frame, so 4-DoF alignment is meaningful for both.
            i = int(np.searchsorted(vo_stamps, est[0].stamp_ns))
            if i < len(vo_stamps) and vo_stamps[i] == est[0].stamp_ns:
                anchor = est[0].T_world_imu @ run.T_imu_cam @ np.linalg.inv(T_vo[i])
                T_vo = anchor @ T_vo
        poses["vo"] = (vo_stamps, T_vo @ T_ci @ T_ib)
    gt = None
    if run.gt:
        run.gt.sort(key=lambda r: r[0])
        gt = (np.array([s for s, _ in run.gt], dtype=np.int64), np.stack([T for _, T in run.gt]))
    return VioBagRun(path, poses, cov, gt, est, run.frames, run.estimator.resets, wall_s)


def _dead_reckoning(
    run: _Pass, first: VioEstimate, T_imu_base: FloatArray
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The first fused estimate carried through the IMU alone, at the frame stamps."""
    t = np.array(run.imu_t, dtype=np.int64)
    g, a = np.stack(run.imu_g), np.stack(run.imu_a)
    td = round(first.time_offset_s * 1e9)
    start = first.stamp_ns + td
    state = ImuState(
        start,
        first.T_world_imu[:3, :3],
        first.T_world_imu[:3, 3],
        first.v_world_imu_m_s,
        first.bias_gyro_rad_s,
        first.bias_accel_m_s2,
    )
    cfg = run.estimator.config.propagator if run.estimator is not None else None
    assert cfg is not None
    frame_stamps = np.array([e.stamp_ns for e in run.estimates], dtype=np.int64)
    out = [state.T_world_imu @ T_imu_base]
    for s in frame_stamps[1:]:
        target = int(s) + td
        sel = (t > state.stamp_ns) & (t < target)
        ts = np.concatenate([[state.stamp_ns], t[sel], [target]])
        gs = np.stack([np.interp(ts, t, g[:, i]) for i in range(3)], axis=1)
        as_ = np.stack([np.interp(ts, t, a[:, i]) for i in range(3)], axis=1)
        res = integrate_imu(
            state,
            np.diff(ts),
            0.5 * (gs[1:] + gs[:-1]),
            0.5 * (as_[1:] + as_[:-1]),
            cfg,
            with_covariance=False,
        )
        state = res.imu
        out.append(state.T_world_imu @ T_imu_base)
    return frame_stamps, np.stack(out)


@dataclass(frozen=True, slots=True)
class ModeScore:
    """Accuracy of one mode against the ground truth.

    Attributes:
        mode: ``vio``, ``imu`` or ``vo``.
        poses: poses associated with the ground truth.
        path_m: ground-truth path length over the associated poses, metres.
        ate_se3_m: ATE RMSE after SE(3) alignment, metres.
        ate_4dof_m: ATE RMSE after yaw + translation alignment, metres.
        ate_se3_pct: ``ate_se3_m`` per path length, percent.
        ate_4dof_pct: ``ate_4dof_m`` per path length, percent.
        rpe_m: RPE translation RMSE per ``rpe_delta_m`` of travel, metres.
        rpe_deg: RPE rotation RMSE over the same pairs, degrees.
        rpe_delta_m: the RPE distance, metres (NaN: too little travel, consecutive
            frames instead).
    """

    mode: str
    poses: int
    path_m: float
    ate_se3_m: float
    ate_4dof_m: float
    ate_se3_pct: float
    ate_4dof_pct: float
    rpe_m: float
    rpe_deg: float
    rpe_delta_m: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {k: getattr(self, k) for k in self.__slots__}


def _trajectory(stamps: npt.NDArray[np.int64], T: FloatArray, name: str) -> Trajectory:
    return Trajectory.from_matrices(T, stamps, name)


def score_runs(
    run: VioBagRun, rpe_delta_m: float = 1.0, max_diff_ns: int = 10_000_000
) -> tuple[list[ModeScore], ConsistencyResult | None]:
    """Score every mode of a run against its ground truth (module docstring).

    Args:
        run: the pass.
        rpe_delta_m: RPE pose distance, metres of travel.
        max_diff_ns: largest stamp difference of an associated pair.

    Returns:
        One score per mode, and the fused estimate's NEES (None without covariance).

    Raises:
        EvalError: the bag had no ground truth.
    """
    if run.ground_truth is None:
        msg = f"{run.bag}: no ground-truth pose topic to score against"
        raise EvalError(msg)
    ref = _trajectory(*run.ground_truth, "ground truth")
    scores = []
    for mode, (stamps, T) in run.poses.items():
        est = _trajectory(stamps, T, mode)
        out = {}
        delta: float = rpe_delta_m
        unit: Literal["frames", "m"] = "m"
        for align in ("se3", "4dof"):
            try:
                out[align] = evaluate_trajectory(
                    est,
                    ref,
                    TrajectoryEvalConfig(
                        max_diff_ns=max_diff_ns, align=align, delta=delta, delta_unit=unit
                    ),
                )
            except EvalError as err:
                if unit == "frames":
                    raise
                # Too little travel for one RPE pair (a still sequence): consecutive frames.
                _log.info("%s: %s; RPE over consecutive frames instead", run.bag.name, err)
                delta, unit = 1.0, "frames"
                out[align] = evaluate_trajectory(
                    est,
                    ref,
                    TrajectoryEvalConfig(
                        max_diff_ns=max_diff_ns, align=align, delta=delta, delta_unit=unit
                    ),
                )
        tm = out["se3"]
        path_m = float(tm.reference.path_lengths_m()[-1])
        scores.append(
            ModeScore(
                mode,
                len(tm.reference),
                path_m,
                tm.ate_m.rmse,
                out["4dof"].ate_m.rmse,
                100 * tm.ate_m.rmse / path_m,
                100 * out["4dof"].ate_m.rmse / path_m,
                tm.rpe_trans_m.rmse,
                tm.rpe_rot_deg.rmse,
                delta if unit == "m" else float("nan"),
            )
        )
    consistency = None
    if "vio" in run.poses and run.covariances.shape[0]:
        stamps, T = run.poses["vio"]
        consistency = evaluate_consistency(_trajectory(stamps, T, "vio"), run.covariances, ref)
    return scores, consistency


def write_top_view(run: VioBagRun, path: Path) -> Path:
    """Top view (x-y) of every mode and the ground truth, each SE(3)-aligned to it.

    Args:
        run: the pass.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    from percept.eval.pictures import line_plot
    from percept.eval.trajectory import align_trajectory, associate

    series = []
    ref = None
    if run.ground_truth is not None:
        ref = _trajectory(*run.ground_truth, "ground truth")
        series.append((ref.positions_m[:, 0], ref.positions_m[:, 1], "ground truth"))
    for mode, (stamps, T) in run.poses.items():
        est = _trajectory(stamps, T, mode)
        if ref is not None:
            try:
                ref_m, est_m = associate(ref, est, max_diff_ns=10_000_000)
                # Dead reckoning starts where the fused estimate starts: show it from
                # there (aligned at its first pose) rather than spread by a fit.
                method: Literal["origin", "se3"] = "origin" if mode == "imu" else "se3"
                _, sim3 = align_trajectory(est_m, ref_m, method)
                est = sim3.apply(est)
            except EvalError as err:
                _log.warning("%s: %s not aligned: %s", run.bag, mode, err)
        label = {"vio": "VIO (stereo + IMU)", "imu": "IMU only", "vo": "stereo VO"}.get(mode, mode)
        xy = est.positions_m[:, :2]
        if ref is not None:
            # A baseline that drifts off (IMU only: hundreds of metres) would squash the
            # view: draw it until it leaves the ground truth's box (plus a margin).
            lo, hi = ref.positions_m[:, :2].min(axis=0), ref.positions_m[:, :2].max(axis=0)
            margin = 0.25 * (hi - lo).max() + 0.5
            outside = np.flatnonzero(np.any((xy < lo - margin) | (xy > hi + margin), axis=1))
            if outside.size:
                xy = xy[: max(int(outside[0]), 1)]
                label += " (until it leaves the view)"
        series.append((xy[:, 0], xy[:, 1], label))
    return line_plot(
        path,
        series,
        title=f"{run.bag.name}: top view (SE(3)-aligned; IMU only at its start)",
        xlabel="x [m]",
        ylabel="y [m]",
        equal=True,
    )


def format_table(
    rows: Sequence[tuple[VioBagRun, Sequence[ModeScore], ConsistencyResult | None, Path]],
) -> str:
    """A markdown table: one row per bag and mode."""
    head = (
        "| bag | mode | poses | path [m] | ATE SE3 [m] | ATE SE3 [%] | ATE 4DoF [m] | "
        "ATE 4DoF [%] | RPE [m] | RPE [deg] | NEES pos | NEES rot | resets |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for run, scores, consistency, _ in rows:
        for s in scores:
            nees = ("", "")
            if s.mode == "vio" and consistency is not None:
                nees = (f"{consistency.mean_nees_pos:.2f}", f"{consistency.mean_nees_rot:.2f}")
            resets = str(run.resets) if s.mode == "vio" else ""
            lines.append(
                f"| {run.bag.name} | {s.mode} | {s.poses} | {s.path_m:.2f} | {s.ate_se3_m:.4f} | "
                f"{s.ate_se3_pct:.3f} | {s.ate_4dof_m:.4f} | {s.ate_4dof_pct:.3f} | "
                f"{s.rpe_m:.4f} | {s.rpe_deg:.3f} | {nees[0]} | {nees[1]} | {resets} |"
            )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True, eq=False)
class MonteCarloRun:
    """Monte-Carlo consistency runs on the feature-level simulator.

    Attributes:
        motion: ``ground`` or ``handheld``.
        seconds: length of each run, seconds.
        seeds: noise seeds of the runs (one trajectory, ``trajectory_seed``).
        runs: each run's consistency against the truth (no alignment: each run starts
            from the true state, as OpenVINS' Monte-Carlo runs do).
        ate_m: each run's ATE RMSE after SE(3) alignment, metres.
        path_m: the trajectory's length, metres.
        resets: each run's automatic re-initialisations.
        nees: the runs' averaged NEES with its bands.
    """

    motion: str
    seconds: float
    seeds: tuple[int, ...]
    runs: tuple[ConsistencyResult, ...]
    ate_m: tuple[float, ...]
    path_m: float
    resets: tuple[int, ...]
    nees: MonteCarloNees


def run_monte_carlo(
    motion: str,
    seeds: Sequence[int],
    seconds: float = 60.0,
    config: EstimatorConfig | None = None,
    *,
    trajectory_seed: int = 7,
    progress: bool = True,
) -> MonteCarloRun:
    """NEES of the estimator over seeded runs of one simulated trajectory.

    Each run draws its own IMU noise (ADIS16448 levels), pixel noise (1 px) and
    landmarks, starts the filter from the true state with a small covariance (so the
    NEES measures the filter, not its initialisation), feeds the simulation in arrival
    order and scores every frame's pose and covariance against the truth.

    Args:
        motion: ``ground`` or ``handheld``.
        seeds: one noise seed per run.
        seconds: length of each run.
        config: the estimator's settings.
        trajectory_seed: the scene and trajectory shared by the runs.
        progress: a progress bar over the runs.

    Returns:
        Every run's consistency and the Monte-Carlo average with its bands.
    """
    from dataclasses import replace

    from percept.synth.features import FeatureSimConfig, simulate_features
    from percept.synth.warehouse import build_scene
    from percept.vio.init_static import initial_covariance
    from percept.vio.state import State

    cfg = config if config is not None else EstimatorConfig()
    start_cfg = replace(
        cfg.init, sigma_rotation_rad=1e-3, sigma_bias_gyro_rad_s=1e-4, sigma_bias_accel_m_s2=1e-2
    )
    results, ates, resets = [], [], []
    path_m = float("nan")
    scene = None
    for seed in tqdm(seeds, desc=f"monte carlo {motion}", unit="run", disable=not progress):
        sim_cfg = FeatureSimConfig(
            motion=motion, seconds=seconds, seed=seed, trajectory_seed=trajectory_seed
        )
        if scene is None:
            scene = build_scene(sim_cfg.scene, trajectory_seed)
        sim = simulate_features(sim_cfg, scene)
        est = VioEstimator(sim.camera, sim.T_imu_cam, cfg)
        T0 = sim.T_world_imu[0]
        first = ImuState(
            int(sim.stamps_ns[0]) + sim.config.timeshift_ns,
            T0[:3, :3],
            T0[:3, 3],
            sim.v_world_imu_m_s[0],
            sim.bias_gyro_rad_s[0],
            sim.bias_accel_m_s2[0],
        )
        est.start_at(State(first, initial_covariance(T0[:3, :3], start_cfg, 1e-3)))
        pending: list[object] = []
        out: list[VioEstimate] = []
        for kind, obj in sim.stream():
            if kind == "imu" and isinstance(obj, ImuSample):
                est.feed_imu(obj)
            else:
                pending.append(obj)
            while pending and est.imu_covers(pending[0].stamp_ns):  # type: ignore[attr-defined]
                e = est.feed_features(pending.pop(0))  # type: ignore[arg-type]
                if e is not None:
                    out.append(e)
        T = np.stack([e.T_world_imu for e in out])
        stamps = np.array([e.stamp_ns for e in out], dtype=np.int64)
        G = sim.T_world_imu
        ref = _trajectory(sim.stamps_ns, G, "truth")
        traj = _trajectory(stamps, T, "vio")
        cov = np.stack([estimate_covariance_world(e, np.eye(4)) for e in out])
        results.append(evaluate_consistency(traj, cov, ref, ConsistencyConfig(align="none")))
        tm = evaluate_trajectory(traj, ref, TrajectoryEvalConfig(align="se3"))
        ates.append(tm.ate_m.rmse)
        path_m = float(tm.reference.path_lengths_m()[-1])
        resets.append(est.resets)
    return MonteCarloRun(
        motion,
        seconds,
        tuple(seeds),
        tuple(results),
        tuple(ates),
        path_m,
        tuple(resets),
        monte_carlo_nees(results, by="index"),
    )
