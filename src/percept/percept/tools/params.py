"""``config/<node>.yaml`` and the README parameter tables, written from the declarations.

Each node's ``PARAMETERS`` (derived from the core configs, see ``percept.params``) is the
one source of its parameters' names, types, defaults and descriptions. This module
renders them as the node's ROS 2 parameter file and as its README table, and tells
whether the files on disk still say the same (``percept params --check``).

A parameter file keeps the values it sets (a robot may ship other values than the
defaults); a value that differs from the declared default is marked ``(default: ...)``.
The README tables lie between ``<!-- params:<type> -->`` and ``<!-- /params:<type> -->``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from percept.errors import ConfigError
from percept.nodes import NODE_TYPES, load_node_class
from percept.runtime.params import load_parameter_file

if TYPE_CHECKING:
    from percept.node import Node, Parameter, ParamValue

__all__ = [
    "Drift",
    "check_files",
    "format_value",
    "readme_table",
    "render_parameter_file",
    "update_readme",
    "write_files",
]

_KEY = "/**"
#: README marker around a node's table; ``{}`` is the node type.
_BEGIN = "<!-- params:{} -->"
_END = "<!-- /params:{} -->"


@dataclass(frozen=True, slots=True)
class Drift:
    """A file whose text is not what the declarations give.

    Attributes:
        path: the file.
        expected: the text the declarations give.
    """

    path: Path
    expected: str


def format_value(value: ParamValue) -> str:
    """A value as YAML that reads back as the same value and type.

    >>> format_value(True), format_value(1.0), format_value(""), format_value("a:b")
    ('true', '1.0', '""', 'a:b')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        # YAML 1.1 (PyYAML) reads "1e-06" as a string: give the mantissa a dot.
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    plain = value and not re.search(r"[#'\"\[\]{},]|: |^[\s&*!|>%@`-]|\s$", value)
    if plain and yaml.safe_load(value) == value:
        return value
    return json.dumps(value)


def _readme_value(value: ParamValue) -> str:
    return format_value(value) if value != "" else '""'


def render_parameter_file(
    node_type: str, node_cls: type[Node], values: Mapping[str, ParamValue] | None = None
) -> str:
    """The node's ROS 2 parameter file: every parameter, its value and its description.

    Args:
        node_type: key of ``percept.nodes.NODE_TYPES``.
        node_cls: the node class.
        values: the values to write where they are valid (a file's current values);
            the defaults elsewhere.
    """
    values = values or {}
    rows: list[tuple[str, str]] = []
    for spec in node_cls.PARAMETERS:
        value = values.get(spec.name, spec.default)
        if spec.check(value) is not None:
            value = spec.default
        comment = spec.description
        if value != spec.default or type(value) is not type(spec.default):
            comment += f" (default: {format_value(spec.default)})"
        rows.append((f"{spec.name}: {format_value(value)}", comment))
    width = max((len(text) for text, _ in rows), default=0) + 2
    lines = [
        f"# Parameters of the {node_type} node, ROS 2 parameter-file format:",
        f"# {node_cls.DESCRIPTION}.",
        "# Written by `percept params --write` from the node's declarations; values set",
        "# here are kept, names and comments are rewritten.",
        f"{_KEY}:   # whatever this node is named: launch gives this file to its process only",
        "  ros__parameters:",
        *(f"    {text.ljust(width)}# {comment}" for text, comment in rows),
    ]
    return "\n".join(lines) + "\n"


def readme_table(node_cls: type[Node]) -> str:
    """The node's README parameter table (Markdown)."""
    lines = ["| parameter | type | default | range | meaning |", "|---|---|---|---|---|"]
    lines += [_readme_row(spec) for spec in node_cls.PARAMETERS]
    return "\n".join(lines) + "\n"


def _readme_row(spec: Parameter) -> str:
    meaning = spec.description.replace("|", "\\|").replace("<", "\\<")
    default = _readme_value(spec.default)
    return f"| `{spec.name}` | {spec.type} | {default} | {_range(spec)} | {meaning} |"


def _range(spec: Parameter) -> str:
    """``low..high`` of a number, the choices of a string, or empty."""
    if spec.choices:
        return ", ".join(f"`{c}`" for c in spec.choices)
    if spec.min_value is None and spec.max_value is None:
        return ""
    low = "" if spec.min_value is None else _number(spec.min_value)
    high = "" if spec.max_value is None else _number(spec.max_value)
    return f"{low}..{high}"


def _number(value: float) -> str:
    """A bound as written by hand: ``5``, ``0.01``, ``1e6``."""
    if value == int(value) and abs(value) < 1e5:
        return str(int(value))
    return f"{value:g}".replace("e+0", "e").replace("e+", "e")


def update_readme(text: str, tables: Mapping[str, str]) -> str:
    """``text`` with each node's table replaced between its markers.

    Raises:
        ConfigError: a node's markers are missing.
    """
    for node_type, table in tables.items():
        begin, end = _BEGIN.format(node_type), _END.format(node_type)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
        match = pattern.search(text)
        if match is None:
            msg = f"README.md: no '{begin}' ... '{end}' around the {node_type} table"
            raise ConfigError(msg)
        text = f"{text[: match.start()]}{begin}\n{table}{end}{text[match.end() :]}"
    return text


def _expected(root: Path) -> dict[Path, str]:
    """File -> the text the declarations give (values of existing files kept)."""
    out: dict[Path, str] = {}
    tables: dict[str, str] = {}
    for node_type in NODE_TYPES:
        node_cls = load_node_class(node_type)
        path = root / "config" / f"{node_type}.yaml"
        values = load_parameter_file(path).get(_KEY, {}) if path.is_file() else {}
        out[path] = render_parameter_file(node_type, node_cls, values)
        tables[node_type] = readme_table(node_cls)
    readme = root / "README.md"
    out[readme] = update_readme(_read(readme), tables)
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot read: {err.strerror}"
        raise ConfigError(msg) from err


def check_files(root: Path) -> list[Drift]:
    """The parameter files and README tables under ``root`` that drifted.

    Raises:
        ConfigError: a file cannot be read, or the README lacks a table's markers.
    """
    drift = []
    for path, text in _expected(root).items():
        current = _read(path) if path.is_file() else None
        if current != text:
            drift.append(Drift(path, text))
    return drift


def write_files(root: Path) -> list[Path]:
    """Rewrite what drifted; returns the files written.

    Raises:
        ConfigError: as :func:`check_files`.
    """
    written = []
    for item in check_files(root):
        item.path.write_text(item.expected, encoding="utf-8")
        written.append(item.path)
    return written
