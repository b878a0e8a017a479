"""Trajectory metric: ATE/RPE of the run's odometry against the ground-truth pose.

When the run's Odometry carries a pose covariance (any non-zero entry), its consistency
is scored as well: NEES of position and orientation per frame after a 4-DoF alignment
(:mod:`percept.eval.trajectory.consistency`), with the ±3σ plots in the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import Odometry, PoseStamped
from percept.errors import EvalError
from percept.eval.frames import FrameScore
from percept.eval.html import figure, fmt, table
from percept.eval.metrics.base import Collector, Input, Metric, RunContext, SummaryRow
from percept.eval.pictures import line_plot
from percept.eval.trajectory import (
    ConsistencyConfig,
    Trajectory,
    evaluate_consistency,
    evaluate_trajectory,
    write_nees_plot,
    write_sigma_plots,
)
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from pathlib import Path

    from percept.eval.result import EvalResult

__all__ = ["GT_POSE", "ODOMETRY", "TrajectoryMetric"]

_POSES = frozenset({codecs.ODOMETRY, codecs.POSE_STAMPED})
ODOMETRY = Input("odometry", ("/odom", "/vio/odometry", "/odometry", "/vio/odom"), _POSES)
GT_POSE = Input(
    "gt_pose",
    ("/ground_truth/pose", "/ground_truth/odom", "/ground_truth/odometry"),
    _POSES,
    ground_truth=True,
)

#: (stamp_ns, position (3,), quat_xyzw (4,), pose covariance (6, 6) or None)
_PoseRow = tuple[
    int, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None
]


def _trajectory(rows: list[_PoseRow], name: str) -> tuple[Trajectory, npt.NDArray[np.float64]]:
    """The poses sorted by stamp, one per stamp, and their (N, 6, 6) covariances (0: none)."""
    rows = sorted(rows, key=lambda r: r[0])
    stamps = np.array([r[0] for r in rows], dtype=np.int64)
    keep = np.concatenate([[True], np.diff(stamps) > 0])  # one pose per stamp
    pos = np.array([r[1] for r in rows])[keep]
    quat = np.array([r[2] for r in rows])[keep]
    zero = np.zeros((6, 6))
    cov = np.array([zero if r[3] is None else r[3] for r in rows])[keep]
    return Trajectory.from_quaternions(pos, quat, stamps[keep], name), cov


class _Poses(Collector):
    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.run: list[_PoseRow] = []
        self.gt: list[_PoseRow] = []
        self.frames = ["", ""]

    def add(self, key: str, obj: object) -> None:
        if isinstance(obj, Odometry | PoseStamped):
            cov = obj.pose_covariance if isinstance(obj, Odometry) else None
            row = (obj.header.stamp_ns, obj.pose.translation_m, obj.pose.quat_xyzw, cov)
            (self.run if key == ODOMETRY.key else self.gt).append(row)
            self.frames[0 if key == ODOMETRY.key else 1] = obj.header.frame_id

    def finish(self, result: EvalResult) -> None:
        gt_traj: Trajectory | None = None
        if self.gt:
            gt_traj, _ = _trajectory(self.gt, result.topics.get(GT_POSE.key, "ground truth"))
        self.context.gt_trajectory = gt_traj
        self.context.pose_frames = (self.frames[0], self.frames[1])
        if not self.run or gt_traj is None:
            result.skipped["trajectory"] = "no poses decoded on the run or ground-truth topic"
            return
        est, cov = _trajectory(self.run, result.topics[ODOMETRY.key])
        cfg = self.context.config.trajectory
        try:
            result.trajectory = evaluate_trajectory(est, gt_traj, cfg)
        except EvalError as err:
            result.skipped["trajectory"] = str(err)
            return
        if np.any(cov != 0.0):
            nees_cfg = ConsistencyConfig(
                max_diff_ns=cfg.max_diff_ns, offset_ns=cfg.offset_ns, n_to_align=cfg.n_to_align
            )
            try:
                result.consistency = evaluate_consistency(est, cov, gt_traj, nees_cfg)
            except EvalError as err:
                result.skipped["consistency"] = str(err)
        tm = result.trajectory
        assert tm.reference.stamps_ns is not None
        result.frames["trajectory"] = [
            FrameScore(int(s), {"ate_m": float(e), "ate_rot_deg": float(r)})
            for s, e, r in zip(
                tm.reference.stamps_ns, tm.ate_errors_m, tm.ate_rot_errors_deg, strict=True
            )
        ]


class TrajectoryMetric(Metric):
    """ATE and RPE as evo computes them, NEES as ov_eval (:mod:`percept.eval.trajectory`)."""

    name = "trajectory"
    run_inputs = (ODOMETRY,)
    gt_input = GT_POSE
    split_metrics = ("ate_m",)
    worst_metrics = ("ate_m",)

    def collector(self, context: RunContext) -> Collector:
        """Collects the run's and the true poses."""
        return _Poses(context)

    def to_json(self, result: EvalResult) -> dict[str, object]:
        """``trajectory``: ATE/RPE statistics, alignment and settings; ``consistency``: NEES."""
        if result.trajectory is None:
            return {}
        doc: dict[str, object] = {"trajectory": result.trajectory.as_dict()}
        if result.consistency is not None:
            doc["consistency"] = result.consistency.as_dict()
        return doc

    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """ATE statistics, RPE rmse, matched poses (Sim(3) scale, NEES when published)."""
        rows: list[SummaryRow] = []
        tm = result.trajectory
        if tm is not None:
            align = tm.config.align
            for name in ("rmse", "mean", "median", "std", "min", "max"):
                rows.append((f"ATE {name} ({align})", fmt(getattr(tm.ate_m, name)), "m"))
            unit = "frames" if tm.config.delta_unit == "frames" else "m"
            rows.append(
                (
                    f"RPE trans rmse (delta {tm.config.delta:g} {unit})",
                    fmt(tm.rpe_trans_m.rmse),
                    "m",
                )
            )
            rows.append(("RPE rot rmse", fmt(tm.rpe_rot_deg.rmse), "deg"))
            rows.append(("matched poses", str(len(tm.reference)), ""))
            if align == "sim3":
                rows.append(("Sim(3) scale", fmt(tm.alignment.scale, 6), ""))
        cr = result.consistency
        if tm is not None and cr is not None:
            lo, hi = cr.frame_band()
            band = f"{cr.config.confidence:.0%}"
            rows += [
                (f"NEES position mean ({cr.config.align})", fmt(cr.mean_nees_pos), "dof 3"),
                (f"NEES orientation mean ({cr.config.align})", fmt(cr.mean_nees_rot), "dof 3"),
                (f"NEES {band} band (one frame)", f"[{fmt(lo)}, {fmt(hi)}]", ""),
                ("NEES position frames inside", fmt(100 * cr.fraction_inside("pos")), "%"),
                ("NEES orientation frames inside", fmt(100 * cr.fraction_inside("rot")), "%"),
            ]
        return rows

    def section(self, result: EvalResult, out_dir: Path) -> str:
        """Statistics, top view and error-over-time plots, worst poses."""
        tm = result.trajectory
        if tm is None:
            return ""
        ref, est = tm.reference, tm.estimate
        if ref.stamps_ns is not None and result.frames.get("trajectory"):
            index = {int(s): i for i, s in enumerate(ref.stamps_ns)}
            picks = result.worst("trajectory", "ate_m", 5)
            worst = np.array([index[f.stamp_ns] for f in picks], dtype=np.int64)
        else:
            worst = np.argsort(-tm.ate_errors_m, kind="stable")[:5]
        top = line_plot(
            out_dir / "trajectory_top.png",
            [
                (ref.positions_m[:, 0], ref.positions_m[:, 1], "ground truth"),
                (est.positions_m[:, 0], est.positions_m[:, 1], f"estimate ({tm.config.align})"),
            ],
            title="trajectory, top view",
            xlabel="x [m]",
            ylabel="y [m]",
            equal=True,
            markers=(est.positions_m[worst, 0], est.positions_m[worst, 1], "worst ATE"),
        )
        if ref.stamps_ns is not None:
            t = (ref.stamps_ns - ref.stamps_ns[0]) / NS_PER_S
            t_rpe = t[tm.rpe_pairs[:, 1]]
            xlabel = "time [s]"
        else:
            t = np.arange(len(ref), dtype=np.float64)
            t_rpe = t[tm.rpe_pairs[:, 1]]
            xlabel = "pose index"
        err = line_plot(
            out_dir / "trajectory_error.png",
            [(t, tm.ate_errors_m, "ATE"), (t_rpe, tm.rpe_errors_m, "RPE translation")],
            title="error over time",
            xlabel=xlabel,
            ylabel="error [m]",
            markers=(t[worst], tm.ate_errors_m[worst], "worst ATE"),
        )
        rows = [
            [
                name,
                getattr(tm.ate_m, name),
                getattr(tm.rpe_trans_m, name),
                getattr(tm.ate_rot_deg, name),
                getattr(tm.rpe_rot_deg, name),
            ]
            for name in ("rmse", "mean", "median", "std", "min", "max")
        ]
        worst_rows = [[f"{t[i]:.3f}", tm.ate_errors_m[i]] for i in worst]
        return (
            "<h2>Trajectory</h2>"
            f"<p>{len(tm.reference)} of {tm.estimate_poses} estimated poses associated with ground "
            f"truth ({tm.reference_poses} poses) within {tm.config.max_diff_ns / 1e6:g} ms; "
            f"alignment {tm.config.align}, scale {tm.alignment.scale:.6g}; RPE delta "
            f"{tm.config.delta:g} {tm.config.delta_unit}"
            f"{' (all pairs)' if tm.config.all_pairs else ''}.</p>"
            + table(["stat", "ATE [m]", "RPE trans [m]", "ATE rot [deg]", "RPE rot [deg]"], rows)
            + figure(top.name, "aligned estimate and ground truth, x-y; red: worst ATE poses")
            + figure(err.name, "ATE per pose and RPE per pair over time")
            + "<h3>Worst poses</h3>"
            + table([xlabel, "ATE [m]"], worst_rows)
            + _consistency_section(result, out_dir)
        )


