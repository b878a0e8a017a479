"""``percept bag``: info, recover; from-euroc, from-intel-lab (data in); as-driver.

``info`` shows topics, rates, gaps, storage, compression and sizes; ``recover`` writes a
clean bag from one cut by a crash; ``as-driver`` rewrites a stereo + IMU bag under a
camera driver's topics and frames.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from percept.cli.common import add_command, show_progress

__all__ = [
    "add_parser",
    "run",
    "run_as_driver",
    "run_from_euroc",
    "run_from_intel_lab",
    "run_recover",
]

EPILOG = """examples:
  percept bag info out/replayed.mcap
  percept bag info ~/bags/robot_run/ --json
"""

RECOVER_EPILOG = """examples:
  percept bag recover crashed.mcap fixed.mcap
  percept bag recover ~/bags/robot_run/ fixed.mcap    # rosbag2 folder, last file cut
  percept bag info fixed.mcap

An MCAP cut before its footer (a recorder killed by a power loss) keeps every chunk
written before the cut; the output holds those chunks verbatim (their compression kept)
with a fresh index and footer, as `mcap recover` does. A rosbag2 folder is read through
its recovered files and written as one bag (.mcap: one file; else a folder). Reading a
cut bag directly (replay, eval, info) recovers it on the fly with one warning.
"""

FROM_EUROC_EPILOG = """examples:
  percept bag from-euroc ~/data/MH_01_easy --out out/mh01.mcap
  percept bag from-euroc ../shared/data/vi_moving_euroc_mh01 --out out/mh01_3s.mcap \\
      --start 1 --duration 3
  percept replay out/mh01.mcap --robot euroc --out out/mh01_run.mcap

Topics: /cam0/image_raw, /cam1/image_raw (mono8), /cam0/camera_info, /cam1/camera_info
(sensor.yaml K and D, stereo R and P), /imu0, /tf_static (base_link -> imu0 -> cam0,
cam1, from the T_BS), /ground_truth/pose (state_groundtruth_estimate0, world frame).
--start counts from the first camera or IMU stamp.
"""


FROM_INTEL_LAB_EPILOG = """examples:
  percept bag from-intel-lab --out out/intel.mcap
  percept bag from-intel-lab --data ~/data/sample_Intel_dataset.mat --out intel.mcap --rate 10

The Intel Research Lab scans of the UMich ROB 530 course (743 scans with SLAM-corrected
poses; default: <data>/mapping_intel_lab_umich/sample_Intel_dataset.mat, <data> being
$PERCEPT_DATA or ../shared/data beside the checkout).
Topics: /scan (sensor_msgs/LaserScan, frame base_laser, 180 beams of 1.006 deg from -90
to +90 deg; beams the file dropped are NaN), /tf (odom -> base_link: the corrected
poses), /tf_static (map -> odom and base_link -> base_laser, identity),
/ground_truth/odom (the same poses, map -> base_link).
The data have no timestamps: the stamps are SYNTHETIC, one scan every 1/--rate seconds.
"""


AS_DRIVER_EPILOG = """examples:
  percept bag from-euroc ../shared/data/vi_moving_euroc_mh01 --out out/mh01.mcap
  percept bag as-driver out/mh01.mcap --driver realsense --size 848x480 --out out/rs.mcap
  percept replay out/rs.mcap --robot realsense_d435i --out out/rs_run.mcap
  percept bag as-driver out/synth.mcap --driver oakd --out out/oak.mcap

Drivers (percept/tools/driver_topics.py has the names and their sources):
  realsense  realsense2_camera 4.x: /camera/camera/infra1|infra2/image_rect_raw + camera_info,
             /camera/camera/imu; frames camera_link, camera_infra1_optical_frame, ...
             (robot realsense_d435i)
  zed        zed_wrapper 5.1+: /zed/zed_node/left|right/gray/rect/image + camera_info,
             /zed/zed_node/imu/data; frames zed_camera_link, zed_left_camera_frame_optical
             (robot zed2i)
  oakd       depthai_ros_driver 2.x: /oak/left|right/image_raw + camera_info, /oak/imu/data;
             frames oak-d-base-frame, oak_left_camera_optical_frame, ... (robot oakd)
