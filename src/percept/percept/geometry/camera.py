"""Pinhole / fisheye camera model as carried by sensor_msgs/CameraInfo."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["DISTORTION_MODELS", "CameraModel", "RegionOfInterest"]

# Names as in sensor_msgs/distortion_models.h, with the number of coefficients expected
# (None: any number, rational_polynomial has 8 but OpenCV may give 14).
DISTORTION_MODELS: dict[str, tuple[int, ...]] = {
    "plumb_bob": (5,),
    "rational_polynomial": (8, 12, 14),
    "equidistant": (4,),
}


@dataclass(frozen=True, slots=True)
class RegionOfInterest:
    """sensor_msgs/RegionOfInterest; all zeros means the full image."""

    x_offset: int = 0
    y_offset: int = 0
    height: int = 0
    width: int = 0
    do_rectify: bool = False


def _mat(values: npt.ArrayLike, shape: tuple[int, ...], name: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size != int(np.prod(shape)):
        msg = f"{name} must have {int(np.prod(shape))} elements, got {arr.size}"
        raise ValueError(msg)
    return arr.reshape(shape)


@dataclass(frozen=True, slots=True, eq=False)
class CameraModel:
    """Intrinsics of one camera, field for field as sensor_msgs/CameraInfo.

    Attributes:
        width: image width in pixels.
        height: image height in pixels.
        distortion_model: ``plumb_bob``, ``rational_polynomial`` or ``equidistant``
            (an empty string when uncalibrated).
        K: (3, 3) float64 intrinsic matrix of the raw image, pixels.
        D: (N,) float64 distortion coefficients.
        R: (3, 3) float64 rectification rotation (identity for a mono camera).
        P: (3, 4) float64 projection matrix of the rectified image; ``P[0, 3] = -fx * B``
            for the right camera of a stereo pair with baseline ``B`` metres.
        binning_x: horizontal binning (0 and 1 both mean none).
        binning_y: vertical binning.
        roi: region of interest.
    """

    width: int
    height: int
    distortion_model: str
    K: npt.NDArray[np.float64]
    D: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    R: npt.NDArray[np.float64] = field(default_factory=lambda: np.eye(3))
    P: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((3, 4)))
    binning_x: int = 0
    binning_y: int = 0
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", _mat(self.K, (3, 3), "K"))
        object.__setattr__(self, "D", np.asarray(self.D, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "R", _mat(self.R, (3, 3), "R"))
        object.__setattr__(self, "P", _mat(self.P, (3, 4), "P"))

    @property
    def is_calibrated(self) -> bool:
        """True when K is a usable intrinsic matrix (ROS: ``K[0] != 0``)."""
        return bool(np.isfinite(self.K).all() and self.K[0, 0] > 0 and self.K[1, 1] > 0)

    @property
    def baseline_m(self) -> float:
        """Stereo baseline from P (``-P[0, 3] / P[0, 0]``), 0 for a left or mono camera."""
        if self.P[0, 0] == 0:
            return 0.0
        return float(-self.P[0, 3] / self.P[0, 0])

    def validate(self) -> list[str]:
        """Problems that make this model unusable, empty when it is fine."""
        problems: list[str] = []
        if self.width <= 0 or self.height <= 0:
            problems.append(f"image size must be positive, got {self.width}x{self.height}")
        for name in ("K", "D", "R", "P"):
            if not np.isfinite(getattr(self, name)).all():
                problems.append(f"{name} has NaN or Inf")
        if not self.is_calibrated:
            problems.append(f"K has fx={self.K[0, 0]}, fy={self.K[1, 1]}; expected > 0")
        expected = DISTORTION_MODELS.get(self.distortion_model)
        if expected is None and self.distortion_model:
            problems.append(
                f"distortion_model {self.distortion_model!r} unknown; expected one of "
                f"{sorted(DISTORTION_MODELS)}"
            )
        elif expected is not None and self.D.size not in expected and self.D.size != 0:
            problems.append(
                f"{self.distortion_model} needs {' or '.join(map(str, expected))} "
                f"coefficients, got {self.D.size}"
            )
        return problems

    def allclose(self, other: CameraModel, atol: float = 0.0) -> bool:
        """Field-by-field equality (arrays within ``atol``)."""
        return (
            self.width == other.width
            and self.height == other.height
            and self.distortion_model == other.distortion_model
            and self.D.shape == other.D.shape
            and all(
                np.allclose(getattr(self, n), getattr(other, n), atol=atol, rtol=0)
                for n in ("K", "D", "R", "P")
            )
            and self.binning_x == other.binning_x
            and self.binning_y == other.binning_y
            and self.roi == other.roi
        )
