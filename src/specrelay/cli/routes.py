"""``specrelay routes suggest``: which cheaper preset did as well, per step kind, from the user's own ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from specrelay.cli.common import console, money, print_json, print_table, repo_root_or_none
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.app.routes_suggest import RouteSuggestions

routes_app = typer.Typer(help="Routes: which preset each kind of work goes to.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(routes_app, name="routes")


@routes_app.command("suggest")
def suggest_command(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Suggest the cheapest preset per step kind that did as well as the current one (never changes the config)."""
    from specrelay.app.routes_suggest import suggest

    found = suggest(repo_root_or_none())
    if json_out:
        print_json(found.to_json())
        return
    _render(found)


def _render(found: RouteSuggestions) -> None:
    if not found.kinds:
        console.print(f"No ended tasks in the ledger yet ({found.tasks}): nothing to suggest from.")
        return
    for k in found.kinds:
        cells = [[e.preset + (" (current)" if e.preset == k.current else ""), str(e.tasks),
                  f"{e.approved} ({e.approval_rate:.0%})", f"{e.mean_rounds:.1f}", str(e.escalations),
                  money(e.cost_per_task_usd) if e.cost_per_task_usd is not None else "unknown"] for e in k.evidence]
        print_table(["preset", "tasks", "approved", "rounds", "escalations", "cost/task"], cells,
                    right=("tasks", "rounds", "escalations", "cost/task"), title=f"{k.kind}")
        if k.suggested:
            console.print(f"{k.kind}: suggest {k.suggested} instead of {k.current} (rests on {k.rests_on} tasks; "
                          f"saves {money(k.saves_per_task_usd)} a task): {k.reason}. "
                          f"To use it, set [routes] {k.kind} = \"{k.suggested}\" yourself.", markup=False)
        else:
            console.print(f"{k.kind}: no suggestion: {k.reason}.", markup=False)
    console.print(f"From {found.tasks} ended tasks; each figure needs {found.min_tasks}. The config is unchanged.")