Sources: `percept bag from-euroc` (/cam0, /cam1, /imu0) and `percept synth` (/stereo/left,
/stereo/right, /imu/data) bags. realsense and zed publish rectified images: the images are
rectified with the bag's camera_info R and P and /tf_static names the rectified frames.
Other topics (ground truth) are copied unchanged.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "bag", help="inspect bags", description="Inspect rosbag2 (sqlite3, MCAP) and ROS 1 bags."
    )
    sub = p.add_subparsers(dest="bag_command", metavar="ACTION", required=True)
    info = add_command(sub, "info", "topics, types, counts, rates and gaps", epilog=EPILOG)
    info.add_argument("bag", type=Path, help="bag folder or file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(run=run)
    rec = add_command(
        sub,
        "recover",
        "write a clean bag from one cut by a crash (every whole chunk kept)",
        epilog=RECOVER_EPILOG,
    )
    rec.add_argument("bag", type=Path, help="damaged MCAP file or rosbag2 folder")
    rec.add_argument("out", type=Path, help="output bag (.mcap: one file)")
    rec.add_argument("--force", action="store_true", help="replace an existing output")
    rec.set_defaults(run=run_recover)
    euroc = add_command(
        sub,
        "from-euroc",
        "write an EuRoC/ASL folder (mav0/cam0, cam1, imu0, ground truth) into a bag",
        epilog=FROM_EUROC_EPILOG,
    )
    euroc.add_argument("folder", type=Path, help="sequence folder (holding mav0/) or mav0/")
    euroc.add_argument("--out", type=Path, required=True, help="output bag (.mcap: one file)")
    euroc.add_argument("--start", type=float, default=0.0, help="skip this many seconds")
    euroc.add_argument("--duration", type=float, default=None, help="keep this many seconds")
    euroc.add_argument(
        "--ground-truth", type=Path, default=None, help="ground-truth file (EuRoC CSV or TUM)"
    )
    euroc.add_argument("--force", action="store_true", help="replace an existing output")
    euroc.set_defaults(run=run_from_euroc)
    intel = add_command(
        sub,
        "from-intel-lab",
        "write the Intel Lab scans and poses (.mat) into a bag; stamps are synthetic",
        epilog=FROM_INTEL_LAB_EPILOG,
    )
    intel.add_argument(
        "--data",
        type=Path,
        default=None,
        help="sample_Intel_dataset.mat (default: in the real-data folder)",
    )
    intel.add_argument("--out", type=Path, required=True, help="output bag (.mcap: one file)")
    intel.add_argument(
        "--rate", type=float, default=5.0, help="scan rate of the synthetic stamps, Hz"
    )
    intel.add_argument("--force", action="store_true", help="replace an existing output")
    intel.set_defaults(run=run_from_intel_lab)
    drv = add_command(
        sub,
        "as-driver",
        "rewrite a stereo + IMU bag with a camera driver's topics, frames and images",
        epilog=AS_DRIVER_EPILOG,
    )
    drv.add_argument("bag", type=Path, help="input bag (percept bag from-euroc, percept synth)")
    drv.add_argument(
        "--driver", required=True, choices=("realsense", "zed", "oakd"), help="camera driver"
    )
    drv.add_argument("--out", type=Path, required=True, help="output bag (.mcap: one file)")
    drv.add_argument(
        "--source", choices=("euroc", "synth"), default=None, help="input kind (default: found)"
    )
    drv.add_argument("--size", default=None, metavar="WxH", help="scale the images to WxH")
    drv.add_argument("--force", action="store_true", help="replace an existing output")
    drv.set_defaults(run=run_as_driver)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept bag info``."""
    from percept.io.bag import format_summary, summarize_bag

    summaries, facts = summarize_bag(args.bag)
    if args.json:
        doc = {**facts, "topics": [s.__dict__ for s in summaries]}
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(format_summary(summaries, facts) + "\n")
    return 0


def run_recover(args: argparse.Namespace) -> int:
    """Execute ``percept bag recover``."""
    from percept.io.recover import recover_bag

    report = recover_bag(args.bag, args.out, overwrite=args.force)
    if report.damaged:
        what = report.describe()
    else:
        what = f"{report.path}: intact; {report.messages} messages in {report.chunks} chunks"
    sys.stdout.write(f"wrote {args.out}: {what}\n")
    return 0


def run_from_euroc(args: argparse.Namespace) -> int:
    """Execute ``percept bag from-euroc``."""
    from percept.io.euroc import read_euroc, write_euroc_bag

    data = read_euroc(args.folder, ground_truth=args.ground_truth)
    result = write_euroc_bag(
        data,
        args.out,
        start_s=args.start,
        duration_s=args.duration,
        overwrite=args.force,
        progress=show_progress(args),
    )
    span_s = (result.stop_ns - result.start_ns) / 1e9
    counts = ", ".join(f"{t} {n}" for t, n in result.counts.items())
    sys.stdout.write(
        f"wrote {result.path}: {span_s:.2f} s of data in {result.seconds:.2f} s; {counts}\n"
    )
    return 0


def run_from_intel_lab(args: argparse.Namespace) -> int:
    """Execute ``percept bag from-intel-lab``."""
    from percept.errors import ConfigError
    from percept.io.intel_lab import default_intel_lab_path, write_intel_lab_bag

    data = args.data if args.data is not None else default_intel_lab_path()
    if data is None:
        msg = "no real-data folder found (set PERCEPT_DATA or place it at ../shared/data); "
        msg += "pass --data sample_Intel_dataset.mat"
        raise ConfigError(msg)
    if not args.rate > 0:
        msg = f"--rate must be > 0 Hz, got {args.rate}"
        raise ConfigError(msg)
    result = write_intel_lab_bag(data, args.out, rate_hz=args.rate, overwrite=args.force)
    span_s = (result.stop_ns - result.start_ns) / 1e9
    counts = ", ".join(f"{t} {n}" for t, n in result.counts.items())
    sys.stdout.write(
        f"wrote {result.path}: {span_s:.1f} s of synthetic time at {args.rate:g} Hz in "
        f"{result.seconds:.2f} s; {result.grid.n_beams} beams of "
        f"{result.grid.angle_increment_rad:.6f} rad; {counts}\n"
    )
    return 0


def run_as_driver(args: argparse.Namespace) -> int:
    """Execute ``percept bag as-driver``."""
    from percept.errors import ConfigError
    from percept.tools.driver_topics import as_driver

    size = None
    if args.size is not None:
        w, sep, h = str(args.size).lower().partition("x")
        if not sep or not w.isdigit() or not h.isdigit():
            msg = f"--size must be WxH in pixels, e.g. 848x480, got {args.size!r}"
            raise ConfigError(msg)
        size = (int(w), int(h))
    result = as_driver(
        args.bag, args.out, args.driver, source=args.source, size=size, overwrite=args.force
    )
    counts = ", ".join(f"{t} {n}" for t, n in result.counts.items())
    sys.stdout.write(
        f"wrote {result.path} as {result.driver.description} from {result.source.name}, "
        f"{result.size[0]}x{result.size[1]}, in {result.seconds:.2f} s; {counts}\n"
    )
    return 0