def _consistency_section(result: EvalResult, out_dir: Path) -> str:
    """NEES table, NEES over time and the ±3σ plots; empty without a covariance."""
    cr = result.consistency
    if cr is None:
        return ""
    lo, hi = cr.frame_band()
    mlo, mhi = cr.mean_band()
    nees_png = write_nees_plot(cr, out_dir / "consistency_nees.png")
    pos_png, rot_png = write_sigma_plots(cr, out_dir, "consistency")
    valid = cr.valid
    parts: tuple[tuple[str, npt.NDArray[np.float64], Literal["pos", "rot"]], ...] = (
        ("position", cr.nees_pos, "pos"),
        ("orientation", cr.nees_rot, "rot"),
    )
    rows = [
        [
            name,
            float(np.mean(values[valid])) if valid.any() else None,
            float(np.median(values[valid])) if valid.any() else None,
            100 * cr.fraction_inside(which),
        ]
        for name, values, which in parts
    ]
    return (
        "<h3>Consistency (NEES)</h3>"
        f"<p>Normalised estimation error squared of the published pose covariance over "
        f"{int(valid.sum())} of {len(cr)} associated frames, after a {cr.config.align} "
        f"alignment (covariance rotated with the estimate). A consistent estimator averages "
        f"3 per part; one frame lies in [{lo:.3g}, {hi:.3g}] with "
        f"{cr.config.confidence:.0%} probability (the mean of {int(valid.sum())} independent "
        f"frames would lie in [{mlo:.3g}, {mhi:.3g}], but a filter's errors are correlated "
        "in time).</p>"
        + table(["part", "mean NEES", "median NEES", "frames inside band [%]"], rows)
        + figure(nees_png.name, "NEES per frame with the one-frame chi-square band")
        + figure(pos_png.name, "position error per axis with its ±3σ envelope")
        + figure(rot_png.name, "roll, pitch, yaw error with its ±3σ envelope")
    )
