"""What the camera nodes share: image/camera_info synchronisation and their checks.

The single-camera nodes (rectify, resize) pair an image with its camera_info by exact
stamp; the stereo nodes (stereo_rectify, stereo_depth) synchronise left and right
images and camera_infos with stereo_image_proc's parameters. Both reject images that
do not fit their camera_info, naming the inputs.
"""

from __future__ import annotations

from percept.domain import Image
from percept.errors import InputRejected
from percept.node import Parameter, Sync

__all__ = [
    "check_image_size",
    "image_info_queue_param",
    "image_info_sync",
    "reject_bayer",
    "stereo_sync",
    "stereo_sync_params",
]


def image_info_sync() -> Sync:
    """``on_image_info(image, camera_info)`` with exact stamps (image_transport's policy)."""
    return Sync(
        ("image", "camera_info"),
        "on_image_info",
        approximate=False,
        queue_size=5,
        queue_size_param="queue_size",
    )


def image_info_queue_param() -> Parameter:
    """The ``queue_size`` parameter of :func:`image_info_sync`."""
    return Parameter(
        "queue_size",
        "integer",
        5,
        "image/camera_info pairs kept waiting",
        min_value=1,
        max_value=1000,
    )


def stereo_sync() -> Sync:
    """``on_stereo(left_image, left_info, right_image, right_info)``, as stereo_image_proc.

    Exact stamps unless ``approximate_sync`` (see :func:`stereo_sync_params`).
    """
    return Sync(
        ("left_image", "left_camera_info", "right_image", "right_camera_info"),
        "on_stereo",
        approximate=False,
        slop_s=0.01,
        queue_size=5,
        approximate_param="approximate_sync",
        slop_param="approximate_sync_tolerance_seconds",
        queue_size_param="queue_size",
    )


def stereo_sync_params(matched: str) -> tuple[Parameter, Parameter, Parameter]:
    """The synchronisation parameters of :func:`stereo_sync`.

    Args:
        matched: what is matched by stamp, in the ``approximate_sync`` description.
    """
    return (
        Parameter(
            "approximate_sync",
            "bool",
            False,
            f"approximate (true) or exact (false) stamp matching of {matched}",
        ),
        Parameter(
            "approximate_sync_tolerance_seconds",
            "double",
            0.01,
            "largest stamp spread of a synchronised set, seconds (approximate_sync only)",
            min_value=1e-6,
            max_value=10.0,
        ),
        Parameter(
            "queue_size",
            "integer",
            5,
            "messages kept per input while waiting",
            min_value=1,
            max_value=1000,
        ),
    )


def reject_bayer(image: Image, where: str, advice: str) -> None:
    """Reject a Bayer mosaic, naming the input and what to do instead.

    Raises:
        InputRejected: the image's encoding is ``bayer_*``.
    """
    if image.encoding.startswith("bayer_"):
        msg = f"{where}: encoding {image.encoding} is a Bayer mosaic; {advice}"
        raise InputRejected(msg)


def check_image_size(
    image: Image, size: tuple[int, int], where: str, info_where: str, note: str = ""
) -> None:
    """Reject an image whose size is not the ``size`` its camera_info gives.

    Args:
        image: the image.
        size: (width, height) the camera_info says.
        where: the image input, in the message.
        info_where: the camera_info input, in the message.
        note: appended to the camera_info's size in the message.

    Raises:
        InputRejected: the sizes differ.
    """
    if (image.width, image.height) != size:
        msg = (
            f"{where} is {image.width}x{image.height} but {info_where} says "
            f"{size[0]}x{size[1]}{note}"
        )
        raise InputRejected(msg)
