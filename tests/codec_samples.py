"""Sample domain objects per codec message type, shared by the codec and node tests.

``SAMPLES`` (every field set, odd values) serve the unit round trips
(tests/unit/codecs/test_codecs.py) and the CDR comparison against rclpy
(tests/ros/test_wire_compat.py); ``fuzz_samples`` the codec fuzz test
(tests/unit/codecs/test_codecs_fuzz.py); ``node_inputs`` the node fuzz test
(tests/nodes/test_fuzz_inputs.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from percept.codecs import (
    make_point_cloud,
)
from percept.domain import (
    IMAGE_ENCODINGS,
    CameraInfo,
    CompressedImage,
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    DiagnosticArray,
    DiagnosticStatus,
    Disparity,
    Header,
    Image,
    ImuSample,
    LaserScan,
    Marker,
    MarkerArray,
    MarkerType,
    ObjectHypothesis,
    OccupancyGrid,
    Odometry,
    Path,
    PointCloud,
    PoseStamped,
    TransformStamped,
)
from percept.geometry.camera import CameraModel, RegionOfInterest
from percept.geometry.pose import Pose
from percept.image import compress_image

HEADER = Header(stamp_ns=1_700_000_000_123_456_789, frame_id="camera_optical_frame")


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _random_image(encoding: str, height: int = 6, width: int = 8) -> Image:
    channels, dt = IMAGE_ENCODINGS[encoding]
    dtype = np.dtype(dt)
    shape = (height, width) if channels == 1 else (height, width, channels)
    rng = _rng()
    if dtype.kind == "f":
        data = rng.normal(size=shape).astype(dtype)
        data.flat[0] = np.nan
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return Image(HEADER, encoding, data)


def assert_same(a: object, b: object, path: str = "obj") -> None:
    """Field-by-field equality of domain objects (exact; NaN equals NaN)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.shape == b.shape, (path, a.shape, b.shape)
        if a.dtype.names is not None:
            assert a.dtype == b.dtype, (path, a.dtype, b.dtype)
            assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), path
        else:
            np.testing.assert_array_equal(a, b, err_msg=path)
            assert a.dtype == b.dtype, (path, a.dtype, b.dtype)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), (path, type(a), type(b))
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)), path
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def _pose(seed: int) -> Pose:
    rng = np.random.default_rng(seed)
    quat = rng.normal(size=4)
    return Pose(rng.normal(size=3), quat / np.linalg.norm(quat))


def _padded_big_endian_cloud() -> PointCloud:
    dtype = np.dtype(
        {
            "names": ["x", "y", "z", "ring", "t", "normal"],
            "formats": [">f4", ">f4", ">f4", ">u2", ">f8", (">f4", (3,))],
            "offsets": [0, 4, 8, 12, 16, 24],
            "itemsize": 48,
        }
    )
    points = np.zeros(5, dtype=dtype)
    rng = _rng()
    for name in ("x", "y", "z"):
        points[name] = rng.normal(size=5)
    points["x"][2] = np.nan
    points["ring"] = np.arange(5)
    points["t"] = rng.uniform(size=5)
    points["normal"] = rng.normal(size=(5, 3))
    return PointCloud(HEADER, points, is_dense=False)


