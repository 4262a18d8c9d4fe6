"""``specrelay run`` and ``specrelay resume``: start a task, or continue one from its last finished step."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from specrelay.cli.common import console, exit_code, open_ledger, plural, print_json, repo_root
from specrelay.cli.root import app
from specrelay.cli.summary import render_summary
from specrelay.errors import SpecRelayError, UserError


def _open(root: Path) -> tuple[Any, Any]:
    return _open_config(root), open_ledger(root, create=False)  # resume: only tasks that exist


def _open_config(root: Path) -> Any:
    from specrelay.config import load_config

    return load_config(root)


JOBS_HELP = "At most this many tasks run at once; the others wait their turn."
PROGRESS_HELP = ("How to show progress: text (default; none with --json), json (one JSON object a line on "
                 "stderr), or none.")
DEFAULT_JOBS = 32  # beyond it, the tasks' verification commands and open files pile up


@app.command("run")
def run_command(
    requests: list[str] | None = typer.Argument(None, metavar="REQUEST", show_default=False, help=(
        "What to build, in plain words; - reads it from stdin. Several requests run as several tasks side by "
        "side, in this one process.")),
    files: list[Path] | None = typer.Option(None, "--file", "-f", metavar="FILE", show_default=False, help=(
        "Read a request from this file (repeat for several).")),
    workflow: str = typer.Option("multi-model", "--workflow", "-w", help="Workflow name or path."),
    base: str | None = typer.Option(None, "--base", help="Branch or commit to start from (default: HEAD)."),
    budget: float | None = typer.Option(None, "--budget", help="Budget in USD for each task."),
    jobs: int = typer.Option(DEFAULT_JOBS, "--jobs", "-j", min=1, help=JOBS_HELP),
    detach: bool = typer.Option(False, "--detach", help="Run in the background; logs in each task's folder."),
    json_out: bool = typer.Option(False, "--json", help="Print each task's status object as JSON at the end."),
    progress: str | None = typer.Option(None, "--progress", metavar="text|json|none", help=PROGRESS_HELP),
) -> None:
    """Run requests through a workflow, each in a new worktree and branch."""
    from specrelay.engine import create_task, prepare_workflow
    from specrelay.engine.task import resolve_base

    _check_budget(budget)
    _check_progress(progress)
    requests = _gather_requests(requests or [], files or [])
    for n, request in enumerate(requests, 1):
        if not request.strip():
            which = f"request {n} of {len(requests)}" if len(requests) > 1 else "the request"
            raise UserError(f"{which} is empty: say what to build, e.g. specrelay run \"Add a --verbose flag\".")
    root = repo_root()
    config = _open_config(root)
    flow = prepare_workflow(root, config, workflow)
    # From the worktree the command runs in (a linked one too); a dirty or detached base is refused
    # once, before any task exists.
    resolved = resolve_base(root, base, where=Path.cwd())
    ledger = open_ledger(root)  # only now: a bad config, workflow or base creates nothing

    def start(request: str) -> Any:
        return lambda led: create_task(root, led, config, request, workflow=flow, base=base, budget_usd=budget,
                                       resolved=resolved).id

    if detach:
        _detach(root, ledger, requests, start, json_out, jobs)
        return
    _run_and_report(root, config, [start(r) for r in requests], json_out, labels=requests, jobs=jobs,
                    header=f"workflow {flow.name}", progress=progress)


@app.command("resume")
def resume_command(
    task_ids: list[str] = typer.Argument(..., metavar="ID", show_default=False,
                                         help="The task(s) to continue; several run side by side."),
    budget: float | None = typer.Option(None, "--budget", help="A new budget in USD for each task."),
    rounds: int | None = typer.Option(None, "--rounds", min=1, help=(
        "Allow N more review rounds: a needs_attention task continues from its review, fixing its findings.")),
    jobs: int = typer.Option(DEFAULT_JOBS, "--jobs", "-j", min=1, help=JOBS_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print each task's status object as JSON at the end."),
    logs: bool = typer.Option(False, "--logs", hidden=True, help="Write each task's progress to its run.log."),
    progress: str | None = typer.Option(None, "--progress", metavar="text|json|none", help=PROGRESS_HELP),
) -> None:
    """Continue paused, failed or interrupted tasks from their first unfinished step."""
    from specrelay.engine import load_task, task_summary
    from specrelay.engine.finish import check_resumable
    from specrelay.engine.runner import grant_rounds
    from specrelay.ledger import TaskStatus

    _check_budget(budget)
    _check_progress(progress)
    root = repo_root()
    config, ledger = _open(root)
    loaded = [load_task(root, ledger, task_id) for task_id in task_ids]  # every id is checked before any run
    tasks = list({t.id: t for t in loaded}.values())  # an id given twice (or as a prefix too) runs once
    for task in tasks:  # a task that cannot be resumed stops the command before anything is said or run
        check_resumable(task, more_rounds=rounds is not None)
    if rounds is not None:
        tasks = [t if t.status is TaskStatus.DONE else grant_rounds(root, ledger, t.id, rounds) for t in tasks]
    finished = [t for t in tasks if t.status in (TaskStatus.DONE, TaskStatus.NEEDS_ATTENTION)]
    pending = [t for t in tasks if t not in finished]
    for task in finished:  # resuming a finished task is a no-op, not an error
        if not json_out:
            console.print(f"Task {task.id} has already finished; nothing to resume.", markup=False)
            render_summary(task_summary(root, ledger, config, task.id), brief=len(tasks) > 1)
    if not pending:
        if json_out:
            _print_json_list([task_summary(root, ledger, config, t.id) for t in tasks], single=len(tasks) == 1)
        raise SystemExit(0 if all(t.status is TaskStatus.DONE for t in tasks) else 1)
    if not json_out and not logs:
        for task in pending:
            console.print(f"Resuming [bold]{task.id}[/] at {task.current_step or 'its first unfinished step'}")
    _run_and_report(root, config, [t.id for t in pending], json_out, budget=budget,
                    labels=[t.id for t in pending], logs=logs, jobs=jobs, progress=progress,
                    also=[task_summary(root, ledger, config, t.id) for t in finished])


def _check_progress(progress: str | None) -> None:
    from specrelay.cli.progress import MODES

    if progress is not None and progress not in MODES:
        raise UserError(f"--progress {progress}: must be one of {', '.join(MODES)}.")


def _gather_requests(words: list[str], files: list[Path]) -> list[str]:
    """The requests given as words, ``-`` (stdin) and ``--file`` files, in that order; each file read whole."""
    if not words and not files:
        raise UserError('say what to build: specrelay run "Add a --verbose flag", --file request.md, '
                        "or - to read the request from stdin.")
    out: list[str] = []
    for word in words:
        if word != "-":
            out.append(word)
            continue
        stdin = sys.stdin  # None when the process was started with no stdin at all
        if stdin is not None and not stdin.closed and stdin.isatty():
            print("Type the request, then Ctrl-D on a line of its own:", file=sys.stderr)
        text = stdin.read() if stdin is not None and not stdin.closed else ""
        if not text.strip():
            raise UserError("the request read from stdin (-) is empty: pipe in what to build, "
                            "e.g. echo \"Add a --verbose flag\" | specrelay run -")
        out.append(text)
    return out + [_read_request_file(path) for path in files]


def _read_request_file(path: Path) -> str:
    """A request file's text; one clear line when it is missing, a folder, binary or empty."""
    from specrelay.fsutil import read_user_text

    text = read_user_text(path, "--file", "give the path of a text file holding the request")
    if not text.strip():
        raise UserError(f"--file {path} is empty: write what to build in it.")
    return text


