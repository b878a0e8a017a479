"""Where the real public data sets live: ``$PERCEPT_DATA``, else ``../shared/data``.

One rule for the CLI defaults (``percept bag from-intel-lab``) and the tests' ``data_dir``
fixture (tests/conftest.py), so both find the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PERCEPT_DATA_ENV", "checkout_root", "find_data_dir"]

#: Environment variable naming the real-data folder.
PERCEPT_DATA_ENV = "PERCEPT_DATA"


def checkout_root() -> Path:
    """The source checkout this package runs from (``src/percept/percept/io`` -> root)."""
    return Path(__file__).resolve().parents[4]


def find_data_dir(root: Path | None = None) -> Path | None:
    """The real-data folder: ``$PERCEPT_DATA``, else ``shared/data`` beside or in ``root``.

    Args:
        root: the checkout's root folder; :func:`checkout_root` when None.

    Returns:
        The first of ``$PERCEPT_DATA``, ``root/../shared/data``, ``root/shared/data`` that
        is a folder, or None.
    """
    root = checkout_root() if root is None else root
    env = os.environ.get(PERCEPT_DATA_ENV)
    candidates = [Path(env)] if env else []
    candidates += [root.parent / "shared" / "data", root / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None
