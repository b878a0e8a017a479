"""The training configuration: everything that decides the trained model."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["TrainConfig"]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that decides the trained model.

    Attributes:
        train_seeds: scene seeds rendered for training.
        test_seeds: held-out scene seeds rendered for the test set.
        frames_per_seed: training frames per seed (random times along the trajectory).
        test_frames_per_seed: test frames per seed (evenly spaced times).
        image_width: rendered image width, pixels.
        image_height: rendered image height, pixels.
        input_width: network input width, pixels (multiple of 32).
        input_height: network input height, pixels (multiple of 32).
        crop_width: training crop width, pixels (multiple of 32); the network is fully
            convolutional, so it trains on crops at the camera's scale and runs on the
            whole ``input_width`` x ``input_height`` image.
        crop_height: training crop height, pixels (multiple of 32).
        epochs: passes over the training set.
        batch_size: images per step.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        width: channels of the first backbone stage (later stages 2x, 4x, 8x).
        threads: torch CPU threads.
        seed: torch and augmentation seed.
        max_minutes: stop this run after this wall time (0: no limit); it saves a
            checkpoint that ``--resume`` continues from. The learning-rate schedule
            is defined in steps only, so a stop changes nothing of the schedule.
        levels: strides of the output levels, from (4,) 8, 16, 32; a stride-4 level
            gives the smallest boxes cells at 4-pixel spacing.
        mosaic_p: probability that a training sample is a mosaic of four frames.
        copy_paste_p: probability of pasting object crops of other frames into a
            sample.
        wide_scale_p: probability of drawing the sample's scale from
            ``wide_scale_range`` instead of 0.75..1.33.
        wide_scale_range: the wider scale jitter, (low, high) factors.
        val_seeds: validation scene seeds, scored while training (never trained on).
        val_frames_per_seed: validation frames per seed (evenly spaced times).
        bf16: run the network's forward pass under CPU bfloat16 autocast (weights,
            optimiser, box decoding and loss stay float32); validation and the export
            are float32.
    """

    train_seeds: tuple[int, int] = (100, 200)
    test_seeds: tuple[int, int] = (900, 910)
    frames_per_seed: int = 14
    test_frames_per_seed: int = 10
    image_width: int = 320
    image_height: int = 240
    input_width: int = 320
    input_height: int = 256
    crop_width: int = 320
    crop_height: int = 256
    epochs: int = 30
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 5e-4
    width: int = 16
    threads: int = 2
    seed: int = 0
    max_minutes: float = 0.0
    levels: tuple[int, ...] = (8, 16, 32)
    mosaic_p: float = 0.0
    copy_paste_p: float = 0.0
    wide_scale_p: float = 0.0
    wide_scale_range: tuple[float, float] = (0.5, 2.0)
    val_seeds: tuple[int, int] = (800, 808)
    val_frames_per_seed: int = 4
    bf16: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The configuration of ``dataclasses.asdict`` (JSON lists back to tuples)."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        known: dict[str, Any] = {k: v for k, v in kwargs.items() if k in names}
        return cls(**known)
