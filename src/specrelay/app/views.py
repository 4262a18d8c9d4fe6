"""What a task looks like from outside: the typed objects ``status``, ``show`` and a run's report return.

Each is a frozen dataclass; ``to_json()`` gives the dict the CLI's ``--json`` has always printed (the
same keys, in the same order), for any face that speaks JSON.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specrelay.app.counterfactual import Counterfactual, counterfactual
from specrelay.app.live import Asker, Remote, remote_of
from specrelay.config import Config
from specrelay.engine import leftovers
from specrelay.engine.loopstate import LoopState
from specrelay.engine.openwork import open_work
from specrelay.engine.summary import effective_status, panel_of, spec_has, verification_of
from specrelay.engine.task import Task, all_tasks, load_task
from specrelay.errors import SpecRelayError
from specrelay.ledger import CLOSED, Ledger, StepRow, StepStatus, TaskStatus, TaskUsage

__all__ = ["CLOSED", "CallView", "Costs", "DiffFile", "Diffstat", "StepView", "TaskDetail", "TaskStatus",
           "TaskSummary", "TaskView", "Totals", "Verification", "all_statuses", "task_costs", "task_summary",
           "task_view"]

#: How the artifacts that keep an unusable reply are named (rejected_spec.md, rejected_edits_r1.md, ...).
REJECTED_PREFIX = "rejected_"

#: From this many tasks on, ``all_statuses`` reads every task's usage and steps at once.
_BATCH_FROM = 20
_NO_USAGE = TaskUsage(input_tokens=0, output_tokens=0, cost_usd=0.0, simulated=False, calls=0, ok_calls=0,
                      unknown_cost_calls=0)

#: A row of the ledger's totals as JSON (``key``, calls, ok_calls, failed_calls, tokens, cost_usd, ...).
Totals = dict[str, Any]


@dataclass(frozen=True)
class StepView:
    """One step of a task: its kind, who runs it, where it is, and what it recorded (a verdict, checks)."""

    title: str
    kind: str
    presets: list[str]
    status: StepStatus
    round: int
    detail: dict[str, Any] | None
    #: Why the step failed, when its status is failed.
    error: str | None = None
    #: Its presets are a cheap-first cascade, tried in order (not a panel).
    cascade: bool = False


@dataclass(frozen=True)
class Verification:
    """A task's last verification: ``state`` passed / failed / not_configured, and every command run."""

    state: str
    #: None when nothing was configured.
    passed: bool | None
    commands: list[dict[str, Any]]


@dataclass(frozen=True)
class TaskView:
    """A task as ``status`` shows it; ``open`` lists what is unfinished (empty: ready to merge)."""

    id: str
    title: str
    status: TaskStatus
    open: list[str]
    workflow: str
    branch: str
    base_branch: str | None
    base_sha: str
    worktree: str
    worktree_exists: bool
    folder: str
    current_step: str | None
    message: str | None
    steps: list[StepView]
    rounds: int
    created_at: str
    age_s: int
    cost_usd: float | None
    simulated: bool
    #: Some of the tokens are an estimate (a scripted model, a server that reported no usage).
    estimated: bool
    #: Every attempt; then apart, the calls that answered and the attempts that failed.
    calls: int
    ok_calls: int
    failed_calls: int
    unknown_cost_calls: int
    input_tokens: int
    output_tokens: int
    budget_usd: float | None
    #: The last review panel's reviewers, as ``final_review.json`` records them.
    panel: list[dict[str, Any]] | None
    verification: Verification | None
    #: Each move of a cheap-first cascade to its next preset: step, from, to, reason, why, round.
    escalations: list[dict[str, Any]]
    #: Other live tasks that name or change the same files, and whether their branches conflict
    #: (:class:`~specrelay.engine.overlap.Overlap` as JSON); only ``status`` works it out.
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    #: Where a task handed to Temporal runs, as its server said just now (None: it is not driven from there).
    remote: Remote | None = None

    def to_json(self) -> dict[str, Any]:
        """The status object of ``status --json``."""
        return asdict(self)


@dataclass(frozen=True)
class Costs:
    """A task's cost by phase and by preset, and what one model (the planner's preset) would have cost."""

    by_phase: list[Totals]
    by_preset: list[Totals]
    one_model: Counterfactual | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"by_phase": self.by_phase, "by_preset": self.by_preset}
        if self.one_model is not None:
            out["one_model"] = {"preset": self.one_model.preset, "cost_usd": self.one_model.cost_usd}
        return out


