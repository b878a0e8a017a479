"""Multi-object tracking: a ByteTrack-style tracker over detector output."""

from percept.track.bytetrack import ByteTracker, TrackerConfig, TrackOutput, iou_matrix

__all__ = ["ByteTracker", "TrackOutput", "TrackerConfig", "iou_matrix"]
