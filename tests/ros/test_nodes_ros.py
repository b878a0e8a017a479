"""Every Percept node type as a real rclpy node, inspected with the ros2 CLI.

All node types are started together in one process (one executor thread), then the
``ros2`` command (run with ``--no-daemon``, so no daemon outlives the test) lists
their topics and describes and sets their parameters, as an operator would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from percept.node import Node, Parameter
from percept.nodes import NODE_TYPES, load_node_class

from .ros_helpers import NEEDS_ROS, cli_report, ros2_command

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy", reason=NEEDS_ROS)
pytest.importorskip("message_filters", reason=NEEDS_ROS)
pytest.importorskip("tf2_ros", reason=NEEDS_ROS)

from rclpy.context import Context  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402

from percept_ros.adapter import PerceptRosNode  # noqa: E402

_PREFIX = "percept_cli_test_"


class _Graph:
    """One PerceptRosNode per node type, spun by a background executor."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.nodes: dict[str, PerceptRosNode] = {}
        for node_type in sorted(NODE_TYPES):
            cls = load_node_class(node_type)
            self.nodes[node_type] = PerceptRosNode(
                cls, _PREFIX + node_type, namespace=f"/{node_type}_ns", context=self.context
            )
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        for node in self.nodes.values():
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown()
        for node in self.nodes.values():
            node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def graph() -> Iterator[_Graph]:
    g = _Graph()
    yield g
    g.close()


@pytest.fixture(scope="module")
def topic_list(graph: _Graph) -> set[str]:
    out = ros2_command("topic", "list", "--no-daemon", "--spin-time", "3", "-t")
    assert out.returncode == 0, cli_report(out)
    return set(out.stdout.split("\n"))


def _cli_value(value: object) -> str:
    """A parameter value as YAML text for ``ros2 param set``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    return str(value)


def _candidates(spec: Parameter) -> list[object]:
    """Values other than the default that the declaration allows, most natural first."""
    default = spec.default
    if spec.read_only or spec.type.endswith("_array"):
        return []
    if spec.type == "bool":
        return [not default]
    if spec.type == "string":
        return [c for c in spec.choices if c != default][:2]
    lo, hi = spec.min_value, spec.max_value
    if spec.type == "integer":
        assert isinstance(default, int)
        values: list[object] = [default + 1, default - 1, lo, hi]
    else:
        assert isinstance(default, float)
        values = [default * 2 if default else 1.0, default / 2 if default else 0.5]
        if lo is not None and hi is not None:
            values.insert(0, (float(lo) + float(hi)) / 2)
    return [
        v
        for v in values
        if v is not None
        and v != default
        and (lo is None or v >= lo)  # type: ignore[operator]
        and (hi is None or v <= hi)  # type: ignore[operator]
    ][:3]


def _fqn(node_type: str) -> str:
    return f"/{node_type}_ns/{_PREFIX}{node_type}"


@pytest.mark.parametrize("node_type", sorted(NODE_TYPES))
def test_topics_are_visible_to_ros2_topic_list(
    graph: _Graph, topic_list: set[str], node_type: str
) -> None:
    cls: type[Node] = load_node_class(node_type)
    node = graph.nodes[node_type]
    for spec in (*cls.INPUTS, *cls.OUTPUTS):
        topic = node.resolve_topic_name(spec.topic)
        assert f"{topic} [{spec.msg_type}]" in topic_list, (topic, sorted(topic_list))
    assert "/diagnostics [diagnostic_msgs/msg/DiagnosticArray]" in topic_list


@pytest.mark.parametrize("node_type", sorted(NODE_TYPES))
def test_parameters_are_declared_with_descriptors(graph: _Graph, node_type: str) -> None:
    cls: type[Node] = load_node_class(node_type)
    node = graph.nodes[node_type]
    for spec in cls.PARAMETERS:
        (desc,) = node.describe_parameters([spec.name])
        assert desc.description == spec.description
        assert desc.read_only == spec.read_only
        if spec.type in ("integer", "double") and (
            spec.min_value is not None or spec.max_value is not None
        ):
            (bounds,) = desc.integer_range if spec.type == "integer" else desc.floating_point_range
            if spec.min_value is not None:
                assert bounds.from_value == spec.min_value
            if spec.max_value is not None:
                assert bounds.to_value == spec.max_value


@pytest.mark.parametrize("node_type", sorted(NODE_TYPES))
def test_ros2_param_describe_and_set(graph: _Graph, node_type: str) -> None:
    cls: type[Node] = load_node_class(node_type)
    node = graph.nodes[node_type]
    settable = [(spec, _candidates(spec)) for spec in cls.PARAMETERS]
    settable = [(spec, values) for spec, values in settable if values]
    if not settable:
        pytest.skip(f"{node_type} has no run-time settable scalar parameter")
    # Prefer a bounded number: it also shows the range in `ros2 param describe`.
    settable.sort(key=lambda sv: sv[0].min_value is None and sv[0].max_value is None)
    spec, values = settable[0]

    described = ros2_command("param", "describe", "--no-daemon", _fqn(node_type), spec.name)
    assert described.returncode == 0, cli_report(described)
    assert f"Parameter name: {spec.name}" in described.stdout
    if spec.min_value is not None:
        assert f"Min value: {spec.min_value}" in described.stdout

    reasons: list[str] = []
    for value in values:
        out = ros2_command(
            "param", "set", "--no-daemon", _fqn(node_type), spec.name, _cli_value(value)
        )
        assert out.returncode == 0, cli_report(out)  # a CLI that cannot load fails here
        if "Set parameter successful" in out.stdout:
            got: Any = node.host.node.params[spec.name]
            assert got == value
            shown = ros2_command("param", "get", "--no-daemon", _fqn(node_type), spec.name)
            assert shown.returncode == 0, cli_report(shown)
            assert _cli_value(value).lower() in shown.stdout.lower(), shown.stdout
            return
        assert "Setting parameter failed" in out.stderr, cli_report(out)
        reasons.append(out.stdout + out.stderr)
    pytest.fail(f"no value of {spec.name} was accepted: {reasons}")


def test_out_of_range_value_is_refused_through_the_cli(graph: _Graph) -> None:
    before = graph.nodes["resize"].host.node.params["interpolation"]
    out = ros2_command("param", "set", "--no-daemon", _fqn("resize"), "interpolation", "9")
    # The CLI ran, reached the node and reported the refusal (it exits 0 either way);
    # a CLI that cannot load or find the node exits non-zero and fails here.
    assert out.returncode == 0, cli_report(out)
    assert "Setting parameter failed" in out.stderr, cli_report(out)
    assert "interpolation" in out.stderr, cli_report(out)
    assert "Set parameter successful" not in out.stdout, cli_report(out)
    assert graph.nodes["resize"].host.node.params["interpolation"] == before != 9
