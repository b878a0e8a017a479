"""``percept calibrate``: mono / stereo camera calibration, and checks of a calibration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from percept.cli import calibrate_import
from percept.cli.common import add_command

if TYPE_CHECKING:
    from percept.calib.board import BoardSpec
    from percept.calib.check import CheckResult

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept calibrate mono --images shots/ --board chessboard:9x6:0.025 --out calibration/bot/
  percept calibrate stereo --images ../shared/data/opencv_stereo_chessboard \\
      --board chessboard:9x6:0.025 --out calibration/bot/
  percept calibrate stereo --bag calib.mcap --topics /left/image_raw /right/image_raw \\
      --board charuco:7x5:0.04:0.03:DICT_5X5_100 --model fisheye --out calibration/bot/
  percept calibrate check --calib calibration/bot/ --images fresh/ --board chessboard:9x6:0.025

Chessboard sizes count inner corners (OpenCV), ChArUco sizes count squares. Mono writes
<name>.yaml, stereo <left-name>.yaml and <right-name>.yaml (camera_calibration_parsers
format), with a PNG report and a JSON summary beside them. `check` exits 1 when the
calibration fails its thresholds on the fresh views.
"""


def _add_source(p: argparse.ArgumentParser, stereo: bool | None) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", type=Path, help="folder of images")
    src.add_argument("--bag", type=Path, help="bag with image topics (rosbag2, .mcap, ROS 1)")
    n = "1 (mono) or 2 (stereo: left right)" if stereo is None else "2" if stereo else "1"
    p.add_argument("--topics", nargs="+", default=[], help=f"image topics in the bag: {n}")
    p.add_argument("--every", type=int, default=1, help="use every n-th bag image (default 1)")
    p.add_argument(
        "--slop-s", type=float, default=0.01, help="largest left/right stamp gap in a bag pair"
    )
    if stereo is not False:
        p.add_argument("--left-glob", default="left*", help="left image names (default left*)")
        p.add_argument("--right-glob", default="right*", help="right image names (default right*)")
    p.add_argument(
        "--board",
        required=True,
        help="chessboard:COLSxROWS:SQUARE_M or charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT",
    )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "calibrate",
        "calibrate cameras (mono, stereo), check or import a calibration",
        epilog=EPILOG,
        description="Camera calibration like ROS cameracalibrator, from images or a bag.",
    )
    sub = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    for mode in ("mono", "stereo"):
        m = add_command(sub, mode, f"{mode} calibration", epilog=EPILOG)
        _add_source(m, mode == "stereo")
        m.add_argument(
            "--model",
            default="plumb_bob",
            choices=["plumb_bob", "rational_polynomial", "fisheye"],
            help="distortion model (fisheye: equidistant)",
        )
        m.add_argument(
            "--out", type=Path, required=True, help="output folder, calibration/<robot>/"
        )
        if mode == "mono":
            m.add_argument("--name", default="camera", help="camera_name and file name")
        else:
            m.add_argument("--left-name", default="left", help="left camera_name and file name")
            m.add_argument("--right-name", default="right", help="right camera_name and file name")
        m.add_argument("--min-views", type=int, default=6, help="fewer views is an error")
        m.add_argument(
            "--min-distance",
            type=float,
            default=0.2,
            help="view selection: L1 distance in (x, y, size, skew) to every kept view "
            "(0 keeps all views)",
        )
        m.add_argument("--fix-k3", action="store_true", help="plumb_bob: keep k3 at 0")
        m.add_argument(
            "--alpha", type=float, default=0.0, help="rectified image scaling, 0..1 (default 0)"
        )
        m.set_defaults(run=run)
    c = add_command(sub, "check", "check a calibration on fresh views", epilog=EPILOG)
    c.add_argument(
        "--calib",
        type=Path,
        required=True,
        help="calibration folder (with <name>.yaml, or left.yaml and right.yaml) or one file",
    )
    _add_source(c, None)
    c.add_argument("--name", default="camera", help="mono camera file name (default camera)")
    c.add_argument("--left-name", default="left", help="left camera file name")
    c.add_argument("--right-name", default="right", help="right camera file name")
    c.add_argument("--max-rms-px", type=float, default=1.0, help="reprojection RMS limit")
    c.add_argument("--max-epipolar-px", type=float, default=1.0, help="stereo epipolar RMS limit")
    c.add_argument("--min-views", type=int, default=3, help="fresh views needed")
    c.set_defaults(run=run)
    calibrate_import.add_parser(sub)


def _mono_source(args: argparse.Namespace) -> tuple[object, str]:
    from percept.errors import CalibrationError
    from percept.io.sources import BagImages, FolderImages

    if args.images is not None:
        return FolderImages(args.images), str(args.images)
    if len(args.topics) != 1:
        msg = f"--bag {args.bag}: mono needs exactly one --topics, got {len(args.topics)}"
        raise CalibrationError(msg)
    return BagImages(args.bag, args.topics[0], args.every), f"{args.bag}:{args.topics[0]}"


