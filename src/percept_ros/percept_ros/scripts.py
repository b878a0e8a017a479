"""Console-script entry points: one ``percept_<type>`` executable per node type.

The list of scripts lives in ``setup.py`` (``NODE_TYPES``); a unit test checks that it
equals :data:`percept.nodes.NODE_TYPES` and that each has its function here.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = [
    "THREADS_ENV",
    "calibration",
    "debayer",
    "detector",
    "main",
    "rectify",
    "resize",
    "stereo_depth",
    "stereo_rectify",
    "vio",
]

#: OpenCV threads of the process, set by the launch file from the robot file's
#: ``threads`` (0 or unset: OpenCV's default).
THREADS_ENV = "PERCEPT_THREADS"

logger = logging.getLogger(__name__)


def _apply_threads() -> None:
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return
    try:
        threads = int(text)
    except ValueError:
        logger.warning("%s=%r is not an integer; keeping OpenCV's thread count", THREADS_ENV, text)
        return
    if threads > 0:
        import cv2

        cv2.setNumThreads(threads)


def main(node_type: str, args: list[str] | None = None) -> int:
    """Run ``node_type`` (a key of ``percept.nodes.NODE_TYPES``) as a ROS 2 node.

    Args:
        node_type: the node type.
        args: command line for ``rclpy.init``; default ``sys.argv``.

    Returns:
        Exit status.
    """
    _apply_threads()
    from percept_ros.adapter import run  # imports rclpy: only when a node really runs

    return run(node_type, sys.argv if args is None else args)


def debayer() -> int:
    """``percept_debayer``."""
    return main("debayer")


def resize() -> int:
    """``percept_resize``."""
    return main("resize")


def rectify() -> int:
    """``percept_rectify``."""
    return main("rectify")


def stereo_rectify() -> int:
    """``percept_stereo_rectify``."""
    return main("stereo_rectify")


def calibration() -> int:
    """``percept_calibration``."""
    return main("calibration")


def stereo_depth() -> int:
    """``percept_stereo_depth``."""
    return main("stereo_depth")


def detector() -> int:
    """``percept_detector``."""
    return main("detector")


def vio() -> int:
    """``percept_vio``."""
    return main("vio")


def occupancy_map() -> int:
    """``percept_occupancy_map``."""
    return main("occupancy_map")
