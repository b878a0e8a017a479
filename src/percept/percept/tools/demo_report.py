"""The pictures and the HTML page of ``percept demo`` (``DIR/report.html``).

The page shows thumbnails of the sequence, the time of every stage, the eval summary (with
the eval report embedded) and the Bayer section; the HTML and picture helpers are those of
the eval report (:mod:`percept.eval.html`, :mod:`percept.eval.pictures`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from percept import codecs
from percept.domain import Detection2DArray, Image
from percept.eval.html import esc, gallery
from percept.eval.pictures import caption, colourise, thumbnail, write_png
from percept.image import convert_image
from percept.io.bag import BagReader, TopicSummary
from percept.io.typestore import get_typestore
from percept.units import NS_PER_S

if TYPE_CHECKING:
    from percept.tools.demo import DemoConfig, Stage

__all__ = ["busiest_frame", "decode_image", "sequence_pictures", "write_report"]


def _caption(image: npt.NDArray[np.uint8], text: str) -> npt.NDArray[np.uint8]:
    return caption(image, text, box_pad_px=10)


def decode_image(raw: bytes, msgtype: str) -> Image | None:
    """The image in a serialized message, None when it holds no image."""
    obj = codecs.decode(msgtype, get_typestore().deserialize_cdr(raw, msgtype))
    return obj if isinstance(obj, Image) else None


def _frame_images(bag: Path, topics: Sequence[str], stamp_ns: int) -> dict[str, Image]:
    """Images of ``topics`` whose header stamp is ``stamp_ns`` (read around that time)."""
    out: dict[str, Image] = {}
    with BagReader(bag) as reader:
        present = [t for t in topics if t in reader.topics()]
        for m in reader.messages(present, stamp_ns - NS_PER_S // 10, stamp_ns + NS_PER_S // 10):
            image = decode_image(m.raw or b"", m.msgtype)
            if image is not None and image.header.stamp_ns == stamp_ns:
                out[m.topic] = image
    return out


def busiest_frame(bag: Path, width: int, height: int) -> int | None:
    """Stamp of the frame with the most labelled objects in view (of >= 0.5 % of the image).

    The pictures show that frame, so that they have something in them besides floor and
    walls. None when the sequence has no 2-D ground truth.
    """
    topic = "/ground_truth/left/detections_2d"
    min_area = 0.005 * width * height
    best: tuple[int, int] | None = None
    with BagReader(bag) as reader:
        if topic not in reader.topics():
            return None
        for m in reader.messages([topic]):
            obj = codecs.decode(m.msgtype, get_typestore().deserialize_cdr(m.raw or b"", m.msgtype))
            if not isinstance(obj, Detection2DArray):
                continue
            count = sum(1 for d in obj.detections if d.size_uv[0] * d.size_uv[1] >= min_area)
            if best is None or count > best[0]:
                best = (count, obj.header.stamp_ns)
    return None if best is None else best[1]


def _bgr(image: Image) -> npt.NDArray[np.uint8]:
    if image.encoding in ("bgr8", "mono8"):
        data = np.asarray(image.data, dtype=np.uint8)
    else:
        data = np.asarray(convert_image(image, "bgr8").data, dtype=np.uint8)
    if data.ndim == 2:
        data = np.asarray(cv2.cvtColor(data, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return data


def _pair_with_rows(
    left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8], labels: tuple[str, str]
) -> npt.NDArray[np.uint8]:
    """Left | right thumbnails with the same horizontal lines drawn across both.

    Row-aligned (rectified) images show the same scene points on each line; raw images
    of a real rig do not.
    """
    a, b = thumbnail(left), thumbnail(right)
    h = min(a.shape[0], b.shape[0])
    pair = np.hstack([a[:h], np.full((h, 4, 3), 255, np.uint8), b[:h]])
    for y in range(h // 10, h, h // 10 or 1):
        cv2.line(pair, (0, y), (pair.shape[1] - 1, y), (0, 255, 0), 1)
    pair[:, a.shape[1] : a.shape[1] + 4] = 255
    pair = _caption(pair, labels[0])
    right_part = _caption(pair[:, a.shape[1] + 4 :].copy(), labels[1])
    pair[:, a.shape[1] + 4 :] = right_part
    return pair


def _depth_picture(depth: Image) -> tuple[npt.NDArray[np.uint8], float]:
    z = np.asarray(depth.data, dtype=np.float32)
    known = np.isfinite(z) & (z > 0)
    zmax = float(np.percentile(z[known], 98)) if known.any() else 10.0
    picture = colourise(np.where(known, z, np.nan), 0.0, zmax)
    return _caption(thumbnail(picture), f"GT depth 0-{zmax:.1f} m (turbo), black = none"), zmax


def sequence_pictures(
    out_dir: Path, synth_bag: Path, run_bag: Path | None, stamp_ns: int, frame: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Raw pair, rectified pair and GT depth of one frame: (pictures, why some are missing)."""
    pictures: list[tuple[str, str]] = []
    missing: list[str] = []
    raw = _frame_images(
        synth_bag,
        ["/stereo/left/image_raw", "/stereo/right/image_raw", "/ground_truth/left/depth"],
        stamp_ns,
    )
    left, right = raw.get("/stereo/left/image_raw"), raw.get("/stereo/right/image_raw")
    if left is not None and right is not None:
        pair = _pair_with_rows(_bgr(left), _bgr(right), ("raw left", "raw right"))
        pictures.append(
            (
                write_png(out_dir, "raw_pair.png", pair),
                f"raw stereo pair, {frame} from /stereo/{{left,right}}/image_raw, lens "
                "distortion as rendered; green lines are image rows",
            )
        )
    else:
        missing.append("raw pair: the sequence has no raw stereo images at that stamp")
    rect_topics: list[str] = []
    if run_bag is not None:
        with BagReader(run_bag) as reader:
            names = sorted(reader.topics())
        rect_topics = [
            next((t for t in names if t.endswith(f"{side}/image_rect")), "")
            for side in ("left", "right")
        ]
    if run_bag is not None and all(rect_topics):
        rect = _frame_images(run_bag, rect_topics, stamp_ns)
        if len(rect) == 2:
            pair = _pair_with_rows(
                _bgr(rect[rect_topics[0]]),
                _bgr(rect[rect_topics[1]]),
                ("rectified left", "rectified right"),
            )
            pictures.append(
                (
                    write_png(out_dir, "rectified_pair.png", pair),
                    f"rectified pair from the run ({rect_topics[0]}, {rect_topics[1]}): "
                    "a scene point lies on the same row in both",
                )
            )
        else:
            missing.append("rectified pair: the run has no rectified images at that stamp")
    else:
        missing.append("rectified pair: the robot runs no node publishing */image_rect")
    depth = raw.get("/ground_truth/left/depth")
    if depth is not None:
        picture, _ = _depth_picture(depth)
        pictures.append(
            (
                write_png(out_dir, "gt_depth.png", picture),
                "ground-truth depth of the raw left camera (/ground_truth/left/depth)",
            )
        )
    else:
        missing.append("GT depth: the sequence has no depth at that stamp")
    return pictures, missing


