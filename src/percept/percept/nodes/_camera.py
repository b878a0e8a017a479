"""What the camera nodes share: image/camera_info synchronisation and their checks.

The single-camera nodes (rectify, resize) pair an image with its camera_info by exact
stamp; the stereo nodes (stereo_rectify, stereo_depth) synchronise left and right
images and camera_infos with stereo_image_proc's parameters. Both reject images that
do not fit their camera_info, naming the inputs. A node that keeps only the newest
image counts the frames it skipped with a :class:`FrameDropCounter`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from percept.domain import Image
from percept.errors import InputRejected
from percept.node import Parameter, Sync

__all__ = [
    "FrameDropCounter",
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


class FrameDropCounter:
    """Frames the camera sent that a newest-frame-wins node never processed.

    The camera publishes a camera_info with every frame, on a deep queue, while the
    image input keeps only the newest frame: a camera_info stamp whose image is never
    processed is a dropped frame.

    Args:
        window: processed frames (and camera_info stamps) the recent figures cover.

    Attributes:
        dropped: frames dropped since start-up.
    """

    def __init__(self, window: int) -> None:
        self.dropped = 0
        self._pending: set[int] = set()
        self._processed: deque[int] = deque(maxlen=200)
        self._drops_before: deque[int] = deque(maxlen=window)
        self._info_stamps: deque[int] = deque(maxlen=window)

    @property
    def recent_dropped(self) -> int:
        """Frames dropped before the last ``window`` processed frames."""
        return sum(self._drops_before)

    @property
    def recent_processed(self) -> int:
        """Processed frames the recent figures cover (at most ``window``)."""
        return len(self._drops_before)

    def saw_info(self, stamp_ns: int) -> None:
        """Count a camera_info: the camera sent a frame with this stamp."""
        self._info_stamps.append(stamp_ns)
        if stamp_ns in self._processed:
            return
        if self._processed and stamp_ns < self._processed[-1]:
            self.dropped += 1  # its image was skipped before this info arrived
            return
        self._pending.add(stamp_ns)
        if len(self._pending) > 1000:  # images never come (wrong remap): stay bounded
            self._pending = set(sorted(self._pending)[-100:])

    def processed_image(self, stamp_ns: int) -> None:
        """Count a processed image; the pending older frames were dropped."""
        skipped = [s for s in self._pending if s < stamp_ns]
        self._pending.difference_update(skipped)
        self._pending.discard(stamp_ns)
        self.dropped += len(skipped)
        self._drops_before.append(len(skipped))
        self._processed.append(stamp_ns)

    def camera_period_ms(self) -> float:
        """Median interval of the recent camera_info stamps, ms; 0 with fewer than two."""
        stamps = np.unique(np.asarray(self._info_stamps, dtype=np.int64))
        if stamps.size < 2:
            return 0.0
        return float(np.median(np.diff(stamps))) / 1e6
