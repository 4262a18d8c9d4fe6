"""Charts drawn on the server as inline SVG: horizontal bars, one per row, labelled (no script needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from specrelay.web.format import money

_ROW_H = 26
_LABEL_W = 190
_BAR_W = 420
_VALUE_W = 110


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None: unknown, drawn empty), and a CSS class for its colour."""

    label: str
    value: float | None
    tone: str = "a"


def bars(rows: Sequence[Bar], *, title: str) -> Markup:
    """A bar per row, scaled to the largest value, each with its label and amount."""
    top = max((r.value for r in rows if r.value is not None), default=0.0) or 1.0
    height = _ROW_H * max(1, len(rows)) + 6
    width = _LABEL_W + _BAR_W + _VALUE_W
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="100%" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>']
    for i, row in enumerate(rows):
        y = i * _ROW_H + 4
        length = 0.0 if row.value is None else max(2.0, _BAR_W * row.value / top)
        label = row.label if len(row.label) <= 26 else row.label[:25] + "…"
        parts.append(f'<text class="chart-label" x="{_LABEL_W - 10}" y="{y + 15}" text-anchor="end">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect class="bar bar-{escape(row.tone)}" x="{_LABEL_W}" y="{y + 2}" width="{length:.1f}" '
                     f'height="{_ROW_H - 8}" rx="3"/>')
        parts.append(f'<text class="chart-value" x="{_LABEL_W + length + 8:.1f}" y="{y + 15}">'
                     f'{escape(money(row.value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
