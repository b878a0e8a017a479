"""Object detection: ONNX models on TensorRT or ONNX Runtime, YOLO-family decoders, NMS.

The pipeline (:class:`Detector`) letterboxes images into the network input, runs a
backend (:func:`open_backend`: TensorRT with pycuda on NVIDIA GPUs, ONNX Runtime
elsewhere), decodes the outputs by their layout (YOLOv8/YOLO11, YOLOv5/YOLOv7,
YOLOv10 and RT-DETR end-to-end) and runs class-aware NMS; :func:`lift_boxes` turns
boxes plus depth into 3D boxes.
"""

from percept.detect.backend import BackendOptions, InferenceBackend, TensorSpec, open_backend
from percept.detect.decode import DECODERS, Candidates, OutputLayout, choose_layout
from percept.detect.detector import Detections, Detector, DetectorConfig
from percept.detect.lift3d import Box3D, Lift3DConfig, lift_boxes
from percept.detect.nms import batched_nms
from percept.detect.preprocess import Letterbox, letterbox, make_batch

__all__ = [
    "DECODERS",
    "BackendOptions",
    "Box3D",
    "Candidates",
    "Detections",
    "Detector",
    "DetectorConfig",
    "InferenceBackend",
    "Letterbox",
    "Lift3DConfig",
    "OutputLayout",
    "TensorSpec",
    "batched_nms",
    "choose_layout",
    "letterbox",
    "lift_boxes",
    "make_batch",
    "open_backend",
]
