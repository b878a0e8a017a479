"""Trajectory metrics against evo: association, Umeyama alignment, ATE and RPE.

Must show 1 of issue 5: ATE and RPE agree with evo to 1e-6 m on generated trajectories
(noisy, time-shifted, different rates, gaps) and on the real trajectories evo ships
(TUM fr1/xyz, EuRoC V1_02) when ../shared/data is present.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from percept.errors import EvalError
from percept.eval.trajectory import (
    Trajectory,
    TrajectoryEvalConfig,
    absolute_errors,
    align_trajectory,
    associate,
    evaluate_trajectory,
    read_euroc_csv,
    read_kitti_poses,
    read_trajectory,
    read_tum,
    rpe_pairs,
    umeyama,
    write_trajectory,
    yaw_alignment,
)

from .generators import T0_NS, S, make_pair, smooth_pose

evo_metrics = pytest.importorskip("evo.core.metrics")
evo_sync = pytest.importorskip("evo.core.sync")
evo_traj = pytest.importorskip("evo.core.trajectory")
evo_file = pytest.importorskip("evo.tools.file_interface")
evo_geometry = pytest.importorskip("evo.core.geometry")

TOL_M = 1e-6  # the bar, metres
TOL_DEG = 1e-6


def to_evo(traj: Trajectory) -> object:
    """The same poses as an evo trajectory (stamps in float seconds, quaternions wxyz)."""
    if traj.stamps_ns is None:
        return evo_traj.PosePath3D(poses_se3=list(traj.matrices()))
    quat_wxyz = traj.quat_xyzw[:, [3, 0, 1, 2]]
    return evo_traj.PoseTrajectory3D(
        traj.positions_m.copy(), quat_wxyz, traj.stamps_ns.astype(np.float64) / S
    )


def evo_results(
    ref: object, est: object, cfg: TrajectoryEvalConfig
) -> tuple[object, object, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What evo_ape / evo_rpe compute for ``cfg``: (ref, est, ape t, ape r, rpe t, rpe r)."""
    ref, est = copy.deepcopy(ref), copy.deepcopy(est)
    if isinstance(ref, evo_traj.PoseTrajectory3D):
        ref, est = evo_sync.associate_trajectories(
            ref, est, max_diff=cfg.max_diff_ns / S, offset_2=cfg.offset_ns / S
        )
    if cfg.align in ("se3", "sim3"):
        est.align(ref, correct_scale=cfg.align == "sim3", n=cfg.n_to_align)
    elif cfg.align == "origin":
        est.align_origin(ref)
    rel = evo_metrics.PoseRelation
    ape_t = evo_metrics.APE(rel.translation_part)
    ape_t.process_data((ref, est))
    ape_r = evo_metrics.APE(rel.rotation_angle_deg)
    ape_r.process_data((ref, est))
    unit = evo_metrics.Unit.frames if cfg.delta_unit == "frames" else evo_metrics.Unit.meters
    delta = int(cfg.delta) if cfg.delta_unit == "frames" else cfg.delta
    rpes = []
    for relation in (rel.translation_part, rel.rotation_angle_deg):
        rpe = evo_metrics.RPE(relation, delta, unit, cfg.rel_delta_tol, cfg.all_pairs)
        rpe.process_data((ref, est))
        rpes.append(rpe)
    return ref, est, ape_t.error, ape_r.error, rpes[0].error, rpes[1].error


