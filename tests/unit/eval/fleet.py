"""A fleet of small run bags, each carrying its own ground truth (``write_bags``)."""

from __future__ import annotations

from pathlib import Path

from .bags import write_bags

__all__ = ["write_fleet"]


def write_fleet(folder: Path, n: int = 8, *, seconds: float = 1.0) -> list[Path]:
    """Write ``folder/bag_<seed>.mcap`` for seeds 0..n-1: run and ground-truth topics.

    Returns:
        the bags, by seed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    bags: list[Path] = []
    for seed in range(n):
        work = folder / f".work_{seed}"
        work.mkdir()
        run, _, _ = write_bags(work, seconds=seconds, seed=seed, gt_in_run=True)
        bag = run.rename(folder / f"bag_{seed}.mcap")
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
        bags.append(bag)
    return bags
