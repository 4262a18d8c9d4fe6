"""Time spent in git, per process, so a benchmark can split a task's time into git and the rest."""

from __future__ import annotations

import threading
from typing import TypedDict


class GitStats(TypedDict):
    """Totals since the last :func:`reset_git_stats`.

    ``seconds`` is summed over processes, so concurrent calls from several threads can add up to more
    than the wall-clock time that passed.
    """

    calls: int
    seconds: float
    lock_waits: int
    lock_wait_seconds: float


_guard = threading.Lock()
_stats: GitStats = {"calls": 0, "seconds": 0.0, "lock_waits": 0, "lock_wait_seconds": 0.0}


def git_stats() -> GitStats:
    """A snapshot of the counters: git processes run, seconds in them, lock waits and seconds waited."""
    with _guard:
        return GitStats(**_stats)


def reset_git_stats() -> None:
    """Set every counter back to zero."""
    with _guard:
        _stats.update({"calls": 0, "seconds": 0.0, "lock_waits": 0, "lock_wait_seconds": 0.0})


def record_process(seconds: float) -> None:
    """Count one finished git process that took ``seconds``."""
    with _guard:
        _stats["calls"] += 1
        _stats["seconds"] += seconds


def record_lock_wait(seconds: float) -> None:
    """Count one repository-lock acquisition that had to wait ``seconds`` for another holder."""
    with _guard:
        _stats["lock_waits"] += 1
        _stats["lock_wait_seconds"] += seconds
