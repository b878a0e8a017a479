"""Pre-processing for YOLO-family detectors: letterbox, colour order, NCHW tensors.

The letterbox is Ultralytics' (``ultralytics/data/augment.py`` ``LetterBox`` with
``auto=False, center=True``): scale by ``r = min(H_in / h, W_in / w)``, resize to
``(max(round(w r), 1), max(round(h r), 1))`` with bilinear interpolation, pad to the
network size with grey 114, the padding split as ``round(d - 0.1)`` before and
``round(d + 0.1)`` after. Boxes map back per axis by the scale the resize really applied,
``(x - pad_x) / (w' / w)`` and ``(y - pad_y) / (h' / h)`` for a resized size w' x h'
(Ultralytics 8.4 ``scale_boxes``; ``/ r`` alone is off by up to half a network pixel
at the far edge of a side whose ``h r`` was rounded). Normalisation is
``/ 255`` into RGB, NCHW float32 (float16 for half-precision models); several cameras
are stacked into one batch by ``cv2.dnn.blobFromImages`` (one C++ pass, no per-pixel
Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import Image
from percept.errors import CodecError, InputRejected
from percept.image import convert_image

__all__ = [
    "PAD_VALUE",
    "Letterbox",
    "letterbox",
    "make_batch",
    "rgb_or_bgr",
    "scale_boxes",
]

#: Grey of the padding, as Ultralytics (and YOLOv5's ``letterbox``) use.
PAD_VALUE = 114

# Encodings decoded to 8-bit colour by ``rgb_or_bgr``: the named colour/mono ones, Bayer
# and YUV 4:2:2. Float, signed and generic encodings carry no colour meaning.
_DIRECT = {"bgr8": True, "rgb8": False}
_CONVERTIBLE = (
    "mono8",
    "mono16",
    "rgb16",
    "bgr16",
    "rgba8",
    "bgra8",
    "rgba16",
    "bgra16",
    "uyvy",
    "yuv422",
    "yuyv",
    "yuv422_yuy2",
)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How one image was placed into the network input.

    Attributes:
        scale: resize factor r (network pixels per image pixel).
        pad_x: columns of padding on the left, network pixels.
        pad_y: rows of padding on top, network pixels.
        image_width: width of the original image, pixels.
        image_height: height of the original image, pixels.
        resized_width: width of the resized image inside the padding, network pixels.
        resized_height: height of the resized image inside the padding, network pixels.
    """

    scale: float
    pad_x: int
    pad_y: int
    image_width: int
    image_height: int
    resized_width: int
    resized_height: int

    @property
    def scale_x(self) -> float:
        """Horizontal resize factor the image really got (``resized_width / image_width``)."""
        return self.resized_width / self.image_width

    @property
    def scale_y(self) -> float:
        """Vertical resize factor the image really got (``resized_height / image_height``)."""
        return self.resized_height / self.image_height


