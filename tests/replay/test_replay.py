"""Replay: deterministic output, bag info, foreign and damaged bags."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from percept.cli.main import main
from percept.errors import BagError
from percept.io.bag import BagReader, summarize_bag
from percept.runtime.robot import load_robot
from percept.tools.demo import make_pattern_bag
from percept.tools.replay import replay

pytestmark = pytest.mark.slow  # replays bags through robots


@pytest.fixture(scope="module")
def pattern_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bags") / "pattern.mcap"
    return make_pattern_bag(path, seconds=1.0, rate_hz=10.0, width=64, height=48)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _messages(path: Path, skip: tuple[str, ...] = ()) -> list[tuple[str, int, bytes]]:
    with BagReader(path) as bag:
        return [
            (m.topic, m.log_time_ns, m.raw or b"") for m in bag.messages() if m.topic not in skip
        ]


def test_replay_twice_gives_identical_bytes(pattern_bag: Path, tmp_path: Path) -> None:
    robot = load_robot("example")
    # The bag's own metadata names its file, so both runs write "out.mcap".
    a = replay(pattern_bag, tmp_path / "1" / "out.mcap", robot, diagnostics=False)
    b = replay(pattern_bag, tmp_path / "2" / "out.mcap", robot, diagnostics=False)
    assert a.written == b.written
    assert a.written["/camera/resize/image_raw"] == 10
    assert a.written["/camera/image_color"] == 10
    assert _digest(tmp_path / "1" / "out.mcap") == _digest(tmp_path / "2" / "out.mcap")


def test_replay_with_diagnostics_differs_only_in_diagnostics(
    pattern_bag: Path, tmp_path: Path
) -> None:
    robot = load_robot("example")
    a = replay(pattern_bag, tmp_path / "a.mcap", robot)
    replay(pattern_bag, tmp_path / "b.mcap", robot)
    assert a.written["/diagnostics"] >= 2
    skip = ("/diagnostics",)
    assert _messages(tmp_path / "a.mcap", skip) == _messages(tmp_path / "b.mcap", skip)
    assert all(s.message == "ok" for s in a.diagnostics)


def test_replay_keeps_requested_inputs_and_honours_window(
    pattern_bag: Path, tmp_path: Path
) -> None:
    robot = load_robot("example")
    result = replay(
        pattern_bag,
        tmp_path / "w.mcap",
        robot,
        keep_inputs=["/camera/image_raw"],
        start_s=0.2,
        duration_s=0.5,
        diagnostics=False,
    )
    # Frames at 0.2 .. 0.6 s (stop is exclusive at 0.7 s).
    assert result.written["/camera/image_raw"] == 5
    assert result.written["/camera/camera_info"] == 5  # record: in the robot file


def test_bag_info_reads_replay_output(
    pattern_bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.mcap"
    argv = ["--quiet", "replay", str(pattern_bag), "--robot", "example", "--out", str(out)]
    assert main(argv) == 0
    assert main(["bag", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "/camera/resize/image_raw" in text
    assert "sensor_msgs/msg/Image" in text
    summaries, facts = summarize_bag(out)
    by_topic = {s.topic: s for s in summaries}
    assert by_topic["/camera/image_mono"].count == 10
    assert by_topic["/camera/image_mono"].rate_hz == pytest.approx(10.0)
    assert facts["truncated"] is False


def test_bag_info_reports_gaps(tmp_path: Path) -> None:
    from percept.io.bag import BagWriter

    path = tmp_path / "gappy.mcap"
    with BagWriter(path) as w:
        for t in [0, 100, 200, 300, 1300, 1400]:
            empty_string_cdr = b"\x00\x01\x00\x00\x01\x00\x00\x00\x00"
            w.write("/x", "std_msgs/msg/String", t * 1_000_000, empty_string_cdr)
    summaries, _ = summarize_bag(path)
    assert summaries[0].count == 6
    assert summaries[0].gaps == [(300_000_000, 1.0)]


def test_replay_reads_foreign_rosbag2_bags(data_dir: Path, tmp_path: Path) -> None:
    bags = data_dir / "ros_bags"
    if not bags.is_dir():
        pytest.skip(f"{bags} not present")
    robot = load_robot("example")
    # sqlite3 bag written by rosbags (evo) and a 5-file split MCAP bag written by rosbag2.
    expected = {
        "evo_tf_example_ros2": {"/tf": 517, "/tf_static": 1},
        "rosbag2_mcap_wbag": {"/AAA": None},
    }
    for name, counts in expected.items():
        result = replay(bags / name, tmp_path / f"{name}.mcap", robot, keep_inputs=list(counts))
        for topic, count in counts.items():
            assert result.written[topic] == (count or result.written[topic]) > 0, name
    summaries, _ = summarize_bag(bags / "evo_ros1" / "tf_example.bag")
    assert {s.topic for s in summaries} >= {"/tf", "/tf_static"}


def test_replay_reads_a_truncated_mcap_up_to_the_cut(
    pattern_bag: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A recorder killed mid-write leaves an MCAP without its footer; replay reads every
    # whole chunk before the cut (percept.io.recover) and warns once with what was lost.
    damaged = tmp_path / "damaged.mcap"
    data = pattern_bag.read_bytes()
    damaged.write_bytes(data[: len(data) * 2 // 3])
    with BagReader(damaged) as bag:
        frames = sum(1 for _ in bag.messages(["/camera/image_raw"]))
    assert frames > 0
    caplog.clear()
    result = replay(damaged, tmp_path / "out.mcap", load_robot("example"), diagnostics=False)
    assert result.written["/camera/resize/image_raw"] == frames
    assert sum("damaged MCAP" in r.getMessage() for r in caplog.records) == 1
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"not a bag" * 10)
    with pytest.raises(BagError, match=r"garbage\.mcap: cannot open bag"):
        replay(garbage, tmp_path / "out2.mcap", load_robot("example"), diagnostics=False)


def test_replay_raises_on_missing_bag(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="no such bag"):
        replay(tmp_path / "nope.mcap", tmp_path / "o.mcap", load_robot("example"))


def test_cli_reports_known_errors_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    status = main(
        [
            "replay",
            str(tmp_path / "nope.mcap"),
            "--robot",
            "example",
            "--out",
            str(tmp_path / "o.mcap"),
        ]
    )
    assert status == 1
    assert "no such bag" in caplog.text


def test_replay_copies_bag_folder_input(pattern_bag: Path, tmp_path: Path) -> None:
    folder = tmp_path / "folder_bag"
    from percept.io.bag import BagWriter

    with BagReader(pattern_bag) as src, BagWriter(folder) as dst:
        for m in src.messages():
            dst.write(m.topic, m.msgtype, m.log_time_ns, m.raw or b"")
    assert (folder / "metadata.yaml").is_file()
    result = replay(folder, tmp_path / "f.mcap", load_robot("example"), diagnostics=False)
    assert result.written["/camera/image_mono"] == 10
    shutil.rmtree(folder)


def test_missing_inputs_warning_leaves_out_what_other_nodes_publish(
    pattern_bag: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The pattern bag has no stereo pair: the synth robot's camera inputs are missing,
    # but occupancy_map's /stereo/points2 comes from stereo_depth, recorded or not.
    robot = load_robot("synth")
    assert "/stereo/points2" not in robot.record  # a large output, left out of the bag
    with caplog.at_level("WARNING", logger="percept.tools.replay"):
        replay(pattern_bag, tmp_path / "s.mcap", robot, duration_s=0.2, diagnostics=False)
    (line,) = [r.getMessage() for r in caplog.records if "not in the bag" in r.getMessage()]
    assert "/imu/data" in line
    assert "/stereo/points2" not in line
