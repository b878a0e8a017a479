"""OccupancyMapNode: point clouds, depth images or laser scans + TF -> an occupancy grid.

The ROS face of :class:`percept.mapping.occupancy2d.OccupancyMap2D` (``grid_model:
flat``) or :class:`percept.mapping.band3d.BandMap2D` (``grid_model: band3d``: 3-D rays
in the height band, projected; rays over low obstacles do not clear them) and,
optionally, :class:`percept.mapping.voxel3d.VoxelMap3D`, as octomap_server and nav2's obstacle
layer take their sensors: ``points2`` (sensor_msgs/PointCloud2, organised or not),
``depth`` + ``camera_info`` (a depth image, 32FC1 metres or 16UC1 millimetres), or
``scan`` (sensor_msgs/LaserScan); any of them, each on its own topic.

Where the sensor was: the pose of the message's frame in ``map_frame`` at the message
stamp, from TF (``pose_source: tf``; ``map_frame`` is ``odom`` behind an odometry, or
``map`` behind a localiser), or from a nav_msgs/Odometry topic (``pose_source:
odometry``: the odometry's pose of its child frame, interpolated at the stamp, and TF
from that child frame to the sensor). The height band is measured from ``base_frame``:
a point's map z less the base's (``height_reference: map_z``, nav2's rule), or its z in
``base_frame`` (``base_frame``: a ground robot's floor stays out of the band when the
odometry's gravity is off by a degree). A message whose pose is not there yet waits in a
bounded queue for at most ``tf_timeout_s`` of message time, as tf2's MessageFilter
does; then it is dropped, counted, and the TF error is logged.

What counts as what (REP 117): a NaN point or depth is invalid and ignored; ``+inf``
depth and scan ranges beyond ``range_max`` are beams with no return, which clear
free space up to ``max_range_m`` (``clear_no_return``) and mark nothing. An organised
cloud's ``+inf`` points carry no direction and are ignored (send depth images to clear
along them). Stereo matching leaves NaN where it finds no match: no clearing there.

Outputs: ``map`` (nav_msgs/OccupancyGrid, transient local, at ``publish_rate_hz`` when
it changed: -1 unknown, else the occupancy probability in percent), ``voxels``
(PointCloud2 of the occupied voxel centres, with ``enable_3d``), and /diagnostics
(integration time, points used, cells changed, TF waits and drops). Setting the
parameter ``save_map_to`` (a path without extension) writes the grid as nav2
map_server files (``.pgm`` + ``.yaml``) there.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation, Slerp

from percept.domain import CameraInfo, Image, LaserScan, OccupancyGrid, Odometry, PointCloud
from percept.errors import ConfigError, InputRejected, PerceptError, TransformError
from percept.mapping.band3d import BandMap2D
from percept.mapping.config import MappingConfig
from percept.mapping.occupancy2d import InsertStats, OccupancyMap2D
from percept.msgtypes import CAMERA_INFO, IMAGE, LASER_SCAN, OCCUPANCY_GRID, ODOMETRY, POINT_CLOUD2
from percept.node import (
    LATCHED,
    RELIABLE,
    SENSOR_DATA,
    Input,
    Node,
    Output,
    Parameter,
    ParamValue,
    QosProfile,
    Sync,
    Timer,
)
from percept.params import ConfigParameters
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from percept.mapping.voxel3d import VoxelMap3D

__all__ = ["MAPPING_PARAMETERS", "OccupancyMapNode", "depth_points", "scan_points"]

FloatArray = npt.NDArray[np.float64]

#: MappingConfig's fields as node parameters.
MAPPING_PARAMETERS = ConfigParameters(MappingConfig)

#: A deep queue for odometry: one pose per IMU sample when ``odom_imu`` is used.
_ODOM_QOS = QosProfile("reliable", "volatile", 200)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A sensor message waiting for its pose: points in the sensor frame."""

    source: str
    stamp_ns: int
    frame_id: str
    points: npt.NDArray[np.float32]  # (N, 3) returns
    no_return: npt.NDArray[np.float32]  # (M, 3) points at max range: clear only
    points_in: int


