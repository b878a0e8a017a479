"""Many runs at once: ``percept eval`` bag-parallel on a process pool."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from percept.errors import ConfigError
from percept.eval.config import EvalConfig
from percept.eval.report import write_outputs
from percept.eval.runner import evaluate

__all__ = ["evaluate_batch"]


def _evaluate_to(
    run_bag: Path, gt_bag: Path | None, config: EvalConfig, out_dir: Path
) -> dict[str, object]:
    """One job of a batch: evaluate and write metrics.json + report.html."""
    result = evaluate(run_bag, gt_bag, config)
    write_outputs(result, out_dir)
    return result.metrics()


def evaluate_batch(
    run_bags: Sequence[Path],
    gt_bag: Path | None,
    out_root: Path,
    config: EvalConfig | None = None,
    *,
    jobs: int = 1,
    progress: bool = False,
) -> dict[str, dict[str, object]]:
    """Evaluate many runs, bag-parallel on a process pool (concurrent.futures).

    Each run's outputs go to ``out_root/<bag stem>/`` (numbered when stems repeat).

    Args:
        run_bags: the runs.
        gt_bag: shared ground truth; None: each run carries its own.
        out_root: output folder.
        config: topics and metric settings.
        jobs: worker processes (1: in this process).
        progress: tqdm bar on stderr.

    Returns:
        run path -> its metrics, or ``{"error": message}`` when it failed.
    """
    cfg = config or EvalConfig()
    if jobs < 1:
        msg = f"--jobs must be >= 1, got {jobs}"
        raise ConfigError(msg)
    outs: dict[Path, Path] = {}
    used: set[str] = set()
    for bag in run_bags:
        stem = bag.name.removesuffix(".mcap") or "run"
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        outs[bag] = out_root / name
    results: dict[str, dict[str, object]] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(run_bags), desc="eval", unit="bag")
    try:
        if jobs == 1:
            for bag in run_bags:
                results[str(bag)] = _guarded(bag, gt_bag, cfg, outs[bag])
                if bar is not None:
                    bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(_guarded, bag, gt_bag, cfg, outs[bag]): bag for bag in run_bags
                }
                for future in as_completed(futures):
                    results[str(futures[future])] = future.result()
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    return {str(b): results[str(b)] for b in run_bags}


def _guarded(
    run_bag: Path, gt_bag: Path | None, config: EvalConfig, out_dir: Path
) -> dict[str, object]:
    from percept.errors import PerceptError

    try:
        return _evaluate_to(run_bag, gt_bag, config, out_dir)
    except PerceptError as err:
        return {"run": str(run_bag), "error": str(err)}
