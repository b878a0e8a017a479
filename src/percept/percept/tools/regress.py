"""Metric regression: compare two runs' metrics, or a run against stored baselines.

A metrics document (``percept eval``'s ``metrics.json``, ``percept demo``'s, or what
``run_metrics`` adds to it) is flattened to dotted names with numeric values
(``latency.stereo_rectify.latency_p95_ms``). Each name gets a ``MetricPolicy``: the
direction that is better and a tolerance. A change from A to B is *beyond tolerance*
when ``|B - A| > max(abs, rel * |A|)``; it is a regression when that change goes the
bad way (``equal``: either way), or when B lacks a metric A has a policy for.

Baselines live in a YAML file (``tests/regression/baselines.yaml``)::

    version: 1
    produced_by: <the command that wrote it>
    cases:
      synth:                       # one replayed sequence
        robot: synth
        sequence: {kind: synth, seconds: 2.0, width: 320, ...}
        metrics:
          latency.stereo_rectify.received: {value: 80, direction: equal, abs: 0}

``write_baselines`` writes it from measured metrics, never from typed-in values: values
come from a run, directions and tolerances from the entry already in the file or,
for a metric seen the first time, from ``DEFAULT_RULES``.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from percept.errors import ConfigError

__all__ = [
    "DEFAULT_RULES",
    "DIRECTIONS",
    "BaselineCase",
    "Baselines",
    "Comparison",
    "MetricPolicy",
    "MetricSource",
    "Row",
    "compare",
    "flatten_metrics",
    "format_table",
    "load_baselines",
    "load_source",
    "policy_for",
    "run_metrics",
    "write_baselines",
]

Direction = Literal["higher_is_better", "lower_is_better", "equal"]
DIRECTIONS: tuple[Direction, ...] = ("higher_is_better", "lower_is_better", "equal")
BASELINES_VERSION = 1
#: Relative tolerance for metrics without a policy: only real changes are shown.
_EXACT_REL = 1e-9


@dataclass(frozen=True, slots=True)
class MetricPolicy:
    """Which way a metric is better and how far it may drift.

    Attributes:
        direction: ``higher_is_better``, ``lower_is_better`` or ``equal``.
        abs_tol: allowed drift in the metric's unit.
        rel_tol: allowed drift as a fraction of the reference value.
    """

    direction: Direction
    abs_tol: float = 0.0
    rel_tol: float = 0.0

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            msg = f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}"
            raise ConfigError(msg)
        for name in ("abs_tol", "rel_tol"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                msg = f"{name} must be a finite number >= 0, got {value!r}"
                raise ConfigError(msg)

    def allowed(self, reference: float) -> float:
        """Largest drift from ``reference`` within tolerance.

        >>> MetricPolicy("lower_is_better", abs_tol=1.0, rel_tol=0.5).allowed(10.0)
        5.0
        """
        return max(self.abs_tol, self.rel_tol * abs(reference))

    def describe(self) -> str:
        """``<= +max(25, 300 %)``-style text for tables."""
        parts = []
        if self.abs_tol or not self.rel_tol:
            parts.append(f"{self.abs_tol:g}")
        if self.rel_tol:
            parts.append(f"{self.rel_tol * 100:g} %")
        tol = parts[0] if len(parts) == 1 else f"max({', '.join(parts)})"
        sign = {"higher_is_better": "-", "lower_is_better": "+", "equal": "±"}[self.direction]
        return f"{sign}{tol}"


def _lower(abs_tol: float = 0.0, rel_tol: float = 0.0) -> MetricPolicy:
    return MetricPolicy("lower_is_better", abs_tol, rel_tol)


def _higher(abs_tol: float = 0.0, rel_tol: float = 0.0) -> MetricPolicy:
    return MetricPolicy("higher_is_better", abs_tol, rel_tol)


_EQUAL = MetricPolicy("equal")

#: (fnmatch pattern on the flattened name, policy or None = not a regression metric);
#: the first matching pattern wins. Tolerances are what a run may drift for reasons
#: other than a code change: wall-clock latency on a shared 2-core CI machine moves by
#: milliseconds and several times over; message counts and scores of a deterministic
#: replay do not move at all.
DEFAULT_RULES: tuple[tuple[str, MetricPolicy | None], ...] = (
    # node health from /diagnostics (eval's "latency" section)
    ("*latency.*.latency_max_ms", None),  # one slow callback (a page fault) is not a trend
    ("*latency.*.latency_mean_ms", _lower(25.0, 3.0)),
    ("*latency.*.latency_p95_ms", _lower(25.0, 3.0)),
    ("*latency.*.reports", _EQUAL),
    ("*latency.*.callbacks", _EQUAL),
    ("*latency.*.received", _EQUAL),
    ("*latency.*.rejected", _lower()),
    ("*latency.*.dropped", _lower()),
    ("*latency.*.errors", _lower()),
    ("*latency.*.worst_level", _lower()),
    # messages per topic of a run bag (run_metrics); /diagnostics grows with every node
    # added to a robot, which latency.<node>.reports already tracks per node
    ("messages./diagnostics", None),
    ("messages.*", _EQUAL),
    # trajectory (metres, degrees)
    ("*trajectory.alignment.*", None),
    ("*trajectory.settings.*", None),
    ("*trajectory.ate_m.count", _EQUAL),
    ("*trajectory.*_m.sse", None),
    ("*trajectory.*_deg.sse", None),
    ("*trajectory.ate_m.*", _lower(0.005, 0.1)),
    ("*trajectory.rpe_trans_m.*", _lower(0.005, 0.1)),
    ("*trajectory.*_rot_deg.*", _lower(0.1, 0.1)),
    ("*trajectory.*_poses", _EQUAL),
    ("*trajectory.path_length_m", MetricPolicy("equal", 1e-6, 1e-6)),
    # disparity and depth (Middlebury %, pixels, metres)
    ("*disparity.bad_*_pct", _lower(1.0)),
    ("*disparity.epe_px", _lower(0.05, 0.05)),
    ("*disparity.rms_px", _lower(0.05, 0.05)),
    ("*disparity.density_pct", _higher(1.0)),
    ("*disparity.frames", _EQUAL),
    ("*depth_by_range.*.abs_rel_mean", _lower(0.005, 0.05)),
    ("*depth_by_range.*.abs_err_mean_m", _lower(0.01, 0.05)),
    ("*depth_by_range.*.rmse_m", _lower(0.01, 0.05)),
    ("*depth_by_range.*.density_pct", _higher(1.0)),
    # detection (COCO; -1 = no ground truth of that size)
    ("*detection.per_class_ap*", _higher(0.02)),
    ("*detection.map*", _higher(0.01)),
    ("*detection.mar*", _higher(0.01)),
    ("*detection.images", _EQUAL),
    # tracking (motmetrics) and 3D detection error (metres)
    ("*tracking.mota", _higher(0.02)),
    ("*tracking.idf1", _higher(0.02)),
    ("*tracking.recall", _higher(0.02)),
    ("*tracking.precision", _higher(0.02)),
    ("*tracking.num_switches", _lower(2.0)),
    ("*tracking.switches_per_100_tracks", _lower(5.0)),
    ("*tracking.num_objects", _EQUAL),
    ("*tracking.num_frames", _EQUAL),
    ("*tracking.gt_tracks", _EQUAL),
    ("*detection_3d.*.objects", _EQUAL),
    ("*detection_3d.objects", _EQUAL),
    ("*detection_3d.frames", _EQUAL),
    ("*detection_3d.*recall", _higher(0.03)),
    ("*detection_3d.*median_m", _lower(0.02, 0.1)),
    ("*detection_3d.*p90_m", _lower(0.03, 0.1)),
    # occupancy
    ("*occupancy.*_iou", _higher(0.01)),
    ("*occupancy.occupied_precision", _higher(0.01)),
    ("*occupancy.occupied_recall", _higher(0.01)),
    ("*occupancy.coverage_pct", _higher(1.0)),
    # the demo's Bayer test pattern and its stage timings
    ("*debayer_psnr_db.mean", _higher(0.1)),
    ("*debayer_psnr_db.min", _higher(0.1)),
    ("*debayer_psnr_db.frames", _EQUAL),
    ("timings.*", _lower(1.0, 0.5)),
)


def policy_for(
    name: str, rules: Sequence[tuple[str, MetricPolicy | None]] = DEFAULT_RULES
) -> MetricPolicy | None:
    """The policy of the first rule whose pattern matches ``name`` (None: no rule).

    >>> policy_for("latency.stereo_rectify.received").direction
    'equal'
    >>> policy_for("latency.stereo_rectify.latency_max_ms") is None
    True
    """
    for pattern, policy in rules:
        if fnmatch.fnmatchcase(name, pattern):
            return policy
    return None


# --------------------------------------------------------------------------- flattening


def _leaves(doc: Mapping[str, object], prefix: str) -> Iterator[tuple[str, float]]:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{name}.")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int | float):
            yield name, float(value)
        elif value is None:
            # metrics.json writes NaN and Inf as null: a metric that could not be computed
            yield name, math.nan


def flatten_metrics(doc: Mapping[str, object]) -> dict[str, float]:
    """Numeric leaves of a metrics document under dotted names.

    Strings, booleans and lists (worst-frame lists, condition splits) are left out;
    ``null`` (NaN or Inf in metrics.json) becomes NaN.

    >>> flatten_metrics({"run": "a.mcap", "latency": {"rect": {"received": 80, "ok": True}}})
    {'latency.rect.received': 80.0}
    """
    return dict(_leaves(doc, ""))


# --------------------------------------------------------------------------- comparison

Status = Literal["ok", "regressed", "improved", "changed", "new", "missing"]


@dataclass(frozen=True, slots=True)
class Row:
    """One metric of a comparison.

    Attributes:
        name: flattened metric name.
        a: reference value (NaN: not computed; None: absent).
        b: value compared (NaN: not computed; None: absent).
        policy: direction and tolerance (None: no rule knows the metric).
        status: ``ok`` (within tolerance), ``regressed``, ``improved``, ``changed``
            (beyond tolerance, no direction known), ``new`` (only in B) or ``missing``
            (only in A, without a policy; with one it is ``regressed``).
    """

    name: str
    a: float | None
    b: float | None
    policy: MetricPolicy | None
    status: Status

    @property
    def delta(self) -> float | None:
        """``b - a`` (None when either is absent)."""
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def rel_delta(self) -> float | None:
        """``(b - a) / |a|`` (None when either is absent or a is 0)."""
        delta = self.delta
        if delta is None or self.a is None or self.a == 0 or not math.isfinite(self.a):
            return None
        return delta / abs(self.a)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Rows of a comparison of A and B, in A's metric order then B's new ones."""

    label_a: str
    label_b: str
    rows: tuple[Row, ...]

    @property
    def regressed(self) -> tuple[Row, ...]:
        """Rows that drifted the bad way beyond tolerance (or vanished)."""
        return tuple(r for r in self.rows if r.status == "regressed")

    @property
    def flagged(self) -> tuple[Row, ...]:
        """Rows that are not ``ok``, less new or missing metrics that no policy tracks."""
        return tuple(
            r
            for r in self.rows
            if r.status != "ok" and not (r.status in ("new", "missing") and r.policy is None)
        )

    def row(self, name: str) -> Row:
        """The row of metric ``name``.

        Raises:
            KeyError: no such metric.
        """
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)


