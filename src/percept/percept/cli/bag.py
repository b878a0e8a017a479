"""``percept bag info``: topics, types, counts, rates and gaps of a bag."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from percept.cli.common import add_command

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept bag info out/replayed.mcap
  percept bag info ~/bags/robot_run/ --json
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "bag", help="inspect bags", description="Inspect rosbag2 (sqlite3, MCAP) and ROS 1 bags."
    )
    sub = p.add_subparsers(dest="bag_command", metavar="ACTION", required=True)
    info = add_command(sub, "info", "topics, types, counts, rates and gaps", epilog=EPILOG)
    info.add_argument("bag", type=Path, help="bag folder or file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept bag info``."""
    from percept.io.bag import format_summary, summarize_bag

    summaries, facts = summarize_bag(args.bag)
    if args.json:
        doc = {**facts, "topics": [s.__dict__ for s in summaries]}
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(format_summary(summaries, facts) + "\n")
    return 0
