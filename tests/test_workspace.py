"""The workspace itself: layering, layout, colcon and pip installs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(
    repo_root: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the contracts of pyproject.toml ([tool.importlinter])."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (requirements-test.txt)")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_import_contracts_hold(repo_root: Path) -> None:
    result = _lint_imports(repo_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "geometry/camera.py",
            "import percept.nodes.debayer",
            "percept.geometry is not allowed to import percept.nodes",
        ),
        (
            "stereo/matcher.py",
            "import percept.codecs",
            "percept.stereo is not allowed to import percept.codecs",
        ),
        (
            "nodes/resize.py",
            "import percept.runtime.local",
            "percept.nodes is not allowed to import percept.runtime",
        ),
        ("detect/nms.py", "import rclpy", "percept.detect.nms -> rclpy"),
    ],
)
def test_import_contracts_catch_an_upward_or_ros_import(
    repo_root: Path, tmp_path: Path, module: str, line: str, broken: str
) -> None:
    copy = tmp_path / "percept"
    shutil.copytree(
        repo_root / "src" / "percept" / "percept",
        copy,
        ignore=shutil.ignore_patterns("__pycache__", "models"),
    )
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint_imports(repo_root, pythonpath=tmp_path)
    assert result.returncode != 0, result.stdout
    assert broken in result.stdout, result.stdout


def test_core_imports_in_a_process_without_ros(repo_root: Path) -> None:
    code = (
        "import sys, percept, percept.runtime.local, percept.tools.replay, percept.cli.main\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('rclpy', 'message_filters', 'tf2_ros', 'sensor_msgs')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo_root)


def test_repository_layout(repo_root: Path) -> None:
    for name in (
        "README.md",
        "src",
        "launch",
        "config",
        "calibration",
        "docker",
        "tests",
        "colcon.meta",
        ".ci/run",
    ):
        assert (repo_root / name).exists(), name
    for package in ("percept", "percept_ros"):
        for name in ("package.xml", "setup.py", "setup.cfg", f"resource/{package}"):
            assert (repo_root / "src" / package / name).is_file(), f"{package}/{name}"


@pytest.mark.colcon
def test_colcon_build_of_the_workspace(repo_root: Path, tmp_path: Path) -> None:
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.skip("colcon is not installed (pip install colcon-core colcon-ros)")
    env = {**os.environ, "COLCON_HOME": str(tmp_path / "colcon_home")}
    result = subprocess.run(
        [
            colcon,
            "--log-base",
            str(tmp_path / "log"),
            "build",
            "--base-paths",
            "src",
            "--build-base",
            str(tmp_path / "build"),
            "--install-base",
            str(tmp_path / "install"),
            "--event-handlers",
            "console_direct-",
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    install = tmp_path / "install"
    assert (
        install / "percept" / "share" / "ament_index" / "resource_index" / "packages" / "percept"
    ).is_file()
    assert (install / "percept" / "lib" / "percept" / "percept").is_file()
    assert (install / "percept_ros" / "lib" / "percept_ros" / "percept_debayer").is_file()
    assert (
        install / "percept_ros" / "share" / "percept_ros" / "launch" / "perception.launch.py"
    ).is_file()
    site = next((install / "percept").glob("lib/python3*/site-packages"))
    probe = subprocess.run(
        [sys.executable, "-c", "import percept, sys; print(percept.__file__)"],
        env={**env, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(site) in probe.stdout


@pytest.mark.colcon
def test_pip_editable_install_of_both_packages(repo_root: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    for package in ("percept", "percept_ros"):
        result = subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "--no-deps",
                "-q",
                "-e",
                str(repo_root / "src" / package),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    out = subprocess.run(
        [str(py), "-c", "import percept, percept_ros; print(percept.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert str(repo_root / "src" / "percept") in out.stdout


def test_readme_documents_every_node(repo_root: Path) -> None:
    from percept.nodes import NODE_TYPES, load_node_class

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    for node_type in NODE_TYPES:
        cls = load_node_class(node_type)
        assert f"### {node_type} (`percept_{node_type}`" in readme
        for spec in (*cls.INPUTS, *cls.OUTPUTS):
            assert f"`{spec.topic}`" in readme, (node_type, spec.topic)
        for param in cls.PARAMETERS:
            assert f"`{param.name}`" in readme, (node_type, param.name)


def test_readme_quick_start_has_exactly_two_commands(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert [c.split()[0:2] for c in commands] == [["./run", "demo"], ["./run", "test"]]
    ci = (repo_root / ".ci" / "run").read_text(encoding="utf-8")
    assert "./run test" in ci