def assert_agrees_with_evo(
    gt: Trajectory, est: Trajectory, cfg: TrajectoryEvalConfig
) -> dict[str, float]:
    """Score with both and check every number; returns the largest differences."""
    ours = evaluate_trajectory(est, gt, cfg)
    ref_e, est_e, ape_t, ape_r, rpe_t, rpe_r = evo_results(to_evo(gt), to_evo(est), cfg)
    if ours.reference.stamps_ns is not None:
        np.testing.assert_allclose(ours.reference.stamps_ns / S, ref_e.timestamps, atol=1e-6)
        np.testing.assert_allclose(ours.estimate.stamps_ns / S, est_e.timestamps, atol=1e-6)
    np.testing.assert_allclose(ours.estimate.positions_m, est_e.positions_xyz, atol=TOL_M)
    assert ours.ate_errors_m.shape == ape_t.shape
    assert ours.rpe_errors_m.shape == rpe_t.shape
    diffs = {
        "ate_per_pose": float(np.abs(ours.ate_errors_m - ape_t).max()),
        "ate_rot_per_pose_deg": float(np.abs(ours.ate_rot_errors_deg - ape_r).max()),
        "rpe_per_pair": float(np.abs(ours.rpe_errors_m - rpe_t).max()),
        "rpe_rot_per_pair_deg": float(np.abs(ours.rpe_rot_errors_deg - rpe_r).max()),
    }
    stats = evo_metrics.StatisticsType
    ape_metric = evo_metrics.APE(evo_metrics.PoseRelation.translation_part)
    ape_metric.error = ape_t
    for name in ("rmse", "mean", "median", "std", "min", "max"):
        evo_value = ape_metric.get_statistic(stats(name))
        diffs[f"ate_{name}"] = abs(getattr(ours.ate_m, name) - evo_value)
    rpe_metric = evo_metrics.RPE()
    rpe_metric.error = rpe_t
    for name in ("rmse", "mean", "median", "std", "min", "max"):
        evo_value = rpe_metric.get_statistic(stats(name))
        diffs[f"rpe_{name}"] = abs(getattr(ours.rpe_trans_m, name) - evo_value)
    for key, value in diffs.items():
        tol = TOL_DEG if key.endswith("_deg") else TOL_M
        assert value <= tol, f"{key}: |ours - evo| = {value:.3g} > {tol:g}"
    return diffs


# --------------------------------------------------------------------------- generated

GENERATED = [
    pytest.param({}, TrajectoryEvalConfig(align="se3"), id="se3-1frame"),
    pytest.param({}, TrajectoryEvalConfig(align="none", delta=5), id="unaligned-5frames"),
    pytest.param(
        {"scale": 0.4}, TrajectoryEvalConfig(align="sim3", delta=1.0, delta_unit="m"), id="sim3-1m"
    ),
    pytest.param(
        {"offset_s": 0.25},
        TrajectoryEvalConfig(offset_ns=250_000_000, align="se3", delta=10, all_pairs=True),
        id="offset-allpairs-10frames",
    ),
    pytest.param(
        {"gt_rate_hz": 200.0, "est_rate_hz": 20.0, "gap_s": (6.0, 8.5)},
        TrajectoryEvalConfig(align="se3", delta=0.5, delta_unit="m", all_pairs=True),
        id="rates-gap-allpairs-0.5m",
    ),
    pytest.param(
        {"est_rate_hz": 150.0},
        TrajectoryEvalConfig(
            max_diff_ns=3_000_000, align="se3", n_to_align=200, delta=2.0, delta_unit="m"
        ),
        id="denser-estimate-n_to_align",
    ),
    pytest.param({}, TrajectoryEvalConfig(align="origin", delta=3), id="origin"),
]


@pytest.mark.parametrize(("pair_kwargs", "cfg"), GENERATED)
def test_generated_trajectories_agree_with_evo_to_1e6_m(
    pair_kwargs: dict[str, object], cfg: TrajectoryEvalConfig
) -> None:
    gt, est = make_pair(7, **pair_kwargs)  # type: ignore[arg-type]
    diffs = assert_agrees_with_evo(gt, est, cfg)
    assert max(diffs.values()) < 1e-9  # in fact at rounding level


def test_association_matches_evo_on_unsorted_stamps() -> None:
    gt, est = make_pair(3, seconds=4.0)
    perm = np.random.default_rng(0).permutation(len(gt))
    shuffled = gt.take(perm)
    ref, mine = associate(shuffled, est, max_diff_ns=10_000_000)
    ref_e, est_e = evo_sync.associate_trajectories(to_evo(shuffled), to_evo(est), max_diff=0.01)
    np.testing.assert_array_equal(ref.stamps_ns / S, ref_e.timestamps)
    np.testing.assert_allclose(mine.positions_m, est_e.positions_xyz, atol=1e-12)


def test_association_skips_estimates_in_a_ground_truth_gap() -> None:
    gt, est = make_pair(1, gap_s=(5.0, 7.0))
    ref, matched = associate(gt, est)
    t = (matched.stamps_ns - T0_NS) / S
    assert len(matched) < len(est)
    assert not np.any((t > 5.02) & (t < 6.98))
    assert np.all(np.abs(ref.stamps_ns - matched.stamps_ns) <= 10_000_000)


