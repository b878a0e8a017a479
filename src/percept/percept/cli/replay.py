"""``percept replay``: run a robot's node graph on a bag."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from percept.cli.common import add_command, name_value
from percept.errors import ConfigError

__all__ = ["add_parser", "parse_remaps", "run"]

EPILOG = """examples:
  percept replay run.mcap --robot example --out out/replayed.mcap
  percept replay euroc/ --robot euroc --remap /cam0/image_raw:=/left/image_raw \\
      --start 2 --duration 10 --out out/euroc.mcap
  percept replay run.mcap --config my_robot.yaml --keep /left/image_raw --out out/r.mcap
  percept replay run.mcap --robot synth --perturb blur=2,noise=4,seed=1 --out out/blur.mcap
  percept replay run.mcap --robot synth --perturb blackout=3:2,imu_gap=6:0.1 --out out/b.mcap
  percept replay run.mcap --robot synth --out out/dark.mcap \\
      --perturb 'brightness=0.15,blur=3,burst=3:0.5;6:0.5'
  percept replay run.mcap --robot synth_realtime --wall-clock --out out/rt.mcap
      # as on the robot: slow nodes drop frames; per-node table in out/rt.timing.json
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "replay",
        "run a robot's node graph on a bag, write outputs to MCAP",
        description="Replay a bag through the node graph of a robot file, deterministically "
        "on bag time, and record what the nodes publish.",
        epilog=EPILOG,
    )
    p.add_argument("bag", type=Path, help="input bag: rosbag2 folder, .db3, .mcap or ROS 1 .bag")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--robot", help="robot name: config/robots/<robot>.yaml")
    who.add_argument("--config", type=Path, help="path to a robot file")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output bag: NAME.mcap (one file) or a folder (rosbag2)",
    )
    p.add_argument(
        "--remap",
        action="append",
        default=[],
        metavar="BAG_TOPIC:=TOPIC",
        help="feed a bag topic to a graph topic (repeatable)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        type=name_value,
        metavar="NODE.PARAM=VALUE",
        help="set a node parameter for this replay (repeatable), e.g. "
        "occupancy_map.pose_source=odometry",
    )
    p.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="TOPIC",
        help="also copy this input topic into the output (repeatable)",
    )
    p.add_argument(
        "--start", type=float, default=None, metavar="S", help="skip S seconds from the bag start"
    )
    p.add_argument(
        "--duration", type=float, default=None, metavar="S", help="replay at most S seconds"
    )
    p.add_argument(
        "--no-diagnostics",
        action="store_true",
        help="do not record /diagnostics (then output bytes are identical run to run)",
    )
    p.add_argument(
        "--perturb",
        metavar="SPEC",
        help="seeded input perturbations, e.g. 'brightness=1.3,blur=1.5,noise=4,jpeg=30,"
        "drop=0.1,jitter_ms=3,imu_acc_bias=0.2,imu_gyro_bias=0.01,seed=7'; time windows "
        "START:DURATION in seconds from the first message (repeatable, or ';'-separated): "
        "blackout=3:2 (black images), imu_gap=4:0.1 (IMU dropped), burst=6:0.5 (pixel "
        "perturbations only then) (see percept.tools.perturb)",
    )
    p.add_argument(
        "--wall-clock",
        action="store_true",
        help="release messages at their recorded times (one executor thread): a node "
        "slower than its inputs drops the oldest queued messages, counted per input on "
        "/diagnostics; default: every message served to completion, deterministic",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="wall-clock playback rate (default 1.0)",
    )
    p.add_argument(
        "--timing",
        type=Path,
        default=None,
        metavar="JSON",
        help="per-node timing report (default: beside the output, NAME.timing.json)",
    )
    p.add_argument("--force", action="store_true", help="overwrite the output")
    p.set_defaults(run=run)


def parse_remaps(items: list[str]) -> dict[str, str]:
    """``["/a:=/b"]`` -> ``{"/a": "/b"}``.

    Raises:
        ConfigError: an item is not ``FROM:=TO``.
    """
    out: dict[str, str] = {}
    for item in items:
        src, sep, dst = item.partition(":=")
        if not sep or not src or not dst:
            msg = f"--remap {item!r}: expected BAG_TOPIC:=TOPIC"
            raise ConfigError(msg)
        out[src] = dst
    return out


def run(args: argparse.Namespace) -> int:
    """Execute ``percept replay``."""
    from percept.runtime.robot import load_robot, with_parameters
    from percept.tools.replay import format_timing, replay, write_timing

    robot = load_robot(args.config if args.config else args.robot)
    if args.overrides:
        robot = with_parameters(robot, dict(args.overrides))
    perturber = None
    if args.perturb:
        from percept.tools.perturb import Perturber, describe, parse_spec

        spec = parse_spec(args.perturb)
        perturber = Perturber(spec)
        logging.getLogger("percept.tools.replay").info("perturbing inputs: %s", describe(spec))
    result = replay(
        args.bag,
        args.out,
        robot,
        remaps=parse_remaps(args.remap),
        keep_inputs=args.keep,
        start_s=args.start,
        duration_s=args.duration,
        diagnostics=not args.no_diagnostics,
        overwrite=args.force,
        progress=not args.quiet,
        perturb=perturber,
        wall_clock=args.wall_clock,
        speed=args.speed,
    )
    log = logging.getLogger("percept.tools.replay")
    if perturber is not None:
        log.info("perturbed %d messages, dropped %d", perturber.perturbed, perturber.dropped)
    log.info(
        "replayed %d messages (%.2f s of bag) in %.2f s wall",
        result.fed,
        result.bag_duration_s,
        result.wall_s,
    )
    for topic, count in sorted(result.written.items()):
        log.info("  wrote %6d  %s", count, topic)
    for status in result.diagnostics:
        log.info("  node %s: %s", status.name, status.message)
    for line in format_timing(result):
        log.info("%s", line)
    timing = args.timing or args.out.with_suffix(".timing.json")
    write_timing(result, timing)
    log.info("timing report: %s", timing)
    if result.wall_clock and result.dropped:
        log.warning(
            "wall-clock replay: %d messages dropped from full input queues (see /diagnostics)",
            result.dropped,
        )
    if result.truncated:
        log.warning("input bag is truncated; replayed what was readable")
    sys.stdout.write(f"{result.out_path}\n")
    return 0
