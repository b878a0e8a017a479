"""``percept`` entry point: subcommands, logging, and one-line errors.

Known errors (``PerceptError``) print one line and exit 1 (``--debug`` keeps the
traceback); usage errors exit 2. Heavy modules are imported by the subcommand that
needs them, so ``percept --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

#: subcommand -> module in percept.cli with ``add_parser(subparsers)`` and ``run(args)``.
SUBCOMMANDS = (
    "demo", "replay", "bag", "eval", "calibrate", "synth", "bench", "stereo", "detect", "regress",
    "params", "vio", "map", "graph",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="percept",
        description="Percept: ROS 2 perception stack; replay, evaluate and benchmark off-robot.",
    )
    parser.add_argument("--debug", action="store_true", help="full tracebacks, DEBUG logs")
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bars, warnings only"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"percept.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    from percept.errors import PerceptError

    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        status: int = args.run(args)
    except PerceptError as err:
        if args.debug:
            raise
        logging.getLogger("percept").error("%s", err)
        return 1
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
