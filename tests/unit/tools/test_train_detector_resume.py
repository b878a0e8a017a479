"""Resumable training: N steps straight equal N/2, a SIGTERM, a resume and N/2 more.

A tiny network (width 4) on tiny frames (64x64, solid rectangles), a few steps, one
thread: the weights of the interrupted run must equal the straight run's bit for bit.
Also the stride-4 level's ONNX export in the YOLOv8 layout, read by ``percept.detect``.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is the optional `train` extra")

from percept.tools.train_detector.checkpoint import CHECKPOINT_NAME  # noqa: E402
from percept.tools.train_detector.config import TrainConfig  # noqa: E402
from percept.tools.train_detector.dataset import Dataset  # noqa: E402
from percept.tools.train_detector.model import Bf16Raw, build_model, export_onnx  # noqa: E402
from percept.tools.train_detector.stages import load_stages  # noqa: E402
from percept.tools.train_detector.train import RunOptions, train  # noqa: E402

SIZE = 64


def _data(count: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (count, SIZE, SIZE, 3), dtype=np.uint8)
    boxes, classes = [], []
    for f in range(count):
        b = []
        for k in range(3):
            w, h = rng.integers(6, 30, 2)
            x, y = int(rng.integers(0, SIZE - w)), int(rng.integers(0, SIZE - h))
            images[f, y : y + h, x : x + w] = 80 + 50 * k
            b.append([x, y, x + w, y + h])
        boxes.append(np.array(b, np.float32))
        classes.append(np.array([0, 1, 3], np.int64))
    vis = [np.ones(3, np.float32) for _ in range(count)]
    return Dataset(images, boxes, classes, np.zeros(count, np.int64), vis)


def _config(**changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "image_width": SIZE,
        "image_height": SIZE,
        "input_width": SIZE,
        "input_height": SIZE,
        "crop_width": SIZE,
        "crop_height": SIZE,
        "epochs": 2,
        "batch_size": 2,
        "width": 4,
        "threads": 1,
        "seed": 5,
    }
    base.update(changes)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _weights(model: object) -> dict[str, object]:
    return {k: v.clone() for k, v in model.state_dict().items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"levels": (4, 8, 16, 32), "mosaic_p": 0.5, "copy_paste_p": 0.5, "wide_scale_p": 0.5},
        {"levels": (4, 8, 16, 32), "bf16": True},
    ],
    ids=["default", "stride4-mosaic-copy-paste-wide-scale", "bf16"],
)
def test_interrupted_and_resumed_run_equals_the_straight_run(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    config = _config(**changes)
    data = _data(8, 1)  # 4 steps an epoch, 8 in all
    straight, log = train(config, data, tmp_path / "a")
    assert log["steps"] == 8
    assert not log["stopped_early"]

    # Stop mid-epoch (step 3 of 4) by SIGTERM, as a kill of the run would.
    def hook(step: int) -> None:
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "b"
    _, first = train(config, data, out, options=RunOptions(step_hook=hook))
    assert first["steps"] == 3
    assert first["stop_reason"] == "signal SIGTERM"
    assert (out / CHECKPOINT_NAME).is_file()
    assert not list(out.glob(".*.tmp"))  # written through a renamed temporary file
    resumed, second = train(config, data, out, resume=True)
    assert second["steps"] == 8

    want, got = _weights(straight), _weights(resumed)
    assert want.keys() == got.keys()
    for name, tensor in want.items():
        assert torch.equal(tensor, got[name]), name
    assert [h["loss"] for h in second["history"]] == [h["loss"] for h in log["history"]]

    stages = load_stages(out)
    assert [(s["steps_start"], s["steps_end"]) for s in stages] == [(0, 3), (3, 8)]
    assert [s["status"] for s in stages] == ["stopped", "finished"]
    assert stages[1]["resumed"]
    assert stages[1]["cpu_minutes_total"] >= stages[0]["cpu_minutes_total"] > 0


def test_validation_between_steps_leaves_the_training_untouched(tmp_path: Path) -> None:
    config = _config(epochs=1)
    data, val = _data(4, 2), _data(2, 3)  # 2 steps
    straight, _ = train(config, data, tmp_path / "a")
    scored, log = train(
        config, data, tmp_path / "b", val_data=val, options=RunOptions(val_every_minutes=1e-9)
    )
    # A score after every step (exported copies of the model), the last one at the end.
    assert len(log["val"]) == 2
    assert all(0.0 <= p["map_50"] <= 1.0 for p in log["val"])
    for name, tensor in _weights(straight).items():
        assert torch.equal(tensor, _weights(scored)[name]), name
    stages = json.loads((tmp_path / "b" / "stages.json").read_text(encoding="utf-8"))
    assert [p["step"] for p in stages[0]["val"]] == [1, 2]
    assert stages[0]["config"]["val_seeds"] == [800, 808]


def test_stride4_export_keeps_the_yolov8_layout(tmp_path: Path) -> None:
    from percept.detect.decode import choose_layout, decode_outputs

    config = _config(levels=(4, 8, 16, 32))
    torch.manual_seed(0)
    model = build_model(config.width, strides=config.levels)
    path = tmp_path / "m.onnx"
    export_onnx(model, config, path)  # checks ONNX Runtime against torch
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, SIZE, SIZE), dtype=np.float32)
    out = session.run(None, {"images": x})[0]
    cells = sum((SIZE // s) ** 2 for s in (4, 8, 16, 32))
    assert out.shape == (1, 4 + 5, cells)
    layout = choose_layout([(None, 9, cells)])
    assert (layout.decoder, layout.num_classes, layout.transposed) == ("yolov8", 5, False)
    candidates = decode_outputs([out], layout, 0.0, SIZE, SIZE)[0]
    assert len(candidates) == cells
    # The stride-4 cells come first, centred on 4-pixel spacing.
    centres = out[0, :2, : (SIZE // 4) ** 2]
    assert centres.shape[1] == 256


def test_build_model_refuses_levels_it_cannot_make() -> None:
    with pytest.raises(ValueError, match="run ending at 32"):
        build_model(4, strides=(4, 16, 32))
    with pytest.raises(ValueError, match="run ending at 32"):
        build_model(4, strides=(2, 4, 8, 16, 32))


def test_bf16_forward_is_float32_out_and_close_to_float32() -> None:
    torch.manual_seed(0)
    model = build_model(8, strides=(4, 8, 16, 32)).eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        full = model.raw(x)
        half = Bf16Raw(model).raw(x)
    assert [(d.shape, c.shape) for d, c in full] == [(d.shape, c.shape) for d, c in half]
    for (d32, c32), (d16, c16) in zip(full, half, strict=True):
        assert d16.dtype == c16.dtype == torch.float32
        # bfloat16 keeps 8 bits of mantissa: a few per cent, not a different network.
        assert torch.allclose(d16, d32, rtol=0.05, atol=0.05 * float(d32.abs().mean()))
        assert float((c16 - c32).abs().mean()) < 0.05 * float(c32.abs().mean()) + 0.01
        assert not torch.equal(d16, d32)  # the convolutions did run in bfloat16
    for p in model.parameters():
        assert p.dtype == torch.float32
