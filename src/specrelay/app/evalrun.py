"""``specrelay eval run``: every case of a suite under every workflow asked for, as ordinary tasks, then each
finished task's result put to its case's hidden check.

Each cell (case x workflow x repeat) is a task made from the case's ``request.md`` alone, starting at the
case's base commit, run through :func:`specrelay.app.run.run_starts` (side by side, at most ``jobs`` at a
time, priced, resumable); its calls keep their prompts in the ledger, so what every phase was shown can be
looked at afterwards. ``--budget`` is split equally between the tasks. Once the tasks have ended, each
done or needs_attention task's branch head is checked (:func:`specrelay.engine.evalcheck.run_check`, with
``[verify] timeout_s``); a check that cannot run is an ``error`` cell, and the others go on.

The record is ``run.json`` (:mod:`specrelay.engine.evalruns`). ``resume`` continues a run: a cell with a
paused or failed task resumes it, a cell not started makes its task (with the id it noted, when it noted
one: a task is never made twice), a finished cell without a check gets its check, and a checked cell is
left as it is.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay import gitrepo, paths
from specrelay.app.events import Event, EventSink, RunStarted, TaskFinished, TaskStopped, quiet
from specrelay.app.exits import interrupted_code
from specrelay.app.run import DEFAULT_JOBS, SinkFor, check_budget, plan_resume, run_starts
from specrelay.app.workspace import ledger_of, open_ledger
from specrelay.config import Config, load_config
from specrelay.engine import evalcases
from specrelay.engine.batch import Start
from specrelay.engine.evalcases import Case
from specrelay.engine.evalcheck import CheckResult, run_check
from specrelay.engine.evalruns import CHECKED_STATUSES, RunFile
from specrelay.engine.summary import effective_status
from specrelay.engine.task import Task, create_task, load_task, new_task_id, prepare_workflow, resolve_base
from specrelay.errors import Interrupted, SpecRelayError, UserError
from specrelay.ledger import Ledger, TaskStatus
from specrelay.workflow import Workflow

#: Told a cell (its run.json item): once it has ended (checked, or stopped short of a check), or (``on_task``)
#: as its task starts running.
OnCell = Callable[[dict[str, Any]], None]
#: Told the run's record and the cells this process is to work on, once it holds the run.
OnBegin = Callable[[dict[str, Any], list[dict[str, Any]]], None]
#: At most this many hidden checks run at once: each runs the project's whole test command.
CHECK_JOBS = 4


@dataclass
class EvalRun:
    """A run as it stands: its folder and its ``run.json`` content; ``interrupted`` when Ctrl-C stopped it."""

    folder: Path
    data: dict[str, Any]
    interrupted: bool = False

    @property
    def cells(self) -> list[dict[str, Any]]:
        cells: list[dict[str, Any]] = self.data["cells"]
        return cells

    @property
    def unfinished(self) -> list[dict[str, Any]]:
        """The cells with no check yet: to make, to resume or to check (``--resume`` continues them)."""
        return [c for c in self.cells if c["check"] is None]

    @property
    def exit_code(self) -> int:
        """130/143 when interrupted; 1 when a cell is left unfinished (``--resume`` continues it); else 0,
        whatever the checks found (a failed check is a result, not an error)."""
        if self.interrupted:
            return interrupted_code()
        return 1 if self.unfinished else 0

    def to_json(self) -> dict[str, Any]:
        return self.data


def load_run(root: Path, suite: str, run_id: str | None = None) -> dict[str, Any]:
    """The ``run.json`` content of the suite's run ``run_id`` (its latest when None)."""
    return RunFile.open(root, suite, run_id).data