def _check_budget(budget: float | None) -> None:
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise UserError(f"--budget {budget:g}: must be a positive amount in USD, e.g. --budget 2.50.")


def _run_and_report(root: Path, config: Any, starts: list[Any], json_out: bool, *, labels: list[str],
                    jobs: int, budget: float | None = None, header: str | None = None, logs: bool = False,
                    also: list[dict[str, Any]] | None = None, progress: str | None = None) -> None:
    """Run the tasks (side by side when several), then report each: its summary, its error, the exit code.

    ``also`` are the summaries of tasks named but already finished (resume), reported with the rest.
    With ``logs``, each task's progress, summary and error go to its own run.log. ``progress`` is
    the ``--progress`` mode (text, or none with ``--json``, by default).
    """
    from specrelay.cli.progress import Progress, pulse
    from specrelay.engine import run_tasks, task_summary
    from specrelay.engine.events import quiet, tee

    several = len(starts) > 1 or bool(also)
    mode = "text" if logs else (progress or ("none" if json_out else "text"))
    outs: dict[str, Any] = {}

    def emit_for(task: Any) -> Any:
        log = _log_console(task.folder)
        if log is not None:
            outs[task.id] = log
        if logs:  # a detached run: everything goes to the task's run.log
            return beating.watch(Progress(console=log, mode="text")) if log is not None else quiet
        # Every run keeps its progress in run.log; the terminal shows it too, as --progress says.
        out = _Tee(*([console] if mode == "text" else []), *([log] if log is not None else []))
        if header:
            out.print(f"Task [bold]{task.id}[/] · {header} · branch {task.branch}")
            if not several:
                out.print(f"[dim]worktree {task.worktree}[/]")
        text = beating.watch(Progress(label=task.id if several else None, console=out, mode="text"))
        if mode != "json":
            return text
        as_json = beating.watch(Progress(label=task.id, mode="json"))

        return tee(text, as_json)

    try:
        with pulse() as beating:
            outcomes = run_tasks(root, config, starts, emit_for=emit_for, budget_usd=budget, jobs=jobs)
    finally:
        for out in outs.values():
            if out is not console:
                out.file.close()
        outs.clear()
    ledger = open_ledger(root)
    summaries = {o.task_id: task_summary(root, ledger, config, o.task_id) for o in outcomes if o.task_id}
    failed = [(label, o) for label, o in zip(labels, outcomes, strict=True) if o.error is not None]
    if not several and failed and not outcomes[0].task_id:
        raise failed[0][1].error  # type: ignore[misc]  # one request that never became a task: as before
    if json_out:
        items = [summaries[o.task_id] if o.task_id else _not_created(label, o.error)
                 for label, o in zip(labels, outcomes, strict=True)]
        _print_json_list([*(also or []), *items], single=not several)
    # A task that stopped on an error has it printed once, on its own line below, not in its summary too.
    stopped = {o.task_id for _, o in failed}
    for task_id, summary in summaries.items():
        with _output(root, task_id, logs, terminal=not json_out) as out:
            render_summary(summary, brief=several and not logs, out=out, message=task_id not in stopped)
    if not several and failed:
        if not logs:  # a detached run's stderr is its log already
            _append_log(root, outcomes[0].task_id, f"error: {failed[0][1].error}")
        raise failed[0][1].error  # type: ignore[misc]  # one task: its error, exactly as it came
    _report_errors(root, failed, logs)
    if failed:
        raise SystemExit(max(exit_code(o.error) for _, o in failed if o.error is not None))
    from specrelay.ledger import TaskStatus

    if any(s["status"] != TaskStatus.DONE for s in [*summaries.values(), *(also or [])]):
        raise SystemExit(1)


