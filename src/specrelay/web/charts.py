"""Charts drawn on the server as inline SVG (no script needed): the bars of :mod:`specrelay.app.charts`,
their amounts written as money, styled by the dashboard's stylesheet."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from specrelay.app.charts import Bar, Panel, bars_svg, panels_svg
from specrelay.web.format import money

__all__ = ["Bar", "Panel", "bars", "panels"]


def bars(rows: Sequence[Bar], *, title: str) -> Markup:
    """A bar per row, scaled to the largest value, each with its label and amount."""
    return Markup(bars_svg(rows, title=title, value_text=money))  # every text in it is escaped


def panels(groups: Sequence[Panel], *, title: str) -> Markup:
    """Titled groups of bars, one under the other (an evaluation run's pass rates and costs)."""
    return Markup(panels_svg(groups, title=title))  # every text in it is escaped
