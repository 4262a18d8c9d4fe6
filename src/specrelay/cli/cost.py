"""``specrelay cost``: where the money went, and what one model would have cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from specrelay.cli.common import (
    calls_text,
    console,
    money,
    plural,
    print_json,
    print_table,
    repo_root_or_none,
    tokens,
)
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.app.cost import CascadeCost, CostReport

BY = ("task", "phase", "preset", "model")  # as app.cost.BY: the help text needs it without loading the app


@app.command("cost")
def cost_command(
    task: str | None = typer.Option(None, "--task", metavar="ID",
                                    help="Only this task's calls (an id, a prefix, last)."),
    by: str | None = typer.Option(None, "--by", metavar="|".join(BY), help="Group by task, phase, preset or model."),
    as_preset: str | None = typer.Option(None, "--as", metavar="PRESET",
                                         help="Also price the same tokens on this preset."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Totals of tokens and cost from the ledger."""
    from specrelay.app.cost import cost

    report = cost(repo_root_or_none(), task=task, by=by, as_preset=as_preset)
    if json_out:
        print_json(report.to_json())
        return
    _render(report)


def _render(report: CostReport) -> None:
    total = report.total
    sim = bool(total.get("simulated"))
    if report.by:
        cells = [[str(r["key"] or "-"), str(r["ok_calls"]), str(r["failed_calls"]), tokens(r["input_tokens"]),
                  tokens(r["output_tokens"]), _cost_cell(r)] for r in report.rows]
        print_table([report.by, "calls", "failed", "input", "output", "cost"], cells,
                    right=("calls", "failed", "input", "output", "cost"),
                    title=f"Cost by {report.by}" + (f" (task {report.task})" if report.task else ""))
    calls = calls_text(int(total.get("ok_calls") or 0), int(total.get("failed_calls") or 0))
    console.print(f"Total: {calls}, {tokens(total['input_tokens'])} input and "
                  f"{tokens(total['output_tokens'])} output tokens, {_cost_cell(total)}"
                  + (" (scripted models: simulated prices)" if sim else "")
                  + (" (some token counts are estimates)" if total.get("estimated") else ""))
    if report.remote is not None:
        doing = report.remote.line or f"its server at {report.remote.address} cannot be asked now"
        console.print(f"Task {report.task} is still running on Temporal ({doing}): these are its costs so far.",
                      markup=False, style="yellow")
    for c in report.cascades:
        _render_cascade(c)
    alt = report.as_
    if alt is None:
        return
    if alt.cost_usd is None:
        console.print(f"On {alt.preset} alone: unknown (no price for {alt.model}).")
        return
    diff = report.difference_usd
    tail = "" if diff is None else (f"; {money(abs(diff))} {'more' if diff >= 0 else 'less'} than actual")
    console.print(f"The same tokens on {alt.preset} ({alt.model}) alone: {money(alt.cost_usd)}{tail}.")


def _render_cascade(c: CascadeCost) -> None:
    spent = "unknown" if c.spent_usd is None else money(c.spent_usd)
    parts = ", ".join(f"{p} {'unknown' if v is None else money(v)}" for p, v in c.by_preset.items())
    line = f"Cascade {' > '.join(c.presets)} ({c.task}, {c.step}): spent {spent} ({parts})"
    alone = c.strongest
    if alone is None or alone.cost_usd is None:
        console.print(f"{line}; on {c.presets[-1]} alone: unknown.", markup=False)
        return
    diff = alone.difference(c.spent_usd)
    tail = "" if diff is None else f"; the cascade cost {money(abs(diff))} {'less' if diff >= 0 else 'more'}"
    console.print(f"{line}; the same tokens on {c.presets[-1]} alone: {money(alone.cost_usd)}{tail}.",
                  markup=False)


def _cost_cell(row: dict[str, Any]) -> str:
    unknown = row.get("unknown_cost_calls") or 0
    base = money(row.get("cost_usd")) if row.get("cost_usd") is not None else ("unknown" if unknown else "$0")
    if unknown and row.get("cost_usd") is not None:
        base += f" + unknown ({plural(unknown, 'call')})"
    return base
