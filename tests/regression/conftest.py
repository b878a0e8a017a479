"""Regression harness: replay a small sequence through a robot, evaluate, check baselines.

A test marked ``@pytest.mark.regression(case=NAME, perturb=SPEC)`` gets the
``regression_run`` fixture: the case's sequence (rendered once per session into a tmp
folder) replayed through the case's robot file, with the seeded input perturbations of
SPEC when given (``percept.tools.perturb``), evaluated
(``percept.tools.regress.run_metrics``: percept eval's metrics plus message counts) and
compared against ``baselines.yaml`` beside this file. ``regression_run.check()`` fails
with a table of the metrics that drifted past their tolerance.

``pytest tests/regression --update-baselines`` measures every case unperturbed and
rewrites ``baselines.yaml``: values from the run, tolerances kept from the file (or
``percept.tools.regress.DEFAULT_RULES`` for new metrics). When stereo, detection, VIO or
mapping nodes join a robot file, their metrics join the baselines the same way.
"""

from __future__ import annotations

import subprocess

import pytest

from percept.tools.regress import Baselines, load_baselines, write_baselines

from .regression_harness import BASELINES, CASES, UPDATE_COMMAND, Harness, RegressionRun


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BASELINES.parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


@pytest.fixture(scope="session")
def regression_harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """Sequences and measurements shared by the session's regression tests."""
    return Harness(tmp_path_factory.mktemp("regression"))


@pytest.fixture(scope="session")
def regression_baselines(request: pytest.FixtureRequest, regression_harness: Harness) -> Baselines:
    """``baselines.yaml``; rewritten first from fresh measurements with --update-baselines."""
    if request.config.getoption("--update-baselines"):
        previous = load_baselines(BASELINES) if BASELINES.is_file() else None
        measured = {
            name: (case.settings(), regression_harness.measure(case))
            for name, case in CASES.items()
        }
        return write_baselines(
            BASELINES, measured, command=UPDATE_COMMAND, previous=previous, commit=_commit()
        )
    if not BASELINES.is_file():
        pytest.fail(f"{BASELINES} is missing; measure it: {UPDATE_COMMAND}", pytrace=False)
    return load_baselines(BASELINES)


@pytest.fixture
def regression_run(
    request: pytest.FixtureRequest,
    regression_harness: Harness,
    regression_baselines: Baselines,
) -> RegressionRun:
    """The run the test's ``regression(case=..., perturb=...)`` marker asks for."""
    marker = request.node.get_closest_marker("regression")
    if marker is None or "case" not in marker.kwargs:
        pytest.fail("regression_run needs @pytest.mark.regression(case=NAME[, perturb=SPEC])")
    name = marker.kwargs["case"]
    if name not in CASES:
        pytest.fail(f"unknown regression case {name!r}; cases: {sorted(CASES)}")
    case = CASES[name]
    perturb = str(marker.kwargs.get("perturb", ""))
    if name not in regression_baselines.cases:
        pytest.fail(f"{BASELINES}: no case {name!r}; measure it: {UPDATE_COMMAND}", pytrace=False)
    return RegressionRun(
        case,
        perturb,
        regression_baselines.cases[name],
        regression_harness.measure(case, perturb),
    )
