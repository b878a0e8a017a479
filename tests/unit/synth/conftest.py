"""Shared synthetic scenes and sequences (built once per session: each takes ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from percept.synth.generate import SynthResult, generate
from percept.synth.scene import Scene
from percept.synth.warehouse import build_warehouse

from .synth_helpers import small_config


@pytest.fixture(scope="session")
def scene0() -> Scene:
    return build_warehouse(0)


@pytest.fixture(scope="session")
def scene1() -> Scene:
    return build_warehouse(1)


@pytest.fixture(scope="session")
def small_bag(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    root = tmp_path_factory.mktemp("synth")
    return generate(
        root / "seed0.mcap",
        small_config(0),
        calib_dir=root / "calibration",
        config_dir=root / "config",
    )


@pytest.fixture(scope="session")
def small_bag_path(small_bag: SynthResult) -> Path:
    return small_bag.bag
