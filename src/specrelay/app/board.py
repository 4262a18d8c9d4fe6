"""The task list kept for a face that lives long (the dashboard): every task's status, read whole once,
then brought up to date by what changed.

Each :meth:`TaskBoard.views` asks a :class:`~specrelay.app.watch.TaskWatch` which tasks were written
since the last call (one cheap query when nothing was) and builds the status of those alone; the ages
are worked out afresh each time. With a thousand tasks the list is then as quick to give as a few.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime
from pathlib import Path

from specrelay.app.live import LIVE_TTL_S, Asker
from specrelay.app.views import TaskView, all_statuses
from specrelay.app.watch import TaskWatch
from specrelay.app.workspace import ledger_of

__all__ = ["TaskBoard"]


class TaskBoard:
    """Every task of the repository at ``root``, newest first, kept up to date between calls."""

    def __init__(self, root: Path, asker: Asker | None = None) -> None:
        self.root = root
        #: Who asks Temporal about the tasks handed to it, keeping the answers a few seconds.
        self.asker = Asker(ttl_s=LIVE_TTL_S) if asker is None else asker
        self._lock = threading.Lock()
        self._watch: TaskWatch | None = None
        #: Each task's creation (to the second, as its view has it), the order it came in, and its status.
        self._views: dict[str, tuple[float, int, TaskView]] = {}
        self._arrived = 0

    def views(self) -> list[TaskView]:
        """Every task's status, newest first, each as :func:`~specrelay.app.tasks.status` gives it."""
        with self._lock:
            if self._watch is None:
                watch = TaskWatch(self.root, asker=self.asker)
                watch.poll()  # the mark first: whatever is written after it comes in the next polls
                with ledger_of(self.root, readonly=True) as ledger:
                    newest_first = all_statuses(self.root, ledger, asker=self.asker)
                self._arrived = len(newest_first)
                self._views = {v.id: (_epoch(v), self._arrived - n, v) for n, v in enumerate(newest_first)}
                self._watch = watch
            else:
                for view in self._watch.poll():
                    known = self._views.get(view.id)
                    if known is None:  # a new task: after every one before it, even within the same second
                        self._arrived += 1
                    self._views[view.id] = (_epoch(view), known[1] if known else self._arrived, view)
            now = time.time()
            ordered = sorted(self._views.values(), key=lambda item: item[:2], reverse=True)
        return [dataclasses.replace(view, age_s=max(0, round(now - born))) for born, _, view in ordered]


def _epoch(view: TaskView) -> float:
    return datetime.fromisoformat(view.created_at).timestamp()
