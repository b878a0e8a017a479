"""``percept eval``: score a run against ground truth, or score files from any system."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from percept.cli.common import add_command, write_json

if TYPE_CHECKING:
    from percept.eval.result import EvalResult
    from percept.eval.trajectory import TrajectoryEvalConfig

__all__ = ["add_parser", "run"]

MODES = ("traj", "coco", "disparity")
ENGINES = ("process", "ray")  # percept.eval.engines.ENGINES, not imported to keep --help fast

EPILOG = """modes:
  percept eval RUN.mcap [RUN2.mcap ...] [--gt GT.mcap]   a run's bag (ground truth in
                                                          GT.mcap or in the run bag)
  percept eval DIR|LIST.txt ... --out OUT                 every bag in a folder (searched
                                                          recursively) or listed in a file
  percept eval traj EST GT --format tum|euroc|kitti      trajectory files (as evo reads)
  percept eval coco DETS.json GT.json                    COCO result JSON vs ground truth
  percept eval disparity EST GT [--scale S]              PFM or scaled-PNG disparity maps

examples:
  percept eval out/replayed.mcap --gt synth.mcap --out out/eval
  percept eval traj vio.csv data.csv --format euroc --align 4dof --delta 1 --delta-unit m
  percept eval traj orb.txt gt.txt --format tum --align sim3 --out out/orb
  percept eval coco dets.json instances_val.json
  percept eval disparity disp0.pfm disp0GT.pfm --mask mask0nocc.png
  percept eval runs/*.mcap --gt synth.mcap --out out/batch --jobs 2
  percept eval fleet/ bags.txt --out out/fleet --engine ray --jobs 8
  percept eval fleet/ --out out/fleet --engine ray --ray-address auto
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "eval",
        "score a run (or trajectory, detection, disparity files) against ground truth",
        description="Score what a run published against ground truth: trajectory ATE/RPE "
        "(as evo), disparity/depth error (Middlebury), detection mAP (as pycocotools), map "
        "IoU and node latency; writes metrics.json and report.html with --out. Metrics "
        "whose topics are missing are skipped with the reason.",
        epilog=EPILOG,
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="run bag(s), or a mode (traj, coco, disparity) and its two files",
    )
    p.add_argument("--out", type=Path, help="write metrics.json, report.html and pictures here")
    p.add_argument("--json", action="store_true", help="print metrics.json instead of a table")

    bag = p.add_argument_group("run bags")
    bag.add_argument("--gt", type=Path, help="ground-truth bag (default: the run bag itself)")
    bag.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="KEY=TOPIC",
        help="use TOPIC for KEY (odometry, gt_pose, disparity, depth, gt_depth, detections, "
        "gt_detections, map, gt_map, image, diagnostics); repeatable",
    )
    add_engine_options(bag)

    traj = p.add_argument_group("trajectories (bags and traj mode; evo's options)")
    traj.add_argument("--format", choices=("tum", "euroc", "kitti"), help="traj: estimate format")
    traj.add_argument("--gt-format", choices=("tum", "euroc", "kitti"), help="default: --format")
    traj.add_argument(
        "--align", choices=("none", "origin", "se3", "sim3", "4dof"), default="se3",
        help="alignment before ATE/RPE (default se3; sim3 for monocular, 4dof for VIO)",
    )  # fmt: skip
    traj.add_argument("--n-to-align", type=int, default=-1, metavar="N", help="align on N poses")
    traj.add_argument("--delta", type=float, default=1.0, help="RPE pose distance (default 1)")
    traj.add_argument("--delta-unit", choices=("frames", "m"), default="frames")
    traj.add_argument("--all-pairs", action="store_true", help="RPE over all pairs")
    traj.add_argument(
        "--t-max-diff", type=float, default=0.01, metavar="S", help="association window, s"
    )
    traj.add_argument(
        "--t-offset", type=float, default=0.0, metavar="S", help="added to estimate stamps, s"
    )

    disp = p.add_argument_group("disparity (disparity mode and bags)")
    disp.add_argument("--scale", type=float, default=1.0, help="PNG value per pixel of disparity")
    disp.add_argument("--gt-scale", type=float, help="ground-truth PNG scale (default: --scale)")
    disp.add_argument("--mask", type=Path, help="PNG: score where 255 (or non-zero)")
    disp.add_argument("--max-disparity", type=float, help="clip the estimate to [0, D] first")
    disp.add_argument(
        "--thresholds", default="0.5,1,2,4", metavar="T,T,..", help="bad-pixel thresholds, px"
    )
    disp.add_argument(
        "--depth-bands",
        default="0,2,5,10",
        metavar="M,M,..",
        help="edges of the true-depth bands for the relative depth error, metres",
    )
    det = p.add_argument_group("tracking and 3D detections (bags)")
    det.add_argument(
        "--track-iou",
        type=float,
        default=0.5,
        metavar="IOU",
        help="least IoU of a track/ground-truth match (default 0.5)",
    )
    det.add_argument(
        "--gate-3d",
        type=float,
        default=1.0,
        metavar="M",
        help="largest 3D centre distance of a match, metres (default 1)",
    )
    det.add_argument(
        "--bands-3d",
        default=None,
        metavar="M,M,..",
        help="lower edges of the true-depth bands of the 3D error, metres, last band open "
        "(default 0,2,4,6,10)",
    )
    p.set_defaults(run=run, eval_parser=p)


def _thresholds(
    text: str, parser: argparse.ArgumentParser, option: str = "--thresholds"
) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        parser.error(f"{option}: expected numbers like 0.5,1,2,4, got {text!r}")
    if not values or min(values) < 0:
        parser.error(f"{option}: expected non-negative numbers, got {text!r}")
    return values


def _trajectory_config(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> TrajectoryEvalConfig:
    from percept.eval.trajectory import TrajectoryEvalConfig

    try:
        return TrajectoryEvalConfig(
            max_diff_ns=round(args.t_max_diff * 1e9),
            offset_ns=round(args.t_offset * 1e9),
            align=args.align,
            n_to_align=args.n_to_align,
            delta=args.delta if args.delta_unit == "m" else float(args.delta),
            delta_unit=args.delta_unit,
            all_pairs=args.all_pairs,
        )
    except ValueError as err:
        parser.error(str(err))


def _emit(result: EvalResult, args: argparse.Namespace) -> None:
    from percept.eval.report import format_summary, write_outputs

    report = write_outputs(result, args.out) if args.out is not None else None
    if args.json:
        sys.stdout.write(json.dumps(result.metrics(), indent=2) + "\n")
    else:
        sys.stdout.write(format_summary(result) + "\n")
    if report is not None:
        sys.stdout.write(f"{report}\n")


def _run_files(mode: str, files: list[str], args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.eval_parser
    if len(files) != 2:
        parser.error(f"eval {mode}: expected two files (estimate, ground truth), got {len(files)}")
    est, gt = Path(files[0]), Path(files[1])
    from percept.eval import files as file_modes

    if mode == "traj":
        if args.format is None:
            parser.error("eval traj: --format tum|euroc|kitti is required")
        cfg = _trajectory_config(args, parser)
        result = file_modes.score_trajectory_files(est, gt, args.format, args.gt_format, cfg)
    elif mode == "coco":
        result = file_modes.score_coco_files(est, gt)
    else:
        result = file_modes.score_disparity_files(
            est,
            gt,
            scale=args.scale,
            gt_scale=args.gt_scale,
            mask=args.mask,
            max_disparity_px=args.max_disparity,
            thresholds_px=_thresholds(args.thresholds, parser),
        )
    _emit(result, args)
    return 0


def _topic_overrides(items: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, topic = item.partition("=")
        if not sep or not key or not topic:
            parser.error(f"--topic {item!r}: expected KEY=TOPIC")
        out[key.strip()] = topic.strip()
    return out


def add_engine_options(group: argparse._ArgumentGroup) -> None:
    """``--jobs``, ``--engine`` and ``--ray-address`` (``percept eval`` and ``regress``)."""
    group.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="bags at once: worker processes (default 1), or the CPUs of the local Ray "
        "cluster (default: all), or bags in flight on --ray-address (default: all)",
    )
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="process",
        help="process: a concurrent.futures pool here (default); ray: a local Ray cluster "
        "of --jobs CPUs or the one at --ray-address (pip install 'percept[ray]')",
    )
    group.add_argument(
        "--no-report",
        action="store_true",
        help="several bags: write each bag's metrics.json only, no report.html or pictures",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="an existing Ray cluster (auto, HOST:PORT, ray://HOST:10001); its workers "
        "need percept installed and the bags at the same paths",
    )


def engine_jobs(args: argparse.Namespace) -> int | None:
    """``--jobs`` as the engine takes it: None means the engine's default."""
    if args.jobs is None and args.engine == "process":
        return 1
    return int(args.jobs) if args.jobs is not None else None


def run(args: argparse.Namespace) -> int:
    """Execute ``percept eval``."""
    parser: argparse.ArgumentParser = args.eval_parser
    if args.inputs[0] in MODES:
        return _run_files(args.inputs[0], args.inputs[1:], args)
    from percept.eval.batch import (
        evaluate_batch,
        find_bags,
        format_batch_table,
        is_collection,
        output_names,
    )
    from percept.eval.config import EvalConfig
    from percept.eval.runner import evaluate

    edges = _thresholds(args.depth_bands, parser, "--depth-bands")
    if len(edges) < 2 or list(edges) != sorted(set(edges)):
        parser.error(
            f"--depth-bands: expected two or more ascending edges, got {args.depth_bands!r}"
        )
    edges_3d = None if args.bands_3d is None else _thresholds(args.bands_3d, parser, "--bands-3d")
    if edges_3d is not None and list(edges_3d) != sorted(set(edges_3d)):
        parser.error(f"--bands-3d: expected ascending edges, got {args.bands_3d!r}")
    if not 0 <= args.track_iou < 1:
        parser.error(f"--track-iou: expected a value in [0, 1), got {args.track_iou}")
    if not args.gate_3d > 0:
        parser.error(f"--gate-3d: expected a positive distance, got {args.gate_3d}")
    config = EvalConfig(
        trajectory=_trajectory_config(args, parser),
        thresholds_px=_thresholds(args.thresholds, parser),
        depth_bands_m=tuple(itertools.pairwise(edges)),
        track_max_iou_distance=1.0 - args.track_iou,
        gate_3d_m=args.gate_3d,
    ).with_topics(_topic_overrides(args.topic, parser))
    if edges_3d is not None:
        config = dataclasses.replace(config, range_edges_3d_m=edges_3d)
    inputs = [Path(b) for b in args.inputs]
    jobs = engine_jobs(args)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.ray_address is not None and args.engine != "ray":
        parser.error("--ray-address needs --engine ray")
    single = len(inputs) == 1 and not is_collection(inputs[0])
    if single and jobs == 1 and args.engine == "process":
        _emit(evaluate(inputs[0], args.gt, config), args)
        return 0
    if args.out is None:
        parser.error("several bags (a folder, a list, --jobs or --engine) need --out DIR")
    bags = find_bags(inputs, exclude=[args.gt] if args.gt is not None else [])
    results = evaluate_batch(
        bags,
        args.gt,
        args.out,
        config,
        jobs=jobs,
        progress=not args.quiet,
        engine=args.engine,
        address=args.ray_address,
        report=not args.no_report,
    )
    write_json(args.out / "summary.json", results)
    names = {str(bag): name for bag, name in output_names(bags).items()}
    failed = sum("error" in m for m in results.values())
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        sys.stdout.write(format_batch_table(results, names) + "\n")
        sys.stdout.write(f"{len(results)} bags: {len(results) - failed} ok, {failed} failed\n")
    sys.stdout.write(f"{args.out / 'summary.json'}\n")
    return 1 if failed else 0
