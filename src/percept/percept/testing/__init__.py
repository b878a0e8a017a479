"""Test support for percept nodes: ``NodeHarness`` runs one node on the local runtime.

Node tests here and in packages built on percept feed a node by hand and check what it
published, what it rejected and what its diagnostics say, without ROS.
"""

from __future__ import annotations

from percept.testing.harness import InputRejections, NodeHarness

__all__ = ["InputRejections", "NodeHarness"]
