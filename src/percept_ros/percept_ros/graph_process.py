"""``percept_graph_process``: every node of a robot in one process, on one executor.

rclpy has no component container (rclpy#575), so ``one_process:=true`` runs this
script: it resolves the robot's graph with :func:`percept.runtime.graph.robot_graph`
(the function the per-node launch, ``percept replay`` and ``percept graph`` use), builds
one :class:`percept_ros.adapter.PerceptRosNode` per graph node with that node's name,
namespace, remaps and parameters (as node-local arguments, so nothing leaks between
nodes), and spins them all on one ``MultiThreadedExecutor``: numpy/OpenCV sections that
release the GIL overlap, pure-Python callbacks take turns. Messages between the nodes
still go through the middleware (rclpy has no intra-process path).

    percept_graph_process --robot config/robots/synth.yaml [--namespace NS]
        [--disable detection,mapping] [--params-file F] [--use-sim-time]
        [--threads N] [--ros-args --log-level info]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from percept.runtime.graph import GraphNode

__all__ = ["main", "node_arguments", "parse_args"]

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The script's own options (everything before ``--ros-args``)."""
    p = argparse.ArgumentParser(prog="percept_graph_process", description=__doc__)
    p.add_argument("--robot", required=True, help="robot name or robot file path")
    p.add_argument("--namespace", default="", help="launch namespace")
    p.add_argument("--disable", default="", help="comma-separated subsystems to leave out")
    p.add_argument("--params-file", default="", help="extra parameter file, applied last")
    p.add_argument("--use-sim-time", action="store_true", help="run every node on /clock")
    p.add_argument("--threads", type=int, default=0, help="executor threads (0: its default)")
    return p.parse_args(list(argv))


def node_arguments(node: GraphNode) -> list[str]:
    """Node-local ``--ros-args``: its remaps (parameters go as overrides)."""
    args = ["--ros-args"]
    for src, dst in node.remappings:
        args += ["-r", f"{src}:={dst}"]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the graph until shutdown; returns the exit status (1 on a bad configuration)."""
    from pathlib import Path

    from percept.errors import PerceptError
    from percept.runtime.graph import robot_graph
    from percept.runtime.robot import find_config_root, load_robot
    from percept_ros.scripts import _apply_threads

    argv = list(sys.argv if argv is None else argv)
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    options = parse_args(argv[1:split])
    _apply_threads()
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.parameter import Parameter

    from percept_ros.adapter import PerceptRosNode

    rclpy.init(args=argv)
    nodes: list[PerceptRosNode] = []
    try:
        robot_arg = options.robot
        root = None if robot_arg.endswith((".yaml", ".yml")) else find_config_root()
        graph = robot_graph(
            load_robot(robot_arg, root),
            namespace=options.namespace,
            disabled=[s for s in options.disable.split(",") if s],
            params_file=Path(options.params_file) if options.params_file else None,
        )
        for node in graph.nodes:
            # Every resolved value (defaults, files, robot file, extra file, in that
            # order), as the per-node launch's files + overrides resolve them.
            overrides = {**node.parameters, "use_sim_time": options.use_sim_time}
            nodes.append(
                PerceptRosNode(
                    node.node_cls,
                    node.name,
                    namespace=node.namespace or "/",
                    cli_args=node_arguments(node),
                    use_global_arguments=False,
                    parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
                )
            )
        executor = MultiThreadedExecutor(num_threads=options.threads or None)
        for ros_node in nodes:
            executor.add_node(ros_node)
        rclpy.logging.get_logger("percept_graph_process").info(
            f"{graph.robot.robot}: {len(nodes)} nodes in one process "
            f"({', '.join(n.full_name for n in graph.nodes)})"
        )
        executor.spin()
    except PerceptError as err:
        rclpy.logging.get_logger("percept_graph_process").fatal(str(err))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        try:
            for ros_node in nodes:
                ros_node.destroy_node()
            rclpy.try_shutdown()
        except KeyboardInterrupt:
            pass
    return 0
