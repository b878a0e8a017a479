"""Undistortion and rectification maps: built, cached, applied with ``cv2.remap``.

The maps are built the way ``image_geometry.PinholeCameraModel`` builds them for
image_proc and stereo_image_proc: ``cv2.initUndistortRectifyMap`` (or
``cv2.fisheye.initUndistortRectifyMap`` for ``equidistant``) with the camera's K, D, the
rectification rotation R and the first three columns of the projection P as the new
camera matrix, at the binned resolution, then cropped to the region of interest. They are
converted once to OpenCV's fixed-point format (``CV_16SC2`` + interpolation table), the
fast path of ``cv2.remap``, and kept until the camera model changes (``MapCache``).

Pixel coordinates are ``uv`` (x = column, y = row); images are (H, W) or (H, W, C).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, cast

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel
from percept.rectify.model import (
    binning,
    check_rectifiable,
    expected_image_size,
    has_roi,
    rectified_model,
)

__all__ = [
    "INTERPOLATIONS",
    "MapCache",
    "Rectifier",
    "RectifyMaps",
    "compute_rectify_maps",
    "model_key",
    "optimal_projection",
    "rectify_image",
]

logger = logging.getLogger(__name__)

#: image_proc's ``interpolation`` values are OpenCV's flags: 0 nearest, 1 linear,
#: 2 cubic, 3 area (``cv2.remap`` does linear for it), 4 lanczos4.
INTERPOLATIONS: tuple[int, ...] = (
    cv2.INTER_NEAREST,
    cv2.INTER_LINEAR,
    cv2.INTER_CUBIC,
    cv2.INTER_AREA,
    cv2.INTER_LANCZOS4,
)
_PINHOLE = ("plumb_bob", "rational_polynomial")
# Points undistorted along the image border to find the valid and the full region:
# one every few pixels is far denser than OpenCV's 9 x 9 grid.
_BORDER_STEP_PX = 4
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
# cv2.remap supports these element types.
_REMAP_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)

_ModelKey = tuple[object, ...]
_M = TypeVar("_M")


@dataclass(frozen=True, slots=True, eq=False)
class RectifyMaps:
    """Fixed-point remap tables of one camera, and what they produce.

    Attributes:
        map1: (H, W, 2) int16 source pixel (x, y) of every output pixel (``CV_16SC2``),
            rounded to the nearest pixel for nearest-neighbour maps, else the integer
            part; H, W are the output image size (binned, region of interest).
        map2: (H, W) uint16 index into OpenCV's sub-pixel interpolation table, None for
            nearest-neighbour maps; None with ``map1`` too when ``identity``.
        interpolation: the OpenCV interpolation flag these maps are for.
        source: the raw camera model the maps were computed from.
        rectified: camera model of the rectified image (:func:`rectified_model`).
        valid_roi: (x, y, width, height) of the largest axis-aligned rectangle of the
            output image whose pixels all come from inside the raw image, pixels.
        identity: True when rectification does nothing (pinhole model with D = 0,
            R = I and P[:3, :3] = K): images pass through unchanged.
    """

    map1: npt.NDArray[np.int16] | None
    map2: npt.NDArray[np.uint16] | None
    interpolation: int
    source: CameraModel
    rectified: CameraModel
    valid_roi: tuple[int, int, int, int]
    identity: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the images these maps take and give, pixels."""
        return expected_image_size(self.source)


def _is_identity(model: CameraModel) -> bool:
    return (
        model.distortion_model in _PINHOLE
        and not model.D.any()
        and bool(np.array_equal(model.R, np.eye(3)))
        and bool(np.array_equal(model.P[:, :3], model.K))
    )


def _binned(model: CameraModel) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """K and P at the binned resolution, as image_geometry scales them."""
    bx, by = binning(model)
    scale = np.diag([1.0 / bx, 1.0 / by, 1.0])
    return scale @ model.K, scale @ model.P


