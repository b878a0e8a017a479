"""Time synchronisation of several inputs, with ROS 2 message_filters semantics."""

from __future__ import annotations

from percept.sync.approximate import ApproximateTimeSynchronizer, duration_s_to_ns
from percept.sync.exact import ExactTimeSynchronizer

__all__ = ["ApproximateTimeSynchronizer", "ExactTimeSynchronizer", "duration_s_to_ns"]
