"""``specrelay cost``: where the money went, and what one model would have cost."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from specrelay.cli.common import (
    calls_text,
    console,
    money,
    open_ledger,
    plural,
    print_json,
    print_table,
    repo_root_or_none,
    tokens,
)
from specrelay.cli.root import app
from specrelay.errors import UserError

if TYPE_CHECKING:
    from specrelay.ledger import GroupBy

BY = ("task", "phase", "preset", "model")


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

    if by is not None and by not in BY:
        raise UserError(f"--by {by}: expected one of {', '.join(BY)}.")
    root = repo_root_or_none()
    ledger = open_ledger(root, readonly=True)
    if task is not None and ledger.task(task) is None and not ledger.calls(task):
        from specrelay.engine.task import resolve_task_id

        try:
            task = resolve_task_id(root or Path.cwd(), ledger, task)
        except UserError as exc:
            raise UserError(f"--task {task}: {exc}") from None
    rows = [t.as_json() for t in ledger.totals(cast("GroupBy | None", by), task)]  # by is one of BY
    overall = ledger.totals(None, task)
    total = overall[0].as_json() if overall else {
        "calls": 0, "ok_calls": 0, "failed_calls": 0, "cost_usd": None, "input_tokens": 0, "output_tokens": 0,
        "unknown_cost_calls": 0, "simulated": False, "estimated": False}
    out: dict[str, Any] = {"by": by, "task": task, "rows": rows, "total": total}
    if as_preset is not None:
        from specrelay.config import load_config
        from specrelay.llm.pricing import priced_model, reprice

        preset = load_config(root).preset(as_preset)
        alt = reprice(ledger.usage_rows(task), preset)
        actual = total.get("cost_usd")
        out["as"] = {"preset": as_preset, "model": priced_model(preset)[0], "cost_usd": alt,
                     "difference_usd": None if alt is None or actual is None else alt - actual}
    if json_out:
        print_json(out)
        return
    _render(out)


def _render(out: dict[str, Any]) -> None:
    total = out["total"]
    sim = bool(total.get("simulated"))
    if out["by"]:
        cells = [[str(r["key"] or "-"), str(r["ok_calls"]), str(r["failed_calls"]), tokens(r["input_tokens"]),
                  tokens(r["output_tokens"]), _cost_cell(r)] for r in out["rows"]]
        print_table([out["by"], "calls", "failed", "input", "output", "cost"], cells,
                    right=("calls", "failed", "input", "output", "cost"),
                    title=f"Cost by {out['by']}" + (f" (task {out['task']})" if out["task"] else ""))
    console.print(f"Total: {calls_text(total)}, {tokens(total['input_tokens'])} input and "
                  f"{tokens(total['output_tokens'])} output tokens, {_cost_cell(total)}"
                  + (" (scripted models: simulated prices)" if sim else ""))
    if "as" in out:
        alt = out["as"]
        if alt["cost_usd"] is None:
            console.print(f"On {alt['preset']} alone: unknown (no price for {alt['model']}).")
        else:
            diff = alt["difference_usd"]
            tail = "" if diff is None else (f"; {money(abs(diff))} {'more' if diff >= 0 else 'less'} than actual")
            console.print(f"The same tokens on {alt['preset']} ({alt['model']}) alone: {money(alt['cost_usd'])}{tail}.")


def _cost_cell(row: dict[str, Any]) -> str:
    unknown = row.get("unknown_cost_calls") or 0
    base = money(row.get("cost_usd")) if row.get("cost_usd") is not None else ("unknown" if unknown else "$0")
    if unknown and row.get("cost_usd") is not None:
        base += f" + unknown ({plural(unknown, 'call')})"
    return base
