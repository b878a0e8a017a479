"""Where many jobs run: a ``concurrent.futures`` process pool, or a Ray cluster.

Both engines take the same picklable function and argument tuples and yield each job's
index and result (or the exception that ended it) as jobs finish. Scheduling is the
engine's own: ``ProcessPoolExecutor`` on this machine, Ray's scheduler on a local Ray
cluster started here or on an existing one reached by address. Ray is imported only
when the ``ray`` engine is asked for (``pip install 'percept[ray]'``).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final, TypeVar

from percept.errors import ConfigError

__all__ = ["ENGINES", "RAY_INSTALL_HINT", "EngineSpec", "import_ray", "run_jobs"]

_log = logging.getLogger(__name__)

ENGINES: Final = ("process", "ray")
RAY_INSTALL_HINT: Final = "pip install 'percept[ray]'"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Which engine runs the jobs and how many at once.

    Attributes:
        engine: ``process`` (concurrent.futures on this machine) or ``ray``.
        jobs: jobs at once. ``process``: worker processes (1: in this process; None:
            this machine's CPU count). ``ray`` without ``address``: CPUs of the local
            cluster started for the run (None: this machine's CPU count); with
            ``address``: most jobs in flight (None: all; the cluster schedules them).
        address: ``ray`` only: an existing cluster (``auto``, ``HOST:PORT`` or
            ``ray://HOST:10001``); None starts a local one and stops it afterwards.
    """

    engine: str = "process"
    jobs: int | None = 1
    address: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            msg = f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}"
            raise ConfigError(msg)
        if self.jobs is not None and self.jobs < 1:
            msg = f"--jobs must be >= 1, got {self.jobs}"
            raise ConfigError(msg)
        if self.address is not None and self.engine != "ray":
            msg = f"--ray-address needs --engine ray (engine is {self.engine!r})"
            raise ConfigError(msg)

    def describe(self) -> str:
        """``process pool, 2 workers``-style text for logs."""
        if self.engine == "process":
            n = self.jobs or os.cpu_count() or 1
            return "in this process" if n == 1 else f"process pool, {n} workers"
        if self.address is not None:
            return f"Ray cluster at {self.address}"
        return f"local Ray cluster, {self.jobs or os.cpu_count() or 1} CPUs"


def import_ray() -> ModuleType:
    """The ``ray`` module.

    Raises:
        ConfigError: Ray is not installed (the message says how to install it).
    """
    try:
        ray: ModuleType = importlib.import_module("ray")
    except ImportError as err:
        msg = (
            f"--engine ray needs Ray, which is not installed ({err}); "
            f"install it with: {RAY_INSTALL_HINT}"
        )
        raise ConfigError(msg) from err
    return ray


def run_jobs(
    fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], spec: EngineSpec
) -> Iterator[tuple[int, T | BaseException]]:
    """Run ``fn(*args)`` for each argument tuple on the engine, yielding as jobs finish.

    A job that raises (or whose worker dies) yields its exception; the others go on.

    Args:
        fn: a module-level (picklable) function.
        calls: its argument tuples, one per job.
        spec: the engine.

    Yields:
        (index into ``calls``, result or exception), in completion order.

    Raises:
        ConfigError: ``ray`` asked for but not installed, or its cluster cannot be
            started or reached.
    """
    if not calls:
        return
    if spec.engine == "ray":
        yield from _ray_jobs(fn, calls, spec)
        return
    workers = min(spec.jobs or os.cpu_count() or 1, len(calls))
    if workers == 1:
        for i, args in enumerate(calls):
            try:
                yield i, fn(*args)
            except Exception as err:  # one job's failure is its result
                yield i, err
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(calls)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as err:  # a worker that died fails its job only
                yield futures[future], err


def _ray_jobs(
    fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], spec: EngineSpec
) -> Iterator[tuple[int, T | BaseException]]:
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if spec.address is None:
            kwargs.update(num_cpus=spec.jobs or os.cpu_count() or 1, include_dashboard=False)
        else:
            kwargs["address"] = spec.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = spec.address or "a local cluster"
            msg = f"Ray: cannot start or reach {where}: {err}"
            raise ConfigError(msg) from err
        started = True
        _log.info("Ray: %s", spec.describe())
    try:
        remote = ray.remote(num_cpus=1)(fn)
        window = len(calls) if spec.address is None or spec.jobs is None else spec.jobs
        todo = iter(enumerate(calls))
        pending: dict[Any, int] = {}

        def submit() -> None:
            for i, args in todo:
                pending[remote.remote(*args)] = i
                return

        for _ in range(window):
            submit()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    yield i, ray.get(ref)
                except Exception as err:  # RayTaskError, WorkerCrashedError
                    yield i, err
                submit()
    finally:
        if started:
            ray.shutdown()
