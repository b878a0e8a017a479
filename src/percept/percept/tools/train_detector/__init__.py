"""The detector training project: render synthetic scenes, train, export ONNX, score.

Needs the optional ``train`` extra (torch) to train; ``--evaluate MODEL.onnx`` scores a
model without torch. Run as ``python -m percept.tools.train_detector`` (``train.main``).
"""

__all__ = [
    "checkpoint",
    "config",
    "dataset",
    "evaluate",
    "loss",
    "mix",
    "model",
    "stages",
    "train",
]
