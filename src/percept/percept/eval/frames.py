"""Per-frame scores and the frames kept for the report's pictures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["FrameScore", "Shot"]


@dataclass(frozen=True, slots=True)
class FrameScore:
    """Scores of one frame (image or detection frame), for worst-frame lists and splits."""

    stamp_ns: int
    values: dict[str, float]


@dataclass(frozen=True, slots=True, eq=False)
class Shot:
    """Pictures data of one frame for the report.

    Attributes:
        stamp_ns: the frame's stamp (0 for a single file).
        title: what it shows (``worst bad-2``, ``first frame``).
        value: the score it was picked by (NaN for samples).
        arrays: name -> small array: ``disparity``/``gt_disparity`` (px), ``depth``/
            ``gt_depth`` (m), float32, Inf unknown; ``image`` uint8 bgr8.
        image_id: the detection image it shows (COCO id), None for other pictures.
    """

    stamp_ns: int
    title: str
    value: float
    arrays: dict[str, npt.NDArray[np.generic]] = field(default_factory=dict)
    image_id: int | None = None