def test_association_raises_on_disjoint_time_bases() -> None:
    gt, est = make_pair(2, seconds=3.0)
    shifted = Trajectory(est.positions_m, est.rotations, est.stamps_ns + 100 * S, "est")
    with pytest.raises(EvalError, match="no matching stamps"):
        associate(gt, shifted)


def test_unstamped_paths_pair_by_index_and_need_equal_length() -> None:
    gt, _ = make_pair(0, seconds=2.0)
    path = Trajectory(gt.positions_m, gt.rotations, None, "kitti")
    ref, _ = associate(path, path)
    assert len(ref) == len(path)
    with pytest.raises(EvalError, match="same length"):
        associate(path, path.take(np.arange(10)))


# --------------------------------------------------------------------------- alignment


def test_umeyama_matches_evo_with_and_without_scale() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3))
    R = Rotation.random(random_state=5).as_matrix()
    y = 1.7 * x @ R.T + [1.0, -2.0, 3.0] + rng.normal(0, 0.01, x.shape)
    for with_scale in (False, True):
        ours = umeyama(x, y, with_scale=with_scale)
        r_e, t_e, s_e = evo_geometry.umeyama_alignment(x.T, y.T, with_scale)
        np.testing.assert_allclose(ours.rotation, r_e, atol=1e-12)
        np.testing.assert_allclose(ours.translation_m, t_e, atol=1e-12)
        assert ours.scale == pytest.approx(s_e, abs=1e-12)


def test_umeyama_raises_on_collinear_points() -> None:
    line = np.outer(np.arange(10.0), [1.0, 2.0, 3.0])
    with pytest.raises(EvalError, match="degenerate"):
        umeyama(line, line + 1.0)


