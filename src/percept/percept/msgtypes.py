"""ROS 2 message type names of the messages Percept reads and writes, in one place.

Nodes declare their topics with these (``Input("image", "image", IMAGE, ...)``), and
codecs, bags and tools name the same types; nothing here imports ROS.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CAMERA_INFO",
    "COMPRESSED_IMAGE",
    "DETECTION2D_ARRAY",
    "DETECTION3D_ARRAY",
    "DIAGNOSTIC_ARRAY",
    "DISPARITY_IMAGE",
    "IMAGE",
    "IMU",
    "LASER_SCAN",
    "MARKER_ARRAY",
    "OCCUPANCY_GRID",
    "ODOMETRY",
    "PATH",
    "POINT_CLOUD2",
    "POSE_STAMPED",
    "TF_MESSAGE",
    "TRANSFORM_STAMPED",
]

IMAGE: Final = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE: Final = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO: Final = "sensor_msgs/msg/CameraInfo"
IMU: Final = "sensor_msgs/msg/Imu"
LASER_SCAN: Final = "sensor_msgs/msg/LaserScan"
POINT_CLOUD2: Final = "sensor_msgs/msg/PointCloud2"
DISPARITY_IMAGE: Final = "stereo_msgs/msg/DisparityImage"
ODOMETRY: Final = "nav_msgs/msg/Odometry"
PATH: Final = "nav_msgs/msg/Path"
OCCUPANCY_GRID: Final = "nav_msgs/msg/OccupancyGrid"
POSE_STAMPED: Final = "geometry_msgs/msg/PoseStamped"
TRANSFORM_STAMPED: Final = "geometry_msgs/msg/TransformStamped"
TF_MESSAGE: Final = "tf2_msgs/msg/TFMessage"
DETECTION2D_ARRAY: Final = "vision_msgs/msg/Detection2DArray"
DETECTION3D_ARRAY: Final = "vision_msgs/msg/Detection3DArray"
DIAGNOSTIC_ARRAY: Final = "diagnostic_msgs/msg/DiagnosticArray"
MARKER_ARRAY: Final = "visualization_msgs/msg/MarkerArray"
