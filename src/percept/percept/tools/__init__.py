"""Off-robot tools built on the nodes and runtimes: what the ``percept`` CLI runs.

:mod:`~percept.tools.replay` runs a robot's node graph on a bag;
:mod:`~percept.tools.perturb` perturbs replayed inputs (seeded);
:mod:`~percept.tools.regress` compares metrics against baselines;
:mod:`~percept.tools.demo` is the main job (``percept demo``);
:mod:`~percept.tools.stereo_pair` runs the stereo node on one image pair;
:mod:`~percept.tools.detect_offline` runs the detector on images or a bag to COCO JSON;
:mod:`~percept.tools.params` writes config/<node>.yaml and the README tables;
:mod:`~percept.tools.train_detector` trains the shipped detector on synthetic scenes.
"""

__all__ = [
    "demo",
    "detect_offline",
    "params",
    "perturb",
    "regress",
    "replay",
    "stereo_pair",
    "train_detector",
]
