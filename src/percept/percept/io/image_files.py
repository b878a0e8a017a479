"""Images to detect on: image files, a folder of them, or an image topic of a bag.

Also the one place that says which files are images (``IMAGE_SUFFIXES``), which bag
message types carry them (``IMAGE_MSGTYPES``), and how an image file is listed and read;
``percept.io.sources`` uses them for calibration images.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import CodecError, DetectionError, InputRejected

__all__ = [
    "IMAGE_MSGTYPES",
    "IMAGE_SUFFIXES",
    "ImageFrame",
    "image_files_in",
    "is_bag",
    "iter_images",
    "list_image_files",
    "read_image_file",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
_BAG_SUFFIXES = (".mcap", ".db3", ".bag")
#: Bag message types that carry an image.
IMAGE_MSGTYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


@dataclass(frozen=True, slots=True, eq=False)
class ImageFrame:
    """One image to detect on.

    Attributes:
        name: file name (files) or ``topic@stamp_ns`` (bags).
        stamp_ns: header stamp (bags), 0 for files.
        pixels: (H, W, 3) uint8 colour image.
        is_bgr: True for BGR channel order, False for RGB.
    """

    name: str
    stamp_ns: int
    pixels: npt.NDArray[np.uint8]
    is_bgr: bool


def is_bag(path: Path) -> bool:
    """True for an MCAP / sqlite3 / ROS 1 bag file or a rosbag2 folder (``metadata.yaml``)."""
    if path.is_dir():
        return (path / "metadata.yaml").is_file()
    return path.suffix.lower() in _BAG_SUFFIXES


def image_files_in(folder: Path, pattern: str = "*") -> list[Path]:
    """The image files (``IMAGE_SUFFIXES``, any case) of a folder, in name order.

    Args:
        folder: an existing folder.
        pattern: ``fnmatch`` pattern the file names must match.
    """
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and fnmatch.fnmatch(p.name, pattern)
    )


def read_image_file(path: Path, flags: int = cv2.IMREAD_COLOR) -> npt.NDArray[np.generic] | None:
    """Decode an image file with ``cv2.imdecode`` (non-ASCII paths work too).

    Args:
        path: the file.
        flags: OpenCV ``IMREAD_*`` flags (``IMREAD_COLOR``: (H, W, 3) uint8 BGR).

    Returns:
        The image, or None when the file is empty or not a readable image.
    """
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    return None if image is None else np.asarray(image)


def list_image_files(path: Path) -> list[Path]:
    """The image files of a folder (name order), or ``[path]`` for one image file.

    Raises:
        DetectionError: no such path, or no image files in it.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        msg = f"{path}: no such image file or folder"
        raise DetectionError(msg)
    files = image_files_in(path)
    if not files:
        msg = f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)})"
        raise DetectionError(msg)
    return files


def _read_file(path: Path) -> npt.NDArray[np.uint8] | None:
    image = read_image_file(path)
    if image is None:
        logger.warning("%s: not a readable image, skipped", path)
        return None
    return np.asarray(image, dtype=np.uint8)


def _bag_frames(bag: Path, topic: str) -> Iterator[ImageFrame]:
    from percept import codecs
    from percept.detect.preprocess import rgb_or_bgr
    from percept.image import decompress_image
    from percept.io.bag import BagReader
    from percept.io.typestore import get_typestore

    store = get_typestore()
    with BagReader(bag) as reader:
        available = reader.topics()
        images = sorted(t for t, ty in available.items() if ty in IMAGE_MSGTYPES)
        if not topic:
            if len(images) != 1:
                msg = f"{bag}: name the image topic (--topic); image topics: {images}"
                raise DetectionError(msg)
            topic = images[0]
        if available.get(topic) not in IMAGE_MSGTYPES:
            msg = f"{bag}: {topic} is not an image topic; image topics: {images}"
            raise DetectionError(msg)
        for item in reader.messages([topic]):
            where = f"{bag}:{item.topic}"
            try:
                msg_obj = (
                    item.msg
                    if item.msg is not None
                    else store.deserialize_cdr(item.raw or b"", item.msgtype)
                )
                if item.msgtype.endswith("CompressedImage"):
                    compressed = codecs.decode_compressed_image(msg_obj)
                    image = decompress_image(compressed, "bgr8")
                else:
                    image = codecs.decode_image(msg_obj)
                pixels, bgr = rgb_or_bgr(image)
            except (CodecError, InputRejected) as err:
                logger.warning("%s: image skipped: %s", where, err)
                continue
            except Exception as err:  # undeserialisable CDR in a damaged bag
                logger.warning("%s: image skipped: %s: %s", where, type(err).__name__, err)
                continue
            stamp = image.header.stamp_ns
            yield ImageFrame(f"{item.topic}@{stamp}", stamp, pixels, bgr)


def iter_images(source: Path, topic: str = "") -> Iterator[ImageFrame]:
    """The images of a file, a folder of files, or an image topic of a bag.

    Args:
        source: image file, folder, or bag (``.mcap``, ``.db3``, ``.bag``, rosbag2 folder).
        topic: bag image topic (sensor_msgs/Image or CompressedImage); may be left empty
            when the bag has exactly one.

    Yields:
        Frames in file-name or bag order; unreadable images are skipped with a warning.

    Raises:
        DetectionError: missing path, no images, unknown topic.
    """
    if is_bag(source):
        yield from _bag_frames(source, topic)
        return
    for path in list_image_files(source):
        pixels = _read_file(path)
        if pixels is not None:
            yield ImageFrame(path.name, 0, pixels, True)
