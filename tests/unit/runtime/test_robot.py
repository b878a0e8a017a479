from __future__ import annotations

from pathlib import Path

import pytest

from percept.errors import ConfigError
from percept.nodes import NODE_TYPES, load_node_class
from percept.runtime.params import load_parameter_file, validate_values
from percept.runtime.robot import load_robot, with_parameters


def test_every_shipped_robot_file_loads(repo_root: Path) -> None:
    robots = sorted((repo_root / "config" / "robots").glob("*.yaml"))
    assert robots, "config/robots holds no robot file"
    for path in robots:
        robot = load_robot(path)
        assert robot.robot == path.stem
        assert robot.nodes


def test_every_node_default_file_matches_its_declarations(repo_root: Path) -> None:
    for node_type in NODE_TYPES:
        path = repo_root / "config" / f"{node_type}.yaml"
        assert path.is_file(), f"config/{node_type}.yaml is missing"
        cls = load_node_class(node_type)
        blocks = load_parameter_file(path)
        # "/**": the file is given to the node's own process (launch) or the node alone
        # (local runtime), so it applies whatever the robot file names the node.
        assert list(blocks) == ["/**"]
        validate_values(cls, blocks["/**"], str(path))
        # Every declared parameter is documented in the defaults file.
        assert set(blocks["/**"]) == {p.name for p in cls.PARAMETERS}


def _robot(tmp_path: Path, body: str) -> Path:
    (tmp_path / "config" / "robots").mkdir(parents=True)
    path = tmp_path / "config" / "robots" / "r.yaml"
    path.write_text(body)
    return path


def test_load_robot_raises_on_unknown_node_type(tmp_path: Path) -> None:
    path = _robot(tmp_path, "robot: r\nnodes:\n  - type: debayr\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: nodes\[0\]\.type must be one of"):
        load_robot(path)


def test_load_robot_raises_on_bad_parameter_override(tmp_path: Path) -> None:
    path = _robot(tmp_path, "nodes:\n  - type: resize\n    parameters: {interpolation: -1}\n")
    with pytest.raises(ConfigError, match=r"nodes\[0\]\.parameters\.interpolation must be >= 0"):
        load_robot(path)


def test_load_robot_raises_on_unknown_key(tmp_path: Path) -> None:
    path = _robot(tmp_path, "nodes: []\nnamspace: x\n")
    with pytest.raises(ConfigError, match=r"unknown keys \['namspace'\]"):
        load_robot(path)


def test_load_robot_raises_on_duplicate_node_names(tmp_path: Path) -> None:
    path = _robot(tmp_path, "nodes:\n  - type: debayer\n  - type: debayer\n")
    with pytest.raises(ConfigError, match="is used twice"):
        load_robot(path)


def test_load_robot_raises_on_missing_robot(repo_root: Path) -> None:
    with pytest.raises(ConfigError, match="no such robot file"):
        load_robot("no_such_robot", repo_root)


def test_with_parameters_sets_a_node_parameter_and_checks_it(repo_root: Path) -> None:
    robot = load_robot(repo_root / "config" / "robots" / "synth.yaml")
    changed = with_parameters(
        robot, {"vio.publish_tf": False, "stereo/stereo_depth.disparity_range": 64}
    )
    by_name = {e.name: e for e in changed.nodes}
    assert by_name["vio"].params["publish_tf"] is False
    assert by_name["stereo_depth"].params["disparity_range"] == 64
    assert {e.name: e for e in robot.nodes}["vio"].params["publish_tf"] is True  # a copy
    with pytest.raises(ConfigError, match="no node named 'nope'"):
        with_parameters(robot, {"nope.x": 1})
    with pytest.raises(ConfigError, match="has no parameter 'no_such'"):
        with_parameters(robot, {"vio.no_such": 1})
    with pytest.raises(ConfigError, match=r"--set vio.publish_tf: must be bool"):
        with_parameters(robot, {"vio.publish_tf": "yes"})
    with pytest.raises(ConfigError, match=r"expected NODE\.PARAM=VALUE"):
        with_parameters(robot, {"publish_tf": True})
