"""``percept demo``: the main job: generate, replay through every node, score, report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from percept.cli.common import add_command, show_progress

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept demo
  percept demo --out out/demo --cache ~/.cache/percept
  percept regress out/demo_before out/demo      # compare two demo runs' metrics
"""


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "percept"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "demo",
        "run the built-in sequence through every node and write a report",
        description="Render (once, cached) the built-in synthetic robot sequence, replay it "
        "through every node of the synth robot, score the run with percept eval, run the "
        "Bayer test pattern through the example robot, and write DIR/report.html (open it "
        "first), DIR/metrics.json, DIR/eval/ (the eval report) and DIR/bayer/.",
        epilog=EPILOG,
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="report folder")
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where generated sequences are kept (default ~/.cache/percept)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept demo``."""
    from percept.tools.demo import run_demo

    result = run_demo(args.out, args.cache or _default_cache(), progress=show_progress(args))
    width = max(len(s.name) for s in result.stages)
    for s in result.stages:
        took = f"{s.seconds:7.1f} s" if s.status != "skipped" else " " * 9
        sys.stdout.write(f"{s.name:<{width}}  {s.status:<7}  {took}  {s.detail}\n")
    timings = result.metrics.get("timings", {})
    if isinstance(timings, dict):
        sys.stdout.write(
            f"render {timings.get('render_s_per_frame', float('nan')):.3f} s per stereo frame; "
            f"replay {timings.get('replay_wall_s', float('nan')):.1f} s; "
            f"eval {timings.get('eval_s', float('nan')):.1f} s; "
            f"demo total {timings.get('total_s', float('nan')):.1f} s\n"
        )
    if result.eval_report is not None:
        sys.stdout.write(f"eval report: {result.eval_report.resolve()}\n")
    sys.stdout.write(f"report: {result.report.resolve()}\n")
    return 0
