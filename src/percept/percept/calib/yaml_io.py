"""camera_info YAML files in the camera_calibration_parsers format.

The layout is exactly what ``camera_calibration_parsers::writeCalibrationYml`` emits
(and ``camera_info_manager`` loads from ``file://`` URLs): keys in the order
``image_width, image_height, camera_name, camera_matrix, distortion_model,
distortion_coefficients, rectification_matrix, projection_matrix``, each matrix a map
of ``rows``, ``cols`` and a flow sequence ``data`` in row-major order. Numbers are
written with Python's shortest round-trip representation, so reading a written file
gives bit-identical matrices. Reading follows the C++ parser: a missing
``camera_name`` reads as ``unknown``, a missing ``distortion_model`` as ``plumb_bob``.
Binning and ROI are not part of the format (CameraInfo defaults on reading).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from percept.errors import CalibrationError
from percept.geometry.camera import CameraModel

__all__ = [
    "YAML_KEYS",
    "dump_camera_info_yaml",
    "load_camera_info_yaml",
    "read_camera_info_yaml",
    "write_camera_info_yaml",
]

_log = logging.getLogger(__name__)

#: Top-level keys in the order camera_calibration_parsers writes them.
YAML_KEYS = (
    "image_width",
    "image_height",
    "camera_name",
    "camera_matrix",
    "distortion_model",
    "distortion_coefficients",
    "rectification_matrix",
    "projection_matrix",
)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")


def _number(value: float) -> str:
    if not math.isfinite(value):
        msg = f"cannot write non-finite value {value}"
        raise ValueError(msg)
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        # YAML 1.1 (PyYAML) reads a float only with a dot: 1e-05 -> 1.0e-05.
        text = f"{mantissa}.0e{exponent}"
    return text


def _matrix(name: str, values: npt.NDArray[np.float64], rows: int, cols: int) -> str:
    data = ", ".join(_number(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))
    return f"{name}:\n  rows: {rows}\n  cols: {cols}\n  data: [{data}]\n"


def _scalar_text(text: str) -> str:
    """A YAML scalar that reads back as this exact string."""
    if _PLAIN_NAME.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    # A JSON string is a valid double-quoted YAML scalar.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dump_camera_info_yaml(model: CameraModel, camera_name: str) -> str:
    """The camera_calibration_parsers YAML text of a camera model.

    Args:
        model: the camera; must be valid (``CameraModel.validate``).
        camera_name: the ``camera_name`` field (camera_info_manager checks it).

    Returns:
        The YAML document.

    Raises:
        CalibrationError: the model is not valid (NaN, zero K, wrong D length).
    """
    problems = model.validate()
    if problems:
        msg = f"camera {camera_name!r}: cannot write an invalid calibration: {'; '.join(problems)}"
        raise CalibrationError(msg)
    parts = [
        f"image_width: {int(model.width)}\n",
        f"image_height: {int(model.height)}\n",
        f"camera_name: {_scalar_text(camera_name)}\n",
        _matrix("camera_matrix", model.K, 3, 3),
        f"distortion_model: {_scalar_text(model.distortion_model or 'plumb_bob')}\n",
        _matrix("distortion_coefficients", model.D, 1, int(model.D.size)),
        _matrix("rectification_matrix", model.R, 3, 3),
        _matrix("projection_matrix", model.P, 3, 4),
    ]
    return "".join(parts)


def write_camera_info_yaml(path: str | Path, model: CameraModel, camera_name: str) -> Path:
    """Write a camera_info YAML file (parent folders are created).

    Args:
        path: destination, e.g. ``calibration/<robot>/left.yaml``.
        model: the camera.
        camera_name: the ``camera_name`` field.

    Returns:
        The path written.

    Raises:
        CalibrationError: invalid model, or the file cannot be written.
    """
    out = Path(path)
    text = dump_camera_info_yaml(model, camera_name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        msg = f"{out}: cannot write the calibration: {err.strerror}"
        raise CalibrationError(msg) from err
    return out


def _read_matrix(
    doc: dict[str, Any], key: str, source: str, shape: tuple[int, int] | None
) -> npt.NDArray[np.float64]:
    node = doc.get(key)
    if not isinstance(node, dict):
        msg = f"{source}: {key} must be a map with rows, cols and data, got {node!r}"
        raise CalibrationError(msg)
    for field in ("rows", "cols", "data"):
        if field not in node:
            msg = f"{source}: {key}.{field} is missing"
            raise CalibrationError(msg)
    rows, cols, data = node["rows"], node["cols"], node["data"]
    if not isinstance(rows, int) or not isinstance(cols, int) or rows < 0 or cols < 0:
        msg = f"{source}: {key}.rows and .cols must be integers >= 0, got {rows!r}, {cols!r}"
        raise CalibrationError(msg)
    if shape is not None and (rows, cols) != shape:
        msg = f"{source}: {key} must be {shape[0]}x{shape[1]}, got rows {rows}, cols {cols}"
        raise CalibrationError(msg)
    if not isinstance(data, list) or len(data) != rows * cols:
        got = len(data) if isinstance(data, list) else type(data).__name__
        msg = f"{source}: {key}.data must be a list of {rows * cols} numbers, got {got}"
        raise CalibrationError(msg)
    try:
        # PyYAML leaves YAML-1.2 floats such as 1e-05 as strings; float() reads them.
        values = [float(v) for v in data]
    except (TypeError, ValueError) as err:
        msg = f"{source}: {key}.data must hold numbers: {err}"
        raise CalibrationError(msg) from err
    return np.asarray(values, dtype=np.float64).reshape(rows, cols)


def load_camera_info_yaml(text: str, *, source: str = "<yaml>") -> tuple[str, CameraModel]:
    """Parse camera_calibration_parsers YAML text.

    Args:
        text: the YAML document.
        source: file name used in error messages.

    Returns:
        ``(camera_name, model)``.

    Raises:
        CalibrationError: not YAML, or a key missing or malformed (the message names
            the file and the key).
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"{source}: not valid YAML: {err}"
        raise CalibrationError(msg) from err
    if not isinstance(doc, dict):
        msg = f"{source}: expected a camera_info map with keys {', '.join(YAML_KEYS)}"
        raise CalibrationError(msg)
    for key in ("image_width", "image_height"):
        value = doc.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            msg = f"{source}: {key} must be an integer >= 0, got {value!r}"
            raise CalibrationError(msg)
    camera_name = str(doc.get("camera_name", "unknown"))
    model_name = doc.get("distortion_model")
    if model_name is None:
        _log.warning("%s: no distortion_model, assuming plumb_bob", source)
        model_name = "plumb_bob"
    if not isinstance(model_name, str):
        msg = f"{source}: distortion_model must be a string, got {model_name!r}"
        raise CalibrationError(msg)
    K = _read_matrix(doc, "camera_matrix", source, (3, 3))
    D = _read_matrix(doc, "distortion_coefficients", source, None)
    R = _read_matrix(doc, "rectification_matrix", source, (3, 3))
    P = _read_matrix(doc, "projection_matrix", source, (3, 4))
    model = CameraModel(
        int(doc["image_width"]), int(doc["image_height"]), model_name, K, D.reshape(-1), R, P
    )
    return camera_name, model


def read_camera_info_yaml(path: str | Path) -> tuple[str, CameraModel]:
    """Read a camera_info YAML file (camera_calibration_parsers format).

    Args:
        path: the file.

    Returns:
        ``(camera_name, model)``.

    Raises:
        CalibrationError: the file cannot be read or is malformed.
    """
    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"{src}: cannot read the calibration: {err.strerror}"
        raise CalibrationError(msg) from err
    return load_camera_info_yaml(text, source=str(src))
