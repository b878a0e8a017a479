"""NEES consistency: known covariances with errors drawn from them, bands, conventions.

Errors are drawn (seeded) from the covariance the estimate publishes, so the NEES of
each part is chi-square with 3 dof: its mean is 3, and errors twice as large give 12.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from percept import codecs
from percept.domain import Header, Odometry, PoseStamped
from percept.eval import report
from percept.eval.config import EvalConfig
from percept.eval.metrics import METRICS
from percept.eval.runner import evaluate
from percept.eval.trajectory import (
    ConsistencyConfig,
    ConsistencyResult,
    Trajectory,
    TrajectoryEvalConfig,
    chi2_band,
    evaluate_consistency,
    monte_carlo_nees,
    nees,
    rpy_covariance,
    write_nees_plot,
    write_sigma_plots,
)
from percept.eval.trajectory import consistency as consistency_module
from percept.geometry import so3
from percept.geometry.pose import Pose
from percept.io.bag import BagWriter

from .bags import _Writer
from .generators import T0_NS, S

RATE_HZ = 20.0


def tumbling(seconds: float = 30.0, rate_hz: float = RATE_HZ) -> Trajectory:
    """Ground truth that turns about every axis: a loop with yaw, roll and pitch swings."""
    t = np.arange(0.0, seconds, 1.0 / rate_hz)
    pos = np.stack([4 * np.cos(0.3 * t), 3 * np.sin(0.3 * t), 0.5 * np.sin(0.7 * t)], axis=1)
    ypr = np.stack([0.4 * t, 0.6 * np.sin(0.5 * t), 0.5 * np.cos(0.35 * t)], axis=1)
    rot = Rotation.from_euler("ZYX", ypr).as_matrix()
    return Trajectory(pos, rot, T0_NS + np.round(t * S).astype(np.int64), "gt")


def covariances(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 6, 6) anisotropic world-frame covariances (cm and sub-degree), correlated."""
    base = np.diag([0.02, 0.004, 0.01, 0.01, 0.001, 0.004]) ** 2
    A = rng.normal(0.0, 1.0, (n, 6, 6)) * np.array([0.004] * 3 + [0.001] * 3)[:, None]
    return base + A @ np.swapaxes(A, 1, 2)


def draw_estimate(
    gt: Trajectory, P_world: np.ndarray, rng: np.random.Generator, scale: float = 1.0
) -> Trajectory:
    """The estimate whose errors ``p_gt - p``, ``Log(R_gt R^T)`` are ``scale`` N(0, P)."""
    L = np.linalg.cholesky(P_world)
    e = scale * (L @ rng.normal(0.0, 1.0, (len(gt), 6, 1)))[:, :, 0]
    rot = so3.exp(-e[:, 3:]) @ gt.rotations
    return Trajectory(gt.positions_m - e[:, :3], rot, gt.stamps_ns, "est")


def in_odom_frame(est: Trajectory, P_world: np.ndarray) -> tuple[Trajectory, np.ndarray]:
    """The estimate and its covariance in an odom frame yawed 0.7 rad and shifted."""
    R_o = Rotation.from_euler("z", 0.7).as_matrix()
    pos = est.positions_m @ R_o.T + np.array([1.0, 2.0, -0.5])
    B = np.zeros((6, 6))
    B[:3, :3] = B[3:, 3:] = R_o
    return Trajectory(pos, R_o @ est.rotations, est.stamps_ns, "odom"), B @ P_world @ B.T


def run_seed(seed: int, scale: float = 1.0, align: str = "none") -> ConsistencyResult:
    rng = np.random.default_rng(seed)
    gt = tumbling(20.0)
    P = covariances(len(gt), rng)
    est = draw_estimate(gt, P, rng, scale)
    return evaluate_consistency(est, P, gt, ConsistencyConfig(align=align))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- building blocks


def test_chi2_band_is_the_chi_square_quantile_over_n() -> None:
    lo, hi = chi2_band(3)
    assert (lo, hi) == pytest.approx((0.2158, 9.3484), abs=1e-4)
    lo10, hi10 = chi2_band(3, 10)
    assert lo10 == pytest.approx(chi2.ppf(0.025, 30) / 10)
    assert hi10 == pytest.approx(chi2.ppf(0.975, 30) / 10)
    assert lo < lo10 < 3 < hi10 < hi  # averaging narrows the band around the dof
    assert chi2_band(3, 10, 0.99)[1] > hi10
    with pytest.raises(ValueError, match="dof and samples"):
        chi2_band(0)
    with pytest.raises(ValueError, match="confidence"):
        chi2_band(3, 1, 1.0)


