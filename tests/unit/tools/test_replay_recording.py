"""What a replay records: every output, except large ones the robot file does not name."""

from __future__ import annotations

from pathlib import Path

from percept.runtime.local import resolve_topic
from percept.runtime.robot import load_robot
from percept.tools.replay import build_runtime, recorded_outputs


def test_clouds_and_debug_images_are_recorded_only_when_the_robot_file_names_them(
    repo_root: Path,
) -> None:
    robot = load_robot(repo_root / "config" / "robots" / "synth.yaml")
    runtime = build_runtime(robot, diagnostics=False)
    keep = {resolve_topic(t) for t in robot.record}
    recorded, left_out = recorded_outputs(runtime, keep)
    assert "/stereo/points2" in left_out  # stereo_depth's cloud: 69 % of the demo replay
    assert "/stereo/debug_image" in left_out  # vio's track image
    assert "/stereo/image_detections" in left_out
    assert {"/odom", "/map", "/stereo/disparity", "/stereo/depth", "/detections"} <= recorded
    assert not recorded & left_out
    # Named in the record list: recorded.
    recorded, left_out = recorded_outputs(runtime, keep | {"/stereo/points2"})
    assert "/stereo/points2" in recorded
    assert "/stereo/points2" not in left_out
