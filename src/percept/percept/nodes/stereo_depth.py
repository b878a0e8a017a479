"""StereoDepthNode: rectified pair -> disparity, depth and point cloud in one node.

stereo_image_proc's disparity and point_cloud nodes, and a depth image, with one
synchroniser and one matching pass: the disparity never goes through a message on its
way to depth and points. Each output can be switched off. Inputs and outputs keep
stereo_image_proc's topic names (``left/image_rect``, ``left/camera_info``,
``right/image_rect``, ``right/camera_info``, ``disparity``, ``points2``); the
camera_infos must be those of the rectified images (R = I): behind Percept's
``stereo_rectify`` remap ``left/camera_info`` to ``left/camera_info_rect`` (and right).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import CameraInfo, Disparity, Header, Image, PointCloud
from percept.errors import CalibrationError, CodecError, InputRejected, TransformError
from percept.image import convert_image
from percept.msgtypes import CAMERA_INFO, DISPARITY_IMAGE, IMAGE, POINT_CLOUD2
from percept.node import SENSOR_DATA, Input, Node, Output, Parameter, ParamValue, Sync
from percept.nodes._camera import check_image_size, reject_bayer, stereo_sync, stereo_sync_params
from percept.params import ConfigParameters, read_int
from percept.rectify import expected_image_size, rectified_model
from percept.stereo.cloud import CloudConfig, cloud_from_depth
from percept.stereo.config import StereoConfig
from percept.stereo.disparity import DisparityResult, StereoProcessor
from percept.stereo.geometry import StereoGeometry
from percept.units import NS_PER_S

__all__ = [
    "CLOUD_PARAMETERS",
    "STEREO_PARAMETERS",
    "StereoDepthNode",
    "cloud_config_from_params",
    "stereo_config_from_params",
    "valid_window",
]

#: Image encodings the node matches (converted to grey as cv_bridge's mono8 does).
ENCODINGS = ("mono8", "mono16", "8UC1", "16UC1", "bgr8", "rgb8", "bgra8", "rgba8")
_GREY = ("mono8", "mono16", "8UC1", "16UC1")


#: StereoConfig's fields, under stereo_image_proc's names (defaults chosen for SGBM).
STEREO_PARAMETERS = ConfigParameters(StereoConfig)
#: CloudConfig's fields; ``roi`` is the node's four ``roi_*`` parameters.
CLOUD_PARAMETERS = ConfigParameters(CloudConfig)


def stereo_config_from_params(params: Mapping[str, ParamValue]) -> StereoConfig:
    """The ``StereoConfig`` of a StereoDepthNode's parameter values.

    Raises:
        ConfigError: values that do not go together (P2 <= P1, even window sizes,
            a disparity_range that is no multiple of 16, ...).
    """
    return STEREO_PARAMETERS.build(params)


def cloud_config_from_params(params: Mapping[str, ParamValue]) -> CloudConfig:
    """The ``CloudConfig`` of a StereoDepthNode's parameter values.

    Raises:
        ConfigError: values that do not go together (max_depth_m <= min_depth_m).
    """
    roi = tuple(read_int(params, f"roi_{k}") for k in ("x_offset", "y_offset", "width", "height"))
    return CLOUD_PARAMETERS.build(params, roi=roi)


def valid_window(width: int, height: int, config: StereoConfig) -> tuple[int, int, int, int]:
    """(x, y, width, height) of potentially valid disparities, as stereo_image_proc.

    stereo_image_proc's disparity node: the border of half a correlation window, and
    on the left the columns whose whole search range falls outside the right image.
    (It computes the right edge before the message width is set; here the image width
    is used.) With ``full_width`` the left band is matched too and the window starts
    at the border.

    >>> valid_window(640, 480, StereoConfig(full_width=False))
    (65, 2, 572, 475)
    """
    border = config.correlation_window_size // 2
    if config.full_width:
        left = border
    else:
        left = config.disparity_range + config.min_disparity + border - 1
    if config.min_disparity >= 0:
        margin = border + config.min_disparity
    else:
        margin = max(border, -config.min_disparity)
    right = width - 1 - margin
    top, bottom = border, height - 1 - border
    left = max(left, 0)
    return left, top, max(right - left, 0), max(bottom - top, 0)


def _check_encoding(image: Image, where: str) -> None:
    reject_bayer(image, where, "debayer and rectify it")
    if image.encoding not in ENCODINGS:
        msg = f"{where}: encoding {image.encoding} cannot be matched; expected one of {ENCODINGS}"
        raise InputRejected(msg)


def _grey(image: Image, where: str) -> npt.NDArray[np.uint8]:
    """(H, W) uint8 grey, as cv_bridge's mono8 (the image itself when it is mono8)."""
    try:
        grey = np.asarray(convert_image(image, "mono8").data, dtype=np.uint8)
    except CodecError as err:
        msg = f"{where}: {err}"
        raise InputRejected(msg) from err
    low, high, _, _ = cv2.minMaxLoc(grey)
    if low == high:
        what = "all black" if high == 0 else f"one grey level ({int(high)}) everywhere"
        msg = f"{where} is {what}: nothing to match (camera covered or not exposed?)"
        raise InputRejected(msg)
    return np.ascontiguousarray(grey)


