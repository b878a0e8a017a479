"""HTML pieces shared by the ``percept eval`` and ``percept demo`` reports."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["esc", "figure", "fmt", "gallery", "table"]


def esc(value: object) -> str:
    """``value`` as text, escaped for HTML."""
    return html.escape(str(value))


def fmt(value: object, digits: int = 4) -> str:
    """A table cell: ``-`` for None, NaN and Inf; ``digits`` significant digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.4e}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A ``<table>`` with a header row; cells formatted by :func:`fmt`."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def figure(name: str, caption: str, width: int = 480) -> str:
    """A linked picture ``name`` shown ``width`` px wide, with its caption."""
    return (
        f'<figure><a href="{esc(name)}"><img src="{esc(name)}" width="{width}"></a>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def gallery(pictures: Sequence[tuple[str, str]], width: int = 640) -> str:
    """Linked pictures (name, caption), each at most ``width`` px wide."""
    return "".join(
        f'<figure><a href="{esc(n)}"><img src="{esc(n)}" style="max-width:{width}px"></a>'
        f"<figcaption>{esc(c)}</figcaption></figure>"
        for n, c in pictures
    )
