"""``percept demo``: the main job, on sequences generated here (no downloads).

Two sections, each run through the nodes that exist today and never a stage that does
not:

1. **Synthetic robot sequence.** ``percept.synth`` renders a ground-truthed warehouse
   sequence (stereo + IMU + ground truth; cached, keyed by a hash of every generation
   setting, the generator's source and ``SEQUENCE_VERSION``), it is replayed through
   every node of the ``synth`` robot file (``config/robots/synth.yaml``) and the run is
   scored by ``percept.eval`` (metrics.json + report.html in ``eval/``). Metrics whose
   nodes do not exist yet are listed as skipped with eval's reason.
2. **Bayer test pattern.** A colour test pattern seen by a Bayer camera, replayed
   through the ``example`` robot (debayer, resize) and scored (PSNR) against the
   pattern it was made from.

``DIR/report.html`` is the page to open first: thumbnails of the sequence, the time of
every stage, the eval summary (with the eval report embedded) and the Bayer section.
``DIR/metrics.json`` holds the same numbers (``percept regress`` compares two of them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import CameraInfo, Header, Image
from percept.errors import EvalError
from percept.eval.pictures import write_png
from percept.geometry.camera import CameraModel
from percept.io.bag import BagReader, BagWriter, TopicSummary, summarize_bag
from percept.io.typestore import RosbagsFactory, get_typestore
from percept.msgtypes import CAMERA_INFO, IMAGE
from percept.tools.demo_report import busiest_frame, decode_image, sequence_pictures, write_report
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from percept.synth.generate import SynthConfig

__all__ = [
    "SEQUENCE_VERSION",
    "DemoConfig",
    "DemoResult",
    "PatternScore",
    "Stage",
    "cached_sequence",
    "make_pattern_bag",
    "mosaic_rggb",
    "pattern_frame",
    "run_demo",
    "score_pattern_run",
    "sequence_key",
]

logger = logging.getLogger(__name__)
FRAME_ID = "camera_optical_frame"
#: Bump when the demo's sequence changes meaning without a setting or generator change.
SEQUENCE_VERSION = "demo-sequence-v1"
_PATTERN_START_NS = 1_700_000_000 * NS_PER_S


# --------------------------------------------------------------------------- Bayer pattern


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
    with BagWriter(path, overwrite=True) as writer:
        for i in range(round(seconds * rate_hz)):
            stamp = _PATTERN_START_NS + round(i * NS_PER_S / rate_hz)
            header = Header(stamp, FRAME_ID)
            raw = mosaic_rggb(pattern_frame(i, width, height, seed))
            for topic, msgtype, obj in (
                ("/camera/image_raw", IMAGE, Image(header, "bayer_rggb8", raw)),
                ("/camera/camera_info", CAMERA_INFO, CameraInfo(header, model)),
            ):
                msg = codecs.encode(msgtype, obj, factory)
                writer.write(topic, msgtype, stamp, bytes(store.serialize_cdr(msg, msgtype)))
    return path


def _psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _frame_index(stamp_ns: int, rate_hz: float) -> int:
    return round((stamp_ns - _PATTERN_START_NS) * rate_hz / NS_PER_S)


@dataclass
class PatternScore:
    """Debayered colour frames of a pattern run scored against the pattern.

    Attributes:
        psnr_db: PSNR of each ``/camera/image_color`` frame (2-pixel border left out), dB.
        samples: pictures of frame ``sample_index``: ``truth``, ``color``, ``image_mono``,
            ``image_raw`` (the resized image), as (H, W[, 3]) uint8.
    """

    psnr_db: list[float] = field(default_factory=list)
    samples: dict[str, npt.NDArray[np.uint8]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """``mean``, ``min`` (dB, rounded to 0.01) and ``frames``, for metrics.json."""
        finite = [p for p in self.psnr_db if math.isfinite(p)]
        return {
            "mean": round(float(np.mean(finite)), 2) if finite else None,
            "min": round(float(np.min(finite)), 2) if finite else None,
            "frames": len(self.psnr_db),
        }


def score_pattern_run(
    run_bag: Path,
    *,
    width: int,
    height: int,
    rate_hz: float = 10.0,
    seed: int = 0,
    sample_index: int = 5,
) -> PatternScore:
    """Score the debayered frames of a pattern replay against the pattern.

    Args:
        run_bag: a replay of ``make_pattern_bag``'s bag through the ``example`` robot.
        width: pattern width, pixels.
        height: pattern height, pixels.
        rate_hz: pattern frame rate.
        seed: pattern seed.
        sample_index: frame kept in ``samples`` for pictures.

    Raises:
        BagError: the bag cannot be read.
    """
    score = PatternScore()
    topics = ["/camera/image_color", "/camera/image_mono", "/camera/resize/image_raw"]
    with BagReader(run_bag) as reader:
        for m in reader.messages(topics):
            msg = get_typestore().deserialize_cdr(m.raw or b"", m.msgtype)
            image = codecs.decode(m.msgtype, msg)
            if not isinstance(image, Image):
                continue
            index = _frame_index(image.header.stamp_ns, rate_hz)
            data = np.asarray(image.data, dtype=np.uint8)
            if m.topic == "/camera/image_color":
                truth = pattern_frame(index, width, height, seed)
                if data.shape != truth.shape:
                    continue
                # Borders lack neighbours on one side; score the interior.
                score.psnr_db.append(_psnr(data[2:-2, 2:-2], truth[2:-2, 2:-2]))
                if index == sample_index:
                    score.samples["truth"] = truth
                    score.samples["color"] = data
            elif index == sample_index:
                score.samples[m.topic.rsplit("/", 1)[-1]] = data
    return score


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the demo, for the log and the report.

    Attributes:
        name: what the step does.
        status: ``ran``, ``cached`` or ``skipped``.
        seconds: wall time, seconds (0 when skipped).
        detail: what it produced, or why it was skipped.
    """

    name: str
    status: str
    seconds: float
    detail: str


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """What the demo renders and runs.

    The defaults keep the whole demo from a fresh clone (venv and pip installs
    included) within 10 minutes on a 2-core machine: 150 stereo frames at ~0.3 s each.

    Attributes:
        seconds: length of the synthetic sequence, seconds.
        width: stereo image width, pixels.
        height: stereo image height, pixels.
        rate_hz: stereo frame rate.
        seed: scene, trajectory and noise seed.
        motion: ``ground`` or ``handheld``.
        scene: scene kind.
        robot: robot file the sequence is replayed through.
        pattern_seconds: length of the Bayer test pattern, seconds.
        pattern_width: pattern width, pixels.
        pattern_height: pattern height, pixels.
    """

    seconds: float = 15.0
    width: int = 640
    height: int = 480
    rate_hz: float = 10.0
    seed: int = 0
    motion: str = "ground"
    scene: str = "warehouse"
    robot: str = "synth"
    pattern_seconds: float = 3.0
    pattern_width: int = 640
    pattern_height: int = 480

    def synth_config(self) -> SynthConfig:
        """The generator settings of the synthetic sequence."""
        from percept.synth.generate import SynthConfig, default_rig

        return SynthConfig(
            scene=self.scene,
            seconds=self.seconds,
            seed=self.seed,
            motion=self.motion,
            robot_name=self.robot,
            camera_rate_hz=self.rate_hz,
            rig=default_rig(self.motion, width=self.width, height=self.height),
        )


