"""The one activity: run a task's next step on this worker, with the local runner.

The step runs in a thread of its own (the runner has its own event loop) while the activity tells the
server every :data:`~.job.HEARTBEAT_S` that it is alive: a worker that dies mid-step stops heartbeating,
and the server gives the step to another worker within :data:`~.job.HEARTBEAT_TIMEOUT_S`. That worker
redoes the step, reusing every call the ledger holds as completed: nothing is paid twice.

A step that stops the task resumably (a budget, a provider's outage) or for good (a step failed) ends the
workflow with the task paused or failed, exactly as a local run leaves it; ``specrelay resume`` goes on.
A cancelled activity (its worker shutting down) pauses the step and fails, to be retried elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from temporalio import activity

from specrelay import paths
from specrelay.config import load_config
from specrelay.engine.events import EventSink
from specrelay.engine.lock import unmark_driven
from specrelay.engine.runner import Runner
from specrelay.engine.task import Task, load_task
from specrelay.engine.temporal.job import ADVANCE, HEARTBEAT_S, Advanced, Job
from specrelay.engine.temporal.queues import next_queue, waiting_message
from specrelay.errors import Interrupted, SpecRelayError
from specrelay.ledger import FINISHED, Ledger, TaskStatus

#: What a worker gives each task's runner to hear its events (the app writes them to events.jsonl).
EmitFor = Callable[[Task], EventSink]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Steps:
    """The activity, bound to how this worker hears events."""

    def __init__(self, emit_for: EmitFor, jobs: int, on_step: Callable[[str, Advanced], None] | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.emit_for = emit_for
        self.on_step = on_step
        self.threads = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="step")

    @activity.defn(name=ADVANCE)
    async def advance(self, job: Job) -> Advanced:
        holder: list[Runner] = []
        done = threading.Event()
        work = asyncio.get_running_loop().run_in_executor(self.threads, self._step, job, holder, done)
        try:
            while not done.is_set():
                activity.heartbeat()
                await asyncio.wait({work}, timeout=HEARTBEAT_S)
            return await work
        except asyncio.CancelledError:
            # The worker is shutting down (or the server gave the step away): pause it cleanly, then
            # fail, so that the step is tried again on another worker.
            for runner in holder:
                runner.cancel()
            await asyncio.shield(asyncio.wait({work}, timeout=30))
            raise

    def _step(self, job: Job, holder: list[Runner], done: threading.Event) -> Advanced:
        try:
            advanced = self._run_one(job, holder)
            if self.on_step is not None:
                self.on_step(job.task_id, advanced)
            return advanced
        finally:
            done.set()

    def _run_one(self, job: Job, holder: list[Runner]) -> Advanced:
        root = Path(job.root)
        who = worker_name()
        if not paths.task_dir(root, job.task_id).is_dir():
            # Tried again elsewhere: the workers share the submitting machine's repository folder.
            raise RuntimeError(f"worker {who} cannot see task {job.task_id} in {root}: workers run where the "
                               "repository's folder is (the machine that submitted the task)")
        config = load_config(root)
        ledger = Ledger(paths.ledger_path(root))
        try:
            task = load_task(root, ledger, job.task_id)
            if task.status in FINISHED:
                unmark_driven(task.folder)
                return Advanced(True, str(task.status), task.message, worker=who)
            step, _ = next_queue(config, ledger, task.id, job.queue)
            emit = self.emit_for(task)
            runner = Runner(root, ledger, config, task.id, emit=emit)
            holder.append(runner)
            try:
                task = runner.run(budget_usd=job.budget_usd, max_steps=1)
            except Interrupted:
                raise  # this worker stopped mid-step: the step is tried again elsewhere
            except SpecRelayError as exc:  # the task stopped (paused or failed), as a local run would leave it
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