@dataclass(frozen=True)
class TaskSummary(TaskView):
    """A task's status with its costs and kept leftovers: the end-of-run summary."""

    costs: Costs = field(default_factory=lambda: Costs([], []))
    leftovers: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["costs"] = self.costs.to_json()
        return out


@dataclass(frozen=True)
class CallView:
    """One model call of a task, with how many tokens each part of its context took."""

    step: str | None
    phase: str
    preset: str
    model: str
    outcome: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_s: float
    max_tokens: int | None
    capped_by_budget: bool
    context: dict[str, int]


@dataclass(frozen=True)
class DiffFile:
    """A file a task changed: lines added and deleted (None for both when binary)."""

    path: str
    added: int | None
    deleted: int | None
    binary: bool


@dataclass(frozen=True)
class Diffstat:
    """What a task changed from its base commit to its head."""

    files_changed: int
    insertions: int
    deletions: int
    files: list[DiffFile]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskDetail(TaskSummary):
    """Everything ``show`` tells about a task: its summary, artifacts, every call, and its diffstat."""

    artifacts: list[str] = field(default_factory=list)
    call_list: list[CallView] = field(default_factory=list)
    diffstat: Diffstat | None = None
    #: The parts of its parallel builds (workstreams, groups of findings): name, branch, calls, cost.
    parts: list[dict[str, Any]] = field(default_factory=list)
    #: A best-of-N build's candidates, scores and branches (``candidates.json``); None without one.
    candidates: dict[str, Any] | None = None

    @property
    def rejected(self) -> list[str]:
        """The artifacts keeping a reply that could not be used (a spec, edits, a review)."""
        return [name for name in self.artifacts if name.startswith(REJECTED_PREFIX)]

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        # ``calls`` is the count in a status object and the list in a task's detail, as it always was.
        out.pop("call_list")
        out.pop("diffstat")
        out["artifacts"] = self.artifacts
        out["rejected"] = self.rejected
        out["calls"] = [asdict(c) for c in self.call_list]
        out["diffstat"] = self.diffstat.to_json() if self.diffstat else None
        return out


def task_view(ledger: Ledger, task: Task, asker: Asker | None = None) -> TaskView:
    """The status of one task, its lock consulted (a running task nobody runs any more is paused); a task
    handed to Temporal as its server says (``asker``: who asks it, and keeps the answer for how long)."""
    asker = Asker() if asker is None else asker
    [task] = _settle(ledger, [task], asker)
    return TaskView(**_status_fields(ledger, task, asker=asker))


def _status_fields(ledger: Ledger, task: Task, usage: TaskUsage | None = None,
                   rows: list[StepRow] | None = None, asker: Asker | None = None) -> dict[str, Any]:
    """The fields of a task's status; ``usage`` and ``rows`` (its steps) when the caller read them already;
    ``asker`` asks the server of a task handed to Temporal (None: a new one)."""
    usage = ledger.task_usage(task.id) if usage is None else usage
    status = effective_status(task)
    # Several presets on a build step that is no panel can only be a cascade.
    steps = [StepView(r.title, r.kind, list(r.presets), r.status, r.round, r.detail_data(), r.error,
                      len(r.presets) > 1 and spec_has(r.kind, lambda k: k.builds and not k.panel))
             for r in (ledger.steps(task.id) if rows is None else rows)]
    verification = verification_of([{"kind": s.kind, "detail": s.detail} for s in steps])
    remote = _remote(task, Asker() if asker is None else asker, steps)
    message = remote.line if remote is not None and remote.line and status is TaskStatus.RUNNING else task.message
    return {
        "id": task.id, "title": task.title, "status": status, "open": open_work(task, status),
        "workflow": task.workflow, "branch": task.branch, "base_branch": task.base_branch,
        "base_sha": task.base_sha, "worktree": str(task.worktree), "worktree_exists": task.worktree.is_dir(),
        "folder": str(task.folder), "current_step": task.current_step, "message": message,
        "steps": steps, "rounds": task.rounds,
        "created_at": datetime.fromtimestamp(task.created_at, UTC).isoformat(timespec="seconds"),
        "age_s": max(0, round(time.time() - task.created_at)),
        "cost_usd": usage.cost_usd, "simulated": usage.simulated, "estimated": usage.estimated,
        "calls": usage.calls, "ok_calls": usage.ok_calls, "failed_calls": usage.failed_calls,
        "unknown_cost_calls": usage.unknown_cost_calls,
        "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "budget_usd": task.budget_usd, "panel": panel_of(task),
        "verification": Verification(**verification) if verification else None,
        "escalations": escalations_of(ledger, task.id, [s.title for s in steps]), "remote": remote,
    }