@dataclass
class DemoResult:
    """Where the demo wrote its report and what it measured.

    Attributes:
        report: ``DIR/report.html``.
        metrics: the ``DIR/metrics.json`` document.
        stages: every step, with its status and time.
        eval_report: ``DIR/eval/report.html`` (None when the run could not be scored).
    """

    report: Path
    metrics: dict[str, object] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    eval_report: Path | None = None


def _synth_source_digest() -> str:
    """Hash of the generator's source files: a changed generator renders anew."""
    import percept.synth

    digest = hashlib.sha256()
    for path in sorted(Path(percept.synth.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def sequence_key(config: SynthConfig) -> str:
    """Cache key of a sequence: every generation setting, the generator, the version.

    Returns:
        16 hex digits.
    """
    text = f"{SEQUENCE_VERSION}\n{_synth_source_digest()}\n{config!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_sequence(
    cache_dir: Path, config: SynthConfig, *, progress: bool = False
) -> tuple[Path, dict[str, object], bool]:
    """The rendered sequence of ``config``: from the cache, or rendered into it.

    The bag is written under a temporary name and renamed when complete, so an
    interrupted render never leaves a broken cache entry. A JSON file beside it keeps
    what the render measured.

    Returns:
        ``(bag, render facts, True when it came from the cache)``.

    Raises:
        ConfigError: bad settings.
        BagError: the cache folder is not writable.
    """
    from percept.synth.generate import generate

    key = sequence_key(config)
    bag = cache_dir / f"synth_{key}.mcap"
    facts_path = cache_dir / f"synth_{key}.json"
    if bag.is_file() and facts_path.is_file():
        try:
            facts = json.loads(facts_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            facts = None
        if isinstance(facts, dict):
            return bag, facts, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f"synth_{key}.{os.getpid()}.partial.mcap"
    started = time.perf_counter()
    try:
        result = generate(partial, config, overwrite=True, progress=progress)
        partial.replace(bag)
    finally:
        partial.unlink(missing_ok=True)
    facts = {
        "key": key,
        "frames": result.frames,
        "render_s_per_frame": round(result.render_s_per_frame, 4),
        "generate_s": round(time.perf_counter() - started, 2),
        "objects": result.objects,
        "messages": sum(result.counts.values()),
        "settings": repr(config),
    }
    facts_path.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return bag, facts, False


# --------------------------------------------------------------------------- the demo


class _Stages:
    """Records steps and logs each as it finishes."""

    def __init__(self) -> None:
        self.items: list[Stage] = []

    def add(self, name: str, status: str, seconds: float, detail: str) -> None:
        self.items.append(Stage(name, status, seconds, detail))
        if status == "skipped":
            logger.info("stage %s: skipped: %s", name, detail)
        else:
            logger.info("stage %s: %s in %.1f s: %s", name, status, seconds, detail)


def _run_synthetic(
    out_dir: Path, cache_dir: Path, cfg: DemoConfig, progress: bool, stages: _Stages
) -> tuple[dict[str, object], list[tuple[str, str]], list[str], str]:
    """Render (or reuse), replay, evaluate: (metrics, pictures, notes, eval summary)."""
    from percept.eval.report import format_summary, write_outputs
    from percept.eval.runner import evaluate
    from percept.runtime.robot import load_robot
    from percept.tools.replay import replay

    synth_cfg = cfg.synth_config()
    robot = load_robot(cfg.robot)
    started = time.perf_counter()
    if progress:
        sys.stderr.write(
            f"[demo] rendering {cfg.seconds:g} s of {cfg.width}x{cfg.height} stereo at "
            f"{cfg.rate_hz:g} Hz (cached after the first run)\n"
        )
    bag, facts, cached = cached_sequence(cache_dir, synth_cfg, progress=progress)
    render_wall = time.perf_counter() - started
    per_frame = float(facts.get("render_s_per_frame", math.nan))  # type: ignore[arg-type]
    stages.add(
        "render synthetic sequence",
        "cached" if cached else "ran",
        render_wall,
        f"{facts.get('frames')} stereo frames {cfg.width}x{cfg.height} at {cfg.rate_hz:g} Hz, "
        f"{per_frame:.3f} s render per stereo frame"
        + (" (measured when it was rendered)" if cached else "")
        + f" -> {bag}",
    )
    run_bag = out_dir / "synth_run.mcap"
    nodes = [f"{n.node_type} ({n.name})" for n in robot.nodes]
    result = replay(bag, run_bag, robot, overwrite=True, progress=progress)
    unhealthy = [s.name for s in result.diagnostics if s.level > 0]
    stages.add(
        f"replay through robot {robot.robot}",
        "ran",
        result.wall_s,
        f"nodes: {', '.join(nodes) or 'none'}; {result.fed} messages in, "
        f"{sum(result.written.values())} written"
        + (f"; not OK on /diagnostics: {', '.join(unhealthy)}" if unhealthy else ""),
    )
    started = time.perf_counter()
    eval_dir = out_dir / "eval"
    notes: list[str] = []
    summary = ""
    eval_doc: dict[str, object] = {}
    try:
        scored = evaluate(run_bag, bag)
    except EvalError as err:
        stages.add("evaluate run", "skipped", 0.0, str(err))
        scored = None
    if scored is not None:
        write_outputs(scored, eval_dir)
        eval_s = time.perf_counter() - started
        eval_doc = scored.metrics()
        summary = format_summary(scored)
        done = [
            k
            for k in ("trajectory", "disparity", "detection", "occupancy", "latency")
            if k in eval_doc
        ]
        stages.add(
            "evaluate run (percept eval)",
            "ran",
            eval_s,
            f"scored: {', '.join(done) or 'nothing'} -> {eval_dir / 'report.html'}",
        )
        for metric, reason in sorted(scored.skipped.items()):
            stages.add(f"score {metric}", "skipped", 0.0, reason)
    else:
        eval_s = time.perf_counter() - started
    n_frames = int(facts.get("frames", 0))  # type: ignore[call-overload]
    busiest = busiest_frame(bag, cfg.width, cfg.height)
    if busiest is None:
        stamp = synth_cfg.start_ns + round((n_frames // 2) * NS_PER_S / cfg.rate_hz)
        why = "the middle frame"
    else:
        stamp, why = busiest, "the frame with the most labelled objects in view"
    t_s = (stamp - synth_cfg.start_ns) / NS_PER_S
    frame = f"frame {round(t_s * cfg.rate_hz)} (t = {t_s:.1f} s, {why})"
    pictures, missing = sequence_pictures(out_dir, bag, run_bag, stamp, frame)
    notes += missing
    metrics: dict[str, object] = {
        "sequence": {
            "bag": str(bag),
            "cached": cached,
            "frames": n_frames,
            "seconds": cfg.seconds,
            "width": cfg.width,
            "height": cfg.height,
            "rate_hz": cfg.rate_hz,
            "seed": cfg.seed,
            "motion": cfg.motion,
            "scene": cfg.scene,
            "objects": facts.get("objects"),
        },
        "robot": robot.robot,
        "nodes": {s.name: s.message for s in result.diagnostics},
        "replay": {
            "messages_in": result.fed,
            "written": result.written,
            "bag_duration_s": round(result.bag_duration_s, 3),
        },
        "timings": {
            "render_s_per_frame": per_frame,
            "render_total_s": float(facts.get("generate_s", math.nan)),  # type: ignore[arg-type]
            "replay_wall_s": round(result.wall_s, 3),
            "eval_s": round(eval_s, 3),
        },
        "eval": eval_doc,
    }
    return metrics, pictures, notes, summary


def _run_bayer(
    out_dir: Path, cache_dir: Path, cfg: DemoConfig, progress: bool, stages: _Stages
) -> tuple[dict[str, object], list[tuple[str, str]], list[TopicSummary]]:
    """The Bayer test pattern through the example robot, scored against the pattern."""
    from percept.runtime.robot import load_robot
    from percept.tools.replay import replay

    bayer_dir = out_dir / "bayer"
    bayer_dir.mkdir(parents=True, exist_ok=True)
    w, h, seconds, rate, seed = cfg.pattern_width, cfg.pattern_height, cfg.pattern_seconds, 10.0, 0
    key = hashlib.sha256(f"pattern-v1-{w}-{h}-{seconds}-{rate}-{seed}".encode()).hexdigest()[:12]
    bag = cache_dir / f"pattern_{key}.mcap"
    started = time.perf_counter()
    cached = bag.exists()
    if not cached:
        partial = cache_dir / f"pattern_{key}.{os.getpid()}.partial.mcap"
        try:
            make_pattern_bag(partial, seconds=seconds, rate_hz=rate, width=w, height=h, seed=seed)
            partial.replace(bag)
        finally:
            partial.unlink(missing_ok=True)
    stages.add(
        "Bayer: generate test pattern",
        "cached" if cached else "ran",
        time.perf_counter() - started,
        f"{round(seconds * rate)} bayer_rggb8 frames {w}x{h} -> {bag}",
    )
    robot = load_robot("example")
    run_bag = bayer_dir / "run.mcap"
    result = replay(bag, run_bag, robot, overwrite=True, progress=progress)
    stages.add(
        "Bayer: replay through robot example",
        "ran",
        result.wall_s,
        f"nodes: {', '.join(n.node_type for n in robot.nodes)}; {result.fed} messages in",
    )
    started = time.perf_counter()
    score = score_pattern_run(run_bag, width=w, height=h, rate_hz=rate, seed=seed)
    psnr = score.as_dict()
    stages.add(
        "Bayer: score debayered colour vs pattern",
        "ran",
        time.perf_counter() - started,
        f"PSNR mean {psnr['mean']} dB, min {psnr['min']} dB over {psnr['frames']} frames",
    )
    with BagReader(bag) as reader:
        for m in reader.messages(["/camera/image_raw"]):
            image = decode_image(m.raw or b"", m.msgtype)
            if image is not None and _frame_index(image.header.stamp_ns, rate) == 5:
                score.samples["raw"] = np.asarray(image.data, dtype=np.uint8)
                break
    captions = {
        "truth": "ground truth pattern (frame 5)",
        "raw": "bayer_rggb8 input /camera/image_raw",
        "color": "debayered /camera/image_color",
        "image_mono": "/camera/image_mono",
        "image_raw": "resized /camera/resize/image_raw",
    }
    pictures = [
        (f"bayer/{write_png(bayer_dir, f'{key}.png', score.samples[key])}", caption)
        for key, caption in captions.items()
        if key in score.samples
    ]
    summaries, _ = summarize_bag(run_bag)
    metrics: dict[str, object] = {
        "frames": round(seconds * rate),
        "width": w,
        "height": h,
        "bag": str(bag),
        "replay": {
            "messages_in": result.fed,
            "wall_s": round(result.wall_s, 3),
            "written": result.written,
        },
        "debayer_psnr_db": psnr,
        "node_latency_mean_ms": {
            s.name: dict(s.values).get("latency_mean_ms", "") for s in result.diagnostics
        },
        "nodes": {s.name: s.message for s in result.diagnostics},
    }
    return metrics, pictures, summaries


def run_demo(
    out_dir: Path,
    cache_dir: Path,
    *,
    progress: bool = False,
    config: DemoConfig | None = None,
) -> DemoResult:
    """Render (or reuse) the sequences, replay them through the robots, score, report.

    Args:
        out_dir: where ``report.html``, ``metrics.json``, ``eval/`` and ``bayer/`` go.
        cache_dir: where rendered sequences are kept between runs.
        progress: progress bars and stage banners on stderr.
        config: what to render (default ``DemoConfig()``).

    Returns:
        the report path, the metrics (also in ``metrics.json``) and the stages.

    Raises:
        ConfigError: a bad robot file or setting.
        BagError: a bag that cannot be written or read.
    """
    cfg = config or DemoConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stages = _Stages()
    synth, synth_pictures, notes, eval_summary = _run_synthetic(
        out_dir, cache_dir, cfg, progress, stages
    )
    bayer, bayer_pictures, bayer_topics = _run_bayer(out_dir, cache_dir, cfg, progress, stages)
    timings = synth.pop("timings")
    assert isinstance(timings, dict)
    timings["total_s"] = round(time.perf_counter() - started, 2)
    metrics: dict[str, object] = {
        "timings": timings,
        "synthetic": synth,
        "bayer": bayer,
        "stages": [
            {"name": s.name, "status": s.status, "seconds": round(s.seconds, 3), "detail": s.detail}
            for s in stages.items
        ],
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    eval_report = out_dir / "eval" / "report.html"
    report = write_report(
        out_dir,
        cfg,
        metrics,
        stages.items,
        synth_pictures,
        notes,
        eval_summary,
        eval_report if eval_report.is_file() else None,
        bayer_pictures,
        bayer_topics,
    )
    return DemoResult(report, metrics, stages.items, eval_report if eval_report.is_file() else None)
