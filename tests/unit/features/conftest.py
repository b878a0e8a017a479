"""Shared synthetic stereo data for the front-end tests (rendered once per session)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from percept.features import FeatureFrame, FeatureTracker, FeatureTrackerConfig

from .features_helpers import SynthStereo

#: Camera rate of the tracked sequence.
RATE_HZ = 20.0
FRAMES = 8


@dataclass
class TrackedSequence:
    """Rendered frames, their poses and what the tracker made of them."""

    rig: SynthStereo
    poses: list[npt.NDArray[np.float64]]
    lefts: list[npt.NDArray[np.uint8]]
    rights: list[npt.NDArray[np.uint8]]
    frames: list[FeatureFrame]


@pytest.fixture(scope="session")
def synth_stereo() -> SynthStereo:
    return SynthStereo(320, 240, seed=0)


@pytest.fixture(scope="session")
def tracked(synth_stereo: SynthStereo) -> TrackedSequence:
    """8 frames (0.4 s at 20 Hz) of the handheld motion, with image noise, tracked."""
    rng = np.random.default_rng(0)
    tracker = FeatureTracker(FeatureTrackerConfig(num_features=150))
    seq = TrackedSequence(synth_stereo, [], [], [], [])
    for i in range(FRAMES):
        T = synth_stereo.pose(1.0 + i / RATE_HZ)
        left, right = synth_stereo.render(T, rng)
        seq.poses.append(T)
        seq.lefts.append(left)
        seq.rights.append(right)
        seq.frames.append(tracker.track(int(i * 1e9 / RATE_HZ), left, right))
    return seq