def _status(a: float, b: float, policy: MetricPolicy | None) -> Status:
    if math.isnan(a) and math.isnan(b):
        return "ok"
    if math.isnan(a) or math.isnan(b):
        # a metric that stopped (or started) being computable
        if policy is None:
            return "changed"
        return "regressed" if math.isnan(b) else "improved"
    delta = b - a
    if policy is None:
        return "ok" if abs(delta) <= _EXACT_REL * max(abs(a), abs(b)) else "changed"
    if abs(delta) <= policy.allowed(a):
        return "ok"
    if policy.direction == "equal":
        return "regressed"
    worse = delta < 0 if policy.direction == "higher_is_better" else delta > 0
    return "regressed" if worse else "improved"


def compare(
    a: Mapping[str, float],
    b: Mapping[str, float],
    policies: Mapping[str, MetricPolicy] | None = None,
    *,
    rules: Sequence[tuple[str, MetricPolicy | None]] = DEFAULT_RULES,
    label_a: str = "A",
    label_b: str = "B",
) -> Comparison:
    """Compare flattened metrics ``b`` against reference ``a``.

    Args:
        a: reference metrics (a baseline, or the older run).
        b: metrics to check.
        policies: per-metric policies (a baselines file); they win over ``rules``.
        rules: fallback policies by name pattern (``DEFAULT_RULES``).
        label_a: name of A in tables.
        label_b: name of B in tables.

    Returns:
        one row per metric in A or B.
    """
    policies = policies or {}
    rows: list[Row] = []

    def policy(name: str) -> MetricPolicy | None:
        return policies[name] if name in policies else policy_for(name, rules)

    for name, va in a.items():
        p = policy(name)
        if name not in b:
            rows.append(Row(name, va, None, p, "regressed" if p is not None else "missing"))
        else:
            rows.append(Row(name, va, b[name], p, _status(va, b[name], p)))
    rows += [Row(name, None, vb, policy(name), "new") for name, vb in b.items() if name not in a]
    return Comparison(label_a, label_b, tuple(rows))


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.6g}"


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:+.1f} %"


