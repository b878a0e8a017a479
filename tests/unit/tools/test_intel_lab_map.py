"""Tests of percept.tools.intel_lab_map: the Intel Lab map, its wall thickness and loop gap."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from percept.errors import EvalError
from percept.io.intel_lab import INTEL_LAB_FILE, INTEL_LAB_FOLDER, IntelLabData, load_intel_lab
from percept.tools.intel_lab_map import (
    build_intel_lab_map,
    intel_lab_map,
    loop_split,
    map_window,
    register_maps,
    wall_thickness,
)

REFERENCE = "ogm_intel_reference_render.png"


@pytest.fixture(scope="module")
def intel(data_dir: Path) -> IntelLabData:
    path = data_dir / INTEL_LAB_FOLDER / INTEL_LAB_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found (see ../shared/data/README.md)")
    return load_intel_lab(path)


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_wall_thickness_is_exact_for_axis_aligned_walls(width: int) -> None:
    mask = np.zeros((60, 80), dtype=bool)
    mask[10 : 10 + width, 5:75] = True  # a wall along x
    mask[20:55, 30 : 30 + width] = True  # one along y
    result = wall_thickness(mask, 0.05)
    assert result.median_cells == pytest.approx(width)
    assert result.median_m == pytest.approx(width * 0.05)


def test_wall_thickness_raises_on_an_empty_map() -> None:
    with pytest.raises(EvalError, match="no occupied cell"):
        wall_thickness(np.zeros((4, 4), bool), 0.05)
    with pytest.raises(ValueError, match="upsample must be even"):
        wall_thickness(np.ones((4, 4), bool), 0.05, upsample=3)


def test_register_maps_recovers_a_known_warp(intel: IntelLabData) -> None:
    occupancy = build_intel_lab_map(intel, indices=np.arange(60))
    with np.errstate(invalid="ignore"):
        a = (map_window(occupancy, (0.0, 0.0), 16.0) >= 0.65).astype(np.float32)
    n = a.shape[0]
    centre = ((n - 1) / 2, (n - 1) / 2)
    M = cv2.getRotationMatrix2D(centre, 1.0, 1.0)
    M[:, 2] += (4.0, -6.0)
    b = cv2.warpAffine(a, M, (n, n), flags=cv2.INTER_NEAREST)
    W, rho = register_maps(a, b)
    moved = W[:, :2] @ np.array(centre) + W[:, 2]
    np.testing.assert_allclose(moved - centre, (4.0, -6.0), atol=0.05)  # cells
    assert math.degrees(math.atan2(-W[1, 0], W[0, 0])) == pytest.approx(1.0, abs=0.05)
    assert rho > 0.95


def test_loop_split_finds_the_first_return_to_the_start(intel: IntelLabData) -> None:
    j = loop_split(intel)
    assert j == 67
    assert math.hypot(intel.x_m[j], intel.y_m[j]) <= 2.0


def test_intel_lab_map_figures(intel: IntelLabData, data_dir: Path, tmp_path: Path) -> None:
    reference = data_dir / INTEL_LAB_FOLDER / REFERENCE
    figures = intel_lab_map(intel, reference_png=reference, out_png=tmp_path / "intel.png")
    assert figures.scans == 743
    assert figures.occupied_cells > 5_000
    # Walls of a laser map at 5 cm: one or two cells thick.
    assert 1.0 <= figures.wall.median_cells <= 2.0
    assert figures.wall.p90_cells <= 4.0
    # Corrected poses: the revisits' map lies on the first pass's within a few cm.
    assert figures.loop.split_index == 67
    assert figures.loop.gap_m < 0.05
    assert abs(figures.loop.rotation_deg) < 0.5
    assert figures.picture is not None
    picture = cv2.imread(str(figures.picture))
    assert picture.shape == (1240, 2480, 3)
