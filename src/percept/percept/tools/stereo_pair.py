"""Stereo on one image pair, offline, through the very node a robot runs.

``compute_stereo_pair`` builds a local-runtime graph of the ``stereo_depth`` node (behind
``stereo_rectify`` when a calibration is given, remapped as on a robot), feeds it the
two images and their camera_infos, and returns what the node published. Parameters
come from the same ROS 2 parameter files the node reads, so settings tuned here with
``percept stereo`` carry over to the robot unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import CameraInfo, Disparity, Header, Image, PointCloud
from percept.errors import ConfigError, PerceptError
from percept.geometry.camera import CameraModel
from percept.msgtypes import CAMERA_INFO, IMAGE
from percept.runtime.local import Envelope, LocalRuntime
from percept.stereo.geometry import rectified_pair_models

__all__ = ["StereoPairResult", "compute_stereo_pair", "read_image", "write_disparity_pfm"]

_STAMP_NS = 1_000_000_000
_LEFT_FRAME = "left_camera_optical_frame"
_RIGHT_FRAME = "right_camera_optical_frame"
#: Baseline of the nominal calibration used without ``calib_dir``: disparities are the
#: same, depths are not metric.
NOMINAL_BASELINE_M = 1.0


@dataclass(frozen=True, slots=True, eq=False)
class StereoPairResult:
    """What the stereo_depth node published for one pair.

    Attributes:
        disparity: the DisparityImage (invalid pixels below ``min_disparity``).
        cloud: the point cloud, None unless asked for.
        calibrated: True when a calibration gave metric focal length and baseline.
        wall_s: wall-clock time of the graph (rectification, matching, cloud), seconds.
    """

    disparity: Disparity
    cloud: PointCloud | None
    calibrated: bool
    wall_s: float

    def disparity_px(self) -> npt.NDArray[np.float32]:
        """(H, W) float32 disparity, pixels; Inf where invalid (Middlebury PFM)."""
        d: npt.NDArray[np.float32] = np.array(self.disparity.image, dtype=np.float32)
        d[~(d >= self.disparity.min_disparity)] = np.inf
        return d

    @property
    def density(self) -> float:
        """Share of pixels with a disparity, 0..1."""
        return float(np.isfinite(self.disparity_px()).mean())


def read_image(path: Path) -> Image:
    """Read an image file as a mono8, mono16, bgr8 or bgra8 Image.

    Raises:
        ConfigError: the file cannot be read as an image.
    """
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        msg = f"{path}: cannot read image"
        raise ConfigError(msg)
    channels = 1 if data.ndim == 2 else data.shape[2]
    depth = {np.dtype(np.uint8): "8", np.dtype(np.uint16): "16"}.get(data.dtype)
    names = {1: "mono", 3: "bgr", 4: "bgra"}
    if depth is None or channels not in names:
        msg = (
            f"{path}: {data.dtype} image with {channels} channels; expected 8/16-bit grey or colour"
        )
        raise ConfigError(msg)
    return Image(Header(_STAMP_NS, _LEFT_FRAME), f"{names[channels]}{depth}", data)


def _nominal_pair(width: int, height: int) -> tuple[CameraModel, CameraModel]:
    """Rectified camera_infos for already-rectified images without a calibration."""
    return rectified_pair_models(width, height, float(width), NOMINAL_BASELINE_M)


def _read_calibration(calib_dir: Path) -> tuple[CameraModel, CameraModel]:
    from percept.calib.yaml_io import read_camera_info_yaml

    models = []
    for side in ("left", "right"):
        path = calib_dir / f"{side}.yaml"
        if not path.is_file():
            msg = f"{calib_dir}: no {side}.yaml (camera_info YAML of the {side} camera)"
            raise ConfigError(msg)
        models.append(read_camera_info_yaml(path)[1])
    return models[0], models[1]


def compute_stereo_pair(
    left_path: Path,
    right_path: Path,
    *,
    calib_dir: Path | None = None,
    params_file: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    with_cloud: bool = False,
) -> StereoPairResult:
    """Disparity (and a point cloud) of one image pair through the stereo_depth node.

    Args:
        left_path: left image file.
        right_path: right image file, same size.
        calib_dir: folder with ``left.yaml`` and ``right.yaml`` (camera_info YAML of a
            stereo calibration): the pair is rectified first by ``stereo_rectify``, and
            depths and clouds are metric. None: the images are rectified already.
        params_file: ROS 2 parameter file for the node (``config/stereo_depth.yaml``
            layout).
        overrides: parameter values applied last (``{"disparity_range": 128}``).
        with_cloud: also build the point cloud (needs ``calib_dir``).

    Returns:
        What the node published.

    Raises:
        ConfigError: unreadable images or calibration, bad parameters, a cloud without
            a calibration.
        PerceptError: the node rejected the pair (the message gives its reason).
    """
    from percept.nodes.rectify import StereoRectifyNode
    from percept.nodes.stereo_depth import StereoDepthNode
    from percept.runtime.params import resolve_parameters

    if with_cloud and calib_dir is None:
        msg = "a point cloud needs --calib (focal length and baseline come from it)"
        raise ConfigError(msg)
    left, right = read_image(left_path), read_image(right_path)
    right = Image(Header(_STAMP_NS, _RIGHT_FRAME), right.encoding, right.data)
    values = dict(overrides or {})
    values.update(publish_disparity=True, publish_depth=False, publish_points=with_cloud)
    params = resolve_parameters(
        StereoDepthNode,
        StereoDepthNode.NAME,
        files=(params_file,) if params_file is not None else (),
        overrides=values,
        overrides_where="percept stereo",
    )
    runtime = LocalRuntime(publish_diagnostics=False)
    if calib_dir is not None:
        left_model, right_model = _read_calibration(calib_dir)
        rectify = runtime.add_node(
            StereoRectifyNode, resolve_parameters(StereoRectifyNode, StereoRectifyNode.NAME)
        )
        remaps = {
            "left_camera_info": "left/camera_info_rect",
            "right_camera_info": "right/camera_info_rect",
        }
    else:
        left_model, right_model = _nominal_pair(left.width, left.height)
        remaps = {}
        rectify = None
    node = runtime.add_node(StereoDepthNode, params, remaps=remaps)
    got: dict[str, list[object]] = {"disparity": [], "points": []}

    def keep(outputs: list[object]) -> Callable[[Envelope], None]:
        return lambda env: outputs.append(env.obj)

    for name, outputs in got.items():
        runtime.subscribe(node.topics[name], keep(outputs))
    # Same input names on both nodes: the pair enters the graph's first node.
    feed_host = rectify if rectify is not None else node
    objects: dict[str, tuple[str, object]] = {
        "left_image": (IMAGE, left),
        "left_camera_info": (
            CAMERA_INFO,
            CameraInfo(Header(_STAMP_NS, _LEFT_FRAME), left_model),
        ),
        "right_image": (IMAGE, right),
        "right_camera_info": (
            CAMERA_INFO,
            CameraInfo(Header(_STAMP_NS, _RIGHT_FRAME), right_model),
        ),
    }
    start = time.perf_counter()
    for name, (msgtype, obj) in objects.items():
        runtime.feed_and_spin(feed_host.topics[name], msgtype, _STAMP_NS, obj=obj)
    wall_s = time.perf_counter() - start
    if not got["disparity"]:
        reasons = [
            f"{host.name}.{input_name}: {stats.last_reason}"
            for host in runtime.hosts
            for input_name, stats in host.monitor.inputs.items()
            if stats.rejected
        ]
        msg = "; ".join(reasons) or "the stereo_depth node published no disparity"
        raise PerceptError(msg)
    disparity = got["disparity"][-1]
    cloud = got["points"][-1] if got["points"] else None
    assert isinstance(disparity, Disparity)
    assert cloud is None or isinstance(cloud, PointCloud)
    return StereoPairResult(disparity, cloud, calib_dir is not None, wall_s)


def write_disparity_pfm(path: Path, result: StereoPairResult) -> Path:
    """Write the disparity as PFM, Inf where invalid (``percept eval disparity`` reads it).

    Raises:
        ConfigError: the file cannot be written.
    """
    from percept.eval.disparity import write_pfm

    try:
        return write_pfm(path, result.disparity_px())
    except OSError as err:
        msg = f"{path}: cannot write PFM: {err}"
        raise ConfigError(msg) from err
