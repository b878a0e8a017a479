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

The network (about 0.4 M parameters at ``--width 16``): a stride-2 convolution backbone
(BN + SiLU, residual blocks) to strides 8, 16 and 32 (``--levels 4,8,16,32`` adds a
stride-4 level), a top-down feature pyramid, one head shared by the levels
predicting the distances from each cell centre to the box sides (left, top, right,
bottom) and five class logits. Exported output: (B, 4 + 5, N) with rows ``cx, cy, w, h``
in network-input pixels then the class scores after the sigmoid, N the cells of the
levels, exactly what Ultralytics' YOLOv8 exports give, so
``percept.detect.decode``'s ``yolov8`` decoder reads it unchanged.

Training: FCOS-style assignment, quality focal loss on the classes, GIoU loss on the
boxes (``loss``), AdamW with a learning rate defined in steps (warm-up, cosine to 2 %),
two CPU threads. Resumable: a checkpoint every ``--checkpoint-minutes`` and at a stop
(SIGINT, SIGTERM, ``--max-minutes``), and ``--resume OUT`` continues bit for bit; each
run appends its segment to ``OUT/stages.json`` with CPU minutes and validation scores
(seeds 800-807), and ``--test`` scores the held-out seeds once at the end. The pieces:
``config`` (``TrainConfig``), ``dataset`` (rendering, cache, augmentation), ``mix``
(mosaic, copy-paste), ``model`` (network, ONNX export), ``loss``, ``evaluate``
(scoring), ``checkpoint``, ``stages`` (stage log, validation curve) and this module
(the training loop and the command line).

torch is imported inside the functions that need it: the module imports without it.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from percept.detect.shipped import SHIPPED_NMS_IOU
from percept.tools.train_detector.checkpoint import (
    CHECKPOINT_NAME,
    load_checkpoint,
    random_states,
    restore_random_states,
    save_checkpoint,
    write_atomic,
)
from percept.tools.train_detector.config import TrainConfig
from percept.tools.train_detector.dataset import CLASS_NAMES, Dataset, render_dataset
from percept.tools.train_detector.evaluate import MIN_VISIBILITY, evaluate_model, log_metrics
from percept.tools.train_detector.loss import cell_grid, detection_loss
from percept.tools.train_detector.mix import training_sample
from percept.tools.train_detector.model import Bf16Raw, build_model, export_onnx
from percept.tools.train_detector.stages import StageLog, curve, record_test

__all__ = ["MIN_VISIBILITY", "Dataset", "RunOptions", "main", "train", "validate"]

logger = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """How one training run (a segment) runs; nothing here changes the trained weights.

    Attributes:
        max_minutes: stop this run after this wall time, with a checkpoint (0: none).
        max_cpu_minutes: stop when the output folder's training CPU minutes (all runs,
            all threads) reach this, with a checkpoint (0: none): a budget that does
            not depend on the machine's load.
        checkpoint_minutes: wall minutes between checkpoints.
        val_every_minutes: training CPU minutes between validation scores (0: only at
            the end of the schedule and at a ``max_minutes`` / ``max_cpu_minutes`` stop).
        iou_threshold: NMS IoU of the validation scores.
        stop_after_steps: stop this run after this many steps, with a checkpoint (as a
            signal would; for tests).
        step_hook: called with the step count after every step (tests).
    """

    max_minutes: float = 0.0
    max_cpu_minutes: float = 0.0
    checkpoint_minutes: float = 5.0
    val_every_minutes: float = 0.0
    iou_threshold: float = SHIPPED_NMS_IOU
    stop_after_steps: int = 0
    step_hook: Callable[[int], None] | None = None


