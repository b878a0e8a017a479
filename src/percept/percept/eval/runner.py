"""``percept eval``: score what a run published against ground truth, or score files.

A run bag (``percept replay`` output) is matched to ground truth carried in a second
bag (``percept synth`` output) or in the run bag itself, topic by topic:

=================  ===============================  ==================================
metric             run topic (first found)          ground-truth topic
=================  ===============================  ==================================
trajectory         ``/odom``, ``/vio/odometry``...   ``/ground_truth/pose`` (or odom)
disparity, depth   ``/disparity``, ``/depth``...     ``/ground_truth/depth`` (32FC1 m)
detection          ``/detections``                  ``/ground_truth/detections_2d``
tracking           ``/detections`` (track ids)      ``/ground_truth/detections_2d``
detection_3d       ``/detections_3d``               ``/ground_truth/left/detections_3d``
map                ``/map``                         ``/ground_truth/map``
latency            ``/diagnostics``                 -
=================  ===============================  ==================================

Names can be overridden per key (``EvalConfig.with_topics``); a namespaced topic
(``/robot1/odom``) is found by its last name when it is the only one of its type. A
metric whose topics are absent is skipped and the reason recorded: nothing is made up.
Frames are paired by header stamp; images are streamed and scored as pairs complete, so
memory holds the frames waiting for a partner (few when the bags interleave in time) and
the worst-frame thumbnails kept for the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from percept.errors import EvalError
from percept.eval.conditions import Brightness, split_by_conditions
from percept.eval.config import INPUTS, EvalConfig, resolve_topics
from percept.eval.metrics import METRICS
from percept.eval.metrics.base import CAMERA_INFO, IMAGE, Collector, Metric, RunContext
from percept.eval.result import EvalResult
from percept.eval.stream import first_camera_info, stream
from percept.io.bag import BagReader

# EvalConfig and EvalResult are re-exported: callers import them with ``evaluate``.
__all__ = ["EvalConfig", "EvalResult", "evaluate"]


def evaluate(
    run_bag: Path | str,
    gt_bag: Path | str | None = None,
    config: EvalConfig | None = None,
) -> EvalResult:
    """Score what a run published against ground truth.

    Args:
        run_bag: bag a run recorded (``percept replay`` output, or from a robot).
        gt_bag: bag with ``/ground_truth/*`` topics; None: they are in ``run_bag``.
        config: topics and metric settings.

    Returns:
        every metric that could be scored, why the others were skipped, per-frame
        scores, condition splits and pictures data.

    Raises:
        BagError: a bag cannot be read.
        EvalError: nothing at all can be scored.
    """
    cfg = config or EvalConfig()
    cfg = config or EvalConfig()
    run_path = Path(run_bag)
    gt_path = Path(gt_bag) if gt_bag is not None else run_path
    result = EvalResult(str(run_path), str(gt_path))
    same = gt_path.resolve() == run_path.resolve()
    gt_keys = {k for k, i in INPUTS.items() if i.ground_truth}
    with ExitStack() as stack:
        run_reader = stack.enter_context(BagReader(run_path))
        gt_reader = run_reader if same else stack.enter_context(BagReader(gt_path))
        run_keys = [k for k in INPUTS if k not in gt_keys]
        found, missing = resolve_topics(run_reader.topics(), run_keys, cfg.topics)
        gt_found, gt_missing = resolve_topics(gt_reader.topics(), sorted(gt_keys), cfg.topics)
        found.update(gt_found)
        missing.update(gt_missing)
        camera_reader = run_reader
        if CAMERA_INFO.key not in found and not same:
            cam, _ = resolve_topics(gt_reader.topics(), [CAMERA_INFO.key], cfg.topics)
            if cam:
                found.update(cam)
                camera_reader = gt_reader
        result.topics = found
        plan, metrics = _plan(found, missing, result)
        if not plan:
            msg = f"{run_path}: nothing to score; " + "; ".join(
                f"{k}: {v}" for k, v in sorted(result.skipped.items())
            )
            raise EvalError(msg)
        run_topics = sorted({found[k] for k in plan if k not in gt_keys | {CAMERA_INFO.key}})
        gt_topics = sorted({found[k] for k in plan if k in gt_keys})
        readers = (
            [(run_reader, sorted(set(run_topics) | set(gt_topics)))]
            if same
            else [(run_reader, run_topics), (gt_reader, gt_topics)]
        )
        by_topic = {found[k]: k for k in plan if k != CAMERA_INFO.key}
        context = RunContext(cfg, run_path, frozenset(plan))
        if CAMERA_INFO.key in plan:
            context.camera = first_camera_info(camera_reader, found[CAMERA_INFO.key])
        collectors = [m.collector(context) for m in metrics]
        brightness = Brightness()
        sinks: dict[str, list[Collector]] = {IMAGE.key: [brightness]}
        for metric, collector in zip(metrics, collectors, strict=True):
            for key in (i.key for i in metric.inputs() if i.key in plan):
                sinks.setdefault(key, []).append(collector)
        undecodable = stream(readers, by_topic, sinks)
        for collector in collectors:
            collector.close(result)
        for topic, count in undecodable.items():
            result.notes.append(f"{topic}: {count} undecodable messages skipped")
    for collector in collectors:
        collector.finish(result)
    split_by_conditions(result, context.gt_trajectory, brightness.by_stamp, cfg)
    return result


def _plan(
    found: dict[str, str], missing: dict[str, str], result: EvalResult
) -> tuple[set[str], list[Metric]]:
    """Keys to read and metrics to score; records skipped metrics with their reasons."""
    plan: set[str] = set()
    metrics: list[Metric] = []
    for metric in METRICS:
        run_keys: Sequence[str] = [i.key for i in metric.run_inputs]
        gt_key = None if metric.gt_input is None else metric.gt_input.key
        have_run = [k for k in run_keys if k in found]
        if not have_run:
            reasons = "; ".join(f"{k}: {missing.get(k, 'not found')}" for k in run_keys)
            result.skipped[metric.name] = f"no run topic ({reasons})"
            continue
        if gt_key is not None and gt_key not in found:
            result.skipped[metric.name] = f"no ground truth ({gt_key}: {missing.get(gt_key)})"
            continue
        plan.update(have_run[:1])
        if gt_key is not None:
            plan.add(gt_key)
        metrics.append(metric)
    for metric in metrics:
        plan.update(k for k in metric.extra_keys if k in found)
        plan.update(i.key for i in metric.optional_inputs if i.key in found)
    return plan, metrics
