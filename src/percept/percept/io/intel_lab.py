"""The Intel Research Lab laser scans (UMich ROB 530 copy): read them, or write them into a bag.

The file ``sample_Intel_dataset.mat`` (MATLAB v5; see the data folder's PROVENANCE.md)
holds three variables:

* ``robotPose``: a struct of ``x``, ``y``, ``h``, each (M, 1) float64: the corrected
  (SLAM) pose of the robot in the map frame, metres and rad, M = 743.
* ``laserScan``: an (M, 1) cell of (2, N_i) float64 arrays, the endpoints of scan ``i`` in
  the robot frame (REP 103: x forward, y left), metres. Beams without a valid return
  were dropped, so N_i = 128...180.
* ``globalLaserScan``: the same endpoints in the map frame. It equals
  ``R(h_i) @ p + (x_i, y_i)``, which fixes the pose convention (heading counter-clockwise
  from the map x axis, the robot frame rotated by it); the tests check it.

The data have **no timestamps and no odometry**: the poses are key-frames of a SLAM
result. Everything here that needs stamps makes them up, evenly spaced at a rate.

Scans as sensor_msgs/LaserScan
------------------------------
Only endpoints survive, so the beam grid is recovered from them
(:func:`infer_scan_grid`): every endpoint's bearing ``atan2(y, x)``; the increment
is the smallest positive bearing step between neighbours within a scan, refined by a
least-squares line ``bearing = angle_min + k * increment`` through all endpoints with
their integer beam index ``k``; ``angle_min`` is the smallest bearing. On this file
the grid is 180 beams of pi/179 rad (1.006 deg) from -90 to +90 deg, and every bearing
lies within 6e-16 rad of it. :func:`to_laser_scans` puts each endpoint's range into its
beam; a beam without an endpoint gets **NaN** (REP 117: an erroneous or missing
measurement) by default, not ``+inf`` ("no return within range_max"), because the file
does not say why a beam was dropped, and ``+inf`` would make a mapper clear free space
out to its maximum range along it. Two endpoints in one beam raise. ``points()`` of the
result gives back the endpoints to within float32 rounding of the ranges and angles
(< 1e-5 m on this file, ranges up to 26.4 m; see the tests).

Bag topics (:func:`write_intel_lab_bag`; REP 105 frames, the ``percept synth`` names)
-----------------------------------------------------------------------------------------

====================  ==============================  =====================================
topic                 type                            content
====================  ==============================  =====================================
/scan                 sensor_msgs/LaserScan           one per pose, frame ``base_laser``
/tf                   tf2_msgs/TFMessage              ``odom -> base_link`` at each scan
/tf_static            tf2_msgs/TFMessage              ``map -> odom`` and
                                                      ``base_link -> base_laser``, identity
/ground_truth/odom     nav_msgs/Odometry               the same poses, ``map -> base_link``
====================  ==============================  =====================================

``map -> odom`` is the identity because the poses are already corrected, so
``odom -> base_link`` carries them; a 2-D pose ``(x, y, h)`` becomes the 3-D transform
``t = (x, y, 0)``, ``q = (0, 0, sin(h/2), cos(h/2))``. The scanner sits at the robot's
origin (the file's robot-frame points are the scanner's), so ``base_link -> base_laser``
is the identity too. Stamps are synthetic: scan ``i`` at ``start_ns + i / rate_hz``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from percept.domain import Header, LaserScan, Odometry, TransformStamped
from percept.errors import BagError
from percept.geometry.pose import Pose
from percept.msgtypes import LASER_SCAN, ODOMETRY, TF_MESSAGE
from percept.units import NS_PER_S

__all__ = [
    "BASE_FRAME",
    "GROUND_TRUTH_TOPIC",
    "INTEL_LAB_FILE",
    "INTEL_LAB_FOLDER",
    "LASER_FRAME",
    "MAP_FRAME",
    "ODOM_FRAME",
    "SCAN_TOPIC",
    "IntelLabBagResult",
    "IntelLabData",
    "ScanGrid",
    "default_intel_lab_path",
    "infer_scan_grid",
    "load_intel_lab",
    "pose_2d",
    "scan_stamps_ns",
    "to_laser_scans",
    "write_intel_lab_bag",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Folder of the data set under the real-data folder, and the file in it.
INTEL_LAB_FOLDER: Final = "mapping_intel_lab_umich"
INTEL_LAB_FILE: Final = "sample_Intel_dataset.mat"

MAP_FRAME: Final = "map"
ODOM_FRAME: Final = "odom"
BASE_FRAME: Final = "base_link"
LASER_FRAME: Final = "base_laser"
SCAN_TOPIC: Final = "/scan"
GROUND_TRUTH_TOPIC: Final = "/ground_truth/odom"

#: First synthetic stamp: 2023-11-14 22:13:20 UTC, as ``percept synth`` starts.
DEFAULT_START_NS: Final = 1_700_000_000 * NS_PER_S


def default_intel_lab_path() -> Path | None:
    """``<data>/mapping_intel_lab_umich/sample_Intel_dataset.mat`` of the real-data folder.

    Returns:
        The path (it may not exist), or None when no real-data folder is found
        (:func:`percept.io.data_dir.find_data_dir`).
    """
    from percept.io.data_dir import find_data_dir

    found = find_data_dir()
    return None if found is None else found / INTEL_LAB_FOLDER / INTEL_LAB_FILE


@dataclass(frozen=True, slots=True, eq=False)
class IntelLabData:
    """The contents of ``sample_Intel_dataset.mat``.

    Attributes:
        path: the file read.
        x_m: (M,) float64 robot x in the map frame, metres.
        y_m: (M,) float64 robot y in the map frame, metres.
        heading_rad: (M,) float64 robot heading, counter-clockwise from the map x axis.
        points_robot_m: M arrays (N_i, 2) float64, scan endpoints (x, y) in the robot
            frame (x forward, y left), metres.
        points_map_m: the file's ``globalLaserScan``: M arrays (N_i, 2) float64, the same
            endpoints in the map frame, metres; None when the file lacks it.
    """

    path: Path
    x_m: FloatArray
    y_m: FloatArray
    heading_rad: FloatArray
    points_robot_m: tuple[FloatArray, ...]
    points_map_m: tuple[FloatArray, ...] | None = None

    @property
    def n_scans(self) -> int:
        """Number of poses and scans (M)."""
        return int(self.x_m.shape[0])

    def to_map(self, index: int) -> FloatArray:
        """(N_i, 2) float64 endpoints of scan ``index`` moved into the map frame by its pose.

        ``p_map = R(h) @ p_robot + (x, y)``; equals ``points_map_m[index]`` on the file.
        """
        h = float(self.heading_rad[index])
        c, s = math.cos(h), math.sin(h)
        R_map_robot = np.array([[c, -s], [s, c]])
        t = np.array([self.x_m[index], self.y_m[index]])
        out: FloatArray = self.points_robot_m[index] @ R_map_robot.T + t
        return out


def _variable(mat: dict[str, object], name: str, path: Path) -> object:
    if name not in mat:
        present = sorted(k for k in mat if not k.startswith("__"))
        msg = f"{path}: no variable {name!r} (the file has {present})"
        raise BagError(msg)
    return mat[name]


def _pose_column(pose: object, name: str, path: Path) -> FloatArray:
    names = getattr(getattr(pose, "dtype", None), "names", None) or ()
    if name not in names:
        msg = f"{path}: robotPose has no field {name!r} (it has {list(names)})"
        raise BagError(msg)
    try:
        column = np.asarray(np.asarray(pose)[name].reshape(-1)[0], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, IndexError) as err:
        msg = f"{path}: robotPose.{name} is not a numeric column vector"
        raise BagError(msg) from err
    return column


def _cells(value: object, name: str, path: Path, count: int) -> tuple[FloatArray, ...]:
    cells = np.asarray(value, dtype=object).reshape(-1)
    if cells.size != count:
        msg = f"{path}: {name} has {cells.size} scans, robotPose {count} poses"
        raise BagError(msg)
    out = []
    for i, cell in enumerate(cells):
        arr = np.asarray(cell, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(2, 0)
        if arr.ndim != 2 or arr.shape[0] != 2:
            msg = f"{path}: {name}{{{i + 1}}} must be a 2xN array of points, got {arr.shape}"
            raise BagError(msg)
        out.append(np.ascontiguousarray(arr.T))
    return tuple(out)


def load_intel_lab(path: Path | str) -> IntelLabData:
    """Read ``sample_Intel_dataset.mat`` (format in the module docstring).

    Args:
        path: the .mat file.

    Returns:
        Poses and endpoints; ``points_map_m`` when the file holds ``globalLaserScan``.

    Raises:
        BagError: the file is missing or not a MAT file, or a variable or pose field is
            missing or malformed (the message names the file and the variable).
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such file (the Intel Lab data: {INTEL_LAB_FOLDER}/{INTEL_LAB_FILE})"
        raise BagError(msg)
    try:
        mat = scipy.io.loadmat(str(path))
    except (
        scipy.io.matlab.MatReadError,
        ValueError,
        TypeError,
        OSError,
        NotImplementedError,
    ) as err:
        msg = f"{path}: not a readable MATLAB file: {err}"
        raise BagError(msg) from err
    pose = _variable(mat, "robotPose", path)
    x, y, h = (_pose_column(pose, name, path) for name in ("x", "y", "h"))
    if not x.size == y.size == h.size:
        msg = f"{path}: robotPose x, y, h differ in length: {x.size}, {y.size}, {h.size}"
        raise BagError(msg)
    robot = _cells(_variable(mat, "laserScan", path), "laserScan", path, x.size)
    world = None
    if "globalLaserScan" in mat:
        world = _cells(mat["globalLaserScan"], "globalLaserScan", path, x.size)
    n_points = sum(p.shape[0] for p in robot)
    logger.debug("%s: %d poses, %d scan endpoints", path, x.size, n_points)
    return IntelLabData(path, x, y, h, robot, world)