def _cases(root: Path, suite: str) -> dict[str, Case]:
    folder = evalcases.suite_dir(root, suite)
    if not folder.is_dir():
        known = ", ".join(evalcases.suites(root)) or "none yet"
        raise UserError(f"no suite {suite!r} in {folder.parent} (suites: {known}); make one with "
                        f"`specrelay eval make {suite} --from-history`.")
    names = evalcases.case_names(folder)
    if not names:
        raise UserError(f"suite {suite!r} has no cases ({folder}); add some with "
                        f"`specrelay eval make {suite} --from-history`.")
    cases = {n: evalcases.read_case(folder / n) for n in names}
    for name, case in cases.items():  # refused before any run exists: a task would be paid for nothing
        where = folder / name
        if not case.request.strip():
            raise UserError(f"{where / evalcases.REQUEST_FILE}: missing or empty; write what the task asks for.")
        if not case.test_commands:
            raise UserError(f"{where / evalcases.CASE_FILE}: test_commands is empty, so the hidden check could not "
                            "run; set it, e.g. test_commands = [\"python -m pytest -q\"].")
    return cases


def _workflows(root: Path, config: Config, names: Sequence[str]) -> dict[str, Workflow]:
    if not names:
        raise UserError("--workflows: name one or more, comma-separated, e.g. --workflows multi-model,single-model.")
    if len(set(names)) != len(names):
        raise UserError(f"--workflows {','.join(names)}: a workflow is named twice; name each once.")
    return {n: prepare_workflow(root, config, n) for n in names}


def run_eval(root: Path, suite: str, *, workflows: Sequence[str] = (), repeat: int = 1, jobs: int = DEFAULT_JOBS,
             budget_usd: float | None = None, resume: bool = False, run_id: str | None = None,
             sink_for: SinkFor | None = None, on_cell: OnCell | None = None, on_task: OnCell | None = None,
             on_begin: OnBegin | None = None) -> EvalRun:
    """Run (or, ``resume``, continue) an evaluation of ``suite``. Everything that can refuse it does so
    before any task or run folder exists."""
    if run_id is not None and not resume:
        raise UserError("--run RUN_ID names a run to continue: pass it with --resume.")
    if repeat < 1:
        raise UserError(f"--repeat {repeat}: run each case at least once (--repeat 1 or more).")
    check_budget(budget_usd)
    cases = _cases(root, suite)
    config = load_config(root)
    if resume:
        run = RunFile.open(root, suite, run_id)
        if workflows and list(workflows) != run.data["workflows"]:
            raise UserError(f"--workflows {','.join(workflows)}: run {run.data['id']} runs "
                            f"{','.join(run.data['workflows'])}; leave --workflows out to resume it.")
        if repeat not in (1, run.data["repeat"]):
            raise UserError(f"--repeat {repeat}: run {run.data['id']} runs each case {run.data['repeat']} "
                            "times; leave --repeat out to resume it.")
        flows = _workflows(root, config, run.data["workflows"])
    else:
        flows = _workflows(root, config, list(workflows))
        run = None
    open_ledger(root).close()  # only now: a bad suite, workflow or budget creates nothing
    if run is None:
        run = RunFile.create(root, suite, workflows=list(flows), repeat=repeat, budget_usd=budget_usd,
                             cases=list(cases))
    with run.held():
        if resume and budget_usd is not None:  # the run's new budget: each task it continues gets its share
            run.data["budget_usd"] = budget_usd
            run.save()
        if on_begin is not None:
            on_begin(run.data, [c for c in run.cells if c["check"] is None])
        return _Eval(root, config, run, cases, flows, jobs, sink_for, on_cell, on_task).go(budget_usd)


