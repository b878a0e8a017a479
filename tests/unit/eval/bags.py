"""Small ground-truth and run bags for the ``percept eval`` bag-mode tests.

The ground truth is what ``percept synth`` writes (``/ground_truth/*``); the run is what
a replay would publish: noisy odometry, disparity with noise and holes, detections with
misses and false alarms, a map with errors, /diagnostics and a camera image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from percept import codecs
from percept.domain import (
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    DiagnosticArray,
    Disparity,
    Header,
    Image,
    ObjectHypothesis,
    OccupancyGrid,
    Odometry,
    PoseStamped,
)
from percept.geometry.pose import Pose
from percept.io.bag import BagWriter
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.runtime.monitor import NodeMonitor

from .generators import T0_NS, S, smooth_pose

W, H = 64, 48
FOCAL_PX, BASELINE_M = 60.0, 0.12
CLASSES = ("pallet", "carton", "barrel")
#: depth of each object's 3D centre and the run's error along z, metres
DEPTHS_3D_M = (1.5, 3.0, 7.0)
Z_ERRORS_3D_M = (0.1, 0.2, 0.4)


@dataclass
class Scene:
    """What the bags hold, so tests can compute the expected numbers directly."""

    gt_poses: list[PoseStamped] = field(default_factory=list)
    run_odom: list[Odometry] = field(default_factory=list)
    gt_depth: list[Image] = field(default_factory=list)
    run_disparity: list[Disparity] = field(default_factory=list)
    gt_boxes: list[Detection2DArray] = field(default_factory=list)
    run_boxes: list[Detection2DArray] = field(default_factory=list)
    gt_boxes_3d: list[Detection3DArray] = field(default_factory=list)
    run_boxes_3d: list[Detection3DArray] = field(default_factory=list)
    gt_map: OccupancyGrid | None = None
    run_map: OccupancyGrid | None = None
    gt_map_visible: OccupancyGrid | None = None


class _Writer:
    def __init__(self, writer: BagWriter) -> None:
        self.writer = writer
        self.factory = RosbagsFactory(get_typestore())
        self.store = get_typestore()

    def put(self, topic: str, msgtype: str, obj: object, log_ns: int) -> None:
        msg = codecs.encode(msgtype, obj, self.factory)
        self.writer.write(topic, msgtype, log_ns, bytes(self.store.serialize_cdr(msg, msgtype)))


def depth_image(t_s: float) -> np.ndarray:
    """(H, W) float32 metres: a slanted floor from 1 m to 9 m, a box at 3 m, sky unknown."""
    rows = np.linspace(1.0, 9.0, H, dtype=np.float32)[::-1, None]
    depth = np.repeat(rows, W, axis=1)
    x0 = int(20 + 10 * np.sin(t_s))
    depth[10:30, x0 : x0 + 16] = 3.0
    depth[:4, :] = np.inf  # no surface: unknown
    return depth


def write_bags(
    folder: Path,
    *,
    seconds: float = 4.0,
    seed: int = 0,
    namespace: str = "",
    with_map: bool = True,
    gt_in_run: bool = False,
    map_in_odom: bool = False,
    with_visible_map: bool = False,
) -> tuple[Path, Path, Scene]:
    """Write ``gt.mcap`` and ``run.mcap`` (or only ``run.mcap`` holding both).

    ``map_in_odom``: the run's map is in the odometry's frame (``odom``), as a map
    built on VIO poses is, instead of the ground truth's.
    """
    rng = np.random.default_rng(seed)
    scene = Scene()
    run_path, gt_path = folder / "run.mcap", folder / "gt.mcap"
    with (
        BagWriter(run_path, overwrite=True) as run_bag,
        BagWriter(
            run_path.with_name("unused.mcap") if gt_in_run else gt_path, overwrite=True
        ) as gt_bag,
    ):
        run = _Writer(run_bag)
        gt = run if gt_in_run else _Writer(gt_bag)
        # poses: ground truth at 50 Hz, odometry at 25 Hz, 0.4 ms late, noisy, other frame
        R_odom = Rotation.from_euler("z", 0.7)
        for k in range(int(seconds * 50)):
            t = k / 50
            stamp = T0_NS + round(t * S)
            pos, quat = smooth_pose(np.array([t]))
            pose = PoseStamped(Header(stamp, "world"), Pose(pos[0], quat[0]))
            scene.gt_poses.append(pose)
            gt.put("/ground_truth/pose", codecs.POSE_STAMPED, pose, stamp)
            if k % 2 == 0:
                noisy = R_odom.apply(pos[0]) + rng.normal(0, 0.01, 3) + [1.0, 2.0, 0.0]
                rot = R_odom * Rotation.from_quat(quat[0])
                odom = Odometry(
                    Header(stamp + 400_000, "odom"), "base_link", Pose(noisy, rot.as_quat())
                )
                scene.run_odom.append(odom)
                run.put(f"{namespace}/odom", codecs.ODOMETRY, odom, stamp + 1_000_000)
        # depth and detections at 10 Hz
        for k in range(int(seconds * 10)):
            t = k / 10
            stamp = T0_NS + round(t * S)
            header = Header(stamp, "left_optical")
            depth = depth_image(t)
            img = Image(header, "32FC1", depth)
            scene.gt_depth.append(img)
            gt.put("/ground_truth/depth", codecs.IMAGE, img, stamp)
            disp = np.float32(FOCAL_PX * BASELINE_M) / depth
            disp = disp + rng.normal(0, 0.3, disp.shape).astype(np.float32)
            holes = rng.random(disp.shape) < 0.1
            disp[holes] = -1.0  # stereo_image_proc marks invalid below min_disparity
            if k == 7:
                disp += 3.0  # one bad frame for the failure analysis
            d_msg = Disparity(header, disp.astype(np.float32), FOCAL_PX, BASELINE_M, 0.0, 64.0, 1.0)
            scene.run_disparity.append(d_msg)
            run.put(f"{namespace}/disparity", codecs.DISPARITY_IMAGE, d_msg, stamp + 20_000_000)
            # a camera image for brightness and overlays: darker in the second half
            level = 200 if t < seconds / 2 else 40
            cam = Image(header, "mono8", np.full((H, W), level, np.uint8))
            run.put(f"{namespace}/left/image_rect", codecs.IMAGE, cam, stamp + 5_000_000)
            truth, found = [], []
            truth_3d, found_3d = [], []
            for j in range(3):
                cx, cy = 10.0 + 20 * j + 3 * np.sin(t), 20.0 + 5 * j
                size = (8.0 + 2 * j, 6.0 + j)
                label = CLASSES[j]
                hyp = (ObjectHypothesis(label, 1.0),)
                # ground-truth id: the object; run id: its track (a stable other number)
                truth.append(Detection2D((cx, cy), size, hyp, str(j)))
                centre = np.array([j - 1.0, 0.2, DEPTHS_3D_M[j]])
                truth_3d.append(Detection3D(Pose(centre), np.ones(3), hyp, str(j)))
                if not (j == 2 and k % 3 == 0):  # the barrel is missed every third frame
                    jit = rng.normal(0, 0.4, 2)
                    score = (ObjectHypothesis(label, float(rng.uniform(0.5, 1))),)
                    found.append(Detection2D((cx + jit[0], cy + jit[1]), size, score, str(j + 10)))
                    off = np.array([0.0, 0.0, Z_ERRORS_3D_M[j]])
                    found_3d.append(Detection3D(Pose(centre + off), np.ones(3), score, ""))
            if k % 4 == 1:  # a false alarm, a track of its own
                found.append(
                    Detection2D((55.0, 40.0), (5.0, 5.0), (ObjectHypothesis("carton", 0.9),), "99")
                )
            g_3d = Detection3DArray(header, tuple(truth_3d))
            r_3d = Detection3DArray(header, tuple(found_3d))
            scene.gt_boxes_3d.append(g_3d)
            scene.run_boxes_3d.append(r_3d)
            gt.put("/ground_truth/detections_3d", codecs.DETECTION3D_ARRAY, g_3d, stamp)
            run.put(
                f"{namespace}/detections_3d", codecs.DETECTION3D_ARRAY, r_3d, stamp + 30_000_000
            )
            g_arr = Detection2DArray(header, tuple(truth))
            r_arr = Detection2DArray(header, tuple(found))
            scene.gt_boxes.append(g_arr)
            scene.run_boxes.append(r_arr)
            gt.put("/ground_truth/detections_2d", codecs.DETECTION2D_ARRAY, g_arr, stamp)
            run.put(f"{namespace}/detections", codecs.DETECTION2D_ARRAY, r_arr, stamp + 30_000_000)
        # maps: latched once
        if with_map:
            truth_map = np.zeros((40, 50), np.int8)
            truth_map[0, :] = truth_map[:, 0] = 100
            truth_map[10:20, 20:25] = 100
            est_map = truth_map.copy()
            est_map[10:20, 24] = 0  # a column of the obstacle missed
            est_map[30:32, 40:42] = 100  # a phantom obstacle
            est_map[35:, :] = -1  # not explored
            origin = Pose([-1.0, -1.0, 0.0])
            scene.gt_map = OccupancyGrid(Header(T0_NS, "world"), 0.1, origin, truth_map)
            scene.run_map = OccupancyGrid(Header(T0_NS + S, "world"), 0.1, origin, est_map)
            if map_in_odom:  # the odometry's world: odom = R_odom world + (1, 2, 0)
                T_odom_world = Pose([1.0, 2.0, 0.0], R_odom.as_quat())
                in_odom = OccupancyGrid(
                    Header(T0_NS + S, "odom"), 0.1, T_odom_world @ origin, est_map
                )
                run.put(f"{namespace}/map", codecs.OCCUPANCY_GRID, in_odom, T0_NS + S)
            gt.put("/ground_truth/map", codecs.OCCUPANCY_GRID, scene.gt_map, T0_NS)
            if with_visible_map:  # the outer walls' first cells and the obstacle's face
                seen = np.full(truth_map.shape, -1, np.int8)
                seen[1:-1, 0] = seen[10:20, 20] = 100
                scene.gt_map_visible = OccupancyGrid(Header(T0_NS, "world"), 0.1, origin, seen)
                gt.put(
                    "/ground_truth/map_visible",
                    codecs.OCCUPANCY_GRID,
                    scene.gt_map_visible,
                    T0_NS + 2 * S,
                )
            if not map_in_odom:
                run.put(f"{namespace}/map", codecs.OCCUPANCY_GRID, scene.run_map, T0_NS + S)
        # /diagnostics from the runtime's own monitor
        monitor = NodeMonitor(f"{namespace}/stereo", ["left", "right"], logging.getLogger("t"))
        for second in range(1, int(seconds) + 1):
            now = T0_NS + second * S
            for i in range(10):
                monitor.received("left", now, now)
                monitor.processed((5 + i % 3) * 1_000_000)
            diag = DiagnosticArray(Header(now, ""), (monitor.status(now),))
            run.put("/diagnostics", codecs.DIAGNOSTIC_ARRAY, diag, now)
    if gt_in_run:
        run_path.with_name("unused.mcap").unlink()
    return run_path, (run_path if gt_in_run else gt_path), scene
