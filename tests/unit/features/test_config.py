"""Front-end settings: declared once, validated at construction."""

from __future__ import annotations

import dataclasses

import pytest

from percept.errors import ConfigError
from percept.features import FeatureTrackerConfig, TriangulationConfig


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"klt_window_px": 20}, "klt_window_px must be odd"),
        ({"detector": "orb"}, "detector must be one of"),
        ({"min_disparity_px": 10.0, "max_disparity_px": 5.0}, "max_disparity_px"),
        ({"num_features": 0}, "num_features"),
        ({"ransac_confidence": 1.0}, "ransac_confidence"),
    ],
)
def test_tracker_config_raises_on_bad_values(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FeatureTrackerConfig(**changes)  # type: ignore[arg-type]


def test_triangulation_config_raises_on_bad_values() -> None:
    with pytest.raises(ConfigError, match="max_depth_m"):
        TriangulationConfig(min_depth_m=2.0, max_depth_m=1.0)


def test_every_setting_is_a_declared_parameter() -> None:
    for cls in (FeatureTrackerConfig, TriangulationConfig):
        for field in dataclasses.fields(cls):
            assert "percept.param" in field.metadata, field.name
    assert FeatureTrackerConfig().cell_quota == 8
