"""Class names of a detection model: a file beside the model, or the model's metadata.

Looked up in this order: an explicit labels file; ``<model>.labels.txt``,
``<model>.names`` or ``labels.txt`` beside ``<model>.onnx`` (one name per line, line i
is class i, as Darknet's ``.names``); the ``names`` entry of the ONNX metadata, which
Ultralytics exports write as a Python dict literal ``{0: 'person', 1: 'bicycle'}``.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from pathlib import Path

from percept.errors import DetectionError

__all__ = ["find_labels_file", "load_labels", "parse_names_metadata"]

logger = logging.getLogger(__name__)


def find_labels_file(model_path: Path) -> Path | None:
    """The labels file beside a model, if one exists.

    >>> find_labels_file(Path("/nonexistent/model.onnx")) is None
    True
    """
    stem = model_path.with_suffix("")
    for candidate in (
        stem.with_name(stem.name + ".labels.txt"),
        model_path.with_suffix(".names"),
        model_path.with_name("labels.txt"),
    ):
        if candidate.is_file():
            return candidate
    return None


def _read_lines(path: Path) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        msg = f"{path}: cannot read the labels file: {err}"
        raise DetectionError(msg) from err
    names = tuple(line.strip() for line in text.splitlines())
    while names and not names[-1]:
        names = names[:-1]
    if not names or any(not n for n in names):
        msg = f"{path}: labels file must hold one non-empty class name per line"
        raise DetectionError(msg)
    return names


def parse_names_metadata(text: str, where: str = "model metadata") -> tuple[str, ...]:
    """Class names from Ultralytics' ``names`` metadata (a dict or list literal).

    Raises:
        DetectionError: not a literal of names indexed 0..C-1.

    >>> parse_names_metadata("{0: 'person', 1: 'car'}")
    ('person', 'car')
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as err:
        msg = f"{where}: names {text[:60]!r} is not a dict or list literal"
        raise DetectionError(msg) from err
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if isinstance(value, dict) and sorted(value) == list(range(len(value))):
        return tuple(str(value[i]) for i in range(len(value)))
    msg = f"{where}: names must map 0..C-1 to names, got {text[:60]!r}"
    raise DetectionError(msg)


def load_labels(
    model_path: Path,
    metadata: Mapping[str, str],
    labels_path: Path | None = None,
) -> tuple[str, ...]:
    """Class names of a model, or () when nothing names them.

    Args:
        model_path: the ONNX model.
        metadata: the model's metadata_props (``names`` is read).
        labels_path: an explicit labels file; must exist when given.

    Raises:
        DetectionError: an unreadable or malformed labels file or metadata.
    """
    if labels_path is not None:
        if not labels_path.is_file():
            msg = f"{labels_path}: no such labels file"
            raise DetectionError(msg)
        return _read_lines(labels_path)
    beside = find_labels_file(model_path)
    if beside is not None:
        logger.debug("labels from %s", beside)
        return _read_lines(beside)
    if "names" in metadata:
        return parse_names_metadata(metadata["names"], f"{model_path}: metadata")
    return ()
