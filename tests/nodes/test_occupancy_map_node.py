"""OccupancyMapNode through the local runtime: clouds, depth, scans, poses, bad input.

The world: a wall across x = 2 m (|y| <= 1 m, 0.1..1.5 m high) in front of a robot at
the origin of ``odom``; the sensor is a camera (optical frame: z forward, x right, y
down) 0.5 m above ``base_link``, or a planar laser 0.3 m above it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from percept import codecs
from percept.domain import (
    CameraInfo,
    Header,
    Image,
    LaserScan,
    OccupancyGrid,
    Odometry,
    PointCloud,
    TransformStamped,
)
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.nodes.occupancy_map import OccupancyMapNode, depth_points, scan_points
from percept.testing import NodeHarness

from .malformed import corrupt_cdr, mutate

S = 1_000_000_000
T0 = 10 * S
#: optical frame axes in base_link: z forward (x), x right (-y), y down (-z)
R_BASE_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
CAM_HEIGHT_M = 0.5


def _tf(parent: str, child: str, T: Pose, stamp: int = 0) -> TransformStamped:
    return TransformStamped(Header(stamp, parent), child, T)


def camera_tf() -> TransformStamped:
    quat = Rotation.from_matrix(R_BASE_OPTICAL).as_quat()
    return _tf("base_link", "cam", Pose([0.0, 0.0, CAM_HEIGHT_M], quat))


def odom_tf(stamp: int, x_m: float = 0.0) -> TransformStamped:
    return _tf("odom", "base_link", Pose([x_m, 0.0, 0.0]), stamp)


def wall_points_base(step_m: float = 0.02) -> npt.NDArray[np.float64]:
    """(N, 3) points of the wall x = 2 m and of the floor in front of it, base_link."""
    y, z = np.meshgrid(np.arange(-1.0, 1.0, step_m), np.arange(0.1, 1.5, step_m))
    wall = np.stack([np.full(y.size, 2.0), y.ravel(), z.ravel()], axis=1)
    fx, fy = np.meshgrid(np.arange(0.6, 1.95, step_m), np.arange(-0.5, 0.5, step_m))
    floor = np.stack([fx.ravel(), fy.ravel(), np.zeros(fx.size)], axis=1)
    return np.concatenate([wall, floor])


def to_optical(points_base: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    cam = points_base - [0.0, 0.0, CAM_HEIGHT_M]
    return (cam @ R_BASE_OPTICAL).astype(np.float32)


def cloud(stamp: int, points: npt.NDArray[np.float32], frame: str = "cam") -> PointCloud:
    dtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
    arr = np.zeros(points.shape[0], dtype)
    arr["x"], arr["y"], arr["z"] = points[:, 0], points[:, 1], points[:, 2]
    return PointCloud(Header(stamp, frame), arr, is_dense=bool(np.isfinite(points).all()))


def cell(grid: OccupancyGrid, x_m: float, y_m: float) -> int:
    ox, oy = grid.origin.translation_m[:2]
    col = int(np.floor((x_m - ox) / grid.resolution_m))
    row = int(np.floor((y_m - oy) / grid.resolution_m))
    return int(grid.data[row, col])


def harness(**params: object) -> NodeHarness[OccupancyMapNode]:
    h = NodeHarness(OccupancyMapNode, {"publish_rate_hz": 10.0, **params})
    h.feed_transforms([camera_tf()], T0 - S)
    return h


def test_a_cloud_marks_the_wall_and_clears_the_floor_in_front() -> None:
    h = harness()
    points = to_optical(wall_points_base())
    for k in range(5):
        stamp = T0 + k * S // 10
        h.feed_transforms([odom_tf(stamp)], stamp, static=False)
        h.feed("points", cloud(stamp, points), stamp + 1000)
    h.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)  # time passes: the timer
    grid = h.last("map")
    assert isinstance(grid, OccupancyGrid)
    assert grid.header.frame_id == "odom"
    assert cell(grid, 2.01, 0.0) >= 65  # the wall
    assert cell(grid, 2.01, 0.8) >= 65
    assert 0 <= cell(grid, 1.2, 0.0) <= 25  # floor seen: free
    assert 0 <= cell(grid, 0.4, 0.1) <= 25  # passed by rays to the wall
    assert cell(grid, -1.0, 0.0) == -1  # behind the camera: never seen
    assert cell(grid, 3.0, 0.0) == -1  # behind the wall
    values = h.diagnostic_values()
    assert values["inserted"] == "5"
    assert int(values["points_used"]) == points.shape[0]
    assert float(values["integration_ms_mean"]) > 0
    assert h.errors == 0


def test_grid_model_band3d_projects_3d_rays_with_the_same_face() -> None:
    h = harness(grid_model="band3d")
    points = to_optical(wall_points_base())
    for k in range(3):
        stamp = T0 + k * S // 10
        h.feed_transforms([odom_tf(stamp)], stamp, static=False)
        h.feed("points", cloud(stamp, points), stamp + 1000)
    h.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)
    grid = h.last("map")
    assert isinstance(grid, OccupancyGrid)
    assert set(np.unique(grid.data).tolist()) <= {-1, 0, 100}  # projected_map values
    assert cell(grid, 2.01, 0.0) == 100
    assert cell(grid, 1.2, 0.0) == 0
    assert cell(grid, 3.0, 0.0) == -1
    assert h.diagnostic_values()["inserted"] == "3"
    assert h.errors == 0


@pytest.mark.parametrize(("reference", "floor_cell"), [("map_z", 100), ("base_frame", 0)])
@pytest.mark.parametrize("model", ["flat", "band3d"])
def test_height_reference_base_frame_ignores_a_tilted_odometry_frame(
    model: str, reference: str, floor_cell: int
) -> None:
    # VIO with 2 degrees of error in gravity: odom is pitched against the floor the robot
    # stands on, so the floor 3.5 m ahead lies 12 cm above base_link's height in odom.
    h = harness(grid_model=model, height_reference=reference, max_range_m=5.0)
    fx, fy = np.meshgrid(np.arange(0.6, 4.0, 0.02), np.arange(-0.5, 0.5, 0.02))
    floor = np.stack([fx.ravel(), fy.ravel(), np.zeros(fx.size)], axis=1)
    tilt = Rotation.from_euler("y", -2.0, degrees=True).as_quat()
    h.feed_transforms([_tf("odom", "base_link", Pose([0.0, 0.0, 0.0], tilt), T0)], T0, static=False)
    h.feed("points", cloud(T0, to_optical(floor)), T0 + 1000)
    h.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)
    grid = h.last("map")
    assert isinstance(grid, OccupancyGrid)
    # One insert: flat cells read 70 (hit) or 40 (miss), band3d cells 100 or 0.
    value = cell(grid, 3.5, 0.0)
    assert (value > 50) if floor_cell == 100 else (0 <= value < 50)
    assert 0 <= cell(grid, 1.0, 0.0) < 50  # near floor: within the band's margin either way
    assert h.errors == 0


@pytest.mark.parametrize(("rule", "beside_floor"), [("any_voxel", 0), ("bottom_voxel", -1)])
def test_band3d_sublayers_and_column_rule_reach_the_map(rule: str, beside_floor: int) -> None:
    h = harness(grid_model="band3d", clear_sublayers=3, free_column_rule=rule)
    points = to_optical(wall_points_base())
    h.feed_transforms([odom_tf(T0)], T0, static=False)
    h.feed("points", cloud(T0, points), T0 + 1000)
    h.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)
    grid = h.last("map")
    assert isinstance(grid, OccupancyGrid)
    assert cell(grid, 2.01, 0.0) == 100
    assert cell(grid, 1.2, 0.0) == 0  # the floor is seen there
    # Beside the floor patch only rays to the wall pass, well above the bottom voxel.
    assert cell(grid, 1.5, 0.7) == beside_floor
    assert h.errors == 0


def test_a_cloud_waits_for_its_pose_then_is_inserted() -> None:
    h = harness(tf_timeout_s=0.5)
    points = to_optical(wall_points_base(0.05))
    h.feed("points", cloud(T0, points), T0 + 1000)
    assert h.diagnostic_values()["waiting_for_pose"] == "1"
    assert h.count("map") == 0
    h.feed_transforms([odom_tf(T0 - S // 10), odom_tf(T0 + S // 10)], T0 + S // 10, static=False)
    h.feed_transforms([odom_tf(T0 + S // 5)], T0 + S // 5, static=False)  # the next timer tick
    values = h.diagnostic_values()
    assert values["waiting_for_pose"] == "0"
    assert values["inserted"] == "1"
    assert int(values["tf_waited"]) >= 1


def test_a_cloud_without_a_pose_is_dropped_after_the_timeout_with_the_reason() -> None:
    h = harness(tf_timeout_s=0.3)
    points = to_optical(wall_points_base(0.05))
    h.feed_transforms([odom_tf(T0)], T0, static=False)
    h.feed("points", cloud(T0, points, frame="nowhere"), T0 + 1000)
    h.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)  # the clock moves on
    values = h.diagnostic_values()
    assert values["tf_dropped"] == "1"
    assert values["inserted"] == "0"
    assert "nowhere" in values["last_tf_error"]
    status = h.diagnostics()
    assert status.level >= 1
    assert "dropped without a pose" in status.message


def test_depth_no_return_pixels_clear_and_nan_pixels_do_not() -> None:
    w, h_px, f = 40, 30, 30.0
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h_px - 1) / 2], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    info = CameraInfo(
        Header(T0, "cam"), CameraModel(w, h_px, "plumb_bob", K, np.zeros(5), np.eye(3), P)
    )
    depth = np.full((h_px, w), np.inf, np.float32)  # nothing in range: clear everything
    depth[:, : w // 2] = np.nan  # the left half: no stereo match, no information

    node = harness(max_range_m=3.0)
    for k in range(3):  # three misses make a cell free (p 0.4 each: 0.23 after three)
        stamp = T0 + k * S // 10
        node.feed_transforms([odom_tf(stamp)], stamp, static=False)
        image = Image(Header(stamp, "cam"), "32FC1", depth)
        node.feed_all(
            {"depth": image, "camera_info": CameraInfo(Header(stamp, "cam"), info.model)}, stamp
        )
    node.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)
    grid = node.last("map")
    assert isinstance(grid, OccupancyGrid)
    assert 0 <= cell(grid, 2.0, -0.3) <= 25  # right of the camera (-y): cleared to 3 m
    assert cell(grid, 2.0, 0.5) == -1  # left half: NaN, untouched
    assert not (np.asarray(grid.data) >= 65).any()  # no return marks nothing


def test_depth_points_reads_16uc1_millimetres_with_0_invalid() -> None:
    depth = np.array([[0, 1000], [2000, 0]], np.uint16)
    points, none = depth_points(depth, "16UC1", 1.0, 1.0, 0.0, 0.0, 1, 5.0)
    np.testing.assert_allclose(points, [[1.0, 0.0, 1.0], [0.0, 2.0, 2.0]])
    assert none.shape == (0, 3)


def _scan(stamp: int, ranges: npt.NDArray[np.float32]) -> LaserScan:
    n = ranges.size
    return LaserScan(
        Header(stamp, "laser"),
        angle_min_rad=-np.pi / 2,
        angle_max_rad=np.pi / 2,
        angle_increment_rad=np.pi / (n - 1),
        time_increment_s=0.0,
        scan_time_s=0.1,
        range_min_m=0.1,
        range_max_m=4.0,
        ranges=ranges,
        intensities=np.zeros(0, np.float32),
    )


def test_scan_points_splits_returns_and_no_returns() -> None:
    ranges = np.array([1.0, np.inf, 5.0, np.nan, 0.05], np.float32)
    points, none = scan_points(_scan(T0, ranges), 3.0)
    np.testing.assert_allclose(points, [[0.0, -1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(
        none,
        [[3.0 * np.cos(-np.pi / 4), 3.0 * np.sin(-np.pi / 4), 0.0], [3.0, 0.0, 0.0]],
        atol=1e-5,
    )


def test_a_scan_maps_through_tf_at_its_stamp() -> None:
    h = harness(max_range_m=3.5)
    h.feed_transforms([_tf("base_link", "laser", Pose([0.0, 0.0, 0.3]))], T0 - S)
    # A wall at x = 2 m seen by a 181-beam scanner; beams that miss it: no return.
    angles = np.linspace(-np.pi / 2, np.pi / 2, 181)
    with np.errstate(divide="ignore"):
        r = np.where(np.abs(np.tan(angles)) * 2.0 <= 1.0, 2.0 / np.cos(angles), np.inf)
    for k in range(3):
        stamp = T0 + k * S // 10
        h.feed_transforms([odom_tf(stamp, 0.5)], stamp, static=False)
        h.feed("scan", _scan(stamp, r.astype(np.float32)), stamp + 1000)
    h.feed_transforms([odom_tf(T0 + S, 0.5)], T0 + S, static=False)
    grid = h.last("map")
    assert isinstance(grid, OccupancyGrid)
    assert cell(grid, 2.51, 0.0) >= 65  # the robot stood at x = 0.5
    assert 0 <= cell(grid, 1.5, 0.0) <= 25
    assert 0 <= cell(grid, 0.5, 2.5) <= 25  # a no-return beam to the left cleared
    assert cell(grid, 0.5, -3.7) == -1  # beyond max_range_m


def test_poses_from_an_odometry_topic_are_interpolated() -> None:
    h = harness(pose_source="odometry", map_frame="map")
    points = to_optical(wall_points_base(0.05))
    for k in (0, 2):  # the robot at x = 0 then x = 1 m
        odom = Odometry(Header(T0 + k * S // 10, "map"), "base_link", Pose([k / 2, 0.0, 0.0]))
        h.feed("odom", odom, T0 + k * S // 10)
    h.feed("points", cloud(T0 + S // 10, points), T0 + S // 10 + 1000)  # half way: x = 0.5
    h.feed("odom", Odometry(Header(T0 + S, "map"), "base_link", Pose([1.0, 0, 0])), T0 + S)
    grid = h.last("map")
    assert isinstance(grid, OccupancyGrid)
    assert grid.header.frame_id == "map"
    assert cell(grid, 2.51, 0.0) >= 65
    assert cell(grid, 2.05, 0.0) < 65


def test_odometry_in_another_frame_is_refused_with_the_reason() -> None:
    h = harness(pose_source="odometry", map_frame="map", tf_timeout_s=0.2)
    h.feed("odom", Odometry(Header(T0, "odom"), "base_link", Pose()), T0)
    h.feed("points", cloud(T0, to_optical(wall_points_base(0.1))), T0 + 1000)
    h.feed("odom", Odometry(Header(T0 + S, "odom"), "base_link", Pose()), T0 + S)
    values = h.diagnostic_values()
    assert values["tf_dropped"] == "1"
    assert "odom gives base_link in odom" in values["last_tf_error"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: cloud(T0, np.full((10, 3), np.nan, np.float32)), "none of its 10 points"),
        (lambda: cloud(T0, np.ones((10, 3), np.float32), frame=""), "empty header.frame_id"),
        (lambda: cloud(T0, np.zeros((0, 3), np.float32)), "none of its 0 points"),
    ],
)
def test_unusable_clouds_are_rejected_with_the_reason(make: object, reason: str) -> None:
    h = harness()
    h.feed("points", make(), T0)  # type: ignore[operator]
    rejected = h.rejections()["points"]
    assert rejected.rejected == 1
    assert reason in rejected.last_reason
    assert h.errors == 0


def test_save_map_to_writes_map_server_files(tmp_path: Path) -> None:
    h = harness()
    h.feed_transforms([odom_tf(T0)], T0, static=False)
    h.feed("points", cloud(T0, to_optical(wall_points_base(0.05))), T0 + 1000)
    assert h.set_parameters({"save_map_to": str(tmp_path / "lab")}) is None
    assert (tmp_path / "lab.yaml").is_file()
    assert (tmp_path / "lab.pgm").is_file()
    assert h.diagnostic_values()["maps_saved"] == "1"
    refused = h.set_parameters({"save_map_to": str(tmp_path / "missing" / "dir" / "x")})
    assert refused is None or "cannot save" in refused


def test_enable_3d_publishes_occupied_voxels() -> None:
    h = harness(enable_3d=True)
    h.feed_transforms([odom_tf(T0)], T0, static=False)
    h.feed("points", cloud(T0, to_optical(wall_points_base(0.05))), T0 + 1000)
    h.feed_transforms([odom_tf(T0 + S)], T0 + S, static=False)
    voxels = h.last("voxels")
    assert isinstance(voxels, PointCloud)
    xyz = voxels.xyz().reshape(-1, 3)
    assert xyz.shape[0] > 100
    # 3-D: the floor is a surface too; above it, only the wall is occupied.
    above = xyz[xyz[:, 2] > 0.06]
    assert above.shape[0] > 100
    assert np.all(np.abs(above[:, 0] - 2.0) < 0.1)
    assert np.all(np.abs(xyz[xyz[:, 2] <= 0.06, 2]) < 0.06)


@pytest.mark.parametrize(
    ("input_name", "msgtype"),
    [("points", codecs.POINT_CLOUD2), ("scan", codecs.LASER_SCAN), ("odom", codecs.ODOMETRY)],
)
def test_node_survives_1000_malformed_messages(input_name: str, msgtype: str) -> None:
    """A bad message (mutated fields or corrupt CDR), then a valid one, 1,000 times."""
    rng = np.random.default_rng(5)
    h = harness(pose_source="odometry" if input_name == "odom" else "tf", tf_timeout_s=0.0)
    h.feed_transforms([_tf("base_link", "laser", Pose([0.0, 0.0, 0.3]))], T0 - S)
    factory = RosbagsFactory(get_typestore())
    store = get_typestore()

    def valid(stamp: int) -> object:
        if input_name == "points":
            return cloud(stamp, to_optical(wall_points_base(0.2)))
        if input_name == "scan":
            return _scan(stamp, np.full(31, 2.0, np.float32))
        return Odometry(Header(stamp, "odom"), "base_link", Pose())

    t = T0
    for i in range(1000):
        good = codecs.encode(msgtype, valid(t), factory)
        if i % 4 == 0:
            h.feed_cdr(input_name, corrupt_cdr(bytes(store.serialize_cdr(good, msgtype)), rng), t)
        else:
            h.feed(input_name, mutate(good, rng), t)
        t += 1_000_000
        h.feed_transforms([odom_tf(t)], t, static=False)
        h.feed(input_name, codecs.encode(msgtype, valid(t), factory), t)
        t += 1_000_000
    assert h.errors == 0
    assert h.rejections()[input_name].rejected >= 200
    if input_name != "odom":
        assert int(h.diagnostic_values()["inserted"]) >= 900


def _depth_pair(stamp: int) -> dict[str, object]:
    w, h_px, f = 32, 24, 25.0
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h_px - 1) / 2], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    depth = np.full((h_px, w), 2.0, np.float32)
    model = CameraModel(w, h_px, "plumb_bob", K, np.zeros(5), np.eye(3), P)
    return {
        "depth": Image(Header(stamp, "cam"), "32FC1", depth),
        "camera_info": CameraInfo(Header(stamp, "cam"), model),
    }


@pytest.mark.parametrize(
    ("input_name", "msgtype"), [("depth", codecs.IMAGE), ("camera_info", codecs.CAMERA_INFO)]
)
def test_depth_inputs_survive_1000_malformed_messages(input_name: str, msgtype: str) -> None:
    """A bad depth image or camera_info, then a valid synchronised pair, 1,000 times."""
    rng = np.random.default_rng(6)
    h = harness(tf_timeout_s=0.0)
    factory = RosbagsFactory(get_typestore())
    store = get_typestore()
    t = T0
    for i in range(1000):
        good = codecs.encode(msgtype, _depth_pair(t)[input_name], factory)
        if i % 4 == 0:
            h.feed_cdr(input_name, corrupt_cdr(bytes(store.serialize_cdr(good, msgtype)), rng), t)
        else:
            h.feed(input_name, mutate(good, rng), t)
        t += 1_000_000
        h.feed_transforms([odom_tf(t)], t, static=False)
        pair = _depth_pair(t)
        for name in ("depth", "camera_info"):
            h.feed(
                name,
                codecs.encode(
                    codecs.IMAGE if name == "depth" else codecs.CAMERA_INFO, pair[name], factory
                ),
                t,
            )
        t += 1_000_000
    assert h.errors == 0
    assert h.rejections()[input_name].rejected + h.rejections()["depth"].rejected >= 100
    assert int(h.diagnostic_values()["inserted"]) >= 900
