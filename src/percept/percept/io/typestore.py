"""The rosbags typestore Percept uses outside ROS, with vision_msgs registered.

rosbags ships the ROS 2 Humble core message definitions but not vision_msgs, so the
Humble vision_msgs 4.x ``.msg`` texts are packaged under ``percept/io/msg/vision_msgs`` and
registered here from their text. ``RosbagsFactory`` builds rosbags message objects for
the encoders in :mod:`percept.codecs`.
"""

from __future__ import annotations

import functools
import logging
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rosbags.typesys import Stores, get_types_from_msg
from rosbags.typesys import get_typestore as _rosbags_typestore

from percept.errors import CodecError

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

__all__ = ["VISION_MSGS_TYPES", "RosbagsFactory", "get_typestore", "vision_msgs_definitions"]

logger = logging.getLogger(__name__)

_MSG_PACKAGE = "vision_msgs"


def vision_msgs_definitions() -> dict[str, str]:
    """The packaged vision_msgs ``.msg`` texts.

    Returns:
        Mapping from ROS 2 type name (``vision_msgs/msg/Detection2D``) to message text.
    """
    folder = resources.files("percept.io").joinpath("msg").joinpath(_MSG_PACKAGE)
    texts: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".msg"):
            name = entry.name.removesuffix(".msg")
            texts[f"{_MSG_PACKAGE}/msg/{name}"] = entry.read_text(encoding="utf-8")
    return texts


VISION_MSGS_TYPES: tuple[str, ...] = (
    "vision_msgs/msg/BoundingBox2D",
    "vision_msgs/msg/BoundingBox2DArray",
    "vision_msgs/msg/BoundingBox3D",
    "vision_msgs/msg/BoundingBox3DArray",
    "vision_msgs/msg/Classification",
    "vision_msgs/msg/Detection2D",
    "vision_msgs/msg/Detection2DArray",
    "vision_msgs/msg/Detection3D",
    "vision_msgs/msg/Detection3DArray",
    "vision_msgs/msg/LabelInfo",
    "vision_msgs/msg/ObjectHypothesis",
    "vision_msgs/msg/ObjectHypothesisWithPose",
    "vision_msgs/msg/Point2D",
    "vision_msgs/msg/Pose2D",
    "vision_msgs/msg/VisionClass",
    "vision_msgs/msg/VisionInfo",
)


@functools.cache
def get_typestore() -> Typestore:
    """ROS 2 Humble typestore of rosbags plus vision_msgs.

    Cached: every caller shares one typestore, so message classes compare identical.

    Returns:
        The typestore; ``get_typestore().types['vision_msgs/msg/Detection2DArray']`` is
        the message class.
    """
    store = _rosbags_typestore(Stores.ROS2_HUMBLE)
    types = {}
    for name, text in vision_msgs_definitions().items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    logger.debug("registered %d vision_msgs types", len(types))
    return store


class RosbagsFactory:
    """MessageFactory (see :mod:`percept.codecs`) building rosbags message objects.

    Args:
        typestore: the typestore whose classes to build; :func:`get_typestore` by default.
    """

    def __init__(self, typestore: Typestore | None = None) -> None:
        """Bind the factory to ``typestore``."""
        self._store = typestore if typestore is not None else get_typestore()

    def new(self, msgtype: str, /, **fields: object) -> object:
        """Build a message of ``msgtype`` (``sensor_msgs/msg/Image``) from all its fields.

        Raises:
            CodecError: unknown type, or fields missing or unexpected.
        """
        try:
            cls = self._store.types[msgtype]
        except KeyError as err:
            msg = f"{msgtype}: unknown message type for the rosbags typestore"
            raise CodecError(msg) from err
        try:
            return cls(**fields)  # type: ignore[arg-type]
        except TypeError as err:
            msg = f"{msgtype}: cannot build message from fields {sorted(fields)}: {err}"
            raise CodecError(msg) from err

    def uint8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        """A ``uint8[]`` field value: a (N,) uint8 view of ``buf`` (no copy)."""
        if isinstance(buf, np.ndarray):
            return np.ascontiguousarray(buf).reshape(-1).view(np.uint8)
        return np.frombuffer(buf, dtype=np.uint8)

    def int8_array(self, buf: bytes | memoryview | npt.NDArray[np.generic], /) -> object:
        """An ``int8[]`` field value: a (N,) int8 view of ``buf`` (no copy)."""
        if isinstance(buf, np.ndarray):
            return np.ascontiguousarray(buf).reshape(-1).view(np.int8)
        return np.frombuffer(buf, dtype=np.int8)

    def float_array(self, values: npt.ArrayLike, /, *, fixed: bool) -> object:
        """A ``float64[]`` or ``float64[N]`` field value: a (N,) float64 array."""
        del fixed  # rosbags holds fixed and variable arrays alike as numpy
        return np.asarray(values, dtype=np.float64).reshape(-1)

    def byte(self, value: int, /) -> object:
        """A ROS ``byte`` field value: rosbags holds it as an ``int``."""
        return int(value)
