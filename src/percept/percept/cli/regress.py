"""``percept regress``: compare two runs' metrics side by side, flag drift past tolerance."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from percept.cli.common import add_command, write_json
from percept.cli.eval import add_engine_options, engine_jobs

__all__ = ["add_parser", "run"]

EPILOG = """inputs (A and B):
  metrics.json, or a folder holding one       percept eval --out / percept demo output
  RUN.mcap or a rosbag2 folder                 a run, evaluated first (--gt GT.mcap)
  baselines .yaml (A only)                     tests/regression/baselines.yaml, one case

examples:
  percept regress out/eval_before out/eval_after
  percept regress out/demo_main/metrics.json out/demo/metrics.json --only-flagged
  percept regress runs/old.mcap runs/new.mcap --gt synth.mcap --fail-on-regression
  percept regress tests/regression/baselines.yaml out/run.mcap --case synth

fleet mode (several RUN_B, a folder of bags or a .txt list; needs --out):
  percept eval fleet/ --out out/ref                     reference metrics, once
  percept regress out/ref fleet/ --out out/new --engine ray --jobs 8 --fail-on-regression
  percept regress baselines.yaml bags.txt --out out/new --engine ray --ray-address auto
  RUN_A: a folder of <bag>/metrics.json (eval/regress --out of many bags, matched by bag
  name), a baselines .yaml (--case, else the case named like the bag), or one reference
  for all. Exit 1 when a bag failed to evaluate, or (--fail-on-regression) regressed.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "regress",
        "compare two runs' metrics side by side and flag regressions",
        description="Compare the metrics of run B against run A (or a baselines file): "
        "metric, A, B, delta, relative delta, tolerance and a flag for changes past the "
        "tolerance (REGRESSED when worse, improved, changed when no direction is known, "
        "new, missing). Tolerances and directions come from --baselines (or A when it is "
        "a baselines file), else from percept.tools.regress.DEFAULT_RULES.",
        epilog=EPILOG,
    )
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="reference metrics (or baselines)")
    p.add_argument(
        "run_b",
        type=Path,
        nargs="+",
        metavar="RUN_B",
        help="metrics to check; several bags, a folder of bags or a .txt list of bags: "
        "fleet mode (--out), each bag evaluated on --engine and compared with RUN_A",
    )
    p.add_argument("--gt", type=Path, help="ground-truth bag for run bags (default: in the bag)")
    p.add_argument(
        "--baselines", type=Path, metavar="YAML", help="take tolerances and directions from here"
    )
    p.add_argument("--case", help="case of a baselines file holding several")
    p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a metric regressed past its tolerance",
    )
    p.add_argument("--only-flagged", action="store_true", help="leave out rows within tolerance")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    fleet = p.add_argument_group("fleet mode (many bags)")
    fleet.add_argument(
        "--out", type=Path, metavar="DIR", help="each bag's metrics.json and report, summary.json"
    )
    add_engine_options(fleet)
    p.set_defaults(run=run, regress_parser=p)


def _jsonable(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def run(args: argparse.Namespace) -> int:
    """Execute ``percept regress``."""
    from percept.errors import ConfigError
    from percept.eval.batch import is_collection
    from percept.tools.regress import compare, format_table, load_baselines, load_source

    one = args.run_b[0]
    metrics_folder = one.is_dir() and (one / "metrics.json").is_file()
    if len(args.run_b) > 1 or (is_collection(one) and not metrics_folder) or args.out is not None:
        return _run_fleet(args)
    parser: argparse.ArgumentParser = args.regress_parser
    if args.jobs is not None or args.engine != "process" or args.ray_address is not None:
        parser.error("--jobs, --engine and --ray-address are for fleet mode (--out DIR)")
    args.run_b = args.run_b[0]
    if args.run_b.suffix in (".yaml", ".yml"):
        msg = f"{args.run_b}: a baselines file can only be RUN_A (the reference)"
        raise ConfigError(msg)
    a = load_source(args.run_a, gt_bag=args.gt, case=args.case)
    b = load_source(args.run_b, gt_bag=args.gt)
    policies = a.policies
    if args.baselines is not None:
        policies = load_baselines(args.baselines).case(args.case).policies
    label_a, label_b = a.label, b.label
    if label_a == label_b:
        label_a, label_b = f"A: {label_a}", f"B: {label_b}"
    comparison = compare(a.metrics, b.metrics, policies, label_a=label_a, label_b=label_b)
    counts: dict[str, int] = {}
    for row in comparison.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    if args.json:
        doc = {
            "a": str(a.path),
            "b": str(b.path),
            "counts": counts,
            "rows": [
                {
                    "metric": r.name,
                    "a": _jsonable(r.a),
                    "b": _jsonable(r.b),
                    "delta": _jsonable(r.delta),
                    "rel_delta": _jsonable(r.rel_delta),
                    "direction": r.policy.direction if r.policy else None,
                    "abs_tol": r.policy.abs_tol if r.policy else None,
                    "rel_tol": r.policy.rel_tol if r.policy else None,
                    "status": r.status,
                }
                for r in (comparison.flagged if args.only_flagged else comparison.rows)
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(f"A: {a.path}\nB: {b.path}\n")
        if comparison.rows and (comparison.flagged or not args.only_flagged):
            sys.stdout.write(format_table(comparison, only_flagged=args.only_flagged) + "\n")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        sys.stdout.write(f"{len(comparison.rows)} metrics: {summary or 'none'}\n")
    return 1 if args.fail_on_regression and comparison.regressed else 0


def _run_fleet(args: argparse.Namespace) -> int:
    from percept.eval.batch import evaluate_batch, find_bags, output_names
    from percept.tools.fleet import (
        FleetReference,
        compare_fleet,
        fleet_summary,
        format_fleet_table,
    )
    from percept.tools.regress import load_baselines

    parser: argparse.ArgumentParser = args.regress_parser
    if args.out is None:
        parser.error("fleet mode (several bags, a folder or a list) needs --out DIR")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.ray_address is not None and args.engine != "ray":
        parser.error("--ray-address needs --engine ray")
    reference = FleetReference.load(args.run_a, gt_bag=args.gt, case=args.case)
    baselines = load_baselines(args.baselines) if args.baselines is not None else None
    exclude = [p for p in (args.gt, args.run_a) if p is not None]
    bags = find_bags(args.run_b, exclude=exclude)
    results = evaluate_batch(
        bags,
        args.gt,
        args.out,
        jobs=engine_jobs(args),
        progress=not args.quiet,
        engine=args.engine,
        address=args.ray_address,
        messages=True,
        report=not args.no_report,
    )
    names = {str(bag): name for bag, name in output_names(bags).items()}
    entries = compare_fleet(results, names, reference, baselines=baselines, case=args.case)
    summary = fleet_summary(entries)
    write_json(args.out / "summary.json", summary)
    counts: dict[str, int] = summary["counts"]  # type: ignore[assignment]
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(f"A: {args.run_a}\n")
        sys.stdout.write(format_fleet_table(entries, only_flagged=args.only_flagged) + "\n")
        text = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        sys.stdout.write(f"{len(entries)} bags: {text}\n")
    sys.stdout.write(f"{args.out / 'summary.json'}\n")
    if counts.get("failed"):
        return 1
    return 1 if args.fail_on_regression and counts.get("regressed") else 0