def _remote(task: Task, asker: Asker, steps: list[StepView]) -> Remote | None:
    """Where a task handed to Temporal runs and what it does there (None for any other task)."""
    from specrelay.engine.lock import driver_of

    driver = driver_of(task.folder)
    if driver is None:
        return None
    step = next((s.title for s in steps if s.status is not StepStatus.DONE), None)
    return remote_of(driver, asker.answers([task]).get(task.id), step, task.message)


def with_overlaps(root: Path, ledger: Ledger, views: list[TaskView]) -> list[TaskView]:
    """``views`` with the overlaps of each live one among every live task of the repository."""
    from dataclasses import replace

    from specrelay.engine.overlap import overlaps

    live = [t for t in all_tasks(root, ledger) if effective_status(t) not in CLOSED]
    found = overlaps(root, live)
    return [replace(v, overlaps=[o.to_json() for o in found.get(v.id, [])]) for v in views]


def escalations_of(ledger: Ledger, task_id: str, titles: list[str]) -> list[dict[str, Any]]:
    """The task's cascade escalations, oldest first, each with its build step's title (of ``titles``)."""
    row = ledger.task(task_id)
    return [{**asdict(e), "step": titles[e.step] if e.step < len(titles) else None, "step_index": e.step}
            for e in LoopState.load(row.state if row else None).escalations]


def _settle(ledger: Ledger, tasks: list[Task], asker: Asker) -> list[Task]:
    """Ask about every task of ``tasks`` handed to Temporal, all at once: one whose workflow has ended without
    letting it go reads as it is (paused), not as running, and a carried one as its workers left it; a
    server that cannot be asked leaves it as it reads. The tasks, those asked about read again."""
    from specrelay.engine.finish import let_go_if_ended

    answers = asker.answers(tasks)
    for task_id, answer in answers.items():
        if answer["state"] == "ended":
            asker.forget(task_id)
            with contextlib.suppress(SpecRelayError, OSError):
                let_go_if_ended(next(t for t in tasks if t.id == task_id))
    return [load_task(t.folder.parents[2], ledger, t.id) if t.id in answers else t for t in tasks]


def all_statuses(root: Path, ledger: Ledger, *, statuses: tuple[TaskStatus, ...] = (),
                 limit: int | None = None, asker: Asker | None = None) -> list[TaskView]:
    """Every task's status, newest first; only those in ``statuses`` (when given), at most ``limit``; the
    tasks handed to Temporal as their servers say (``asker``: who asks them, all at once)."""
    asker = Asker() if asker is None else asker
    tasks = _settle(ledger, sorted(all_tasks(root, ledger), key=lambda t: t.created_at, reverse=True), asker)
    if statuses:
        tasks = [t for t in tasks if effective_status(t) in statuses]
    tasks = tasks[:limit]
    if len(tasks) < _BATCH_FROM:
        return [TaskView(**_status_fields(ledger, t, asker=asker)) for t in tasks]
    # Many tasks: their usage and steps in two queries, not two each.
    usage, steps = ledger.all_usage(), ledger.all_steps()
    return [TaskView(**_status_fields(ledger, t, usage.get(t.id, _NO_USAGE), steps.get(t.id, []), asker))
            for t in tasks]


def task_costs(ledger: Ledger, config: Config, task_id: str) -> Costs:
    """Cost by phase and by preset, and the one-model counterfactual on the planner's preset."""
    planner = next((r.presets[0] if r.presets else None for r in ledger.steps(task_id)
                    if spec_has(r.kind, lambda k: k.plans)), None)
    one = None
    if planner and planner in config.presets:
        one = counterfactual(ledger, config.preset(planner), task_id)
    return Costs([t.as_json() for t in ledger.totals("phase", task_id)],
                 [t.as_json() for t in ledger.totals("preset", task_id)], one)


def task_summary(root: Path, ledger: Ledger, config: Config, task_id: str,
                 asker: Asker | None = None) -> TaskSummary:
    """A task's end-of-run summary: its status, costs and kept leftovers (``asker``: as :func:`task_view`'s)."""
    task = load_task(root, ledger, task_id)
    return TaskSummary(**_status_fields(ledger, task, asker=asker), costs=task_costs(ledger, config, task.id),
                       leftovers=[kept.to_json() for kept in leftovers.leftovers_of(root, task.id)])
