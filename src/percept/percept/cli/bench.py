"""``percept bench``: speed benchmarks, each timed against a bare baseline in the same run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from percept.cli.common import add_command, write_json

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept bench codecs
  percept bench codecs --repeats 100 --json out/bench_codecs.json
  percept bench rectify --repeats 200 --threads 1
  percept bench stereo --repeats 30 --threads 2
  percept bench detect --repeats 30 --threads 2
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "bench",
        "benchmarks (codecs, rectify, stereo, detect)",
        epilog=EPILOG,
        description="Time Percept's hot paths against a bare baseline in the same run.",
    )
    p.add_argument(
        "target", choices=["codecs", "rectify", "stereo", "detect"], help="what to benchmark"
    )
    p.add_argument("--repeats", type=int, default=50, help="timed repetitions (median reported)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OpenCV threads (rectify, stereo) or ONNX Runtime threads (detect); default: theirs",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept bench``."""
    if args.target == "detect":
        from percept.benchmark.detect import format_detect_report, run_detect_benchmark

        results = run_detect_benchmark(repeats=args.repeats, threads=args.threads or 0)
        report = format_detect_report(results)
    elif args.target == "stereo":
        from percept.benchmark.stereo import format_stereo_report, run_stereo_benchmark

        results = run_stereo_benchmark(repeats=args.repeats, threads=args.threads)
        report = format_stereo_report(results)
    elif args.target == "rectify":
        from percept.benchmark.rectify import format_rectify_report, run_rectify_benchmark

        results = run_rectify_benchmark(repeats=args.repeats, threads=args.threads)
        report = format_rectify_report(results)
    else:
        from percept.benchmark.codecs import format_report, run_codec_benchmark

        results = run_codec_benchmark(repeats=args.repeats)
        report = format_report(results)
    sys.stdout.write(report + "\n")
    if args.json is not None:
        write_json(args.json, results)
    return 0
