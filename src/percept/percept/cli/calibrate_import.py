"""``percept calibrate import``: a Kalibr or EuRoC calibration into ``calibration/<robot>/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from percept.cli.common import add_command

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept calibrate import --camchain camchain-imucam.yaml --imu imu.yaml --robot mybot
  percept calibrate import --euroc ~/data/MH_01_easy --robot euroc --force
  percept calibrate import --camchain ../shared/data/kalibr_calibration/tum_vi/\\
kalibr_imucam_chain.yaml --out /tmp/tum_vi/

Writes left.yaml and right.yaml (camera_info YAML with the stereo rectification R, P),
or camera.yaml for one camera, and imu.yaml (IMU noise, rate, T_imu_cam per camera frame,
time shift); without --imu, the extrinsics go to extrinsics.yaml. Kalibr's T_cam_imu is
inverted to T_imu_cam; OpenVINS-style files that store T_imu_cam are read as they are.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``import`` under ``percept calibrate``."""
    p = add_command(
        subparsers,
        "import",
        "import a Kalibr camchain / IMU file or an EuRoC folder's calibration",
        epilog=EPILOG,
        description="Turn a Kalibr or EuRoC calibration into calibration/<robot>/ files.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camchain", type=Path, help="Kalibr camchain(-imucam).yaml")
    src.add_argument("--euroc", type=Path, help="EuRoC/ASL folder (its sensor.yaml files)")
    p.add_argument("--imu", type=Path, help="Kalibr imu.yaml (with --camchain)")
    dst = p.add_mutually_exclusive_group(required=True)
    dst.add_argument("--robot", help="write calibration/<robot>/ of this project")
    dst.add_argument("--out", type=Path, help="write this folder")
    p.add_argument("--imu-frame", default="imu0", help="IMU frame id (default imu0)")
    p.add_argument("--left-name", default="left", help="left camera file name (default left)")
    p.add_argument("--right-name", default="right", help="right camera file name")
    p.add_argument(
        "--alpha", type=float, default=0.0, help="rectified image scaling, 0..1 (default 0)"
    )
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept calibrate import``."""
    from percept.errors import CalibrationError
    from percept.tools.import_calib import import_euroc, import_kalibr

    if args.out is not None:
        out: Path = args.out
    else:
        from percept.runtime.robot import find_config_root

        out = find_config_root() / "calibration" / args.robot
    names = (args.left_name, args.right_name)
    try:
        if args.camchain is not None:
            result = import_kalibr(
                args.camchain,
                out,
                imu=args.imu,
                imu_frame=args.imu_frame,
                names=names,
                alpha=args.alpha,
                overwrite=args.force,
            )
        else:
            if args.imu is not None:
                msg = "--imu goes with --camchain; an EuRoC folder has imu0/sensor.yaml"
                raise CalibrationError(msg)
            result = import_euroc(
                args.euroc, out, names=names, alpha=args.alpha, overwrite=args.force
            )
    except ValueError as err:  # alpha outside 0..1
        raise CalibrationError(str(err)) from err
    sys.stdout.write(result.summary() + "\n")
    return 0
