"""``percept bench``: speed benchmarks, each timed against a bare baseline in the same run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from percept.cli.common import add_command, name_value, show_progress, write_json

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept bench codecs
  percept bench codecs --repeats 100 --json out/bench_codecs.json
  percept bench rectify --repeats 200 --threads 1
  percept bench stereo --repeats 30 --threads 2
  percept bench detect --repeats 30 --threads 2
  percept bench vio                       # renders a 5 s 640x480 sequence once (cached)
  percept bench vio --bag MH_01.mcap --seconds 30 --repeats 1 --json out/bench_vio.json
  percept bench vio --set track_fb_threshold_px=0 --set track_klt_window_px=15
  percept bench mapping --repeats 20 --json out/bench_mapping.json
"""

#: Default repetitions per target (vio: passes over the sequence).
_REPEATS = {"vio": 3, "mapping": 20}


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "percept"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "bench",
        "benchmarks (codecs, rectify, stereo, detect, vio, mapping)",
        epilog=EPILOG,
        description="Time Percept's hot paths against a bare baseline in the same run.",
    )
    p.add_argument(
        "target",
        choices=["codecs", "rectify", "stereo", "detect", "vio", "mapping"],
        help="what to benchmark",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repetitions, median reported (default 50; vio: passes over the "
        "sequence, default 3; mapping: inserts, default 20)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OpenCV threads (rectify, stereo, vio, mapping) or ONNX Runtime threads "
        "(detect); default: theirs (vio, mapping: 1, one core)",
    )
    p.add_argument(
        "--bag",
        type=Path,
        default=None,
        help="vio: a stereo + IMU bag (raw pair, camera_infos, IMU, /tf_static) instead "
        "of the synthetic 640x480, 20 Hz camera, 200 Hz IMU sequence",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="detect: a 640x640 ONNX detector to time (an Ultralytics export, say) "
        "instead of the built one",
    )
    p.add_argument(
        "--tile-scale",
        type=float,
        default=1.0,
        help="detect: the node's tile_scale (1.5: the frame and four tiles, five "
        "inferences, timed against five bare runs); default 1",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        help="vio: length of the synthetic sequence, or how much of --bag to read (s)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=_default_cache(),
        help="vio: folder of the rendered synthetic sequence (as percept demo's)",
    )
    p.add_argument(
        "--set",
        type=name_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="vio: estimator parameter (config/vio.yaml names), e.g. "
        "--set track_klt_window_px=15 (repeatable)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept bench``."""
    repeats = args.repeats if args.repeats is not None else _REPEATS.get(args.target, 50)
    if args.target == "vio":
        from percept.benchmark.vio import format_vio_report, load_vio_sequence, run_vio_benchmark

        bag, seconds = args.bag, None if args.bag is None else args.seconds
        if bag is None:
            from percept.synth.generate import SynthConfig
            from percept.tools.demo import cached_sequence

            synth = SynthConfig(seconds=args.seconds, camera_rate_hz=20.0, imu_rate_hz=200.0)
            bag, _, _ = cached_sequence(args.cache, synth, progress=show_progress(args))
        sequence = load_vio_sequence(bag, seconds)
        threads = 1 if args.threads is None else args.threads
        from percept.cli.vio import estimator_config
        from percept.vio.estimator import EstimatorConfig

        config = estimator_config(None, args.set)
        assert isinstance(config, EstimatorConfig)
        results = run_vio_benchmark(sequence, repeats=repeats, threads=threads, config=config)
        report = format_vio_report(results)
    elif args.target == "mapping":
        from percept.benchmark.mapping import format_mapping_report, run_mapping_benchmark

        threads = 1 if args.threads is None else args.threads
        results = run_mapping_benchmark(repeats=repeats, threads=threads)
        report = format_mapping_report(results)
    elif args.target == "detect":
        from percept.benchmark.detect import format_detect_report, run_detect_benchmark

        results = run_detect_benchmark(
            repeats=repeats,
            threads=args.threads or 0,
            model_path=args.model,
            tile_scale=args.tile_scale,
        )
        report = format_detect_report(results)
    elif args.target == "stereo":
        from percept.benchmark.stereo import format_stereo_report, run_stereo_benchmark

        results = run_stereo_benchmark(repeats=repeats, threads=args.threads)
        report = format_stereo_report(results)
    elif args.target == "rectify":
        from percept.benchmark.rectify import format_rectify_report, run_rectify_benchmark

        results = run_rectify_benchmark(repeats=repeats, threads=args.threads)
        report = format_rectify_report(results)
    else:
        from percept.benchmark.codecs import format_report, run_codec_benchmark

        results = run_codec_benchmark(repeats=repeats)
        report = format_report(results)
    sys.stdout.write(report + "\n")
    if args.json is not None:
        write_json(args.json, results)
    return 0
