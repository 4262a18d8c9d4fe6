"""Several tasks in one process, side by side.

Each task runs on its own thread with its own ledger connection, exactly as it would in a process of
its own; what they share is the process: its start-up, and each provider's ``max_concurrency``, which
holds across all of them. Git commands and verification run as child processes, so the threads
overlap everything but the Python work.

Ctrl-C or SIGTERM pauses every task, each at a clean point as a single run would; one task's failure
does not stop the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from specrelay import paths
from specrelay.config import Config
from specrelay.engine.events import EventSink
from specrelay.engine.runner import Runner
from specrelay.engine.signals import signals_pause
from specrelay.engine.task import Task, load_task
from specrelay.errors import Interrupted
from specrelay.ledger import Ledger

Start = Callable[[Ledger], str] | str
"""An existing task's id, or what creates a task (with the worker's ledger) and returns its id."""


@dataclass
class Outcome:
    """How one task of a batch ended: ``error`` is None when its run returned (done or needs_attention)."""

    task_id: str | None = None
    error: BaseException | None = None


def run_tasks(root: Path, config: Config, starts: Sequence[Start], *, emit_for: Callable[[Task], EventSink],
              jobs: int, budget_usd: float | None = None) -> list[Outcome]:
    """Run every task to its end or to a resumable stop; one outcome per start, in order.

    At most ``jobs`` tasks run at a time; the others wait their turn (created only when they start).
    ``emit_for(task)`` gives the progress callback of each task, once it exists. A
    :class:`SpecRelayError` from creating or running a task (an :class:`Interrupted` one after
    Ctrl-C) becomes that task's outcome. A single task runs in the calling thread, as it always has.
    """
    batch = _Batch(root, config, emit_for, budget_usd)
    outcomes = [Outcome() for _ in starts]
    if len(starts) == 1:
        batch.work(starts[0], outcomes[0])
        return outcomes
    pending = iter(list(zip(starts, outcomes, strict=True)))
    take = threading.Lock()

    def worker() -> None:  # one of ``jobs`` threads, each running tasks one after another
        while True:
            with take:
                start, outcome = next(pending, (None, None))
            if start is None or outcome is None:
                return
            if batch.stopping:  # paused before its turn came: a new task is never created
                outcome.task_id = start if isinstance(start, str) else None
                outcome.error = Interrupted("interrupted before it started")
                continue
            batch.work(start, outcome)

    threads = [threading.Thread(target=worker, name=f"tasks-{n}") for n in range(min(max(1, jobs), len(starts)))]
    # Ctrl-C and SIGTERM only ask every task to pause; this thread waits until all of them have.
    with signals_pause(batch.stop):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return outcomes


class _Batch:
    def __init__(self, root: Path, config: Config, emit_for: Callable[[Task], EventSink],
                 budget_usd: float | None) -> None:
        self.root = root
        self.config = config
        self.emit_for = emit_for
        self.budget_usd = budget_usd
        self.lock = threading.RLock()  # RLock: a signal handler may call stop() while this thread holds it
        self.stopping = False
        self.runners: list[Runner] = []

    def work(self, start: Start, outcome: Outcome) -> None:
        ledger: Ledger | None = None
        try:
            ledger = Ledger(paths.ledger_path(self.root))
            outcome.task_id = start if isinstance(start, str) else start(ledger)
            task = load_task(self.root, ledger, outcome.task_id)
            runner = Runner(self.root, ledger, self.config, outcome.task_id, emit=self.emit_for(task))
            with self.lock:
                self.runners.append(runner)
                if self.stopping:
                    runner.cancel()
            runner.run(budget_usd=self.budget_usd)
        except Exception as exc:  # a SpecRelayError, or a bug: either way, it must not take the others down
            outcome.error = exc
        finally:
            if ledger is not None:
                ledger.close()

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for runner in self.runners:
                runner.cancel()
