"""Evaluate a launch file's description without running it; print its actions as JSON.

    python launch_actions.py LAUNCH_FILE [name:=value ...]

Runs in its own process (importing ``launch`` changes the logging of the process that
imports it). Declared arguments take their defaults, the ``OpaqueFunction`` builds the
actions, and every ``launch_ros`` ``Node`` has its substitutions performed, as
``ros2 launch`` does just before starting it. An exception (a refused launch) prints
``{"error": "..."}`` and exits 3.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import yaml
from launch.actions import ExecuteProcess, LogInfo
from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
from launch_ros.actions import Node

from launch import LaunchContext, LaunchDescriptionEntity


def _text(context: LaunchContext, value: object) -> str:
    return perform_substitutions(context, normalize_to_list_of_substitutions(value))


def _parameters(node: Node) -> list[object]:
    out: list[object] = []
    for value, is_file in node._Node__expanded_parameter_arguments or []:
        if is_file and "launch_params_" in Path(value).name:  # a dict written by launch
            doc = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
            (block,) = doc.values()  # keyed by the node's full name or /**
            out.append(block["ros__parameters"])
        else:
            out.append(value)
    return out


def main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("launch_under_test", argv[1])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = LaunchContext()
    for item in argv[2:]:
        name, _, value = item.partition(":=")
        context.launch_configurations[name] = value
    actions: list[object] = []

    def visit(entity: LaunchDescriptionEntity) -> None:
        if isinstance(entity, (ExecuteProcess, LogInfo)):  # Node is an ExecuteProcess
            actions.append(entity)  # collected, never started
            return
        for sub in entity.visit(context) or []:
            visit(sub)

    try:
        visit(module.generate_launch_description())
    except Exception as err:  # the launch refuses to start: report it
        sys.stdout.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
        return 3
    nodes, logs, processes = [], [], []
    for action in actions:
        if isinstance(action, Node):
            action._perform_substitutions(context)
            nodes.append(
                {
                    "package": action.node_package,
                    "executable": action.node_executable,
                    "name": action.node_name,
                    "namespace": action.expanded_node_namespace,
                    "remappings": [list(r) for r in action.expanded_remapping_rules or []],
                    "parameters": _parameters(action),
                    "arguments": [_text(context, a) for a in action._Node__arguments or []],
                }
            )
        elif isinstance(action, ExecuteProcess):
            processes.append([_text(context, part) for part in action.cmd])
        elif isinstance(action, LogInfo):
            logs.append(_text(context, action.msg))
    sys.stdout.write(json.dumps({"nodes": nodes, "logs": logs, "processes": processes}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
