"""The step runner: runs a task's workflow from its first unfinished step, with the review→fix loop.

State lives in the ledger (step statuses, the round, the loop state) and is mirrored in the task's
``workflow.md`` checkboxes, which are re-synced from the ledger whenever a run starts. A step
interrupted mid-way is redone; model calls it already completed are reused from the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from specrelay import gitrepo
from specrelay.config import Config
from specrelay.engine import cascade
from specrelay.engine.budget import TaskBudget
from specrelay.engine.events import (
    EventSink,
    Note,
    RunStarted,
    StepFinished,
    StepStarted,
    TaskFinished,
    TaskStopped,
    quiet,
)
from specrelay.engine.finish import check_resumable
from specrelay.engine.lock import task_lock
from specrelay.engine.loopstate import LoopState
from specrelay.engine.openwork import failed_verification_message, failing_checks
from specrelay.engine.overlap import before_build
from specrelay.engine.signals import signals_pause
from specrelay.engine.steps import Finish, Outcome, Reopen, StepRun, kind_of, last_build_before, spec_of
from specrelay.engine.task import Task, load_task
from specrelay.errors import (
    BudgetExceeded,
    CommandNotRunnable,
    GitError,
    Interrupted,
    ProviderError,
    RunError,
    StepFailed,
    UserError,
    WorkflowError,
)
from specrelay.fsutil import atomic_write_text
from specrelay.ledger import FINISHED, UNSET, Ledger, StepRow, StepStatus, TaskStatus
from specrelay.llm import Client
from specrelay.workflow import Workflow, load_workflow, validate, with_routes
from specrelay.workflow.ticks import set_box

#: The message of a task paused by Ctrl-C, SIGTERM or :meth:`Runner.cancel`.
INTERRUPTED = "interrupted"


class Runner:
    """Runs one task to its end (done / needs_attention) or to a clean, resumable stop."""

    def __init__(self, root: Path, ledger: Ledger, config: Config, task_id: str, *,
                 emit: EventSink = quiet, models: dict[str, Any] | None = None) -> None:
        self.root = root
        self.ledger = ledger
        self.config = config
        self.task = load_task(root, ledger, task_id)
        self.emit = emit
        self.models = models
        self._cancel_lock = threading.RLock()  # RLock: a signal handler may cancel in the middle of _cancellable
        self._cancelled = False
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._max_steps: int | None = None

    # -- entry ---------------------------------------------------------------------------------

    def run(self, *, budget_usd: float | None = None, max_steps: int | None = None) -> Task:
        """Run under the task's lock; returns the task as it ends. Raises RunError on a resumable stop.

        ``budget_usd`` replaces the task's budget (``resume --budget``), once the lock is held.
        ``max_steps``: return, the task still running, once that many steps have finished (a driver that
        runs a task one step at a time, each where it chooses: :mod:`specrelay.engine.temporal`).
        """
        self._max_steps = max_steps
        task = self.task
        # the rule every face shares: running, merged, discarded, worktree gone
        check_resumable(task, driven=max_steps is not None)
        with task_lock(task.folder, task.id), signals_pause(self.cancel):
            task = self.task = load_task(self.root, self.ledger, task.id)  # as it is now, under the lock
            if task.status in FINISHED:
                raise UserError(f"task {task.id} is {task.status}; there is nothing to resume.")
            self.ledger.update_task(task.id, status=TaskStatus.RUNNING, message=None,
                                    budget_usd=UNSET if budget_usd is None else budget_usd)
            self.task = load_task(self.root, self.ledger, task.id)
            used = self.ledger.task_usage(task.id)  # a resumed task's running total goes on from here
            self.emit(RunStarted(used.input_tokens + used.output_tokens, used.cost_usd if used.calls else None,
                                 used.unknown_cost_calls, used.simulated))
            try:
                try:
                    asyncio.run(self._cancellable())
                except GitError as exc:
                    # a git command or hook killed by the same Ctrl-C (or SIGTERM): not a failure
                    if self._cancelled or (isinstance(exc, gitrepo.GitCommandError) and exc.interrupted):
                        raise KeyboardInterrupt from None
                    raise
            except (KeyboardInterrupt, asyncio.CancelledError):
                self._stop(TaskStatus.PAUSED, INTERRUPTED)
                raise Interrupted(f"task {task.id} paused; `specrelay resume {task.id}` continues it.") from None
            except (BudgetExceeded, ProviderError, CommandNotRunnable) as exc:
                self._stop(TaskStatus.PAUSED, str(exc), detail=getattr(exc, "detail", None))
                raise
            except (StepFailed, RunError, UserError) as exc:
                # A new generation: resuming a failed step makes fresh calls instead of replaying
                # the ones that led to the failure.
                self._stop(TaskStatus.FAILED, str(exc), new_generation=True)
                raise
            except BaseException as exc:
                self._stop(TaskStatus.FAILED, f"internal error: {exc!r}")
                raise
        return load_task(self.root, self.ledger, task.id)

    def _stop(self, status: TaskStatus, message: str, *, new_generation: bool = False,
              detail: dict[str, Any] | None = None) -> None:
        # The step in progress failed with the task, or (a pause) waits to be redone, keeping what it
        # found (``detail``, e.g. the verification that could not run) when it says.
        failed = status is TaskStatus.FAILED
        with self.ledger.transaction():
            for row in self.ledger.steps(self.task.id):
                if row.status is StepStatus.RUNNING:
                    self.ledger.update_step(self.task.id, row.idx, error=message if failed else None,
                                            status=StepStatus.FAILED if failed else StepStatus.PENDING,
                                            detail=json.dumps(detail) if detail else UNSET)
            state = self._state()
            self.ledger.update_task(self.task.id, status=status, message=message,
                                    state=state.with_(gen=state.gen + 1).dump() if new_generation else UNSET)
        self.emit(TaskStopped(status, message))

    def cancel(self) -> None:
        """Pause the run as Ctrl-C would, from any thread: the step in progress is abandoned (a running
        verification is killed) and the task is left paused, to be resumed."""
        with self._cancel_lock:
            self._cancelled = True
            if self._running is not None:
                loop, main = self._running
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the run is over
                    loop.call_soon_threadsafe(main.cancel)

    async def _cancellable(self) -> None:
        with self._cancel_lock:
            self._running = (asyncio.get_running_loop(), asyncio.current_task())  # type: ignore[assignment]
        if self._cancelled:  # checked after publishing the loop, so no cancel() can fall in between
            raise asyncio.CancelledError
        try:
            await self._run()
        finally:
            with self._cancel_lock:
                self._running = None

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        rows = self.ledger.steps(self.task.id)
        routes = self.config.route_table()
        # A step that names a route keeps the preset it went to when the task started.
        workflow = with_routes(load_workflow(self.task.workflow_path), routes, [r.presets for r in rows])
        validate(workflow, self.config.presets, has_config_verify=True, routes=routes,
                 families=self.config.families())
        recorded = [r.title for r in rows]
        if [s.title for s in workflow.steps] != recorded:
            raise WorkflowError(f"{self.task.workflow_path}: its steps no longer match the task's recorded steps "
                                f"({', '.join(recorded)}); restore them (only the checkboxes may change).")
        budget = None
        if self.task.budget_usd is not None:
            budget = TaskBudget(self.ledger, self.task.id, self.task.budget_usd)
        from specrelay.engine import attachments

        client = Client(self.config, self.ledger, run_id=self.task.id, task_id=self.task.id, budget=budget,
                        models=self.models, attachments=attachments.load(self.task.folder),
                        record_prompts=self.task.record_prompts)
        self._sync_ticks(workflow)
        if gitrepo.clear_stale_index_lock(self.task.worktree):
            self.emit(Note("removed the index.lock a killed git command had left in the worktree"))
        elif gitrepo.index_locked(self.task.worktree):
            self.emit(Note("the worktree's index.lock is held by a git command still running there; "
                                       "if the build step cannot commit, stop that command and resume"))
        ran = 0
        while True:
            statuses = [r.status for r in self.ledger.steps(self.task.id)]
            idx = next((i for i, s in enumerate(statuses) if s is not StepStatus.DONE), None)
            if idx is None:
                failing = failing_checks(self.task)
                if failing:  # every step ran, but nothing that fails its checks is ever ready to merge
                    self._finish(TaskStatus.NEEDS_ATTENTION, failed_verification_message(self.task.id, failing))
                else:
                    self._finish(TaskStatus.DONE, self._state().done_message())
                return
            if self._max_steps is not None and ran >= self._max_steps:
                return
            ran += 1
            if await self._run_step(workflow, idx, client):
                return

    async def _run_step(self, workflow: Workflow, idx: int, client: Client) -> bool:
        """Run one step and apply its transition; True when the task has ended (needs_attention)."""
        state = self._state()
        step = cascade.for_run(workflow.steps[idx], idx, state)
        kind = kind_of(step.kind, step.title)
        task = load_task(self.root, self.ledger, self.task.id)
        # A step that was started before and not finished was interrupted: its execution is redone.
        interrupted = self.ledger.steps(task.id)[idx].started_at is not None
        run = StepRun(self.root, task, self.config, client, step, idx, task.rounds,
                      state.attempt if kind.spec.attempts else 0, self.emit, generation=state.gen,
                      interrupted=interrupted, state=state, workflow=workflow, level=cascade.level(state, idx))
        self.ledger.update_step(task.id, idx, status=StepStatus.RUNNING, round=task.rounds, started_at=time.time(),
                                error=None)
        self.ledger.update_task(task.id, current_step=step.title)
        self.emit(StepStarted(step.title, str(step.kind), tuple(step.presets), task.rounds))
        if kind.spec.builds:
            await before_build(self.root, self.ledger, task, serialize=state.serialize, emit=self.emit)
        t0 = time.perf_counter()
        outcome = await kind.run(run)
        self._apply(workflow, run, outcome, t0)
        return isinstance(outcome.transition, Finish)

    # -- state ---------------------------------------------------------------------------------

    def _state(self) -> LoopState:
        row = self.ledger.task(self.task.id)
        return LoopState.load(row.state if row else None)

    def _apply(self, workflow: Workflow, run: StepRun, outcome: Outcome, t0: float) -> None:
        """Record a finished step and its transition (reopened steps, a new round, the task's end) in
        one transaction, so that a crash can never leave half of a transition; then tick boxes."""
        boxes = {run.index: True}
        move = outcome.transition
        state = (outcome.state or run.state).dump()
        with self.ledger.transaction():
            self.ledger.update_step(self.task.id, run.index, status=StepStatus.DONE, finished_at=time.time(),
                                    detail=json.dumps(outcome.detail) if outcome.detail else None)
            if isinstance(move, Reopen):
                for i in range(move.start, run.index + 1):
                    self.ledger.update_step(self.task.id, i, status=StepStatus.PENDING, started_at=None)
                    boxes[i] = False
                self.ledger.update_task(self.task.id, state=state, rounds=run.round + 1 if move.new_round else UNSET)
            elif isinstance(move, Finish):
                self.ledger.update_task(self.task.id, state=state, status=move.status, message=move.message,
                                        current_step=None)
            else:
                self.ledger.update_task(self.task.id, state=state)
        self._set_boxes(workflow, boxes)
        self.emit(StepFinished(run.step.title, time.perf_counter() - t0, outcome.detail or {}))
        if isinstance(move, Finish):
            self.emit(TaskFinished(move.status, move.message))
        for note in outcome.notes:
            self.emit(Note(note))

    def _finish(self, status: TaskStatus, message: str) -> None:
        self.ledger.update_task(self.task.id, status=status, message=message, current_step=None)
        self.emit(TaskFinished(status, message))

    def _set_boxes(self, workflow: Workflow, boxes: dict[int, bool]) -> None:
        """Tick (True) or untick (False) steps by index in the task's workflow.md, in one write."""
        path = self.task.workflow_path
        text = path.read_text(encoding="utf-8")
        new = text
        for idx, done in boxes.items():
            new = set_box(new, workflow.steps[idx].line, done, label=str(path))
        if new != text:
            atomic_write_text(path, new)

    def _sync_ticks(self, workflow: Workflow) -> None:
        """Make the checkboxes say what the ledger says (a crash may have come between the two)."""
        rows = self.ledger.steps(self.task.id)
        self._set_boxes(workflow, {r.idx: r.status is StepStatus.DONE for r in rows})


def grant_rounds(root: Path, ledger: Ledger, task_id: str, extra: int) -> Task:
    """Allow the task's review→fix loop ``extra`` more rounds (``resume --rounds N``).

    A task that ended as needs_attention continues from its build step: the loop is reopened as if
    the bound had been higher, so the builder gets that review's findings (or, when the last
    verification failed, its failing output) in a new round, and verify and review run again. Any
    other task only keeps the larger allowance for when its review comes.
    """
    task = load_task(root, ledger, task_id)
    with task_lock(task.folder, task.id):
        row = ledger.task(task.id)
        state = LoopState.load(row.state if row else None)
        state = state.with_(extra_rounds=state.extra_rounds + extra)
        if task.status is not TaskStatus.NEEDS_ATTENTION:
            ledger.update_task(task.id, state=state.dump())
            return load_task(root, ledger, task.id)
        steps = ledger.steps(task.id)
        failing = bool(failing_checks(task))
        impl, end = _loop_to_reopen(steps, verification_failed=failing)
        if impl is None:
            raise UserError(f"task {task.id} has no review or verify step that sends work back to a build step, "
                            "so more rounds would change nothing.")
        # After a failed verification the builder sees its output; otherwise the review's findings.
        state = state.with_(attempt=0, fix="verify" if failing else "findings")
        with ledger.transaction():  # the reopened loop and the new round land together, as _apply does
            for i in range(impl, end + 1):
                ledger.update_step(task.id, i, status=StepStatus.PENDING, started_at=None)
            ledger.update_task(task.id, state=state.dump(), rounds=task.rounds + 1, status=TaskStatus.PAUSED,
                               message=None, current_step=steps[impl].title)
    return load_task(root, ledger, task.id)


def _loop_to_reopen(steps: list[StepRow], *, verification_failed: bool) -> tuple[int | None, int]:
    """The first and last step a new round reopens: from the build step before the last review (or,
    after a failed verification, the last verify step) through the end of that loop."""
    loops = ("findings", "verify") if verification_failed else ("findings",)

    def loops_back(kind: str) -> bool:
        spec = spec_of(kind)
        return spec is not None and spec.loops_back in loops

    anchor = next((r.idx for r in reversed(steps) if loops_back(r.kind) and r.status is StepStatus.DONE), None)
    if anchor is None:
        return None, 0
    impl = last_build_before([r.kind for r in steps], anchor)
    # A failed verification is checked again, and whatever reviews come after it review again.
    end = len(steps) - 1 if verification_failed else anchor
    return impl, end
