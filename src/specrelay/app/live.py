"""What a task handed to Temporal is doing now: its workflow asked (its ``progress`` query and its pending
step), said in one line for ``status``, ``show``, ``cost`` and the dashboard.

An :class:`Asker` asks about many driven tasks at once (one round-trip each, all together), and about each
at most once in its life (a command's) or once per ``ttl_s`` seconds (the dashboard's, which lives long).
A server that cannot be asked within :data:`~specrelay.engine.temporal.submit.ASK_TIMEOUT_S` leaves the
ledger's message as the line.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from specrelay.engine.lock import driver_of
from specrelay.engine.task import Task
from specrelay.errors import SpecRelayError, UserError

__all__ = ["LIVE_TTL_S", "Asker", "Remote", "remote_of"]

#: How long the dashboard keeps a server's answer about a driven task before it asks again.
LIVE_TTL_S = 3.0

#: An answer about one driven task (``ask_driven``'s): ``state`` running / ended / unreachable, and more.
Answer = dict[str, Any]


@dataclass(frozen=True)
class Remote:
    """Where a driven task runs: its workflow and server, and (when the server answered) its step and worker."""

    backend: str
    address: str
    namespace: str
    workflow_id: str
    #: running (a worker has its step), waiting (for a worker on ``queue``), unreachable (the server could
    #: not be asked), or ended (its workflow is closed).
    state: str
    #: The queue its step runs or waits on (the backend's own, when the server could not be asked).
    queue: str
    step: str | None = None
    #: ``host:pid`` of the worker running the step.
    worker: str | None = None
    attempt: int | None = None
    #: Why the server could not be asked.
    error: str | None = None
    #: What ``status`` says of the task: from the server's answer, else the ledger's message.
    line: str | None = None


def remote_of(driver: Mapping[str, str], answer: Answer | None, step: str | None, message: str | None) -> Remote:
    """A driven task's :class:`Remote`: ``driver`` its ``remote.json``, ``answer`` what its server said (None:
    not asked), ``step`` its first unfinished step, ``message`` the ledger's."""
    answer = answer or {"state": "unreachable"}
    queue = str(answer.get("step_queue") or answer.get("queue") or driver.get("queue", ""))
    base: dict[str, Any] = {"backend": driver.get("backend", "temporal"), "address": driver.get("address", ""),
                            "namespace": driver.get("namespace", "default"),
                            "workflow_id": driver.get("workflow_id", ""), "queue": queue}
    if answer["state"] != "running":
        return Remote(**base, state=str(answer["state"]), step=step, error=answer.get("error"), line=message)
    step = step or answer.get("next_step")
    attempt = int(answer.get("attempt") or 1)
    again = attempt if attempt > 1 else None
    if answer.get("pending") == "started":
        worker = str(answer.get("running_on") or "?").removesuffix(f"@{queue}")
        tail = f", attempt {attempt}" if again else ""
        return Remote(**base, state="running", step=step, worker=worker, attempt=again,
                      line=f"on Temporal: {step or 'a step'} on worker {worker} (queue {queue!r}{tail})")
    waits = f"waiting on Temporal queue {queue!r} for a worker" + (f" (attempt {attempt})" if again else "")
    return Remote(**base, state="waiting", step=step, attempt=again,
                  line=f"next: {step}, {waits}" if step else waits)


class Asker:
    """Asks Temporal about driven tasks, many at once; each answer kept for ``ttl_s`` seconds (None: for as
    long as the asker lives, so that one command asks about each task once)."""

    def __init__(self, ttl_s: float | None = None) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        #: Each task's answer: when it came, the ``remote.json`` it was about, the answer.
        self._kept: dict[str, tuple[float, dict[str, str], Answer]] = {}

    def answers(self, tasks: Sequence[Task]) -> dict[str, Answer]:
        """The answer about each driven task of ``tasks`` (by id), those not kept asked together."""
        drivers = {t.id: found for t in tasks if (found := driver_of(t.folder)) is not None}
        if not drivers:
            return {}
        with self._lock:  # another thread asking the same meanwhile (the dashboard's) waits for this answer
            now = time.monotonic()
            stale = {i: d for i, d in drivers.items() if not self._fresh(i, d, now)}
            if stale:
                for task_id, answer in _ask(stale).items():
                    self._kept[task_id] = (now, stale[task_id], answer)
            kept = {i: self._kept[i][2] for i in drivers}
        # Outside the lock (a slow remote holds up no other asker); an ended one is taken back when let go.
        _take_back([t for t in tasks if stale.get(t.id, {}).get("carried") and kept[t.id]["state"] != "ended"])
        return kept

    def forget(self, task_id: str) -> None:
        """Drop what is kept about ``task_id`` (its workflow ended, say)."""
        with self._lock:
            self._kept.pop(task_id, None)

    def _fresh(self, task_id: str, driver: dict[str, str], now: float) -> bool:
        kept = self._kept.get(task_id)
        return (kept is not None and kept[1] == driver
                and (self.ttl_s is None or now - kept[0] < self.ttl_s))


def _take_back(tasks: Sequence[Task]) -> None:
    """Carried tasks (``[backend] remote``) as their workers left them on the git remote, asked as often as
    their servers are; a remote that cannot be reached leaves them as they read."""
    if not tasks:
        return
    from concurrent.futures import ThreadPoolExecutor

    from specrelay.engine.temporal.carry import take_back

    def one(task: Task) -> None:
        found = driver_of(task.folder) or {}
        with contextlib.suppress(SpecRelayError, OSError):  # as it reads, until the next look
            take_back(task, found.get("carried", ""))

    with ThreadPoolExecutor(max_workers=min(8, len(tasks))) as pool:  # a fetch each, side by side
        list(pool.map(one, tasks))


def _ask(drivers: dict[str, dict[str, str]]) -> dict[str, Answer]:
    """``ask_driven`` run to its end from synchronous code, in this thread or (inside an event loop: a face's
    synchronous handler) a thread of its own."""
    import asyncio

    from specrelay.engine.temporal.connect import require_sdk

    try:
        require_sdk()
    except UserError as exc:
        return {task_id: {"state": "unreachable", "error": str(exc)} for task_id in drivers}
    from specrelay.engine.temporal.submit import ask_driven

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(ask_driven(drivers))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as one:
        return one.submit(asyncio.run, ask_driven(drivers)).result()
