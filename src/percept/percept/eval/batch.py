"""Many runs at once: ``percept eval`` bag-parallel on a process pool or a Ray cluster.

``find_bags`` turns folders and text files listing bags into the bag list;
``evaluate_batch`` scores each bag as one job of an engine (``percept.eval.engines``)
and writes its ``metrics.json`` and ``report.html`` under ``out_root/<name>/``;
``format_batch_table`` is the one summary table of every bag's headline metrics.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from percept.errors import ConfigError
from percept.eval.config import EvalConfig
from percept.eval.engines import EngineSpec, run_jobs
from percept.eval.report import write_outputs
from percept.eval.runner import evaluate

__all__ = [
    "BAG_LIST_SUFFIXES",
    "evaluate_batch",
    "find_bags",
    "format_batch_table",
    "format_table",
    "headline",
    "is_collection",
    "output_names",
]

_log = logging.getLogger(__name__)

#: an input with one of these suffixes is a text file listing bags, one a line
BAG_LIST_SUFFIXES = (".txt", ".list")
_BAG_SUFFIXES = (".mcap", ".db3", ".bag")


def _is_rosbag2_folder(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.yaml").is_file()


def is_collection(path: Path) -> bool:
    """Whether ``path`` names several bags: a bag list file or a folder that is no bag."""
    if path.is_file():
        return path.suffix in BAG_LIST_SUFFIXES
    return path.is_dir() and not _is_rosbag2_folder(path)


def _bags_in_folder(folder: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            found += [path] if _is_rosbag2_folder(path) else _bags_in_folder(path)
        elif path.suffix in _BAG_SUFFIXES:
            found.append(path)
    return found


def _bags_in_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        msg = f"{path}: cannot read the bag list: {err}"
        raise ConfigError(msg) from err
    bags: list[Path] = []
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            bag = Path(entry).expanduser()
            bags.append(bag if bag.is_absolute() else path.parent / bag)
    return bags


def find_bags(inputs: Sequence[Path], *, exclude: Sequence[Path] = ()) -> list[Path]:
    """The bags named by ``inputs``, in order, each once.

    An input is a bag (``.mcap``, ``.db3``, ``.bag`` or a rosbag2 folder), a folder
    searched recursively for bags (sorted by path; a rosbag2 folder counts as one bag
    and is not searched further), or a text file (``.txt``, ``.list``) listing bags one
    a line, relative to the file's folder, ``#`` starting a comment.

    Args:
        inputs: what the command line named.
        exclude: bags to leave out (the shared ground-truth bag when it lies among them).

    Raises:
        ConfigError: an input that does not exist, or no bags found.
    """
    skip = {p.resolve() for p in exclude}
    bags: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        if not item.exists():
            msg = f"{item}: no such file or folder"
            raise ConfigError(msg)
        if item.is_file() and item.suffix in BAG_LIST_SUFFIXES:
            found = _bags_in_list(item)
        elif item.is_dir() and not _is_rosbag2_folder(item):
            found = _bags_in_folder(item)
        else:
            found = [item]
        for bag in found:
            key = bag.resolve()
            if key not in seen and key not in skip:
                seen.add(key)
                bags.append(bag)
    if not bags:
        msg = f"no bags in {', '.join(str(p) for p in inputs)}"
        raise ConfigError(msg)
    return bags


def output_names(run_bags: Sequence[Path]) -> dict[Path, str]:
    """Each bag's output folder name: its stem, numbered ``_2``, ``_3`` when stems repeat."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for bag in run_bags:
        stem = bag.name.removesuffix(".mcap") or "run"
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        names[bag] = name
    return names


def _evaluate_to(
    run_bag: Path,
    gt_bag: Path | None,
    config: EvalConfig,
    out_dir: Path,
    messages: bool = False,
    report: bool = True,
) -> dict[str, object]:
    """One job of a batch: evaluate and write metrics.json (+ report.html and pictures)."""
    result = evaluate(run_bag, gt_bag, config)
    if report:
        write_outputs(result, out_dir)
    doc = result.metrics()
    if messages:
        from percept.io.bag import summarize_bag

        summaries, _ = summarize_bag(run_bag)
        doc["messages"] = {
            s.topic: s.count for s in summaries if not s.topic.startswith("/ground_truth/")
        }
    if messages or not report:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


def _guarded(
    run_bag: Path,
    gt_bag: Path | None,
    config: EvalConfig,
    out_dir: Path,
    messages: bool = False,
    report: bool = True,
) -> dict[str, object]:
    from percept.errors import PerceptError

    try:
        return _evaluate_to(run_bag, gt_bag, config, out_dir, messages, report)
    except PerceptError as err:
        return {"run": str(run_bag), "error": str(err)}


