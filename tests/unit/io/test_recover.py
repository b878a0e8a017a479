"""Recovery of MCAP bags cut by a crash: every whole chunk before the cut is kept.

The expected messages are counted independently of ``percept.io.recover``: ``rosbags``
reads the chunk index (start offset, length, messages per channel) of the intact file;
the chunks that end before the cut hold the first K messages written.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2.storage_mcap import McapReader

from percept.cli.main import main
from percept.errors import BagError
from percept.io.bag import BagReader, summarize_bag
from percept.io.recover import recover_bag, scan_mcap

from .bags import Message, messages, read, write

N_MESSAGES = 400


def chunk_ends(path: Path) -> list[tuple[int, int]]:
    """(end offset, messages) of each chunk of an intact MCAP, by ``rosbags``."""
    reader = McapReader(path)
    reader.open()
    try:
        return [
            (c.chunk_start_offset + c.chunk_length, sum(c.channel_count.values()))
            for c in reader.chunks
        ]
    finally:
        reader.close()


def whole_before(path: Path, cut: int) -> int:
    """Messages in the chunks of ``path`` that end at or before byte ``cut``."""
    return sum(n for end, n in chunk_ends(path) if end <= cut)


@pytest.fixture(scope="module", params=["zstd", "none"])
def bag(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(f"bag_{request.param}")
    return write(folder / "full.mcap", messages(N_MESSAGES), compression=request.param)


def test_ten_random_cuts_keep_every_whole_chunk(
    bag: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bag.read_bytes()
    full = read(bag)
    ends = chunk_ends(bag)
    assert len(ends) >= 10
    assert sum(n for _, n in ends) == N_MESSAGES
    cuts = np.random.default_rng(20).integers(9, len(data), size=10)
    kept = []
    for cut in sorted(int(c) for c in cuts):
        damaged = tmp_path / f"cut_{cut}.mcap"
        damaged.write_bytes(data[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="percept.io.bag"):
            got = read(damaged)
        expected = whole_before(bag, cut)
        assert got == full[:expected], cut
        kept.append(len(got))
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, cut
        assert f"kept {expected} messages" in warnings[0].getMessage()
        assert "lost" in warnings[0].getMessage()
    assert kept == sorted(kept)
    assert 0 < max(kept)


def test_recover_writes_a_clean_bag(bag: Path, tmp_path: Path) -> None:
    data = bag.read_bytes()
    cut = len(data) * 3 // 5
    damaged = tmp_path / "damaged.mcap"
    damaged.write_bytes(data[:cut])
    out = tmp_path / "fixed.mcap"
    report = recover_bag(damaged, out)
    expected = whole_before(bag, cut)
    assert report.messages == expected
    assert report.damaged == ("damaged.mcap",)
    assert report.lost_bytes > 0
    with BagReader(out) as fixed:
        assert fixed.recovery is None  # a clean, indexed bag
        got = [(m.topic, m.log_time_ns, m.raw) for m in fixed.messages()]
    assert got == read(bag)[:expected]
    assert chunk_ends(out)  # rosbags reads its chunk index
    # Chunks are copied verbatim: the compression stays.
    assert scan_mcap(out).chunks[0].compression == scan_mcap(bag).chunks[0].compression
    with pytest.raises(BagError, match="exists already"):
        recover_bag(damaged, out)


def test_intact_bag_recovers_to_the_same_messages(bag: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.mcap"
    report = recover_bag(bag, out)
    assert report.damaged == ()
    assert report.messages == N_MESSAGES
    assert read(out) == read(bag)


def test_a_corrupt_chunk_in_the_middle_loses_only_itself(bag: Path, tmp_path: Path) -> None:
    reader = McapReader(bag)
    reader.open()
    chunk = reader.chunks[4]
    reader.close()
    data = bytearray(bag.read_bytes())
    # Overwrite the start of the chunk's records (zstd frame or first record header; the
    # chunk's own framing stays) and drop the footer.
    records = chunk.chunk_start_offset + 9 + 28 + 4 + len(chunk.compression) + 8
    data[records : records + 16] = b"\xff" * 16
    damaged = tmp_path / "corrupt.mcap"
    damaged.write_bytes(bytes(data[: len(data) - 100]))
    scan = scan_mcap(damaged)
    assert scan.corrupt_chunks == 1
    full = read(bag)
    lost = sum(chunk.channel_count.values())
    got = read(damaged)
    assert len(got) == N_MESSAGES - lost
    assert set(got) <= set(full)


def test_summary_cut_loses_nothing(bag: Path, tmp_path: Path) -> None:
    data = bag.read_bytes()
    damaged = tmp_path / "nofooter.mcap"
    damaged.write_bytes(data[:-20])
    assert read(damaged) == read(bag)
    assert scan_mcap(damaged).complete


def test_garbage_gives_a_bag_error_or_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    path = tmp_path / "garbage.mcap"
    for size in (0, 3, 100, 5000):
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        with pytest.raises(BagError, match=r"garbage\.mcap"):
            read(path)
    for size in (0, 9, 100, 5000):
        body = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        path.write_bytes(b"\x89MCAP0\r\n" + body)
        assert read(path) == []
    path.write_bytes(b"\x89MCAP0\r\n"[:5])
    with pytest.raises(BagError):
        read(path)


def split_folder(tmp_path: Path, compression: str) -> tuple[Path, list[Message], Path]:
    """A rosbag2 folder of two MCAP files, as ``ros2 bag record --max-bag-size`` leaves."""
    first, second = messages(200), messages(200, start_ns=1_000_000_000)
    a = write(tmp_path / "a", first, compression=compression)
    b = write(tmp_path / "b", second, compression=compression)
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(a / "a.mcap", folder / "run_0.mcap")
    shutil.copy(b / "b.mcap", folder / "run_1.mcap")
    meta = yaml.safe_load((a / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["relative_file_paths"] = ["run_0.mcap", "run_1.mcap"]
    info["message_count"] = 400
    info["duration"]["nanoseconds"] = second[-1][1] - first[0][1]
    for topic in info["topics_with_message_count"]:
        topic["message_count"] *= 2
    info["files"] = []
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return folder, first + second, folder / "run_1.mcap"


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_split_folder_with_its_last_file_cut(tmp_path: Path, compression: str) -> None:
    folder, msgs, last = split_folder(tmp_path, compression)
    assert read(folder) == msgs  # intact, the folder reads whole
    intact_last = tmp_path / "last.mcap"
    shutil.copy(last, intact_last)
    data = last.read_bytes()
    cut = len(data) // 2
    last.write_bytes(data[:cut])
    expected = 200 + whole_before(intact_last, cut)
    assert 200 < expected < 400
    with BagReader(folder) as bag:
        got = [(m.topic, m.log_time_ns, m.raw or b"") for m in bag.messages()]
        report = bag.recovery
    assert got == msgs[:expected]
    assert report is not None
    assert report.damaged == ("run_1.mcap",)
    assert report.lost_messages == 400 - expected  # metadata.yaml said 400
    _, facts = summarize_bag(folder)
    assert facts["messages"] == expected
    assert facts["truncated"] is True
    out = tmp_path / "fixed.mcap"
    assert recover_bag(folder, out).messages == expected
    assert read(out) == msgs[:expected]


def test_split_folder_without_metadata(tmp_path: Path) -> None:
    folder, msgs, last = split_folder(tmp_path, "zstd")
    (folder / "metadata.yaml").unlink()
    data = last.read_bytes()
    last.write_bytes(data[: len(data) - 50])  # footer gone, every chunk whole
    assert read(folder) == msgs


def test_cli_recover_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    msgs = messages(300)
    full = write(tmp_path / "full.mcap", msgs, compression="zstd")
    data = full.read_bytes()
    damaged = tmp_path / "cut.mcap"
    damaged.write_bytes(data[: len(data) // 2])
    expected = whole_before(full, len(data) // 2)
    assert main(["bag", "info", str(damaged)]) == 0
    text = capsys.readouterr().out
    assert "RECOVERED:" in text
    assert f"kept {expected} messages" in text
    out = tmp_path / "fixed.mcap"
    assert main(["bag", "recover", str(damaged), str(out)]) == 0
    assert f"kept {expected} messages" in capsys.readouterr().out
    assert read(out) == msgs[:expected]
    assert main(["bag", "recover", str(damaged), str(out)]) == 1  # exists: one-line error
    assert main(["bag", "recover", str(damaged), str(out), "--force"]) == 0
