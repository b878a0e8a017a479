"""Where calibration images come from: a folder of image files, or image topics in a bag.

Each source yields ``(name, image)`` (mono) or ``(name, left, right)`` (stereo), the
name saying where the image came from (file, or ``topic@stamp_ns``), and knows its
length up front when it can, for the progress bar.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import CalibrationError
from percept.io.image_files import IMAGE_MSGTYPES, IMAGE_SUFFIXES, image_files_in, read_image_file

__all__ = [
    "BagImages",
    "BagStereoImages",
    "FolderImages",
    "FolderStereoImages",
]

_log = logging.getLogger(__name__)


def _read_image(path: Path) -> npt.NDArray[np.generic]:
    image = read_image_file(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        msg = f"{path}: cannot read the image (not an image file or damaged)"
        raise CalibrationError(msg)
    return image


def _list_images(folder: Path, pattern: str = "*") -> list[Path]:
    if not folder.is_dir():
        msg = f"{folder}: no such image folder"
        raise CalibrationError(msg)
    return image_files_in(folder, pattern)


@dataclass(frozen=True, slots=True)
class FolderImages:
    """Every image file of a folder, in name order."""

    folder: Path

    def files(self) -> list[Path]:
        """The image files.

        Raises:
            CalibrationError: the folder does not exist or holds no images.
        """
        found = _list_images(self.folder)
        if not found:
            msg = f"{self.folder}: no image files ({', '.join(IMAGE_SUFFIXES)})"
            raise CalibrationError(msg)
        return found

    def __len__(self) -> int:
        return len(self.files())

    def __iter__(self) -> Iterator[tuple[str, npt.NDArray[np.generic]]]:
        for path in self.files():
            yield str(path), _read_image(path)


def _pair_key(name: str, pattern: str) -> str:
    """What is left of a file name once the glob's literal parts are removed."""
    literal = [part for part in re.split(r"[*?]|\[[^]]*\]", pattern) if part]
    key = Path(name).stem
    for part in literal:
        key = key.replace(Path(part).stem if "." in part else part, "", 1)
    return key


@dataclass(frozen=True, slots=True)
class FolderStereoImages:
    """Left/right image files of a folder, paired by name (``left01.jpg``/``right01.jpg``).

    Attributes:
        folder: the folder.
        left_glob: file-name pattern of left images.
        right_glob: file-name pattern of right images.
    """

    folder: Path
    left_glob: str = "left*"
    right_glob: str = "right*"

    def pairs(self) -> list[tuple[Path, Path]]:
        """(left, right) file pairs, matched by what the patterns leave of the names.

        Raises:
            CalibrationError: no images, or left and right images without a partner.
        """
        lefts = _list_images(self.folder, self.left_glob)
        rights = _list_images(self.folder, self.right_glob)
        if not lefts or not rights:
            msg = (
                f"{self.folder}: found {len(lefts)} left ({self.left_glob}) and "
                f"{len(rights)} right ({self.right_glob}) images; need both "
                "(use --left-glob/--right-glob)"
            )
            raise CalibrationError(msg)
        by_key_r = {_pair_key(p.name, self.right_glob): p for p in rights}
        by_key_l = {_pair_key(p.name, self.left_glob): p for p in lefts}
        unmatched_l = sorted(p.name for k, p in by_key_l.items() if k not in by_key_r)
        unmatched_r = sorted(p.name for k, p in by_key_r.items() if k not in by_key_l)
        if unmatched_l or unmatched_r or len(by_key_l) != len(lefts):
            msg = (
                f"{self.folder}: left and right images do not pair up by name: "
                f"left without partner {unmatched_l[:5]}, right without partner "
                f"{unmatched_r[:5]}"
            )
            raise CalibrationError(msg)
        return [(by_key_l[k], by_key_r[k]) for k in sorted(by_key_l)]

    def __len__(self) -> int:
        return len(self.pairs())

    def __iter__(self) -> Iterator[tuple[str, npt.NDArray[np.generic], npt.NDArray[np.generic]]]:
        for left, right in self.pairs():
            yield f"{left.name}+{right.name}", _read_image(left), _read_image(right)


def _decode_bag_image(msg: object, msgtype: str, where: str) -> npt.NDArray[np.generic] | None:
    from percept import codecs
    from percept.errors import CodecError
    from percept.image import convert_image

    try:
        if msgtype.endswith("CompressedImage"):
            compressed = codecs.decode_compressed_image(msg)
            image = cv2.imdecode(np.asarray(compressed.data), cv2.IMREAD_UNCHANGED)
            if image is None:
                _log.warning("%s: undecodable %s image skipped", where, compressed.format)
                return None
            return np.asarray(image)
        decoded = codecs.decode_image(msg)
        if decoded.encoding.startswith("bayer_") or decoded.encoding in ("rgb8", "rgba8"):
            decoded = convert_image(decoded, "bgr8")
        return np.asarray(decoded.data)
    except CodecError as err:
        _log.warning("%s: image skipped: %s", where, err)
        return None


