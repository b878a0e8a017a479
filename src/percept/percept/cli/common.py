"""What the subcommands share: their parsers, when to show progress bars, JSON files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_command", "name_value", "show_progress", "write_json"]


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    *,
    description: str | None = None,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Register a subcommand whose ``--help`` prints its description and epilog as written.

    Args:
        subparsers: where to register it.
        name: the subcommand.
        summary: its line in the parent's ``--help``.
        description: what ``--help`` says first.
        epilog: examples and notes after the options, kept verbatim.

    Returns:
        The subcommand's parser.
    """
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars: unless ``--quiet``, and only on a terminal."""
    return not args.quiet and sys.stderr.isatty()


def write_json(path: Path, doc: object, *, indent: int | None = 2) -> None:
    """Write ``doc`` as JSON and a newline, creating the folder.

    Raises:
        OSError: the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=indent) + "\n", encoding="utf-8")


def name_value(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of a ``--set`` option, VALUE read as YAML (``true``, ``1.5``, ...).

    Raises:
        argparse.ArgumentTypeError: no ``=`` or no name.
    """
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name:
        msg = f"expected NAME=VALUE, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return name.strip(), yaml.safe_load(value)