def _undistort(
    model: CameraModel,
    K: npt.NDArray[np.float64],
    pixels_uv: npt.NDArray[np.float64],
    P3: npt.NDArray[np.float64] | None,
) -> npt.NDArray[np.float64]:
    """Raw pixels -> rectified pixels (P3 given) or normalised coordinates after R."""
    pts = np.ascontiguousarray(pixels_uv, dtype=np.float64).reshape(-1, 1, 2)
    if model.distortion_model == "equidistant":
        out = cv2.fisheye.undistortPoints(
            pts, K, model.D, R=model.R, P=P3, criteria=_UNDISTORT_CRITERIA
        )
    else:
        if hasattr(cv2, "undistortPointsIter"):
            # OpenCV up to 4.11 (what pip picks beside numpy 1.x, e.g. ROS 2 Humble on
            # Ubuntu 22.04) takes the criteria only in this separate function.
            P_iter = np.eye(3) if P3 is None else P3
            out = cv2.undistortPointsIter(pts, K, model.D, model.R, P_iter, _UNDISTORT_CRITERIA)
        else:
            out = cv2.undistortPoints(
                pts, K, model.D, R=model.R, P=P3, criteria=_UNDISTORT_CRITERIA
            )
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _border_points(
    x0: float, y0: float, width: int, height: int
) -> tuple[npt.NDArray[np.float64], ...]:
    """Pixel centres along the left, right, top and bottom edges of a window, (N, 2) each."""
    xs = np.unique(np.append(np.arange(0, width, _BORDER_STEP_PX), width - 1)) + x0
    ys = np.unique(np.append(np.arange(0, height, _BORDER_STEP_PX), height - 1)) + y0
    x1, y1 = x0 + width - 1, y0 + height - 1
    left = np.stack([np.full_like(ys, x0), ys], axis=1)
    right = np.stack([np.full_like(ys, x1), ys], axis=1)
    top = np.stack([xs, np.full_like(xs, y0)], axis=1)
    bottom = np.stack([xs, np.full_like(xs, y1)], axis=1)
    return left, right, top, bottom