class _StopFlag:
    """SIGINT / SIGTERM set a flag that the training loop reads after each step."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        logger.warning("%s: stopping after this step with a checkpoint", self.signal)

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _save_weights(model: Any, path: Path) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_atomic(path, buffer.getvalue())


def validate(
    model: Any, config: TrainConfig, data: Dataset, out_dir: Path, iou_threshold: float
) -> dict[str, Any]:
    """Score a copy of ``model`` on ``data`` through ONNX (``OUT/val.onnx``).

    The copy is exported and scored, so the model being trained and the random states
    are untouched (training continues bit for bit).
    """
    snapshot = copy.deepcopy(model)
    path = out_dir / "val.onnx"
    export_onnx(snapshot, config, path)
    return evaluate_model(path, data, iou_threshold=iou_threshold)


def train(
    config: TrainConfig,
    data: Dataset,
    out_dir: Path,
    init: Path | None = None,
    *,
    resume: bool = False,
    val_data: Dataset | None = None,
    options: RunOptions | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train the network on ``data``, or continue it; returns (model, training log).

    The schedule is defined in steps (``config.epochs`` passes of
    ``len(data) // batch_size`` steps: linear warm-up then cosine to 2 %), so a run
    stopped by ``options.max_minutes``, a signal or a kill and continued with
    ``resume`` gives the weights of one uninterrupted run, bit for bit (same machine,
    same threads). Checkpoints (``checkpoint``) every ``options.checkpoint_minutes``
    and at a stop; ``model.pt`` (weights only, for ``--init``) after every epoch and at
    a stop; the run's entry in ``OUT/stages.json`` (``stages``) at each checkpoint.

    Args:
        config: the training configuration (on resume: the checkpoint's).
        data: the training frames (the same as the run's being continued).
        out_dir: checkpoint, ``model.pt``, ``stages.json`` and ``val.onnx`` go there.
        init: a ``model.pt`` of an earlier stage to start from (same ``width`` and
            ``levels``); None: random initialisation. Ignored on resume.
        resume: continue from ``out_dir``'s checkpoint.
        val_data: validation frames, scored every ``options.val_every_minutes``
            training CPU minutes and at the end; None: no validation.
        options: stops, checkpoint and validation intervals.
    """
    import torch

    opts = options or RunOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(config.width, strides=config.levels)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = len(data.images) // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    warmup = min(200, total_steps // 10)
    ckpt_path = out_dir / CHECKPOINT_NAME
    step, epoch, batch_index, batches = 0, 0, 0, 0
    order: npt.NDArray[np.int64] | None = None
    sums = {"loss": 0.0, "cls": 0.0, "box": 0.0}
    history: list[dict[str, float]] = []
    val_points: list[dict[str, Any]] = []
    cpu_before = 0.0
    if resume:
        ck = load_checkpoint(ckpt_path)
        model.load_state_dict(ck["model"])
        optimiser.load_state_dict(ck["optimizer"])
        restore_random_states(ck["random"], rng)
        pos = ck["position"]
        step, epoch, batch_index, batches = (
            int(pos["step"]), int(pos["epoch"]), int(pos["batch_index"]), int(pos["batches"])
        )  # fmt: skip
        order = None if pos["order"] is None else pos["order"].numpy().astype(np.int64)
        sums = json.loads(pos["sums"])
        history = json.loads(ck["history"])
        val_points = json.loads(ck["val"])
        cpu_before = float(ck["cpu_minutes"])
        logger.info("resumed %s at step %d of %d (epoch %d)", ckpt_path, step, total_steps, epoch)
    elif init is not None:
        model.load_state_dict(torch.load(init, map_location="cpu", weights_only=True))
        logger.info("initialised from %s", init)
    forward = Bf16Raw(model) if config.bf16 else model
    params = sum(p.numel() for p in model.parameters())
    logger.info("model: %d parameters, levels %s", params, config.levels)

    def lr_at(step: int) -> float:
        if step < warmup:
            return config.lr * (step + 1) / warmup
        progress = min(1.0, step / max(1, total_steps))
        return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    grid = cell_grid(config.crop_width, config.crop_height, config.levels)
    image_h, image_w = data.images.shape[1:3]
    full_scale = min(config.input_width / image_w, config.input_height / image_h)
    start_step = step
    wall0, cpu0 = time.perf_counter(), time.process_time()
    cpu_aside = 0.0  # CPU seconds of validation and checkpoints, not training

    def cpu_minutes() -> float:
        return cpu_before + (time.process_time() - cpu0 - cpu_aside) / 60

    def wall_minutes() -> float:
        return (time.perf_counter() - wall0) / 60

    stage = StageLog(
        out_dir,
        {
            "out": str(out_dir),
            "init": None if init is None or resume else str(init),
            "resumed": resume,
            "config": asdict(config),
            "train_frames": len(data.images),
            "val_frames": 0 if val_data is None else len(val_data.images),
            "parameters": params,
            "total_steps": total_steps,
            "steps_start": start_step,
            "steps_end": start_step,
            "cpu_minutes_start": cpu_before,
        },
    )

    def checkpoint(finished: bool) -> None:
        state = {
            "config": json.dumps(asdict(config)),
            "model": model.state_dict(),
            "optimizer": optimiser.state_dict(),
            "random": random_states(rng),
            "position": {
                "step": step,
                "epoch": epoch,
                "batch_index": batch_index,
                "batches": batches,
                "order": None if order is None else torch.from_numpy(order),
                "sums": json.dumps(sums),
            },
            "history": json.dumps(history),
            "val": json.dumps(val_points),
            "cpu_minutes": cpu_minutes(),
            "finished": finished,
        }
        save_checkpoint(ckpt_path, state)
        _save_weights(model, out_dir / "model.pt")
        stage.update(
            steps_end=step,
            epochs_done=step / max(1, steps_per_epoch),
            cpu_minutes=cpu_minutes() - cpu_before,
            cpu_minutes_total=cpu_minutes(),
            wall_minutes=wall_minutes(),
        )
        logger.info("checkpoint: step %d, %.1f CPU min", step, cpu_minutes())

    def score() -> None:
        if val_data is None:
            return
        trained_minutes = cpu_minutes()  # before the validation's own CPU time
        m = validate(model, config, val_data, out_dir, opts.iou_threshold)
        point = {
            "step": step,
            "epoch": step / max(1, steps_per_epoch),
            "cpu_minutes": trained_minutes,
            "map_50": m["map_50"],
            "map": m["map"],
            "visible_map_50": None if m["visible"] is None else m["visible"]["map_50"],
        }
        val_points.append(point)
        stage.add_val(point)
        logger.info(
            "validation at step %d (%.1f CPU min): mAP@0.5 %.4f, mAP@0.5:0.95 %.4f",
            step, point["cpu_minutes"], m["map_50"], m["map"],
        )  # fmt: skip

    def aside(action: Callable[[], None]) -> None:
        nonlocal cpu_aside
        t = time.process_time()
        action()
        cpu_aside += time.process_time() - t

    last_checkpoint = time.perf_counter()
    val_every = opts.val_every_minutes
    next_val = (math.floor(cpu_before / val_every) + 1) * val_every if val_every > 0 else math.inf
    reason: str | None = None
    with _StopFlag() as stop:
        model.train()
        while step < total_steps:
            if order is None:
                order = rng.permutation(len(data.images)).astype(np.int64)
                batch_index, batches = 0, 0
                sums = {"loss": 0.0, "cls": 0.0, "box": 0.0}
            chosen = order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
            imgs, targets = [], []
            for k in chosen:
                img, boxes, classes = training_sample(data, int(k), config, rng, full_scale)
                imgs.append(img[..., ::-1].transpose(2, 0, 1))  # RGB CHW as make_batch gives
                targets.append((torch.from_numpy(boxes), torch.from_numpy(classes)))
            x = torch.from_numpy(np.ascontiguousarray(np.stack(imgs))).float() / 255.0
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step)
            loss, parts = detection_loss(forward, x, targets, grid)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            step += 1
            batch_index += 1
            batches += 1
            sums["loss"] += float(loss.detach())
            sums["cls"] += parts["cls"]
            sums["box"] += parts["box"]
            if step % 25 == 0:
                logger.info(
                    "step %d: loss %.4f, lr %.2e", step, float(loss.detach()), lr_at(step - 1)
                )
            if batch_index == steps_per_epoch:
                epoch += 1
                record = {k: v / max(batches, 1) for k, v in sums.items()}
                record.update(epoch=epoch, cpu_minutes=cpu_minutes())
                history.append(record)
                logger.info(
                    "epoch %d/%d: loss %.4f (cls %.4f, box %.4f), %.1f CPU min",
                    epoch, config.epochs, record["loss"], record["cls"], record["box"],
                    record["cpu_minutes"],
                )  # fmt: skip
                order = None
                aside(lambda: _save_weights(model, out_dir / "model.pt"))
            if opts.step_hook is not None:
                opts.step_hook(step)
            if stop.signal is not None:
                reason = f"signal {stop.signal}"
            elif opts.max_minutes > 0 and wall_minutes() >= opts.max_minutes:
                reason = f"max-minutes {opts.max_minutes:g}"
            elif opts.max_cpu_minutes > 0 and cpu_minutes() >= opts.max_cpu_minutes:
                reason = f"max-cpu-minutes {opts.max_cpu_minutes:g}"
            elif opts.stop_after_steps > 0 and step - start_step >= opts.stop_after_steps:
                reason = f"stop after {opts.stop_after_steps} steps"
            if cpu_minutes() >= next_val and step < total_steps:
                aside(score)
                next_val = (math.floor(cpu_minutes() / val_every) + 1) * val_every
            if reason is not None:
                break
            if time.perf_counter() - last_checkpoint >= 60 * opts.checkpoint_minutes:
                aside(lambda: checkpoint(finished=False))
                last_checkpoint = time.perf_counter()
    finished = step >= total_steps
    if finished or (reason or "").startswith("max-"):
        if not val_points or val_points[-1]["step"] != step:
            aside(score)
    aside(lambda: checkpoint(finished=finished))
    stage.update(status="finished" if finished else "stopped", stop_reason=reason)
    if reason is not None:
        logger.warning("stopped at step %d of %d: %s", step, total_steps, reason)
    model.eval()
    log = {
        "parameters": params,
        "epochs_run": len(history),
        "steps": step,
        "total_steps": total_steps,
        "stopped_early": not finished,
        "stop_reason": reason,
        "train_minutes": wall_minutes(),
        "cpu_minutes": cpu_minutes(),
        "history": history,
        "val": val_points,
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


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(v) for v in text.split(","))
    except ValueError as err:
        msg = f"levels must be strides like 8,16,32, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if levels not in ((4, 8, 16, 32), (8, 16, 32)):
        msg = f"levels must be 8,16,32 or 4,8,16,32, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return levels


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        msg = f"probability must lie in [0, 1], got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _scale_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        lo, hi = float(low), float(high)
    except ValueError as err:
        msg = f"scale range must be LOW,HIGH, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err
    if not 0.0 < lo < hi:
        msg = f"scale range must be 0 < LOW < HIGH, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return lo, hi


