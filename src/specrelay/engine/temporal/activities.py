"""The activities: run a task's next step on this worker with the local runner, and let a task go.

The step runs in a thread of its own (the runner has its own event loop) while the activity tells the
server every :data:`~.job.HEARTBEAT_S` that it is alive: a worker that dies mid-step stops heartbeating,
and the server gives the step to another worker within :data:`~.job.HEARTBEAT_TIMEOUT_S`. That worker
redoes the step, reusing every call the ledger holds as completed: nothing is paid twice.

A step that stops the task resumably (a budget, a provider's outage) or for good (a step failed) ends the
workflow with the task paused or failed, exactly as a local run leaves it; ``specrelay resume`` goes on.

Two attempts of one step never run at once: the task's run lock refuses the second (:class:`TaskBusy`),
which fails retryably, so it runs once the first has let go. A step whose server gave it away while this
worker still runs it (a worker paused too long to heartbeat) is left to finish; only a worker shutting
down pauses its steps, to be tried again elsewhere. A retry finds a task the step left failed, or paused
for a reason of its own, and ends the workflow with it rather than running it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from temporalio import activity

from specrelay import paths
from specrelay.config import load_config
from specrelay.engine.events import EventSink
from specrelay.engine.lock import is_running, unmark_driven
from specrelay.engine.runner import INTERRUPTED, Runner
from specrelay.engine.task import Task, load_task
from specrelay.engine.temporal import carry
from specrelay.engine.temporal.job import ADVANCE, HEARTBEAT_S, RELEASE, Advanced, Job
from specrelay.engine.temporal.queues import missing_here, next_queue, waiting_message
from specrelay.errors import Interrupted, SpecRelayError, TaskBusy, UserError
from specrelay.ledger import FINISHED, Ledger, TaskStatus
from specrelay.ledger.portable import import_calls, task_calls

#: How often an attempt waiting for another one's step looks again.
BUSY_POLL_S = 0.25
#: What a worker gives each task's runner to hear its events (the app writes them to events.jsonl).
EmitFor = Callable[[Task], EventSink]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _Slot:
    """The runner of one attempt, and whether the attempt was cancelled (maybe before its runner existed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runner: Runner | None = None
        self.cancelled = False
        #: A carried task's ledger in this worker's clone, its id, and the calls the remote had when it
        #: was taken (its heartbeats carry the others).
        self.calls_from: tuple[Path, str, frozenset[str]] | None = None

    def hold(self, runner: Runner) -> None:
        with self.lock:
            self.runner = runner
            if self.cancelled:
                runner.cancel()

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            if self.runner is not None:
                self.runner.cancel()


class Steps:
    """The activities of one queue's worker, at most ``jobs`` steps at once, bound to how it hears events."""

    def __init__(self, emit_for: EmitFor, jobs: int, on_step: Callable[[str, Advanced], None] | None = None,
                 clones: Path | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.emit_for = emit_for
        self.on_step = on_step
        #: Where this worker keeps its clones of carried tasks' remotes.
        self.clones = clones or paths.cache_dir() / "worker"
        self.threads = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="step")

    @activity.defn(name=ADVANCE)
    async def advance(self, job: Job) -> Advanced:
        slot = _Slot()
        done = threading.Event()
        info = activity.info()
        before = _carried_calls(info.heartbeat_details)
        work = asyncio.get_running_loop().run_in_executor(self.threads, self._step, job, slot, done, info.attempt,
                                                          info.task_queue, before)
        beat = _Heartbeat(before)
        try:
            while not done.is_set():
                beat.send(slot)
                await asyncio.wait({work}, timeout=HEARTBEAT_S)
            return await work
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            given_away = details is not None and (details.timed_out or details.not_found) and not (
                details.worker_shutdown or activity.is_worker_shutdown())
            if not given_away:
                slot.cancel()  # a shutdown, or the workflow cancelled: the step pauses cleanly
            # Given away (this worker missed its heartbeats): the step finishes here; the retry waits for it.
            await asyncio.shield(asyncio.wait({work}))
            if work.done() and not work.cancelled():
                work.exception()  # retrieved: the step's own end (paused, say) is in the ledger
            raise

    @activity.defn(name=RELEASE)
    async def release(self, job: Job, why: str) -> str:
        """Let go of a task whose step could not be run anywhere: paused here, with the reason; its status."""
        return await asyncio.get_running_loop().run_in_executor(self.threads, self._release, job, why)

    def _release(self, job: Job, why: str) -> str:
        if not job.remote:
            return self._release_in(Path(job.root), job, why, None)
        with carry.holding(job.remote, job.task_id, self.clones):  # TaskBusy while an attempt holds it
            try:
                place = carry.take(job.remote, job.task_id, job.branch, self.clones)
            except UserError:  # this worker cannot reach the remote: the submitter pauses the task itself
                return str(TaskStatus.PAUSED)
            return self._release_in(place.root, job, why, place)

    @staticmethod
    def _release_in(root: Path, job: Job, why: str, place: carry.Place | None) -> str:
        ledger = Ledger(paths.ledger_path(root))
        try:
            task = load_task(root, ledger, job.task_id)
            if is_running(task.folder):  # an attempt still runs its step: let it end first (tried again)
                raise TaskBusy(f"task {task.id} is still running a step; it is let go once that ends")
            if task.status not in FINISHED and task.status is not TaskStatus.FAILED:
                ledger.update_task(task.id, status=TaskStatus.PAUSED, message=f"on Temporal: {why}")
            unmark_driven(task.folder)
            status = str(load_task(root, ledger, job.task_id).status)
        finally:
            ledger.close()
        if place is not None:
            carry.give_back(place)
        return status

    @staticmethod
    def _wait_while_busy(folder: Path, task_id: str, slot: _Slot) -> None:
        """Wait (the activity heartbeating meanwhile) while another attempt of the step still holds the task:
        a worker that missed its heartbeats finishes what it runs, and this attempt goes on from there."""
        while is_running(folder):
            if slot.cancelled:
                raise Interrupted(f"task {task_id}: stopped while waiting for another worker's step")
            time.sleep(BUSY_POLL_S)

    def _step(self, job: Job, slot: _Slot, done: threading.Event, attempt: int, queue: str,
              before: list[dict[str, Any]]) -> Advanced:
        try:
            if not job.remote:
                advanced = self._run_one(job, Path(job.root), slot, attempt, queue)
            else:
                advanced = self._run_carried(job, slot, attempt, queue, before)
            if self.on_step is not None:
                self.on_step(job.task_id, advanced)
            return advanced
        finally:
            done.set()

    def _run_carried(self, job: Job, slot: _Slot, attempt: int, here: str, before: list[dict[str, Any]]) -> Advanced:
        """The step of a task carried through a git remote: taken into this worker's clone, run there, and
        given back, with the calls an earlier attempt made (its heartbeats carry them) reused. The whole
        attempt holds the clone: another attempt on this machine waits for it."""
        with carry.holding(job.remote, job.task_id, self.clones, stop=lambda: slot.cancelled):
            place = carry.take(job.remote, job.task_id, job.branch, self.clones)
            ledger = Ledger(paths.ledger_path(place.root))
            try:
                if before:
                    import_calls(ledger, before, task_id=job.task_id)
            finally:
                ledger.close()
            slot.calls_from = (paths.ledger_path(place.root), job.task_id, place.carried_uids)
            try:
                advanced = self._run_one(job, place.root, slot, attempt, here)
            except BaseException:
                # What it paid for so far, for the attempt that goes on (heartbeats carry only what they
                # saw last); the step's own error is the one that counts.
                with contextlib.suppress(Exception):
                    carry.give_back(place)
                raise
            carry.give_back(place)
            if advanced.ended:
                carry.forget(place)  # all of it is on the remote now; a resume takes it again
        return advanced

    def _run_one(self, job: Job, root: Path, slot: _Slot, attempt: int, here: str) -> Advanced:
        who = worker_name()
        if not paths.task_dir(root, job.task_id).is_dir():
            # Tried again elsewhere: the workers share the submitting machine's repository folder.
            raise RuntimeError(f"worker {who} cannot see task {job.task_id} in {root}: without [backend] remote, "
                               "workers run where the repository's folder is (the machine that submitted the "
                               "task, or a disk they share)")
        config = load_config(root)
        ledger = Ledger(paths.ledger_path(root))
        try:
            if not job.remote:
                self._wait_while_busy(paths.task_dir(root, job.task_id), job.task_id, slot)
            task = load_task(root, ledger, job.task_id)  # as the attempt waited for left it
            retried_end = attempt > 1 and (task.status is TaskStatus.FAILED or (
                task.status is TaskStatus.PAUSED and task.message != INTERRUPTED))
            if task.status in FINISHED or retried_end:
                # Ended already (an earlier attempt's answer was lost on its way to the server).
                unmark_driven(task.folder)
                return Advanced(True, str(task.status), task.message, worker=who)
            step, queue = next_queue(config, ledger, task.id, job.queue)
            if queue != here:
                # An earlier attempt ran this queue's step, and its answer was lost: the next step goes
                # where its own preset says.
                ledger.update_task(task.id, message=waiting_message(step, queue))
                return Advanced(False, str(task.status), None, next_queue=queue, next_step=step, worker=who)
            missing = missing_here(config, ledger, task.id)
            if missing is not None:  # tried again, maybe on a worker of this queue that has it
                raise RuntimeError(f"worker {who} cannot run step {step!r}: {missing}")
            emit = self.emit_for(task)
            runner = Runner(root, ledger, config, task.id, emit=emit)
            slot.hold(runner)
            try:
                task = runner.run(budget_usd=job.budget_usd, max_steps=1)
            except Interrupted:
                # Paused here mid-step (a shutdown): it waits for a worker again, still driven.
                ledger.update_task(task.id, status=TaskStatus.RUNNING, message=waiting_message(step, queue))
                raise
            except TaskBusy:
                raise  # another attempt took the lock meanwhile: tried again
            except SpecRelayError as exc:  # the task stopped (paused or failed), as a local run would leave it
                task = load_task(root, ledger, job.task_id)
                if task.status is TaskStatus.RUNNING:  # refused before it ran (its worktree gone, say)
                    ledger.update_task(task.id, status=TaskStatus.PAUSED, message=str(exc))
                    task = load_task(root, ledger, job.task_id)
                unmark_driven(task.folder)
                return Advanced(True, str(task.status), str(exc), step=step, worker=who)
            finally:
                close = getattr(emit, "close", None)
                if callable(close):
                    close()
            if task.status is not TaskStatus.RUNNING:
                unmark_driven(task.folder)
                return Advanced(True, str(task.status), task.message, step=step, worker=who)
            following, queue = next_queue(config, ledger, task.id, job.queue)
            ledger.update_task(task.id, message=waiting_message(following, queue))
            return Advanced(False, str(task.status), None, next_queue=queue, step=step, next_step=following,
                            worker=who)
        finally:
            ledger.close()


#: What a heartbeat's details may hold of a carried task's calls: the server refuses a payload over 2 MB.
DETAILS_LIMIT = 1_500_000
#: How often the heartbeat looks for new calls in a carried task's ledger.
CALLS_POLL_S = 1.0


class _Heartbeat:
    """A step's heartbeats: for a carried task, each carries the calls completed so far (those an earlier
    attempt carried included), so that the attempt a crash leads to reuses them on any worker."""

    def __init__(self, before: list[dict[str, Any]]) -> None:
        self.details = before
        self.count = -1
        self.looked = 0.0

    def send(self, slot: _Slot) -> None:
        if slot.calls_from is not None and time.monotonic() - self.looked >= CALLS_POLL_S:
            self.looked = time.monotonic()
            self._look(*slot.calls_from)
        if self.details:
            activity.heartbeat(self.details)
        else:
            activity.heartbeat()

    def _look(self, ledger_path: Path, task_id: str, carried: frozenset[str]) -> None:
        """The task's calls in this clone's ledger that the remote did not have when the task was taken:
        those this attempt made, and those an earlier one made (on this machine, or carried by its
        heartbeats); never fewer than before."""
        import json

        ledger = Ledger(ledger_path, readonly=True)
        try:
            count = int(ledger.conn.execute("SELECT COUNT(*) FROM calls WHERE task_id=?", (task_id,)).fetchone()[0])
            if count == self.count:
                return
            self.count = count
            calls, size = [], 0
            for call in (c for c in task_calls(ledger, task_id) if c.get("uid") not in carried):
                size += len(json.dumps(call))
                if size > DETAILS_LIMIT:
                    break  # the rest is paid again if the step is: never a heartbeat the server refuses
                calls.append(call)
            self.details = calls
        finally:
            ledger.close()


def _carried_calls(details: Sequence[Any]) -> list[dict[str, Any]]:
    """The calls an earlier attempt's last heartbeat carried (none for a first attempt)."""
    if not details or not isinstance(details[0], list):
        return []
    return [c for c in details[0] if isinstance(c, dict)]