def _stereo_source(args: argparse.Namespace) -> tuple[object, str]:
    from percept.errors import CalibrationError
    from percept.io.sources import BagStereoImages, FolderStereoImages

    if args.images is not None:
        return FolderStereoImages(args.images, args.left_glob, args.right_glob), str(args.images)
    if len(args.topics) != 2:
        msg = f"--bag {args.bag}: stereo needs --topics LEFT RIGHT, got {args.topics}"
        raise CalibrationError(msg)
    source = BagStereoImages(
        args.bag, args.topics[0], args.topics[1], round(args.slop_s * 1e9), args.every
    )
    return source, f"{args.bag}:{args.topics[0]}+{args.topics[1]}"


def _board(text: str) -> BoardSpec:
    from percept.calib.board import parse_board

    return parse_board(text)


def _calibrate(args: argparse.Namespace) -> int:
    from percept.calib.session import SelectionConfig, run_mono, run_stereo
    from percept.calib.solve import CalibrationConfig, model_name

    board = _board(args.board)
    try:
        config = CalibrationConfig(
            model=model_name(args.model),
            fix_k3=args.fix_k3,
            min_views=args.min_views,
            alpha=args.alpha,
        )
        selection = SelectionConfig(min_distance=args.min_distance)
    except ValueError as err:
        from percept.errors import CalibrationError

        raise CalibrationError(str(err)) from err
    progress = not args.quiet
    if args.mode == "mono":
        source, name = _mono_source(args)
        mono, files = run_mono(
            source,  # type: ignore[arg-type]
            board,
            args.out,
            config=config,
            selection=selection,
            camera_name=args.name,
            source_name=name,
            progress=progress,
        )
        K = mono.camera.K
        lines = [
            f"{args.name}: RMS {mono.rms_px:.3f} px over {len(mono.used)} views "
            f"({len(mono.rejected)} dropped as outliers); {mono.coverage.summary()}",
            f"  fx {K[0, 0]:.2f} fy {K[1, 1]:.2f} cx {K[0, 2]:.2f} cy {K[1, 2]:.2f} px, "
            f"D {[round(float(d), 5) for d in mono.camera.D]}",
        ]
    else:
        source, name = _stereo_source(args)
        stereo, files = run_stereo(
            source,  # type: ignore[arg-type]
            board,
            args.out,
            config=config,
            selection=selection,
            names=(args.left_name, args.right_name),
            source_name=name,
            progress=progress,
        )
        lines = [
            f"stereo: RMS {stereo.rms_px:.3f} px over {len(stereo.used)} pairs "
            f"({len(stereo.rejected)} dropped); baseline {stereo.baseline_m:.5f} m, rotation "
            f"{stereo.rotation_deg:.3f} deg, rectified epipolar RMS "
            f"{stereo.epipolar_rms_px:.3f} px",
            f"  left RMS {stereo.left_mono.rms_px:.3f} px, right RMS "
            f"{stereo.right_mono.rms_px:.3f} px; {stereo.coverage.summary()}",
        ]
    lines += [f"wrote {f}" for f in files]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _check(args: argparse.Namespace) -> CheckResult:
    from percept.calib.check import CheckThresholds, check_mono, check_stereo
    from percept.calib.session import detect_all, detect_all_pairs
    from percept.calib.yaml_io import read_camera_info_yaml
    from percept.errors import CalibrationError

    board = _board(args.board)
    limits = CheckThresholds(args.max_rms_px, args.max_epipolar_px, args.min_views)
    calib: Path = args.calib
    left_file = calib / f"{args.left_name}.yaml"
    right_file = calib / f"{args.right_name}.yaml"
    progress = not args.quiet
    if calib.is_dir() and left_file.is_file() and right_file.is_file():
        _, left = read_camera_info_yaml(left_file)
        _, right = read_camera_info_yaml(right_file)
        source, name = _stereo_source(args)
        pairs, n = detect_all_pairs(source, board, progress=progress)  # type: ignore[arg-type]
        if not pairs:
            msg = f"{name}: no board found in both images of any of {n} pairs ({board})"
            raise CalibrationError(msg)
        return check_stereo(
            left, right, pairs, board, limits, names=(str(left_file), str(right_file))
        )
    if calib.is_dir():
        candidates = [calib / f"{args.name}.yaml"]
        if not candidates[0].is_file():
            candidates = sorted(calib.glob("*.yaml"))
        if len(candidates) != 1:
            msg = (
                f"{calib}: expected {args.name}.yaml (mono) or {args.left_name}.yaml and "
                f"{args.right_name}.yaml (stereo); found {[c.name for c in candidates]}"
            )
            raise CalibrationError(msg)
        calib = candidates[0]
    _, camera = read_camera_info_yaml(calib)
    source, name = _mono_source(args)
    detections, n = detect_all(source, board, progress=progress)  # type: ignore[arg-type]
    if not detections:
        msg = f"{name}: no board found in any of {n} images ({board})"
        raise CalibrationError(msg)
    return check_mono(camera, detections, board, limits, name=str(calib))


def run(args: argparse.Namespace) -> int:
    """Execute ``percept calibrate``."""
    if args.mode != "check":
        return _calibrate(args)
    result = _check(args)
    sys.stdout.write(result.summary() + "\n")
    return 0 if result.passed else 1
