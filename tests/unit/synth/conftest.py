"""Shared synthetic scenes and sequences (built once per session: each takes ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from percept.synth.generate import SynthConfig, SynthResult, default_rig, generate
from percept.synth.scene import Scene, build_warehouse

SMALL = {"width": 160, "height": 120}


@pytest.fixture(scope="session")
def scene0() -> Scene:
    return build_warehouse(0)


@pytest.fixture(scope="session")
def scene1() -> Scene:
    return build_warehouse(1)


def small_config(seed: int = 0, **changes: object) -> SynthConfig:
    """A 1.5 s, 160x120 sequence: what the bag tests replay."""
    fields: dict[str, object] = {
        "seconds": 1.5,
        "seed": seed,
        "rig": default_rig("ground", **SMALL),
    }
    fields.update(changes)
    return SynthConfig(**fields)  # type: ignore[arg-type]


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
