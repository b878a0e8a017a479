"""Time synchronisation of several inputs, with ROS 2 message_filters semantics.

:class:`StampJoin` pairs two streams by nearest stamp, newest first (not message_filters).
"""

from __future__ import annotations

from percept.sync.approximate import ApproximateTimeSynchronizer, duration_s_to_ns
from percept.sync.exact import ExactTimeSynchronizer
from percept.sync.join import StampJoin

__all__ = [
    "ApproximateTimeSynchronizer",
    "ExactTimeSynchronizer",
    "StampJoin",
    "duration_s_to_ns",
]
