"""``specrelay run`` and ``specrelay resume``: start a task, or continue one from its last finished step."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from specrelay.cli.common import console, plural, print_json, repo_root
from specrelay.cli.root import app
from specrelay.cli.summary import render_summary
from specrelay.errors import SpecRelayError, UserError

if TYPE_CHECKING:
    from specrelay.app.run import Detached, RunReport, SinkFor, TaskOutcome

JOBS_HELP = "At most this many tasks run at once; the others wait their turn."
PROGRESS_HELP = ("How to show progress: text (default; none with --json), json (one JSON object a line on "
                 "stderr), or none.")
DEFAULT_JOBS = 32  # as app.run.DEFAULT_JOBS: the help needs it without loading the app


@app.command("run")
def run_command(
    requests: list[str] | None = typer.Argument(None, metavar="REQUEST", show_default=False, help=(
        "What to build, in plain words; - reads it from stdin. Several requests run as several tasks side by "
        "side, in this one process.")),
    files: list[Path] | None = typer.Option(None, "--file", "-f", metavar="FILE", show_default=False, help=(
        "Read a request from this file (repeat for several).")),
    workflow: str = typer.Option("multi-model", "--workflow", "-w", help="Workflow name or path."),
    attach: list[Path] | None = typer.Option(None, "--attach", "-a", metavar="FILE", show_default=False, help=(
        "Show an image (png, jpeg, gif, webp) or PDF to the steps whose presets take images (repeat for "
        "several); plan and review steps must.")),
    base: str | None = typer.Option(None, "--base", help="Branch or commit to start from (default: HEAD)."),
    budget: float | None = typer.Option(None, "--budget", help="Budget in USD for each task."),
    jobs: int = typer.Option(DEFAULT_JOBS, "--jobs", "-j", min=1, help=JOBS_HELP),
    serialize: bool = typer.Option(False, "--serialize", help=(
        "Before building, wait for running tasks whose files overlap this one's (default: warn and go on).")),
    detach: bool = typer.Option(False, "--detach", help="Run in the background; logs in each task's folder."),
    backend: str | None = typer.Option(None, "--backend", metavar="local|temporal", help=(
        "Where the steps run: this process (local), or workers of the Temporal server [backend] names "
        "(default: [backend] kind).")),
    json_out: bool = typer.Option(False, "--json", help="Print each task's status object as JSON at the end."),
    progress: str | None = typer.Option(None, "--progress", metavar="text|json|none", help=PROGRESS_HELP),
) -> None:
    """Run requests through a workflow, each in a new worktree and branch."""
    from specrelay.app import run

    run.check_budget(budget)
    _check_progress(progress)
    texts = _gather_requests(requests or [], files or [])
    run.check_requests(texts)
    # From the worktree the command runs in (a linked one too); a dirty or detached base is refused
    # once, before any task exists.
    plan = run.plan_run(repo_root(), texts, workflow=workflow, base=base, budget_usd=budget, where=Path.cwd(),
                        serialize=serialize, attach=attach or [])
    from specrelay.app.remote import backend_of

    chosen = backend_of(plan.config, backend)
    if chosen.kind == "temporal":
        _run_remote(plan, chosen, detach=detach, json_out=json_out)
        return
    if detach:
        _detach(run.detach(plan, jobs=jobs), json_out)
        return
    run_and_report(plan.root, lambda sinks: run.run(plan, jobs=jobs, sink_for=sinks), json_out,
                   several=len(plan.requests) > 1, header=f"workflow {plan.workflow.name}", progress=progress)


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
    backend: str | None = typer.Option(None, "--backend", metavar="local|temporal", help=(
        "Where the steps run: this process (local), or workers of the Temporal server [backend] names "
        "(default: [backend] kind).")),
) -> None:
    """Continue paused, failed or interrupted tasks from their first unfinished step."""
    from specrelay.app import run
    from specrelay.app.remote import backend_of

    run.check_budget(budget)
    _check_progress(progress)
    # Every id is checked, and none may be running, merged or discarded, before anything is said or run.
    plan = run.plan_resume(repo_root(), task_ids, budget_usd=budget, rounds=rounds)
    chosen = backend_of(plan.config, backend)
    if chosen.kind == "temporal" and plan.pending and not logs:
        from specrelay.app.remote import resume_remote

        _report_remote(lambda started: resume_remote(plan, chosen, on_started=started), chosen, detach=False,
                       json_out=json_out)
        return
    finished = plan.finished_summaries()
    several = len(plan.pending) + len(finished) > 1
    for summary in finished:  # resuming a finished task is a no-op, not an error
        if not json_out:
            console.print(f"Task {summary.id} has already finished; nothing to resume.", markup=False)
            render_summary(summary, brief=several)
    if not plan.pending:
        report = run.resume(plan, also=finished)
        if json_out:
            print_json(report.to_json())
        raise SystemExit(report.exit_code)
    if not json_out and not logs:
        for task in plan.pending:
            console.print(f"Resuming [bold]{task.id}[/] at {task.current_step or 'its first unfinished step'}")
    run_and_report(plan.root, lambda sinks: run.resume(plan, jobs=jobs, sink_for=sinks, also=finished), json_out,
                   several=several, logs=logs, progress=progress)


def _run_remote(plan: Any, backend: Any, *, detach: bool, json_out: bool) -> None:
    """Hand the tasks to Temporal; wait for them (unless ``detach``) and report them as a local run does."""
    from specrelay.app.remote import run_remote

    _report_remote(lambda started: run_remote(plan, backend, wait=not detach, on_started=started), backend,
                   detach=detach, json_out=json_out)


def _report_remote(go: Callable[[Callable[[list[Any]], None]], RunReport], backend: Any, *, detach: bool,
                   json_out: bool) -> None:
    def started(tasks: list[Any]) -> None:
        if json_out:
            return
        for task in tasks:
            console.print(f"Task {task.id} handed to Temporal at {backend.address} (queue {backend.queue}); "
                          f"`specrelay status {task.id}` follows it.", markup=False, soft_wrap=True)

    report = go(started)
    if json_out:
        print_json(report.to_json())
    elif not detach:
        for outcome in report.outcomes:
            if outcome.summary is not None:
                render_summary(outcome.summary, brief=report.several)
            if outcome.error is not None:
                console.print(f"error: {outcome.error}", markup=False, soft_wrap=True)
    raise SystemExit(0 if detach else report.exit_code)


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
    from specrelay.app.run import read_request

    return read_request(path)


def run_and_report(root: Path, go: Callable[[SinkFor], RunReport], json_out: bool, *, several: bool,
                   header: str | None = None, logs: bool = False, progress: str | None = None) -> None:
    """Run tasks through the application layer (``go``: an ``app.run`` call given each task's sink),
    then report each: its summary, its error, the exit code.

    ``several`` labels each task's lines. With ``logs``, each task's progress, summary and error go
    to its own run.log. ``progress`` is the ``--progress`` mode (text, or none with ``--json``, by default).
    """
    from specrelay.cli.progress import pulse

    mode = "text" if logs else (progress or ("none" if json_out else "text"))
    outs: dict[str, Any] = {}
    try:
        with pulse() as beating:
            report = go(_sinks(outs, beating, mode=mode, logs=logs, header=header, several=several))
    finally:
        for out in outs.values():
            if out is not console:
                out.file.close()
        outs.clear()
    _report(root, report, json_out=json_out, logs=logs)


def _sinks(outs: dict[str, Any], beating: Any, *, mode: str, logs: bool, header: str | None,
           several: bool) -> Any:
    """What each task's events are shown by: its run.log, and (unless ``logs``) the terminal as ``mode`` says."""
    from specrelay.app.events import quiet, tee
    from specrelay.cli.progress import Progress

    def sink_for(task: Any) -> Any:
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

    return sink_for


def _report(root: Path, report: RunReport, *, json_out: bool, logs: bool) -> None:
    """Each task's summary (and its run.log's end), the errors, and the exit code the run's policy gives."""
    failed = report.failed
    single = not report.several
    if single and failed and not report.outcomes[0].task_id:
        raise failed[0].error  # type: ignore[misc]  # one request that never became a task: as before
    if json_out:
        print_json(report.to_json())
    # A task that stopped on an error has it printed once, on its own line below, not in its summary too.
    stopped = {o.task_id: _stop_line(o.error, single=single) for o in failed}
    for summary in report.summaries:
        with _output(root, summary.id, logs, terminal=not json_out) as out:
            render_summary(summary, brief=not single and not logs, out=out, stopped_by=stopped.get(summary.id))
    if single and failed:
        if not logs:  # a detached run's stderr is its log already
            _append_log(root, failed[0].task_id, f"error: {failed[0].error}")
        raise failed[0].error  # type: ignore[misc]  # one task: its error, exactly as it came
    _report_errors(root, failed, logs)
    if report.exit_code:
        raise SystemExit(report.exit_code)


def _stop_line(error: BaseException | None, *, single: bool) -> str:
    """What is printed apart for a task that stopped: its error (tasks of a batch paused by an interrupt
    share one line, which names `specrelay resume`)."""
    from specrelay.errors import Interrupted

    if isinstance(error, Interrupted) and not single:
        return "specrelay resume"
    return str(error)


def _report_errors(root: Path, failed: list[TaskOutcome], logs: bool) -> None:
    """One line per failed task (on stderr, and in its log); paused-by-interrupt tasks share one line."""
    from specrelay.cli.common import print_error
    from specrelay.errors import Interrupted

    paused = [o.task_id for o in failed if isinstance(o.error, Interrupted) and o.task_id]
    unstarted = [o.label for o in failed if isinstance(o.error, Interrupted) and not o.task_id]
    for outcome in failed:
        label = outcome.label
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


def _detach(detached: Detached, json_out: bool) -> None:
    """Say where each task started in the background logs to; the requests that never became tasks."""
    from specrelay.cli.common import print_error

    if json_out:
        print_json(detached.to_json())
    elif detached.ids:
        for task_id, log in zip(detached.ids, detached.logs, strict=True):
            console.print(f"Task [bold]{task_id}[/] is running in the background (pid {detached.pid}).")
            console.print(f"Logs: {log}")
        console.print(f"Progress: specrelay status {' '.join(detached.ids)}")
    for request, exc in detached.failed:
        print_error(f"request {request!r}: {exc}")
    if detached.exit_code:
        raise SystemExit(detached.exit_code)
