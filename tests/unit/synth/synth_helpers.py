"""Small synthetic sequences the synth tests share."""

from __future__ import annotations

from percept.synth.generate import SynthConfig, default_rig

SMALL = {"width": 160, "height": 120}


def small_config(seed: int = 0, **changes: object) -> SynthConfig:
    """A 1.5 s, 160x120 sequence: what the bag tests read back."""
    fields: dict[str, object] = {
        "seconds": 1.5,
        "seed": seed,
        "rig": default_rig("ground", **SMALL),
    }
    fields.update(changes)
    return SynthConfig(**fields)  # type: ignore[arg-type]
