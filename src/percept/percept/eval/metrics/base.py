"""The metric interface of ``percept eval``, after evo's ``Metric`` (``evo/core/metrics.py``).

A :class:`Metric` says which topics it reads (:class:`Input`), makes a :class:`Collector`
that takes the decoded messages of one run while the bags stream and finishes into the
:class:`~percept.eval.result.EvalResult`, and writes its part of metrics.json, of the text
summary and of the HTML report. Metrics are stateless; a collector lives for one run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from percept import codecs

if TYPE_CHECKING:
    from pathlib import Path

    from percept.domain import CameraInfo
    from percept.eval.config import EvalConfig
    from percept.eval.result import EvalResult
    from percept.eval.trajectory import Trajectory

__all__ = ["CAMERA_INFO", "IMAGE", "Collector", "Input", "Metric", "RunContext", "SummaryRow"]

#: (metric, value, unit) row of the text summary and the report's summary table.
SummaryRow = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Input:
    """A topic a metric reads, under a key that ``--topic KEY=TOPIC`` can override.

    Attributes:
        key: the name of the input (``odometry``, ``gt_pose``).
        candidates: topic names tried in order, first found wins.
        msgtypes: message types accepted.
        ground_truth: read from the ground-truth bag (``/ground_truth/*`` topics).
    """

    key: str
    candidates: tuple[str, ...]
    msgtypes: frozenset[str]
    ground_truth: bool = False


#: The left camera image: brightness split and detection overlays.
IMAGE = Input(
    "image",
    (
        "/stereo/left/image_rect_color",
        "/stereo/left/image_rect",
        "/left/image_rect_color",
        "/left/image_rect",
        "/left/image_raw",
        "/camera/image_color",
        "/camera/image_raw",
        "/stereo/left/image_raw",
    ),
    frozenset({codecs.IMAGE}),
)
#: Its calibration: to map raw-camera ground truth into the rectified frame.
CAMERA_INFO = Input(
    "camera_info",
    ("/stereo/left/camera_info", "/left/camera_info", "/camera/camera_info"),
    frozenset({codecs.CAMERA_INFO}),
)


@dataclass(eq=False)
class RunContext:
    """What collectors share besides their messages, for one run.

    Attributes:
        config: metric settings.
        run_path: the run bag (read again for pictures).
        keys: the input keys being read.
        camera: the first calibrated camera_info of the ``camera_info`` input, if read.
        gt_trajectory: the ground-truth motion, set by the trajectory metric, for the
            speed split of every metric.
        pose_frames: (run odometry frame, ground-truth pose frame), set by the
            trajectory metric: a map in the run's odometry frame is brought into the
            ground truth's through the trajectory alignment.
    """

    config: EvalConfig
    run_path: Path
    keys: frozenset[str]
    camera: CameraInfo | None = None
    gt_trajectory: Trajectory | None = None
    pose_frames: tuple[str, str] = ("", "")


class Collector(ABC):
    """Takes one run's messages of a metric's inputs and finishes into the result."""

    @abstractmethod
    def add(self, key: str, obj: object) -> None:
        """Take a decoded message of input ``key`` (in receive-time order of the bags)."""

    def close(self, result: EvalResult) -> None:  # noqa: B027 - optional hook
        """The streams have ended: note what could not be paired (default: nothing)."""

    @abstractmethod
    def finish(self, result: EvalResult) -> None:
        """Score what was collected into ``result``, or record why it was skipped."""


class Metric(ABC):
    """One metric: its inputs, its collector, its JSON, summary rows and report section.

    Attributes:
        name: the metric's name in ``skipped`` and its per-frame score family.
        run_inputs: run topics it can score, first found is used.
        gt_input: the ground-truth topic it needs, None for none.
        extra_keys: inputs read as well when found (``image``, ``camera_info``).
        optional_inputs: topics its collector takes when the bags have them (a metric
            is scored without them).
        split_metrics: per-frame scores split by speed and image brightness.
        worst_metrics: per-frame scores whose worst frames are listed (highest = worst).
    """

    name: ClassVar[str]
    run_inputs: ClassVar[tuple[Input, ...]]
    gt_input: ClassVar[Input | None]
    extra_keys: ClassVar[frozenset[str]] = frozenset()
    optional_inputs: ClassVar[tuple[Input, ...]] = ()
    split_metrics: ClassVar[tuple[str, ...]] = ()
    worst_metrics: ClassVar[tuple[str, ...]] = ()

    def inputs(self) -> tuple[Input, ...]:
        """Every input the metric reads itself (run inputs, ground truth, optional)."""
        gt = () if self.gt_input is None else (self.gt_input,)
        return self.run_inputs + gt + self.optional_inputs

    @abstractmethod
    def collector(self, context: RunContext) -> Collector:
        """A collector for one run."""

    @abstractmethod
    def to_json(self, result: EvalResult) -> dict[str, object]:
        """Its top-level entries of metrics.json; empty when it was not scored."""

    @abstractmethod
    def summary(self, result: EvalResult) -> list[SummaryRow]:
        """Its headline numbers as (metric, value, unit) rows."""

    @abstractmethod
    def section(self, result: EvalResult, out_dir: Path) -> str:
        """Its HTML report section (pictures written to ``out_dir``); empty if not scored."""

    def range_conditions(self, result: EvalResult) -> dict[str, list[dict[str, object]]]:
        """Its rows of the ``range`` condition split, by ``family.metric`` (default none)."""
        return {}
