"""Node classes, and the registry that robot files and console scripts name them by.

Node modules are imported lazily: naming a node type does not import every algorithm.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from percept.errors import ConfigError

if TYPE_CHECKING:
    from percept.node import Node

__all__ = ["NODE_TYPES", "load_node_class"]

#: node type (robot files, ``percept_<type>`` console scripts) -> "module:Class".
NODE_TYPES: dict[str, str] = {
    "debayer": "percept.nodes.debayer:DebayerNode",
    "resize": "percept.nodes.resize:ResizeNode",
    "rectify": "percept.nodes.rectify:RectifyNode",
    "stereo_rectify": "percept.nodes.rectify:StereoRectifyNode",
    "calibration": "percept.nodes.calibration:CalibrationNode",
    "stereo_depth": "percept.nodes.stereo_depth:StereoDepthNode",
    "detector": "percept.nodes.detector:DetectorNode",
    "vio": "percept.nodes.vio:VioNode",
    "occupancy_map": "percept.nodes.occupancy_map:OccupancyMapNode",
}


def load_node_class(node_type: str) -> type[Node]:
    """Import and return the node class registered as ``node_type``.

    Raises:
        ConfigError: the type is not registered.
    """
    target = NODE_TYPES.get(node_type)
    if target is None:
        msg = f"unknown node type {node_type!r}; expected one of {sorted(NODE_TYPES)}"
        raise ConfigError(msg)
    module_name, class_name = target.split(":")
    cls: type[Node] = getattr(importlib.import_module(module_name), class_name)
    return cls