def _colors(image: Image, grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Grey (H, W) for mono images, else (H, W, 3) bgr8 (point colours)."""
    if image.encoding in _GREY:
        return grey
    return np.asarray(convert_image(image, "bgr8").data, dtype=np.uint8)


def _geometry_key(info: CameraInfo) -> tuple[object, ...]:
    """What of a camera_info the pair's geometry depends on, comparable."""
    model = info.model
    return (
        model.width,
        model.height,
        model.P.tobytes(),
        model.R.tobytes(),
        model.binning_x,
        model.binning_y,
        model.roi,
    )


class StereoDepthNode(Node):
    """Disparity, depth and point cloud of a rectified stereo pair (stereo_image_proc).

    Left and right rectified images and their camera_infos are synchronised (exact
    stamps, or message_filters' approximate policy with ``approximate_sync``). The
    matcher is OpenCV's SGBM (default) or BM with stereo_image_proc's parameters;
    around it, by default, the whole width is matched and a left-right consistency
    check drops disparities the right image does not confirm (``full_width``,
    ``lr_check``); hole filling and downscaled matching are options.

    Outputs, each switchable: ``disparity`` (stereo_msgs/DisparityImage with ``f``,
    ``t``, ``valid_window``, ``min_disparity``, ``max_disparity`` and ``delta_d``
    filled as stereo_image_proc fills them; invalid pixels hold ``min_disparity - 1``),
    ``depth`` (32FC1 metres, NaN where invalid) with ``depth/camera_info``, and
    ``points2`` (PointCloud2, organised with NaN points or dense, xyz or xyzrgb, depth
    and ROI limits, optional Open3D voxel downsampling and outlier removal,
    optionally transformed to ``target_frame_id`` through TF).
    """

    NAME = "stereo_depth"
    DESCRIPTION = "rectified stereo pair -> disparity, depth and points2"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("left_image", "left/image_rect", IMAGE, SENSOR_DATA, "left rectified image"),
        Input(
            "left_camera_info",
            "left/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "left rectified camera_info (R = I)",
        ),
        Input("right_image", "right/image_rect", IMAGE, SENSOR_DATA, "right rectified image"),
        Input(
            "right_camera_info",
            "right/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "right rectified camera_info (P[0][3] = -fx * baseline)",
        ),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output(
            "disparity", "disparity", DISPARITY_IMAGE, SENSOR_DATA, "disparity of the left image"
        ),
        Output("depth", "depth", IMAGE, SENSOR_DATA, "32FC1 depth, metres, NaN invalid"),
        Output(
            "depth_camera_info",
            "depth/camera_info",
            CAMERA_INFO,
            SENSOR_DATA,
            "camera_info of depth (the left rectified camera)",
        ),
        Output("points", "points2", POINT_CLOUD2, SENSOR_DATA, "point cloud of the left camera"),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (stereo_sync(),)
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        # stereo_image_proc's disparity node, and what Percept adds around the matcher.
        *STEREO_PARAMETERS.parameters,
        # Outputs.
        Parameter("publish_disparity", "bool", True, "publish disparity"),
        Parameter("publish_depth", "bool", True, "publish depth and depth/camera_info"),
        Parameter("publish_points", "bool", True, "publish points2"),
        # Point cloud.
        *CLOUD_PARAMETERS.select("use_color", "avoid_padding", "organized"),
        *CLOUD_PARAMETERS.select("min_depth_m", "max_depth_m"),
        Parameter(
            "roi_x_offset",
            "integer",
            0,
            "cloud region of the left image: x",
            min_value=0,
            max_value=65535,
        ),
        Parameter("roi_y_offset", "integer", 0, "cloud region: y", min_value=0, max_value=65535),
        Parameter(
            "roi_width",
            "integer",
            0,
            "cloud region: width (0: to the border)",
            min_value=0,
            max_value=65535,
        ),
        Parameter(
            "roi_height",
            "integer",
            0,
            "cloud region: height (0: to the border)",
            min_value=0,
            max_value=65535,
        ),
        *CLOUD_PARAMETERS.select("voxel_size_m", "outlier_neighbors", "outlier_std_ratio"),
        Parameter(
            "target_frame_id",
            "string",
            "",
            "frame of points2, through TF (empty: the left camera_info's frame)",
        ),
        # Synchronisation, as stereo_image_proc.
        *stereo_sync_params("the four inputs"),
    )

    def setup(self) -> None:
        """Build the matcher and the cloud settings from the parameters.

        Raises:
            ConfigError: parameter values that do not go together.
        """
        self.config = stereo_config_from_params(self.params)
        self.cloud_config = cloud_config_from_params(self.params)
        self.processor = StereoProcessor(self.config)
        self._geometry: tuple[tuple[object, ...], StereoGeometry] | None = None
        self.last_density = float("nan")

    def geometry(self, left: CameraInfo, right: CameraInfo) -> StereoGeometry:
        """The pair's geometry, read once per pair of camera_infos.

        Raises:
            InputRejected: the camera_infos are not those of a rectified pair.
        """
        key = (*_geometry_key(left), *_geometry_key(right))
        if self._geometry is not None and self._geometry[0] == key:
            return self._geometry[1]
        try:
            geometry = StereoGeometry.from_models(left.model, right.model)
        except CalibrationError as err:
            raise InputRejected(str(err)) from err
        self._geometry = (key, geometry)
        return geometry

    def _check_pair(
        self,
        left_image: Image,
        left_info: CameraInfo,
        right_image: Image,
        right_info: CameraInfo,
    ) -> None:
        tolerance_ns = (
            round(self.param_float("approximate_sync_tolerance_seconds") * NS_PER_S)
            if self.param_bool("approximate_sync")
            else 0
        )
        stamps_ns = {
            "left/camera_info": left_info.header.stamp_ns,
            "right/image_rect": right_image.header.stamp_ns,
            "right/camera_info": right_info.header.stamp_ns,
        }
        left_stamp_ns = left_image.header.stamp_ns
        for name, stamp_ns in stamps_ns.items():
            offset_ns = stamp_ns - left_stamp_ns
            if abs(offset_ns) > tolerance_ns:
                msg = (
                    f"unsynchronised set: {name} is {offset_ns / 1e6:+.3f} ms from "
                    f"left/image_rect (tolerance {tolerance_ns / 1e6:.3f} ms)"
                )
                raise InputRejected(msg)
        _check_encoding(left_image, "left/image_rect")
        _check_encoding(right_image, "right/image_rect")
        if (left_image.width, left_image.height) != (right_image.width, right_image.height):
            msg = (
                f"left/image_rect is {left_image.width}x{left_image.height} but "
                f"right/image_rect is {right_image.width}x{right_image.height}"
            )
            raise InputRejected(msg)
        for side, image, info in (
            ("left", left_image, left_info),
            ("right", right_image, right_info),
        ):
            size = expected_image_size(info.model)
            check_image_size(image, size, f"{side}/image_rect", f"{side}/camera_info")

    def on_stereo(
        self,
        left_image: Image,
        left_info: CameraInfo,
        right_image: Image,
        right_info: CameraInfo,
    ) -> dict[str, object]:
        """Match one synchronised pair and build the switched-on outputs."""
        self._check_pair(left_image, left_info, right_image, right_info)
        geometry = self.geometry(left_info, right_info)
        left = _grey(left_image, "left/image_rect")
        right = _grey(right_image, "right/image_rect")
        result = self.processor.compute(left, right)
        self.last_density = result.density
        header = left_info.header
        out: dict[str, object] = {}
        shift = np.float32(geometry.cx_offset_px)
        # DisparityImage: d = x_l - x_r - (cx_l - cx_r), so that Z = f * t / d.
        disparity = result.disparity - shift if shift else result.disparity
        if self.param_bool("publish_disparity"):
            out["disparity"] = self._disparity_message(header, disparity, result, geometry)
        want_points = self.param_bool("publish_points")
        if self.param_bool("publish_depth") or want_points:
            depth = geometry.depth(disparity)
            if self.param_bool("publish_depth"):
                out["depth"] = Image(header, "32FC1", depth)
                out["depth_camera_info"] = CameraInfo(header, rectified_model(left_info.model))
            if want_points:
                out["points"] = self._cloud(header, depth, geometry, left_image, left)
        return out

    def _disparity_message(
        self,
        header: Header,
        disparity: npt.NDArray[np.float32],
        result: DisparityResult,
        geometry: StereoGeometry,
    ) -> Disparity:
        shift = geometry.cx_offset_px
        min_d = result.min_disparity - shift
        # stereo_image_proc's invalid value: below min_disparity (OpenCV's min - 1).
        image = np.where(np.isfinite(disparity), disparity, np.float32(min_d - 1.0))
        return Disparity(
            header=header,
            image=image.astype(np.float32, copy=False),
            focal_length_px=geometry.focal_length_px,
            baseline_m=geometry.baseline_m,
            min_disparity=float(min_d),
            max_disparity=float(result.max_disparity - shift),
            delta_d=result.delta_d,
            valid_window=valid_window(geometry.width, geometry.height, self.config),
        )

    def _cloud(
        self,
        header: Header,
        depth: npt.NDArray[np.float32],
        geometry: StereoGeometry,
        left_image: Image,
        grey: npt.NDArray[np.uint8],
    ) -> PointCloud:
        target = self.param_str("target_frame_id")
        T_target_cam: npt.NDArray[np.float64] | None = None
        frame = header.frame_id
        if target and target != frame:
            try:
                pose = self.ctx.lookup_transform(target, frame, header.stamp_ns)
            except TransformError as err:
                msg = f"tf: no T_{target}_{frame} at the pair's stamp for points2: {err}"
                raise InputRejected(msg) from err
            T_target_cam = pose.as_matrix()
            frame = target
        colors = _colors(left_image, grey) if self.cloud_config.use_color else None
        points, dense = cloud_from_depth(
            depth,
            geometry.fx,
            geometry.fy,
            geometry.cx,
            geometry.cy,
            self.cloud_config,
            colors,
            T_target_cam,
        )
        return PointCloud(Header(header.stamp_ns, frame), points, is_dense=dense)

    def diagnostic_values(self) -> list[tuple[str, str]]:
        """Share of pixels with a disparity in the last pair."""
        return [("density_pct", f"{100.0 * self.last_density:.1f}")]
