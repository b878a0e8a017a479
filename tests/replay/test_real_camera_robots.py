"""Real-camera robots replay bags under their drivers' topic and frame names.

EuRoC MH_01 (real stereo + IMU, ``data_dir``) is written as a bag (``percept bag
from-euroc``), rewritten with each driver's topics, frames and kind of image (``percept
bag as-driver``: RealSense and ZED rectified, OAK-D raw with R and P), and replayed
through the robot file's whole graph: every node receives its inputs and publishes,
vio publishes /odom and the occupancy map is published.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from percept.domain import DiagnosticStatus
from percept.io.bag import BagReader
from percept.io.euroc import write_euroc_bag
from percept.runtime.robot import load_robot, with_parameters
from percept.tools.driver_topics import DRIVERS, as_driver
from percept.tools.replay import replay

pytestmark = pytest.mark.slow  # replays real data through three robot graphs (~40 s)

#: robot, driver, output size (None: the source's), vio calibration_dir override.
CASES = [
    ("realsense_d435i", "realsense", (848, 480), None),
    ("zed2i", "zed", (640, 360), None),
    # The raw OAK-D images keep EuRoC's rectification: vio needs the matching left.yaml.
    ("oakd", "oakd", None, "calibration/euroc"),
]

#: node name -> the inputs that must have arrived.
NODE_INPUTS = {
    "stereo_rectify": ("left_image", "right_image"),
    "stereo_depth": ("left_image", "right_image"),
    "detector": ("image",),
    "vio": ("imu", "left_image"),
    "occupancy_map": ("points",),
}

# /stereo/points2 is published (occupancy_map receives it) but not recorded: large outputs
# are recorded only when a robot file names them.
OUTPUTS = ("/stereo/disparity", "/stereo/depth", "/detections", "/odom")
OUTPUTS += ("/path", "/tf", "/map")


@pytest.fixture(scope="module")
def euroc_bag(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = data_dir / "vi_moving_euroc_mh01"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    out = tmp_path_factory.mktemp("euroc") / "mh01.mcap"
    write_euroc_bag(folder, out, start_s=1.0, duration_s=2.0)
    return out


def _values(status: DiagnosticStatus) -> dict[str, str]:
    return dict(status.values)


@pytest.mark.parametrize(("robot_name", "driver", "size", "calibration"), CASES)
def test_real_camera_robot_replays_driver_bag(
    euroc_bag: Path,
    tmp_path: Path,
    robot_name: str,
    driver: str,
    size: tuple[int, int] | None,
    calibration: str | None,
    monkeypatch: pytest.MonkeyPatch,
    repo_root: Path,
) -> None:
    monkeypatch.chdir(repo_root)  # calibration_dir is relative to the project folder
    names = DRIVERS[driver]
    bag = as_driver(euroc_bag, tmp_path / f"{driver}.mcap", driver, size=size)
    assert set(bag.counts) >= {names.left_image, names.right_image, names.imu, "/tf_static"}
    robot = load_robot(robot_name)
    if calibration is not None:
        robot = with_parameters(robot, {"vio.calibration_dir": calibration})
    graph_inputs = {v for n in robot.nodes for v in n.remappings.values()}
    assert {names.left_image, names.left_info, names.right_image, names.imu} <= graph_inputs

    result = replay(bag.path, tmp_path / "run.mcap", robot)

    for topic in OUTPUTS:
        assert result.written.get(topic, 0) > 0, (robot_name, topic, result.written)
    by_node = {d.name: d for d in result.diagnostics}
    assert set(by_node) == {n.name for n in robot.nodes}
    for node in robot.nodes:
        status = by_node[node.name]
        assert status.level < 2, (node.name, status.message)
        values = _values(status)
        for key in NODE_INPUTS[node.node_type]:
            assert int(values[f"{key}.received"]) > 0, (node.name, key, values)
            assert int(values[f"{key}.rejected"]) == 0, (node.name, key, values)
    with BagReader(result.out_path) as out:
        topics = out.topics()
    assert topics["/odom"] == "nav_msgs/msg/Odometry"
    assert topics["/map"] == "nav_msgs/msg/OccupancyGrid"
    # vio's pose output covers most frames once it has initialised.
    frames = bag.counts[names.left_image]
    assert result.written["/odom"] >= frames // 2
