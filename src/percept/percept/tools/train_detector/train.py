"""Train the shipped warehouse detector on ``percept synth`` renders (the ``train`` extra).

``python -m percept.tools.train_detector --out DIR --train-seeds 100:200 --test-seeds 900:910``
(``--evaluate MODEL.onnx``: only score a model, no torch needed) renders a data set from
the synthetic warehouse (one scene per seed: layout, sizes, colours, textures, lighting
and clutter are drawn from the seed; frames at random times along the seed's trajectory,
ground and handheld motion alternating by seed, a random exposure per frame and the
generator's sensor noise, and each object's visible fraction), trains a compact
anchor-free detector with photometric and geometric augmentation, exports it to ONNX with
the YOLOv8 output layout and scores it on the held-out seeds with ``percept.detect`` and
``percept.eval.detection``.

The network (about 0.4 M parameters): a stride-2 convolution backbone (BN + SiLU, residual
blocks) to strides 8, 16 and 32, a top-down feature pyramid, one head shared by the levels
predicting the distances from each cell centre to the box sides (left, top, right,
bottom) and five class logits. Exported output: (B, 4 + 5, N) with rows ``cx, cy, w, h``
in network-input pixels then the class scores after the sigmoid, N the cells of the
three levels, exactly what Ultralytics' YOLOv8 exports give, so
``percept.detect.decode``'s ``yolov8`` decoder reads it unchanged.

Training: FCOS-style assignment, quality focal loss on the classes, GIoU loss on the
boxes (``loss``), AdamW with a cosine learning rate, two CPU threads. The pieces:
``config`` (``TrainConfig``), ``dataset`` (rendering, cache, augmentation), ``model``
(network, ONNX export), ``loss``, ``evaluate`` (scoring) and this module (the training
loop and the command line).

torch is imported inside the functions that need it: the module imports without it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from percept.detect.shipped import SHIPPED_NMS_IOU
from percept.tools.train_detector.config import TrainConfig
from percept.tools.train_detector.dataset import CLASS_NAMES, Dataset, augment, render_dataset
from percept.tools.train_detector.evaluate import MIN_VISIBILITY, evaluate_model, log_metrics
from percept.tools.train_detector.loss import cell_grid, detection_loss
from percept.tools.train_detector.model import build_model, export_onnx

__all__ = ["main", "train"]

logger = logging.getLogger(__name__)


def train(
    config: TrainConfig, data: Dataset, out_dir: Path, init: Path | None = None
) -> tuple[Any, dict[str, Any]]:
    """Train the network on ``data``; returns (model in eval mode, training log).

    Args:
        config: the training configuration.
        data: the training frames.
        out_dir: ``model.pt`` is written there after every epoch.
        init: a ``model.pt`` of an earlier stage to start from (same ``width``);
            None: random initialisation.
    """
    import torch

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(config.width)
    if init is not None:
        model.load_state_dict(torch.load(init, map_location="cpu"))
        logger.info("initialised from %s", init)
    params = sum(p.numel() for p in model.parameters())
    logger.info("model: %d parameters", params)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    start = time.perf_counter()
    steps_per_epoch = len(data.images) // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    warmup = min(200, total_steps // 10)

    def progress_at(step: int) -> float:
        """Schedule progress: steps done, or wall time spent when that is further on."""
        done = step / max(1, total_steps)
        if config.max_minutes > 0:
            done = max(done, (time.perf_counter() - start) / 60 / config.max_minutes)
        return min(done, 1.0)

    def lr_at(step: int) -> float:
        if step < warmup:
            return config.lr * (step + 1) / warmup
        progress = progress_at(step)
        return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    grid = cell_grid(config.crop_width, config.crop_height)
    image_h, image_w = data.images.shape[1:3]
    full_scale = min(config.input_width / image_w, config.input_height / image_h)
    history: list[dict[str, float]] = []
    step = 0
    stopped_early = False
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(data.images))
        sums = {"loss": 0.0, "cls": 0.0, "box": 0.0}
        b = 0
        for batch_index in range(steps_per_epoch):
            if progress_at(step) >= 1.0:
                stopped_early = step < total_steps
                break
            batch = order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
            imgs, targets = [], []
            for k in batch:
                img, boxes, classes = augment(
                    data.images[k],
                    data.boxes[k],
                    data.classes[k],
                    config.crop_width,
                    config.crop_height,
                    rng,
                    full_scale,
                )
                imgs.append(img[..., ::-1].transpose(2, 0, 1))  # RGB CHW as make_batch gives
                targets.append((torch.from_numpy(boxes), torch.from_numpy(classes)))
            x = torch.from_numpy(np.ascontiguousarray(np.stack(imgs))).float() / 255.0
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step)
            loss, parts = detection_loss(model, x, targets, grid)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            step += 1
            sums["loss"] += float(loss.detach())
            sums["cls"] += parts["cls"]
            sums["box"] += parts["box"]
            b += 1
            if step % 25 == 0:
                logger.info(
                    "step %d: loss %.4f, lr %.2e", step, float(loss.detach()), lr_at(step - 1)
                )
        record = {k: v / max(b, 1) for k, v in sums.items()}
        record["epoch"] = epoch + 1
        record["minutes"] = (time.perf_counter() - start) / 60
        history.append(record)
        logger.info(
            "epoch %d/%d: loss %.4f (cls %.4f, box %.4f), %.1f min",
            epoch + 1,
            config.epochs,
            record["loss"],
            record["cls"],
            record["box"],
            record["minutes"],
        )
        torch.save(model.state_dict(), out_dir / "model.pt")
        if stopped_early:
            logger.warning(
                "stopped in epoch %d: %.1f min wall limit", epoch + 1, config.max_minutes
            )
            break
    model.eval()
    log = {
        "parameters": params,
        "epochs_run": len(history),
        "steps": step,
        "stopped_early": stopped_early,
        "train_minutes": (time.perf_counter() - start) / 60,
        "history": history,
    }
    return model, log


def _seed_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition(":")
    try:
        a, b = int(first), int(last)
    except ValueError as err:
        msg = f"seed range must be A:B (B exclusive), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if not 0 <= a < b:
        msg = f"seed range must be A:B with 0 <= A < B, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return a, b


def _size(text: str) -> tuple[int, int]:
    first, _, last = text.lower().partition("x")
    try:
        w, h = int(first), int(last)
    except ValueError as err:
        msg = f"size must be WxH, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if w <= 0 or h <= 0:
        msg = f"size must be positive, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m percept.tools.train_detector``: render, train, export, evaluate."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m percept.tools.train_detector",
        description="Train the warehouse detector on percept synth renders (needs torch).",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--train-seeds", type=_seed_range, default=defaults.train_seeds)
    parser.add_argument("--test-seeds", type=_seed_range, default=defaults.test_seeds)
    parser.add_argument("--frames-per-seed", type=int, default=defaults.frames_per_seed)
    parser.add_argument("--test-frames-per-seed", type=int, default=defaults.test_frames_per_seed)
    parser.add_argument("--image-size", type=_size, default=None, help="rendered WxH")
    parser.add_argument("--input-size", type=_size, default=None, help="network WxH")
    parser.add_argument("--crop-size", type=_size, default=None, help="training crop WxH")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--width", type=int, default=defaults.width, help="first stage channels")
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="training wall limit")
    parser.add_argument(
        "--cache", type=Path, default=None, help="rendered frames (default OUT/cache)"
    )
    parser.add_argument("--render-only", action="store_true", help="render the data and stop")
    parser.add_argument(
        "--init", type=Path, default=None, help="model.pt of an earlier stage to start from"
    )
    parser.add_argument(
        "--evaluate",
        type=Path,
        default=None,
        metavar="ONNX",
        help="only score this model on the test seeds (no torch needed)",
    )
    parser.add_argument(
        "--iou-threshold",
        type=float,
        default=SHIPPED_NMS_IOU,
        help=f"NMS IoU when scoring, default {SHIPPED_NMS_IOU}",
    )
    parser.add_argument(
        "--min-visibility",
        type=float,
        default=MIN_VISIBILITY,
        help=f"objects seen less are ignore regions in the 'visible' scores, "
        f"default {MIN_VISIBILITY}",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.iou_threshold <= 1.0 or not 0.0 <= args.min_visibility <= 1.0:
        parser.error("--iou-threshold and --min-visibility must lie in [0, 1]")
    if args.evaluate is not None and not args.evaluate.is_file():
        parser.error(f"--evaluate: no such model file: {args.evaluate}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sizes = {}
    given = (("image", args.image_size), ("input", args.input_size), ("crop", args.crop_size))
    for name, value in given:
        if value is not None:
            sizes[f"{name}_width"], sizes[f"{name}_height"] = value
    config = TrainConfig(
        **sizes,
        train_seeds=args.train_seeds,
        test_seeds=args.test_seeds,
        frames_per_seed=args.frames_per_seed,
        test_frames_per_seed=args.test_frames_per_seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        width=args.width,
        threads=args.threads,
        seed=args.seed,
        max_minutes=args.max_minutes,
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or out / "cache"
    t0 = time.perf_counter()
    test_data = render_dataset(
        range(*config.test_seeds),
        config.test_frames_per_seed,
        config.image_width,
        config.image_height,
        cache,
        test=True,
    )
    if args.evaluate is not None:
        metrics = evaluate_model(args.evaluate, test_data, args.min_visibility, args.iou_threshold)
        log_metrics(metrics)
        scored = {"model": str(args.evaluate), "test_seeds": config.test_seeds, "test": metrics}
        (out / "eval_report.json").write_text(json.dumps(scored, indent=2), encoding="utf-8")
        return 0
    train_data = render_dataset(
        range(*config.train_seeds),
        config.frames_per_seed,
        config.image_width,
        config.image_height,
        cache,
    )
    render_minutes = (time.perf_counter() - t0) / 60
    logger.info(
        "data: %d train frames (%d boxes), %d test frames (%d boxes), %.1f min",
        len(train_data.images),
        sum(len(c) for c in train_data.classes),
        len(test_data.images),
        sum(len(c) for c in test_data.classes),
        render_minutes,
    )
    if args.render_only:
        return 0
    model, log = train(config, train_data, out, args.init)
    onnx_path = out / "warehouse_det.onnx"
    export_onnx(model, config, onnx_path)
    (out / "warehouse_det.labels.txt").write_text("\n".join(CLASS_NAMES) + "\n", encoding="utf-8")
    metrics = evaluate_model(onnx_path, test_data, args.min_visibility, args.iou_threshold)
    log_metrics(metrics)
    report = {
        "config": asdict(config),
        "init": None if args.init is None else str(args.init),
        "train_frames": len(train_data.images),
        "train_boxes": sum(len(c) for c in train_data.classes),
        "test_frames": len(test_data.images),
        "data_minutes": render_minutes,
        **log,
        "test": metrics,
        "onnx_bytes": onnx_path.stat().st_size,
    }
    (out / "train_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
