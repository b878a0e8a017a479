"""Robot files: which nodes run on a robot, with which parameters and remaps.

``config/robots/<robot>.yaml`` drives both ``ros2 launch percept_ros perception.launch.py
robot:=<robot>`` and ``percept replay --robot <robot>``, so a bag replayed on a laptop
runs the graph that ran on the robot::

    robot: example                  # must match the file name
    description: one line
    namespace: ""                   # namespace of the whole graph
    record: [/left/image_raw]       # inputs that replay copies into its output bag
    nodes:
      - type: debayer               # a key of percept.nodes.NODE_TYPES
        name: left_debayer          # node name (default: the type's NAME)
        namespace: left             # relative to the graph namespace
        params_file: config/debayer.yaml   # default: config/<type>.yaml if it exists
        parameters: {publish_mono: true}    # overrides, validated
        remappings: {image_raw: camera/image_raw}  # input/output name or topic -> topic
        threads: 1                  # OpenCV threads for this node (0: OpenCV default)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from percept.errors import ConfigError
from percept.nodes import NODE_TYPES, load_node_class
from percept.runtime.params import resolve_parameters

if TYPE_CHECKING:
    from collections.abc import Mapping

    from percept.node import Node, ParamValue

__all__ = ["NodeEntry", "RobotConfig", "find_config_root", "load_robot", "with_parameters"]

_NODE_KEYS = {"type", "name", "namespace", "params_file", "parameters", "remappings", "threads"}
_TOP_KEYS = {"robot", "description", "namespace", "record", "nodes"}


@dataclass(frozen=True)
class NodeEntry:
    """One node of a robot graph, with its parameters resolved and validated."""

    node_type: str
    node_cls: type[Node]
    name: str
    namespace: str
    params: dict[str, ParamValue]
    params_files: tuple[Path, ...]
    remappings: dict[str, str]
    threads: int


@dataclass(frozen=True)
class RobotConfig:
    """A parsed robot file."""

    robot: str
    path: Path
    description: str
    namespace: str
    nodes: tuple[NodeEntry, ...]
    record: tuple[str, ...] = field(default=())


#: Folder parameters a robot file gives relative to the project folder (config root).
PATH_PARAMETERS = frozenset({"calibration_dir"})


def _absolute_dirs(params: Mapping[str, ParamValue], root: Path) -> dict[str, ParamValue]:
    """Relative folder parameters (``PATH_PARAMETERS``) made absolute against ``root``.

    A robot file says ``calibration_dir: calibration/euroc`` meaning the project's
    folder; the node must find it whatever the working directory of the process
    (``percept replay`` from elsewhere, ``ros2 launch``).
    """
    out = dict(params)
    for key in PATH_PARAMETERS & out.keys():
        value = out[key]
        if isinstance(value, str) and value and not Path(value).is_absolute():
            out[key] = str(root / value)
    return out


def find_config_root(start: Path | None = None) -> Path:
    """The project folder holding ``config/robots``.

    Looks at ``$PERCEPT_CONFIG_ROOT``, then ``start`` (default: the working directory)
    and its parents, then the source checkout this package was installed from.

    Raises:
        ConfigError: none found.
    """
    env = os.environ.get("PERCEPT_CONFIG_ROOT")
    if env:
        root = Path(env)
        if not (root / "config" / "robots").is_dir():
            msg = f"PERCEPT_CONFIG_ROOT={env}: has no config/robots folder"
            raise ConfigError(msg)
        return root
    here = (start or Path.cwd()).resolve()
    candidates = [here, *here.parents, *Path(__file__).resolve().parents]
    for candidate in candidates:
        if (candidate / "config" / "robots").is_dir():
            return candidate
    msg = "no config/robots folder found; run from the project or set PERCEPT_CONFIG_ROOT"
    raise ConfigError(msg)


def _expect(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ConfigError(f"{where} {what}")


def load_robot(robot: str | Path, config_root: Path | None = None) -> RobotConfig:
    """Load ``config/robots/<robot>.yaml`` (or a path to a robot file) and validate it.

    Every node's parameters are resolved (defaults, its parameter file, overrides) and
    checked, so a bad value fails here, naming the file and the key.

    Raises:
        ConfigError: a missing file, unknown key, unknown node type, bad parameter.
    """
    path = Path(robot)
    if path.suffix not in (".yaml", ".yml"):
        root = config_root or find_config_root()
        path = root / "config" / "robots" / f"{robot}.yaml"
    if not path.is_file():
        folder = path.parent
        available = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        msg = f"{path}: no such robot file (robots here: {available})"
        raise ConfigError(msg)
    root = config_root or path.resolve().parents[2]
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML: {err}"
        raise ConfigError(msg) from err
    _expect(isinstance(doc, dict), f"{path}:", "must be a mapping")
    unknown = set(doc) - _TOP_KEYS
    _expect(
        not unknown, f"{path}:", f"unknown keys {sorted(unknown)}; expected {sorted(_TOP_KEYS)}"
    )
    name = str(doc.get("robot", path.stem))
    nodes_doc = doc.get("nodes") or []
    _expect(isinstance(nodes_doc, list), f"{path}: nodes", "must be a list")
    entries: list[NodeEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(nodes_doc):
        where = f"{path}: nodes[{i}]"
        _expect(isinstance(item, dict), where, "must be a mapping")
        bad = set(item) - _NODE_KEYS
        _expect(not bad, where, f"unknown keys {sorted(bad)}; expected {sorted(_NODE_KEYS)}")
        node_type = item.get("type")
        _expect(
            node_type in NODE_TYPES,
            f"{where}.type",
            f"must be one of {sorted(NODE_TYPES)}, got {node_type!r}",
        )
        node_cls = load_node_class(str(node_type))
        node_name = str(item.get("name", node_cls.NAME))
        namespace = str(item.get("namespace", ""))
        full = "/".join(
            p
            for p in (str(doc.get("namespace", "")).strip("/"), namespace.strip("/"), node_name)
            if p
        )
        _expect(full not in seen, f"{where}.name", f"{full!r} is used twice")
        seen.add(full)
        files: list[Path] = []
        default_file = root / "config" / f"{node_type}.yaml"
        if "params_file" in item:
            pf = Path(item["params_file"])
            pf = pf if pf.is_absolute() else root / pf
            _expect(pf.is_file(), f"{where}.params_file", f"{pf} does not exist")
            files.append(pf)
        elif default_file.is_file():
            files.append(default_file)
        overrides = item.get("parameters") or {}
        _expect(isinstance(overrides, dict), f"{where}.parameters", "must be a mapping")
        remaps = item.get("remappings") or {}
        _expect(isinstance(remaps, dict), f"{where}.remappings", "must be a mapping")
        threads = item.get("threads", 0)
        _expect(
            type(threads) is int and threads >= 0,
            f"{where}.threads",
            f"must be an integer >= 0, got {threads!r}",
        )
        params = resolve_parameters(
            node_cls,
            node_name,
            namespace,
            tuple(files),
            overrides,
            overrides_where=f"{where}.parameters",
        )
        params = _absolute_dirs(params, root)
        entries.append(
            NodeEntry(
                str(node_type),
                node_cls,
                node_name,
                namespace,
                params,
                tuple(files),
                {str(k): str(v) for k, v in remaps.items()},
                threads,
            )
        )
    record = doc.get("record") or []
    _expect(isinstance(record, list), f"{path}: record", "must be a list of topics")
    return RobotConfig(
        name,
        path,
        str(doc.get("description", "")),
        str(doc.get("namespace", "")),
        tuple(entries),
        tuple(str(t) for t in record),
    )


def with_parameters(robot: RobotConfig, overrides: Mapping[str, object]) -> RobotConfig:
    """The robot with some node parameters set (``percept replay --set``).

    Args:
        robot: a loaded robot.
        overrides: ``NODE.PARAM`` -> value; NODE is a node's name (or its full name
            with namespace, ``stereo/occupancy_map``).

    Raises:
        ConfigError: an unknown node or parameter, or a value the parameter refuses.
    """
    entries = list(robot.nodes)
    for key, value in overrides.items():
        node_name, sep, param_name = key.rpartition(".")
        if not sep or not node_name:
            msg = f"--set {key}: expected NODE.PARAM=VALUE"
            raise ConfigError(msg)
        matches = [
            i
            for i, e in enumerate(entries)
            if node_name in (e.name, f"{e.namespace.strip('/')}/{e.name}".strip("/"))
        ]
        if len(matches) != 1:
            names = sorted(e.name for e in entries)
            what = "no node" if not matches else "several nodes"
            msg = f"--set {key}: {what} named {node_name!r} in {robot.path} (nodes: {names})"
            raise ConfigError(msg)
        entry = entries[matches[0]]
        declared = {p.name: p for p in entry.node_cls.PARAMETERS}
        if param_name not in declared:
            msg = (
                f"--set {key}: node {entry.name} ({entry.node_type}) has no parameter "
                f"{param_name!r}"
            )
            raise ConfigError(msg)
        spec = declared[param_name]
        if spec.type == "double" and type(value) is int:
            value = float(value)
        problem = spec.check(value)
        if problem is not None:
            raise ConfigError(f"--set {key}: {problem}")
        # A value on the command line is relative to where the command runs.
        params = _absolute_dirs({**entry.params, param_name: value}, Path.cwd())  # type: ignore[dict-item]
        entries[matches[0]] = dataclasses.replace(entry, params=params)
    return dataclasses.replace(robot, nodes=tuple(entries))
