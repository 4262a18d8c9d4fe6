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
    requests: list[str] = typer.Argument(..., metavar="REQUEST", show_default=False, help=(
        "What to build, in plain words. Several requests run as several tasks side by side, in this one process.")),
    workflow: str = typer.Option("multi-model", "--workflow", "-w", help="Workflow name or path."),
    base: str | None = typer.Option(None, "--base", help="Branch or commit to start from (default: HEAD)."),
    budget: float | None = typer.Option(None, "--budget", help="Budget in USD for each task."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background; logs in each task's folder."),
    json_out: bool = typer.Option(False, "--json", help="Print each task's status object as JSON at the end."),
) -> None:
    """Run requests through a workflow, each in a new worktree and branch."""
    from specrelay.engine import create_task, prepare_workflow
    from specrelay.engine.task import resolve_base

    _check_budget(budget)
    for n, request in enumerate(requests, 1):
        if not request.strip():
            which = f"request {n} of {len(requests)}" if len(requests) > 1 else "the request"
            raise UserError(f"{which} is empty: say what to build, e.g. specrelay run \"Add a --verbose flag\".")
    root = repo_root()
    config, ledger = _open(root)
    flow = prepare_workflow(root, config, workflow)
    resolved = resolve_base(root, base)  # a dirty or detached base is refused once, before any task exists

    def start(request: str) -> Any:
        return lambda led: create_task(root, led, config, request, workflow=flow, base=base, budget_usd=budget,
                                       resolved=resolved).id

    if detach:
        ids = [start(request)(ledger) for request in requests]
        _detach(root, ids, json_out)
        return
    _run_and_report(root, config, [start(r) for r in requests], json_out, labels=requests,
                    header=f"workflow {flow.name}")


@app.command("resume")
def resume_command(
    task_ids: list[str] = typer.Argument(..., metavar="ID", show_default=False,
                                         help="The task(s) to continue; several run side by side."),
    budget: float | None = typer.Option(None, "--budget", help="A new budget in USD for each task."),
    json_out: bool = typer.Option(False, "--json", help="Print each task's status object as JSON at the end."),
    logs: bool = typer.Option(False, "--logs", hidden=True, help="Write each task's progress to its run.log."),
) -> None:
    """Continue paused, failed or interrupted tasks from their first unfinished step."""
    from specrelay.engine import load_task, task_summary

    _check_budget(budget)
    root = repo_root()
    config, ledger = _open(root)
    tasks = [load_task(root, ledger, task_id) for task_id in dict.fromkeys(task_ids)]  # unknown ids: before any run
    finished = [t for t in tasks if t.status in ("done", "needs_attention")]
    pending = [t for t in tasks if t not in finished]
    for task in finished:  # resuming a finished task is a no-op, not an error
        if not json_out:
            console.print(f"Task {task.id} has already finished; nothing to resume.", markup=False)
            render_summary(task_summary(root, ledger, config, task.id), brief=len(tasks) > 1)
    if not pending:
        if json_out:
            _print_json_list([task_summary(root, ledger, config, t.id) for t in tasks], single=len(tasks) == 1)
        raise SystemExit(0 if all(t.status == "done" for t in tasks) else 1)
    if not json_out and not logs:
        for task in pending:
            console.print(f"Resuming [bold]{task.id}[/] at {task.current_step or 'its first unfinished step'}")
    _run_and_report(root, config, [(lambda led, t=t.id: t) for t in pending], json_out, budget=budget,
                    labels=[t.id for t in pending], logs=logs,
                    also=[task_summary(root, ledger, config, t.id) for t in finished])


def _check_budget(budget: float | None) -> None:
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise UserError(f"--budget {budget}: must be a positive amount in USD, e.g. --budget 2.50.")


def _run_and_report(root: Path, config: Any, starts: list[Any], json_out: bool, *, labels: list[str],
                    budget: float | None = None, header: str | None = None, logs: bool = False,
                    also: list[dict[str, Any]] | None = None) -> None:
    """Run the tasks (side by side when several), then report each: its summary, its error, the exit code.

    ``also`` are the summaries of tasks named but already finished (resume), reported with the rest.
    """
    from specrelay.cli.progress import Progress
    from specrelay.engine import run_tasks, task_summary

    several = len(starts) > 1 or bool(also)
    ledger = open_ledger(root)
    outs: dict[str, Any] = {}

    def emit_for(task_id: str) -> Progress:
        out = outs[task_id] = _log_console(root, task_id) if logs else console
        if header and not json_out:
            task = ledger.task(task_id)
            out.print(f"Task [bold]{task_id}[/] · {header} · branch {task['branch']}")
            if not several:
                out.print(f"[dim]worktree {task['worktree']}[/]")
        return Progress(quiet=json_out and not logs, label=task_id if several and not logs else None, console=out)

    outcomes = run_tasks(root, config, starts, emit_for=emit_for, budget_usd=budget)
    summaries = {o.task_id: task_summary(root, ledger, config, o.task_id) for o in outcomes if o.task_id}
    if json_out:
        items = [summaries[o.task_id] if o.task_id else {"request": label, "error": str(o.error)}
                 for label, o in zip(labels, outcomes, strict=True)]
        _print_json_list([*(also or []), *items], single=not several)
    if not json_out or logs:
        for task_id, summary in summaries.items():
            render_summary(summary, brief=several and not logs, out=outs[task_id])
    failed = [(label, o) for label, o in zip(labels, outcomes, strict=True) if o.error is not None]
    if not several and failed:
        raise failed[0][1].error  # one task: its error, exactly as it came
    _report_errors(failed, outs if logs else {})
    if failed:
        raise SystemExit(max(getattr(o.error, "exit_code", 2) for _, o in failed))
    if any(s["status"] != "done" for s in [*summaries.values(), *(also or [])]):
        raise SystemExit(1)