def _bag_messages(
    bag: Path, topics: Sequence[str]
) -> Iterator[tuple[str, int, npt.NDArray[np.generic]]]:
    """(topic, header stamp ns, image) of the image topics, in bag order."""
    from percept.io.bag import BagReader
    from percept.io.typestore import get_typestore

    with BagReader(bag) as reader:
        available = reader.topics()
        for topic in topics:
            if topic not in available:
                images = sorted(t for t, ty in available.items() if ty in IMAGE_MSGTYPES)
                msg = f"{bag}: no topic {topic}; image topics in the bag: {images}"
                raise CalibrationError(msg)
            if available[topic] not in IMAGE_MSGTYPES:
                msg = (
                    f"{bag}: topic {topic} is {available[topic]}, expected sensor_msgs/Image "
                    "or CompressedImage"
                )
                raise CalibrationError(msg)
        store = get_typestore()
        for item in reader.messages(topics):
            msg_obj = item.msg
            if msg_obj is None and item.raw is not None:
                msg_obj = store.deserialize_cdr(item.raw, item.msgtype)
            stamp = getattr(getattr(msg_obj, "header", None), "stamp", None)
            stamp_ns = (
                int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
                if stamp is not None and hasattr(stamp, "nanosec")
                else item.log_time_ns
            )
            image = _decode_bag_image(msg_obj, item.msgtype, f"{bag}:{item.topic}")
            if image is not None:
                yield item.topic, stamp_ns, image


def _count(bag: Path, topic: str) -> int:
    from percept.io.bag import BagReader

    with BagReader(bag) as reader:
        return sum(c.msgcount for c in reader.connections() if c.topic == topic)


@dataclass(frozen=True, slots=True)
class BagImages:
    """Images of one topic of a bag (sensor_msgs/Image or CompressedImage).

    Attributes:
        bag: the bag (rosbag2 folder, .mcap, .db3 or ROS 1 .bag).
        topic: image topic.
        every: use every n-th image (1: all).
    """

    bag: Path
    topic: str
    every: int = 1

    def __len__(self) -> int:
        return _count(self.bag, self.topic) // max(self.every, 1)

    def __iter__(self) -> Iterator[tuple[str, npt.NDArray[np.generic]]]:
        for k, (topic, stamp_ns, image) in enumerate(_bag_messages(self.bag, [self.topic])):
            if k % max(self.every, 1) == 0:
                yield f"{topic}@{stamp_ns}", image


@dataclass(frozen=True, slots=True)
class BagStereoImages:
    """Left/right images of a bag paired by header stamp (within ``slop_ns``).

    Attributes:
        bag: the bag.
        left_topic: left image topic.
        right_topic: right image topic.
        slop_ns: largest stamp difference of a pair.
        every: use every n-th pair.
    """

    bag: Path
    left_topic: str
    right_topic: str
    slop_ns: int = 10_000_000
    every: int = 1

    def __len__(self) -> int:
        return min(_count(self.bag, self.left_topic), _count(self.bag, self.right_topic)) // max(
            self.every, 1
        )

    def __iter__(self) -> Iterator[tuple[str, npt.NDArray[np.generic], npt.NDArray[np.generic]]]:
        pending: dict[str, list[tuple[int, npt.NDArray[np.generic]]]] = {
            self.left_topic: [],
            self.right_topic: [],
        }
        n = 0
        for topic, stamp_ns, image in _bag_messages(self.bag, [self.left_topic, self.right_topic]):
            other = self.right_topic if topic == self.left_topic else self.left_topic
            match = min(
                (i for i, (s, _) in enumerate(pending[other]) if abs(s - stamp_ns) <= self.slop_ns),
                key=lambda i: abs(pending[other][i][0] - stamp_ns),
                default=None,
            )
            if match is None:
                pending[topic].append((stamp_ns, image))
                del pending[topic][:-8]  # a partner arrives within a few frames or never
                continue
            other_stamp, other_image = pending[other].pop(match)
            # Older unmatched messages of the other side will not find a partner now.
            pending[other] = [(s, im) for s, im in pending[other] if s > other_stamp]
            left, right = (image, other_image) if topic == self.left_topic else (other_image, image)
            if n % max(self.every, 1) == 0:
                yield f"{self.left_topic}@{min(stamp_ns, other_stamp)}", left, right
            n += 1