def evaluate_batch(
    run_bags: Sequence[Path],
    gt_bag: Path | None,
    out_root: Path,
    config: EvalConfig | None = None,
    *,
    jobs: int | None = 1,
    progress: bool = False,
    engine: str = "process",
    address: str | None = None,
    messages: bool = False,
    report: bool = True,
) -> dict[str, dict[str, object]]:
    """Evaluate many runs, bag-parallel on a process pool or a Ray cluster.

    Each run's outputs go to ``out_root/<name>/`` (``output_names``). A bag that fails
    to evaluate (unreadable, nothing to score, a crashed worker) gets ``{"run": path,
    "error": message}``; the others go on.

    Args:
        run_bags: the runs.
        gt_bag: shared ground truth; None: each run carries its own.
        out_root: output folder.
        config: topics and metric settings.
        jobs: bags at once (``EngineSpec.jobs``; 1 with ``process``: in this process).
        progress: tqdm bar over bags on stderr.
        engine: ``process`` (concurrent.futures) or ``ray``.
        address: ``ray``: an existing cluster; None starts a local one.
        messages: add ``messages`` (topic -> count, ground truth left out) to each
            metrics document, as ``percept.tools.regress.run_metrics`` does.
        report: write ``report.html`` and its pictures too (False: ``metrics.json``
            only, about 1 s less per bag).

    Returns:
        run path -> its metrics, or ``{"run": path, "error": message}``, in input order.

    Raises:
        ConfigError: a bad engine, jobs or address, or Ray asked for but not installed.
    """
    cfg = config or EvalConfig()
    spec = EngineSpec(engine, jobs, address)
    names = output_names(run_bags)
    calls = [(bag, gt_bag, cfg, out_root / names[bag], messages, report) for bag in run_bags]
    results: dict[str, dict[str, object]] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(run_bags), desc="eval", unit="bag")
    start = time.perf_counter()
    try:
        for i, outcome in run_jobs(_guarded, calls, spec):
            bag = run_bags[i]
            if isinstance(outcome, BaseException):
                _log.error("%s: evaluation failed: %s: %s", bag, type(outcome).__name__, outcome)
                outcome = {"run": str(bag), "error": f"{type(outcome).__name__}: {outcome}"}
            results[str(bag)] = outcome
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    _log.info(
        "%d bags evaluated (%s) in %.1f s", len(run_bags), spec.describe(),
        time.perf_counter() - start,
    )  # fmt: skip
    return {str(b): results[str(b)] for b in run_bags}


def _get(doc: Mapping[str, object], *keys: str) -> float | None:
    value: object = doc
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


#: (column, path into the metrics document, format) of the summary table
HEADLINE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("ATE m", ("trajectory", "ate_m", "rmse"), ".4f"),
    ("bad-2 %", ("disparity", "bad_2_total_pct"), ".2f"),
    ("mAP", ("detection", "map"), ".4f"),
    ("MOTA", ("tracking", "mota"), ".3f"),
    ("occ IoU", ("occupancy", "occupied_iou"), ".3f"),
)


def headline(metrics: Mapping[str, object]) -> dict[str, str]:
    """A run's headline numbers by column (``-`` where not scored)."""
    return {col: _fmt(_get(metrics, *keys), spec) for col, keys, spec in HEADLINE}


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width text table: first column left-aligned, the last free, others right."""
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = []
    for k, cells in enumerate([header, *rows]):
        mid = [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        lines.append("  ".join([cells[0].ljust(widths[0]), *mid, cells[-1]]).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def format_batch_table(
    results: Mapping[str, Mapping[str, object]], names: Mapping[str, str] | None = None
) -> str:
    """One row per bag: its name, ok or FAILED, headline metrics, skipped or the error.

    Args:
        results: what ``evaluate_batch`` returned.
        names: run path -> short name (default: the path).
    """
    cols = [c for c, _, _ in HEADLINE]
    rows: list[list[str]] = []
    for run, metrics in results.items():
        name = (names or {}).get(run, run)
        if "error" in metrics:
            rows.append([name, "FAILED", *("-" for _ in cols), str(metrics["error"])])
            continue
        skipped = metrics.get("skipped")
        note = (
            f"skipped {', '.join(sorted(skipped))}" if isinstance(skipped, dict) and skipped else ""
        )
        rows.append([name, "ok", *headline(metrics).values(), note])
    return format_table(["bag", "status", *cols, "notes"], rows)