def _report_errors(failed: list[tuple[str, Any]], outs: dict[str, Any]) -> None:
    """One line per failed task (on stderr, or in its log); paused-by-interrupt tasks share one line."""
    from specrelay.cli.common import print_error
    from specrelay.errors import Interrupted

    paused = [o.task_id for _, o in failed if isinstance(o.error, Interrupted) and o.task_id]
    for label, outcome in failed:
        error = outcome.error
        if outcome.task_id in paused:
            continue
        text = str(error) if isinstance(error, SpecRelayError) else (
            f"internal error: {type(error).__name__}: {error} (this is a bug in specrelay)")
        if outcome.task_id not in text:
            text = f"{outcome.task_id or label}: {text}"
        if outcome.task_id in outs:
            outs[outcome.task_id].print(f"error: {text}", markup=False)
        print_error(text)
    if paused:
        print_error(f"{len(paused)} task(s) paused; `specrelay resume {' '.join(paused)}` continues them.")


def _print_json_list(items: list[dict[str, Any]], *, single: bool) -> None:
    print_json(items[0] if single else items)


def _log_console(root: Path, task_id: str) -> Any:
    from rich.console import Console

    from specrelay import paths

    return Console(file=open(paths.task_dir(root, task_id) / "run.log", "a", encoding="utf-8"),  # noqa: SIM115
                   highlight=False, width=120, force_terminal=False)


def _detach(root: Path, task_ids: list[str], json_out: bool) -> None:
    """One background process runs every task; each task's progress goes to its own run.log."""
    from specrelay import paths

    logs = [paths.task_dir(root, t) / "run.log" for t in task_ids]
    args = [sys.executable, "-m", "specrelay", "resume", *task_ids, *(["--logs"] if len(task_ids) > 1 else [])]
    with open(logs[0], "ab") as out:
        proc = subprocess.Popen(args, cwd=root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "COLUMNS": "120"})
    if json_out:
        items = [{"id": t, "pid": proc.pid, "log": str(log)} for t, log in zip(task_ids, logs, strict=True)]
        _print_json_list(items, single=len(items) == 1)
        return
    for task_id, log in zip(task_ids, logs, strict=True):
        console.print(f"Task [bold]{task_id}[/] is running in the background (pid {proc.pid}).")
        console.print(f"Logs: {log}")
    console.print(f"Progress: specrelay status {' '.join(task_ids)}")


def render_summary(s: dict[str, Any], *, brief: bool = False, out: Any = None) -> None:
    """The end-of-run summary: outcome, rounds, tokens and cost by phase and preset, the counterfactual.

    ``brief`` (one task among several): the outcome line, its message and what to do next only.
    """
    from rich.table import Table

    from specrelay.cli.common import money, task_cost, tokens

    to = out or console
    colour = {"done": "green", "needs_attention": "yellow"}.get(s["status"], "red")
    to.print(f"{'' if brief else chr(10)}[bold {colour}]{s['status']}[/] · {s['id']} · {s['rounds']} round(s) · "
             f"{tokens(s['input_tokens'])} in / {tokens(s['output_tokens'])} out tokens · "
             f"{task_cost(s)}" + (" (*simulated)" if s["simulated"] else ""))
    if s.get("message"):
        to.print(f"  {s['message']}", markup=False)
    if brief:
        _next_steps(s, to)
        return
    costs = s["costs"]
    table = Table(show_edge=False, box=None, pad_edge=False)
    for col in ("", "calls", "input", "output", "cost"):
        table.add_column(col, justify="left" if not col else "right")
    for label, rows in (("phase", costs["by_phase"]), ("preset", costs["by_preset"])):
        for r in rows:
            table.add_row(f"{label} {r['key']}", str(r["calls"]), tokens(r["input_tokens"]),
                          tokens(r["output_tokens"]), money(r["cost_usd"]))
    to.print(table)
    one = costs.get("one_model")
    if one:
        if one["cost_usd"] is None or s["cost_usd"] is None or s.get("unknown_cost_calls"):
            to.print(f"  All on {one['preset']}: unknown")
        else:
            ratio = f" ({one['cost_usd'] / s['cost_usd']:.1f}× this run)" if s["cost_usd"] else ""
            to.print(f"  The same tokens all on {one['preset']}: {money(one['cost_usd'])}{ratio}")
    _next_steps(s, to)


def _next_steps(s: dict[str, Any], to: Any) -> None:
    if s["status"] == "done":
        to.print(f"  Branch {s['branch']} is ready: `specrelay merge {s['id']}`")
    elif s["status"] in ("paused", "failed"):
        to.print(f"  Continue with `specrelay resume {s['id']}`")
    elif s["status"] == "needs_attention":
        to.print(f"  Review the work in {s['worktree']}, then `specrelay merge {s['id']}` or "
                 f"`specrelay discard {s['id']}`")
