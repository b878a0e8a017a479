"""ament_python package percept_ros: the rclpy adapter and one console script per node."""

from __future__ import annotations

from setuptools import setup

PACKAGE = "percept_ros"

#: Node types with a ``percept_<type>`` console script (``percept_ros.scripts.<type>``).
#: Must equal the keys of ``percept.nodes.NODE_TYPES`` (tests/unit checks it); kept as a
#: literal because percept need not be importable when colcon builds this package.
NODE_TYPES = (
    "debayer",
    "resize",
    "rectify",
    "stereo_rectify",
    "calibration",
    "stereo_depth",
    "detector",
    "vio",
    "occupancy_map",
)

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", ["launch/perception.launch.py", "launch/replay.launch.py"]),
        (f"share/{PACKAGE}/rviz", ["rviz/percept.rviz"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Percept developers",
    maintainer_email="percept@example.org",
    description="rclpy adapter of the Percept perception stack",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            *(f"percept_{node_type} = {PACKAGE}.scripts:{node_type}" for node_type in NODE_TYPES),
            f"percept_graph_process = {PACKAGE}.graph_process:main",
        ],
    },
)
