"""The detector network and its ONNX export.

About 0.4 M parameters at width 16: a stride-2 convolution backbone (BN + SiLU, residual
blocks) to strides 8, 16 and 32 (and optionally a stride-4 output level), a top-down
feature pyramid, one head shared by the levels
predicting the distances from each cell centre to the box sides (left, top, right,
bottom) and five class logits. Exported output: (B, 4 + 5, N) with rows ``cx, cy, w, h``
in network-input pixels then the class scores after the sigmoid, N the cells of all
levels, exactly what Ultralytics' YOLOv8 exports give, so
``percept.detect.decode``'s ``yolov8`` decoder reads it unchanged.

torch, onnx and onnxruntime are imported inside the functions: the module imports
without them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

import numpy as np

from percept.tools.train_detector.config import TrainConfig
from percept.tools.train_detector.dataset import CLASS_NAMES

__all__ = ["ALLOWED_STRIDES", "STRIDES", "Bf16Raw", "build_model", "export_onnx"]

logger = logging.getLogger(__name__)

#: Strides of the three default output levels.
STRIDES: Final = (8, 16, 32)
#: Strides an output level may have (the backbone's feature maps).
ALLOWED_STRIDES: Final = (4, 8, 16, 32)


def build_model(
    width: int = 16, num_classes: int = len(CLASS_NAMES), strides: tuple[int, ...] = STRIDES
) -> Any:
    """The detector network (a ``torch.nn.Module``); its output is the exported one.

    Args:
        width: channels of the first backbone stage (later stages 2x, 4x, 6x, 8x).
        num_classes: class scores per cell.
        strides: output levels, ascending, a contiguous run of ``ALLOWED_STRIDES``
            ending at 32 (the pyramid runs top-down from stride 32).

    Raises:
        ValueError: unsupported strides.
    """
    import torch
    from torch import nn

    def conv(c_in: int, c_out: int, k: int = 3, s: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU()
        )

    class Residual(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.body = nn.Sequential(conv(c, c // 2, 1), conv(c // 2, c, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.add(x, self.body(x))

    strides = tuple(strides)
    if (
        not strides
        or strides[0] not in ALLOWED_STRIDES
        or strides != ALLOWED_STRIDES[ALLOWED_STRIDES.index(strides[0]) :]
    ):
        msg = f"output strides must be a run ending at 32 of {ALLOWED_STRIDES}, got {strides}"
        raise ValueError(msg)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, c3, c4, c5 = width, 2 * width, 4 * width, 6 * width, 8 * width
            self.stem = nn.Sequential(conv(3, c1, 3, 2), conv(c1, c2, 3, 2), Residual(c2))
            self.s8 = nn.Sequential(conv(c2, c3, 3, 2), Residual(c3), Residual(c3))
            self.s16 = nn.Sequential(conv(c3, c4, 3, 2), Residual(c4))
            self.s32 = nn.Sequential(conv(c4, c5, 3, 2), Residual(c5))
            head = 3 * width
            self.lat32 = conv(c5, head, 1)
            self.lat16 = conv(c4, head, 1)
            self.lat8 = conv(c3, head, 1)
            if 4 in strides:
                self.lat4 = conv(c2, head, 1)
            self.tower = nn.Sequential(conv(head, head, 3), conv(head, head, 3))
            self.box = nn.Conv2d(head, 4, 1)
            self.cls = nn.Conv2d(head, num_classes, 1)
            assert self.cls.bias is not None
            assert self.box.bias is not None
            nn.init.constant_(self.cls.bias, -4.6)  # prior 0.01
            nn.init.constant_(self.box.bias, 0.0)

        def raw(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
            """Per level: (B, 4, h, w) box distances in pixels and (B, C, h, w) logits."""
            f4 = self.stem(x)
            f8 = self.s8(f4)
            f16 = self.s16(f8)
            f32 = self.s32(f16)
            p32 = self.lat32(f32)
            p16 = self.lat16(f16) + nn.functional.interpolate(p32, scale_factor=2.0)
            p8 = self.lat8(f8) + nn.functional.interpolate(p16, scale_factor=2.0)
            pyramid = {8: p8, 16: p16, 32: p32}
            if 4 in strides:
                pyramid[4] = self.lat4(f4) + nn.functional.interpolate(p8, scale_factor=2.0)
            out = []
            for stride in strides:
                p = pyramid[stride]
                t = self.tower(p)
                box = self.box(t)
                if box.dtype != torch.float32:  # under bf16 autocast: decode in float32
                    box = box.float()
                dist = nn.functional.softplus(box) * stride
                out.append((dist, self.cls(t)))
            return out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """(B, 4 + C, N): cx, cy, w, h in input pixels, class scores after sigmoid."""
            rows = []
            for (dist, logits), stride in zip(self.raw(x), strides, strict=True):
                _, _, h, w = dist.shape
                ys = (torch.arange(h, dtype=dist.dtype) + 0.5) * stride
                xs = (torch.arange(w, dtype=dist.dtype) + 0.5) * stride
                gy, gx = torch.meshgrid(ys, xs, indexing="ij")
                left, top, right, bottom = dist.unbind(1)
                x1, y1 = gx - left, gy - top
                x2, y2 = gx + right, gy + bottom
                box = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
                rows.append(torch.cat([box, logits.sigmoid()], 1).flatten(2))
            return torch.cat(rows, 2)

    return Net()


class Bf16Raw:
    """``model.raw`` under CPU bfloat16 autocast, its outputs back in float32.

    What the training loss calls with ``TrainConfig.bf16``: the convolutions run in
    bfloat16 (2.3-2.9x less time per step than float32 for the width-24, stride-4
    network on this project's AVX-512 BF16 CPUs), the box distances are decoded in
    float32 (``raw``), and the loss sees float32 tensors. The weights stay float32.
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    def raw(self, x: Any) -> list[tuple[Any, Any]]:
        """Per level: float32 (B, 4, h, w) box distances and (B, C, h, w) logits."""
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            outs = self.model.raw(x)
        return [(dist, logits.float()) for dist, logits in outs]  # dist: float32 already


def export_onnx(model: Any, config: TrainConfig, path: Path) -> None:
    """Export to ONNX (opset 17, dynamic batch) with ``names`` and ``imgsz`` metadata.

    Raises:
        RuntimeError: ONNX Runtime's outputs differ from torch's by more than 1e-3.
    """
    import onnx
    import onnxruntime as ort
    import torch

    model.eval()
    # A generator of its own: the export must not move torch's global random state
    # (training resumed after a validation export continues bit for bit).
    x = torch.rand(
        2, 3, config.input_height, config.input_width, generator=torch.Generator().manual_seed(0)
    )
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["images"],
        output_names=["output0"],
        opset_version=17,
        dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
        dynamo=False,
    )
    proto = onnx.load(str(path))
    meta = {
        "names": repr(dict(enumerate(CLASS_NAMES))),
        "imgsz": repr([config.input_height, config.input_width]),
        "description": "percept warehouse_det: synthetic warehouse detector, YOLOv8 layout",
        "license": "Apache-2.0",
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": x.numpy()})[0]
    diff = float(np.abs(got - expected).max())
    logger.info("onnx: %s, output %s, max |ort - torch| %.2e", path, got.shape, diff)
    if diff > 1e-3:
        msg = f"{path}: ONNX Runtime differs from torch by {diff}"
        raise RuntimeError(msg)
