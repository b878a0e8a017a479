"""BagWriter's compression and chunking, and what ``percept bag info`` says about them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rosbags.rosbag2.storage_mcap import McapReader

from percept.cli.main import main
from percept.errors import BagError
from percept.io.bag import BagWriter, storage_facts, summarize_bag

from .bags import STRING, messages, read, write


def chunks_of(path: Path) -> list[str]:
    reader = McapReader(path)
    reader.open()
    try:
        return [c.compression for c in reader.chunks]
    finally:
        reader.close()


def test_zstd_is_the_default_and_round_trips(tmp_path: Path) -> None:
    msgs = messages(400)
    path = tmp_path / "z.mcap"
    with BagWriter(path) as w:
        for topic, t, raw in msgs:
            w.write(topic, STRING, t, raw)
    assert set(chunks_of(path)) == {"zstd"}
    assert read(path) == msgs


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_small_chunks_round_trip(tmp_path: Path, compression: str) -> None:
    msgs = messages(300)
    path = write(tmp_path / "c.mcap", msgs, compression=compression, chunk_bytes=2048)
    kinds = chunks_of(path)
    assert len(kinds) >= 10
    assert set(kinds) == {"zstd" if compression == "zstd" else ""}
    assert read(path) == msgs


def test_compression_shrinks_and_is_deterministic(tmp_path: Path) -> None:
    msgs = messages(500)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write(tmp_path / "a" / "x.mcap", msgs, compression="zstd", chunk_bytes=1 << 20)
    b = write(tmp_path / "b" / "x.mcap", msgs, compression="zstd", chunk_bytes=1 << 20)
    plain = write(tmp_path / "p.mcap", msgs, compression="none", chunk_bytes=1 << 20)
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size < plain.stat().st_size / 3


def test_folder_output_is_compressed(tmp_path: Path) -> None:
    msgs = messages(50)
    folder = write(tmp_path / "run", msgs, compression="zstd")
    assert (folder / "metadata.yaml").exists()
    assert read(folder) == msgs
    assert storage_facts(folder)["compression"] == "zstd"


def test_environment_turns_compression_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCEPT_BAG_COMPRESSION", "none")
    assert BagWriter(tmp_path / "x.mcap").compression == "none"
    monkeypatch.setenv("PERCEPT_BAG_COMPRESSION", "lzma")
    with pytest.raises(BagError, match="compression must be one of"):
        BagWriter(tmp_path / "x.mcap")


def test_bad_chunk_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="chunk_bytes"):
        BagWriter(tmp_path / "x.mcap", chunk_bytes=0)
    with pytest.raises(BagError, match="chunk_bytes"):
        BagWriter(tmp_path / "x.mcap", chunk_bytes=2 << 20)


def test_info_shows_storage_compression_and_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msgs = messages(300)
    path = write(tmp_path / "i.mcap", msgs, compression="zstd")
    summaries, facts = summarize_bag(path)
    assert facts["storage"] == "MCAP"
    assert facts["compression"] == "zstd"
    assert facts["chunks"] == len(chunks_of(path))
    assert facts["file_bytes"] == path.stat().st_size
    by_topic = {s.topic: s for s in summaries}
    assert by_topic["/a"].bytes == sum(len(r) for t, _, r in msgs if t == "/a")
    assert by_topic["/a"].share + by_topic["/b"].share == pytest.approx(1.0)
    assert by_topic["/a"].share == pytest.approx(2 / 3, abs=0.01)

    assert main(["bag", "info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "compression zstd" in text
    assert f"chunks:    {facts['chunks']}," in text
    assert "share" in text
    assert "66.7%" in text
    assert main(["bag", "info", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["compression"] == "zstd"
    assert doc["chunks"] == facts["chunks"]
    assert {t["topic"]: t["bytes"] for t in doc["topics"]}["/a"] == by_topic["/a"].bytes

    plain = write(tmp_path / "p.mcap", msgs, compression="none")
    assert storage_facts(plain)["compression"] == "none"
