"""Camera calibration: board detection, view selection, mono/stereo solvers, YAML I/O."""

from __future__ import annotations

__all__: list[str] = []
