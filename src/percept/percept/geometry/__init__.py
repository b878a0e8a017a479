"""Geometry: rigid transforms, camera models, the TF buffer."""

from percept.geometry.camera import DISTORTION_MODELS, CameraModel, RegionOfInterest
from percept.geometry.pose import Pose

__all__ = ["DISTORTION_MODELS", "CameraModel", "Pose", "RegionOfInterest"]