def test_nees_matches_direct_and_is_nan_where_the_covariance_is_unusable() -> None:
    rng = np.random.default_rng(1)
    P = covariances(5, rng)[:, :3, :3]
    e = rng.normal(0.0, 0.01, (5, 3))
    P[3] = 0.0  # no covariance published
    P[4, 0, 0] = np.nan
    got = nees(e, P)
    direct = [float(e[i] @ np.linalg.inv(P[i]) @ e[i]) for i in range(3)]
    assert got[:3] == pytest.approx(direct, rel=1e-10)
    assert np.isnan(got[3:]).all()
    with pytest.raises(ValueError, match="covariances"):
        nees(e, P[:, :2, :2])


def test_rpy_covariance_is_the_jacobian_of_the_euler_angles() -> None:
    rng = np.random.default_rng(2)
    R = Rotation.from_euler("ZYX", [0.8, -0.4, 0.3]).as_matrix()
    h = 1e-7
    J = np.empty((3, 3))
    for k in range(3):
        d = np.zeros(3)
        d[k] = h
        ypr1 = Rotation.from_matrix(so3.exp(d) @ R).as_euler("ZYX")
        ypr0 = Rotation.from_matrix(R).as_euler("ZYX")
        J[:, k] = (ypr1 - ypr0)[::-1] / h  # roll, pitch, yaw per world-frame rotation
    P = covariances(1, rng)[0, 3:, 3:]
    assert rpy_covariance(R[None], P[None])[0] == pytest.approx(J @ P @ J.T, rel=1e-5)


# --------------------------------------------------------------------------- single run


@pytest.mark.parametrize("align", ["none", "4dof", "se3"])
def test_errors_drawn_from_the_covariance_give_nees_near_dof(align: str) -> None:
    r = run_seed(3, align=align)
    lo, hi = r.mean_band()
    assert r.valid.all()
    assert len(r) == 400
    for mean in (r.mean_nees_pos, r.mean_nees_rot):
        assert lo < mean < hi  # 2.84, 2.81 in [2.76, 3.24], the band of 400 frames
    assert r.fraction_inside("pos") == pytest.approx(0.95, abs=0.03)
    assert r.fraction_inside("rot") == pytest.approx(0.95, abs=0.03)
    # the ±σ are the covariance's diagonal, the errors about that size
    assert np.sqrt(np.mean(r.errors_pos_m**2, axis=0)) == pytest.approx(
        np.mean(r.sigmas_pos_m, axis=0), rel=0.15
    )


def test_errors_twice_too_large_give_four_times_the_dof() -> None:
    r = run_seed(3, scale=2.0, align="4dof")
    _, hi = r.mean_band()
    assert r.mean_nees_pos == pytest.approx(12.0, rel=0.12)
    assert r.mean_nees_rot == pytest.approx(12.0, rel=0.12)
    assert r.mean_nees_pos > hi
    assert r.mean_nees_rot > hi
    assert r.fraction_inside("pos") < 0.7
    doc = r.as_dict()
    assert doc["position"]["mean_inside_frame_band"] is False  # type: ignore[index]


def test_a_body_frame_covariance_is_caught_on_a_rotating_trajectory() -> None:
    rng = np.random.default_rng(4)
    gt = tumbling(20.0)
    # the estimator's right perturbation R = R_hat Exp(dtheta_b), dtheta_b ~ N(0, P_b)
    P_b = covariances(len(gt), rng)
    L = np.linalg.cholesky(P_b[:, 3:, 3:])
    d_b = (L @ rng.normal(0.0, 1.0, (len(gt), 3, 1)))[:, :, 0]
    est = Trajectory(gt.positions_m, gt.rotations @ so3.exp(-d_b), gt.stamps_ns, "est")
    P_b[:, :3, :3] = np.eye(3) * 1e-4  # no position error: any positive covariance
    # published in the parent frame as ROS says: R_hat P_b R_hat^T
    P_world = P_b.copy()
    P_world[:, 3:, 3:] = est.rotations @ P_b[:, 3:, 3:] @ np.swapaxes(est.rotations, 1, 2)
    cfg = ConsistencyConfig(align="none")
    right = evaluate_consistency(est, P_world, gt, cfg)
    wrong = evaluate_consistency(est, P_b, gt, cfg)
    lo, hi = right.mean_band()
    assert lo < right.mean_nees_rot < hi
    assert wrong.mean_nees_rot > 2 * hi  # 12.1 against 3.1: the anisotropy lands on other axes
    assert right.mean_nees_pos == wrong.mean_nees_pos == 0.0


