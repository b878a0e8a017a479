"""``percept demo``: the main job, on a sequence generated here (no downloads).

Today the sequence is a ground-truthed colour test pattern seen by a Bayer camera; it is
replayed through every node of the ``example`` robot (debayer, resize) and scored
against the pattern it was made from. As nodes land (stereo, detection, VIO, mapping)
the demo grows with them; it never shows a stage that does not exist.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.bag import BagReader, BagWriter, TopicSummary, summarize_bag
from percept.domain import CameraInfo, Header, Image
from percept.geometry.camera import CameraModel
from percept.typestore import RosbagsFactory, get_typestore

__all__ = ["DemoResult", "make_pattern_bag", "mosaic_rggb", "pattern_frame", "run_demo"]

logger = logging.getLogger(__name__)
_NS = 1_000_000_000
FRAME_ID = "camera_optical_frame"


def pattern_frame(index: int, width: int, height: int, seed: int = 0) -> npt.NDArray[np.uint8]:
    """Frame ``index`` of the test pattern: (H, W, 3) uint8 bgr8.

    Colour bars, a moving checkerboard and a moving disc, so that debayering artefacts
    (zipper, false colour) and motion show. Deterministic for (index, size, seed).
    """
    rng = np.random.default_rng(seed)
    bars = rng.integers(40, 256, size=(8, 3)).astype(np.uint8)
    cols = np.arange(width)
    img = bars[(cols * 8) // width][None, :, :].repeat(height, axis=0)
    y, x = np.mgrid[0:height, 0:width]
    shift = 4 * index
    checker = (((x + shift) // 32 + y // 32) % 2).astype(bool)
    lower = y > height // 2
    img[lower & checker] = (30, 30, 30)
    img[lower & ~checker] = (230, 230, 230)
    cx = int(width * (0.2 + 0.6 * ((index * 0.05) % 1.0)))
    disc = (x - cx) ** 2 + (y - height // 4) ** 2 < (height // 8) ** 2
    img[disc] = (20, 200, 240)
    return np.ascontiguousarray(img)


def mosaic_rggb(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Sample a bgr8 image as a bayer_rggb8 sensor would: (H, W) uint8."""
    raw = np.empty(bgr.shape[:2], dtype=np.uint8)
    raw[0::2, 0::2] = bgr[0::2, 0::2, 2]  # R
    raw[0::2, 1::2] = bgr[0::2, 1::2, 1]  # G
    raw[1::2, 0::2] = bgr[1::2, 0::2, 1]  # G
    raw[1::2, 1::2] = bgr[1::2, 1::2, 0]  # B
    return raw


def _camera_model(width: int, height: int) -> CameraModel:
    f = 0.8 * width
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    return CameraModel(width, height, "plumb_bob", K, np.zeros(5), np.eye(3), P)


def make_pattern_bag(
    path: Path,
    *,
    seconds: float = 3.0,
    rate_hz: float = 10.0,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
) -> Path:
    """Write the Bayer test-pattern sequence: /camera/image_raw + /camera/camera_info."""
    factory = RosbagsFactory(get_typestore())
    store = get_typestore()
    model = _camera_model(width, height)
    start_ns = 1_700_000_000 * _NS
    with BagWriter(path, overwrite=True) as writer:
        for i in range(round(seconds * rate_hz)):
            stamp = start_ns + round(i * _NS / rate_hz)
            header = Header(stamp, FRAME_ID)
            raw = mosaic_rggb(pattern_frame(i, width, height, seed))
            for topic, msgtype, obj in (
                ("/camera/image_raw", "sensor_msgs/msg/Image", Image(header, "bayer_rggb8", raw)),
                ("/camera/camera_info", "sensor_msgs/msg/CameraInfo", CameraInfo(header, model)),
            ):
                msg = codecs.encode(msgtype, obj, factory)
                writer.write(topic, msgtype, stamp, bytes(store.serialize_cdr(msg, msgtype)))
    return path


@dataclass
class DemoResult:
    """Where the demo wrote its report and what it measured."""

    report: Path
    metrics: dict[str, object] = field(default_factory=dict)


