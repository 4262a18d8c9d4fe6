"""Following tasks as they change: what a live face (the dashboard) asks, a few times a second.

:class:`TaskWatch` keeps a mark of the ledger's last writes (the newest call, the last task and step
updates); each :meth:`~TaskWatch.poll` first reads that mark alone (one cheap query), and only when it
moved builds the status of the tasks written since, returning those whose status differs from what
it returned before. A task whose run stopped without a word (its process killed) changes its
effective status without any write: the ones last seen running are looked at again every
``recheck_s`` seconds. A task handed to Temporal changes without a write too (a worker takes its step):
its server is asked then, through an :class:`~specrelay.app.live.Asker` that keeps the answers a few
seconds (one shared by every watch of a face), all the tasks looked at asked at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay.app.live import LIVE_TTL_S, Asker
from specrelay.app.views import TaskStatus, TaskView, task_view
from specrelay.app.workspace import ledger_of
from specrelay.engine.task import Task, load_task
from specrelay.ledger import Ledger

__all__ = ["Mark", "TaskWatch"]

#: Writers stamp their own clocks, and commit a little after: a write is looked for this far before the mark.
_SLACK_S = 2.0


@dataclass(frozen=True)
class Mark:
    """Where the ledger's writes had got to: the newest call's row id, the latest task and step times."""

    call_id: int
    updated_at: float
    step_at: float


def _mark(ledger: Ledger) -> Mark:
    row = ledger.conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM calls), (SELECT COALESCE(MAX(updated_at), 0) FROM tasks), "
        "(SELECT COALESCE(MAX(MAX(COALESCE(started_at, 0)), MAX(COALESCE(finished_at, 0))), 0) FROM steps)"
    ).fetchone()
    return Mark(int(row[0]), float(row[1]), float(row[2]))


def _touched(ledger: Ledger, since: Mark) -> list[str]:
    """The ids of the tasks written since ``since`` (with slack for the writers' clocks)."""
    rows = ledger.conn.execute(
        "SELECT id FROM tasks WHERE updated_at >= ? "
        "UNION SELECT DISTINCT task_id FROM calls WHERE id > ? AND task_id IS NOT NULL "
        "UNION SELECT DISTINCT task_id FROM steps WHERE started_at >= ? OR finished_at >= ?",
        (since.updated_at - _SLACK_S, since.call_id, since.step_at - _SLACK_S, since.step_at - _SLACK_S))
    return [str(r[0]) for r in rows]


def _shown(view: TaskView) -> dict[str, Any]:
    """What a change is judged by: everything but the age, which changes by itself."""
    out = view.to_json()
    out.pop("age_s")
    return out


class TaskWatch:
    """The tasks of one repository (or one task of it, ``only``) that changed since the last poll."""

    def __init__(self, root: Path, *, only: str | None = None, recheck_s: float = 2.0,
                 asker: Asker | None = None) -> None:
        self.root = root
        self.asker = Asker(ttl_s=LIVE_TTL_S) if asker is None else asker
        self.only = only
        self.recheck_s = recheck_s
        self._mark: Mark | None = None
        self._seen: dict[str, dict[str, Any]] = {}
        self._running: set[str] = set()
        self._rechecked = time.monotonic()

    def poll(self) -> list[TaskView]:
        """The tasks whose status changed since the last poll (the first poll only takes the mark, and notes
        the tasks the ledger calls running)."""
        with ledger_of(self.root, readonly=True) as ledger:
            mark = _mark(ledger)
            since, self._mark = self._mark, mark
            if since is None:
                running = ledger.conn.execute("SELECT id FROM tasks WHERE status = ?", (str(TaskStatus.RUNNING),))
                self._running = {str(r[0]) for r in running}
                for task in self._tasks(ledger, _touched(ledger, mark)):  # written just before: looked at again
                    self._view(ledger, task)
                return []
            ids = set(_touched(ledger, since)) if mark != since else set()
            if time.monotonic() - self._rechecked >= self.recheck_s:
                ids |= self._running
                self._rechecked = time.monotonic()
            if self.only is not None:
                ids &= {self.only}
            return [v for v in (self._view(ledger, task) for task in self._tasks(ledger, sorted(ids))) if v is not None]

    def _tasks(self, ledger: Ledger, ids: list[str]) -> list[Task]:
        """The tasks ``ids`` names that exist, the servers of those handed to Temporal asked at once (not one
        task after another)."""
        found = [load_task(self.root, ledger, task_id) for task_id in ids if ledger.task(task_id) is not None]
        self.asker.answers(found)
        return found

    def _view(self, ledger: Ledger, task: Task) -> TaskView | None:
        task_id = task.id
        view = task_view(ledger, task, self.asker)
        if view.status is TaskStatus.RUNNING:
            self._running.add(task_id)
        else:
            self._running.discard(task_id)
        shown = _shown(view)
        if self._seen.get(task_id) == shown:
            return None
        self._seen[task_id] = shown
        return view
