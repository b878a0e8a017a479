"""Fleet regression: many bags evaluated on an engine, each compared with its reference.

``percept regress REF RUNS... --out DIR`` evaluates every bag of RUNS (folders, lists,
bags; ``percept.eval.batch.find_bags``) on a process pool or a Ray cluster
(``percept.eval.batch.evaluate_batch``, message counts included as ``run_metrics``
adds them), then compares each bag's metrics with its reference:

- REF a batch folder (``percept eval --out`` or ``percept regress --out`` of many bags):
  the bag's own ``REF/<name>/metrics.json``, matched by output name;
- REF a baselines YAML: the case named ``--case``, else the case named like the bag,
  else the file's only case;
- REF anything else ``load_source`` reads (one metrics.json, a folder holding one, a run
  bag): the same reference for every bag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from percept.errors import ConfigError
from percept.eval.batch import format_table, headline
from percept.tools.regress import (
    Baselines,
    Comparison,
    MetricSource,
    compare,
    flatten_metrics,
    load_baselines,
    load_source,
)

__all__ = ["FleetEntry", "FleetReference", "compare_fleet", "fleet_summary", "format_fleet_table"]

FleetStatus = Literal["ok", "regressed", "failed", "no reference"]


@dataclass(frozen=True, slots=True)
class FleetReference:
    """Where each bag's reference metrics come from (see the module docstring).

    Attributes:
        path: REF as given.
        per_bag: REF is a batch folder: ``path/<name>/metrics.json`` per bag.
        baselines: REF is a baselines file.
        shared: the one reference of every bag otherwise.
        case: ``--case``.
    """

    path: Path
    per_bag: bool = False
    baselines: Baselines | None = None
    shared: MetricSource | None = None
    case: str | None = None

    @classmethod
    def load(
        cls, path: Path, *, gt_bag: Path | None = None, case: str | None = None
    ) -> FleetReference:
        """Read REF.

        Raises:
            ConfigError: REF is none of the kinds above, or a case that is not there.
            BagError: REF is a bag that cannot be read.
            EvalError: REF is a bag with nothing to score.
        """
        if not path.exists():
            msg = f"{path}: no such file or folder"
            raise ConfigError(msg)
        if path.is_file() and path.suffix in (".yaml", ".yml"):
            baselines = load_baselines(path)
            if case is not None:
                baselines.case(case)  # fails now, naming the cases, when it is not there
            return cls(path, baselines=baselines, case=case)
        if (
            path.is_dir()
            and not (path / "metrics.json").is_file()
            and not (path / "metadata.yaml").is_file()
        ):
            if not any(p.is_file() for p in path.glob("*/metrics.json")):
                msg = f"{path}: no <bag>/metrics.json inside (a percept eval/regress --out folder)"
                raise ConfigError(msg)
            return cls(path, per_bag=True)
        return cls(path, shared=load_source(path, gt_bag=gt_bag, case=case))

    def source(self, name: str) -> MetricSource | None:
        """The reference of the bag whose output name is ``name`` (None: it has none).

        Raises:
            ConfigError: an unreadable reference metrics.json, or a baselines file of
                several cases none of which is named ``name`` when no ``--case`` is set.
        """
        if self.shared is not None:
            return self.shared
        if self.baselines is not None:
            cases = self.baselines.cases
            chosen = self.baselines.case(
                self.case if self.case is not None or name not in cases else name
            )
            return MetricSource(
                f"{self.path.name}:{chosen.name}", self.path, chosen.values, chosen.policies
            )
        folder = self.path / name
        if not (folder / "metrics.json").is_file():
            return None
        return load_source(folder)


@dataclass(frozen=True, slots=True)
class FleetEntry:
    """One bag of a fleet regression.

    Attributes:
        run: the bag.
        name: its output folder name.
        status: ``ok``, ``regressed``, ``failed`` (did not evaluate) or ``no reference``.
        metrics: its metrics document (``{"run", "error"}`` when it failed).
        comparison: against its reference (None: failed or no reference).
        reference: the reference's path (None: no reference).
    """

    run: str
    name: str
    status: FleetStatus
    metrics: Mapping[str, object]
    comparison: Comparison | None = None
    reference: Path | None = None


def compare_fleet(
    results: Mapping[str, Mapping[str, object]],
    names: Mapping[str, str],
    reference: FleetReference,
    *,
    baselines: Baselines | None = None,
    case: str | None = None,
) -> list[FleetEntry]:
    """Compare every evaluated bag with its reference.

    Args:
        results: ``evaluate_batch``'s run path -> metrics (or error).
        names: run path -> output name.
        reference: REF.
        baselines: ``--baselines``: tolerances and directions from here.
        case: the case of ``baselines``.

    Returns:
        one entry per bag, in the order of ``results``.
    """
    policies = baselines.case(case).policies if baselines is not None else None
    entries: list[FleetEntry] = []
    for run, metrics in results.items():
        name = names.get(run, Path(run).name)
        if "error" in metrics:
            entries.append(FleetEntry(run, name, "failed", metrics))
            continue
        ref = reference.source(name)
        if ref is None:
            entries.append(FleetEntry(run, name, "no reference", metrics))
            continue
        comparison = compare(
            ref.metrics,
            flatten_metrics(metrics),
            ref.policies if policies is None else policies,
            label_a=ref.label,
            label_b=name,
        )
        status: FleetStatus = "regressed" if comparison.regressed else "ok"
        entries.append(FleetEntry(run, name, status, metrics, comparison, ref.path))
    return entries


_FLAGS = {"ok": "ok", "regressed": "REGRESSED", "failed": "FAILED", "no reference": "no ref"}


def format_fleet_table(entries: Sequence[FleetEntry], *, only_flagged: bool = False) -> str:
    """One row per bag: status, regressed and improved counts, headline metrics, notes.

    The notes are the first regressed metric names, or the error of a failed bag.

    Args:
        entries: what ``compare_fleet`` returned.
        only_flagged: leave out bags that are ``ok``.
    """
    rows: list[list[str]] = []
    cols: list[str] = []
    for e in entries:
        if only_flagged and e.status == "ok":
            continue
        heads = headline(e.metrics)
        cols = list(heads)
        if e.comparison is None:
            counts = ["-", "-"]
            note = str(e.metrics.get("error", "")) if e.status == "failed" else ""
        else:
            regressed = [r.name for r in e.comparison.regressed]
            improved = sum(r.status == "improved" for r in e.comparison.rows)
            counts = [str(len(regressed)), str(improved)]
            note = ", ".join(regressed[:3]) + (f" (+{len(regressed) - 3})" * (len(regressed) > 3))
        values = list(heads.values()) if e.status != "failed" else ["-"] * len(heads)
        rows.append([e.name, _FLAGS[e.status], *counts, *values, note])
    if not cols:
        cols = list(headline({}))
    return format_table(["bag", "status", "regressed", "improved", *cols, "notes"], rows)


def fleet_summary(entries: Sequence[FleetEntry]) -> dict[str, object]:
    """The ``summary.json`` document: counts by status and, per bag, what regressed."""
    counts: dict[str, int] = {}
    bags: dict[str, object] = {}
    for e in entries:
        counts[e.status] = counts.get(e.status, 0) + 1
        doc: dict[str, object] = {"name": e.name, "status": e.status}
        if e.reference is not None:
            doc["reference"] = str(e.reference)
        if e.comparison is not None:
            doc["regressed"] = [r.name for r in e.comparison.regressed]
            doc["improved"] = [r.name for r in e.comparison.rows if r.status == "improved"]
        if "error" in e.metrics:
            doc["error"] = e.metrics["error"]
        bags[e.run] = doc
    return {"counts": counts, "bags": bags}
