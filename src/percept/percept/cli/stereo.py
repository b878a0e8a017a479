"""``percept stereo``: disparity (and a point cloud) of one image pair, as the node does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from percept.cli.common import add_command, name_value

__all__ = ["add_parser", "run"]

EPILOG = """examples:
  percept stereo aloeL.jpg aloeR.jpg --set disparity_range=256 --out aloe.pfm
  percept stereo left.png right.png --calib calibration/bot --params config/stereo_depth.yaml \\
      --out disp.pfm --cloud cloud.ply
  percept eval disparity disp.pfm disp0GT.pfm

The pair goes through the stereo_depth node (behind stereo_rectify with --calib, which
must hold left.yaml and right.yaml), with the parameters a robot would give it; without
--calib the images must be rectified already. The PFM holds Inf where there is no
disparity (Middlebury convention); the PLY holds the valid points.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "stereo",
        "disparity (and a point cloud) of one stereo pair through the stereo_depth node",
        epilog=EPILOG,
        description="Compute the disparity of an image pair with the stereo_depth node's code "
        "path and parameters, to tune them on single pairs and score them with percept eval.",
    )
    p.add_argument("left", type=Path, help="left image")
    p.add_argument("right", type=Path, help="right image")
    p.add_argument(
        "--calib",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder with left.yaml and right.yaml: rectify first, metric depth",
    )
    p.add_argument(
        "--params",
        type=Path,
        default=None,
        metavar="FILE",
        help="ROS 2 parameter file of the node (config/stereo_depth.yaml layout)",
    )
    p.add_argument(
        "--set",
        type=name_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="parameter override applied last (repeatable): --set disparity_range=128",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DISP.pfm", help="disparity PFM")
    p.add_argument(
        "--cloud", type=Path, default=None, metavar="OUT.ply", help="also write the point cloud"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept stereo``."""
    from percept.stereo.cloud import write_ply
    from percept.tools.stereo_pair import compute_stereo_pair, write_disparity_pfm

    result = compute_stereo_pair(
        args.left,
        args.right,
        calib_dir=args.calib,
        params_file=args.params,
        overrides=dict(args.set),
        with_cloud=args.cloud is not None,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_disparity_pfm(args.out, result)
    disparity = result.disparity
    height, width = disparity.image.shape
    lines = [
        f"{args.out}: {width}x{height} disparity, {100 * result.density:.1f} % dense, "
        f"search {disparity.min_disparity:g}..{disparity.max_disparity:g} px, "
        f"{1e3 * result.wall_s:.0f} ms"
    ]
    if result.cloud is not None:
        args.cloud.parent.mkdir(parents=True, exist_ok=True)
        write_ply(args.cloud, result.cloud.points)
        valid = int(result.cloud.points.size)
        lines.append(
            f"{args.cloud}: point cloud, f {disparity.focal_length_px:.1f} px, "
            f"baseline {disparity.baseline_m:.4f} m ({valid} points before NaN removal)"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