def test_a_yaw_and_translation_offset_is_aligned_away() -> None:
    rng = np.random.default_rng(5)
    gt = tumbling(20.0)
    P = covariances(len(gt), rng)
    est = draw_estimate(gt, P, rng)
    odom, P_odom = in_odom_frame(est, P)
    ref = evaluate_consistency(est, P, gt, ConsistencyConfig(align="none"))
    for align in ("4dof", "se3"):
        got = evaluate_consistency(odom, P_odom, gt, ConsistencyConfig(align=align))  # type: ignore[arg-type]
        yaw = Rotation.from_matrix(got.alignment.rotation).as_euler("ZYX")[0]
        assert yaw == pytest.approx(-0.7, abs=0.01)
        assert got.mean_nees_pos == pytest.approx(ref.mean_nees_pos, rel=0.03)
        assert got.mean_nees_rot == pytest.approx(ref.mean_nees_rot, rel=0.03)
        lo, hi = got.mean_band()
        assert lo < got.mean_nees_pos < hi
        assert lo < got.mean_nees_rot < hi
    # unaligned, the 0.7 rad yaw and the metres of offset are errors far beyond 3 sigma
    bad = evaluate_consistency(odom, P_odom, gt, ConsistencyConfig(align="none"))
    assert bad.mean_nees_pos > 1e3
    assert bad.mean_nees_rot > 1e3


def test_association_keeps_each_pose_with_its_own_covariance() -> None:
    rng = np.random.default_rng(6)
    gt = tumbling(10.0)
    P = covariances(len(gt), rng)
    est = draw_estimate(gt, P, rng)
    # the estimate at every other frame, half a millisecond late; ground truth complete
    keep = np.arange(0, len(gt), 2)
    late = Trajectory(
        est.positions_m[keep], est.rotations[keep], est.stamps_ns[keep] + 500_000, "est"
    )
    full = evaluate_consistency(est, P, gt, ConsistencyConfig(align="none"))
    half = evaluate_consistency(late, P[keep], gt, ConsistencyConfig(align="none"))
    assert half.stamps_ns == pytest.approx(gt.stamps_ns[keep])
    assert half.nees_pos == pytest.approx(full.nees_pos[keep], rel=1e-9)
    assert half.nees_rot == pytest.approx(full.nees_rot[keep], rel=1e-9)
    with pytest.raises(ValueError, match=r"\(200, 6, 6\)"):
        evaluate_consistency(late, P, gt)
    backwards = Trajectory(est.positions_m, est.rotations, est.stamps_ns[::-1], "est")
    with pytest.raises(ValueError, match="increase"):
        evaluate_consistency(backwards, P, gt)


# --------------------------------------------------------------------------- Monte Carlo


def test_monte_carlo_average_is_inside_the_band_and_errors_x2_are_not() -> None:
    good = monte_carlo_nees([run_seed(100 + k, align="4dof") for k in range(12)])
    bad = monte_carlo_nees([run_seed(100 + k, 2.0, align="4dof") for k in range(12)])
    lo, hi = good.frame_band()
    assert (lo, hi) == pytest.approx((1.778, 4.536), abs=1e-3)  # chi2(36) / 12
    assert good.runs == 12
    assert good.frames == 400
    doc = good.as_dict()
    for part, avg in (("position", good.average_pos), ("orientation", good.average_rot)):
        info = doc[part]
        assert isinstance(info, dict)
        assert info["inside_frame_band"]
        assert info["inside_total_band"]
        assert info["frames_inside_frame_band"] == pytest.approx(0.95, abs=0.03)
        assert avg == pytest.approx(3.0, abs=0.05)
    assert bad.average_pos == pytest.approx(12.0, rel=0.05)
    assert bad.fraction_inside_pos < 0.01
    assert bad.fraction_inside_rot < 0.01
    assert not bad.as_dict()["position"]["inside_frame_band"]  # type: ignore[index]


def test_monte_carlo_associates_on_common_stamps_or_index() -> None:
    a, b = run_seed(7), run_seed(8)
    assert a.stamps_ns is not None
    cut = ConsistencyResult(
        a.stamps_ns[10:],
        a.nees_pos[10:],
        a.nees_rot[10:],
        a.errors_pos_m[10:],
        a.errors_rot_rad[10:],
        a.sigmas_pos_m[10:],
        a.errors_rpy_rad[10:],
        a.sigmas_rpy_rad[10:],
    )
    by_stamp = monte_carlo_nees([cut, b])
    assert by_stamp.stamps_ns == pytest.approx(a.stamps_ns[10:])
    assert by_stamp.nees_pos[1] == pytest.approx(b.nees_pos[10:])
    by_index = monte_carlo_nees([cut, b], by="index")
    assert by_index.frames == len(cut)
    assert by_index.nees_pos[1] == pytest.approx(b.nees_pos[: len(cut)])
    with pytest.raises(ValueError, match="at least one"):
        monte_carlo_nees([])
    with pytest.raises(ValueError, match="by must be"):
        monte_carlo_nees([a], by="time")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- plots