def _samples() -> list[tuple[str, str, object]]:
    rng = _rng()
    k = np.array([[500.0, 0, 320.5], [0, 501.0, 240.25], [0, 0, 1]])
    model = CameraModel(
        width=640,
        height=480,
        distortion_model="plumb_bob",
        K=k,
        D=np.array([-0.1, 0.01, 0.001, -0.002, 0.0]),
        R=np.eye(3),
        P=np.hstack([k, [[-30.0], [0.0], [0.0]]]),
        binning_x=2,
        binning_y=1,
        roi=RegionOfInterest(4, 8, 100, 200, True),
    )
    imu = ImuSample(
        HEADER,
        rng.normal(size=3),
        rng.normal(size=3),
        _pose(1).quat_xyzw,
        np.diag([0.1, 0.2, 0.3]),
        np.eye(3) * 1e-3,
        np.eye(3) * 1e-2,
    )
    imu_no_orientation = ImuSample(
        HEADER,
        rng.normal(size=3),
        rng.normal(size=3),
        None,
        np.diag([-1.0, 0.0, 0.0]),
    )
    disparity = rng.uniform(0, 64, size=(4, 5)).astype(np.float32)
    disparity[0, 0] = np.nan
    xyz = rng.normal(size=(7, 3))
    odom = Odometry(
        HEADER,
        "base_link",
        _pose(2),
        rng.normal(size=(6, 6)),
        rng.normal(size=3),
        rng.normal(size=3),
        rng.normal(size=(6, 6)),
    )
    hyps = (ObjectHypothesis("person", 0.9), ObjectHypothesis("17", 0.25))
    scan_rng = np.random.default_rng(12)  # its own: the other samples keep their values
    ranges = scan_rng.uniform(0.5, 20.0, size=9).astype(np.float32)
    ranges[[1, 4, 7]] = [np.inf, np.nan, -np.inf]
    scan = LaserScan(
        Header(5, "base_laser"),
        -1.5,
        1.5,
        0.375,
        0.0009765625,
        0.125,
        0.25,
        30.0,
        ranges,
        scan_rng.uniform(0, 1000, size=9).astype(np.float32),
    )
    samples: list[tuple[str, str, object]] = [
        (f"image-{enc}", "sensor_msgs/msg/Image", _random_image(enc)) for enc in IMAGE_ENCODINGS
    ]
    samples += [
        (
            "compressed-png",
            "sensor_msgs/msg/CompressedImage",
            compress_image(_random_image("bgr8"), "png"),
        ),
        (
            "compressed-jpeg",
            "sensor_msgs/msg/CompressedImage",
            compress_image(_random_image("rgb8"), "jpeg"),
        ),
        ("camera-info", "sensor_msgs/msg/CameraInfo", CameraInfo(HEADER, model)),
        ("imu", "sensor_msgs/msg/Imu", imu),
        ("imu-no-orientation", "sensor_msgs/msg/Imu", imu_no_orientation),
        ("laser-scan", "sensor_msgs/msg/LaserScan", scan),
        (
            "laser-scan-no-intensities",
            "sensor_msgs/msg/LaserScan",
            LaserScan(HEADER, 0.0, 0.5, 0.25, 0.0, 0.0, 0.0, 8.0, ranges[:3]),
        ),
        (
            "cloud-rgb-intensity",
            "sensor_msgs/msg/PointCloud2",
            make_point_cloud(HEADER, xyz, rng.integers(0, 256, (7, 3)), rng.uniform(size=7)),
        ),
        (
            "cloud-organised",
            "sensor_msgs/msg/PointCloud2",
            make_point_cloud(HEADER, rng.normal(size=(3, 4, 3))),
        ),
        ("cloud-padded-big-endian", "sensor_msgs/msg/PointCloud2", _padded_big_endian_cloud()),
        (
            "disparity",
            "stereo_msgs/msg/DisparityImage",
            Disparity(HEADER, disparity, 400.5, 0.125, 0.0, 64.0, 0.0625, (1, 2, 3, 2)),
        ),
        ("odometry", "nav_msgs/msg/Odometry", odom),
        (
            "path",
            "nav_msgs/msg/Path",
            Path(HEADER, (PoseStamped(HEADER, _pose(3)), PoseStamped(Header(5, "map"), _pose(4)))),
        ),
        (
            "occupancy-grid",
            "nav_msgs/msg/OccupancyGrid",
            OccupancyGrid(
                HEADER, 0.25, _pose(5), rng.integers(-1, 101, size=(3, 5)).astype(np.int8), 42
            ),
        ),
        ("pose-stamped", "geometry_msgs/msg/PoseStamped", PoseStamped(HEADER, _pose(6))),
        (
            "transform-stamped",
            "geometry_msgs/msg/TransformStamped",
            TransformStamped(HEADER, "imu_link", _pose(7)),
        ),
        (
            "tf-message",
            "tf2_msgs/msg/TFMessage",
            (TransformStamped(HEADER, "a", _pose(8)), TransformStamped(HEADER, "b", _pose(9))),
        ),
        (
            "detection2d",
            "vision_msgs/msg/Detection2DArray",
            Detection2DArray(
                HEADER,
                (
                    Detection2D((10.5, 20.25), (4.0, 8.0), hyps, "track-1", 0.5),
                    Detection2D((1.0, 2.0), (3.0, 4.0)),
                ),
            ),
        ),
        (
            "detection3d",
            "vision_msgs/msg/Detection3DArray",
            Detection3DArray(
                HEADER, (Detection3D(_pose(10), np.array([1.0, 2.0, 0.5]), hyps, "7"),)
            ),
        ),
        (
            "diagnostics",
            "diagnostic_msgs/msg/DiagnosticArray",
            DiagnosticArray(
                HEADER,
                (
                    DiagnosticStatus(
                        2,
                        "stereo: depth",
                        "too few matches",
                        "cam0",
                        (("fps", "9.5"), ("rejected", "3")),
                    ),
                    DiagnosticStatus(0, "imu"),
                ),
            ),
        ),
        (
            "marker-array",
            "visualization_msgs/msg/MarkerArray",
            MarkerArray(
                (
                    Marker(HEADER, "detections", 0, MarkerType.CUBE, 3),
                    Marker(
                        HEADER,
                        "detections",
                        7,
                        MarkerType.CUBE,
                        0,
                        _pose(11),
                        np.array([0.5, 0.25, 2.0]),
                        (1.0, 0.5, 0.25, 0.75),
                        1_500_000_000,
                        True,
                        text="person 0.93",
                    ),
                    Marker(
                        Header(5, "base_link"),
                        "paths",
                        -2,
                        MarkerType.LINE_STRIP,
                        points=rng.normal(size=(3, 3)),
                        colors_rgba=np.array([[0.5, 0.25, 1.0, 1.0]] * 3, np.float32),
                        mesh_resource="package://percept/mesh.dae",
                        mesh_use_embedded_materials=True,
                    ),
                )
            ),
        ),
    ]
    return samples


