"""Geometry: rigid transforms (SO(3)/SE(3) helpers, ``Pose``), camera models and box IoU."""

from percept.geometry import se3, so3
from percept.geometry.camera import DISTORTION_MODELS, CameraModel, RegionOfInterest
from percept.geometry.pose import Pose

__all__ = ["DISTORTION_MODELS", "CameraModel", "Pose", "RegionOfInterest", "se3", "so3"]
