"""``percept detect``: run a detector on images or a bag and write COCO result JSON."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from percept.cli.common import add_command, show_progress, write_json

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)

EPILOG = """examples:
  percept detect images/ --model yolo11n.onnx --out out/dets.json --draw out/drawn
  percept detect val2017/ --model yolo11n.onnx --coco-gt instances_val2017.json \\
      --out dets.json && percept eval coco dets.json instances_val2017.json
  percept detect run.mcap --topic /camera/image_raw --model m.onnx --backend onnxruntime \\
      --out dets.json

Image ids come from --coco-gt (by file name, categories by name); without it from the
file stem (000000000139.jpg -> 139) or the bag frame number, categories being the
model's class indices. The default score threshold (0.001) is the one COCO mAP is
measured with; use 0.25 for what a robot would act on.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = add_command(
        subparsers,
        "detect",
        "run an ONNX detector on images or a bag, write COCO result JSON",
        epilog=EPILOG,
        description="Detect objects with the node's pipeline (TensorRT or ONNX Runtime, "
        "same pre-processing, decoders and NMS) and write COCO results for percept eval.",
    )
    p.add_argument("source", type=Path, metavar="IMAGES_OR_BAG", help="image, folder or bag")
    p.add_argument("--model", type=Path, required=True, help="ONNX model")
    p.add_argument("--out", type=Path, required=True, help="COCO result JSON to write")
    p.add_argument(
        "--backend", choices=("auto", "onnxruntime", "tensorrt"), default="auto", help="engine"
    )
    p.add_argument("--topic", default="", help="bag image topic (default: the only one)")
    p.add_argument("--coco-gt", type=Path, help="COCO ground truth: image and category ids")
    p.add_argument("--draw", type=Path, metavar="DIR", help="write images with boxes drawn")
    p.add_argument(
        "--draw-threshold", type=float, default=0.25, help="least score drawn, default 0.25"
    )
    p.add_argument("--labels", type=Path, help="class names file (default: beside the model)")
    p.add_argument("--decoder", default="auto", help="output layout (default: from shapes)")
    p.add_argument("--score-threshold", type=float, default=0.001, help="default 0.001")
    p.add_argument("--iou-threshold", type=float, default=0.45, help="NMS IoU, default 0.45")
    p.add_argument("--max-detections", type=int, default=100, help="per image, default 100")
    p.add_argument(
        "--tile-scale",
        type=float,
        default=1.0,
        help="also detect in half-overlapping tiles of the image enlarged by this factor "
        "(1.5 for the shipped model's small objects); default 1: whole image only",
    )
    p.add_argument("--classes", default="", help="allow-list: names or indices, comma-separated")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16", help="TensorRT")
    p.add_argument("--batch", type=int, default=1, help="images per inference call")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``percept detect``."""
    from tqdm import tqdm

    from percept.detect.backend import BackendOptions
    from percept.detect.detector import Detector, DetectorConfig
    from percept.tools.detect_offline import coco_ids_from_ground_truth, detect_to_coco

    config = DetectorConfig(
        model_path=args.model,
        backend=args.backend,
        decoder=args.decoder,
        score_threshold=args.score_threshold,
        iou_threshold=args.iou_threshold,
        max_detections=args.max_detections,
        tile_scale=args.tile_scale,
        classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()),
        labels_path=args.labels,
        options=BackendOptions(
            precision=args.precision, threads=args.threads, max_batch=max(args.batch, 1)
        ),
    )
    detector = Detector(config)
    ground_truth = coco_ids_from_ground_truth(args.coco_gt) if args.coco_gt else None
    bar = tqdm(
        unit="img",
        desc="detect",
        disable=not show_progress(args),
        file=sys.stderr,
    )
    try:
        result = detect_to_coco(
            args.source,
            detector,
            topic=args.topic,
            ground_truth=ground_truth,
            draw_dir=args.draw,
            draw_min_score=args.draw_threshold,
            batch=args.batch,
            progress=bar.update,
        )
    finally:
        bar.close()
        detector.close()
    write_json(args.out, result.results, indent=None)
    logger.info(
        "%d detections on %d images -> %s (%s)",
        len(result.results),
        result.images,
        args.out,
        detector.backend.name,
    )
    if result.skipped_images or result.skipped_detections:
        logger.warning(
            "%d images not in the ground truth and %d detections of classes it does not "
            "name were left out",
            result.skipped_images,
            result.skipped_detections,
        )
    return 0
