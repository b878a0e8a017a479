"""``percept graph``: print a robot's node graph as launch and replay run it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from percept.cli.common import add_command

if TYPE_CHECKING:
    from percept.runtime.graph import GraphNode, RobotGraph

__all__ = ["add_parser", "format_graph", "run"]

EPILOG = """examples:
  percept graph --robot synth
  percept graph --robot euroc --namespace robot1 --disable detection,mapping
  percept graph --config my_robot.yaml --params-file tuned.yaml --json > graph.json

Topics are resolved as rcl resolves them (namespace, then remaps); the same function
builds the ros2 launch graph (perception.launch.py) and the percept replay graph.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "graph",
        "print a robot's nodes, topics, remaps and parameters",
        description="Resolve a robot file's node graph as ros2 launch and percept replay "
        "run it, and print it.",
        epilog=EPILOG,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--robot", help="robot name: config/robots/<robot>.yaml")
    who.add_argument("--config", type=Path, help="path to a robot file")
    p.add_argument("--namespace", default="", help="launch namespace (as namespace:=NS)")
    p.add_argument(
        "--disable",
        default="",
        metavar="SUBSYSTEMS",
        help="comma-separated subsystems to leave out (as enable_<subsystem>:=false): "
        "rectify, depth, detection, vio, mapping",
    )
    p.add_argument(
        "--params-file", type=Path, default=None, help="extra parameter file (as params_file:=)"
    )
    p.add_argument("--json", action="store_true", help="print JSON (every parameter)")
    p.set_defaults(run=run)


def _changed_parameters(node: GraphNode) -> dict[str, object]:
    defaults = {p.name: p.default for p in node.node_cls.PARAMETERS}
    return {k: v for k, v in node.parameters.items() if defaults.get(k) != v}


def format_graph(graph: RobotGraph) -> str:
    """Human-readable graph: per node its topics, remaps and non-default parameters."""
    info = graph.to_dict()
    lines = [
        f"robot {graph.robot.robot} ({graph.robot.path}), namespace "
        f"{info['namespace'] or '/'}: {len(graph.nodes)} nodes"
    ]
    if graph.left_out:
        lines.append(f"left out ({', '.join(graph.disabled)}): {', '.join(graph.left_out)}")
    for node in graph.nodes:
        types = node.msg_types
        threads = f", {node.threads} OpenCV threads" if node.threads else ""
        lines.append(f"{node.full_name}  ({node.node_type}{threads})")
        for name, topic in node.subscribes.items():
            lines.append(f"  subscribes {topic}  [{types[topic]}]  ({name})")
        for name, topic in node.publishes.items():
            lines.append(f"  publishes  {topic}  [{types[topic]}]  ({name})")
        for src, dst in node.remappings:
            lines.append(f"  remap      {src} -> {dst}")
        for path in (*node.entry.params_files, *node.extra_files):
            lines.append(f"  params     {path}")
        for key, value in _changed_parameters(node).items():
            lines.append(f"  param      {key} = {value!r}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Execute ``percept graph``."""
    from percept.runtime.graph import robot_graph
    from percept.runtime.robot import load_robot

    robot = load_robot(args.config if args.config else args.robot)
    disabled = [s.strip() for s in args.disable.split(",") if s.strip()]
    graph = robot_graph(
        robot, namespace=args.namespace, disabled=disabled, params_file=args.params_file
    )
    if args.json:
        sys.stdout.write(json.dumps(graph.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(format_graph(graph))
    return 0