class _Eval:
    """One process's work on a run: its tasks, and each finished task's check as soon as it has ended."""

    def __init__(self, root: Path, config: Config, run: RunFile, cases: dict[str, Case], flows: dict[str, Workflow],
                 jobs: int, sink_for: SinkFor | None, on_cell: OnCell | None, on_task: OnCell | None) -> None:
        self.root, self.config, self.run, self.cases, self.flows = root, config, run, cases, flows
        self.jobs, self.sink_for, self._on_cell, self.on_task = jobs, sink_for, on_cell, on_task
        total = run.data.get("budget_usd")
        self.per_task = None if total is None else float(total) / max(1, len(run.cells))
        self.timeout_s = config.verify.timeout_s
        self.by_task: dict[str, dict[str, Any]] = {}
        self.told: set[int] = set()  # the cells on_cell was told of (by id())
        self.lock = threading.Lock()
        self.checks: ThreadPoolExecutor | None = None

    def go(self, budget_given: float | None) -> EvalRun:
        starts, cells = self._plan()
        interrupted = False
        workers = max(1, min(self.jobs, CHECK_JOBS, len(self.run.cells)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-check") as checks:
            self.checks = checks
            try:
                if starts:
                    report = run_starts(self.root, self.config, starts, labels=[_label(c) for c in cells],
                                        jobs=self.jobs, budget_usd=None if budget_given is None else self.per_task,
                                        sink_for=self._sink_for)
                    interrupted = any(isinstance(o.error, Interrupted) for o in report.outcomes)
                    for cell, outcome in zip(cells, report.outcomes, strict=True):
                        if outcome.error is not None and outcome.task_id is None:
                            self.run.update(cell, message=str(outcome.error))
                self._refresh()
                if interrupted:
                    checks.shutdown(wait=True, cancel_futures=True)
                else:  # a task that ended before (a run killed while it checked): its check now
                    for cell in self.run.cells:
                        self._check_later(cell)
            finally:
                self.checks = None
        for cell in self.run.cells:
            if cell["check"] is None and cell["task_status"] not in CHECKED_STATUSES:
                self._tell(cell)
        return EvalRun(self.run.folder, self.run.data, interrupted)

    def _tell(self, cell: dict[str, Any]) -> None:
        with self.lock:
            if id(cell) in self.told or self._on_cell is None:
                return
            self.told.add(id(cell))
            self._on_cell(cell)

    def _sink_for(self, task: Task) -> EventSink:
        """The face's sink for ``task``, and what notes its end in run.json and starts its check then."""
        inner = self.sink_for(task) if self.sink_for is not None else quiet
        cell = self.by_task[task.id]

        def sink(event: Event) -> None:
            inner(event)
            if isinstance(event, RunStarted) and self.on_task is not None:
                with self.lock:
                    self.on_task(cell)
            if isinstance(event, TaskFinished):
                self.run.update(cell, task_status=_cell_status(TaskStatus(event.status)), drop=("message",))
                self._check_later(cell)
            elif isinstance(event, TaskStopped):  # paused or failed: why, until a resume gets further
                self.run.update(cell, task_status=_cell_status(TaskStatus(event.status)), message=event.message)
                self._tell(cell)
        return sink

    def _check_later(self, cell: dict[str, Any]) -> None:
        with self.lock:
            if cell["task_status"] not in CHECKED_STATUSES or cell["check"] is not None or id(cell) in self.told:
                return
            if self.checks is None:
                return
            self.told.add(id(cell))  # a check is on its way: told when it ends
            self.checks.submit(self._check, cell)

    def _plan(self) -> tuple[list[Start], list[dict[str, Any]]]:
        """What to run: a start for each cell whose task is to be made, the id of each to resume."""
        starts: list[Start] = []
        cells: list[dict[str, Any]] = []
        resumable: list[str] = []
        with ledger_of(self.root) as ledger:
            for cell in self.run.cells:
                start = self._start_of(ledger, cell)
                if start is None:
                    continue
                if isinstance(start, str):
                    resumable.append(start)
                    self.by_task[start] = cell
                starts.append(start)
                cells.append(cell)
        if resumable:
            plan_resume(self.root, resumable)  # refuses a task running in another process, its worktree gone...
        return starts, cells

    def _start_of(self, ledger: Ledger, cell: dict[str, Any]) -> Start | None:
        task_id = cell["task_id"]
        row = ledger.task(task_id) if task_id else None
        if row is None:
            if cell["check"] is not None:  # an error cell: its case could not start (its base is gone)
                return None
            return self._maker(cell)
        status = effective_status(load_task(self.root, ledger, task_id))
        if status in (TaskStatus.PAUSED, TaskStatus.FAILED):
            return str(task_id)
        return None

    def _maker(self, cell: dict[str, Any]) -> Start | None:
        case = self.cases.get(cell["case"])
        if case is None:
            self._error(cell, f"case {cell['case']} is no longer in the suite (its folder is gone)")
            return None
        try:
            resolved = resolve_base(self.root, case.base, where=self.root)
        except SpecRelayError as exc:
            self._error(cell, f"case {case.name}: its base {case.base[:12]!r} cannot start a task: {exc}")
            return None
        flow = self.flows[cell["workflow"]]

        def start(ledger: Ledger) -> str:
            task_id = cell["task_id"]
            if task_id is None:  # noted before the task is made: a run killed now makes it once, on resume
                task_id = new_task_id(case.request)
                self.run.update(cell, task_id=task_id, drop=("message",))
            else:
                _clear_half_made(self.root, task_id)
                self.run.update(cell, drop=("message",))  # why an earlier try failed: void now
            self.by_task[task_id] = cell
            create_task(self.root, ledger, self.config, case.request, workflow=flow, base=case.base,
                        budget_usd=self.per_task, resolved=resolved, task_id=task_id, record_prompts=True)
            return str(task_id)

        return start

    def _error(self, cell: dict[str, Any], reason: str) -> None:
        self.run.update(cell, check=CheckResult("error", None, 0.0, reason=reason).to_json())
        self._tell(cell)

    def _refresh(self) -> None:
        """Each cell's task status, as the ledger has it now."""
        with ledger_of(self.root) as ledger:
            for cell in self.run.cells:
                row = ledger.task(cell["task_id"]) if cell["task_id"] else None
                status = "not_started" if row is None else _cell_status(
                    effective_status(load_task(self.root, ledger, row.id)))
                if status != cell["task_status"]:
                    self.run.update(cell, task_status=status)

    def _check(self, cell: dict[str, Any]) -> None:
        case = self.cases.get(cell["case"])
        folder = evalcases.suite_dir(self.root, str(self.run.data["suite"])) / cell["case"]
        try:
            if case is None:
                raise UserError(f"case {cell['case']} is no longer in the suite (its folder is gone)")
            head = gitrepo.resolve_ref(self.root, gitrepo.task_branch(cell["task_id"]))
            logs = self.run.folder / "checks" / _slot(cell)
            paths.make_dir(logs)
            result = run_check(self.root, head, folder, case, timeout_s=self.timeout_s, log_dir=logs)
        except Exception as exc:  # a check that cannot run is that cell's error; the others go on
            result = CheckResult("error", None, 0.0, reason=str(exc).splitlines()[0] if str(exc) else repr(exc))
        self.run.update(cell, check=result.to_json())
        if self._on_cell is not None:
            with self.lock:
                self._on_cell(cell)


def _label(cell: dict[str, Any]) -> str:
    return f"{cell['case']} · {cell['workflow']} #{cell['repeat']}"


def _slot(cell: dict[str, Any]) -> str:
    """The folder name of a cell's check logs (a workflow given as a path keeps only safe characters)."""
    workflow = re.sub(r"[^A-Za-z0-9._-]+", "_", str(cell["workflow"])).strip("._") or "workflow"
    return f"{cell['case']}--{workflow}--{cell['repeat']}"


def _cell_status(status: TaskStatus) -> str:
    """A task's status as a cell says it: a merged task's result was done; a running one (another process's)
    is paused for this run; a discarded one failed."""
    if status is TaskStatus.MERGED:
        return "done"
    if status in (TaskStatus.RUNNING, TaskStatus.PAUSED):
        return "paused"
    if status is TaskStatus.DISCARDED:
        return "failed"
    return str(status)


def _clear_half_made(root: Path, task_id: str) -> None:
    """What a task creation killed before its ledger row left behind (its folder, worktree, branch): the
    ledger has no such task, so nothing in them is anyone's work."""
    worktree = paths.worktree_dir(root, task_id)
    if worktree.exists() or any(w.path == worktree for w in gitrepo.list_worktrees(root)):
        gitrepo.remove_worktree(root, worktree, force=True)
    gitrepo.prune_worktrees(root)
    branch = gitrepo.task_branch(task_id)
    if gitrepo.branch_exists(root, branch):
        gitrepo.delete_branch(root, branch, force=True)
    shutil.rmtree(paths.task_dir(root, task_id), ignore_errors=True)