def _fmt_s(value: object) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return "-"


def write_report(
    out_dir: Path,
    cfg: DemoConfig,
    metrics: dict[str, object],
    stages: Sequence[Stage],
    pictures: Sequence[tuple[str, str]],
    notes: Sequence[str],
    eval_summary: str,
    eval_report: Path | None,
    bayer_pictures: Sequence[tuple[str, str]],
    bayer_topics: Sequence[TopicSummary],
) -> Path:
    """Write ``out_dir/report.html``, the page of the demo; returns its path."""
    timings = metrics["timings"]
    synth = metrics["synthetic"]
    bayer = metrics["bayer"]
    assert isinstance(timings, dict)
    assert isinstance(synth, dict)
    assert isinstance(bayer, dict)
    stage_rows = "".join(
        f'<tr class="{esc(s.status)}"><td>{esc(s.name)}</td><td>{esc(s.status)}</td>'
        f"<td>{_fmt_s(s.seconds) if s.status != 'skipped' else ''}</td>"
        f"<td>{esc(s.detail)}</td></tr>"
        for s in stages
    )
    timing_rows = "".join(
        f"<tr><td>{esc(label)}</td><td>{_fmt_s(timings.get(key))}</td></tr>"
        for key, label in (
            ("render_s_per_frame", "render per stereo frame, s"),
            ("render_total_s", "render of the whole sequence (generate + write), s"),
            ("replay_wall_s", "replay through the robot, wall s"),
            ("eval_s", "percept eval (scores, pictures, report), s"),
            ("total_s", "percept demo in all (this run), s"),
        )
    )
    nodes = synth.get("nodes", {})
    assert isinstance(nodes, dict)
    node_rows = "".join(f"<li><code>{esc(n)}</code>: {esc(m)}</li>" for n, m in nodes.items())
    note_items = "".join(f"<li>{esc(n)}</li>" for n in notes)
    embed = (
        '<p>Full report: <a href="eval/report.html">eval/report.html</a> '
        '(<a href="eval/metrics.json">metrics.json</a>)</p>'
        '<iframe src="eval/report.html" title="percept eval report" '
        'style="width:100%;height:640px;border:1px solid #ccc"></iframe>'
        if eval_report is not None
        else "<p>The run could not be scored (see the stages above).</p>"
    )
    psnr = bayer.get("debayer_psnr_db", {})
    assert isinstance(psnr, dict)
    topic_rows = "".join(
        f"<tr><td>{esc(s.topic)}</td><td>{esc(s.msgtype)}</td>"
        f"<td>{s.count}</td><td>{s.rate_hz:.2f}</td></tr>"
        for s in bayer_topics
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Percept demo</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}
figure{{display:inline-block;margin:.5em;vertical-align:top}}
figcaption{{font-size:85%;max-width:640px}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{padding:2px 8px;text-align:left;
border-bottom:1px solid #ddd;vertical-align:top}} tr.skipped td{{color:#777}}
pre{{background:#f6f6f6;padding:.5em}}</style></head><body>
<h1>Percept demo</h1>
<p>Everything here was generated on this machine: no downloads. Two sections: a
ground-truthed synthetic robot sequence replayed through every node of the
<code>{esc(cfg.robot)}</code> robot and scored by <code>percept eval</code>, and a Bayer
test pattern replayed through the <code>example</code> robot. Stages whose nodes do not
exist yet are listed as skipped, never simulated.</p>

<h2>Stages</h2>
<table><tr><th>stage</th><th>status</th><th>s</th><th>detail</th></tr>{stage_rows}</table>
<h3>Timings</h3><table>{timing_rows}</table>
<p>The time to set up <code>.venv</code> (<code>./run demo</code> on a fresh clone) comes
on top.</p>

<h2>1. Synthetic robot sequence</h2>
<p><code>percept synth</code>: {esc(cfg.scene)} scene, seed {cfg.seed}, {esc(cfg.motion)}
robot, {cfg.seconds:g} s of {cfg.width}x{cfg.height} stereo at {cfg.rate_hz:g} Hz with a
200 Hz IMU and ground truth (pose, depth, boxes, map);
replayed through <code>config/robots/{esc(cfg.robot)}.yaml</code>:</p>
<ul>{node_rows or "<li>no nodes</li>"}</ul>
{gallery(pictures)}
{f"<h3>Pictures not drawn</h3><ul>{note_items}</ul>" if note_items else ""}
<h3>Evaluation (<code>percept eval</code>)</h3>
<pre>{esc(eval_summary) or "-"}</pre>
{embed}

<h2>2. Bayer test pattern (<code>example</code> robot: debayer, resize)</h2>
<p>A colour test pattern sampled as <code>bayer_rggb8</code>, {bayer.get("frames")} frames
{bayer.get("width")}x{bayer.get("height")}, debayered and resized by the nodes; the colour
output is scored against the pattern it was made from: PSNR mean
<b>{esc(psnr.get("mean"))} dB</b>, min {esc(psnr.get("min"))} dB over
{esc(psnr.get("frames"))} frames (2-pixel border left out).</p>
{gallery(bayer_pictures, 320)}
<h3>Output bag</h3><table><tr><th>topic</th><th>type</th><th>count</th><th>rate Hz</th></tr>
{topic_rows}</table>

<h2>metrics.json</h2><p><a href="metrics.json">metrics.json</a>
(compare two demo runs with <code>percept regress A/metrics.json B/metrics.json</code>)</p>
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
