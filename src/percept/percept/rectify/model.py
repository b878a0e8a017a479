"""Camera models before and after rectification: image size, checks, rectified model.

A rectified image is a pinhole image whose camera_info is ``K = P[:3, :3]``, ``D = 0``,
``R = I`` and the same P (:func:`rectified_model`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from percept.errors import CalibrationError
from percept.geometry.camera import DISTORTION_MODELS, CameraModel

__all__ = ["binning", "check_rectifiable", "expected_image_size", "has_roi", "rectified_model"]


def binning(model: CameraModel) -> tuple[int, int]:
    """(x, y) binning factors; sensor_msgs/CameraInfo's 0 and 1 both mean none."""
    return max(model.binning_x, 1), max(model.binning_y, 1)


def has_roi(model: CameraModel) -> bool:
    """True when the camera_info's region of interest is not the full image."""
    roi = model.roi
    return bool(
        roi.x_offset
        or roi.y_offset
        or (roi.width and roi.width != model.width)
        or (roi.height and roi.height != model.height)
    )


def expected_image_size(model: CameraModel) -> tuple[int, int]:
    """(width, height) of the raw images a camera_info describes, pixels.

    The region of interest when one is set, else the full resolution, divided by the
    binning, as image_geometry computes it.

    >>> import numpy as np
    >>> expected_image_size(CameraModel(640, 480, "plumb_bob", np.eye(3), binning_x=2))
    (320, 480)
    """
    bx, by = binning(model)
    if has_roi(model):
        width = model.roi.width or model.width
        height = model.roi.height or model.height
    else:
        width, height = model.width, model.height
    return width // bx, height // by


def check_rectifiable(model: CameraModel) -> None:
    """Raise unless ``model`` is a calibration that images can be rectified with.

    Args:
        model: the camera_info's model.

    Raises:
        CalibrationError: naming the camera_info field: a size that is not positive,
            NaN/Inf in K, D, R or P, fx or fy not > 0, an empty or unsupported
            distortion_model, D empty or of the wrong length, P[:3, :3] not a camera
            matrix, or a region of interest outside the image.
    """
    if model.width <= 0 or model.height <= 0:
        msg = f"width x height must be positive, got {model.width}x{model.height}"
        raise CalibrationError(msg)
    for name in ("K", "D", "R", "P"):
        if not np.isfinite(getattr(model, name)).all():
            msg = f"{name} has NaN or Inf: {getattr(model, name).ravel().tolist()}"
            raise CalibrationError(msg)
    if not (model.K[0, 0] > 0 and model.K[1, 1] > 0 and model.K[2, 2] != 0):
        msg = (
            f"K is not a calibration (fx={model.K[0, 0]}, fy={model.K[1, 1]}, "
            f"K[2][2]={model.K[2, 2]}); expected fx, fy > 0 (uncalibrated camera?)"
        )
        raise CalibrationError(msg)
    if not model.distortion_model:
        msg = (
            "distortion_model is empty (uncalibrated camera); expected one of "
            f"{sorted(DISTORTION_MODELS)}"
        )
        raise CalibrationError(msg)
    counts = DISTORTION_MODELS.get(model.distortion_model)
    if counts is None:
        msg = (
            f"distortion_model {model.distortion_model!r} is not supported; expected one "
            f"of {sorted(DISTORTION_MODELS)}"
        )
        raise CalibrationError(msg)
    if model.D.size not in counts:
        need = " or ".join(map(str, counts))
        what = "is empty (missing distortion)" if model.D.size == 0 else "has"
        got = "" if model.D.size == 0 else f" {model.D.size} coefficients"
        msg = f"D {what}{got}; {model.distortion_model} needs {need} coefficients"
        raise CalibrationError(msg)
    if not (model.P[0, 0] > 0 and model.P[1, 1] > 0 and model.P[2, 2] != 0):
        msg = (
            f"P is not a projection (P[0][0]={model.P[0, 0]}, P[1][1]={model.P[1, 1]}, "
            f"P[2][2]={model.P[2, 2]}); expected the rectified camera matrix in P[:3, :3] "
            "(a mono camera has P = [K | 0])"
        )
        raise CalibrationError(msg)
    roi = model.roi
    if has_roi(model) and (
        roi.x_offset + (roi.width or model.width) > model.width
        or roi.y_offset + (roi.height or model.height) > model.height
    ):
        msg = (
            f"roi {roi.width}x{roi.height}+{roi.x_offset}+{roi.y_offset} lies outside "
            f"the {model.width}x{model.height} image"
        )
        raise CalibrationError(msg)


def rectified_model(model: CameraModel, P: npt.ArrayLike | None = None) -> CameraModel:
    """The camera_info of images rectified with ``model``: K = P[:3, :3], D = 0, R = I.

    P, size, binning and region of interest stay as they are, as image_proc and
    stereo_image_proc leave them. The distortion model is kept with all coefficients
    zero, except ``equidistant``, which becomes ``plumb_bob``: a rectified fisheye
    image is a pinhole image, and an equidistant model with D = 0 is not the identity.

    Args:
        model: the raw camera model.
        P: (3, 4) float64 projection to use instead of ``model.P``.

    Returns:
        The rectified camera model.
    """
    new_P = model.P if P is None else np.asarray(P, dtype=np.float64).reshape(3, 4)
    if model.distortion_model == "equidistant":
        name, n_coeffs = "plumb_bob", 5
    else:
        name, n_coeffs = model.distortion_model, model.D.size
    return replace(
        model,
        distortion_model=name,
        K=new_P[:, :3].copy(),
        D=np.zeros(n_coeffs),
        R=np.eye(3),
        P=new_P.copy(),
    )
