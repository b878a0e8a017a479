"""The detector model shipped with Percept and ``package://`` model paths.

``percept/models/warehouse_det.onnx`` (with ``warehouse_det.labels.txt`` and
``MODEL_CARD.md`` beside it) is package data: it is installed with the package by pip
and colcon alike, so ``package://percept/models/warehouse_det.onnx`` names it wherever
Percept is installed. Only the ``percept`` package is resolved (the core never asks
ament_index); other paths are files as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from percept.errors import DetectionError

__all__ = [
    "MODELS_DIR",
    "SHIPPED_MODEL",
    "SHIPPED_MODEL_URL",
    "SHIPPED_NMS_IOU",
    "resolve_model_path",
]

#: Folder of the models installed with the package.
MODELS_DIR: Final = Path(__file__).resolve().parent.parent / "models"
#: The shipped warehouse detector (pallet, carton, barrel, person, cart).
SHIPPED_MODEL: Final = MODELS_DIR / "warehouse_det.onnx"
#: How parameters name the shipped model.
SHIPPED_MODEL_URL: Final = "package://percept/models/warehouse_det.onnx"
#: NMS IoU threshold of the shipped model's operating point (the detector node's
#: default): chosen on validation seeds 800-807, see MODEL_CARD.md. Its near-duplicate
#: boxes overlap 0.3-0.45, which a 0.45 threshold keeps as false positives.
SHIPPED_NMS_IOU: Final = 0.3

_SCHEME: Final = "package://"


def resolve_model_path(text: str) -> Path:
    """A model path as a file: ``package://percept/<rel>`` resolves inside the package.

    Raises:
        DetectionError: ``package://`` of another package, or a path leaving the package.

    >>> resolve_model_path(SHIPPED_MODEL_URL) == SHIPPED_MODEL
    True
    >>> resolve_model_path("/models/yolo11n.onnx")
    PosixPath('/models/yolo11n.onnx')
    """
    if not text.startswith(_SCHEME):
        return Path(text)
    package, _, relative = text[len(_SCHEME) :].partition("/")
    root = MODELS_DIR.parent
    path = (root / relative).resolve()
    if package != "percept" or not relative or not path.is_relative_to(root):
        msg = f"{text}: only package://percept/<path inside the percept package> is resolved"
        raise DetectionError(msg)
    return path
