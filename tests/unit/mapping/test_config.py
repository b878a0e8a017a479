"""Tests of percept.mapping.config."""

from __future__ import annotations

import dataclasses

import pytest

from percept.mapping.config import MappingConfig, logit
from percept.params import ConfigParameters


def test_defaults_are_octomaps_log_odds() -> None:
    cfg = MappingConfig()
    assert cfg.log_odds_hit == pytest.approx(0.847, abs=1e-3)
    assert cfg.log_odds_miss == pytest.approx(-0.405, abs=1e-3)
    assert cfg.log_odds_min == pytest.approx(-2.0, abs=1e-3)
    assert cfg.log_odds_max == pytest.approx(3.5, abs=0.02)
    assert logit(0.5) == 0.0


def test_every_field_is_a_declared_parameter() -> None:
    params = ConfigParameters(MappingConfig).parameters
    assert [p.name for p in params] == [f.name for f in dataclasses.fields(MappingConfig)]
    assert all(p.description for p in params)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("resolution_m", 0.0),
        ("resolution_m", float("nan")),
        ("prob_hit", 0.5),
        ("prob_miss", 0.6),
        ("clamp_min", 0.0),
        ("clamp_max", 1.0),
        ("max_range_m", -1.0),
        ("max_height_m", 0.0),
        ("decay_model", "quadratic"),
        ("initial_size_m", -1.0),
    ],
)
def test_config_raises_on_bad_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        MappingConfig(**{field: value})  # type: ignore[arg-type]


def test_config_raises_on_decay_model_without_time() -> None:
    with pytest.raises(ValueError, match="decay_s"):
        MappingConfig(decay_model="linear", decay_s=0.0)
    assert MappingConfig(decay_model="exponential", decay_s=2.0).decay_s == 2.0
