"""Error classes of Percept.

Every error names what it is about (file, key, topic) and what was expected, so that one
log line is enough to fix it. Third-party errors are wrapped with ``raise ... from err``.
"""

from __future__ import annotations

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