def _parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m percept.tools.train_detector",
        description="Train the warehouse detector on percept synth renders (needs torch).",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="OUT",
        help="continue the run in OUT from its checkpoint (its config.json decides the "
        "model; --max-minutes, --max-cpu-minutes, --checkpoint-minutes, "
        "--val-every-minutes, --test, --cache apply to this run)",
    )
    parser.add_argument("--train-seeds", type=_seed_range, default=defaults.train_seeds)
    parser.add_argument("--test-seeds", type=_seed_range, default=defaults.test_seeds)
    parser.add_argument("--val-seeds", type=_seed_range, default=defaults.val_seeds)
    parser.add_argument("--frames-per-seed", type=int, default=defaults.frames_per_seed)
    parser.add_argument("--test-frames-per-seed", type=int, default=defaults.test_frames_per_seed)
    parser.add_argument("--val-frames-per-seed", type=int, default=defaults.val_frames_per_seed)
    parser.add_argument("--image-size", type=_size, default=None, help="rendered WxH")
    parser.add_argument("--input-size", type=_size, default=None, help="network WxH")
    parser.add_argument("--crop-size", type=_size, default=None, help="training crop WxH")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--width", type=int, default=defaults.width, help="first stage channels")
    parser.add_argument(
        "--levels",
        type=_levels,
        default=defaults.levels,
        help="output strides: 8,16,32 or 4,8,16,32",
    )
    parser.add_argument("--mosaic", type=_probability, default=0.0, help="mosaic probability")
    parser.add_argument(
        "--copy-paste", type=_probability, default=0.0, help="copy-paste probability"
    )
    parser.add_argument(
        "--wide-scale", type=_probability, default=0.0, help="probability of the wide scale range"
    )
    parser.add_argument(
        "--wide-scale-range", type=_scale_range, default=defaults.wide_scale_range, help="LOW,HIGH"
    )
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="forward pass under CPU bfloat16 autocast (2.3-2.9x faster per step on AVX-512 "
        "BF16 CPUs; weights, loss, validation and export stay float32)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--max-minutes", type=float, default=0.0, help="stop this run after this wall time"
    )
    parser.add_argument(
        "--max-cpu-minutes",
        type=float,
        default=0.0,
        help="stop when OUT's training CPU minutes (all runs, all threads) reach this",
    )
    parser.add_argument(
        "--checkpoint-minutes", type=float, default=5.0, help="wall minutes between checkpoints"
    )
    parser.add_argument(
        "--val-every-minutes",
        type=float,
        default=0.0,
        help="training CPU minutes between validation scores (0: at the end only)",
    )
    parser.add_argument(
        "--test", action="store_true", help="score the held-out test seeds once at the end"
    )
    parser.add_argument(
        "--curve", action="store_true", help="only draw OUT/val_curve.png from OUT/stages.json"
    )
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
        "--tile-scale",
        type=float,
        default=1.0,
        help="with --evaluate: also detect in tiles of the image enlarged by this factor "
        "(DetectorConfig.tile_scale), default 1 (whole image only)",
    )
    parser.add_argument(
        "--min-visibility",
        type=float,
        default=MIN_VISIBILITY,
        help=f"objects seen less are ignore regions in the 'visible' scores, "
        f"default {MIN_VISIBILITY}",
    )
    return parser


