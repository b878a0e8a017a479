"""``percept demo``: the main job: generate, replay through every node, score, report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept demo
  percept demo --out out/demo --cache ~/.cache/percept
"""


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "percept"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="run the built-in sequence through every node and write a report",
        description="Generate (once, cached) the built-in sequence, replay it through the "
        "example robot's nodes, score the outputs and write an HTML report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    from percept.demo import run_demo

    result = run_demo(args.out, args.cache or _default_cache(), progress=not args.quiet)
    psnr = result.metrics.get("debayer_psnr_db", {})
    sys.stdout.write(f"debayer PSNR vs ground truth: {psnr}\n")
    sys.stdout.write(f"report: {result.report.resolve()}\n")
    return 0
