"""Seeded perturbations of a bag's inputs, for robustness sweeps (``percept replay --perturb``).

A spec is a comma-separated list of ``name=value``::

    brightness=1.3,contrast=0.8,blur=1.5,noise=4,jpeg=30,drop=0.1,jitter_ms=3,
    imu_acc_bias=0.2,imu_gyro_bias=0.01,seed=7,blackout=3:2,imu_gap=4:0.1,burst=6:0.5

==================  ==========================================================
``brightness``      gain on image intensities (1 = unchanged)
``contrast``        stretch about the image mean (1 = unchanged)
``blur``            Gaussian blur sigma in pixels
``noise``           Gaussian noise sigma in intensity units (8-bit scale)
``jpeg``            JPEG round trip at this quality (1-100), as a lossy transport
``drop``            probability that a camera frame is dropped (image and its
                    camera_info together, every camera of that stamp together)
``jitter_ms``       Gaussian jitter (sigma, ms) of camera header stamps, one draw per
                    camera and stamp (image and camera_info keep the same stamp)
``imu_acc_bias``    constant accelerometer bias, m/s^2 (a seeded direction)
``imu_gyro_bias``   constant gyroscope bias, rad/s (a seeded direction)
``seed``            seed of every draw (default 0)
``blackout``        ``START:DURATION`` window (s) in which camera images are all
                    black (zero), as behind a lens cap or in a tunnel; the
                    camera_infos still arrive, as from a dark camera
``imu_gap``         ``START:DURATION`` window (s) in which IMU messages are dropped
``burst``           ``START:DURATION`` window (s) to which the pixel perturbations
                    (brightness, contrast, blur, noise, jpeg) are confined; without
                    a burst they apply to every frame
==================  ==========================================================

Window times are seconds from the first stamp the Perturber sees (``start_ns``: the
first image, camera_info or IMU message of the replay, after ``--start``), measured on
the unperturbed header stamps; a window holds stamps in ``[START, START + DURATION)``.
A window setting may be repeated, or take several windows separated by ``;``, e.g.
``brightness=0.15,blur=3,burst=3:0.5,burst=6:0.5`` or ``'burst=3:0.5;6:0.5'`` (quote
the ``;`` in a shell): dark, blurred frames in two half-second bursts.

Every draw depends only on the seed, the topic and the stamp, never on arrival order, and
the windows only on the stamps, so a perturbed replay is reproducible. Bayer mosaics are
perturbed per colour plane (blur and JPEG would otherwise mix the colours). Compressed
images are decoded, perturbed and re-compressed in their format.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from percept.domain import CompressedImage, Header, Image, ImuSample
from percept.errors import ConfigError
from percept.image import compress_image, decompress_image
from percept.msgtypes import CAMERA_INFO, COMPRESSED_IMAGE, IMAGE, IMU

__all__ = [
    "PERTURBED_TYPES",
    "WINDOW_SETTINGS",
    "PerturbSpec",
    "Perturber",
    "Window",
    "describe",
    "parse_spec",
]

logger = logging.getLogger(__name__)

PERTURBED_TYPES = frozenset({IMAGE, COMPRESSED_IMAGE, CAMERA_INFO, IMU})
#: The settings that take ``START:DURATION`` windows.
WINDOW_SETTINGS = ("blackout", "imu_gap", "burst")
#: A time window: (start, duration), seconds from the first stamp.
Window = tuple[float, float]


@dataclass(frozen=True)
class PerturbSpec:
    """Perturbation strengths; the defaults change nothing."""

    brightness: float = 1.0
    contrast: float = 1.0
    blur: float = 0.0
    noise: float = 0.0
    jpeg: int = 0
    drop: float = 0.0
    jitter_ms: float = 0.0
    imu_acc_bias: float = 0.0
    imu_gyro_bias: float = 0.0
    seed: int = 0
    blackout: tuple[Window, ...] = ()
    imu_gap: tuple[Window, ...] = ()
    burst: tuple[Window, ...] = ()

    def touches_images(self) -> bool:
        """Whether any pixel perturbation is on."""
        return (
            self.brightness != 1.0
            or self.contrast != 1.0
            or self.blur > 0
            or self.noise > 0
            or self.jpeg > 0
        )


_LIMITS: dict[str, tuple[float, float]] = {
    "brightness": (0.0, 10.0),
    "contrast": (0.0, 10.0),
    "blur": (0.0, 50.0),
    "noise": (0.0, 255.0),
    "jpeg": (0, 100),
    "drop": (0.0, 1.0),
    "jitter_ms": (0.0, 10_000.0),
    "imu_acc_bias": (0.0, 100.0),
    "imu_gyro_bias": (0.0, 10.0),
    "seed": (0, 2**63 - 1),
}
#: Limits of a window's start and duration, seconds.
_WINDOW_START_S = (0.0, 1e7)
_WINDOW_DURATION_S = (0.0, 1e7)


def _parse_windows(name: str, raw: str) -> tuple[Window, ...]:
    """``START:DURATION[;START:DURATION...]`` -> windows, in seconds."""
    windows: list[Window] = []
    for part in raw.split(";"):
        start_text, sep, duration_text = part.strip().partition(":")
        try:
            start, duration = float(start_text), float(duration_text)
        except ValueError:
            start = duration = float("nan")
        if not sep or not (
            _WINDOW_START_S[0] <= start <= _WINDOW_START_S[1]
            and _WINDOW_DURATION_S[0] < duration <= _WINDOW_DURATION_S[1]
        ):
            msg = (
                f"--perturb {name}={raw}: expected START:DURATION in seconds from the first "
                f"stamp, START in [0, {_WINDOW_START_S[1]:g}], DURATION in "
                f"(0, {_WINDOW_DURATION_S[1]:g}]"
            )
            raise ConfigError(msg)
        windows.append((start, duration))
    return tuple(windows)


def parse_spec(text: str) -> PerturbSpec:
    """Parse ``name=value,...`` into a PerturbSpec.

    A window setting (``blackout``, ``imu_gap``, ``burst``) may repeat; its windows add up.

    Raises:
        ConfigError: unknown name, malformed item, non-numeric or out-of-range value.
    """
    known = {f.name: f for f in fields(PerturbSpec)}
    values: dict[str, Any] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            msg = f"--perturb {item!r}: expected name=value with name one of {sorted(known)}"
            raise ConfigError(msg)
        if name in WINDOW_SETTINGS:
            values[name] = values.get(name, ()) + _parse_windows(name, raw)
            continue
        integer = name in ("jpeg", "seed")
        try:
            value: float = int(raw) if integer else float(raw)
        except ValueError as err:
            kind = "an integer" if integer else "a number"
            msg = f"--perturb {name}={raw!r}: expected {kind}"
            raise ConfigError(msg) from err
        lo, hi = _LIMITS[name]
        if not lo <= value <= hi or value != value:
            msg = f"--perturb {name}={raw}: must be within [{lo}, {hi}]"
            raise ConfigError(msg)
        values[name] = value
    return PerturbSpec(**values)


def _key(*parts: object) -> list[int]:
    """A stable integer seed sequence from strings and ints (not Python's salted hash)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def _camera(topic: str) -> str:
    """The camera namespace of an image or camera_info topic (``/stereo/left``)."""
    return topic.rsplit("/", 1)[0]


class Perturber:
    """Applies a PerturbSpec to decoded messages, one at a time.

    Args:
        spec: what to perturb and how much.
        start_ns: the stamp the windows count from; None: the first stamp ``apply`` sees.

    Attributes:
        start_ns: the stamp the windows count from, once known.
        dropped: messages dropped (``drop``, ``imu_gap``).
        perturbed: messages changed.
    """

    def __init__(self, spec: PerturbSpec, start_ns: int | None = None) -> None:
        """Draw the constant IMU biases from the seed."""
        self.spec = spec
        self.start_ns = start_ns
        self._windows_ns = {
            name: tuple(
                (round(start * 1e9), round((start + duration) * 1e9))
                for start, duration in getattr(spec, name)
            )
            for name in WINDOW_SETTINGS
        }
        self._has_windows = any(self._windows_ns.values())
        rng = np.random.default_rng(_key("imu-bias", spec.seed))
        self.acc_bias = _unit(rng) * spec.imu_acc_bias
        self.gyro_bias = _unit(rng) * spec.imu_gyro_bias
        self.dropped = 0
        self.perturbed = 0
        self._warned: set[str] = set()

    def wants(self, msgtype: str) -> bool:
        """Whether messages of this type can be changed or dropped by the spec."""
        s = self.spec
        if self._has_windows and msgtype in PERTURBED_TYPES:
            return True  # the first stamp of every input starts the clock of the windows
        if msgtype in (IMAGE, COMPRESSED_IMAGE):
            return s.touches_images() or s.drop > 0 or s.jitter_ms > 0
        if msgtype == CAMERA_INFO:
            return s.drop > 0 or s.jitter_ms > 0
        if msgtype == IMU:
            return s.imu_acc_bias > 0 or s.imu_gyro_bias > 0
        return False

    def apply(self, topic: str, msgtype: str, obj: object) -> object | None:
        """The perturbed domain object, or None when the message is dropped."""
        header: Header | None = getattr(obj, "header", None)
        if header is None:
            return obj
        stamp = header.stamp_ns
        if self.start_ns is None:
            self.start_ns = stamp
        if msgtype == IMU and self._inside("imu_gap", stamp):
            self.dropped += 1
            return None
        if msgtype in (IMAGE, COMPRESSED_IMAGE, CAMERA_INFO) and self.spec.drop > 0:
            # One draw per stamp: a stereo pair and its camera_infos go together.
            if np.random.default_rng(_key("drop", self.spec.seed, stamp)).random() < (
                self.spec.drop
            ):
                self.dropped += 1
                return None
        out: object = obj
        black = self._inside("blackout", stamp)
        pixels = not black and self.spec.touches_images()
        if pixels and self.spec.burst:
            pixels = self._inside("burst", stamp)
        if msgtype == IMU and isinstance(obj, ImuSample) and self._imu_bias:
            out = replace(
                obj,
                linear_acceleration_m_s2=obj.linear_acceleration_m_s2 + self.acc_bias,
                angular_velocity_rad_s=obj.angular_velocity_rad_s + self.gyro_bias,
            )
        elif msgtype == IMAGE and isinstance(obj, Image) and (black or pixels):
            data = (
                np.zeros_like(obj.data)
                if black
                else self._pixels(topic, obj.encoding, obj.data, stamp)
            )
            out = replace(obj, data=data)
        elif msgtype == COMPRESSED_IMAGE and isinstance(obj, CompressedImage) and (black or pixels):
            image = decompress_image(obj)
            data = (
                np.zeros_like(image.data)
                if black
                else self._pixels(topic, image.encoding, image.data, stamp)
            )
            fmt = "png" if "png" in obj.format.lower() else "jpeg"
            out = replace(compress_image(replace(image, data=data), fmt), header=obj.header)
        if self.spec.jitter_ms > 0 and msgtype in (IMAGE, COMPRESSED_IMAGE, CAMERA_INFO):
            rng = np.random.default_rng(_key("jitter", self.spec.seed, _camera(topic), stamp))
            shift = round(rng.normal(0.0, self.spec.jitter_ms * 1e6))
            new_header = Header(max(0, stamp + shift), header.frame_id)
            out = replace(out, header=new_header)  # type: ignore[type-var]
        if out is not obj:
            self.perturbed += 1
        return out

    @property
    def _imu_bias(self) -> bool:
        return self.spec.imu_acc_bias > 0 or self.spec.imu_gyro_bias > 0

    def _inside(self, name: str, stamp: int) -> bool:
        """Whether ``stamp`` lies in one of the ``name`` windows."""
        windows = self._windows_ns[name]
        if not windows or self.start_ns is None:
            return False
        t = stamp - self.start_ns
        return any(lo <= t < hi for lo, hi in windows)

    def _pixels(
        self,
        topic: str,
        encoding: str,
        data: npt.NDArray[Any],
        stamp: int,
    ) -> npt.NDArray[Any]:
        if encoding.startswith("bayer_"):
            out = np.empty_like(data)
            for dy in (0, 1):
                for dx in (0, 1):
                    plane = np.ascontiguousarray(data[dy::2, dx::2])
                    key = (topic, stamp, dy, dx)
                    out[dy::2, dx::2] = self._perturb_plane(plane, key)
            return out
        if data.dtype.kind == "f":
            if encoding not in self._warned:
                self._warned.add(encoding)
                logger.warning("--perturb: %s images are left as they are", encoding)
            return data
        return self._perturb_plane(data, (topic, stamp))

    def _perturb_plane(self, data: npt.NDArray[Any], key: tuple[object, ...]) -> npt.NDArray[Any]:
        s = self.spec
        info = np.iinfo(data.dtype)
        scale = (info.max + 1) / 256.0  # noise sigma is given on the 8-bit scale
        work: npt.NDArray[Any] = data.astype(np.float32)
        if s.contrast != 1.0:
            mean = float(work.mean())
            work = (work - mean) * s.contrast + mean
        if s.brightness != 1.0:
            work *= s.brightness
        if s.blur > 0:
            work = cv2.GaussianBlur(work, (0, 0), s.blur)
        if s.noise > 0:
            rng = np.random.default_rng(_key("noise", s.seed, *key))
            work += rng.normal(0.0, s.noise * scale, size=work.shape).astype(np.float32)
        out: npt.NDArray[Any] = np.clip(np.rint(work), info.min, info.max).astype(data.dtype)
        if s.jpeg > 0 and data.dtype == np.uint8 and out.ndim in (2, 3):
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(s.jpeg)])
            if ok:
                flag = cv2.IMREAD_GRAYSCALE if out.ndim == 2 else cv2.IMREAD_COLOR
                decoded = cv2.imdecode(buf, flag)
                out = decoded.reshape(out.shape) if decoded is not None else out
        return out


def _unit(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    v = rng.normal(size=3)
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


def describe(spec: PerturbSpec) -> str:
    """The non-default settings, as the spec text (``brightness=1.3,seed=0``).

    Each window is an item of its own (``burst=3.0:0.5,burst=6.0:0.5``).
    """
    default = PerturbSpec()
    parts = [
        f"{f.name}={getattr(spec, f.name)}"
        for f in fields(PerturbSpec)
        if f.name not in WINDOW_SETTINGS
        and (getattr(spec, f.name) != getattr(default, f.name) or f.name == "seed")
    ]
    parts += [
        f"{name}={start!r}:{duration!r}"
        for name in WINDOW_SETTINGS
        for start, duration in getattr(spec, name)
    ]
    return ",".join(parts)
