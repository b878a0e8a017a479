"""Training checkpoints: written atomically, restored exactly.

A checkpoint (``OUT/checkpoint.pt``, ``torch.save``) holds everything the training loop
needs to continue as if it had never stopped: model and optimiser state, the schedule
position (step, epoch, the epoch's shuffled order and the position in it, the epoch's
running loss sums), the random states of Python, NumPy (the augmentation generator) and
torch, the configuration, the training history, the CPU minutes used so far and the
validation points. It is written to a temporary file in the same folder and renamed
over the old one, so a kill at any moment leaves the previous checkpoint or the new
one, never a torn file.

torch is imported inside the functions: the module imports without it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, Final

import numpy as np

__all__ = [
    "CHECKPOINT_NAME",
    "load_checkpoint",
    "random_states",
    "restore_random_states",
    "save_checkpoint",
    "write_atomic",
]

#: The checkpoint's file name inside the output folder.
CHECKPOINT_NAME: Final = "checkpoint.pt"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed over it (fsync'd)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def random_states(rng: np.random.Generator) -> dict[str, Any]:
    """The random states of Python, NumPy (``rng``: all the training's draws) and torch.

    Python and NumPy states are JSON text (the checkpoint stays loadable with
    ``torch.load(weights_only=True)``); torch's is its byte tensor.
    """
    import torch

    version, internal, gauss = random.getstate()
    return {
        "python": json.dumps([version, list(internal), gauss]),
        "numpy": json.dumps(rng.bit_generator.state),
        "torch": torch.get_rng_state(),
    }


def restore_random_states(states: dict[str, Any], rng: np.random.Generator) -> None:
    """Set the states of ``random_states`` back (``rng`` in place)."""
    import torch

    version, internal, gauss = json.loads(states["python"])
    random.setstate((version, tuple(internal), gauss))
    rng.bit_generator.state = json.loads(states["numpy"])
    torch.set_rng_state(states["torch"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` of ``state`` to ``path``, atomically (``write_atomic``)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint of ``save_checkpoint`` (tensors only: ``weights_only``)."""
    import torch

    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state