def test_plots_are_written_with_and_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = run_seed(9, align="4dof")
    mc = monte_carlo_nees([r, run_seed(10, align="4dof")])
    for folder in ("mpl", "cv"):
        out = tmp_path / folder
        out.mkdir()
        if folder == "cv":
            monkeypatch.setattr(consistency_module, "_matplotlib_figure", lambda: None)
        paths = [
            *write_sigma_plots(r, out),
            write_nees_plot(r, out / "nees.png"),
            mc.write_plot(out / "mc.png"),
        ]
        for path in paths:
            image = cv2.imread(str(path))
            assert image is not None, path
            assert image.shape[0] > 200, path
        assert sorted(p.name for p in out.iterdir()) == [
            "consistency_orientation.png",
            "consistency_position.png",
            "mc.png",
            "nees.png",
        ]


# --------------------------------------------------------------------------- percept eval


def write_pose_bags(folder: Path, *, with_covariance: bool) -> tuple[Path, Path, Trajectory]:
    """Ground truth at 40 Hz; Odometry at 20 Hz in a yawed odom frame, errors ~ N(0, P)."""
    rng = np.random.default_rng(11)
    gt = tumbling(20.0)
    P = covariances(len(gt), rng)
    odom, P_odom = in_odom_frame(draw_estimate(gt, P, rng), P)
    fine = tumbling(20.0, 2 * RATE_HZ)  # truth at the odometry stamps and between them
    assert np.allclose(fine.positions_m[::2], gt.positions_m)
    run_path, gt_path = folder / "run.mcap", folder / "gt.mcap"
    with BagWriter(run_path, overwrite=True) as rb, BagWriter(gt_path, overwrite=True) as gb:
        run, truth = _Writer(rb), _Writer(gb)
        assert fine.stamps_ns is not None
        assert odom.stamps_ns is not None
        for stamp, pos, quat in zip(
            fine.stamps_ns.tolist(), fine.positions_m, fine.quat_xyzw, strict=True
        ):
            msg_gt = PoseStamped(Header(stamp, "world"), Pose(pos, quat))
            truth.put("/ground_truth/pose", codecs.POSE_STAMPED, msg_gt, stamp)
        for i in range(len(odom)):
            stamp = int(odom.stamps_ns[i])
            msg = Odometry(
                Header(stamp, "odom"),
                "base_link",
                Pose(odom.positions_m[i], Rotation.from_matrix(odom.rotations[i]).as_quat()),
                P_odom[i] if with_covariance else np.zeros((6, 6)),
            )
            run.put("/odom", codecs.ODOMETRY, msg, stamp + 1_000_000)
    return run_path, gt_path, odom


def test_percept_eval_scores_nees_when_odometry_has_a_covariance(tmp_path: Path) -> None:
    run, gt, _ = write_pose_bags(tmp_path, with_covariance=True)
    cfg = EvalConfig(trajectory=TrajectoryEvalConfig(delta=2.0, delta_unit="m"))
    result = evaluate(run, gt, cfg)
    cr = result.consistency
    assert cr is not None
    assert len(cr) == 400
    assert cr.config.align == "4dof"
    doc = result.metrics()
    nees_doc = doc["consistency"]
    assert isinstance(nees_doc, dict)
    lo, hi = chi2_band(3, 400)
    assert lo < nees_doc["position"]["nees_mean"] < hi
    assert lo < nees_doc["orientation"]["nees_mean"] < hi
    assert nees_doc["frame_band"] == pytest.approx([0.2158, 9.3484], abs=1e-4)
    rows = {name: value for m in METRICS for name, value, _ in m.summary(result)}
    assert "RPE trans rmse (delta 2 m)" in rows  # RPE per distance beside the NEES
    assert float(rows["NEES position mean (4dof)"]) == pytest.approx(cr.mean_nees_pos, rel=1e-3)
    assert rows["NEES 95% band (one frame)"] == "[0.2158, 9.348]"
    html = report.write_outputs(result, tmp_path / "out").read_text()
    assert "Consistency (NEES)" in html
    for name in ("consistency_nees.png", "consistency_position.png", "consistency_orientation.png"):
        assert name in html
        assert (tmp_path / "out" / name).is_file()


def test_percept_eval_without_a_covariance_reports_no_nees(tmp_path: Path) -> None:
    run, gt, _ = write_pose_bags(tmp_path, with_covariance=False)
    result = evaluate(run, gt)
    assert result.trajectory is not None
    assert result.consistency is None
    doc = result.metrics()
    assert "consistency" not in doc
    assert "consistency" not in doc.get("skipped", {})  # type: ignore[operator]
    assert not any("NEES" in name for m in METRICS for name, _, _ in m.summary(result))
    html = report.write_outputs(result, tmp_path / "out").read_text()
    assert "NEES" not in html
