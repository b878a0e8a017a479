"""The track debug image."""

from __future__ import annotations

import numpy as np

from percept.features import draw_tracks

from .conftest import TrackedSequence


def test_draw_tracks_colours_tracks_and_stereo_matches(tracked: TrackedSequence) -> None:
    left, right = tracked.lefts[-1], tracked.rights[-1]
    frame, previous = tracked.frames[-1], tracked.frames[-2]
    image = draw_tracks(left, frame, previous, right)
    h, w = left.shape
    assert image.shape == (h, 2 * w, 3)
    assert image.dtype == np.uint8
    coloured = (image.max(axis=2).astype(int) - image.min(axis=2)) > 60
    assert coloured[:, :w].sum() > 5 * len(frame)
    assert coloured[20:, w:].sum() > 5 * frame.has_right.sum()
    alone = draw_tracks(left, frame)
    assert alone.shape == (h, w, 3)
    # The input is left untouched.
    assert left.ndim == 2