_FLAGS: dict[Status, str] = {
    "ok": "",
    "regressed": "REGRESSED",
    "improved": "improved",
    "changed": "changed",
    "new": "new",
    "missing": "missing",
}


def format_table(comparison: Comparison, *, only_flagged: bool = False) -> str:
    """A fixed-width table: metric, A, B, delta, relative delta, tolerance, flag.

    Args:
        comparison: what ``compare`` returned.
        only_flagged: leave out rows within tolerance.

    Returns:
        the table text (no trailing newline).
    """
    rows = comparison.flagged if only_flagged else comparison.rows
    header = (
        "metric",
        comparison.label_a,
        comparison.label_b,
        "delta",
        "rel delta",
        "tolerance",
        "flag",
    )
    body = [
        (
            r.name,
            _num(r.a),
            _num(r.b),
            "-" if r.delta is None or math.isnan(r.delta) else f"{r.delta:+.6g}",
            _pct(r.rel_delta),
            r.policy.describe() if r.policy is not None else "-",
            _FLAGS[r.status],
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=True)]
    lines = []
    for i, cells in enumerate([header, *body]):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        lines.append("  ".join([first, *rest, cells[-1]]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------- baselines


@dataclass(frozen=True, slots=True)
class BaselineCase:
    """One case of a baselines file.

    Attributes:
        name: the case name.
        settings: how it was run (``robot``, ``sequence``, ``perturb``...).
        values: metric -> baseline value.
        policies: metric -> direction and tolerance.
    """

    name: str
    settings: dict[str, object]
    values: dict[str, float]
    policies: dict[str, MetricPolicy]


@dataclass(frozen=True, slots=True)
class Baselines:
    """A parsed baselines file."""

    path: Path
    header: dict[str, object]
    cases: dict[str, BaselineCase] = field(default_factory=dict)

    def case(self, name: str | None) -> BaselineCase:
        """Case ``name``, or the only case when ``name`` is None.

        Raises:
            ConfigError: unknown case, or several cases and no name.
        """
        if name is None:
            if len(self.cases) == 1:
                return next(iter(self.cases.values()))
            msg = f"{self.path}: holds cases {sorted(self.cases)}; pick one (--case NAME)"
            raise ConfigError(msg)
        if name not in self.cases:
            msg = f"{self.path}: no case {name!r}; cases: {sorted(self.cases)}"
            raise ConfigError(msg)
        return self.cases[name]


def _entry(path: Path, case: str, name: str, raw: object) -> tuple[float, MetricPolicy]:
    where = f"{path}: cases.{case}.metrics.{name}"
    if not isinstance(raw, Mapping) or "value" not in raw:
        msg = f"{where} must be a mapping with value, direction and abs and/or rel, got {raw!r}"
        raise ConfigError(msg)
    unknown = set(raw) - {"value", "direction", "abs", "rel"}
    if unknown:
        msg = f"{where}: unknown keys {sorted(unknown)} (value, direction, abs, rel)"
        raise ConfigError(msg)
    value = raw["value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        msg = f"{where}.value must be a number or null, got {value!r}"
        raise ConfigError(msg)
    try:
        policy = MetricPolicy(
            raw.get("direction", "equal"), float(raw.get("abs", 0.0)), float(raw.get("rel", 0.0))
        )
    except (ConfigError, TypeError, ValueError) as err:
        msg = f"{where}: {err}"
        raise ConfigError(msg) from err
    return (math.nan if value is None else float(value)), policy


def load_baselines(path: Path | str) -> Baselines:
    """Read a baselines YAML file.

    Raises:
        ConfigError: unreadable file, wrong layout or bad entries (the message names the
            file and the key).
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        msg = f"{path}: cannot read baselines: {err}"
        raise ConfigError(msg) from err
    if not isinstance(doc, Mapping) or not isinstance(doc.get("cases"), Mapping):
        msg = f"{path}: expected a mapping with 'cases: {{NAME: {{metrics: ...}}}}'"
        raise ConfigError(msg)
    if doc.get("version") != BASELINES_VERSION:
        msg = f"{path}: version must be {BASELINES_VERSION}, got {doc.get('version')!r}"
        raise ConfigError(msg)
    cases: dict[str, BaselineCase] = {}
    for name, raw in doc["cases"].items():
        if not isinstance(raw, Mapping) or not isinstance(raw.get("metrics"), Mapping):
            msg = f"{path}: cases.{name} must have a 'metrics' mapping"
            raise ConfigError(msg)
        values: dict[str, float] = {}
        policies: dict[str, MetricPolicy] = {}
        for metric, entry in raw["metrics"].items():
            values[str(metric)], policies[str(metric)] = _entry(path, name, metric, entry)
        settings = {str(k): v for k, v in raw.items() if k != "metrics"}
        cases[str(name)] = BaselineCase(str(name), settings, values, policies)
    header = {str(k): v for k, v in doc.items() if k != "cases"}
    return Baselines(path, header, cases)


_HEADER = """\
# Metric baselines of the regression tests (tests/regression, marker `regression`).
# Written by running the pipeline, never by hand:
#   {command}
# regenerates each case's sequence, replays it through the robot graph, evaluates the run
# (percept eval + message counts, percept.tools.regress.run_metrics) and writes every metric
# that has a policy. Values come from that run; direction and tolerance (abs, rel) are
# kept from the entry already here, else taken from percept.tools.regress.DEFAULT_RULES. A
# metric drifts past its tolerance when |new - value| > max(abs, rel * |value|) in the
# bad direction (equal: either way).
"""


def write_baselines(
    path: Path | str,
    cases: Mapping[str, tuple[Mapping[str, object], Mapping[str, float]]],
    *,
    command: str,
    previous: Baselines | None = None,
    rules: Sequence[tuple[str, MetricPolicy | None]] = DEFAULT_RULES,
    commit: str | None = None,
) -> Baselines:
    """Write baselines from measured metrics.

    Args:
        path: the YAML file.
        cases: case name -> (settings, flattened metrics measured by running it).
        command: the command that produced them (written into the file).
        previous: the file's former content; its directions and tolerances are kept.
        rules: policies of metrics the former content does not have.
        commit: the source revision measured, when known.

    Returns:
        the baselines as written.

    Raises:
        ConfigError: the file cannot be written.
    """
    path = Path(path)
    doc_cases: dict[str, object] = {}
    for name, (settings, metrics) in cases.items():
        old = previous.cases.get(name) if previous is not None else None
        entries: dict[str, object] = {}
        for metric, value in metrics.items():
            policy = old.policies.get(metric) if old is not None else None
            policy = policy or policy_for(metric, rules)
            if policy is None:
                continue
            entry: dict[str, object] = {
                "value": None if math.isnan(value) else _plain(value),
                "direction": policy.direction,
            }
            if policy.abs_tol or not policy.rel_tol:
                entry["abs"] = _plain(policy.abs_tol)
            if policy.rel_tol:
                entry["rel"] = _plain(policy.rel_tol)
            entries[metric] = entry
        doc_cases[name] = {**settings, "metrics": entries}
    doc: dict[str, object] = {
        "version": BASELINES_VERSION,
        "produced_by": command,
        "produced_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
    }
    if commit:
        doc["commit"] = commit
    doc["cases"] = doc_cases
    text = _HEADER.format(command=command) + yaml.safe_dump(
        doc, sort_keys=False, width=1000, default_flow_style=None
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot write baselines: {err}"
        raise ConfigError(msg) from err
    return load_baselines(path)


def _plain(value: float) -> float | int:
    """Integers stay integers in YAML; floats keep 6 significant digits (noise beyond)."""
    if float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.6g}")


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class MetricSource:
    """Flattened metrics from a file, folder, bag or baselines case.

    Attributes:
        label: short name for tables.
        path: where they came from.
        metrics: flattened metrics.
        policies: per-metric policies (a baselines case), else empty.
    """

    label: str
    path: Path
    metrics: dict[str, float]
    policies: dict[str, MetricPolicy] = field(default_factory=dict)


def _is_bag(path: Path) -> bool:
    if path.is_file():
        return path.suffix in (".mcap", ".db3", ".bag")
    return path.is_dir() and (path / "metadata.yaml").is_file()


def run_metrics(run_bag: Path | str, gt_bag: Path | str | None = None) -> dict[str, object]:
    """Evaluate a run bag and add its message counts: the regression metrics document.

    Args:
        run_bag: what a replay (or robot) recorded.
        gt_bag: ground truth (``percept synth`` output); None: inside ``run_bag``.

    Returns:
        ``percept eval``'s metrics document plus ``messages``: topic -> count for every
        topic of the run except ``/ground_truth/*``.

    Raises:
        BagError: a bag cannot be read.
        EvalError: nothing in the run can be scored.
    """
    from percept.eval.runner import evaluate
    from percept.io.bag import summarize_bag

    doc = evaluate(run_bag, gt_bag).metrics()
    summaries, _ = summarize_bag(Path(run_bag))
    doc["messages"] = {
        s.topic: s.count for s in summaries if not s.topic.startswith("/ground_truth/")
    }
    return doc


def load_source(
    path: Path | str, *, gt_bag: Path | str | None = None, case: str | None = None
) -> MetricSource:
    """Metrics from ``metrics.json``, a folder holding one, a run bag, or baselines YAML.

    Args:
        path: the input.
        gt_bag: ground truth for a run bag (None: inside the bag).
        case: the case of a baselines file holding several.

    Raises:
        ConfigError: a path that is none of these, or unreadable JSON.
        BagError: an unreadable bag.
        EvalError: a bag with nothing to score.
    """
    path = Path(path)
    label = path.name or str(path)
    if not path.exists():
        msg = f"{path}: no such file or folder"
        raise ConfigError(msg)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        chosen = load_baselines(path).case(case)
        return MetricSource(f"{label}:{chosen.name}", path, chosen.values, chosen.policies)
    if _is_bag(path):
        return MetricSource(label, path, flatten_metrics(run_metrics(path, gt_bag)))
    file = path / "metrics.json" if path.is_dir() else path
    if not file.is_file():
        msg = (
            f"{path}: expected metrics.json, a folder holding one, a run bag "
            "(.mcap or rosbag2 folder) or a baselines .yaml"
        )
        raise ConfigError(msg)
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        msg = f"{file}: cannot read metrics: {err}"
        raise ConfigError(msg) from err
    if not isinstance(doc, Mapping):
        msg = f"{file}: expected a JSON object of metrics"
        raise ConfigError(msg)
    if path.is_dir():
        label = f"{label}/metrics.json"
    return MetricSource(label, file, flatten_metrics(doc))