def _rectangles(
    model: CameraModel,
    K: npt.NDArray[np.float64],
    window: tuple[float, float, int, int],
    P3: npt.NDArray[np.float64] | None,
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """Inner and outer (x0, y0, x1, y1) rectangles of a raw window's undistorted image.

    The inner rectangle holds only points that come from inside the window, the outer
    one every such point (OpenCV's ``icvGetRectangles``, on a denser border).
    """
    edges = [_undistort(model, K, pts, P3) for pts in _border_points(*window)]
    left, right, top, bottom = edges
    every = np.concatenate(edges)
    every = every[np.isfinite(every).all(axis=1)]
    if every.size == 0:
        msg = "no border pixel of the image undistorts to a finite point"
        raise CalibrationError(msg)
    inner = (
        float(np.nanmax(left[:, 0])),
        float(np.nanmax(top[:, 1])),
        float(np.nanmin(right[:, 0])),
        float(np.nanmin(bottom[:, 1])),
    )
    outer = (
        float(every[:, 0].min()),
        float(every[:, 1].min()),
        float(every[:, 0].max()),
        float(every[:, 1].max()),
    )
    return inner, outer


def optimal_projection(model: CameraModel, alpha: float) -> npt.NDArray[np.float64]:
    """A projection P for ``model`` that keeps only valid pixels (0) or all pixels (1).

    ``cv2.getOptimalNewCameraMatrix`` for every distortion model and with the camera's
    rectification rotation R: ``alpha = 0`` maps the largest rectangle of valid pixels
    onto the whole image, ``alpha = 1`` maps the whole raw image into the rectified one
    (black corners), values between interpolate. P's last column is carried over in the
    new camera's units.

    Args:
        model: the raw camera model (full resolution; binning and ROI are ignored).
        alpha: free scaling parameter, 0..1.

    Returns:
        (3, 4) float64 projection matrix.

    Raises:
        ValueError: alpha outside 0..1.
        CalibrationError: the model is not rectifiable (:func:`check_rectifiable`).
    """
    if not 0.0 <= alpha <= 1.0:
        msg = f"alpha must be within 0..1, got {alpha}"
        raise ValueError(msg)
    check_rectifiable(model)
    w, h = model.width, model.height
    inner, outer = _rectangles(model, model.K, (0.0, 0.0, w, h), None)
    new_K = np.eye(3)
    for axis, size in ((0, w), (1, h)):
        f_in = (size - 1) / (inner[axis + 2] - inner[axis])
        f_out = (size - 1) / (outer[axis + 2] - outer[axis])
        c_in, c_out = -f_in * inner[axis], -f_out * outer[axis]
        new_K[axis, axis] = (1.0 - alpha) * f_in + alpha * f_out
        new_K[axis, 2] = (1.0 - alpha) * c_in + alpha * c_out
    P = np.zeros((3, 4))
    P[:, :3] = new_K
    P[:, 3] = new_K @ np.linalg.solve(model.P[:, :3], model.P[:, 3])
    return P


def compute_rectify_maps(
    model: CameraModel,
    *,
    interpolation: int = cv2.INTER_LINEAR,
    P: npt.ArrayLike | None = None,
) -> RectifyMaps:
    """Fixed-point rectification maps for one camera, as image_geometry computes them.

    Maps are computed at the binned resolution with K and P scaled by the binning,
    then cropped to the region of interest (the rectified image of a region is the same
    window of the full rectified image, as image_geometry does).

    Args:
        model: the raw camera model (R and P as calibration wrote them).
        interpolation: OpenCV flag the maps will be used with; nearest-neighbour maps
            round to the nearest source pixel and have no interpolation table.
        P: (3, 4) float64 projection to rectify to instead of ``model.P``.

    Returns:
        The maps, the rectified model and the valid region.

    Raises:
        CalibrationError: the model is not rectifiable (:func:`check_rectifiable`).
        ValueError: unknown interpolation flag.
    """
    if interpolation not in INTERPOLATIONS:
        msg = f"interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation}"
        raise ValueError(msg)
    if P is not None:
        model = replace(model, P=np.asarray(P, dtype=np.float64).reshape(3, 4))
    check_rectifiable(model)
    rectified = rectified_model(model)
    out_w, out_h = expected_image_size(model)
    if _is_identity(model):
        return RectifyMaps(None, None, interpolation, model, rectified, (0, 0, out_w, out_h), True)
    bx, by = binning(model)
    K_b, P_b = _binned(model)
    full_size = (model.width // bx, model.height // by)
    P3 = np.ascontiguousarray(P_b[:, :3])
    if model.distortion_model == "equidistant":
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(
            K_b, model.D, model.R, P3, full_size, cv2.CV_32FC1
        )
    else:
        map_x, map_y = cv2.initUndistortRectifyMap(
            K_b, model.D, model.R, P3, full_size, cv2.CV_32FC1
        )
    rx, ry = model.roi.x_offset // bx, model.roi.y_offset // by
    if has_roi(model):
        # The output window's pixels sample the same window of the raw sensor image.
        map_x = map_x[ry : ry + out_h, rx : rx + out_w] - np.float32(rx)
        map_y = map_y[ry : ry + out_h, rx : rx + out_w] - np.float32(ry)
    nearest = interpolation == cv2.INTER_NEAREST
    map1, map2 = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2, nninterpolation=nearest)
    inner, _ = _rectangles(model, K_b, (float(rx), float(ry), out_w, out_h), P3)
    x0 = max(math.ceil(inner[0] - rx), 0)
    y0 = max(math.ceil(inner[1] - ry), 0)
    x1 = min(math.floor(inner[2] - rx), out_w - 1)
    y1 = min(math.floor(inner[3] - ry), out_h - 1)
    valid_roi = (x0, y0, max(x1 - x0 + 1, 0), max(y1 - y0 + 1, 0))
    logger.debug(
        "rectification maps %dx%d (%s, interpolation %d), valid %s",
        out_w,
        out_h,
        model.distortion_model,
        interpolation,
        valid_roi,
    )
    return RectifyMaps(
        cast("npt.NDArray[np.int16]", map1),
        None if nearest else cast("npt.NDArray[np.uint16]", map2),
        interpolation,
        model,
        rectified,
        valid_roi,
        False,
    )


def rectify_image(image: npt.NDArray[np.generic], maps: RectifyMaps) -> npt.NDArray[np.generic]:
    """Rectify one image with precomputed maps (one ``cv2.remap`` into a new array).

    Pixels that come from outside the raw image are 0, NaN for float images (as
    image_geometry fills them).

    Args:
        image: (H, W) or (H, W, C) raw image, C <= 4, uint8 / uint16 / int16 / float32 /
            float64 (mono or colour; channel order is kept). May be read-only.
        maps: from :func:`compute_rectify_maps` for this camera.

    Returns:
        The rectified image, same shape and dtype. With identity maps the input array
        itself, not a copy (treat both as read-only).

    Raises:
        ValueError: the image size differs from the maps' or its dtype cannot be
            remapped.
    """
    width, height = maps.size
    if image.shape[:2] != (height, width):
        msg = (
            f"image is {image.shape[1] if image.ndim > 1 else 0}x{image.shape[0]} but the "
            f"camera model gives {width}x{height} (size, binning, roi)"
        )
        raise ValueError(msg)
    if image.dtype.type not in _REMAP_DTYPES or (image.ndim == 3 and image.shape[2] > 4):
        msg = f"cannot rectify {image.dtype} images with shape {image.shape}"
        raise ValueError(msg)
    if maps.identity:
        return image
    assert maps.map1 is not None
    border = math.nan if image.dtype.kind == "f" else 0
    # The stubs want an array for map2; None is what OpenCV takes for "no table".
    out: npt.NDArray[np.generic] = cv2.remap(
        cast("Any", image),
        maps.map1,
        cast("Any", maps.map2),
        maps.interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    return out


def model_key(model: CameraModel) -> _ModelKey:
    """Every field of ``model`` as a hashable key: equal keys, equal maps."""
    return (
        model.width,
        model.height,
        model.distortion_model,
        model.K.tobytes(),
        model.D.tobytes(),
        model.R.tobytes(),
        model.P.tobytes(),
        model.binning_x,
        model.binning_y,
        model.roi,
    )


class MapCache(Generic[_M]):
    """Rectifier options and the maps of the last camera model(s), kept by their key.

    Args:
        interpolation: OpenCV interpolation flag (:data:`INTERPOLATIONS`).
        alpha: None, or 0..1 (see the rectifiers).

    Raises:
        ValueError: unknown interpolation or alpha outside 0..1.
    """

    def __init__(
        self, *, interpolation: int = cv2.INTER_LINEAR, alpha: float | None = None
    ) -> None:
        """Create a rectifier with an empty cache."""
        if interpolation not in INTERPOLATIONS:
            msg = f"interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation}"
            raise ValueError(msg)
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            msg = f"alpha must be None or within 0..1, got {alpha}"
            raise ValueError(msg)
        self.interpolation = interpolation
        self.alpha = alpha
        #: how many times maps were computed (a camera model change each after the first).
        self.computed = 0
        self._key: object = None
        self._maps: _M | None = None

    def _cached(self, key: object, compute: Callable[[], _M]) -> _M:
        """The kept maps when ``key`` is the last one, else ``compute()``, then kept."""
        if self._maps is None or key != self._key:
            self._maps = compute()
            self._key = key
            self.computed += 1
        return self._maps


class Rectifier(MapCache[RectifyMaps]):
    """Rectifies images of one camera, computing its maps only when the model changes.

    Args:
        interpolation: OpenCV interpolation flag (:data:`INTERPOLATIONS`).
        alpha: None to rectify to the camera_info's P (image_proc); 0..1 to rectify to
            :func:`optimal_projection` instead (0 valid pixels only, 1 all pixels).

    Raises:
        ValueError: unknown interpolation or alpha outside 0..1.
    """

    def maps(self, model: CameraModel) -> RectifyMaps:
        """The maps for ``model``: cached unless the model differs from the last one.

        Raises:
            CalibrationError: the model is not rectifiable.
        """

        def compute() -> RectifyMaps:
            P = None if self.alpha is None else optimal_projection(model, self.alpha)
            return compute_rectify_maps(model, interpolation=self.interpolation, P=P)

        return self._cached(model_key(model), compute)

    def rectify(
        self, image: npt.NDArray[np.generic], model: CameraModel
    ) -> tuple[npt.NDArray[np.generic], CameraModel]:
        """Rectify one image of the camera ``model`` describes.

        Args:
            image: (H, W) or (H, W, C) raw image (see :func:`rectify_image`).
            model: its camera model.

        Returns:
            (rectified image, rectified camera model).

        Raises:
            CalibrationError: the model is not rectifiable.
            ValueError: the image does not fit the model or cannot be remapped.
        """
        maps = self.maps(model)
        return rectify_image(image, maps), maps.rectified
