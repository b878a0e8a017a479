"""The regression harness: cases, their measurement, and the check against baselines.

Fixtures in ``conftest.py`` hand these to tests marked ``regression``; see there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from percept.tools.regress import (
    BaselineCase,
    Comparison,
    compare,
    flatten_metrics,
    format_table,
    run_metrics,
)

BASELINES = Path(__file__).with_name("baselines.yaml")
UPDATE_COMMAND = "./run test tests/regression --update-baselines"


@dataclass(frozen=True)
class Case:
    """A sequence and the robot it is replayed through."""

    name: str
    robot: str
    sequence: dict[str, object]

    def settings(self) -> dict[str, object]:
        return {"robot": self.robot, "sequence": dict(self.sequence)}


#: Small enough that the whole harness runs in seconds on 2 cores.
CASES: dict[str, Case] = {
    "synth": Case(
        "synth",
        "synth",
        {
            "kind": "synth",
            "scene": "warehouse",
            "motion": "ground",
            "seconds": 2.0,
            "width": 320,
            "height": 240,
            "rate_hz": 10.0,
            "seed": 0,
        },
    ),
    "bayer_pattern": Case(
        "bayer_pattern",
        "example",
        {
            "kind": "bayer_pattern",
            "seconds": 1.0,
            "width": 160,
            "height": 120,
            "rate_hz": 10.0,
            "seed": 0,
        },
    ),
}


def _render(case: Case, folder: Path) -> Path:
    seq = case.sequence
    bag = folder / f"{case.name}.mcap"
    if seq["kind"] == "synth":
        from percept.synth.generate import SynthConfig, default_rig, generate

        config = SynthConfig(
            scene=str(seq["scene"]),
            seconds=float(seq["seconds"]),
            seed=int(seq["seed"]),
            motion=str(seq["motion"]),
            camera_rate_hz=float(seq["rate_hz"]),
            rig=default_rig(str(seq["motion"]), width=seq["width"], height=seq["height"]),
        )
        generate(bag, config, overwrite=True)
    else:
        from percept.tools.demo import make_pattern_bag

        make_pattern_bag(
            bag,
            seconds=float(seq["seconds"]),
            rate_hz=float(seq["rate_hz"]),
            width=int(seq["width"]),
            height=int(seq["height"]),
            seed=int(seq["seed"]),
        )
    return bag


class Harness:
    """Renders each case once, and measures each (case, perturbation) once, per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._bags: dict[str, Path] = {}
        self._metrics: dict[tuple[str, str], dict[str, float]] = {}
        self._runs: dict[tuple[str, str], Path] = {}

    def sequence(self, case: Case) -> Path:
        if case.name not in self._bags:
            folder = self.root / "sequences"
            folder.mkdir(parents=True, exist_ok=True)
            self._bags[case.name] = _render(case, folder)
        return self._bags[case.name]

    def measure(self, case: Case, perturb: str = "") -> dict[str, float]:
        """Replay, evaluate and flatten; the same (case, perturb) is measured once."""
        key = (case.name, perturb)
        if key not in self._metrics:
            from percept.runtime.robot import load_robot
            from percept.tools.perturb import Perturber, parse_spec
            from percept.tools.replay import replay

            bag = self.sequence(case)
            run = self.root / "runs" / f"{case.name}-{len(self._metrics)}.mcap"
            perturber = Perturber(parse_spec(perturb)) if perturb else None
            replay(bag, run, load_robot(case.robot), overwrite=True, perturb=perturber)
            is_synth = case.sequence["kind"] == "synth"
            doc = run_metrics(run, bag if is_synth else None)
            if not is_synth:
                from percept.tools.demo import score_pattern_run

                seq = case.sequence
                doc["debayer_psnr_db"] = score_pattern_run(
                    run,
                    width=int(seq["width"]),
                    height=int(seq["height"]),
                    rate_hz=float(seq["rate_hz"]),
                    seed=int(seq["seed"]),
                ).as_dict()
            self._metrics[key] = flatten_metrics(doc)
            self._runs[key] = run
        return dict(self._metrics[key])

    def run_bag(self, case: Case, perturb: str = "") -> Path:
        """The run bag that ``measure`` recorded for (case, perturb)."""
        self.measure(case, perturb)
        return self._runs[(case.name, perturb)]


@dataclass
class RegressionRun:
    """One measured run of a case and its comparison with the baselines."""

    case: Case
    perturb: str
    baseline: BaselineCase
    metrics: dict[str, float]
    comparison: Comparison = field(init=False)

    def __post_init__(self) -> None:
        self.comparison = compare(
            self.baseline.values,
            self.metrics,
            self.baseline.policies,
            label_a="baseline",
            label_b="run" + (f" ({self.perturb})" if self.perturb else ""),
        )

    def with_metrics(self, **changes: float) -> RegressionRun:
        """The same run with some metric values replaced (``**{"a.b": 1.0}``)."""
        return dataclasses.replace(self, metrics={**self.metrics, **changes})

    def without(self, *names: str) -> RegressionRun:
        """The same run with some metrics missing."""
        kept = {k: v for k, v in self.metrics.items() if k not in names}
        return dataclasses.replace(self, metrics=kept)

    def check(self) -> None:
        """Fail with a table when a metric drifted past its tolerance."""
        if self.baseline.settings != self.case.settings():
            pytest.fail(
                f"{BASELINES}: case {self.case.name} was measured with "
                f"{self.baseline.settings}, the test runs {self.case.settings()}; "
                f"re-measure: {UPDATE_COMMAND}",
                pytrace=False,
            )
        if not self.baseline.values:
            pytest.fail(f"{BASELINES}: case {self.case.name} has no metrics", pytrace=False)
        drifted = self.comparison.regressed
        if drifted:
            table = format_table(
                Comparison(self.comparison.label_a, self.comparison.label_b, drifted)
            )
            pytest.fail(
                f"case {self.case.name}: {len(drifted)} of {len(self.baseline.values)} metrics "
                f"drifted past their tolerance ({BASELINES.name}):\n{table}\n"
                f"If the change is intended, re-measure the baselines: {UPDATE_COMMAND}",
                pytrace=False,
            )
