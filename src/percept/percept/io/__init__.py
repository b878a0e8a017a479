"""Reading and writing recorded data, beside the codecs: bags, the typestore, image sources.

:mod:`~percept.io.bag` reads rosbag2 (sqlite3, MCAP) and ROS 1 bags and writes MCAP with
``rosbags``; :mod:`~percept.io.typestore` is the rosbags typestore with the packaged
vision_msgs definitions (``msg/``); :mod:`~percept.io.sources` and
:mod:`~percept.io.image_files` read images from folders and from image topics of bags
for calibration and offline detection.
"""

__all__ = ["bag", "image_files", "sources", "typestore"]
