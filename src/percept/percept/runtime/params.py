"""ROS 2 parameter files, validated against a node's declared parameters.

The file format is the one ``ros2 run ... --ros-args --params-file`` reads::

    /**/debayer:             # node key: matched against the node's full name as rclpy does
      ros__parameters:
        publish_mono: true

A key applies to every node whose fully qualified name it matches (:func:`key_matches`);
the matching blocks are applied in file order, files in the order given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from percept.errors import ConfigError

if TYPE_CHECKING:
    from percept.node import Node, ParamValue

__all__ = [
    "key_matches",
    "load_parameter_file",
    "node_fqn",
    "resolve_parameters",
    "validate_values",
]


def key_matches(key: str, node_fqn: str) -> bool:
    r"""Whether a parameter-file node key applies to the node ``node_fqn``, as in rclpy.

    rclpy (``_populate_node_parameters_from_rcl_params``, Humble to Jazzy) puts a ``/``
    in front of a key without one, turns each ``/*`` into ``(/\w+)`` (so ``/**`` reads
    ``(/\w+)*``, any number of namespace tokens) and requires a full match of the
    node's fully qualified name. So ``resize`` means ``/resize`` only, and
    ``/**/resize`` means a node named ``resize`` in any namespace.

    >>> key_matches("/**/resize", "/camera/resize"), key_matches("resize", "/camera/resize")
    (True, False)
    """
    normalised = key if key.startswith("/") else "/" + key
    # The same textual replacement as rclpy: node names hold only [A-Za-z0-9_/], so the
    # key needs no escaping, and the ``*`` left of a ``/**`` becomes the repetition.
    pattern = normalised.replace("/*", r"(/\w+)")
    try:
        return re.fullmatch(pattern, node_fqn, flags=re.ASCII) is not None
    except re.error:
        return False  # not a node name pattern (rclpy's std::regex throws here)


def node_fqn(node_name: str, namespace: str = "") -> str:
    """Fully qualified node name: ``/ns/name``, ``/name`` in the root namespace."""
    ns = namespace.strip("/")
    return f"/{ns}/{node_name}" if ns else f"/{node_name}"


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
    fqn = node_fqn(node_name, namespace)
    for path in files:
        # rclpy applies every matching block in file order: a later block wins.
        for key, block in load_parameter_file(path).items():
            if key_matches(key, fqn):
                where = f"{path}: {key}.ros__parameters"
                values.update(validate_values(node_cls, block, where))
    if overrides:
        values.update(validate_values(node_cls, overrides, overrides_where))
    return values
