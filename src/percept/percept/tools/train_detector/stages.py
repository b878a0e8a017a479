"""The stage log (``OUT/stages.json``) and the validation curve drawn from it.

Every training run in an output folder (the first and each ``--resume`` of it) is a
segment: one entry of the JSON list, rewritten atomically at each checkpoint, so a run
killed without warning still leaves its entry up to the last checkpoint. An entry holds
the start and end time, wall and CPU minutes (process CPU time of the training steps,
all threads, validation and checkpoints left out), the steps it ran, the data seeds,
the validation scores measured on the way and, when asked, the test scores.

``curve`` draws validation mAP@0.5 against the cumulative training CPU minutes of a
stage and of the stages it was initialised from (``init``'s folder, recursively).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Final

import numpy as np

from percept.tools.train_detector.checkpoint import write_atomic

__all__ = ["STAGES_NAME", "StageLog", "curve", "load_stages", "record_test"]

logger = logging.getLogger(__name__)

#: The stage log's file name inside the output folder.
STAGES_NAME: Final = "stages.json"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def load_stages(out_dir: Path) -> list[dict[str, Any]]:
    """The segments of ``out_dir/stages.json`` (empty when there is none)."""
    path = out_dir / STAGES_NAME
    if not path.is_file():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


def record_test(out_dir: Path, metrics: dict[str, Any]) -> None:
    """Put the test scores into the last segment of ``out_dir/stages.json``.

    The held-out seeds are meant to be scored once per stage: a second score is
    recorded too, with a warning.
    """
    entries = load_stages(out_dir)
    if not entries:
        msg = f"{out_dir}: no stages.json to record test scores in"
        raise FileNotFoundError(msg)
    if any(e.get("test") for e in entries):
        logger.warning("%s: the test seeds were scored before in this stage", out_dir)
    entries[-1]["test"] = metrics
    write_atomic(out_dir / STAGES_NAME, json.dumps(entries, indent=2).encode("utf-8"))


class StageLog:
    """The entry of the running segment in ``OUT/stages.json``.

    Args:
        out_dir: the output folder.
        fields: what the entry starts with (configuration summary, steps, init).
    """

    def __init__(self, out_dir: Path, fields: dict[str, Any]) -> None:
        self.path = out_dir / STAGES_NAME
        self._earlier = load_stages(out_dir)
        self.entry: dict[str, Any] = {
            "segment": len(self._earlier) + 1,
            "start": _now(),
            "end": None,
            "status": "running",
            **fields,
            "val": [],
            "test": None,
        }
        self.write()

    def update(self, **values: Any) -> None:
        """Set fields of the entry, stamp its end time and rewrite the file."""
        self.entry.update(values)
        self.write()

    def add_val(self, point: dict[str, Any]) -> None:
        """Append one validation point and rewrite the file."""
        self.entry["val"].append(point)
        self.write()

    def write(self) -> None:
        """Rewrite ``stages.json`` with the earlier segments and this one (atomically)."""
        self.entry["end"] = _now()
        text = json.dumps([*self._earlier, self.entry], indent=2)
        write_atomic(self.path, text.encode("utf-8"))


def _chain(out_dir: Path, depth: int = 0) -> list[tuple[str, list[dict[str, Any]]]]:
    """(stage folder, segments) of ``out_dir`` after those of the stages it started from."""
    segments = load_stages(out_dir)
    if not segments or depth > 8:
        return [(out_dir.name, segments)] if segments else []
    init = segments[0].get("init")
    before: list[tuple[str, list[dict[str, Any]]]] = []
    if init:
        parent = Path(init).parent
        if parent.resolve() != out_dir.resolve():
            before = _chain(parent, depth + 1)
    return [*before, (out_dir.name, segments)]


def curve(out_dir: Path, png: Path) -> Path | None:
    """Validation mAP@0.5 against training CPU minutes of ``out_dir``'s stages as a PNG.

    Stages that ``out_dir`` was initialised from come first, each later one offset by
    the CPU minutes of those before. Returns None when there are no validation points.
    """
    from percept.eval.pictures import line_plot

    series = []
    offset = 0.0
    for name, segments in _chain(out_dir):
        points = [p for s in segments for p in s.get("val", [])]
        if points:
            x = offset + np.array([p["cpu_minutes"] for p in points], np.float64)
            y = np.array([p["map_50"] for p in points], np.float64)
            series.append((x, y, name))
        ends = [float(s.get("cpu_minutes_total", 0.0)) for s in segments]
        offset += max(ends, default=0.0)
    if not series:
        logger.warning("%s: no validation points to draw", out_dir)
        return None
    line_plot(
        png,
        series,
        title="validation mAP@0.5",
        xlabel="training CPU minutes (all threads)",
        ylabel="mAP@0.5",
    )
    logger.info("curve: %s", png)
    return png
