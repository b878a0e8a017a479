"""``percept vio``: the VIO offline on bags, beside IMU-only and stereo-only baselines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from percept.cli.common import add_command, name_value

__all__ = ["add_parser", "estimator_config", "run"]

EPILOG = """examples:
  percept synth --seconds 60 --seed 201 --out ground_201.mcap
  percept vio ground_201.mcap handheld_301.mcap --out out/vio
  percept bag from-euroc MH_01_easy/ --out mh01.mcap
  percept vio mh01.mcap --set update_sigma_px=1.5 --out out/mh01
  percept vio --monte-carlo handheld --runs 10 --seconds 60 --out out/nees

Each bag runs once through the estimator (stereo + IMU), the same front end without the
IMU (frame-to-frame stereo PnP) and IMU-only dead reckoning from the estimator's first
state, and is scored against its ground-truth pose topic: ATE after SE(3) and 4-DoF
alignment, ATE per path length, RPE per --rpe-delta metres, and the estimate's NEES.
OUT gets table.md, results.json and one top-view plot per bag. Parameters are the vio
node's (config/vio.yaml), so settings tuned here carry over to the robot.

--monte-carlo MOTION runs the estimator on --runs seeded feature-level simulations of
one trajectory (IMU and pixel noise, landmarks drawn per run), each started from the
true state, and reports the average NEES of position and orientation against the 95 %
chi-square band of the average of that many runs (nees.json, nees.png).
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "vio",
        "run the VIO offline on bags and score it beside IMU-only and stereo-only odometry",
        epilog=EPILOG,
        description="Run the visual-inertial odometry over stereo + IMU bags with ground "
        "truth, with the IMU-only and vision-only baselines, and tabulate ATE, RPE and NEES.",
    )
    p.add_argument("bags", type=Path, nargs="*", help="stereo + IMU bags with ground truth")
    p.add_argument(
        "--monte-carlo",
        choices=["ground", "handheld"],
        default=None,
        metavar="MOTION",
        help="NEES over seeded simulations of this motion instead of bags",
    )
    p.add_argument("--runs", type=int, default=10, help="Monte-Carlo runs (10)")
    p.add_argument("--seconds", type=float, default=60.0, help="Monte-Carlo run length (60)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--params",
        type=Path,
        default=None,
        metavar="FILE",
        help="ROS 2 parameter file with a vio node's parameters (config/vio.yaml layout)",
    )
    p.add_argument(
        "--set",
        type=name_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="vio parameter override applied last (repeatable): --set estimate_time_offset=false",
    )
    p.add_argument(
        "--rpe-delta", type=float, default=1.0, metavar="M", help="RPE distance, metres (1)"
    )
    p.set_defaults(run=run)


def _config(args: argparse.Namespace) -> object:
    return estimator_config(args.params, args.set)


def estimator_config(params_file: Path | None, overrides: list[tuple[str, object]]) -> object:
    """The estimator's config from a vio parameter file and ``--set`` overrides.

    Raises:
        ConfigError: an override that is not an estimator parameter.
    """
    from percept.errors import ConfigError
    from percept.nodes.vio import ESTIMATOR_PARAMETERS, estimator_config_from_params
    from percept.runtime.params import load_parameter_file

    names = {p.name for p in ESTIMATOR_PARAMETERS.parameters}
    params: dict[str, object] = {p.name: p.default for p in ESTIMATOR_PARAMETERS.parameters}
    if params_file is not None:
        for node_params in load_parameter_file(params_file).values():
            params.update({k: v for k, v in node_params.items() if k in names})
    for name, value in overrides:
        if name not in names:
            msg = f"--set {name}: not a vio estimator parameter (see config/vio.yaml)"
            raise ConfigError(msg)
        params[name] = value
    return estimator_config_from_params(params)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """Execute ``percept vio``."""
    from percept.errors import ConfigError
    from percept.tools.vio_eval import format_table, run_vio_bag, score_runs, write_top_view

    config = _config(args)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.monte_carlo is not None:
        return _monte_carlo(args, config, out)
    if not args.bags:
        msg = "give bags, or --monte-carlo MOTION"
        raise ConfigError(msg)
    rows = []
    for bag in args.bags:
        result = run_vio_bag(bag, config, progress=not args.quiet)  # type: ignore[arg-type]
        scores, consistency = score_runs(result, rpe_delta_m=args.rpe_delta)
        plot = write_top_view(result, out / f"{bag.stem}_top.png")
        rows.append((result, scores, consistency, plot))
    table = format_table(rows)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    doc = [
        {
            "bag": str(r.bag),
            "frames": r.frames,
            "estimates": len(r.estimates),
            "resets": r.resets,
            "time_offset_s": r.estimates[-1].time_offset_s if r.estimates else None,
            "bias_gyro_rad_s": r.estimates[-1].bias_gyro_rad_s.tolist() if r.estimates else None,
            "bias_accel_m_s2": r.estimates[-1].bias_accel_m_s2.tolist() if r.estimates else None,
            "wall_s": r.wall_s,
            "modes": [s.as_dict() for s in scores],
            "nees": None if c is None else {"pos": c.mean_nees_pos, "rot": c.mean_nees_rot},
            "plot": str(plot),
        }
        for r, scores, c, plot in rows
    ]
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(table + "\n")
    return 0


def _monte_carlo(args: argparse.Namespace, config: object, out: Path) -> int:
    from percept.errors import ConfigError
    from percept.tools.vio_eval import run_monte_carlo

    if args.runs < 2:
        msg = f"--runs must be >= 2, got {args.runs}"
        raise ConfigError(msg)
    mc = run_monte_carlo(
        args.monte_carlo,
        list(range(1, args.runs + 1)),
        args.seconds,
        config,  # type: ignore[arg-type]
        progress=not args.quiet,
    )
    nees = mc.nees
    lo, hi = nees.frame_band()
    doc = {
        "motion": mc.motion,
        "seconds": mc.seconds,
        "seeds": list(mc.seeds),
        "path_m": mc.path_m,
        "ate_m": list(mc.ate_m),
        "resets": list(mc.resets),
        "nees": nees.as_dict(),
    }
    (out / "nees.json").write_text(json.dumps(doc, indent=2, default=float) + "\n", "utf-8")
    nees.write_plot(out / "nees.png")
    lines = [
        f"Monte-Carlo NEES: {nees.runs} runs of {mc.seconds:g} s {mc.motion}, "
        f"{nees.frames} frames, path {mc.path_m:.1f} m",
        f"95 % band of the {nees.runs}-run average (3 dof): [{lo:.2f}, {hi:.2f}]",
        f"position NEES {nees.average_pos:.2f} ({100 * nees.fraction_inside_pos:.1f} % of "
        f"frames inside), orientation NEES {nees.average_rot:.2f} "
        f"({100 * nees.fraction_inside_rot:.1f} % inside)",
        f"ATE per run: {', '.join(f'{a:.4f}' for a in mc.ate_m)} m; resets {sum(mc.resets)}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
