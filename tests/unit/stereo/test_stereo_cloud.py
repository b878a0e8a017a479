"""Point clouds from depth: layouts, REP conventions, the codec and Open3D reading them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from percept import codecs
from percept.domain import Header, PointCloud
from percept.errors import ConfigError
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.stereo import (
    XYZ,
    XYZRGB,
    XYZRGB_PACKED,
    CloudConfig,
    cloud_from_depth,
    cloud_xyz_rgb,
    remove_statistical_outliers,
    voxel_downsample,
    write_ply,
)

o3d = pytest.importorskip("open3d")

H, W = 30, 40
FX, FY, CX, CY = 50.0, 52.0, 19.5, 14.5
POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"


@pytest.fixture(scope="module")
def depth() -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(0)
    z = rng.uniform(0.5, 8.0, (H, W)).astype(np.float32)
    z[rng.random((H, W)) < 0.2] = np.nan
    return z


@pytest.fixture(scope="module")
def colors() -> npt.NDArray[np.uint8]:
    return np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)


def expected_xyz(depth: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    v, u = np.mgrid[0:H, 0:W]
    z = depth.astype(np.float64)
    return np.stack([(u - CX) * z / FX, (v - CY) * z / FY, z], axis=-1)


def through_cdr(cloud: PointCloud) -> PointCloud:
    """Encode, serialise, deserialise and decode, as a subscriber in another process."""
    store = get_typestore()
    msg = codecs.encode(POINTCLOUD2, cloud, RosbagsFactory(store))
    raw = bytes(store.serialize_cdr(msg, POINTCLOUD2))
    decoded = codecs.decode(POINTCLOUD2, store.deserialize_cdr(raw, POINTCLOUD2))
    assert isinstance(decoded, PointCloud)
    return decoded


def test_organised_cloud_keeps_the_image_layout_with_nan_points(
    depth: npt.NDArray[np.float32], colors: npt.NDArray[np.uint8]
) -> None:
    points, dense = cloud_from_depth(depth, FX, FY, CX, CY, CloudConfig(), colors)
    assert points.shape == (H, W)
    assert points.dtype == XYZRGB
    assert not dense  # REP: is_dense False when any point is invalid
    xyz, rgb = cloud_xyz_rgb(points)
    invalid = np.isnan(depth).reshape(-1)
    assert np.isnan(xyz[invalid]).all()  # x, y and z all NaN for invalid points
    np.testing.assert_allclose(
        xyz[~invalid], expected_xyz(depth).reshape(-1, 3)[~invalid], rtol=1e-6
    )
    assert rgb is not None
    np.testing.assert_array_equal(rgb, colors.reshape(-1, 3)[:, ::-1])  # bgr8 in, RGB out


def test_cloud_layout_is_pcl_xyzrgb_as_make_point_cloud_writes_it(
    depth: npt.NDArray[np.float32], colors: npt.NDArray[np.uint8]
) -> None:
    points, _ = cloud_from_depth(depth, FX, FY, CX, CY, CloudConfig(), colors)
    reference = codecs.make_point_cloud(Header(), expected_xyz(depth), rgb=colors[..., ::-1])
    assert points.dtype == reference.points.dtype
    np.testing.assert_array_equal(
        points["rgb"].view(np.uint32), reference.points["rgb"].view(np.uint32)
    )
    # Padding bytes are zero, as PCL and stereo_image_proc write them.
    raw = points.view(np.uint8).reshape(H, W, 32)
    assert not raw[..., 12:16].any()
    assert not raw[..., 20:].any()


@pytest.mark.parametrize(
    ("use_color", "avoid_padding", "dtype", "step"),
    [(False, False, XYZ, 16), (True, False, XYZRGB, 32), (True, True, XYZRGB_PACKED, 16)],
)
def test_point_cloud2_round_trip_through_the_codec_keeps_layout_and_values(
    depth: npt.NDArray[np.float32],
    colors: npt.NDArray[np.uint8],
    use_color: bool,
    avoid_padding: bool,
    dtype: np.dtype[np.void],
    step: int,
) -> None:
    config = CloudConfig(use_color=use_color, avoid_padding=avoid_padding)
    points, dense = cloud_from_depth(depth, FX, FY, CX, CY, config, colors)
    cloud = PointCloud(Header(7, "left_optical"), points, is_dense=dense)
    msg = codecs.encode(POINTCLOUD2, cloud, RosbagsFactory(get_typestore()))
    assert (msg.height, msg.width, msg.point_step, msg.is_dense) == (H, W, step, False)
    decoded = through_cdr(cloud)
    assert decoded.is_organized
    assert decoded.points.shape == (H, W)
    assert decoded.points.dtype == dtype
    np.testing.assert_array_equal(decoded.xyz(), cloud.xyz())  # NaN compare equal here
    if use_color:
        np.testing.assert_array_equal(codecs.unpack_rgb(decoded), colors[..., ::-1])


def test_decoded_cloud_reads_into_open3d_legacy_and_tensor_clouds(
    depth: npt.NDArray[np.float32], colors: npt.NDArray[np.uint8]
) -> None:
    points, dense = cloud_from_depth(depth, FX, FY, CX, CY, CloudConfig(), colors)
    decoded = through_cdr(PointCloud(Header(1, "cam"), points, is_dense=dense))
    xyz = decoded.xyz().reshape(-1, 3)
    finite = np.isfinite(xyz).all(axis=1)  # Open3D takes valid points only (REP 117)
    legacy = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz[finite].astype(np.float64)))
    legacy.colors = o3d.utility.Vector3dVector(
        codecs.unpack_rgb(decoded).reshape(-1, 3)[finite] / 255.0
    )
    tensor = o3d.t.geometry.PointCloud(o3d.core.Tensor(np.ascontiguousarray(xyz[finite])))
    expected = expected_xyz(depth).reshape(-1, 3)[finite]
    np.testing.assert_allclose(np.asarray(legacy.points), expected, rtol=1e-6)
    np.testing.assert_allclose(tensor.point.positions.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(legacy.colors) * 255.0, colors.reshape(-1, 3)[finite][:, ::-1], atol=1e-9
    )
    assert len(legacy.points) == int(np.isfinite(depth).sum())


def test_ply_file_reads_back_in_open3d(
    tmp_path: Path, depth: npt.NDArray[np.float32], colors: npt.NDArray[np.uint8]
) -> None:
    points, _ = cloud_from_depth(depth, FX, FY, CX, CY, CloudConfig(), colors)
    path = write_ply(tmp_path / "cloud.ply", points)
    read = o3d.io.read_point_cloud(str(path))
    finite = np.isfinite(depth).reshape(-1)
    np.testing.assert_allclose(
        np.asarray(read.points), expected_xyz(depth).reshape(-1, 3)[finite], rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(read.colors) * 255.0, colors.reshape(-1, 3)[finite][:, ::-1], atol=1e-6
    )


def test_dense_cloud_holds_only_valid_points_and_is_dense(
    depth: npt.NDArray[np.float32], colors: npt.NDArray[np.uint8]
) -> None:
    points, dense = cloud_from_depth(
        depth, FX, FY, CX, CY, CloudConfig(organized=False), colors[..., 0]
    )
    assert dense
    assert points.shape == (int(np.isfinite(depth).sum()),)
    xyz, rgb = cloud_xyz_rgb(points)
    assert np.isfinite(xyz).all()
    assert rgb is not None
    grey = colors[..., 0][np.isfinite(depth)]
    np.testing.assert_array_equal(rgb, np.stack([grey] * 3, axis=1))  # mono: r = g = b


def test_depth_limits_and_roi_cut_the_cloud(depth: npt.NDArray[np.float32]) -> None:
    config = CloudConfig(use_color=False, min_depth_m=1.0, max_depth_m=5.0, roi=(10, 5, 20, 0))
    points, _ = cloud_from_depth(depth, FX, FY, CX, CY, config)
    assert points.shape == (H - 5, 20)
    z = points["z"]
    window = depth[5:, 10:30]
    keep = (window >= 1.0) & (window <= 5.0)
    np.testing.assert_array_equal(z[keep], window[keep])
    assert np.isnan(z[~keep]).all()
    # The x of the ROI's first column is that of image column 10.
    col = np.isfinite(z[:, 0])
    np.testing.assert_allclose(points["x"][:, 0][col], (10 - CX) * z[:, 0][col] / FX, rtol=1e-6)


def test_transform_moves_points_into_the_target_frame(depth: npt.NDArray[np.float32]) -> None:
    T = np.eye(4)
    T[:3, :3] = [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]  # optical -> body axes
    T[:3, 3] = [0.1, 0.2, 0.5]
    config = CloudConfig(use_color=False)
    points, _ = cloud_from_depth(depth, FX, FY, CX, CY, config, T_target_camera=T)
    xyz, _ = cloud_xyz_rgb(points)
    cam = expected_xyz(depth).reshape(-1, 3)
    np.testing.assert_allclose(xyz, cam @ T[:3, :3].T + T[:3, 3], rtol=1e-5, atol=1e-6)


def test_cloud_raises_without_colours_for_use_color(depth: npt.NDArray[np.float32]) -> None:
    with pytest.raises(ValueError, match="colours must be an image of 40x30"):
        cloud_from_depth(depth, FX, FY, CX, CY, CloudConfig())


def test_cloud_config_raises_on_inverted_depth_limits() -> None:
    with pytest.raises(ConfigError, match=r"max_depth_m must be 0 \(no limit\) or > min_depth_m"):
        CloudConfig(min_depth_m=5.0, max_depth_m=2.0)


def test_open3d_voxel_downsampling_and_outlier_removal() -> None:
    rng = np.random.default_rng(2)
    grid = np.stack(np.meshgrid(*[np.arange(10) * 0.01] * 3), axis=-1).reshape(-1, 3)
    xyz = np.concatenate([grid, [[5.0, 5.0, 5.0]]])  # one far outlier
    rgb = rng.random((xyz.shape[0], 3))
    down, down_rgb = voxel_downsample(xyz, 0.02, rgb)
    assert down_rgb is not None
    assert 100 < down.shape[0] < 200  # 5 x 5 x 5 voxels and the outlier
    kept, _ = remove_statistical_outliers(xyz, 8, 2.0)
    assert kept.shape[0] == xyz.shape[0] - 1
    assert not np.any(np.all(kept == 5.0, axis=1))
    with pytest.raises(ValueError, match="voxel_size_m must be > 0"):
        voxel_downsample(xyz, 0.0)


def test_cloud_with_open3d_filters_is_unorganised_and_dense(
    depth: npt.NDArray[np.float32], colors: npt.NDArray[np.uint8]
) -> None:
    config = CloudConfig(voxel_size_m=0.5)
    points, dense = cloud_from_depth(depth, FX, FY, CX, CY, config, colors)
    assert dense
    assert points.ndim == 1
    assert 0 < points.shape[0] < int(np.isfinite(depth).sum())
    assert points.dtype == XYZRGB