def _not_created(request: str, error: BaseException | None) -> dict[str, Any]:
    """The JSON item of a request that never became a task (same keys as a task's where they apply)."""
    from specrelay.errors import Interrupted

    status = "not_started" if isinstance(error, Interrupted) else "error"
    return {"id": None, "title": request, "request": request, "status": status, "message": str(error)}


def _report_errors(root: Path, failed: list[tuple[str, Any]], logs: bool) -> None:
    """One line per failed task (on stderr, and in its log); paused-by-interrupt tasks share one line."""
    from specrelay.cli.common import print_error
    from specrelay.errors import Interrupted

    paused = [o.task_id for _, o in failed if isinstance(o.error, Interrupted) and o.task_id]
    unstarted = [label for label, o in failed if isinstance(o.error, Interrupted) and not o.task_id]
    for label, outcome in failed:
        error = outcome.error
        if isinstance(error, Interrupted):
            continue
        text = str(error) if isinstance(error, SpecRelayError) else (
            f"internal error: {type(error).__name__}: {error} (this is a bug in specrelay)")
        name = outcome.task_id or f"request {label!r}"
        if outcome.task_id is None or outcome.task_id not in text:
            text = f"{name}: {text}"
        if outcome.task_id:  # each task's log says what happened to it
            _append_log(root, outcome.task_id, f"error: {text}")
        if not (logs and outcome.task_id):
            print_error(text)
    if paused:
        them = "them" if len(paused) > 1 else "it"
        line = f"{plural(len(paused), 'task')} paused; `specrelay resume {' '.join(paused)}` continues {them}."
        for task_id in paused:
            _append_log(root, task_id, line)
        if not logs:
            print_error(line, label="paused")
    if unstarted:
        print_error(f"{plural(len(unstarted), 'request')} not started before the interrupt: "
                    f"{', '.join(repr(r) for r in unstarted)}; run them again.")


