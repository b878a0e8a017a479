"""Error classes of Percept.

Every error names what it is about (file, key, topic) and what was expected, so that one
log line is enough to fix it. Third-party errors are wrapped with ``raise ... from err``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = [
    "BagError",
    "CalibrationError",
    "CodecError",
    "ConfigError",
    "DetectionError",
    "EvalError",
    "InputRejected",
    "PerceptError",
    "TransformError",
    "codec_guard",
]


class PerceptError(Exception):
    """Base class of every error Percept raises on purpose."""


class ConfigError(PerceptError):
    """Bad configuration: a parameter file, robot file or argument (fails at start-up)."""


class CalibrationError(PerceptError):
    """A calibration is missing, malformed or fails its checks."""


class CodecError(PerceptError):
    """A message cannot be decoded to, or encoded from, a domain object."""


class BagError(PerceptError):
    """A bag cannot be opened, read or written."""


class DetectionError(PerceptError):
    """A detection model cannot be loaded, or its inputs/outputs are not understood."""


class EvalError(PerceptError):
    """Data cannot be scored: no matching stamps, missing ground truth, unreadable files."""


class TransformError(PerceptError):
    """A TF lookup failed (unknown frame, no path, extrapolation)."""


class InputRejected(PerceptError):
    """A node refuses one input message; the runtime counts it and goes on.

    Raised by node callbacks for input that decodes but is unusable (NaN values, sizes
    that do not match the calibration, ...). The message is the reason shown on
    /diagnostics.
    """


_P = ParamSpec("_P")
_R = TypeVar("_R")


def codec_guard(msgtype: str, action: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Turn any stray exception of a codec into a CodecError naming the message type.

    Used by the codecs and by the image operations they share (:mod:`percept.image`).
    """

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def inner(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except CodecError:
                raise
            except Exception as err:  # the contract: only CodecError leaves a codec
                msg = f"{msgtype}: cannot {action}: {type(err).__name__}: {err}"
                raise CodecError(msg) from err

        return inner

    return wrap