def _psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def run_demo(out_dir: Path, cache_dir: Path, *, progress: bool = False) -> DemoResult:
    """Generate (or reuse) the sequence, replay it through the example robot, report.

    Returns:
        the report path and the metrics also written to ``metrics.json``.
    """
    from percept.replay import replay
    from percept.runtime.robot import load_robot

    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    width, height, seconds, rate, seed = 640, 480, 3.0, 10.0, 0
    key = hashlib.sha256(f"pattern-v1-{width}-{height}-{seconds}-{rate}-{seed}".encode())
    bag = cache_dir / f"pattern_{key.hexdigest()[:12]}.mcap"
    t0 = time.perf_counter()
    if not bag.exists():
        logger.info("generating test-pattern sequence -> %s", bag)
        make_pattern_bag(bag, seconds=seconds, rate_hz=rate, width=width, height=height, seed=seed)
    gen_s = time.perf_counter() - t0
    robot = load_robot("example")
    run_bag = out_dir / "replay.mcap"
    result = replay(bag, run_bag, robot, overwrite=True, progress=progress)

    # Score the debayered colour frames against the pattern they were made from.
    psnr: list[float] = []
    sample: dict[str, npt.NDArray[np.uint8]] = {}
    with BagReader(run_bag) as reader:
        for m in reader.messages(
            ["/camera/image_color", "/camera/image_mono", "/camera/resize/image_raw"]
        ):
            msg = get_typestore().deserialize_cdr(m.raw or b"", m.msgtype)
            image = codecs.decode(m.msgtype, msg)
            assert isinstance(image, Image)
            if m.topic == "/camera/image_color":
                index = round((image.header.stamp_ns - 1_700_000_000 * _NS) * rate / _NS)
                truth = pattern_frame(index, width, height, seed)
                # Borders lack neighbours on one side; score the interior.
                psnr.append(_psnr(image.data[2:-2, 2:-2], truth[2:-2, 2:-2]))  # type: ignore[arg-type]
                if index == 5:
                    sample["truth"] = truth
                    sample["color"] = np.asarray(image.data)
            elif index_matches(image, 5, rate):
                sample[m.topic.rsplit("/", 1)[-1]] = np.asarray(image.data)
    summaries, _ = summarize_bag(run_bag)
    latency = {s.name: dict(s.values).get("latency_mean_ms", "") for s in result.diagnostics}
    metrics: dict[str, object] = {
        "sequence": {
            "frames": round(seconds * rate),
            "width": width,
            "height": height,
            "generate_s": round(gen_s, 3),
            "bag": str(bag),
        },
        "replay": {
            "messages_in": result.fed,
            "wall_s": round(result.wall_s, 3),
            "written": result.written,
        },
        "debayer_psnr_db": {
            "mean": round(float(np.mean(psnr)), 2) if psnr else None,
            "min": round(float(np.min(psnr)), 2) if psnr else None,
            "frames": len(psnr),
        },
        "node_latency_mean_ms": latency,
        "nodes": {s.name: s.message for s in result.diagnostics},
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    pictures = _write_pictures(out_dir, bag, sample)
    report = _write_report(out_dir, metrics, pictures, summaries)
    return DemoResult(report, metrics)


def index_matches(image: Image, index: int, rate: float) -> bool:
    """True when ``image`` is frame ``index`` of the demo sequence."""
    return round((image.header.stamp_ns - 1_700_000_000 * _NS) * rate / _NS) == index


def _write_pictures(
    out_dir: Path, bag: Path, sample: dict[str, npt.NDArray[np.uint8]]
) -> list[tuple[str, str]]:
    pictures: list[tuple[str, str]] = []
    with BagReader(bag) as reader:
        for m in reader.messages(["/camera/image_raw"]):
            msg = get_typestore().deserialize_cdr(m.raw or b"", m.msgtype)
            image = codecs.decode(m.msgtype, msg)
            assert isinstance(image, Image)
            if index_matches(image, 5, 10.0):
                sample["raw"] = np.asarray(image.data)
                break
    captions = {
        "truth": "ground truth pattern (frame 5)",
        "raw": "bayer_rggb8 input /camera/image_raw",
        "color": "debayered /camera/image_color",
        "image_mono": "/camera/image_mono",
        "image_raw": "resized /camera/resize/image_raw",
    }
    for key, caption in captions.items():
        if key in sample:
            name = f"{key}.png"
            cv2.imwrite(str(out_dir / name), sample[key])
            pictures.append((name, caption))
    return pictures


def _write_report(
    out_dir: Path,
    metrics: dict[str, object],
    pictures: list[tuple[str, str]],
    summaries: list[TopicSummary],
) -> Path:
    rows = "".join(
        f"<tr><td>{html.escape(s.topic)}</td><td>{html.escape(s.msgtype)}</td>"
        f"<td>{s.count}</td><td>{s.rate_hz:.2f}</td></tr>"
        for s in summaries
    )
    figs = "".join(
        f'<figure><img src="{html.escape(n)}" width="320"><figcaption>{html.escape(c)}'
        "</figcaption></figure>"
        for n, c in pictures
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Percept demo</title>
<style>body{{font-family:sans-serif;margin:2em}} figure{{display:inline-block;margin:.5em}}
td,th{{padding:2px 8px;text-align:left}}</style></head><body>
<h1>Percept demo</h1>
<p>Bayer test-pattern sequence replayed through the <code>example</code> robot
(debayer, resize) by the local runtime; colour output scored against the pattern.</p>
<h2>Pictures</h2>{figs}
<h2>Metrics</h2><pre>{html.escape(json.dumps(metrics, indent=2))}</pre>
<h2>Output bag</h2><table><tr><th>topic</th><th>type</th><th>count</th><th>rate Hz</th></tr>
{rows}</table></body></html>
"""
    path = out_dir / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
