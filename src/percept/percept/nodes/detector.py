"""DetectorNode: image (+ camera_info, + depth) -> 2D detections, tracks, 3D boxes, markers.

Runs an ONNX detector (``percept.detect``) on TensorRT or ONNX Runtime on each image,
tracks the detections (``percept.track``), and with a registered depth image or a
disparity image lifts them to 3D boxes in the camera optical frame and, through TF, in
``target_frame_id``. The image input keeps only the newest frame (KEEP_LAST 1): when
inference is slower than the camera, frames are dropped rather than queued, counted
from the camera_info stamps the camera publishes with every frame, and reported on
/diagnostics. ``model_path`` defaults to the shipped warehouse detector
(``package://percept/models/warehouse_det.onnx``, see ``percept/models/MODEL_CARD.md``);
with an empty ``model_path`` the node starts, rejects images and reports ERROR
``model_path not set`` until the parameter is set.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from percept.detect.backend import BackendOptions
from percept.detect.detector import Detections, Detector, DetectorConfig
from percept.detect.draw import class_color, draw_detections
from percept.detect.lift3d import (
    Box3D,
    Lift3DConfig,
    depth_from_disparity,
    depth_metres,
    lift_boxes,
)
from percept.detect.preprocess import rgb_or_bgr
from percept.detect.shipped import SHIPPED_MODEL_URL, SHIPPED_NMS_IOU, resolve_model_path
from percept.domain import (
    CameraInfo,
    Detection2D,
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    DiagnosticLevel,
    Disparity,
    Header,
    Image,
    Marker,
    MarkerAction,
    MarkerArray,
    MarkerType,
    ObjectHypothesis,
)
from percept.errors import ConfigError, DetectionError, InputRejected, TransformError
from percept.geometry.pose import Pose
from percept.io.image_files import iter_images
from percept.msgtypes import (
    CAMERA_INFO,
    DETECTION2D_ARRAY,
    DETECTION3D_ARRAY,
    DISPARITY_IMAGE,
    IMAGE,
    MARKER_ARRAY,
)
from percept.node import (
    RELIABLE,
    SENSOR_DATA,
    Input,
    Node,
    Output,
    Parameter,
    ParamValue,
    QosProfile,
)
from percept.nodes._camera import FrameDropCounter
from percept.params import ConfigParameters, read_float, read_int, read_str
from percept.sync.join import StampJoin
from percept.track.bytetrack import ByteTracker, TrackerConfig
from percept.units import NS_PER_S

__all__ = ["DetectorNode"]

#: Newest frame wins: a slow detector never works through a backlog of old frames.
NEWEST_ONLY = QosProfile("best_effort", "volatile", 1)
#: camera_info is tiny and comes with every frame: a deep queue sees every frame's
#: stamp even while inference runs, which is how dropped frames are counted.
EVERY_INFO = QosProfile("best_effort", "volatile", 100)
#: Keys whose change reloads the model; the others apply to the loaded one.
_MODEL_KEYS = frozenset(
    {
        "model_path",
        "labels_path",
        "backend",
        "precision",
        "engine_cache_dir",
        "calibration_data",
        "calibration_topic",
        "ort_provider",
        "inference_threads",
        "decoder",
        "input_width",
        "input_height",
    }
)

_RECENT = 30  # processed frames over which drops and timings are reported
#: DetectorConfig's settings; the node's NMS default suits the shipped model.
_DETECTOR_PARAMETERS = ConfigParameters(DetectorConfig, defaults={"iou_threshold": SHIPPED_NMS_IOU})
#: BackendOptions' settings; the node builds fp16 TensorRT engines by default.
_BACKEND_PARAMETERS = ConfigParameters(BackendOptions, defaults={"precision": "fp16"})
#: TrackerConfig's settings, as ``track_*``.
_TRACKER_PARAMETERS = ConfigParameters(TrackerConfig, prefix="track_")
#: Lift3DConfig's settings, as ``depth_*``.
_LIFT_PARAMETERS = ConfigParameters(Lift3DConfig, prefix="depth_")


@dataclasses.dataclass
class _Frame:
    """A detected frame waiting for its depth."""

    header: Header
    size: tuple[int, int]
    detections: Detections
    class_ids: list[str]
    track_ids: list[str]


def _model_file(model: str) -> str:
    """The file a model_path names (``package://`` resolved), or the text as given."""
    try:
        return str(resolve_model_path(model))
    except DetectionError:
        return model


def _comma_separated(text: str) -> tuple[str, ...]:
    """The stripped, non-empty items of a comma-separated list."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


class DetectorNode(Node):
    """Object detection, tracking and 3D boxes, as Isaac ROS' detection graph in one node.

    2D detections go to ``detections`` (vision_msgs/Detection2DArray: box centre and
    size in pixels, hypotheses with class id and score, track id in ``id``). With
    ``depth_source`` set, each detection whose box has enough valid depth becomes a
    3D box in ``detections_3d`` (camera optical frame) and ``detections_3d_target``
    (``target_frame_id``, through TF), and an RViz cube with a label in ``markers``.
    """

    NAME = "detector"
    DESCRIPTION = "image (+ camera_info, + depth) -> detections, 3D boxes, markers"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("image", "image", IMAGE, NEWEST_ONLY, "image to detect in (newest frame wins)"),
        Input(
            "camera_info",
            "camera_info",
            CAMERA_INFO,
            EVERY_INFO,
            "calibration of the image (3D; its stamps count dropped frames)",
        ),
        Input(
            "depth",
            "depth",
            IMAGE,
            SENSOR_DATA,
            "depth registered to the image, 32FC1 m or 16UC1 mm (depth_source depth)",
        ),
        Input(
            "disparity",
            "disparity",
            DISPARITY_IMAGE,
            SENSOR_DATA,
            "disparity of the image's camera (depth_source disparity)",
        ),
    )
    OUTPUTS: ClassVar[tuple[Output, ...]] = (
        Output(
            "detections",
            "detections",
            DETECTION2D_ARRAY,
            RELIABLE,
            "2D detections, pixels; track ids in id",
        ),
        Output(
            "detections_3d",
            "detections_3d",
            DETECTION3D_ARRAY,
            RELIABLE,
            "3D boxes in the camera optical frame",
        ),
        Output(
            "detections_3d_target",
            "detections_3d_target",
            DETECTION3D_ARRAY,
            RELIABLE,
            "3D boxes in target_frame_id (through TF)",
        ),
        Output(
            "markers",
            "markers",
            MARKER_ARRAY,
            RELIABLE,
            "RViz cubes and labels of the 3D boxes",
        ),
        Output(
            "image_detections",
            "image_detections",
            IMAGE,
            SENSOR_DATA,
            "debug image with boxes drawn, bgr8 (publish_debug_image)",
        ),
    )
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "model_path",
            "string",
            SHIPPED_MODEL_URL,
            "ONNX model file (package://percept/...: inside the percept package); empty: "
            "none (node reports ERROR)",
        ),
        Parameter(
            "labels_path",
            "string",
            "",
            "class names, one per line; empty: <model>.labels.txt/.names or model metadata",
        ),
        *_DETECTOR_PARAMETERS.select("backend"),
        *_BACKEND_PARAMETERS.select("precision"),
        Parameter(
            "engine_cache_dir",
            "string",
            "",
            "TensorRT engine cache; empty: $XDG_CACHE_HOME/percept/engines",
        ),
        Parameter(
            "calibration_data",
            "string",
            "",
            "INT8 calibration: image folder or bag (precision int8)",
        ),
        *_BACKEND_PARAMETERS.select("calibration_topic", "ort_provider", "threads"),
        *_DETECTOR_PARAMETERS.select("decoder"),
        Parameter(
            "input_width",
            "integer",
            640,
            "network input width, pixels (dynamic models)",
            min_value=32,
            max_value=8192,
        ),
        Parameter(
            "input_height",
            "integer",
            640,
            "network input height, pixels (dynamic models)",
            min_value=32,
            max_value=8192,
        ),
        *_DETECTOR_PARAMETERS.select(
            "score_threshold", "iou_threshold", "max_detections", "tile_scale"
        ),
        Parameter(
            "classes",
            "string",
            "",
            "class allow-list, comma-separated names or indices; empty: all",
        ),
        Parameter(
            "class_id_format",
            "string",
            "name",
            "ObjectHypothesis class_id: name (label, index when unnamed) or index",
            choices=("name", "index"),
        ),
        Parameter("tracking", "bool", True, "track detections; ids go to Detection2D.id"),
        *_TRACKER_PARAMETERS.parameters,
        Parameter(
            "depth_source",
            "string",
            "none",
            "3D boxes from: none, depth (registered depth image) or disparity",
            choices=("none", "depth", "disparity"),
        ),
        Parameter(
            "depth_sync_tolerance_seconds",
            "double",
            0.01,
            "largest image/depth stamp difference, seconds",
            min_value=0.0,
            max_value=10.0,
        ),
        *_LIFT_PARAMETERS.parameters,
        Parameter(
            "target_frame_id",
            "string",
            "base_link",
            "frame of detections_3d_target; empty: not published",
        ),
        Parameter("publish_markers", "bool", True, "publish RViz markers of the 3D boxes"),
        Parameter("publish_debug_image", "bool", False, "publish image_detections"),
    )

    # -- configuration -----------------------------------------------------------------
    def setup(self) -> None:
        """Load the model (when set) and reset tracking and frame bookkeeping."""
        self._detector: Detector | None = None
        self._problem = "model_path not set"
        self._detector = self._load(self.params)
        self._tracker = ByteTracker(self._tracker_config(self.params))
        self._drops = FrameDropCounter(window=_RECENT)
        self._info: CameraInfo | None = None
        self._depth_join: StampJoin[_Frame, npt.NDArray[np.float32]] = StampJoin(capacity=5)
        self._timings: deque[tuple[float, float, float]] = deque(maxlen=_RECENT)
        self._counts = {"frames": 0, "boxes_3d": 0, "no_depth": 0, "tf_failures": 0}
        self._last_3d_problem = ""

    def _load(self, params: Mapping[str, ParamValue]) -> Detector | None:
        """The detector the parameters describe; None when model_path is empty.

        Raises:
            ConfigError: the model cannot be loaded (names the key and the file).
        """
        model = str(params["model_path"]).strip()
        if not model:
            return None
        try:
            config = self._detector_config(params)
            detector = Detector(config)
        except DetectionError as err:
            # The error names the file (model_path, labels_path) or the key at fault.
            names_model = str(err).startswith((model, _model_file(model)))
            key = ".model_path" if names_model else ""
            msg = f"{self.NAME}{key}: {err}"
            raise ConfigError(msg) from err
        self._problem = ""
        self.ctx.logger.info(
            "detector: %s on %s, decoder %s, %d classes",
            model,
            detector.backend.name,
            detector.layout.decoder,
            detector.layout.num_classes or len(detector.labels),
        )
        return detector

    def _detector_config(self, params: Mapping[str, ParamValue]) -> DetectorConfig:
        def text(key: str) -> str:
            return read_str(params, key).strip()

        calibration = text("calibration_data")
        options = _BACKEND_PARAMETERS.build(
            params,
            engine_cache_dir=Path(text("engine_cache_dir")) if text("engine_cache_dir") else None,
            input_size=(read_int(params, "input_width"), read_int(params, "input_height")),
            calibration_images=Path(calibration) if calibration else None,
            calibration_topic=text("calibration_topic"),
            calibration_reader=iter_images,
        )
        return _DETECTOR_PARAMETERS.build(
            params,
            model_path=resolve_model_path(text("model_path")),
            classes=_comma_separated(text("classes")),
            labels_path=Path(text("labels_path")) if text("labels_path") else None,
            options=options,
        )

    @staticmethod
    def _tracker_config(params: Mapping[str, ParamValue]) -> TrackerConfig:
        low = read_float(params, "track_low_score")
        high = read_float(params, "track_high_score")
        # Swapped thresholds still mean "the higher one starts tracks".
        return _TRACKER_PARAMETERS.build(
            params, high_score=max(low, high), low_score=min(low, high)
        )

    def on_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        """Apply a run-time change; a model that fails to load refuses the change."""
        params = {**self.params, **changed}
        detector = self._detector
        if _MODEL_KEYS & set(changed):
            try:
                detector = self._load(params)
            except ConfigError as err:
                return str(err)
            if detector is None:
                self._problem = "model_path not set"
        elif detector is not None:
            try:
                config = self._detector_config(params)
                detector.set_thresholds(
                    score_threshold=config.score_threshold,
                    iou_threshold=config.iou_threshold,
                    max_detections=config.max_detections,
                    classes=config.classes,
                    tile_scale=config.tile_scale,
                )
            except DetectionError as err:
                return str(err)
        if self._detector is not None and detector is not self._detector:
            self._detector.close()
        self._detector = detector
        self.params.update(changed)
        tracker = self._tracker_config(self.params)
        if tracker != self._tracker.config:
            self._tracker = ByteTracker(tracker)
        return None

    # -- inputs ------------------------------------------------------------------------
    def on_camera_info(self, info: CameraInfo) -> None:
        """Keep the newest calibration; its stamp marks a frame the camera sent."""
        self._info = info
        self._drops.saw_info(info.header.stamp_ns)

    def on_image(self, image: Image) -> dict[str, object]:
        """Detect, track and publish one frame (and its 3D boxes when depth is there)."""
        detector = self._detector
        if detector is None:
            raise InputRejected(self._problem)
        pixels, is_bgr = rgb_or_bgr(image)
        stamp = image.header.stamp_ns
        self._drops.processed_image(stamp)
        score_min = self.param_float("score_threshold")
        tracking = self.param_bool("tracking")
        ask = min(score_min, self._tracker.config.low_score) if tracking else score_min
        try:
            dets = detector.detect([pixels], is_bgr, ask)[0]
        except DetectionError as err:
            msg = f"inference failed: {err}"
            raise InputRejected(msg) from err
        timing = detector.timing
        self._timings.append((timing.preprocess_ms, timing.inference_ms, timing.postprocess_ms))
        track_ids = np.zeros(len(dets), dtype=np.int64)
        if tracking:
            track_ids = self._tracker.update(
                dets.boxes_xyxy, dets.scores, dets.class_ids, stamp
            ).track_ids
        # Published: confident detections, plus weaker ones a confirmed track claimed.
        keep = np.flatnonzero((dets.scores > score_min) | (track_ids > 0))
        dets = dets.select(keep)
        ids = [str(t) if t > 0 else "" for t in track_ids[keep]]
        as_index = self.param_str("class_id_format") == "index"  # once per frame
        class_ids = [
            str(c) if as_index else detector.class_name(c) for c in dets.class_ids.tolist()
        ]
        self._counts["frames"] += 1
        out: dict[str, object] = {
            "detections": _detection_array(image.header, dets, class_ids, ids)
        }
        if self.param_bool("publish_debug_image"):
            bgr = pixels if is_bgr else np.ascontiguousarray(pixels[..., ::-1])
            names = [detector.class_name(int(c)) for c in dets.class_ids]
            drawn = draw_detections(bgr, dets.boxes_xyxy, dets.class_ids, names, dets.scores, ids)
            out["image_detections"] = Image(image.header, "bgr8", drawn)
        if self.param_str("depth_source") != "none":
            frame = _Frame(image.header, (image.width, image.height), dets, class_ids, ids)
            self._depth_join.add_primary(stamp, frame)
            out.update(self._match_depth())
        return out

    def on_depth(self, image: Image) -> dict[str, object] | None:
        """A registered depth image (``depth_source: depth``)."""
        if self.param_str("depth_source") != "depth":
            return None
        self._depth_join.add_secondary(image.header.stamp_ns, depth_metres(image))
        return self._match_depth()

    def on_disparity(self, disparity: Disparity) -> dict[str, object] | None:
        """A disparity image (``depth_source: disparity``)."""
        if self.param_str("depth_source") != "disparity":
            return None
        self._depth_join.add_secondary(disparity.header.stamp_ns, depth_from_disparity(disparity))
        return self._match_depth()

    # -- 3D ----------------------------------------------------------------------------
    def _match_depth(self) -> dict[str, object]:
        """Lift the newest detected frame that has a depth within the tolerance."""
        tolerance_ns = round(self.param_float("depth_sync_tolerance_seconds") * NS_PER_S)
        match = self._depth_join.pop_match(tolerance_ns)
        return {} if match is None else self._lift(*match)

    def _lift(self, frame: _Frame, depth: npt.NDArray[np.float32]) -> dict[str, object]:
        info = self._info
        if info is None:
            self._last_3d_problem = "no camera_info received: cannot back-project"
            return {}
        config = _LIFT_PARAMETERS.build(self.params)
        boxes = lift_boxes(frame.detections.boxes_xyxy, depth, info.model, frame.size, config)
        self._counts["boxes_3d"] += len(boxes)
        self._counts["no_depth"] += len(frame.detections) - len(boxes)
        header = frame.header
        dets_3d = tuple(_detection_3d(b, frame, Pose(b.center_m)) for b in boxes)
        out: dict[str, object] = {"detections_3d": Detection3DArray(header, dets_3d)}
        if self.param_bool("publish_markers"):
            out["markers"] = _markers(header, boxes, frame)
        target = self.param_str("target_frame_id").strip()
        if target:
            try:
                T_target_cam = (
                    Pose()
                    if target == header.frame_id
                    else self.ctx.lookup_transform(target, header.frame_id, header.stamp_ns)
                )
            except TransformError as err:
                self._counts["tf_failures"] += 1
                self._last_3d_problem = f"no TF {target} <- {header.frame_id}: {err}"
                return out
            moved = tuple(_detection_3d(b, frame, T_target_cam @ Pose(b.center_m)) for b in boxes)
            out["detections_3d_target"] = Detection3DArray(Header(header.stamp_ns, target), moved)
        return out

    # -- helpers -----------------------------------------------------------------------
    def diagnostic_values(self) -> list[tuple[str, str]]:
        """Model, timings per stage, frames processed and dropped, tracks, 3D counts."""
        detector = self._detector
        times = np.asarray(self._timings, dtype=np.float64).reshape(-1, 3)
        mean = times.mean(axis=0) if times.size else np.zeros(3)
        values = [
            ("model", str(detector.config.model_path) if detector else self._problem),
            ("backend", detector.backend.name if detector else ""),
            ("decoder", detector.layout.decoder if detector else ""),
            ("frames_processed", str(self._counts["frames"])),
            ("frames_dropped", str(self._drops.dropped)),
            ("camera_period_ms", f"{self._drops.camera_period_ms():.1f}"),
            ("preprocess_ms", f"{mean[0]:.2f}"),
            ("inference_ms", f"{mean[1]:.2f}"),
            ("postprocess_ms", f"{mean[2]:.2f}"),
            ("confirmed_tracks", str(self._tracker.confirmed_count)),
            ("boxes_3d", str(self._counts["boxes_3d"])),
            ("boxes_without_depth", str(self._counts["no_depth"])),
            ("tf_failures", str(self._counts["tf_failures"])),
            ("last_3d_problem", self._last_3d_problem),
        ]
        return values

    def diagnostic_summary(self) -> tuple[int, str] | None:
        """ERROR without a model; WARN while frames are being dropped."""
        if self._detector is None:
            return DiagnosticLevel.ERROR, self._problem
        recent = self._drops.recent_dropped
        if recent:
            times = np.asarray(self._timings, dtype=np.float64).reshape(-1, 3)
            per_frame = float(times.sum(axis=1).mean()) if times.size else 0.0
            return (
                DiagnosticLevel.WARN,
                f"inference slower than the camera: {per_frame:.1f} ms per frame, camera "
                f"every {self._drops.camera_period_ms():.1f} ms; {recent} of the last "
                f"{recent + self._drops.recent_processed} frames dropped (newest frame wins)",
            )
        return None


def _hypotheses(class_id: str, score: float) -> tuple[ObjectHypothesis, ...]:
    return (ObjectHypothesis(class_id, score),)


def _detection_array(
    header: Header, dets: Detections, class_ids: list[str], ids: list[str]
) -> Detection2DArray:
    boxes = dets.boxes_xyxy.astype(np.float64)
    # Python floats in one pass each (tolist), not one numpy scalar per field.
    centers = ((boxes[:, :2] + boxes[:, 2:]) / 2).tolist()
    sizes = (boxes[:, 2:] - boxes[:, :2]).tolist()
    scores = dets.scores.astype(np.float64).tolist()
    return Detection2DArray(
        header,
        tuple(
            Detection2D((c[0], c[1]), (z[0], z[1]), _hypotheses(k, s), i)
            for c, z, k, s, i in zip(centers, sizes, class_ids, scores, ids, strict=True)
        ),
    )


def _detection_3d(box: Box3D, frame: _Frame, center: Pose) -> Detection3D:
    i = box.index
    return Detection3D(
        center,
        box.size_m,
        _hypotheses(frame.class_ids[i], float(frame.detections.scores[i])),
        frame.track_ids[i],
    )


def _markers(header: Header, boxes: list[Box3D], frame: _Frame) -> MarkerArray:
    markers = [Marker(header, "detections", 0, MarkerType.CUBE, MarkerAction.DELETEALL)]
    for k, box in enumerate(boxes):
        b, g, r = class_color(int(frame.detections.class_ids[box.index]))
        color = (r / 255.0, g / 255.0, b / 255.0, 0.5)
        markers.append(
            Marker(
                header,
                "detections",
                2 * k,
                MarkerType.CUBE,
                MarkerAction.ADD,
                Pose(box.center_m),
                box.size_m,
                color,
            )
        )
        label = frame.class_ids[box.index]
        if frame.track_ids[box.index]:
            label += f" #{frame.track_ids[box.index]}"
        above = box.center_m - np.array([0.0, box.size_m[1] / 2 + 0.1, 0.0])
        markers.append(
            Marker(
                header,
                "detections",
                2 * k + 1,
                MarkerType.TEXT_VIEW_FACING,
                MarkerAction.ADD,
                Pose(above),
                np.array([0.0, 0.0, 0.15]),
                (1.0, 1.0, 1.0, 1.0),
                text=label,
            )
        )
    return MarkerArray(tuple(markers))
