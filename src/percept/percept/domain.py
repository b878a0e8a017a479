"""Decoded domain objects: what nodes and the core see instead of ROS messages.

One class per standard message the codecs handle (see ``percept.codecs``). Time is
``stamp_ns: int`` nanoseconds; arrays say their shape, dtype, unit and frame. Arrays
inside these frozen dataclasses may be views into a message buffer: treat them as
read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose

__all__ = [
    "IMAGE_ENCODINGS",
    "CameraInfo",
    "CompressedImage",
    "Detection2D",
    "Detection2DArray",
    "Detection3D",
    "Detection3DArray",
    "DiagnosticArray",
    "DiagnosticLevel",
    "DiagnosticStatus",
    "Disparity",
    "Header",
    "Image",
    "ImuSample",
    "LaserScan",
    "Marker",
    "MarkerAction",
    "MarkerArray",
    "MarkerType",
    "ObjectHypothesis",
    "OccupancyGrid",
    "Odometry",
    "Path",
    "PointCloud",
    "PoseStamped",
    "TransformStamped",
]

# encoding -> (channels, numpy dtype); as in sensor_msgs/image_encodings.hpp.
IMAGE_ENCODINGS: dict[str, tuple[int, str]] = {
    "mono8": (1, "u1"),
    "mono16": (1, "u2"),
    "rgb8": (3, "u1"),
    "bgr8": (3, "u1"),
    "rgba8": (4, "u1"),
    "bgra8": (4, "u1"),
    "rgb16": (3, "u2"),
    "bgr16": (3, "u2"),
    "rgba16": (4, "u2"),
    "bgra16": (4, "u2"),
    "8UC1": (1, "u1"),
    "8UC3": (3, "u1"),
    "8UC4": (4, "u1"),
    "16UC1": (1, "u2"),
    "16SC1": (1, "i2"),
    "32SC1": (1, "i4"),
    "32FC1": (1, "f4"),
    "64FC1": (1, "f8"),
    "bayer_rggb8": (1, "u1"),
    "bayer_bggr8": (1, "u1"),
    "bayer_gbrg8": (1, "u1"),
    "bayer_grbg8": (1, "u1"),
    "bayer_rggb16": (1, "u2"),
    "bayer_bggr16": (1, "u2"),
    "bayer_gbrg16": (1, "u2"),
    "bayer_grbg16": (1, "u2"),
}


@dataclass(frozen=True, slots=True)
class Header:
    """std_msgs/Header.

    Attributes:
        stamp_ns: acquisition time, integer nanoseconds since the epoch (or sim time).
        frame_id: the frame the data is expressed in (REP 103/105 names).
    """

    stamp_ns: int = 0
    frame_id: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Image:
    """sensor_msgs/Image, decoded.

    Attributes:
        header: stamp and optical frame.
        encoding: ROS image encoding (``bgr8``, ``mono8``, ``32FC1``, ``bayer_rggb8``...).
        data: (H, W) or (H, W, C) array in native byte order; dtype per encoding. May be
            a read-only view into the message buffer.
    """

    header: Header
    encoding: str
    data: npt.NDArray[np.generic]

    @property
    def height(self) -> int:
        """Rows."""
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        """Columns."""
        return int(self.data.shape[1])


@dataclass(frozen=True, slots=True, eq=False)
class CompressedImage:
    """sensor_msgs/CompressedImage.

    Attributes:
        header: stamp and frame.
        format: ``jpeg`` or ``png`` (ROS also writes ``bgr8; jpeg compressed bgr8``).
        data: (N,) uint8 compressed bytes.
    """

    header: Header
    format: str
    data: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class CameraInfo:
    """sensor_msgs/CameraInfo: a stamped camera model."""

    header: Header
    model: CameraModel


def _cov(n: int) -> npt.NDArray[np.float64]:
    return np.zeros((n, n))


@dataclass(frozen=True, slots=True, eq=False)
class ImuSample:
    """sensor_msgs/Imu.

    Attributes:
        header: stamp and IMU frame.
        angular_velocity_rad_s: (3,) float64, rad/s, IMU frame.
        linear_acceleration_m_s2: (3,) float64, m/s^2, IMU frame (includes gravity).
        orientation_xyzw: (4,) float64 Hamilton quaternion, or None when the message
            says orientation is unknown (``orientation_covariance[0] == -1``).
        orientation_covariance: (3, 3) float64, rad^2 (ROS convention kept: all -1 row
            marks "no estimate").
        angular_velocity_covariance: (3, 3) float64, (rad/s)^2.
        linear_acceleration_covariance: (3, 3) float64, (m/s^2)^2.
    """

    header: Header
    angular_velocity_rad_s: npt.NDArray[np.float64]
    linear_acceleration_m_s2: npt.NDArray[np.float64]
    orientation_xyzw: npt.NDArray[np.float64] | None = None
    orientation_covariance: npt.NDArray[np.float64] = field(default_factory=lambda: _cov(3))
    angular_velocity_covariance: npt.NDArray[np.float64] = field(default_factory=lambda: _cov(3))
    linear_acceleration_covariance: npt.NDArray[np.float64] = field(default_factory=lambda: _cov(3))


@dataclass(frozen=True, slots=True, eq=False)
class PointCloud:
    """sensor_msgs/PointCloud2 as a numpy structured array.

    Attributes:
        header: stamp and frame of the points.
        points: structured array, shape (H, W) for an organised cloud or (N,) for an
            unorganised one; one named field per PointField (``x``, ``y``, ``z``,
            ``rgb``, ``intensity``...), offsets and padding as in the message. Invalid
            points of organised clouds hold NaN coordinates (REP 117-style).
        is_dense: True when no point is invalid.
    """

    header: Header
    points: npt.NDArray[np.void]
    is_dense: bool = False

    @property
    def is_organized(self) -> bool:
        """True for an (H, W) cloud that keeps the image layout."""
        return self.points.ndim == 2

    def xyz(self) -> npt.NDArray[np.float32]:
        """(..., 3) float32 coordinates, metres, in ``header.frame_id`` (a copy)."""
        out = np.empty((*self.points.shape, 3), dtype=np.float32)
        for i, name in enumerate(("x", "y", "z")):
            out[..., i] = self.points[name]
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Disparity:
    """stereo_msgs/DisparityImage.

    Attributes:
        header: stamp and left optical frame.
        image: (H, W) float32 disparity, pixels; invalid pixels < ``min_disparity``.
        focal_length_px: focal length of the rectified cameras, pixels.
        baseline_m: stereo baseline, metres.
        min_disparity: smallest disparity searched, pixels.
        max_disparity: largest disparity searched, pixels.
        delta_d: smallest resolvable disparity step, pixels.
        valid_window: (x_offset, y_offset, width, height) region of valid disparities.
    """

    header: Header
    image: npt.NDArray[np.float32]
    focal_length_px: float
    baseline_m: float
    min_disparity: float = 0.0
    max_disparity: float = 0.0
    delta_d: float = 0.0
    valid_window: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass(frozen=True, slots=True, eq=False)
class PoseStamped:
    """geometry_msgs/PoseStamped: ``pose`` is the pose of the body in ``header.frame_id``."""

    header: Header
    pose: Pose


@dataclass(frozen=True, slots=True, eq=False)
class Odometry:
    """nav_msgs/Odometry.

    Attributes:
        header: stamp; ``frame_id`` is the parent (``odom``).
        child_frame_id: the body frame (``base_link``).
        pose: ``T_parent_child``.
        pose_covariance: (6, 6) float64, order (x, y, z, rot_x, rot_y, rot_z), parent frame.
        linear_velocity_m_s: (3,) float64, child frame.
        angular_velocity_rad_s: (3,) float64, child frame.
        twist_covariance: (6, 6) float64, child frame.
    """

    header: Header
    child_frame_id: str
    pose: Pose
    pose_covariance: npt.NDArray[np.float64] = field(default_factory=lambda: _cov(6))
    linear_velocity_m_s: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    angular_velocity_rad_s: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    twist_covariance: npt.NDArray[np.float64] = field(default_factory=lambda: _cov(6))


@dataclass(frozen=True, slots=True, eq=False)
class Path:
    """nav_msgs/Path."""

    header: Header
    poses: tuple[PoseStamped, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class OccupancyGrid:
    """nav_msgs/OccupancyGrid.

    Attributes:
        header: stamp and map frame.
        resolution_m: cell edge, metres.
        origin: pose of cell (0, 0)'s corner in ``header.frame_id``.
        data: (H, W) int8, row-major from the origin; -1 unknown, 0..100 occupancy %.
        map_load_time_ns: when the map was loaded / last rebuilt.
    """

    header: Header
    resolution_m: float
    origin: Pose
    data: npt.NDArray[np.int8]
    map_load_time_ns: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class LaserScan:
    """sensor_msgs/LaserScan: one sweep of a planar range finder.

    Beam ``i`` points at ``angle_min_rad + i * angle_increment_rad`` in the x-y plane of
    ``header.frame_id`` (REP 103: x forward, y left, angles counter-clockwise from x).
    Range values follow REP 117: ``+inf`` means no return within ``range_max_m``,
    ``-inf`` an object closer than ``range_min_m``, NaN an erroneous or missing
    measurement; finite values outside ``[range_min_m, range_max_m]`` are invalid too.

    Attributes:
        header: stamp of the first beam and the scanner frame.
        angle_min_rad: bearing of the first beam, rad.
        angle_max_rad: bearing of the last beam as the driver reports it, rad.
        angle_increment_rad: bearing step between beams, rad (negative for clockwise).
        time_increment_s: time between beams, seconds (0 when unknown).
        scan_time_s: time between scans, seconds (0 when unknown).
        range_min_m: smallest valid range, metres.
        range_max_m: largest valid range, metres.
        ranges: (N,) float32 ranges, metres (may be a read-only view of a message).
        intensities: (N,) float32 device-specific intensities, or (0,) when absent.
    """

    header: Header
    angle_min_rad: float
    angle_max_rad: float
    angle_increment_rad: float
    time_increment_s: float
    scan_time_s: float
    range_min_m: float
    range_max_m: float
    ranges: npt.NDArray[np.float32]
    intensities: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )

    def angles_rad(self) -> npt.NDArray[np.float64]:
        """(N,) float64 bearing of each beam, rad: ``angle_min + i * angle_increment``."""
        index = np.arange(self.ranges.shape[0], dtype=np.float64)
        return float(self.angle_min_rad) + index * float(self.angle_increment_rad)

    def valid_mask(self) -> npt.NDArray[np.bool_]:
        """(N,) bool: the beams with an endpoint (finite, within the valid range bounds).

        >>> scan = LaserScan(Header(), 0.0, 1.0, 1.0, 0.0, 0.0, 0.1, 10.0,
        ...                  np.array([1.0, np.inf, 0.05], dtype=np.float32))
        >>> scan.valid_mask().tolist()
        [True, False, False]
        """
        r = np.asarray(self.ranges)
        with np.errstate(invalid="ignore"):
            return np.isfinite(r) & (r >= self.range_min_m) & (r <= self.range_max_m)

    def points(self) -> npt.NDArray[np.float32]:
        """(N, 2) float32 beam endpoints (x, y), metres, scanner frame; NaN rows for invalid beams.

        >>> scan = LaserScan(Header(), 0.0, np.pi / 2, np.pi / 2, 0.0, 0.0, 0.1, 10.0,
        ...                  np.array([2.0, np.nan], dtype=np.float32))
        >>> scan.points().round(6).tolist()
        [[2.0, 0.0], [nan, nan]]
        """
        angles = self.angles_rad()
        r = np.where(self.valid_mask(), np.asarray(self.ranges, dtype=np.float64), np.nan)
        return np.stack([r * np.cos(angles), r * np.sin(angles)], axis=-1).astype(np.float32)


@dataclass(frozen=True, slots=True)
class ObjectHypothesis:
    """vision_msgs/ObjectHypothesisWithPose without the pose: a class id and a score."""

    class_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Detection2D:
    """vision_msgs/Detection2D (Humble layout).

    Attributes:
        center_uv: (u, v) box centre in pixels, u = column, v = row.
        size_uv: (width, height) in pixels.
        results: hypotheses, best first.
        id: tracking id, empty when untracked.
        theta_rad: box rotation, radians.
    """

    center_uv: tuple[float, float]
    size_uv: tuple[float, float]
    results: tuple[ObjectHypothesis, ...] = ()
    id: str = ""
    theta_rad: float = 0.0


@dataclass(frozen=True, slots=True)
class Detection2DArray:
    """vision_msgs/Detection2DArray; each detection shares ``header``."""

    header: Header
    detections: tuple[Detection2D, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Detection3D:
    """vision_msgs/Detection3D (Humble layout).

    Attributes:
        center: box pose in the array's frame.
        size_m: (3,) float64 box extent along its own axes, metres.
        results: hypotheses, best first.
        id: tracking id.
    """

    center: Pose
    size_m: npt.NDArray[np.float64]
    results: tuple[ObjectHypothesis, ...] = ()
    id: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Detection3DArray:
    """vision_msgs/Detection3DArray."""

    header: Header
    detections: tuple[Detection3D, ...] = ()


class MarkerType:
    """visualization_msgs/Marker ``type`` values."""

    ARROW = 0
    CUBE = 1
    SPHERE = 2
    CYLINDER = 3
    LINE_STRIP = 4
    LINE_LIST = 5
    CUBE_LIST = 6
    SPHERE_LIST = 7
    POINTS = 8
    TEXT_VIEW_FACING = 9
    MESH_RESOURCE = 10
    TRIANGLE_LIST = 11


class MarkerAction:
    """visualization_msgs/Marker ``action`` values."""

    ADD = 0
    DELETE = 2
    DELETEALL = 3


@dataclass(frozen=True, slots=True, eq=False)
class Marker:
    """visualization_msgs/Marker (the fields RViz draws boxes, text and lines with).

    Textures, UV coordinates and embedded mesh files are not carried (encoded empty).

    Attributes:
        header: stamp and the frame the pose is in.
        ns: namespace; (ns, id) names a marker for MODIFY/DELETE.
        id: marker id within ``ns``.
        type: a ``MarkerType`` value.
        action: a ``MarkerAction`` value.
        pose: pose of the marker in ``header.frame_id``.
        scale_xyz: (3,) float64 size, metres (text: z is the letter height).
        color_rgba: (r, g, b, a) in 0..1 (float32 on the wire).
        lifetime_ns: how long RViz shows it, 0 for until replaced.
        frame_locked: re-transform with the frame every update.
        points: (N, 3) float64 points of line/list/points types, metres.
        colors_rgba: (N, 4) float32 per-point colours, or (0, 4).
        text: TEXT_VIEW_FACING text.
        mesh_resource: MESH_RESOURCE URI.
        mesh_use_embedded_materials: use the mesh's own materials.
    """

    header: Header
    ns: str
    id: int
    type: int
    action: int = 0
    pose: Pose = field(default_factory=Pose)
    scale_xyz: npt.NDArray[np.float64] = field(default_factory=lambda: np.ones(3))
    color_rgba: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    lifetime_ns: int = 0
    frame_locked: bool = False
    points: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 3)))
    colors_rgba: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 4), np.float32)
    )
    text: str = ""
    mesh_resource: str = ""
    mesh_use_embedded_materials: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class MarkerArray:
    """visualization_msgs/MarkerArray (no header: each marker has its own)."""

    markers: tuple[Marker, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class TransformStamped:
    """geometry_msgs/TransformStamped: ``transform`` is ``T_frame_child``."""

    header: Header
    child_frame_id: str
    transform: Pose


class DiagnosticLevel:
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True, slots=True)
class DiagnosticStatus:
    """diagnostic_msgs/DiagnosticStatus; ``values`` are (key, value) pairs in order."""

    level: int
    name: str
    message: str = ""
    hardware_id: str = ""
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DiagnosticArray:
    """diagnostic_msgs/DiagnosticArray."""

    header: Header
    status: tuple[DiagnosticStatus, ...] = ()
