"""Shared fixtures: where real data lives, and markers that skip cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from percept.io import data_dir as _data_dir

REPO = Path(__file__).resolve().parents[1]


def find_data_dir() -> Path | None:
    """The real-data folder: $PERCEPT_DATA, else ../shared/data beside the checkout."""
    return _data_dir.find_data_dir(REPO)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-baselines``: re-measure tests/regression/baselines.yaml (see there)."""
    parser.addoption(
        "--update-baselines",
        action="store_true",
        help="re-measure the regression cases and rewrite tests/regression/baselines.yaml",
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Real public data sets (see ../shared/data/README.md); skips when absent."""
    found = find_data_dir()
    if found is None:
        pytest.skip("real data not found: set PERCEPT_DATA or place it at ../shared/data")
    return found


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root folder."""
    return REPO


@pytest.fixture(autouse=True)
def _config_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Robot files resolve against this checkout wherever pytest runs from."""
    monkeypatch.setenv("PERCEPT_CONFIG_ROOT", str(REPO))
