"""The statuses a task and a step can have, as stored in the ledger and shown by ``--json``.

They are ``StrEnum``s: each member is the very string the ledger stores, so ledgers written before
the enums existed read as they did, and JSON output is unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task stands. running, paused and failed can be resumed; the others are outcomes."""

    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    DONE = "done"
    NEEDS_ATTENTION = "needs_attention"
    MERGED = "merged"
    DISCARDED = "discarded"


#: A task that has ended: resuming it runs nothing (``resume --rounds`` may reopen needs_attention).
FINISHED = frozenset({TaskStatus.DONE, TaskStatus.NEEDS_ATTENTION, TaskStatus.MERGED, TaskStatus.DISCARDED})
#: A task whose worktree and branch are gone or merged: `merge`, `update` and `resume` refuse it.
CLOSED = frozenset({TaskStatus.MERGED, TaskStatus.DISCARDED})


class StepStatus(StrEnum):
    """Where one step of a task stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    #: The step stopped the task with an error (its ``error`` says which); resuming runs it again.
    FAILED = "failed"
