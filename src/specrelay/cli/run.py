"""``specrelay run`` and ``specrelay resume``: start a task, or continue one from its last finished step."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from specrelay.cli import app
from specrelay.cli.common import console, open_ledger, print_json, repo_root
from specrelay.errors import SpecRelayError, UserError


def _open(root: Path) -> tuple[Any, Any]:
    from specrelay.config import load_config

    return load_config(root), open_ledger(root)


@app.command("run")
def run_command(
    request: str = typer.Argument(..., help="What to build, in plain words."),
    workflow: str = typer.Option("multi-model", "--workflow", "-w", help="Workflow name or path."),
    base: str | None = typer.Option(None, "--base", help="Branch or commit to start from (default: HEAD)."),
    budget: float | None = typer.Option(None, "--budget", help="Budget in USD for this task."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background; logs in the task folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the task's status object as JSON at the end."),
) -> None:
    """Run a request through a workflow in a new worktree and branch."""
    from specrelay.engine import create_task, prepare_workflow

    _check_budget(budget)
    root = repo_root()
    config, ledger = _open(root)
    flow = prepare_workflow(root, config, workflow)
    task = create_task(root, ledger, config, request, workflow=flow, base=base, budget_usd=budget)
    if detach:
        _detach(root, task.id, task.folder, json_out)
        return
    if not json_out:
        console.print(f"Task [bold]{task.id}[/] · workflow {flow.name} · branch {task.branch}")
        console.print(f"[dim]worktree {task.worktree}[/]")
    _run_and_report(root, config, ledger, task.id, json_out)


@app.command("resume")
def resume_command(
    task_id: str = typer.Argument(..., help="The task to continue."),
    budget: float | None = typer.Option(None, "--budget", help="A new budget in USD for the task."),
    json_out: bool = typer.Option(False, "--json", help="Print the task's status object as JSON at the end."),
) -> None:
    """Continue a paused, failed or interrupted task from its first unfinished step."""
    from specrelay.engine import load_task

    _check_budget(budget)
    root = repo_root()
    config, ledger = _open(root)
    task = load_task(root, ledger, task_id)
    if task.status in ("done", "needs_attention"):  # resuming a finished task is a no-op, not an error
        from specrelay.engine import task_summary

        summary = task_summary(root, ledger, config, task.id)
        if json_out:
            print_json(summary)
        else:
            console.print(f"Task {task.id} has already finished; nothing to resume.", markup=False)
            render_summary(summary)
        raise SystemExit(0 if task.status == "done" else 1)
    if not json_out:
        console.print(f"Resuming [bold]{task.id}[/] at {task.current_step or 'its first unfinished step'}")
    _run_and_report(root, config, ledger, task.id, json_out, budget=budget)


def _check_budget(budget: float | None) -> None:
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise UserError(f"--budget {budget}: must be a positive amount in USD, e.g. --budget 2.50.")


def _run_and_report(root: Path, config: Any, ledger: Any, task_id: str, json_out: bool,
                    budget: float | None = None) -> None:
    from specrelay.cli.progress import Progress
    from specrelay.engine import Runner, task_summary

    progress = Progress(quiet=json_out)
    try:
        Runner(root, ledger, config, task_id, emit=progress).run(budget_usd=budget)
    except SpecRelayError:
        if json_out:
            print_json(task_summary(root, ledger, config, task_id))
        else:
            render_summary(task_summary(root, ledger, config, task_id))
        raise
    summary = task_summary(root, ledger, config, task_id)
    if json_out:
        print_json(summary)
    else:
        render_summary(summary)
    if summary["status"] != "done":
        raise SystemExit(1)


def _detach(root: Path, task_id: str, folder: Path, json_out: bool) -> None:
    log = folder / "run.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "specrelay", "resume", task_id], cwd=root, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "COLUMNS": "120"})
    if json_out:
        print_json({"id": task_id, "pid": proc.pid, "log": str(log)})
        return
    console.print(f"Task [bold]{task_id}[/] is running in the background (pid {proc.pid}).")
    console.print(f"Logs: {log}\nProgress: specrelay status {task_id}")


def render_summary(s: dict[str, Any]) -> None:
    """The end-of-run summary: outcome, rounds, tokens and cost by phase and preset, the counterfactual."""
    from rich.table import Table

    from specrelay.cli.common import money, task_cost, tokens

    colour = {"done": "green", "needs_attention": "yellow"}.get(s["status"], "red")
    console.print(f"\n[bold {colour}]{s['status']}[/] · {s['id']} · {s['rounds']} round(s) · "
                  f"{tokens(s['input_tokens'])} in / {tokens(s['output_tokens'])} out tokens · "
                  f"{task_cost(s)}" + (" (*simulated)" if s["simulated"] else ""))
    if s.get("message"):
        console.print(f"  {s['message']}", markup=False)
    costs = s["costs"]
    table = Table(show_edge=False, box=None, pad_edge=False)
    for col in ("", "calls", "input", "output", "cost"):
        table.add_column(col, justify="left" if not col else "right")
    for label, rows in (("phase", costs["by_phase"]), ("preset", costs["by_preset"])):
        for r in rows:
            table.add_row(f"{label} {r['key']}", str(r["calls"]), tokens(r["input_tokens"]),
                          tokens(r["output_tokens"]), money(r["cost_usd"]))
    console.print(table)
    one = costs.get("one_model")
    if one:
        if one["cost_usd"] is None or s["cost_usd"] is None or s.get("unknown_cost_calls"):
            console.print(f"  All on {one['preset']}: unknown")
        else:
            ratio = f" ({one['cost_usd'] / s['cost_usd']:.1f}× this run)" if s["cost_usd"] else ""
            console.print(f"  The same tokens all on {one['preset']}: {money(one['cost_usd'])}{ratio}")
    if s["status"] == "done":
        console.print(f"  Branch {s['branch']} is ready: `specrelay merge {s['id']}`")
    elif s["status"] in ("paused", "failed"):
        console.print(f"  Continue with `specrelay resume {s['id']}`")
    elif s["status"] == "needs_attention":
        console.print(f"  Review the work in {s['worktree']}, then `specrelay merge {s['id']}` or "
                      f"`specrelay discard {s['id']}`")
