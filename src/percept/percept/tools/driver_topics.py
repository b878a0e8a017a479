"""Turn a stereo + IMU bag into what a camera's ROS 2 driver publishes.

Real cameras publish under their drivers' names, not under Percept's or a dataset's:
the robot files ``config/robots/{realsense_d435i,zed2i,oakd}.yaml`` listen to those
names. :func:`as_driver` rewrites a bag written by ``percept bag from-euroc`` (topics
``/cam0``, ``/cam1``, ``/imu0``) or by ``percept synth`` (``/stereo/left``,
``/stereo/right``, ``/imu/data``) into one driver's topics and frame ids, /tf_static
included, and into its kind of image:

- **rectified drivers** (RealSense infra streams, ZED ``rect`` images) publish images
  that are already rectified, with a camera_info of ``D = 0``, ``R = I`` and ``P`` (the
  right one with ``P[0, 3] = -fx * baseline``). The images are rectified here with the
  source camera_info's ``R`` and ``P`` (:func:`percept.rectify.maps.compute_rectify_maps`),
  and the camera frames on /tf_static are turned by ``R^T`` so that they name the
  rectified optical frames, as the drivers' frames do.
- **raw drivers** (depthai's mono ``image_raw``) publish the raw image with the
  device's stereo ``R`` and ``P`` in camera_info: the images pass unchanged.

``size`` scales the images (after rectification) to a driver's resolution; K and P
scale with them (``fx``, ``cx`` by the width ratio, ``fy``, ``cy`` by the height ratio).
IMU messages keep their values (the frame id changes; /tf_static says where that frame
is). Every other topic (ground truth) is copied byte for byte.

Driver names, with the files of the drivers' sources they come from:

==========  ==============================================  =================================
driver      topics                                          frames
==========  ==============================================  =================================
realsense   /camera/camera/infra{1,2}/image_rect_raw,       camera_link,
            .../camera_info, /camera/camera/imu             camera_infra{1,2}_optical_frame,
                                                            camera_imu_optical_frame
zed         /zed/zed_node/{left,right}/gray/rect/image,     zed_camera_link,
            .../rect/camera_info, /zed/zed_node/imu/data    zed_{left,right}_camera_frame_optical,
                                                            zed_imu_link
oakd        /oak/{left,right}/image_raw, .../camera_info,   oak-d-base-frame,
            /oak/imu/data                                   oak_{left,right}_camera_optical_frame,
                                                            oak_imu_frame
==========  ==============================================  =================================

- realsense2_camera 4.55 (IntelRealSense/realsense-ros, ros2-master): ``rs_launch.py``
  (``camera_namespace`` and ``camera_name`` default ``camera``), ``rs_node_setup.cpp``
  (``~/<stream>/image_rect_raw`` for rectified streams), ``base_realsense_node.h``
  (``OPTICAL_FRAME_ID``, ``IMU_OPTICAL_FRAME_ID``), ``base_realsense_node.cpp``
  (infra camera_info: ``R = I``; the infra2 camera_info's frame_id is infra1's optical
  frame, its ``P[0, 3] = -fx * baseline``), README (``/camera/camera/imu`` with
  ``unite_imu_method``), ``parameters.cpp`` (base frame ``<camera_name>_link``).
- zed_wrapper 5.1+ (stereolabs/zed-ros2-wrapper): ``zed_camera_component_video_depth.cpp``
  (``~/left/gray/rect/image``; camera_info beside it), ``zed_camera_component_main.cpp``
  (``setTFCoordFrameNames``: ``<camera>_left_camera_frame_optical``, ``<camera>_imu_link``;
  base ``<camera>_camera_link``; ``~/imu/data``), CHANGELOG v5.1.0 (the renames from
  ``left_gray/image_rect_gray`` and ``_left_camera_optical_frame``).
- depthai_ros_driver 2.10 (luxonis/depthai-ros, humble): ``camera.launch.py`` (node
  ``oak``, parent frame ``oak-d-base-frame``), ``base_node.cpp`` (``getOpticalTFPrefix``:
  ``<node>_<socket>_camera_optical_frame``), ``imu.cpp`` (``~/imu/data``, frame
  ``<node>_imu_frame``), ``depthai_bridge/src/ImageConverter.cpp``
  (``calibrationToCameraInfo``: raw K, D, the stereo rectification R and P).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import CameraInfo, Header, Image, ImuSample, TransformStamped
from percept.errors import BagError, ConfigError
from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.msgtypes import CAMERA_INFO, IMAGE, IMU, TF_MESSAGE

__all__ = [
    "DRIVERS",
    "SOURCES",
    "AsDriverResult",
    "StereoImuNames",
    "as_driver",
    "detect_source",
]

logger = logging.getLogger(__name__)

TF_TOPICS: Final = ("/tf", "/tf_static")


@dataclass(frozen=True, slots=True)
class StereoImuNames:
    """Topic and frame names of one stereo + IMU publisher (a driver or a bag source).

    Attributes:
        name: short name (``realsense``, ``euroc``).
        left_image: left image topic.
        left_info: left camera_info topic.
        right_image: right image topic.
        right_info: right camera_info topic.
        imu: IMU topic (sensor_msgs/Imu, gyro and accel together).
        base_frame: root of the publisher's /tf_static tree (the camera body).
        left_frame: left optical frame (the left image's frame_id).
        right_frame: right optical frame.
        imu_frame: the IMU messages' frame_id.
        right_info_frame: the right camera_info's frame_id (RealSense: the left one).
        rectified: the images are rectified (camera_info ``D = 0``, ``R = I``).
        description: what publishes these names, for messages and docs.
    """

    name: str
    left_image: str
    left_info: str
    right_image: str
    right_info: str
    imu: str
    base_frame: str
    left_frame: str
    right_frame: str
    imu_frame: str
    right_info_frame: str
    rectified: bool
    description: str

    def topic_map(self, target: StereoImuNames) -> dict[str, str]:
        """This publisher's sensor topics -> ``target``'s."""
        return {
            self.left_image: target.left_image,
            self.left_info: target.left_info,
            self.right_image: target.right_image,
            self.right_info: target.right_info,
            self.imu: target.imu,
        }

    def frame_map(self, target: StereoImuNames) -> dict[str, str]:
        """This publisher's frames -> ``target``'s."""
        return {
            self.base_frame: target.base_frame,
            self.left_frame: target.left_frame,
            self.right_frame: target.right_frame,
            self.imu_frame: target.imu_frame,
        }


DRIVERS: Final[dict[str, StereoImuNames]] = {
    "realsense": StereoImuNames(
        name="realsense",
        left_image="/camera/camera/infra1/image_rect_raw",
        left_info="/camera/camera/infra1/camera_info",
        right_image="/camera/camera/infra2/image_rect_raw",
        right_info="/camera/camera/infra2/camera_info",
        imu="/camera/camera/imu",
        base_frame="camera_link",
        left_frame="camera_infra1_optical_frame",
        right_frame="camera_infra2_optical_frame",
        imu_frame="camera_imu_optical_frame",
        right_info_frame="camera_infra1_optical_frame",
        rectified=True,
        description="realsense2_camera 4.x (infra1/infra2 + unite_imu_method)",
    ),
    "zed": StereoImuNames(
        name="zed",
        left_image="/zed/zed_node/left/gray/rect/image",
        left_info="/zed/zed_node/left/gray/rect/camera_info",
        right_image="/zed/zed_node/right/gray/rect/image",
        right_info="/zed/zed_node/right/gray/rect/camera_info",
        imu="/zed/zed_node/imu/data",
        base_frame="zed_camera_link",
        left_frame="zed_left_camera_frame_optical",
        right_frame="zed_right_camera_frame_optical",
        imu_frame="zed_imu_link",
        right_info_frame="zed_right_camera_frame_optical",
        rectified=True,
        description="zed_wrapper 5.1+ (gray rectified pair + imu/data)",
    ),
    "oakd": StereoImuNames(
        name="oakd",
        left_image="/oak/left/image_raw",
        left_info="/oak/left/camera_info",
        right_image="/oak/right/image_raw",
        right_info="/oak/right/camera_info",
        imu="/oak/imu/data",
        base_frame="oak-d-base-frame",
        left_frame="oak_left_camera_optical_frame",
        right_frame="oak_right_camera_optical_frame",
        imu_frame="oak_imu_frame",
        right_info_frame="oak_right_camera_optical_frame",
        rectified=False,
        description="depthai_ros_driver 2.x (Stereo pipeline: raw mono pair + imu/data)",
    ),
}

SOURCES: Final[dict[str, StereoImuNames]] = {
    "euroc": StereoImuNames(
        name="euroc",
        left_image="/cam0/image_raw",
        left_info="/cam0/camera_info",
        right_image="/cam1/image_raw",
        right_info="/cam1/camera_info",
        imu="/imu0",
        base_frame="base_link",
        left_frame="cam0",
        right_frame="cam1",
        imu_frame="imu0",
        right_info_frame="cam1",
        rectified=False,
        description="percept bag from-euroc",
    ),
    "synth": StereoImuNames(
        name="synth",
        left_image="/stereo/left/image_raw",
        left_info="/stereo/left/camera_info",
        right_image="/stereo/right/image_raw",
        right_info="/stereo/right/camera_info",
        imu="/imu/data",
        base_frame="base_link",
        left_frame="stereo_left_optical_frame",
        right_frame="stereo_right_optical_frame",
        imu_frame="imu_link",
        right_info_frame="stereo_right_optical_frame",
        rectified=False,
        description="percept synth",
    ),
}


@dataclass(frozen=True, slots=True)
class AsDriverResult:
    """What :func:`as_driver` wrote.

    Attributes:
        path: the output bag.
        driver: the driver's names.
        source: the input's names.
        counts: messages written per output topic.
        size: (width, height) of the output images, pixels.
        seconds: wall time, s.
    """

    path: Path
    driver: StereoImuNames
    source: StereoImuNames
    counts: dict[str, int]
    size: tuple[int, int]
    seconds: float


def detect_source(topics: dict[str, str] | set[str] | list[str]) -> StereoImuNames:
    """The known source whose four camera topics and IMU topic a bag has.

    Raises:
        ConfigError: no known source, or more than one, matches.
    """
    have = set(topics)
    found = [
        s
        for s in SOURCES.values()
        if {s.left_image, s.left_info, s.right_image, s.right_info, s.imu} <= have
    ]
    if len(found) != 1:
        names = ", ".join(f"{s.name} ({s.left_image}, {s.imu})" for s in SOURCES.values())
        what = "no" if not found else "more than one"
        msg = f"{what} known stereo + IMU source in the bag; known: {names}"
        raise ConfigError(msg)
    return found[0]


def _scaled(model: CameraModel, size: tuple[int, int]) -> CameraModel:
    """``model`` for its image resized to ``size`` (width, height): K and P scaled."""
    sx, sy = size[0] / model.width, size[1] / model.height
    S = np.diag([sx, sy, 1.0])
    return replace(model, width=size[0], height=size[1], K=S @ model.K, P=S @ model.P)


@dataclass(slots=True)
class _Camera:
    """One camera's conversion: its rectification maps (rectified drivers) and size."""

    source: CameraModel
    out_model: CameraModel
    maps: object | None  # RectifyMaps
    T_raw_out: npt.NDArray[np.float64]  # (4, 4): the output optical frame in the raw one


def _camera(model: CameraModel, rectify: bool, size: tuple[int, int] | None) -> _Camera:
    from percept.rectify.maps import compute_rectify_maps

    T_raw_out = np.eye(4)
    maps = None
    out = model
    if rectify:
        maps = compute_rectify_maps(model)
        out = maps.rectified
        T_raw_out[:3, :3] = model.R.T
    if size is not None and (out.width, out.height) != size:
        out = _scaled(out, size)
    return _Camera(model, out, maps, T_raw_out)


class _Converter:
    """Message by message conversion of one bag into one driver's names."""

    def __init__(
        self, source: StereoImuNames, driver: StereoImuNames, size: tuple[int, int] | None
    ) -> None:
        self.source = source
        self.driver = driver
        self.size = size
        self.topics = source.topic_map(driver)
        self.frames = source.frame_map(driver)
        self.cameras: dict[str, _Camera] = {}

    def frame(self, frame_id: str) -> str:
        return self.frames.get(frame_id, frame_id)

    def _side(self, topic: str) -> str:
        s = self.source
        return "left" if topic in (s.left_image, s.left_info) else "right"

    def camera(self, side: str) -> _Camera | None:
        return self.cameras.get(side)

    def learn(self, side: str, model: CameraModel) -> None:
        """Set up a camera from its first camera_info."""
        if side not in self.cameras:
            self.cameras[side] = _camera(model, self.driver.rectified, self.size)

    def camera_info(self, topic: str, info: CameraInfo) -> CameraInfo:
        side = self._side(topic)
        self.learn(side, info.model)
        cam = self.cameras[side]
        frame = self.driver.left_frame if side == "left" else self.driver.right_info_frame
        return CameraInfo(Header(info.header.stamp_ns, frame), cam.out_model)

    def image(self, topic: str, image: Image) -> Image | None:
        from percept.rectify.maps import RectifyMaps, rectify_image

        cam = self.camera(self._side(topic))
        if cam is None:  # no camera_info yet: the driver would not publish either
            return None
        data = image.data
        if isinstance(cam.maps, RectifyMaps):
            data = rectify_image(data, cam.maps)
        size = (cam.out_model.width, cam.out_model.height)
        if (data.shape[1], data.shape[0]) != size:
            data = cv2.resize(np.ascontiguousarray(data), size, interpolation=cv2.INTER_AREA)
        return Image(
            Header(image.header.stamp_ns, self.frame(image.header.frame_id)),
            image.encoding,
            np.ascontiguousarray(data),
        )

    def imu(self, sample: ImuSample) -> ImuSample:
        header = Header(sample.header.stamp_ns, self.frame(sample.header.frame_id))
        return replace(sample, header=header)

    def transforms(self, tfs: list[TransformStamped]) -> list[TransformStamped]:
        """Frames renamed; camera frames turned into the output optical frames."""
        by_frame = {
            self.source.left_frame: self.cameras.get("left"),
            self.source.right_frame: self.cameras.get("right"),
        }
        out: list[TransformStamped] = []
        for tf in tfs:
            T = tf.transform.as_matrix()
            child_cam = by_frame.get(tf.child_frame_id)
            parent_cam = by_frame.get(tf.header.frame_id)
            if child_cam is not None:
                T = T @ child_cam.T_raw_out
            if parent_cam is not None:
                T = np.linalg.inv(parent_cam.T_raw_out) @ T
            header = Header(tf.header.stamp_ns, self.frame(tf.header.frame_id))
            out.append(TransformStamped(header, self.frame(tf.child_frame_id), Pose.from_matrix(T)))
        return out


def _first_camera_infos(path: Path, source: StereoImuNames) -> dict[str, CameraModel]:
    """The first left and right camera_info models of the bag (for /tf_static first)."""
    from percept import codecs
    from percept.io.bag import BagReader
    from percept.io.typestore import get_typestore

    store = get_typestore()
    found: dict[str, CameraModel] = {}
    with BagReader(path) as bag:
        for m in bag.messages([source.left_info, source.right_info]):
            side = "left" if m.topic == source.left_info else "right"
            if side in found:
                if len(found) == 2:
                    break
                continue
            msg = m.msg if m.raw is None else store.deserialize_cdr(m.raw, m.msgtype)
            info = codecs.decode(m.msgtype, msg)
            assert isinstance(info, CameraInfo)
            found[side] = info.model
            if len(found) == 2:
                break
    if len(found) != 2:
        msg = f"{path}: needs camera_info on {source.left_info} and {source.right_info}"
        raise BagError(msg)
    return found


def as_driver(
    bag: Path | str,
    out: Path | str,
    driver: str,
    *,
    source: str | None = None,
    size: tuple[int, int] | None = None,
    overwrite: bool = False,
) -> AsDriverResult:
    """Write ``bag`` again with ``driver``'s topics, frames and kind of image.

    Args:
        bag: input bag (from ``percept bag from-euroc`` or ``percept synth``).
        out: output bag (``.mcap``: one file; else a rosbag2 folder).
        driver: a key of :data:`DRIVERS` (``realsense``, ``zed``, ``oakd``).
        source: a key of :data:`SOURCES`; None: found from the bag's topics.
        size: (width, height) of the output images, pixels; None: as they come.
        overwrite: replace an existing output.

    Returns:
        What was written.

    Raises:
        ConfigError: unknown driver or source, a bag of no known source, a bad size.
        BagError: unreadable input, an existing output (without ``overwrite``), a
            bag without camera_info.
        CalibrationError: a camera_info that cannot be rectified (rectified drivers).
    """
    from percept import codecs
    from percept.io.bag import BagReader, BagWriter
    from percept.io.typestore import RosbagsFactory, get_typestore

    began = time.perf_counter()
    if driver not in DRIVERS:
        msg = f"unknown driver {driver!r}; known: {', '.join(DRIVERS)}"
        raise ConfigError(msg)
    if size is not None and (size[0] < 1 or size[1] < 1):
        msg = f"size must be positive, got {size[0]}x{size[1]}"
        raise ConfigError(msg)
    target = DRIVERS[driver]
    path = Path(bag)
    with BagReader(path) as reader:
        topics = reader.topics()
    if source is None:
        names = detect_source(topics)
    elif source in SOURCES:
        names = SOURCES[source]
    else:
        msg = f"unknown source {source!r}; known: {', '.join(SOURCES)}"
        raise ConfigError(msg)
    conv = _Converter(names, target, size)
    for side, model in _first_camera_infos(path, names).items():
        conv.learn(side, model)
    store = get_typestore()
    factory = RosbagsFactory(store)

    def encode(msgtype: str, obj: object) -> bytes:
        return bytes(store.serialize_cdr(codecs.encode(msgtype, obj, factory), msgtype))

    with BagReader(path) as reader, BagWriter(Path(out), overwrite=overwrite) as writer:
        for m in reader.messages():
            topic = conv.topics.get(m.topic, m.topic)
            converts = m.topic in conv.topics or m.topic in TF_TOPICS
            if not converts:
                if m.raw is None:
                    msg = f"{path}: ROS 1 bags are not supported here; convert the bag first"
                    raise BagError(msg)
                writer.write(m.topic, m.msgtype, m.log_time_ns, m.raw)
                continue
            msg_obj = m.msg if m.raw is None else store.deserialize_cdr(m.raw, m.msgtype)
            obj = codecs.decode(m.msgtype, msg_obj)
            new: object | None
            if m.msgtype == CAMERA_INFO and isinstance(obj, CameraInfo):
                new = conv.camera_info(m.topic, obj)
            elif m.msgtype == IMAGE and isinstance(obj, Image):
                new = conv.image(m.topic, obj)
            elif m.msgtype == IMU and isinstance(obj, ImuSample):
                new = conv.imu(obj)
            elif m.msgtype == TF_MESSAGE and isinstance(obj, tuple | list):
                new = tuple(conv.transforms(list(obj)))
            else:
                msg = f"{path}: {m.topic} is {m.msgtype}, not what {names.name} publishes there"
                raise BagError(msg)
            if new is not None:
                writer.write(topic, m.msgtype, m.log_time_ns, encode(m.msgtype, new))
        counts = dict(writer.counts)
    left = conv.cameras["left"].out_model
    seconds = time.perf_counter() - began
    logger.info(
        "%s -> %s as %s (%s): %d messages in %.2f s",
        path,
        out,
        target.name,
        target.description,
        sum(counts.values()),
        seconds,
    )
    return AsDriverResult(Path(out), target, names, counts, (left.width, left.height), seconds)