def fuzz_samples(header: Header) -> dict[str, object]:
    """One small valid object per message type (by type): what the codec fuzz test mutates."""
    hyps = (ObjectHypothesis("a", 0.5),)
    image = Image(header, "bgr8", np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3))
    png = np.frombuffer(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
            "3a7e9b550000000a4944415478da636000000002000185d114090000000049454e44ae426082"
        ),
        dtype=np.uint8,
    )
    return {
        "sensor_msgs/msg/Image": image,
        "sensor_msgs/msg/CompressedImage": CompressedImage(header, "png", png),
        "sensor_msgs/msg/CameraInfo": CameraInfo(
            header, CameraModel(4, 3, "plumb_bob", np.eye(3), np.zeros(5))
        ),
        "sensor_msgs/msg/Imu": ImuSample(header, np.ones(3), np.ones(3), np.array([0, 0, 0, 1.0])),
        "sensor_msgs/msg/LaserScan": LaserScan(
            header,
            -0.5,
            0.5,
            0.5,
            0.0,
            0.1,
            0.1,
            10.0,
            np.ones(3, np.float32),
            np.ones(3, np.float32),
        ),
        "sensor_msgs/msg/PointCloud2": make_point_cloud(
            header, np.ones((3, 3)), rgb=np.ones((3, 3), dtype=np.uint8)
        ),
        "stereo_msgs/msg/DisparityImage": Disparity(
            header, np.ones((3, 4), dtype=np.float32), 100.0, 0.1
        ),
        "nav_msgs/msg/Odometry": Odometry(header, "base_link", Pose()),
        "nav_msgs/msg/Path": Path(header, (PoseStamped(header, Pose()),) * 2),
        "nav_msgs/msg/OccupancyGrid": OccupancyGrid(
            header, 0.5, Pose(), np.zeros((2, 3), dtype=np.int8)
        ),
        "geometry_msgs/msg/PoseStamped": PoseStamped(header, Pose()),
        "geometry_msgs/msg/TransformStamped": TransformStamped(header, "child", Pose()),
        "tf2_msgs/msg/TFMessage": (TransformStamped(header, "child", Pose()),),
        "vision_msgs/msg/Detection2DArray": Detection2DArray(
            header, (Detection2D((1.0, 2.0), (3.0, 4.0), hyps, "x"),)
        ),
        "vision_msgs/msg/Detection3DArray": Detection3DArray(
            header, (Detection3D(Pose(), np.ones(3), hyps),)
        ),
        "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray(
            header, (DiagnosticStatus(1, "n", "m", "h", (("k", "v"),)),)
        ),
        "visualization_msgs/msg/MarkerArray": MarkerArray(
            (Marker(header, "ns", 1, 4, points=np.ones((2, 3)), text="t"),)
        ),
    }


