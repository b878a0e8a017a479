"""``percept synth``: render a ground-truthed stereo + IMU sequence (and board views)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from percept.cli.common import add_command, show_progress

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept synth --scene warehouse --seconds 20 --out out/warehouse.mcap
  percept synth --seconds 10 --seed 7 --motion handheld --width 752 --height 480 \\
      --fps 20 --robot synth --calib-out calibration --config-out config --out out/s7.mcap
  percept synth --boards out/boards --views 30 --board chessboard:8x6:0.05
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "synth",
        "render a ground-truthed stereo + IMU sequence into an MCAP bag",
        description="Render a seeded scene (Open3D ray casting) seen by a stereo rig with "
        "an IMU on a ground robot or a handheld rig: raw images, camera_info, imu/data, "
        "tf_static and ground truth (pose, depth, 2-D/3-D boxes, occupancy grid) into an "
        "MCAP bag, with the matching calibration and robot file; or calibration-board views.",
        epilog=EPILOG,
    )
    p.add_argument("--scene", default="warehouse", help="scene kind (default warehouse)")
    p.add_argument("--seconds", type=float, default=10.0, help="sequence length (default 10)")
    p.add_argument("--out", type=Path, default=None, help="output bag: NAME.mcap or a folder")
    p.add_argument("--seed", type=int, default=0, help="scene, trajectory and noise seed")
    p.add_argument(
        "--motion", choices=("ground", "handheld"), default="ground", help="trajectory kind"
    )
    p.add_argument("--width", type=int, default=640, help="image width, pixels")
    p.add_argument("--height", type=int, default=480, help="image height, pixels")
    p.add_argument("--fps", type=float, default=10.0, help="stereo frame rate, Hz")
    p.add_argument("--baseline", type=float, default=0.12, help="stereo baseline, metres")
    p.add_argument("--encoding", choices=("mono8", "bgr8"), default="mono8", help="image encoding")
    p.add_argument(
        "--robot",
        default=None,
        help="robot name for --calib-out/--config-out (default synth, or synth_handheld)",
    )
    p.add_argument(
        "--calib-out", type=Path, default=None, metavar="DIR", help="write DIR/<robot>/*.yaml"
    )
    p.add_argument(
        "--config-out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/robots/<robot>.yaml",
    )
    p.add_argument(
        "--noise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="image, exposure and IMU noise (--no-noise: exact data)",
    )
    p.add_argument(
        "--timeshift",
        type=float,
        default=0.0,
        metavar="S",
        help="camera-IMU time shift, t_imu = t_cam + S (Kalibr convention)",
    )
    p.add_argument(
        "--exposure",
        type=float,
        default=0.0,
        metavar="S",
        help="exposure time for motion blur, seconds (default 0: none)",
    )
    p.add_argument(
        "--boards", type=Path, default=None, metavar="DIR", help="render board views into DIR"
    )
    p.add_argument("--views", type=int, default=20, help="board views (with --boards)")
    p.add_argument(
        "--board",
        default="chessboard:8x6:0.05",
        help="board for --boards: chessboard:COLSxROWS:SQUARE_M or "
        "charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT",
    )
    p.add_argument("--force", action="store_true", help="overwrite the output bag")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept synth``."""
    from percept.errors import ConfigError
    from percept.synth.generate import SynthConfig, default_rig, generate

    if args.out is None and args.boards is None:
        msg = "synth: give --out BAG.mcap (a sequence) and/or --boards DIR (board views)"
        raise ConfigError(msg)
    try:
        rig = default_rig(
            args.motion,
            width=args.width,
            height=args.height,
            baseline_m=args.baseline,
            encoding=args.encoding,
        )
    except ValueError as err:
        raise ConfigError(f"synth: {err}") from err
    log = logging.getLogger("percept.synth")
    if args.boards is not None:
        from percept.calib.board import parse_board
        from percept.synth.board import render_board_views

        views = render_board_views(
            args.boards,
            parse_board(args.board),
            args.views,
            rig=rig,
            seed=args.seed,
            scene=args.scene,
            noise=args.noise,
        )
        log.info("wrote %d board view pairs to %s", len(views.pairs), views.folder)
        sys.stdout.write(f"{views.folder}\n")
    if args.out is not None:
        config = SynthConfig(
            scene=args.scene,
            seconds=args.seconds,
            seed=args.seed,
            motion=args.motion,
            robot_name=args.robot or ("synth" if args.motion == "ground" else "synth_handheld"),
            camera_rate_hz=args.fps,
            rig=rig,
            noise=args.noise,
            timeshift_cam_imu_s=args.timeshift,
            exposure_s=args.exposure,
        )
        result = generate(
            args.out,
            config,
            calib_dir=args.calib_out,
            config_dir=args.config_out,
            overwrite=args.force,
            progress=show_progress(args),
        )
        log.info(
            "%d stereo frames, %.0f ms render per frame, %d objects",
            result.frames,
            result.render_s_per_frame * 1e3,
            result.objects,
        )
        for path in (result.calibration_dir, result.robot_file):
            if path is not None:
                log.info("wrote %s", path)
        sys.stdout.write(f"{result.bag}\n")
    return 0
