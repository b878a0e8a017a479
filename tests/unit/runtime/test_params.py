from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from percept.errors import ConfigError
from percept.node import Parameter
from percept.nodes.resize import ResizeNode
from percept.params import ConfigParameters, param
from percept.runtime.params import load_parameter_file, resolve_parameters


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "resize.yaml"
    path.write_text(text)
    return path


def test_resolve_parameters_applies_file_then_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, "resize:\n  ros__parameters:\n    scale_width: 0.25\n    width: 100\n")
    values = resolve_parameters(ResizeNode, "resize", files=(path,), overrides={"width": 50})
    assert values["scale_width"] == 0.25
    assert values["width"] == 50
    assert values["scale_height"] == 1.0  # default


def test_resolve_parameters_reads_wildcard_and_namespaced_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "/**:\n  ros__parameters:\n    width: 10\n"
        "/cam/resize:\n  ros__parameters:\n    height: 20\n",
    )
    values = resolve_parameters(ResizeNode, "resize", "cam", files=(path,))
    assert (values["width"], values["height"]) == (10, 20)


def test_resolve_parameters_raises_on_unknown_key_naming_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "resize:\n  ros__parameters:\n    scale_wdth: 0.5\n")
    where = r"resize\.yaml: resize\.ros__parameters\.scale_wdth: unknown"
    with pytest.raises(ConfigError, match=where):
        resolve_parameters(ResizeNode, "resize", files=(path,))


def test_resolve_parameters_raises_on_wrong_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "resize:\n  ros__parameters:\n    scale_width: 1\n")
    with pytest.raises(ConfigError, match=r"scale_width must be double, got int 1 \(write 1.0"):
        resolve_parameters(ResizeNode, "resize", files=(path,))


def test_resolve_parameters_raises_on_out_of_range(tmp_path: Path) -> None:
    path = _write(tmp_path, "resize:\n  ros__parameters:\n    interpolation: 9\n")
    with pytest.raises(ConfigError, match=r"interpolation must be <= 4, got 9"):
        resolve_parameters(ResizeNode, "resize", files=(path,))


def test_load_parameter_file_raises_on_missing_ros_parameters(tmp_path: Path) -> None:
    path = _write(tmp_path, "resize:\n  scale_width: 0.5\n")
    with pytest.raises(ConfigError, match="expected a 'ros__parameters:' block"):
        load_parameter_file(path)


def test_load_parameter_file_raises_on_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read parameter file"):
        load_parameter_file(tmp_path / "nope.yaml")


def test_load_parameter_file_flattens_nested_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "n:\n  ros__parameters:\n    a:\n      b: 1\n")
    assert load_parameter_file(path) == {"n": {"a.b": 1}}


@pytest.mark.parametrize(
    ("spec", "value", "problem"),
    [
        (Parameter("p", "bool", True, "d"), 1, "must be bool"),
        (Parameter("p", "integer", 1, "d"), True, "must be integer"),
        (Parameter("p", "string", "a", "d", choices=("a", "b")), "c", "must be one of"),
        (Parameter("p", "double_array", [1.0], "d"), [1.0, 2], "item must be double"),
        (Parameter("p", "double", 0.0, "d", min_value=0.0), -0.5, "must be >= 0.0"),
    ],
)
def test_parameter_check_names_the_problem(spec: Parameter, value: object, problem: str) -> None:
    result = spec.check(value)
    assert result is not None
    assert problem in result


def test_parameter_raises_on_bad_default() -> None:
    with pytest.raises(ValueError, match="default must be >= 1"):
        Parameter("p", "integer", 0, "d", min_value=1)


def test_parameter_ranges_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Parameter("p", "integer", 1, "d", 0, 10)  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class _Config:
    count: int = param(2, "how many", min_value=1, max_value=9)
    ratio: float = param(0.5, "share", min_value=0.0, max_value=1.0, name="share_ratio")
    mode: str = param("a", "which", choices=("a", "b"))
    internal: int = 7


def test_config_parameters_derive_declarations_from_param_fields() -> None:
    derived = ConfigParameters(_Config, prefix="x_", defaults={"count": 3}).parameters
    assert derived == (
        Parameter("x_count", "integer", 3, "how many", min_value=1, max_value=9),
        Parameter("x_share_ratio", "double", 0.5, "share", min_value=0.0, max_value=1.0),
        Parameter("x_mode", "string", "a", "which", choices=("a", "b")),
    )
    renamed = ConfigParameters(_Config, rename={"mode": "style"}).select("mode", "count")
    assert [p.name for p in renamed] == ["style", "count"]


def test_config_parameters_build_the_config_from_values() -> None:
    binding = ConfigParameters(_Config)
    values = {p.name: p.default for p in binding.parameters} | {"share_ratio": 1}
    assert binding.build(values, internal=8) == _Config(2, 1.0, "a", 8)
    with pytest.raises(KeyError, match="internal is not a param"):
        binding.select("internal")
