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
from specrelay.engine.phases.base import Emit
from specrelay.engine.runner import Runner, sigterm_as_interrupt
from specrelay.ledger import Ledger

Start = Callable[[Ledger], str]
"""Makes a task ready to run (creating it, or naming an existing one) and returns its id."""


@dataclass
class Outcome:
    """How one task of a batch ended: ``error`` is None when its run returned (done or needs_attention)."""

    task_id: str | None = None
    error: BaseException | None = None


def run_tasks(root: Path, config: Config, starts: Sequence[Start], *, emit_for: Callable[[str], Emit],
              budget_usd: float | None = None) -> list[Outcome]:
    """Run every task to its end or to a resumable stop; one outcome per start, in order.

    ``emit_for(task_id)`` gives the progress callback of each task, once its id is known. A
    :class:`SpecRelayError` from creating or running a task (an :class:`Interrupted` one after
    Ctrl-C) becomes that task's outcome. A single task runs in the calling thread, as it always has.
    """
    batch = _Batch(root, config, emit_for, budget_usd)
    outcomes = [Outcome() for _ in starts]
    if len(starts) == 1:
        batch.work(starts[0], outcomes[0])
        return outcomes
    threads = [threading.Thread(target=batch.work, args=(start, outcome), name=f"task-{n}", daemon=True)
               for n, (start, outcome) in enumerate(zip(starts, outcomes, strict=True))]
    with sigterm_as_interrupt():
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                try:
                    thread.join(0.2)
                except KeyboardInterrupt:  # again and again if need be: every task must reach its pause
                    batch.stop()
    return outcomes


class _Batch:
    def __init__(self, root: Path, config: Config, emit_for: Callable[[str], Emit],
                 budget_usd: float | None) -> None:
        self.root = root
        self.config = config
        self.emit_for = emit_for
        self.budget_usd = budget_usd
        self.lock = threading.Lock()
        self.stopping = False
        self.runners: list[Runner] = []

    def work(self, start: Start, outcome: Outcome) -> None:
        ledger = Ledger(paths.ledger_path(self.root))
        try:
            outcome.task_id = start(ledger)
            runner = Runner(self.root, ledger, self.config, outcome.task_id, emit=self.emit_for(outcome.task_id))
            with self.lock:
                self.runners.append(runner)
                if self.stopping:
                    runner.cancel()
            runner.run(budget_usd=self.budget_usd)
        except Exception as exc:  # a SpecRelayError, or a bug: either way, it must not take the others down
            outcome.error = exc
        finally:
            ledger.close()

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for runner in self.runners:
                runner.cancel()
