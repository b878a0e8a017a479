"""Off-robot tools built on the nodes and runtimes: what the ``percept`` CLI runs.

:mod:`~percept.tools.replay` runs a robot's node graph on a bag;
:mod:`~percept.tools.perturb` perturbs replayed inputs (seeded);
:mod:`~percept.tools.regress` compares metrics against baselines;
:mod:`~percept.tools.demo` is the main job (``percept demo``);
:mod:`~percept.tools.stereo_pair` runs the stereo node on one image pair;
:mod:`~percept.tools.detect_offline` runs the detector on images or a bag to COCO JSON;
:mod:`~percept.tools.params` writes config/<node>.yaml and the README tables;
:mod:`~percept.tools.train_detector` trains the shipped detector on synthetic scenes;
:mod:`~percept.tools.vio_eval` runs the VIO offline beside its baselines (``percept vio``);
:mod:`~percept.tools.intel_lab_map` maps the Intel Lab scans and measures the map;
:mod:`~percept.tools.driver_topics` renames a bag to a camera driver's topics and frames;
:mod:`~percept.tools.rviz_config` checks an RViz view against a robot's graph;
:mod:`~percept.tools.fleet` compares many bags' metrics with their references.
"""

__all__ = [
    "demo",
    "detect_offline",
    "driver_topics",
    "fleet",
    "intel_lab_map",
    "params",
    "perturb",
    "regress",
    "replay",
    "rviz_config",
    "stereo_pair",
    "train_detector",
    "vio_eval",
]
