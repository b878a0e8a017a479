"""Replayed runs checked against tests/regression/baselines.yaml, and the check failing.

The first two tests are the regression tests proper: a small synthetic sequence through
the ``synth`` robot and the Bayer test pattern through the ``example`` robot must stay
within the baselines' tolerances. The others show the check catching drift: inputs
perturbed on replay (dropped frames, noise and blur) and metric documents nudged just
inside and just past a tolerance.
"""

from __future__ import annotations

import math
import re

import pytest

from percept.cli.main import main

from .regression_harness import BASELINES, CASES, Harness, RegressionRun

pytestmark = pytest.mark.slow  # each case renders and replays a whole sequence


@pytest.mark.regression(case="synth")
def test_synth_robot_run_matches_baselines(regression_run: RegressionRun) -> None:
    regression_run.check()
    # the baselines cover the node's health and the run's message counts
    names = set(regression_run.baseline.values)
    assert "latency.stereo_rectify.received" in names
    assert "messages./stereo/left/image_rect" in names
    assert regression_run.comparison.row("latency.stereo_rectify.received").status == "ok"


@pytest.mark.regression(case="bayer_pattern")
def test_bayer_pattern_run_matches_baselines(regression_run: RegressionRun) -> None:
    regression_run.check()
    psnr = regression_run.comparison.row("debayer_psnr_db.mean")
    assert psnr.status == "ok"
    assert psnr.b is not None
    assert psnr.b > 20.0  # the debayered colour resembles the pattern at all


@pytest.mark.regression(case="synth", perturb="drop=0.3,seed=1")
def test_dropped_input_frames_fail_the_check_on_message_counts(
    regression_run: RegressionRun,
) -> None:
    with pytest.raises(pytest.fail.Exception, match="drifted past their tolerance") as failed:
        regression_run.check()
    drifted = {r.name: r for r in regression_run.comparison.regressed}
    expected = {
        "latency.stereo_rectify.received",
        "latency.stereo_rectify.callbacks",
        "messages./stereo/left/image_rect",
        "messages./stereo/right/image_rect",
        "messages./stereo/left/camera_info",
    }
    assert expected <= set(drifted)
    rect = drifted["messages./stereo/left/image_rect"]
    assert rect.a == 20
    assert rect.b is not None
    assert rect.b < rect.a
    assert "messages./stereo/left/image_rect" in str(failed.value)
    # inputs the perturbation does not touch did not move
    assert regression_run.comparison.row("messages./imu/data").status == "ok"


@pytest.mark.regression(case="synth", perturb="noise=8,blur=1.0,seed=3")
def test_noisy_blurred_stereo_fails_the_check_on_disparity_and_depth(
    regression_run: RegressionRun,
) -> None:
    if "disparity.epe_px" not in regression_run.baseline.values:
        pytest.skip("the synth robot runs no stereo depth node: no disparity baselines")
    with pytest.raises(pytest.fail.Exception, match=re.escape("disparity.epe_px")):
        regression_run.check()
    drifted = {r.name for r in regression_run.comparison.regressed}
    assert {
        "disparity.epe_px",
        "disparity.bad_2_total_pct",
        "disparity.density_pct",
        "depth_by_range.0-2m.abs_rel_mean",
    } <= drifted
    epe = regression_run.comparison.row("disparity.epe_px")
    assert epe.a is not None
    assert epe.b is not None
    assert epe.b > epe.a + 0.05
    # every frame still came through: the images got worse, not fewer
    assert regression_run.comparison.row("messages./stereo/disparity").status == "ok"
    assert not any(name.startswith("messages.") for name in drifted)


@pytest.mark.regression(case="bayer_pattern", perturb="noise=20,blur=1.5,seed=2")
def test_noisy_blurred_input_fails_the_check_on_psnr(regression_run: RegressionRun) -> None:
    with pytest.raises(pytest.fail.Exception, match=re.escape("debayer_psnr_db.mean")):
        regression_run.check()
    psnr = regression_run.comparison.row("debayer_psnr_db.mean")
    assert psnr.status == "regressed"
    assert psnr.a is not None
    assert psnr.b is not None
    assert psnr.a - psnr.b > 3.0  # dB, far past the 0.1 dB tolerance
    # no frame was lost: only image quality drifted
    assert regression_run.comparison.row("messages./camera/image_color").status == "ok"


@pytest.mark.regression(case="synth")
def test_metric_drift_fails_only_past_its_tolerance(regression_run: RegressionRun) -> None:
    name = "latency.stereo_rectify.latency_p95_ms"
    base = regression_run.baseline.values[name]
    policy = regression_run.baseline.policies[name]
    assert policy.direction == "lower_is_better"
    allowed = policy.allowed(base)
    regression_run.with_metrics(**{name: base + 0.9 * allowed}).check()
    # faster is never a regression
    improved = regression_run.with_metrics(**{name: max(0.0, base - 2 * allowed)})
    improved.check()
    slower = regression_run.with_metrics(**{name: base + 1.1 * allowed})
    with pytest.raises(pytest.fail.Exception, match=re.escape(name)):
        slower.check()


@pytest.mark.regression(case="synth")
def test_lost_or_uncomputable_metric_fails_the_check(regression_run: RegressionRun) -> None:
    name = "latency.stereo_rectify.received"
    with pytest.raises(pytest.fail.Exception, match=re.escape(name)):
        regression_run.without(name).check()
    with pytest.raises(pytest.fail.Exception, match=re.escape(name)):
        regression_run.with_metrics(**{name: math.nan}).check()
    # one more message than the baseline is a change of an `equal` metric
    count = regression_run.baseline.values[name]
    with pytest.raises(pytest.fail.Exception, match=re.escape(name)):
        regression_run.with_metrics(**{name: count + 1}).check()


@pytest.mark.regression(case="synth", perturb="drop=0.3,seed=1")
def test_percept_regress_flags_the_perturbed_run_bag(
    regression_run: RegressionRun,
    regression_harness: Harness,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = CASES["synth"]
    clean = regression_harness.run_bag(case)
    dropped = regression_harness.run_bag(case, regression_run.perturb)
    args = ["regress", str(clean), str(dropped), "--only-flagged", "--fail-on-regression"]
    assert main(args) == 1
    out = capsys.readouterr().out
    rect = next(
        line for line in out.splitlines() if line.startswith("messages./stereo/left/image_rect")
    )
    assert rect.split()[1:4] == ["20", "12", "-8"]
    assert rect.endswith("REGRESSED")
    # the clean run bag against the stored baselines: nothing regressed
    assert (
        main(["regress", str(BASELINES), str(clean), "--case", "synth", "--fail-on-regression"])
        == 0
    )
    assert "regressed" not in capsys.readouterr().out.splitlines()[-1]
