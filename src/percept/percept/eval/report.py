"""metrics.json, a text summary and an HTML report with pictures for ``percept eval``.

Each metric writes its own summary rows and report section
(:class:`~percept.eval.metrics.base.Metric`); this module puts them together with the
failure analysis. Nothing is drawn for a metric that was not computed; the report says
why it was skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from percept.eval.html import esc, table
from percept.eval.metrics import METRICS
from percept.eval.metrics.base import SummaryRow
from percept.eval.result import EvalResult

__all__ = ["format_summary", "write_outputs"]


def _summary_rows(result: EvalResult) -> list[SummaryRow]:
    """(metric, value, unit) rows of the headline numbers."""
    return [row for metric in METRICS for row in metric.summary(result)]


def format_summary(result: EvalResult) -> str:
    """Plain-text summary: the headline numbers, then skipped metrics and notes."""
    rows = _summary_rows(result)
    lines = [f"run:          {result.run}", f"ground truth: {result.ground_truth}"]
    if rows:
        width = max(len(r[0]) for r in rows)
        lines += [f"{name:<{width}}  {value:>12}  {unit}".rstrip() for name, value, unit in rows]
    for metric, reason in sorted(result.skipped.items()):
        lines.append(f"skipped {metric}: {reason}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _failures_section(result: EvalResult) -> str:
    parts: list[str] = []
    for condition, metrics in sorted(result.conditions.items()):
        for metric, rows in metrics.items():
            table_rows = [
                [r.get("band"), r.get("frames", r.get("pixels")), r.get("mean")] for r in rows
            ]
            parts.append(f"<h3>{esc(metric)} by {esc(condition)}</h3>")
            parts.append(table(["band", "frames", "mean"], table_rows))
    worst = result.metrics().get("worst_frames", {})
    assert isinstance(worst, dict)
    for metric, rows in worst.items():
        top = rows[:5]
        if not top:
            continue
        keys = [k for k in top[0] if k != "stamp_s"]
        parts.append(f"<h3>Worst frames: {esc(metric)}</h3>")
        parts.append(table(["t [s]", *keys], [[r["stamp_s"], *(r[k] for k in keys)] for r in top]))
    if not parts:
        return ""
    return "<h2>Failure analysis</h2>" + "".join(parts)


def write_outputs(result: EvalResult, out_dir: Path | str) -> Path:
    """Write ``metrics.json``, ``report.html`` and the pictures into ``out_dir``.

    Returns:
        the report path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = result.metrics()
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    summary = table(["metric", "value", "unit"], _summary_rows(result))
    skipped = "".join(
        f"<li><b>{esc(m)}</b>: {esc(r)}</li>" for m, r in sorted(result.skipped.items())
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    topics = "".join(
        f"<li>{esc(k)}: <code>{esc(v)}</code></li>" for k, v in sorted(result.topics.items())
    )
    sections = [m.section(result, out) for m in METRICS]
    sections.append(_failures_section(result))
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>percept eval</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
figure{{display:inline-block;margin:.5em;vertical-align:top}} figcaption{{font-size:85%}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{padding:2px 8px;text-align:left;
border-bottom:1px solid #ddd}}</style></head><body>
<h1>percept eval</h1>
<p>Run <code>{esc(result.run)}</code> against
<code>{esc(result.ground_truth)}</code>.</p>
<h2>Summary</h2>{summary}
{f"<h3>Not scored</h3><ul>{skipped}</ul>" if skipped else ""}
{f"<h3>Notes</h3><ul>{notes}</ul>" if notes else ""}
{f"<h3>Topics</h3><ul>{topics}</ul>" if topics else ""}
{"".join(sections)}
<h2>metrics.json</h2><p><a href="metrics.json">metrics.json</a></p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
