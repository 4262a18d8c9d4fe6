"""Running tasks: ``run`` (new tasks from requests), ``resume`` (existing ones), in the foreground or
detached (``detach``, ``detach_resume``), and the one policy of what a run's exit code is.

A face gives a sink per task (``sink_for``) to hear its events as they happen; every event is also
written to the task's ``events.jsonl`` (:mod:`specrelay.app.events`), so another face can follow
the run, foreground or detached. Exit codes: 0 every task done; 1 a task ended needing attention;
otherwise the highest of the errors' (2 an error, 130 Ctrl-C, 143 SIGTERM...).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrelay import paths
from specrelay.app.events import EventsFile, EventSink, tee
from specrelay.app.exits import exit_code
from specrelay.app.views import TaskSummary, task_summary
from specrelay.app.workspace import ledger_of, open_ledger
from specrelay.config import Config, load_config
from specrelay.engine import attachments, batch
from specrelay.engine.finish import check_resumable
from specrelay.engine.runner import grant_rounds
from specrelay.engine.task import Task, create_task, load_task, prepare_workflow, resolve_base
from specrelay.errors import Interrupted, SpecRelayError, UserError
from specrelay.fsutil import read_user_text
from specrelay.ledger import Ledger, TaskStatus
from specrelay.llm.backend import Attachment
from specrelay.workflow import Workflow

#: At most this many tasks of one command run at once by default: beyond it, the tasks'
#: verification commands and open files pile up.
DEFAULT_JOBS = 32
#: A face's sink for each task, given the task once it exists.
SinkFor = Callable[[Task], EventSink]


def check_budget(budget_usd: float | None) -> None:
    """Refuse a budget that is not a positive, finite amount."""
    if budget_usd is not None and not (math.isfinite(budget_usd) and budget_usd > 0):
        raise UserError(f"--budget {budget_usd:g}: must be a positive amount in USD, e.g. --budget 2.50.")


def check_requests(requests: Sequence[str]) -> None:
    """Refuse an empty request (one of several is named by its place)."""
    for n, request in enumerate(requests, 1):
        if not request.strip():
            which = f"request {n} of {len(requests)}" if len(requests) > 1 else "the request"
            raise UserError(f"{which} is empty: say what to build, e.g. specrelay run \"Add a --verbose flag\".")


def read_request(path: Path) -> str:
    """A request file's text; one clear line when it is missing, a folder, binary or empty."""
    text = read_user_text(path, "--file", "give the path of a text file holding the request")
    if not text.strip():
        raise UserError(f"--file {path} is empty: write what to build in it.")
    return text


@dataclass(frozen=True)
class RunPlan:
    """Requests checked and ready to become tasks: the config, the workflow and the base they start from."""

    root: Path
    config: Config
    workflow: Workflow
    base: str | None
    resolved: tuple[str, str | None]
    requests: list[str]
    budget_usd: float | None = None
    #: Each task waits, before it builds, for running tasks that touch the same files.
    serialize: bool = False
    #: The files shown to the steps whose presets take images (``--attach``), checked.
    attachments: tuple[Attachment, ...] = ()

    def start(self, request: str) -> Callable[[Ledger], str]:
        """What creates the task of ``request`` (with the ledger of whoever runs it) and gives its id."""
        return lambda ledger: create_task(self.root, ledger, self.config, request, workflow=self.workflow,
                                          base=self.base, budget_usd=self.budget_usd, resolved=self.resolved,
                                          serialize=self.serialize, attachments=self.attachments).id


def plan_run(root: Path, requests: Sequence[str], *, workflow: str = "multi-model", base: str | None = None,
             budget_usd: float | None = None, where: Path | None = None, serialize: bool = False,
             attach: Sequence[Path] = ()) -> RunPlan:
    """Check everything that can refuse a run before any task exists: the budget, the requests, the
    attachments, the config, the workflow (its plan and review steps take the attachments), the base
    (from the worktree ``where``, default the current directory: a dirty or detached base is refused).
    Only then is the ledger created."""
    check_budget(budget_usd)
    check_requests(requests)
    files = attachments.read_attachments(attach)
    config = load_config(root)
    flow = prepare_workflow(root, config, workflow)
    attachments.check_workflow(config, flow, files)
    resolved = resolve_base(root, base, where=where or Path.cwd())
    open_ledger(root).close()  # only now: a bad config, workflow or base creates nothing
    return RunPlan(root, config, flow, base, resolved, list(requests), budget_usd, serialize, files)


