"""The Intel Lab scans through the ``intel_lab`` robot: the node's map is the core's map.

Real data (skipped without ../shared/data): the first 150 scans are written as a bag,
replayed through ``config/robots/intel_lab.yaml`` (occupancy_map on /scan with the poses
from TF), and the last published map is compared cell by cell with the same scans
inserted straight into ``OccupancyMap2D`` by ``percept.tools.intel_lab_map``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percept import codecs
from percept.domain import OccupancyGrid
from percept.eval.occupancy import resample_grid
from percept.io.bag import BagReader
from percept.io.intel_lab import (
    INTEL_LAB_FILE,
    INTEL_LAB_FOLDER,
    load_intel_lab,
    scan_stamps_ns,
    write_intel_lab_bag,
)
from percept.io.typestore import get_typestore
from percept.runtime.robot import load_robot
from percept.tools.intel_lab_map import build_intel_lab_map
from percept.tools.replay import replay

N_SCANS = 150


def _last_map(path: Path) -> OccupancyGrid:
    store = get_typestore()
    last = None
    with BagReader(path) as reader:
        for m in reader.messages(["/map"]):
            last = m
    assert last is not None
    grid = codecs.decode(last.msgtype, store.deserialize_cdr(last.raw, last.msgtype))
    assert isinstance(grid, OccupancyGrid)
    return grid


@pytest.mark.slow
def test_intel_lab_robot_maps_the_scans_as_the_core_does(
    data_dir: Path, tmp_path: Path, repo_root: Path
) -> None:
    path = data_dir / INTEL_LAB_FOLDER / INTEL_LAB_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found (see ../shared/data/README.md)")
    data = load_intel_lab(path)
    bag = tmp_path / "intel.mcap"
    # 2 Hz stamps: the node publishes once per second, so the last map holds every scan.
    write_intel_lab_bag(data, bag, rate_hz=2.0)
    robot = load_robot(repo_root / "config" / "robots" / "intel_lab.yaml")
    replay(bag, tmp_path / "run.mcap", robot, duration_s=(N_SCANS - 0.5) / 2.0)
    node_map = _last_map(tmp_path / "run.mcap")
    assert node_map.header.frame_id == "map"

    # The map published last holds the scans before its stamp (the timer fires as the
    # clock reaches a scan's stamp, before that scan is taken).
    stamps = scan_stamps_ns(data.n_scans, 2.0)
    inserted = int(np.count_nonzero(stamps < node_map.header.stamp_ns))
    assert N_SCANS - 2 <= inserted <= N_SCANS
    core = build_intel_lab_map(data, indices=np.arange(inserted))
    core_map = core.to_occupancy_grid("map", 0)
    node_on_core = resample_grid(node_map, core_map)
    known = np.asarray(core_map.data) >= 0
    assert known.sum() > 50_000
    np.testing.assert_array_equal(node_on_core[known], np.asarray(core_map.data)[known])