def node_inputs(stamp: int) -> dict[str, object]:
    """One valid object per message type (by type) stamped ``stamp``: what nodes accept.

    Images are 64x48 like the camera model, so that a node pairing them serves them.
    """
    h = Header(stamp, "cam")
    K = np.array([[300.0, 0, 32], [0, 300.0, 24], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    model = CameraModel(64, 48, "plumb_bob", K, np.zeros(5), np.eye(3), P)
    pose = Pose([1.0, 2.0, 3.0], [0, 0, 0, 1])
    jpeg = compress_image(Image(h, "bgr8", np.zeros((8, 8, 3), np.uint8)), "jpeg")
    return {
        "sensor_msgs/msg/Image": Image(h, "bgr8", np.full((48, 64, 3), 7, np.uint8)),
        "sensor_msgs/msg/CompressedImage": jpeg,
        "sensor_msgs/msg/CameraInfo": CameraInfo(h, model),
        "sensor_msgs/msg/Imu": ImuSample(h, np.zeros(3), np.array([0, 0, 9.81])),
        "sensor_msgs/msg/LaserScan": LaserScan(
            h, -1.0, 1.0, 0.5, 0.0, 0.1, 0.1, 10.0, np.array([1, 2, np.inf, 3, 4], np.float32)
        ),
        "sensor_msgs/msg/PointCloud2": make_point_cloud(h, np.ones((10, 3), np.float32)),
        "stereo_msgs/msg/DisparityImage": Disparity(h, np.ones((4, 5), np.float32), 300.0, 0.1),
        "nav_msgs/msg/Odometry": Odometry(h, "base_link", pose),
        "nav_msgs/msg/Path": Path(h, (PoseStamped(h, pose),)),
        "nav_msgs/msg/OccupancyGrid": OccupancyGrid(h, 0.05, pose, np.zeros((3, 4), np.int8)),
        "geometry_msgs/msg/PoseStamped": PoseStamped(h, pose),
        "geometry_msgs/msg/TransformStamped": TransformStamped(h, "base_link", pose),
        "tf2_msgs/msg/TFMessage": (TransformStamped(h, "base_link", pose),),
        "vision_msgs/msg/Detection2DArray": Detection2DArray(
            h, (Detection2D((1.0, 2.0), (3.0, 4.0), (ObjectHypothesis("1", 0.9),)),)
        ),
        "vision_msgs/msg/Detection3DArray": Detection3DArray(
            h, (Detection3D(pose, np.ones(3), (ObjectHypothesis("1", 0.9),)),)
        ),
        "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray(
            h, (DiagnosticStatus(0, "n", "ok", "hw", (("k", "v"),)),)
        ),
        "visualization_msgs/msg/MarkerArray": MarkerArray(
            (Marker(h, "ns", 1, 1, pose=pose, text="car"),)
        ),
    }


SAMPLES = _samples()
SAMPLE_IDS = [s[0] for s in SAMPLES]
SAMPLE = {s[0]: s[2] for s in SAMPLES}