@dataclass(frozen=True, slots=True)
class ScanGrid:
    """The angular grid of a scanner's beams.

    Attributes:
        angle_min_rad: bearing of beam 0, rad.
        angle_increment_rad: bearing step, rad.
        n_beams: number of beams.
        max_residual_rad: largest distance of an endpoint's bearing from its beam, rad.
    """

    angle_min_rad: float
    angle_increment_rad: float
    n_beams: int
    max_residual_rad: float = 0.0

    @property
    def angle_max_rad(self) -> float:
        """Bearing of the last beam, rad."""
        return self.angle_min_rad + (self.n_beams - 1) * self.angle_increment_rad


def _bearings(points: tuple[FloatArray, ...]) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Bearings of every endpoint (K,) and the scan each belongs to (K,)."""
    if not points:
        return np.zeros(0), np.zeros(0, np.int64)
    stacked = np.concatenate(points)
    owner = np.repeat(np.arange(len(points)), [p.shape[0] for p in points])
    return np.arctan2(stacked[:, 1], stacked[:, 0]), owner


def infer_scan_grid(data: IntelLabData, *, tolerance: float = 0.25) -> ScanGrid:
    """Recover the beam grid from the endpoint bearings (method in the module docstring).

    Args:
        data: the data set.
        tolerance: largest accepted bearing residual, as a fraction of the increment.

    Returns:
        The grid; on the Intel file 180 beams of pi/179 rad from -pi/2.

    Raises:
        BagError: fewer than two distinct bearings, or bearings off one regular grid
            by more than ``tolerance`` increments.
    """
    bearings, owner = _bearings(data.points_robot_m)
    order = np.lexsort((bearings, owner))
    b, o = bearings[order], owner[order]
    steps = np.diff(b)[np.diff(o) == 0]
    steps = steps[steps > 1e-9]
    if steps.size == 0:
        msg = f"{data.path}: no scan has two distinct bearings; cannot infer the beam grid"
        raise BagError(msg)
    first = float(steps.min())
    multiples = np.maximum(np.round(steps / first), 1.0)
    step = float(steps.sum() / multiples.sum())
    lo = float(bearings.min())
    index = np.round((bearings - lo) / step)
    # Least-squares line bearing = angle_min + k * increment through every endpoint.
    design = np.stack([np.ones_like(index), index], axis=1)
    (angle_min, increment), *_ = np.linalg.lstsq(design, bearings, rcond=None)
    residual = float(np.abs(bearings - (angle_min + index * increment)).max())
    if residual > tolerance * increment:
        msg = (
            f"{data.path}: endpoint bearings are not on one grid: residual {residual:.3g} rad "
            f"> {tolerance} x increment {increment:.6g} rad"
        )
        raise BagError(msg)
    grid = ScanGrid(float(angle_min), float(increment), int(index.max()) + 1, residual)
    logger.debug("%s: beam grid %s", data.path, grid)
    return grid


def scan_stamps_ns(
    n_scans: int, rate_hz: float, start_ns: int = DEFAULT_START_NS
) -> npt.NDArray[np.int64]:
    """(n_scans,) int64 synthetic stamps ``start_ns + round(i * 1e9 / rate_hz)``.

    Raises:
        ValueError: ``rate_hz`` not positive and finite, or ``n_scans`` negative.
    """
    if not (math.isfinite(rate_hz) and rate_hz > 0) or n_scans < 0:
        msg = f"rate_hz must be > 0 and n_scans >= 0, got {rate_hz}, {n_scans}"
        raise ValueError(msg)
    offsets = np.round(np.arange(n_scans) * (NS_PER_S / rate_hz)).astype(np.int64)
    return int(start_ns) + offsets


def _f32(value: float) -> float:
    """``value`` rounded to float32, as a LaserScan message stores it."""
    return float(np.float32(value))


def to_laser_scans(
    data: IntelLabData,
    *,
    grid: ScanGrid | None = None,
    stamps_ns: npt.ArrayLike | None = None,
    frame_id: str = LASER_FRAME,
    range_min_m: float = 0.1,
    range_max_m: float = 30.0,
    missing_range_m: float = math.nan,
    scan_time_s: float = 0.0,
) -> list[LaserScan]:
    """Each scan's endpoints as a sensor_msgs/LaserScan on the scanner's beam grid.

    Args:
        data: the data set.
        grid: the beam grid; :func:`infer_scan_grid` of ``data`` when None.
        stamps_ns: (M,) int stamps; :func:`scan_stamps_ns` at 5 Hz when None (the data
            have no stamps).
        frame_id: the scanner frame.
        range_min_m: ``range_min`` of the messages; the file's ranges start at 0.28 m.
        range_max_m: ``range_max``; the file's ranges end at 26.36 m. The scanner's own
            limits are not in the data.
        missing_range_m: range of a beam without an endpoint: NaN (default, "invalid")
            or ``+inf`` ("no return", REP 117); see the module docstring.
        scan_time_s: ``scan_time`` of the messages (0: unknown).

    Returns:
        M LaserScans; ``angle_min``/``angle_increment`` and the ranges are float32-exact,
        so they survive a bag unchanged.

    Raises:
        BagError: an endpoint off the grid, two endpoints in one beam, or a range outside
            ``[range_min_m, range_max_m]``.
        ValueError: ``missing_range_m`` neither NaN nor +inf, or ``stamps_ns`` not (M,).
    """
    if not (math.isnan(missing_range_m) or missing_range_m == math.inf):
        msg = f"missing_range_m must be NaN or +inf, got {missing_range_m}"
        raise ValueError(msg)
    grid = infer_scan_grid(data) if grid is None else grid
    n = data.n_scans
    stamps = scan_stamps_ns(n, 5.0) if stamps_ns is None else np.asarray(stamps_ns, np.int64)
    if stamps.shape != (n,):
        msg = f"stamps_ns must be ({n},), got {stamps.shape}"
        raise ValueError(msg)
    angle_min = _f32(grid.angle_min_rad)
    increment = _f32(grid.angle_increment_rad)
    bearings, owner = _bearings(data.points_robot_m)
    index = np.round((bearings - angle_min) / increment).astype(np.int64)
    if index.size and (index.min() < 0 or index.max() >= grid.n_beams):
        msg = f"{data.path}: endpoints outside the {grid.n_beams} beams of the grid {grid}"
        raise BagError(msg)
    ranges_all = np.hypot(*np.concatenate(data.points_robot_m).T) if index.size else np.zeros(0)
    bad = (ranges_all < range_min_m) | (ranges_all > range_max_m)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (
            f"{data.path}: scan {int(owner[i])} has range {ranges_all[i]:.3f} m outside "
            f"[{range_min_m}, {range_max_m}] m"
        )
        raise BagError(msg)
    flat = owner * grid.n_beams + index
    unique, counts = np.unique(flat, return_counts=True)
    if (counts > 1).any():
        cell = int(unique[np.argmax(counts > 1)])
        msg = (
            f"{data.path}: scan {cell // grid.n_beams} has {int(counts.max())} endpoints in "
            f"beam {cell % grid.n_beams}; the grid {grid} is too coarse"
        )
        raise BagError(msg)
    table = np.full((n, grid.n_beams), missing_range_m, dtype=np.float32)
    table[owner, index] = ranges_all.astype(np.float32)
    angle_max = _f32(angle_min + (grid.n_beams - 1) * increment)
    empty = np.zeros(0, dtype=np.float32)
    return [
        LaserScan(
            Header(int(stamps[i]), frame_id),
            angle_min,
            angle_max,
            increment,
            0.0,
            _f32(scan_time_s),
            _f32(range_min_m),
            _f32(range_max_m),
            table[i],
            empty,
        )
        for i in range(n)
    ]


def pose_2d(x_m: float, y_m: float, heading_rad: float) -> Pose:
    """A planar pose as a 3-D one: ``t = (x, y, 0)``, a rotation of ``heading`` about z.

    >>> pose_2d(1.0, 2.0, math.pi).quat_xyzw.round(12).tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    half = 0.5 * heading_rad
    return Pose(np.array([x_m, y_m, 0.0]), np.array([0.0, 0.0, math.sin(half), math.cos(half)]))