def depth_points(
    depth: npt.NDArray[np.generic],
    encoding: str,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    stride: int,
    max_range_m: float,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Points of a depth image in its optical frame, and no-return points.

    Args:
        depth: (H, W) depth image: 32FC1 metres (NaN invalid, ``+inf`` no return) or
            16UC1 millimetres (0 invalid, as REP 118).
        encoding: ``32FC1`` or ``16UC1``.
        fx: focal length along x (the rectified P), pixels.
        fy: focal length along y, pixels.
        cx: principal point x, pixels.
        cy: principal point y, pixels.
        stride: use every ``stride``-th row and column.
        max_range_m: where no-return rays end.

    Returns:
        ``(points, no_return)``: (N, 3) float32 finite points with z > 0 and (M, 3)
        float32 points at ``max_range_m`` along the rays of ``+inf`` pixels.
    """
    sub = depth[::stride, ::stride]
    rows, cols = np.mgrid[0 : depth.shape[0] : stride, 0 : depth.shape[1] : stride]
    x = ((cols - cx) / fx).astype(np.float32)
    y = ((rows - cy) / fy).astype(np.float32)
    if encoding == "16UC1":
        z = sub.astype(np.float32) * np.float32(0.001)
        z[sub == 0] = np.nan
    else:
        z = np.asarray(sub, dtype=np.float32)
    valid = np.isfinite(z) & (z > 0)
    zv = z[valid]
    points = np.stack([x[valid] * zv, y[valid] * zv, zv], axis=1)
    far = np.isposinf(z)
    rays = np.stack([x[far], y[far], np.ones(int(far.sum()), np.float32)], axis=1)
    rays *= np.float32(max_range_m) / np.linalg.norm(rays, axis=1, keepdims=True)
    return points.astype(np.float32, copy=False), rays.astype(np.float32, copy=False)


def scan_points(
    scan: LaserScan, max_range_m: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Returns of a LaserScan in its frame, and no-return beams at ``max_range_m``.

    A range inside [range_min, range_max] is a return; ``+inf`` or beyond range_max is
    no return (REP 117); NaN, ``-inf`` and ranges below range_min are ignored.

    Returns:
        ``(points, no_return)``: (N, 3) and (M, 3) float32, z = 0 in the scan frame.
    """
    ranges = np.asarray(scan.ranges, dtype=np.float32)
    angles = scan.angle_min_rad + scan.angle_increment_rad * np.arange(ranges.size)
    c, s = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    with np.errstate(invalid="ignore"):
        hit = (ranges >= scan.range_min_m) & (ranges <= scan.range_max_m)
        none = np.isposinf(ranges) | (np.isfinite(ranges) & (ranges > scan.range_max_m))
    points = np.stack([c[hit] * ranges[hit], s[hit] * ranges[hit], np.zeros(int(hit.sum()))], 1)
    reach = np.float32(max_range_m)
    no_return = np.stack([c[none] * reach, s[none] * reach, np.zeros(int(none.sum()))], 1)
    return points.astype(np.float32), no_return.astype(np.float32)


def _voxel_map(config: MappingConfig, enabled: bool) -> VoxelMap3D | None:
    """The 3-D map when it is on (imported only then)."""
    if not enabled:
        return None
    from percept.mapping.voxel3d import VoxelMap3D

    return VoxelMap3D(config)


def _grid(config: MappingConfig) -> OccupancyMap2D | BandMap2D:
    """The 2-D map of ``grid_model``: flat rays, or 3-D rays in the band, projected."""
    return BandMap2D(config) if config.grid_model == "band3d" else OccupancyMap2D(config)


def _transform(T: FloatArray, points: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = points.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    return out


class OccupancyMapNode(Node):
    """A 2-D log-odds occupancy grid (and optional 3-D voxels) from depth sensors.

    See the module docstring for inputs, poses, no-return beams and outputs.
    """

    NAME = "occupancy_map"
    DESCRIPTION = "points2 / depth / scan + TF -> nav_msgs/OccupancyGrid map (and voxels)"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("points", "points2", POINT_CLOUD2, SENSOR_DATA, "point cloud (organised or not)"),
        Input("depth", "depth", IMAGE, SENSOR_DATA, "depth image: 32FC1 m or 16UC1 mm"),
        Input("camera_info", "depth/camera_info", CAMERA_INFO, SENSOR_DATA, "depth camera_info"),
        Input("scan", "scan", LASER_SCAN, SENSOR_DATA, "planar laser scan"),
        Input("odom", "odom", ODOMETRY, _ODOM_QOS, "sensor poses (pose_source: odometry)"),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output("map", "map", OCCUPANCY_GRID, LATCHED, "2-D occupancy grid (transient local)"),
        Output("voxels", "voxels", POINT_CLOUD2, RELIABLE, "occupied voxel centres (enable_3d)"),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (Sync(("depth", "camera_info"), "on_depth"),)
    TIMERS: ClassVar[tuple[Timer, ...]] = (Timer(0.1, "on_timer"),)
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        *MAPPING_PARAMETERS.parameters,
        Parameter("map_frame", "string", "odom", "frame of the map (odom or map)"),
        Parameter("base_frame", "string", "base_link", "robot frame: the height band's zero"),
        Parameter(
            "height_reference",
            "string",
            "map_z",
            "band heights: map z minus base z (map_z), or z in base_frame (ground robots)",
            choices=("map_z", "base_frame"),
            read_only=True,
        ),
        Parameter(
            "pose_source",
            "string",
            "tf",
            "sensor poses from TF, or from the odom input and TF child -> sensor",
            choices=("tf", "odometry"),
        ),
        Parameter(
            "tf_timeout_s",
            "double",
            0.5,
            "longest wait for a message's pose (message time), s",
            min_value=0.0,
            max_value=60.0,
        ),
        Parameter("queue_size", "integer", 10, "messages waiting for their pose", min_value=1),
        Parameter("publish_rate_hz", "double", 1.0, "map publishing rate, Hz", min_value=0.01),
        Parameter("depth_stride", "integer", 1, "depth: every n-th row and column", min_value=1),
        Parameter("enable_3d", "bool", False, "also build the 3-D voxel map and publish voxels"),
        Parameter(
            "save_map_to",
            "string",
            "",
            "set to PATH (no extension) to write PATH.pgm + PATH.yaml (nav2 map_server)",
        ),
        Parameter(
            "save_map_mode",
            "string",
            "trinary",
            "map_server mode of saved maps",
            choices=("trinary", "scale", "raw"),
        ),
    )

    def setup(self) -> None:
        """Build the maps from the parameters.

        Raises:
            ConfigError: mapping values that do not go together.
        """
        self.config = self._config(self.params)
        self.grid = _grid(self.config)
        self.voxels = _voxel_map(self.config, self.param_bool("enable_3d"))
        self._pending: deque[_Pending] = deque()
        self._odom: deque[tuple[int, FloatArray]] = deque(maxlen=2000)
        self._odom_frames: tuple[str, str] | None = None
        self._dirty = False
        self._last_publish_ns: int | None = None
        self._last_stats: InsertStats | None = None
        self._integration_s: list[float] = []
        self.counts = {
            "inserted": 0,
            "tf_waited": 0,
            "tf_dropped": 0,
            "queue_dropped": 0,
            "maps_published": 0,
            "maps_saved": 0,
        }
        self._last_tf_error = ""
        self._last_drop_ns: int | None = None

    @staticmethod
    def _config(params: Mapping[str, ParamValue]) -> MappingConfig:
        try:
            return MAPPING_PARAMETERS.build(params)
        except ValueError as err:
            raise ConfigError(f"occupancy_map: {err}") from err

    def on_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        """Save on ``save_map_to``; a changed mapping setting starts a new map.

        Returns:
            None (accepted), or why the change is refused (bad values, a failed save).
        """
        merged = {**self.params, **changed}
        try:
            config = self._config(merged)
        except ConfigError as err:
            return str(err)
        self.params.update(changed)
        mapping_keys = {p.name for p in MAPPING_PARAMETERS.parameters}
        if mapping_keys & set(changed) or "enable_3d" in changed:
            self.ctx.logger.warning("occupancy_map: mapping settings changed: a new map starts")
            self.config = config
            self.grid = _grid(config)
            self.voxels = _voxel_map(config, self.param_bool("enable_3d"))
            self._dirty = True
        target = str(changed.get("save_map_to", "") or "")
        if target:
            try:
                self.save_map(target)
            except ConfigError as err:
                return str(err)
        return None

    def save_map(self, target: str) -> Path:
        """Write the grid as nav2 map_server files ``target.yaml`` + image.

        Raises:
            ConfigError: the files cannot be written.
        """
        from percept.mapping.map_io import save_map

        grid = self.current_map()
        yaml_path = Path(target).with_suffix(".yaml")
        try:
            written = save_map(grid, yaml_path, mode=self.param_str("save_map_mode"))
        except (OSError, PerceptError, ValueError) as err:
            msg = f"occupancy_map: cannot save the map to {yaml_path}: {err}"
            raise ConfigError(msg) from err
        self.counts["maps_saved"] += 1
        self.ctx.logger.info("occupancy_map: map saved to %s", written)
        return Path(written)

    # -- inputs ------------------------------------------------------------------------
    def on_points(self, cloud: PointCloud) -> dict[str, object] | None:
        """Queue a cloud's finite points for insertion at its stamp."""
        names = cloud.points.dtype.names or ()
        if not {"x", "y", "z"} <= set(names):
            msg = f"points2 has no x/y/z fields (fields: {list(names)})"
            raise InputRejected(msg)
        xyz = cloud.xyz().reshape(-1, 3)
        finite = np.isfinite(xyz).all(axis=1)
        if not finite.any():
            msg = f"points2: none of its {xyz.shape[0]} points is finite"
            raise InputRejected(msg)
        return self._queue(
            "points2", cloud.header.stamp_ns, cloud.header.frame_id, xyz[finite], None, xyz.shape[0]
        )

    def on_depth(self, image: Image, info: CameraInfo) -> dict[str, object] | None:
        """Queue a depth image's points (and no-return rays) for insertion."""
        if image.encoding not in ("32FC1", "16UC1"):
            msg = f"depth: encoding {image.encoding} is not a depth image (32FC1 or 16UC1)"
            raise InputRejected(msg)
        model = info.model
        if (model.width, model.height) != (image.width, image.height):
            msg = (
                f"depth is {image.width}x{image.height} but depth/camera_info says "
                f"{model.width}x{model.height}"
            )
            raise InputRejected(msg)
        P = np.asarray(model.P, dtype=np.float64).reshape(3, 4)
        fx, fy, cx, cy = P[0, 0], P[1, 1], P[0, 2], P[1, 2]
        if not (fx > 0 and fy > 0):
            raise InputRejected("depth/camera_info has no projection matrix P (fx, fy <= 0)")
        points, no_return = depth_points(
            np.asarray(image.data),
            image.encoding,
            fx,
            fy,
            cx,
            cy,
            self.param_int("depth_stride"),
            self.config.max_range_m,
        )
        if points.shape[0] == 0 and no_return.shape[0] == 0:
            raise InputRejected("depth: no valid pixel (all NaN or 0)")
        n_in = int(np.asarray(image.data)[:: self.param_int("depth_stride")].size)
        keep = no_return if self.config.clear_no_return else None
        return self._queue(
            "depth", image.header.stamp_ns, image.header.frame_id, points, keep, n_in
        )

    def on_scan(self, scan: LaserScan) -> dict[str, object] | None:
        """Queue a scan's returns (and no-return beams) for insertion."""
        if not (np.isfinite(scan.angle_increment_rad) and scan.angle_increment_rad != 0.0):
            msg = f"scan: angle_increment {scan.angle_increment_rad} is not usable"
            raise InputRejected(msg)
        points, no_return = scan_points(scan, self.config.max_range_m)
        if points.shape[0] == 0 and no_return.shape[0] == 0:
            raise InputRejected(f"scan: none of its {len(scan.ranges)} ranges is usable")
        keep = no_return if self.config.clear_no_return else None
        n_in = int(np.asarray(scan.ranges).size)
        return self._queue("scan", scan.header.stamp_ns, scan.header.frame_id, points, keep, n_in)

    def on_odom(self, odom: Odometry) -> dict[str, object] | None:
        """Keep poses for ``pose_source: odometry``; retry waiting messages."""
        if self.param_str("pose_source") != "odometry":
            return None
        T = odom.pose.as_matrix()
        if not np.isfinite(T).all():
            raise InputRejected("odom: non-finite pose")
        frames = (odom.header.frame_id, odom.child_frame_id)
        if self._odom_frames is not None and frames != self._odom_frames:
            self._odom.clear()
        self._odom_frames = frames
        if self._odom and odom.header.stamp_ns <= self._odom[-1][0]:
            if odom.header.stamp_ns < self._odom[-1][0]:
                self._odom.clear()  # time went back: a bag played again
            else:
                return None
        self._odom.append((odom.header.stamp_ns, T))
        return self._drain()

    def on_timer(self) -> dict[str, object] | None:
        """Retry waiting messages; publish the map when due."""
        out = self._drain() or {}
        now = self.ctx.now_ns()
        period_ns = round(NS_PER_S / self.param_float("publish_rate_hz"))
        due = self._last_publish_ns is None or now - self._last_publish_ns >= period_ns
        if self._dirty and due and self.counts["inserted"] > 0:
            out.update(self._map_outputs(now))
        return out or None

    # -- insertion ---------------------------------------------------------------------
    def _queue(
        self,
        source: str,
        stamp_ns: int,
        frame_id: str,
        points: npt.NDArray[np.float32],
        no_return: npt.NDArray[np.float32] | None,
        points_in: int,
    ) -> dict[str, object] | None:
        if not frame_id:
            msg = f"{source}: empty header.frame_id: the sensor pose cannot be looked up"
            raise InputRejected(msg)
        empty = np.zeros((0, 3), np.float32)
        item = _Pending(
            source,
            stamp_ns,
            frame_id,
            np.ascontiguousarray(points, dtype=np.float32),
            empty if no_return is None else np.ascontiguousarray(no_return, dtype=np.float32),
            points_in,
        )
        if len(self._pending) >= self.param_int("queue_size"):
            old = self._pending.popleft()
            self.counts["queue_dropped"] += 1
            self.ctx.logger.warning(
                "occupancy_map: queue full: dropped %s at %.3f s waiting for its pose",
                old.source,
                old.stamp_ns / NS_PER_S,
            )
        self._pending.append(item)
        return self._drain()

    def _drain(self) -> dict[str, object] | None:
        """Insert every waiting message whose pose is known, oldest first."""
        now = self.ctx.now_ns()
        timeout_ns = round(self.param_float("tf_timeout_s") * NS_PER_S)
        while self._pending:
            item = self._pending[0]
            try:
                T_map_sensor, T_base_sensor, base_z = self._sensor_pose(
                    item.frame_id, item.stamp_ns
                )
            except TransformError as err:
                self._last_tf_error = str(err)
                if now - item.stamp_ns > timeout_ns:
                    self._pending.popleft()
                    self.counts["tf_dropped"] += 1
                    self._last_drop_ns = now
                    self.ctx.logger.warning(
                        "occupancy_map: %s at %.3f s dropped: no pose after %.2f s: %s",
                        item.source,
                        item.stamp_ns / NS_PER_S,
                        (now - item.stamp_ns) / NS_PER_S,
                        err,
                    )
                    continue
                self.counts["tf_waited"] += 1
                break
            self._pending.popleft()
            self._insert(item, T_map_sensor, T_base_sensor, base_z)
        return None

    def _sensor_pose(self, frame_id: str, stamp_ns: int) -> tuple[FloatArray, FloatArray, float]:
        """``T_map_sensor``, ``T_base_sensor`` ((4, 4) each) and the base's map z at the stamp.

        Raises:
            TransformError: the pose is not (yet) known.
        """
        map_frame = self.param_str("map_frame")
        base_frame = self.param_str("base_frame")
        if self.param_str("pose_source") == "odometry":
            T_map_base = self._odom_pose(stamp_ns)
            T_base_sensor = self.ctx.lookup_transform(base_frame, frame_id, stamp_ns).as_matrix()
            return T_map_base @ T_base_sensor, T_base_sensor, float(T_map_base[2, 3])
        T_map_sensor = self.ctx.lookup_transform(map_frame, frame_id, stamp_ns).as_matrix()
        T_map_base = self.ctx.lookup_transform(map_frame, base_frame, stamp_ns).as_matrix()
        T_base_sensor = np.linalg.inv(T_map_base) @ T_map_sensor
        return T_map_sensor, T_base_sensor, float(T_map_base[2, 3])

    def _odom_pose(self, stamp_ns: int) -> FloatArray:
        """The odometry's base pose at ``stamp_ns`` (interpolated).

        Raises:
            TransformError: no odometry around the stamp, or in another frame.
        """
        map_frame, base_frame = self.param_str("map_frame"), self.param_str("base_frame")
        if self._odom_frames is not None and self._odom_frames != (map_frame, base_frame):
            parent, child = self._odom_frames
            msg = (
                f"odom gives {child} in {parent}; map_frame/base_frame are {map_frame}/{base_frame}"
            )
            raise TransformError(msg)
        if not self._odom or stamp_ns > self._odom[-1][0]:
            msg = f"no odometry at or after {stamp_ns / NS_PER_S:.3f} s yet"
            raise TransformError(msg)
        stamps = np.fromiter((s for s, _ in self._odom), np.int64, len(self._odom))
        i = int(np.searchsorted(stamps, stamp_ns))
        if stamps[i] == stamp_ns:
            return self._odom[i][1]
        if i == 0:
            msg = f"odometry starts at {stamps[0] / NS_PER_S:.3f} s, after the message"
            raise TransformError(msg)
        (s0, T0), (s1, T1) = self._odom[i - 1], self._odom[i]
        f = (stamp_ns - s0) / (s1 - s0)
        rot = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([T0[:3, :3], T1[:3, :3]])))(f)
        T = np.eye(4)
        T[:3, :3] = rot.as_matrix()
        T[:3, 3] = (1 - f) * T0[:3, 3] + f * T1[:3, 3]
        return T

    def _insert(
        self, item: _Pending, T_map_sensor: FloatArray, T_base_sensor: FloatArray, base_z: float
    ) -> None:
        start = time.perf_counter()
        origin = T_map_sensor[:3, 3]
        points = _transform(T_map_sensor, item.points)
        no_return = _transform(T_map_sensor, item.no_return) if item.no_return.size else None
        heights = None
        if self.param_str("height_reference") == "base_frame":
            heights = item.points.astype(np.float64) @ T_base_sensor[2, :3] + T_base_sensor[2, 3]
        stats = self.grid.insert(origin, points, base_z, item.stamp_ns, no_return, heights)
        if self.voxels is not None:
            self.voxels.insert(origin, points, item.stamp_ns, no_return)
        self._integration_s.append(time.perf_counter() - start)
        self._last_stats = stats
        self.counts["inserted"] += 1
        self._dirty = True

    def _map_outputs(self, now_ns: int) -> dict[str, object]:
        frame = self.param_str("map_frame")
        out: dict[str, object] = {"map": self.grid.to_occupancy_grid(frame, now_ns)}
        if self.voxels is not None:
            out["voxels"] = self.voxels.to_point_cloud(frame, now_ns)
        self._dirty = False
        self._last_publish_ns = now_ns
        self.counts["maps_published"] += 1
        return out

    def current_map(self) -> OccupancyGrid:
        """The grid as it stands (what the next ``map`` message would carry)."""
        return self.grid.to_occupancy_grid(self.param_str("map_frame"), self.ctx.now_ns())

    # -- diagnostics -------------------------------------------------------------------
    def diagnostic_values(self) -> list[tuple[str, str]]:
        """Integration time, points used, cells changed, TF waits, map size."""
        values = [(k, str(v)) for k, v in self.counts.items()]
        values.append(("waiting_for_pose", str(len(self._pending))))
        if self._integration_s:
            recent = np.asarray(self._integration_s[-50:])
            values.append(("integration_ms_mean", f"{1e3 * recent.mean():.1f}"))
            values.append(("integration_ms_last", f"{1e3 * self._integration_s[-1]:.1f}"))
        stats = self._last_stats
        if stats is not None:
            values.append(("points_in", str(stats.points_in)))
            values.append(("points_used", str(stats.points_used)))
            values.append(("cells_changed", str(stats.cells_changed)))
        geometry = self.grid.geometry
        values.append(("map_cells", f"{geometry.width}x{geometry.height}"))
        if self._last_tf_error:
            values.append(("last_tf_error", self._last_tf_error))
        return values

    def diagnostic_summary(self) -> tuple[int, str] | None:
        """WARN while messages are dropped for want of a pose (in the last 5 s)."""
        recent = (
            self._last_drop_ns is not None and self.ctx.now_ns() - self._last_drop_ns < 5 * NS_PER_S
        )
        if recent:
            return 1, f"{self.counts['tf_dropped']} dropped without a pose: {self._last_tf_error}"
        if self.counts["inserted"] == 0:
            return 1, "nothing inserted yet"
        return None
