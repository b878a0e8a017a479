"""ROS 2 parameter files, validated against a node's declared parameters.

The file format is the one ``ros2 run ... --ros-args --params-file`` reads::

    debayer:                 # node name (or /**, or /namespace/name)
      ros__parameters:
        debayer: 1
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from percept.errors import ConfigError

if TYPE_CHECKING:
    from percept.node import Node, ParamValue

__all__ = ["load_parameter_file", "node_keys", "resolve_parameters", "validate_values"]


def node_keys(node_name: str, namespace: str = "") -> tuple[str, ...]:
    """Top-level keys of a parameter file that apply to a node, least specific first."""
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    full = f"{ns}/{node_name}"
    keys = ["/**", f"{ns}/**" if ns else "/**", node_name, full, full.lstrip("/")]
    out: list[str] = []
    for key in keys:
        if key not in out:
            out.append(key)
    return tuple(out)


def load_parameter_file(path: Path) -> dict[str, dict[str, ParamValue]]:
    """Read a ROS 2 parameter YAML into ``{node key: {parameter: value}}``.

    Nested mappings under ``ros__parameters`` are flattened with dots, as ROS does.

    Raises:
        ConfigError: the file is missing, not YAML, or not in ROS 2 parameter format.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot read parameter file: {err.strerror}"
        raise ConfigError(msg) from err
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML: {err}"
        raise ConfigError(msg) from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        msg = f"{path}: expected a mapping of node names, got {type(doc).__name__}"
        raise ConfigError(msg)
    out: dict[str, dict[str, ParamValue]] = {}
    for node_key, body in doc.items():
        if not isinstance(body, dict) or "ros__parameters" not in body:
            msg = f"{path}: {node_key}: expected a 'ros__parameters:' block"
            raise ConfigError(msg)
        params = body["ros__parameters"]
        if params is None:
            params = {}
        if not isinstance(params, dict):
            msg = f"{path}: {node_key}.ros__parameters must be a mapping"
            raise ConfigError(msg)
        out[str(node_key)] = _flatten(params)
    return out


def _flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, ParamValue]:
    flat: dict[str, ParamValue] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value  # type: ignore[assignment]
    return flat


def validate_values(
    node_cls: type[Node], values: Mapping[str, object], where: str
) -> dict[str, ParamValue]:
    """Check values against the node's declarations.

    Args:
        node_cls: the node class whose ``PARAMETERS`` apply.
        values: parameter name -> value.
        where: prefix for error messages (file and node key).

    Raises:
        ConfigError: an unknown key, a wrong type or a value out of range; the message
            names ``where``, the key, the value got and the value expected.
    """
    declared = {p.name: p for p in node_cls.PARAMETERS}
    checked: dict[str, ParamValue] = {}
    for key, value in values.items():
        spec = declared.get(key)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            msg = f"{where}.{key}: unknown parameter of {node_cls.NAME} (known: {known})"
            raise ConfigError(msg)
        if isinstance(value, tuple):
            value = list(value)
        problem = spec.check(value)
        if problem is not None:
            msg = f"{where}.{key} {problem}"
            raise ConfigError(msg)
        checked[key] = value  # type: ignore[assignment]
    return checked


def resolve_parameters(
    node_cls: type[Node],
    node_name: str,
    namespace: str = "",
    files: tuple[Path, ...] = (),
    overrides: Mapping[str, object] | None = None,
    overrides_where: str = "overrides",
) -> dict[str, ParamValue]:
    """Defaults, then each file's matching blocks, then overrides; all validated.

    Raises:
        ConfigError: see ``validate_values``.
    """
    values: dict[str, ParamValue] = {p.name: p.default for p in node_cls.PARAMETERS}
    for path in files:
        blocks = load_parameter_file(path)
        for key in node_keys(node_name, namespace):
            if key in blocks:
                where = f"{path}: {key}.ros__parameters"
                values.update(validate_values(node_cls, blocks[key], where))
    if overrides:
        values.update(validate_values(node_cls, overrides, overrides_where))
    return values