def test_yaw_alignment_recovers_yaw_and_translation_exactly() -> None:
    gt, _ = make_pair(0, seconds=10.0)
    R = Rotation.from_euler("z", 73.0, degrees=True)
    moved = Trajectory(
        R.inv().apply(gt.positions_m - [4.0, -1.0, 0.5]),
        (R.inv() * Rotation.from_matrix(gt.rotations)).as_matrix(),
        gt.stamps_ns,
    )
    aligned, tf = align_trajectory(moved, gt, "4dof")
    assert Rotation.from_matrix(tf.rotation).as_euler("zyx", degrees=True)[0] == pytest.approx(
        73.0, abs=1e-9
    )
    np.testing.assert_allclose(tf.translation_m, [4.0, -1.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(aligned.positions_m, gt.positions_m, atol=1e-9)
    trans, rot = absolute_errors(gt, aligned)
    assert trans.max() < 1e-9
    assert rot.max() < 1e-6


def test_yaw_alignment_is_the_least_squares_yaw() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(80, 3))
    y = Rotation.from_euler("zyx", [0.7, 0.05, -0.04]).apply(x) + rng.normal(0, 0.05, x.shape)
    tf = yaw_alignment(x, y)

    def cost(yaw: float) -> float:
        Rz = Rotation.from_euler("z", yaw).as_matrix()
        xc, yc = x - x.mean(0), y - y.mean(0)
        return float(np.sum((yc - xc @ Rz.T) ** 2))

    best = Rotation.from_matrix(tf.rotation).as_euler("zyx")[0]
    scan = np.linspace(-np.pi, np.pi, 20001)
    assert cost(best) <= min(cost(a) for a in scan) + 1e-12
    assert np.allclose(tf.rotation[2], [0.0, 0.0, 1.0])


def test_4dof_ate_is_between_se3_and_unaligned() -> None:
    gt, est = make_pair(11)
    # gravity-aligned estimate: only yaw and translation differ from the ground truth
    yaw = Rotation.from_euler("z", 1.1)
    est = Trajectory(
        yaw.apply(gt.positions_m) + np.array([2.0, 1.0, 0.0]),
        (yaw * Rotation.from_matrix(gt.rotations)).as_matrix(),
        gt.stamps_ns,
    )
    noisy = Trajectory(
        est.positions_m + np.random.default_rng(0).normal(0, 0.05, est.positions_m.shape),
        est.rotations,
        est.stamps_ns,
    )
    ate = {
        a: evaluate_trajectory(noisy, gt, TrajectoryEvalConfig(align=a)).ate_m.rmse  # type: ignore[arg-type]
        for a in ("none", "4dof", "se3")
    }
    assert ate["se3"] <= ate["4dof"] < ate["none"]
    assert ate["4dof"] == pytest.approx(0.05 * np.sqrt(3), rel=0.1)


# --------------------------------------------------------------------------- RPE pairs


def test_rpe_pairs_follow_evo_filters() -> None:
    filters = pytest.importorskip("evo.core.filters")
    gt, _ = make_pair(5, seconds=8.0)
    poses = list(gt.matrices())
    for delta, all_pairs in ((1, False), (7, False), (7, True)):
        ours = rpe_pairs(gt, delta, "frames", all_pairs=all_pairs)
        assert ours.tolist() == [
            list(p) for p in filters.filter_pairs_by_index(poses, delta, all_pairs)
        ]
    for delta, all_pairs in ((0.3, False), (1.5, False), (0.3, True), (1.5, True)):
        ours = rpe_pairs(gt, delta, "m", all_pairs=all_pairs, rel_delta_tol=0.1)
        theirs = filters.filter_pairs_by_path(poses, delta, delta * 0.1, all_pairs)
        assert ours.tolist() == [list(p) for p in theirs]


def test_rpe_pairs_with_a_stationary_stretch_take_the_earliest_pose() -> None:
    filters = pytest.importorskip("evo.core.filters")
    t = np.arange(0.0, 6.0, 0.1)
    pos, quat = smooth_pose(np.where(t < 2.0, t, np.where(t < 4.0, 2.0, t - 2.0)))
    traj = Trajectory.from_quaternions(pos, quat, (t * S).astype(np.int64))
    ours = rpe_pairs(traj, 0.5, "m", all_pairs=True)
    theirs = filters.filter_pairs_by_path(list(traj.matrices()), 0.5, 0.05, True)
    assert ours.tolist() == [list(p) for p in theirs]


def test_rpe_raises_when_delta_exceeds_the_trajectory() -> None:
    gt, _ = make_pair(0, seconds=1.0)
    with pytest.raises(EvalError, match="no pose pairs"):
        rpe_pairs(gt, 1000.0, "m")
    with pytest.raises(ValueError, match="integer"):
        rpe_pairs(gt, 1.5, "frames")


def test_perfect_estimate_scores_zero() -> None:
    gt, _ = make_pair(0, seconds=5.0)
    m = evaluate_trajectory(gt, gt, TrajectoryEvalConfig(align="se3", delta=1.0, delta_unit="m"))
    assert m.ate_m.max < 1e-9
    assert m.rpe_trans_m.max < 1e-9
    assert m.rpe_rot_deg.max < 1e-5


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="align"):
        TrajectoryEvalConfig(align="affine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="integer"):
        TrajectoryEvalConfig(delta=0.5)
    with pytest.raises(ValueError, match="n_to_align"):
        TrajectoryEvalConfig(n_to_align=0)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("fmt", ["tum", "euroc", "kitti"])
def test_files_round_trip_and_evo_reads_what_we_write(tmp_path: Path, fmt: str) -> None:
    _, est = make_pair(9, seconds=3.0)
    path = write_trajectory(tmp_path / f"traj.{fmt}", est, fmt)  # type: ignore[arg-type]
    back = read_trajectory(path, fmt)  # type: ignore[arg-type]
    np.testing.assert_allclose(back.positions_m, est.positions_m, atol=1e-12)
    np.testing.assert_allclose(back.rotations, est.rotations, atol=1e-12)
    if fmt == "kitti":
        assert back.stamps_ns is None
        theirs = evo_file.read_kitti_poses_file(str(path))
        np.testing.assert_allclose(np.array(theirs.poses_se3), est.matrices(), atol=1e-12)
        return
    np.testing.assert_array_equal(back.stamps_ns, est.stamps_ns)
    reader = (
        evo_file.read_tum_trajectory_file if fmt == "tum" else evo_file.read_euroc_csv_trajectory
    )
    theirs = reader(str(path))
    np.testing.assert_allclose(theirs.positions_xyz, est.positions_m, atol=1e-12)
    np.testing.assert_allclose(theirs.timestamps, est.stamps_ns / S, atol=1e-6)


def test_tum_reader_keeps_stamps_exact_to_the_nanosecond(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(
        "# comment\n1305031102.175304 1 2 3 0 0 0 1\n\n"
        "1.3050311022e9  1 2 3 0 0 0.7071068 0.7071068\n"
    )
    traj = read_tum(path)
    assert traj.stamps_ns.tolist() == [1305031102175304000, 1305031102200000000]
    np.testing.assert_allclose(traj.quat_xyzw[1], [0, 0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-7)


def test_readers_raise_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("0 1 2 3 0 0 0 1\n1 1 2 3 0 0 1\n")
    with pytest.raises(EvalError, match=r"bad\.txt:2: TUM rows have 8 values, got 7"):
        read_tum(bad)
    bad.write_text("0 1 2 3 0 0 0 0\n")
    with pytest.raises(EvalError, match="zero or invalid quaternion"):
        read_tum(bad)
    csv = tmp_path / "bad.csv"
    csv.write_text("#t,x\n100,1,2,3,1,0,0\n")
    with pytest.raises(EvalError, match="8 values or more"):
        read_euroc_csv(csv)
    kitti = tmp_path / "bad_kitti.txt"
    kitti.write_text("1 0 0 0 0 1 0 0 0 0 1 x\n")
    with pytest.raises(EvalError, match="non-numeric"):
        read_kitti_poses(kitti)
    with pytest.raises(EvalError, match="cannot read"):
        read_tum(tmp_path / "missing.txt")


# --------------------------------------------------------------------------- real data

REAL = [
    pytest.param(
        "freiburg1_xyz-groundtruth.txt",
        "tum",
        "freiburg1_xyz-rgbdslam.txt",
        TrajectoryEvalConfig(align="se3"),
        id="fr1xyz-rgbdslam-se3",
    ),
    pytest.param(
        "freiburg1_xyz-groundtruth.txt",
        "tum",
        "freiburg1_xyz-rgbdslam_drift.txt",
        TrajectoryEvalConfig(align="se3", delta=0.5, delta_unit="m", all_pairs=True),
        id="fr1xyz-drift-allpairs-0.5m",
    ),
    pytest.param(
        "freiburg1_xyz-groundtruth.txt",
        "tum",
        "freiburg1_xyz-ORB_kf_mono.txt",
        TrajectoryEvalConfig(align="sim3"),
        id="fr1xyz-orb-mono-sim3",
    ),
    pytest.param(
        "V102_groundtruth.csv",
        "euroc",
        "V102.txt",
        TrajectoryEvalConfig(align="se3", delta=1.0, delta_unit="m"),
        id="euroc-v102-se3-1m",
    ),
    pytest.param(
        "V102_groundtruth.csv",
        "euroc",
        "V102.txt",
        TrajectoryEvalConfig(align="none", delta=10, all_pairs=True),
        id="euroc-v102-unaligned",
    ),
]


@pytest.mark.parametrize(("gt_name", "gt_fmt", "est_name", "cfg"), REAL)
def test_real_trajectories_agree_with_evo_to_1e6_m(
    data_dir: Path, gt_name: str, gt_fmt: str, est_name: str, cfg: TrajectoryEvalConfig
) -> None:
    folder = data_dir / "evo_trajectories"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    gt = read_trajectory(folder / gt_name, gt_fmt)  # type: ignore[arg-type]
    est = read_tum(folder / est_name)
    # Our readers agree with evo's.
    gt_e = (
        evo_file.read_tum_trajectory_file(str(folder / gt_name))
        if gt_fmt == "tum"
        else evo_file.read_euroc_csv_trajectory(str(folder / gt_name))
    )
    np.testing.assert_allclose(gt.positions_m, gt_e.positions_xyz, atol=1e-12)
    np.testing.assert_allclose(gt.stamps_ns / S, gt_e.timestamps, rtol=0, atol=1e-6)
    diffs = assert_agrees_with_evo(gt, est, cfg)
    assert max(diffs.values()) < 1e-9
