"""``percept params``: write or check config/<node>.yaml and the README parameter tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from percept.cli.common import add_command

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept params --check     # exit 1 when a file drifted from the declarations
  percept params --write     # rewrite the files that drifted

Adding a parameter is one edit: a param() field in the core config (or a Parameter in
the node for node-only settings), then percept params --write.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "params",
        "write or check config/<node>.yaml and the README tables from the declarations",
        epilog=EPILOG,
        description="Render every node's declared parameters as its ROS 2 parameter file "
        "(values set there are kept) and its README table, and compare with the files.",
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the files that drifted")
    mode.add_argument("--check", action="store_true", help="exit 1 when a file drifted")
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="project folder with config/ and README.md (default: found as for robots)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand."""
    from percept.runtime.robot import find_config_root
    from percept.tools.params import check_files, write_files

    root = args.root if args.root is not None else find_config_root()
    if args.write:
        for path in write_files(root):
            print(f"wrote {path}")
        return 0
    drift = check_files(root)
    for item in drift:
        print(f"{item.path}: differs from the declarations (percept params --write)")
    if drift:
        print(f"{len(drift)} file(s) drifted", file=sys.stderr)
        return 1
    return 0