def letterbox(
    image: npt.NDArray[np.uint8], width: int, height: int, *, stretch: bool = False
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Resize keeping the aspect ratio and pad to ``width`` x ``height`` with grey 114.

    Args:
        image: (H, W, 3) uint8 image, any channel order (kept).
        width: network input width, pixels.
        height: network input height, pixels.
        stretch: resize to ``width`` x ``height`` exactly, no padding (Ultralytics'
            ``scale_fill``, how its RT-DETR predictor feeds images).

    Returns:
        ((height, width, 3) uint8 image, the placement). An image of the network size
        is returned as it is (no copy).

    Raises:
        ValueError: empty image or non-positive size.

    >>> out, lb = letterbox(np.zeros((480, 640, 3), np.uint8), 640, 640)
    >>> out.shape, lb.scale, lb.pad_x, lb.pad_y
    ((640, 640, 3), 1.0, 0, 80)
    """
    h, w = image.shape[:2]
    if h == 0 or w == 0 or width <= 0 or height <= 0:
        msg = f"letterbox: image {w}x{h} into {width}x{height}: sizes must be > 0"
        raise ValueError(msg)
    r = min(height / h, width / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    if stretch:
        new_w, new_h = width, height
    dw, dh = (width - new_w) / 2, (height - new_h) / 2
    left, top = round(dw - 0.1), round(dh - 0.1)
    right, bottom = round(dw + 0.1), round(dh + 0.1)
    placed = Letterbox(r, left, top, w, h, new_w, new_h)
    if (new_w, new_h) == (w, h) and (w, h) == (width, height):
        return image, placed
    resized = image
    if (new_w, new_h) != (w, h):
        resized = np.asarray(cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR))
    padded = cv2.copyMakeBorder(
        resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    return np.asarray(padded, dtype=np.uint8), placed


def scale_boxes(boxes_xyxy: npt.NDArray[np.float32], placed: Letterbox) -> npt.NDArray[np.float32]:
    """Map boxes from network pixels back to the original image, clipped to it.

    Args:
        boxes_xyxy: (N, 4) float32 ``[x1, y1, x2, y2]`` in network-input pixels.
        placed: the letterbox of the image.

    Returns:
        (N, 4) float32 boxes in image pixels (x = column, y = row), inside the image.
    """
    out = np.empty_like(boxes_xyxy, dtype=np.float32)
    out[:, 0::2] = (boxes_xyxy[:, 0::2] - placed.pad_x) / np.float32(placed.scale_x)
    out[:, 1::2] = (boxes_xyxy[:, 1::2] - placed.pad_y) / np.float32(placed.scale_y)
    np.clip(out[:, 0::2], 0, placed.image_width, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, placed.image_height, out=out[:, 1::2])
    return out


def rgb_or_bgr(image: Image) -> tuple[npt.NDArray[np.uint8], bool]:
    """The 8-bit colour pixels of a decoded image and whether they are BGR.

    ``bgr8`` and ``rgb8`` pass through without a copy; mono, 16-bit, 4-channel, Bayer
    and YUV 4:2:2 images are converted to ``rgb8`` (as cv_bridge would).

    Args:
        image: a decoded sensor_msgs/Image.

    Returns:
        ((H, W, 3) uint8, True when the channel order is BGR).

    Raises:
        InputRejected: empty image, or an encoding without colour meaning (float,
            signed, generic ``8UC3``...).
    """
    if image.width == 0 or image.height == 0:
        msg = f"empty image {image.width}x{image.height}"
        raise InputRejected(msg)
    encoding = image.encoding
    if encoding in _DIRECT:
        return np.asarray(image.data, dtype=np.uint8), _DIRECT[encoding]
    if encoding in _CONVERTIBLE or encoding.startswith("bayer_"):
        try:
            converted = convert_image(image, "rgb8")
        except CodecError as err:
            msg = f"cannot convert {encoding} to rgb8: {err}"
            raise InputRejected(msg) from err
        return np.asarray(converted.data, dtype=np.uint8), False
    msg = (
        f"unsupported image encoding {encoding!r} for detection; expected bgr8, rgb8, "
        "mono8/16, rgba8/bgra8, 16-bit colour, bayer_* or YUV 4:2:2"
    )
    raise InputRejected(msg)


def make_batch(
    images: Sequence[npt.NDArray[np.uint8]],
    is_bgr: Sequence[bool],
    width: int,
    height: int,
    dtype: type[np.float32] | type[np.float16] = np.float32,
    *,
    stretch: bool = False,
) -> tuple[npt.NDArray[np.float32] | npt.NDArray[np.float16], list[Letterbox]]:
    """Letterbox several images and stack them into one normalised RGB NCHW tensor.

    Args:
        images: (H_i, W_i, 3) uint8 images (sizes may differ).
        is_bgr: per image, True for BGR channel order, False for RGB.
        width: network input width, pixels.
        height: network input height, pixels.
        dtype: np.float32 or np.float16 (the model's input type).
        stretch: resize without keeping the aspect ratio (see :func:`letterbox`).

    Returns:
        ((B, 3, height, width) RGB tensor in [0, 1], one Letterbox per image).

    Raises:
        ValueError: no images, or lengths that differ.
    """
    if not images or len(images) != len(is_bgr):
        msg = f"make_batch: {len(images)} images and {len(is_bgr)} colour orders"
        raise ValueError(msg)
    boxed: list[npt.NDArray[np.uint8]] = []
    placements: list[Letterbox] = []
    for image in images:
        out, placed = letterbox(image, width, height, stretch=stretch)
        boxed.append(out)
        placements.append(placed)
    if all(is_bgr) or not any(is_bgr):
        blob = cv2.dnn.blobFromImages(boxed, 1.0 / 255.0, swapRB=bool(is_bgr[0]))
    else:  # mixed colour orders: one blob each, swapped as needed, then stacked
        blob = np.concatenate(
            [
                cv2.dnn.blobFromImage(img, 1.0 / 255.0, swapRB=bool(bgr))
                for img, bgr in zip(boxed, is_bgr, strict=True)
            ]
        )
    tensor = np.asarray(blob, dtype=np.float32)
    if dtype is np.float16:
        return tensor.astype(np.float16), placements
    return tensor, placements