def _config(args: argparse.Namespace) -> TrainConfig:
    sizes = {}
    given = (("image", args.image_size), ("input", args.input_size), ("crop", args.crop_size))
    for name, value in given:
        if value is not None:
            sizes[f"{name}_width"], sizes[f"{name}_height"] = value
    return TrainConfig(
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
        levels=args.levels,
        mosaic_p=args.mosaic,
        copy_paste_p=args.copy_paste,
        wide_scale_p=args.wide_scale,
        wide_scale_range=args.wide_scale_range,
        val_seeds=args.val_seeds,
        val_frames_per_seed=args.val_frames_per_seed,
        bf16=args.bf16,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m percept.tools.train_detector``: render, train (or resume), export, score."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0.0 <= args.iou_threshold <= 1.0 or not 0.0 <= args.min_visibility <= 1.0:
        parser.error("--iou-threshold and --min-visibility must lie in [0, 1]")
    if not 1.0 <= args.tile_scale <= 4.0:
        parser.error(f"--tile-scale must lie in [1, 4], got {args.tile_scale}")
    if args.tile_scale != 1.0 and args.evaluate is None:
        parser.error("--tile-scale applies to --evaluate only (training validates untiled)")
    if args.evaluate is not None and not args.evaluate.is_file():
        parser.error(f"--evaluate: no such model file: {args.evaluate}")
    if (args.out is None) == (args.resume is None):
        parser.error("give one of --out and --resume")
    out: Path = args.out or args.resume
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.curve:
        return 0 if curve(out, out / "val_curve.png") is not None else 1
    if args.resume is not None:
        config_path = out / "config.json"
        if not config_path.is_file() or not (out / CHECKPOINT_NAME).is_file():
            parser.error(f"--resume: {out} has no config.json and {CHECKPOINT_NAME}")
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        config = replace(TrainConfig.from_dict(saved), max_minutes=args.max_minutes)
    else:
        config = _config(args)
    out.mkdir(parents=True, exist_ok=True)
    cache = args.cache or out / "cache"
    t0 = time.perf_counter()

    def test_set() -> Dataset:
        return render_dataset(
            range(*config.test_seeds),
            config.test_frames_per_seed,
            config.image_width,
            config.image_height,
            cache,
            test=True,
        )

    if args.evaluate is not None:
        scores = evaluate_model(
            args.evaluate,
            test_set(),
            args.min_visibility,
            args.iou_threshold,
            tile_scale=args.tile_scale,
        )
        log_metrics(scores)
        scored = {
            "model": str(args.evaluate),
            "test_seeds": config.test_seeds,
            "tile_scale": args.tile_scale,
            "test": scores,
        }
        (out / "eval_report.json").write_text(json.dumps(scored, indent=2), encoding="utf-8")
        return 0
    train_data = render_dataset(
        range(*config.train_seeds),
        config.frames_per_seed,
        config.image_width,
        config.image_height,
        cache,
    )
    val_data = render_dataset(
        range(*config.val_seeds),
        config.val_frames_per_seed,
        config.image_width,
        config.image_height,
        cache,
        test=True,
    )
    render_minutes = (time.perf_counter() - t0) / 60
    logger.info(
        "data: %d train frames (%d boxes), %d validation frames (%d boxes), %.1f min",
        len(train_data.images),
        sum(len(c) for c in train_data.classes),
        len(val_data.images),
        sum(len(c) for c in val_data.classes),
        render_minutes,
    )
    if args.render_only:
        if args.test:
            test_set()
        return 0
    if args.resume is None:
        write_atomic(out / "config.json", json.dumps(asdict(config), indent=2).encode("utf-8"))
    options = RunOptions(
        max_minutes=args.max_minutes,
        max_cpu_minutes=args.max_cpu_minutes,
        checkpoint_minutes=args.checkpoint_minutes,
        val_every_minutes=args.val_every_minutes,
        iou_threshold=args.iou_threshold,
    )
    model, log = train(
        config,
        train_data,
        out,
        args.init,
        resume=args.resume is not None,
        val_data=val_data,
        options=options,
    )
    onnx_path = out / "warehouse_det.onnx"
    export_onnx(model, config, onnx_path)
    (out / "warehouse_det.labels.txt").write_text("\n".join(CLASS_NAMES) + "\n", encoding="utf-8")
    metrics: dict[str, Any] | None = None
    if args.test:
        test_data = test_set()
        metrics = evaluate_model(onnx_path, test_data, args.min_visibility, args.iou_threshold)
        log_metrics(metrics)
        record_test(out, metrics)
    curve(out, out / "val_curve.png")
    report = {
        "config": asdict(config),
        "init": None if args.init is None else str(args.init),
        "train_frames": len(train_data.images),
        "train_boxes": sum(len(c) for c in train_data.classes),
        "val_frames": len(val_data.images),
        "data_minutes": render_minutes,
        **log,
        "test": metrics,
        "onnx_bytes": onnx_path.stat().st_size,
    }
    (out / "train_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