@dataclass(frozen=True)
class TaskOutcome:
    """How one task (or one request that never became a task) of a run ended."""

    label: str
    task_id: str | None
    #: None when the run returned (done or needs_attention); the error that stopped it otherwise.
    error: BaseException | None
    summary: TaskSummary | None

    def to_json(self) -> dict[str, Any]:
        if self.summary is not None:
            return self.summary.to_json()
        return not_created(self.label, self.error)


def not_created(request: str, error: BaseException | None) -> dict[str, Any]:
    """The JSON item of a request that never became a task (same keys as a task's where they apply)."""
    status = "not_started" if isinstance(error, Interrupted) else "error"
    return {"id": None, "title": request, "request": request, "status": status, "message": str(error)}


@dataclass(frozen=True)
class RunReport:
    """Every task a ``run`` or ``resume`` named, as it ended; ``also`` those already finished (resume)."""

    outcomes: list[TaskOutcome]
    also: list[TaskSummary] = field(default_factory=list)

    @property
    def several(self) -> bool:
        """More than one task: each is reported briefly, and the JSON is a list."""
        return len(self.outcomes) + len(self.also) > 1

    @property
    def failed(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def summaries(self) -> list[TaskSummary]:
        return [o.summary for o in self.outcomes if o.summary is not None]

    @property
    def exit_code(self) -> int:
        """The highest of the errors' exit codes; else 1 when a task is not done; else 0."""
        if self.failed:
            return max(exit_code(o.error) for o in self.failed if o.error is not None)
        return 1 if any(s.status is not TaskStatus.DONE for s in [*self.also, *self.summaries]) else 0

    def to_json(self) -> Any:
        """One status object, or (several) a list: the already-finished ones first."""
        items = [*(s.to_json() for s in self.also), *(o.to_json() for o in self.outcomes)]
        return items if self.several else items[0]


def run(plan: RunPlan, *, jobs: int = DEFAULT_JOBS, sink_for: SinkFor | None = None) -> RunReport:
    """Create a task per request and run them side by side (at most ``jobs`` at a time)."""
    return run_starts(plan.root, plan.config, [plan.start(r) for r in plan.requests], labels=plan.requests,
                      jobs=jobs, sink_for=sink_for)


def run_starts(root: Path, config: Config, starts: Sequence[batch.Start], *, labels: Sequence[str], jobs: int,
               budget_usd: float | None = None, sink_for: SinkFor | None = None,
               also: Sequence[TaskSummary] = ()) -> RunReport:
    """Run tasks (new ones from their ``starts``, or existing ids), each heard by ``sink_for(task)`` and
    written to its events.jsonl; then each one's summary."""
    files: list[EventsFile] = []

    def emit_for(task: Task) -> EventSink:
        written = EventsFile(task.folder, task.id)
        files.append(written)
        return tee(written, sink_for(task)) if sink_for is not None else written

    try:
        outcomes = batch.run_tasks(root, config, starts, emit_for=emit_for, budget_usd=budget_usd, jobs=jobs)
    finally:
        for written in files:
            written.close()
    with ledger_of(root) as ledger:
        done = [TaskOutcome(label, o.task_id, o.error,
                            task_summary(root, ledger, config, o.task_id) if o.task_id else None)
                for label, o in zip(labels, outcomes, strict=True)]
    return RunReport(done, list(also))


@dataclass(frozen=True)
class ResumePlan:
    """Tasks checked and ready to continue: ``pending`` run, ``finished`` are only reported."""

    root: Path
    config: Config
    pending: list[Task]
    finished: list[Task]
    budget_usd: float | None = None

    def finished_summaries(self) -> list[TaskSummary]:
        with ledger_of(self.root, create=False) as ledger:
            return [task_summary(self.root, ledger, self.config, t.id) for t in self.finished]


def plan_resume(root: Path, task_ids: Sequence[str], *, budget_usd: float | None = None,
                rounds: int | None = None) -> ResumePlan:
    """Check every task before any runs: each id names one, none is running, merged or discarded.
    ``rounds`` grants that many more review rounds (a needs_attention task then runs again)."""
    check_budget(budget_usd)
    config = load_config(root)
    with ledger_of(root, create=False) as ledger:
        loaded = [load_task(root, ledger, task_id) for task_id in task_ids]
        tasks = list({t.id: t for t in loaded}.values())  # an id given twice (or as a prefix too) runs once
        for task in tasks:
            check_resumable(task, more_rounds=rounds is not None)
        if rounds is not None:
            tasks = [t if t.status is TaskStatus.DONE else grant_rounds(root, ledger, t.id, rounds) for t in tasks]
    finished = [t for t in tasks if t.status in (TaskStatus.DONE, TaskStatus.NEEDS_ATTENTION)]
    return ResumePlan(root, config, [t for t in tasks if t not in finished], finished, budget_usd)


def resume(plan: ResumePlan, *, jobs: int = DEFAULT_JOBS, sink_for: SinkFor | None = None,
           also: Sequence[TaskSummary] | None = None) -> RunReport:
    """Continue the pending tasks from their first unfinished step, side by side; the finished ones
    are reported with them (``also``: their summaries, when the caller has them already)."""
    also = plan.finished_summaries() if also is None else list(also)
    if not plan.pending:
        return RunReport([], also)
    ids = [t.id for t in plan.pending]
    return run_starts(plan.root, plan.config, ids, labels=ids, jobs=jobs, budget_usd=plan.budget_usd,
                      sink_for=sink_for, also=also)


@dataclass(frozen=True)
class Detached:
    """Tasks started in one background process (``pid``); ``failed`` the requests that never became tasks."""

    ids: list[str]
    pid: int | None
    logs: list[Path]
    failed: list[tuple[str, SpecRelayError]]
    single: bool

    def to_json(self) -> Any:
        items = [{"id": t, "pid": self.pid, "log": str(log)} for t, log in zip(self.ids, self.logs, strict=True)]
        items += [not_created(request, exc) for request, exc in self.failed]
        return items[0] if self.single and items else items

    @property
    def exit_code(self) -> int:
        return 2 if self.failed else 0


def detach(plan: RunPlan, *, jobs: int = DEFAULT_JOBS) -> Detached:
    """Create every task, then one background process runs them all, each writing its run.log and its
    events.jsonl. A request whose task cannot be created is reported; the others start all the same
    (a single request's error is raised)."""
    ids: list[str] = []
    failed: list[tuple[str, SpecRelayError]] = []
    with ledger_of(plan.root) as ledger:
        for request in plan.requests:
            try:
                ids.append(plan.start(request)(ledger))
            except SpecRelayError as exc:
                if len(plan.requests) == 1:
                    raise
                failed.append((request, exc))
    logs = [paths.task_dir(plan.root, t) / "run.log" for t in ids]
    pid = _spawn(plan.root, ids, logs[0], jobs) if ids else None
    if pid is not None:
        _name_holder(plan.root, ids, pid)
    return Detached(ids, pid, logs, failed, single=len(plan.requests) == 1)


def detach_resume(plan: ResumePlan, *, jobs: int = DEFAULT_JOBS) -> Detached:
    """One background process continues the pending tasks, each writing its run.log and events.jsonl;
    the finished ones are not started (``plan.finished``)."""
    ids = [t.id for t in plan.pending]
    logs = [paths.task_dir(plan.root, t) / "run.log" for t in ids]
    budget = [] if plan.budget_usd is None else ["--budget", repr(plan.budget_usd)]
    pid = _spawn(plan.root, ids, logs[0], jobs, budget) if ids else None
    if pid is not None:
        _name_holder(plan.root, ids, pid)
    return Detached(ids, pid, logs, [], single=len(ids) == 1)


def _name_holder(root: Path, ids: list[str], pid: int) -> None:
    """Name the background process in each task's lock at once: the tasks read as running from now on."""
    from specrelay.engine.lock import name_holder

    for task_id in ids:
        name_holder(paths.task_dir(root, task_id), pid)


def _spawn(root: Path, ids: list[str], log: Path, jobs: int, extra: Sequence[str] = ()) -> int:
    """The background process: ``specrelay resume IDS --logs``; what it says itself (a crash) goes to ``log``."""
    args = [sys.executable, "-m", "specrelay", "resume", *ids, "--jobs", str(jobs), "--logs", *extra]
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, cwd=root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "COLUMNS": "120"})
    return proc.pid
