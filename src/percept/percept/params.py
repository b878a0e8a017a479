"""Declared parameters: each setting's type, default, range and meaning, written once.

A core component's frozen config dataclass is the single source of its settings: each
field that a node exposes as a ROS parameter is declared with :func:`param`, which
keeps the description, range, choices and read-only flag in the field's metadata (type
and default come from the field itself)::

    @dataclass(frozen=True, slots=True)
    class StereoConfig:
        min_disparity: int = param(0, "smallest disparity searched, pixels",
                                   min_value=-2048, max_value=2048)

A node derives its ``PARAMETERS`` and builds the config from its parameter values with
:class:`ConfigParameters`; nothing is copied by hand. Settings that belong to the node
only (topics, frames, publish flags) are declared in the node as :class:`Parameter`.
``percept params`` writes ``config/<node>.yaml`` and the README tables from the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast

__all__ = [
    "ConfigParameters",
    "ParamSpec",
    "ParamType",
    "ParamValue",
    "Parameter",
    "param",
    "param_type",
    "read_bool",
    "read_float",
    "read_int",
    "read_str",
]

ParamValue: TypeAlias = bool | int | float | str | list[bool] | list[int] | list[float] | list[str]
ParamType = Literal[
    "bool",
    "integer",
    "double",
    "string",
    "bool_array",
    "integer_array",
    "double_array",
    "string_array",
]
_PY_TYPES: dict[str, type] = {"bool": bool, "integer": int, "double": float, "string": str}
_PARAM_TYPES: dict[type, ParamType] = {bool: "bool", int: "integer", float: "double", str: "string"}
#: Key of a :func:`param` field's :class:`ParamSpec` in ``dataclasses.Field.metadata``.
_META = "percept.param"
_T = TypeVar("_T")
_C = TypeVar("_C")


@dataclass(frozen=True, slots=True)
class Parameter:
    """A declared parameter: one place for type, default, range and documentation.

    Attributes:
        name: ROS parameter name; reuse upstream names, new ones carry a unit suffix.
        type: ROS parameter type.
        default: default value, of ``type``.
        description: one line, shown in ``ros2 param describe`` and the README.
        min_value: inclusive lower bound for numbers, None for none.
        max_value: inclusive upper bound for numbers, None for none.
        choices: allowed values for strings, empty for any.
        read_only: True when the value can only be set at start-up.
    """

    name: str
    type: ParamType
    default: ParamValue
    description: str
    _: KW_ONLY
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False

    def __post_init__(self) -> None:
        problem = self.check(self.default)
        if problem is not None:
            msg = f"parameter {self.name}: default {problem}"
            raise ValueError(msg)

    def check(self, value: object) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        if self.type.endswith("_array"):
            if not isinstance(value, list | tuple):
                return f"must be a list ({self.type}), got {type(value).__name__} {value!r}"
            base = self.type.removesuffix("_array")
            for item in value:
                problem = self._check_scalar(base, item)
                if problem is not None:
                    return f"item {problem}"
            return None
        return self._check_scalar(self.type, value)

    def _check_scalar(self, kind: str, value: object) -> str | None:
        expected = _PY_TYPES[kind]
        # bool is an int in Python but not in ROS; ROS also refuses 1 for a double.
        if type(value) is not expected:
            hint = " (write 1.0, not 1)" if kind == "double" and type(value) is int else ""
            return f"must be {kind}, got {type(value).__name__} {value!r}{hint}"
        if kind in ("integer", "double"):
            number = float(value)  # type: ignore[arg-type]
            if self.min_value is not None and number < self.min_value:
                return f"must be >= {self.min_value}, got {value}"
            if self.max_value is not None and number > self.max_value:
                return f"must be <= {self.max_value}, got {value}"
            if number != number:
                return "must not be NaN"
        if kind == "string" and self.choices and value not in self.choices:
            return f"must be one of {list(self.choices)}, got {value!r}"
        return None


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """What :func:`param` keeps in a config field's metadata (see :class:`Parameter`).

    Attributes:
        description: one line, shown in ``ros2 param describe`` and the README.
        min_value: inclusive lower bound for numbers, None for none.
        max_value: inclusive upper bound for numbers, None for none.
        choices: allowed values for strings, empty for any.
        read_only: True when the value can only be set at start-up.
        name: the parameter name when it is not the field name (an upstream name).
    """

    description: str
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False
    name: str | None = None


def param(
    default: _T,
    description: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    choices: tuple[str, ...] = (),
    read_only: bool = False,
    name: str | None = None,
) -> _T:
    """A config dataclass field that nodes expose as a parameter.

    Args:
        default: the field's default (bool, int, float or str); its type is the
            parameter's type.
        description: one line, shown in ``ros2 param describe`` and the README.
        min_value: inclusive lower bound for numbers.
        max_value: inclusive upper bound for numbers.
        choices: allowed values for strings.
        read_only: the value can only be set at start-up.
        name: the parameter name when it is not the field name.

    Returns:
        A ``dataclasses.field`` with the default and a :class:`ParamSpec` in its metadata
        (typed as the default, so that ``x: int = param(1, "...")`` type-checks).
    """
    spec = ParamSpec(description, min_value, max_value, tuple(choices), read_only, name)
    return dataclasses.field(default=default, metadata={_META: spec})


def param_type(value: object) -> ParamType:
    """The ROS parameter type of a scalar default.

    Raises:
        TypeError: ``value`` is not a bool, int, float or str.
    """
    kind = _PARAM_TYPES.get(type(value))
    if kind is None:
        msg = f"a parameter default must be bool, int, float or str, got {value!r}"
        raise TypeError(msg)
    return kind


def read_bool(params: Mapping[str, ParamValue], name: str) -> bool:
    """The value of a bool parameter."""
    return bool(params[name])


def read_int(params: Mapping[str, object], name: str) -> int:
    """The value of an integer parameter.

    Raises:
        TypeError: the value is no integer.
    """
    value = params[name]
    if not isinstance(value, int):
        msg = f"parameter {name} is {type(value).__name__}, not integer"
        raise TypeError(msg)
    return value


def read_float(params: Mapping[str, object], name: str) -> float:
    """The value of a double parameter (an integer is widened).

    Raises:
        TypeError: the value is no number.
    """
    value = params[name]
    if not isinstance(value, int | float):
        msg = f"parameter {name} is {type(value).__name__}, not double"
        raise TypeError(msg)
    return float(value)


def read_str(params: Mapping[str, object], name: str) -> str:
    """The value of a string parameter."""
    return str(params[name])


_READERS = {"bool": read_bool, "integer": read_int, "double": read_float, "string": read_str}


@dataclass(frozen=True)
class ConfigParameters(Generic[_C]):
    """The parameters of a config dataclass's :func:`param` fields, and the way back.

    Attributes:
        config: the frozen config dataclass.
        prefix: put before each field's parameter name (``track_`` for the tracker).
        rename: field name -> parameter name, where the node's name differs.
        defaults: field name -> the node's default, where it differs from the config's.
    """

    config: type[_C]
    prefix: str = ""
    rename: Mapping[str, str] = dataclasses.field(default_factory=dict)
    defaults: Mapping[str, ParamValue] = dataclasses.field(default_factory=dict)

    def _specs(self) -> dict[str, tuple[ParamSpec, object]]:
        """Field name -> (spec, default) of each :func:`param` field, in field order."""
        out: dict[str, tuple[ParamSpec, object]] = {}
        for f in dataclasses.fields(cast(Any, self.config)):
            spec = f.metadata.get(_META)
            if isinstance(spec, ParamSpec):
                out[f.name] = (spec, self.defaults.get(f.name, f.default))
        return out

    def name_of(self, field_name: str) -> str:
        """The parameter name of a config field."""
        spec, _ = self._specs()[field_name]
        base = self.rename.get(field_name, spec.name or field_name)
        return f"{self.prefix}{base}"

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Every :func:`param` field as a :class:`Parameter`, in field order."""
        return self.select(*self._specs())

    def select(self, *field_names: str) -> tuple[Parameter, ...]:
        """The parameters of the named fields, in the order given.

        Raises:
            KeyError: a name is not a :func:`param` field of the config.
        """
        specs = self._specs()
        out = []
        for field_name in field_names:
            if field_name not in specs:
                msg = f"{self.config.__name__}.{field_name} is not a param() field"
                raise KeyError(msg)
            spec, default = specs[field_name]
            out.append(
                Parameter(
                    self.name_of(field_name),
                    param_type(default),
                    cast(ParamValue, default),
                    spec.description,
                    min_value=spec.min_value,
                    max_value=spec.max_value,
                    choices=spec.choices,
                    read_only=spec.read_only,
                )
            )
        return tuple(out)

    def build(self, params: Mapping[str, ParamValue], **values: object) -> _C:
        """The config of a node's parameter values.

        Args:
            params: parameter name -> value (validated, defaults filled in).
            **values: config fields set from elsewhere (fields without :func:`param`,
                or values the node derives); they win over ``params``.

        Returns:
            The config; its own checks run as it is built.
        """
        kwargs: dict[str, object] = {}
        for field_name, (_, default) in self._specs().items():
            if field_name not in values:
                reader = _READERS[param_type(default)]
                kwargs[field_name] = reader(params, self.name_of(field_name))
        kwargs.update(values)
        return self.config(**kwargs)
