"""Charts as SVG text: horizontal bars, one per row, labelled, optionally with an interval drawn over
each bar. The dashboard shows them inline (:mod:`specrelay.web.charts`, styled by its stylesheet); an
evaluation report writes them to a file of its own (``standalone``: with its styles inside).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

_ROW_H = 26
_LABEL_W = 190
_BAR_W = 420
_VALUE_W = 130
_TITLE_H = 24

#: The styles a standalone chart carries (the dashboard's stylesheet has its own).
_STYLE = ("<style>.chart-label{fill:#222;font:12px monospace}.chart-value{fill:#555;font:12px sans-serif}"
          ".chart-title{fill:#222;font:bold 13px sans-serif}.bar-a{fill:#3b6fd6}.bar-b{fill:#d68a1e}"
          ".ci{stroke:#222;stroke-width:1.5}</style>")


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None: unknown, drawn empty), a CSS class for its colour, and
    optionally an interval ``[low, high]`` drawn over it and the text written after it."""

    label: str
    value: float | None
    tone: str = "a"
    low: float | None = None
    high: float | None = None
    text: str | None = None


@dataclass(frozen=True)
class Panel:
    """A titled group of bars on one scale (``top``: the value of a full bar; default the largest)."""

    title: str
    rows: Sequence[Bar]
    value_text: Callable[[float | None], str]
    top: float | None = None


def _panel(panel: Panel, y0: float, *, titled: bool) -> tuple[list[str], float]:
    """The SVG elements of ``panel`` starting at ``y0``, and the height they take."""
    values = [v for r in panel.rows for v in (r.value, r.high) if v is not None]
    top = panel.top or max(values, default=0.0) or 1.0
    parts = []
    if titled:
        parts.append(f'<text class="chart-title" x="4" y="{y0 + 16:.0f}">{escape(panel.title)}</text>')
        y0 += _TITLE_H
    for i, row in enumerate(panel.rows):
        y = y0 + i * _ROW_H + 4
        length = 0.0 if row.value is None else max(2.0, _BAR_W * row.value / top)
        label = row.label if len(row.label) <= 26 else row.label[:25] + "…"
        parts.append(f'<text class="chart-label" x="{_LABEL_W - 10}" y="{y + 15:.0f}" text-anchor="end">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect class="bar bar-{escape(row.tone)}" x="{_LABEL_W}" y="{y + 2:.0f}" width="{length:.1f}" '
                     f'height="{_ROW_H - 8}" rx="3"/>')
        end = _LABEL_W + length
        if row.low is not None and row.high is not None:
            x1, x2 = _LABEL_W + _BAR_W * row.low / top, _LABEL_W + _BAR_W * row.high / top
            mid = y + _ROW_H / 2 - 2
            parts.append(f'<path class="ci" d="M{x1:.1f} {mid:.1f}H{x2:.1f}M{x1:.1f} {mid - 5:.1f}v10'
                         f'M{x2:.1f} {mid - 5:.1f}v10" fill="none"/>')
            end = max(end, x2)
        text = row.text if row.text is not None else panel.value_text(row.value)
        parts.append(f'<text class="chart-value" x="{end + 8:.1f}" y="{y + 15:.0f}">{escape(text)}</text>')
    return parts, _ROW_H * max(1, len(panel.rows)) + 6 + (_TITLE_H if titled else 0)


def _svg(panels: Sequence[Panel], *, title: str, standalone: bool) -> str:
    titled = len(panels) > 1
    body: list[str] = []
    height = 0.0
    for panel in panels:
        parts, used = _panel(panel, height, titled=titled)
        body += parts
        height += used
    width = _LABEL_W + _BAR_W + _VALUE_W
    head = '<svg xmlns="http://www.w3.org/2000/svg" ' if standalone else "<svg "
    size = (f'width="{width}" height="{height:.0f}"' if standalone
            else 'width="100%" preserveAspectRatio="xMinYMin meet"')
    return "".join([f'{head}class="chart" role="img" aria-label="{escape(title)}" '
                    f'viewBox="0 0 {width} {height:.0f}" {size}><title>{escape(title)}</title>',
                    _STYLE if standalone else "", *body, "</svg>"])


def bars_svg(rows: Sequence[Bar], *, title: str, value_text: Callable[[float | None], str],
             top: float | None = None, standalone: bool = False) -> str:
    """A bar per row, scaled to ``top`` (default the largest value), each with its label and amount."""
    return _svg([Panel(title, rows, value_text, top)], title=title, standalone=standalone)


def panels_svg(panels: Sequence[Panel], *, title: str, standalone: bool = False) -> str:
    """Several titled groups of bars, one under the other, each on its own scale."""
    return _svg(panels, title=title, standalone=standalone)
