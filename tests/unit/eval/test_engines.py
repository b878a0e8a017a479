"""The engines of bag-parallel evaluation: process pool, and Ray when installed."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from percept.cli.main import main
from percept.errors import ConfigError
from percept.eval.batch import evaluate_batch
from percept.eval.engines import RAY_INSTALL_HINT, EngineSpec, import_ray, run_jobs

from .fleet import write_fleet

HAVE_RAY = importlib.util.find_spec("ray") is not None


def _half(x: int) -> float:
    if x == 3:
        msg = "three is odd"
        raise ValueError(msg)
    return x / 2


def _die(x: int) -> int:
    if x == 1:
        os._exit(3)  # a worker that dies, as on a segfault or the OOM killer
    return x


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_job_yields_its_exception_and_the_rest_go_on(jobs: int) -> None:
    out = dict(run_jobs(_half, [(k,) for k in range(5)], EngineSpec("process", jobs)))
    assert sorted(out) == [0, 1, 2, 3, 4]
    assert [out[k] for k in (0, 1, 2, 4)] == [0.0, 0.5, 1.0, 2.0]
    assert isinstance(out[3], ValueError)


def test_a_dead_worker_fails_its_jobs_not_the_run() -> None:
    out = dict(run_jobs(_die, [(0,), (1,)], EngineSpec("process", 2)))
    assert isinstance(out[1], BaseException)  # BrokenProcessPool
    assert sorted(out) == [0, 1]


def test_spec_checks_engine_jobs_and_address() -> None:
    with pytest.raises(ConfigError, match="engine must be one of process, ray"):
        EngineSpec("dask")
    with pytest.raises(ConfigError, match="--jobs must be >= 1"):
        EngineSpec("ray", 0)
    with pytest.raises(ConfigError, match="--ray-address needs --engine ray"):
        EngineSpec("process", 1, "auto")
    assert EngineSpec("ray", 2).describe() == "local Ray cluster, 2 CPUs"
    assert EngineSpec("process", 1).describe() == "in this process"


def test_without_ray_the_ray_engine_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'percept\[ray\]'"):
        import_ray()
    bags = write_fleet(tmp_path / "fleet", 1)
    argv = ["eval", str(bags[0]), "--out", str(tmp_path / "o"), "--engine", "ray"]
    assert main(argv) == 1
    assert RAY_INSTALL_HINT in caplog.text


def test_the_default_engine_never_imports_ray(tmp_path: Path) -> None:
    bags = write_fleet(tmp_path / "fleet", 2)
    sys.modules.pop("ray", None)
    evaluate_batch(bags, None, tmp_path / "out", jobs=2, report=False)
    assert "ray" not in sys.modules


@pytest.mark.slow  # a local Ray cluster starts in 5-10 s
@pytest.mark.skipif(not HAVE_RAY, reason=f"Ray is not installed ({RAY_INSTALL_HINT})")
def test_ray_with_two_local_workers_gives_the_sequential_metrics(tmp_path: Path) -> None:
    bags = write_fleet(tmp_path / "fleet", 8)
    sequential = evaluate_batch(bags, None, tmp_path / "seq", jobs=1, report=False)
    on_ray = evaluate_batch(bags, None, tmp_path / "ray", jobs=2, engine="ray", report=False)
    assert on_ray == sequential
    assert all("error" not in m for m in on_ray.values())
    for bag in bags:
        name = bag.name.removesuffix(".mcap")
        seq = (tmp_path / "seq" / name / "metrics.json").read_bytes()
        assert (tmp_path / "ray" / name / "metrics.json").read_bytes() == seq