@contextmanager
def _output(root: Path, task_id: str, logs: bool, *, terminal: bool = True) -> Iterator[Any]:
    """Where a task's report goes: the end of its run.log, and (unless ``logs``) the terminal too."""
    from specrelay import paths

    log = _log_console(paths.task_dir(root, task_id))
    try:
        yield log if logs and log else _Tee(*([console] if terminal and not logs else []), *([log] if log else []))
    finally:
        if log is not None:
            log.file.close()


def _append_log(root: Path, task_id: str | None, line: str) -> None:
    """One plain line at the end of the task's run.log (best effort: a log never fails a run)."""
    if task_id is None:
        return
    with _output(root, task_id, True, terminal=False) as out:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


class _Tee:
    """Prints to several consoles at once: the terminal and a task's run.log."""

    def __init__(self, *outs: Any) -> None:
        self.outs = outs

    def print(self, *args: Any, **kwargs: Any) -> None:
        for out in self.outs:
            out.print(*args, **kwargs)

    @property
    def is_terminal(self) -> bool:
        """Whether the first output (the terminal, when there is one) is a terminal."""
        return bool(self.outs) and bool(self.outs[0].is_terminal)

    def __getattr__(self, name: str) -> Any:  # width, size...: those of the first output
        if not self.outs:
            raise AttributeError(name)
        return getattr(self.outs[0], name)


def _print_json_list(items: list[dict[str, Any]], *, single: bool) -> None:
    print_json(items[0] if single else items)


def _log_console(folder: Path) -> Any:
    """A console appending plain text to the task's run.log (a folder gone meanwhile: a log of its own is
    made); None when the log cannot be written, which never stops a run."""
    from rich.console import Console

    try:
        folder.mkdir(parents=True, exist_ok=True)
        file = open(folder / "run.log", "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    except OSError:
        return None
    log = Console(file=file, highlight=False, width=120, force_terminal=False, no_color=True)
    log.soft_wrap = True  # a log line is never folded: it stays greppable
    return log


def _detach(root: Path, ledger: Any, requests: list[str], start: Any, json_out: bool, jobs: int) -> None:
    """Create every task, then one background process runs them all; each writes its own run.log.

    A request whose task cannot be created is reported; the others start all the same.
    """
    from specrelay import paths
    from specrelay.cli.common import print_error

    ids: list[str] = []
    failed: list[tuple[str, SpecRelayError]] = []
    for request in requests:
        try:
            ids.append(start(request)(ledger))
        except SpecRelayError as exc:
            if len(requests) == 1:
                raise
            failed.append((request, exc))
    if ids:
        logs = [paths.task_dir(root, t) / "run.log" for t in ids]
        args = [sys.executable, "-m", "specrelay", "resume", *ids, "--jobs", str(jobs)]
        args += ["--logs"]
        # Each task logs to its own run.log; what the process itself says (a crash, say) goes to the
        # first one's.
        with open(logs[0], "ab") as out:
            proc = subprocess.Popen(args, cwd=root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env={**os.environ, "COLUMNS": "120"})
        if json_out:
            items = [{"id": t, "pid": proc.pid, "log": str(log)} for t, log in zip(ids, logs, strict=True)]
            items += [_not_created(request, exc) for request, exc in failed]
            _print_json_list(items, single=len(requests) == 1)
        else:
            for task_id, log in zip(ids, logs, strict=True):
                console.print(f"Task [bold]{task_id}[/] is running in the background (pid {proc.pid}).")
                console.print(f"Logs: {log}")
            console.print(f"Progress: specrelay status {' '.join(ids)}")
    elif json_out:
        _print_json_list([_not_created(request, exc) for request, exc in failed], single=False)
    for request, error in failed:
        print_error(f"request {request!r}: {error}")
    if failed:
        raise SystemExit(2)