@dataclass(frozen=True, slots=True)
class IntelLabBagResult:
    """What :func:`write_intel_lab_bag` wrote.

    Attributes:
        path: the bag.
        counts: messages per topic.
        start_ns: first (synthetic) stamp.
        stop_ns: last stamp.
        grid: the beam grid of the scans.
        seconds: wall time taken.
    """

    path: Path
    counts: dict[str, int]
    start_ns: int
    stop_ns: int
    grid: ScanGrid
    seconds: float


def write_intel_lab_bag(
    data: IntelLabData | Path | str,
    out_path: Path | str,
    *,
    rate_hz: float = 5.0,
    start_ns: int = DEFAULT_START_NS,
    missing_range_m: float = math.nan,
    overwrite: bool = False,
) -> IntelLabBagResult:
    """Write the scans and poses into an MCAP bag (topics in the module docstring).

    The data have no timestamps: scan ``i`` is stamped ``start_ns + i / rate_hz``
    (synthetic). ``/tf_static`` comes first; at each stamp ``/tf`` and
    ``/ground_truth/odom`` come before ``/scan``.

    Args:
        data: the data set, or the path of the .mat file.
        out_path: output bag (``.mcap``: one file; else a rosbag2 folder).
        rate_hz: scan rate of the synthetic stamps, Hz.
        start_ns: stamp of the first scan.
        missing_range_m: range of beams without an endpoint (see :func:`to_laser_scans`).
        overwrite: replace an existing output.

    Returns:
        What was written.

    Raises:
        BagError: unreadable data, or the output exists (without ``overwrite``) or
            cannot be written.
        ValueError: ``rate_hz`` not positive.
    """
    from percept import codecs
    from percept.io.bag import BagWriter
    from percept.io.typestore import RosbagsFactory, get_typestore

    began = time.perf_counter()
    data = data if isinstance(data, IntelLabData) else load_intel_lab(data)
    stamps = scan_stamps_ns(data.n_scans, rate_hz, start_ns)
    grid = infer_scan_grid(data)
    scans = to_laser_scans(
        data,
        grid=grid,
        stamps_ns=stamps,
        missing_range_m=missing_range_m,
        scan_time_s=1.0 / rate_hz,
    )
    store = get_typestore()
    factory = RosbagsFactory(store)

    def raw(msgtype: str, obj: object) -> bytes:
        return bytes(store.serialize_cdr(codecs.encode(msgtype, obj, factory), msgtype))

    first = int(stamps[0]) if stamps.size else int(start_ns)
    static = [
        TransformStamped(Header(first, MAP_FRAME), ODOM_FRAME, Pose()),
        TransformStamped(Header(first, BASE_FRAME), LASER_FRAME, Pose()),
    ]
    with BagWriter(Path(out_path), overwrite=overwrite) as writer:
        for topic, msgtype in (
            ("/tf_static", TF_MESSAGE),
            ("/tf", TF_MESSAGE),
            (GROUND_TRUTH_TOPIC, ODOMETRY),
            (SCAN_TOPIC, LASER_SCAN),
        ):
            writer.add_topic(topic, msgtype)
        writer.write("/tf_static", TF_MESSAGE, first, raw(TF_MESSAGE, static))
        for i, scan in enumerate(scans):
            stamp = int(stamps[i])
            pose = pose_2d(data.x_m[i], data.y_m[i], data.heading_rad[i])
            tf = [TransformStamped(Header(stamp, ODOM_FRAME), BASE_FRAME, pose)]
            writer.write("/tf", TF_MESSAGE, stamp, raw(TF_MESSAGE, tf))
            odom = Odometry(Header(stamp, MAP_FRAME), BASE_FRAME, pose)
            writer.write(GROUND_TRUTH_TOPIC, ODOMETRY, stamp, raw(ODOMETRY, odom))
            writer.write(SCAN_TOPIC, LASER_SCAN, stamp, raw(LASER_SCAN, scan))
        counts = dict(writer.counts)
    seconds = time.perf_counter() - began
    last = int(stamps[-1]) if stamps.size else first
    logger.debug("%s: %d scans in %.2f s -> %s", data.path, len(scans), seconds, out_path)
    return IntelLabBagResult(Path(out_path), counts, first, last, grid, seconds)
