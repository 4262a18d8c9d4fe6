"""The ledger: SQLite record of tasks, steps and every model call, with tokens and cost.

A cost is a number or NULL (unknown), never a made-up zero. :class:`Ledger` is the connection;
what it returns are the frozen rows of :mod:`specrelay.ledger.rows`, and statuses are the enums of
:mod:`specrelay.ledger.status`.
"""

from specrelay.ledger.migrations import MIGRATIONS
from specrelay.ledger.rows import (
    CallRecord,
    CallRow,
    CallUsage,
    NewStep,
    StepRow,
    TaskRow,
    TaskUsage,
    Totals,
    pack_prompt,
    unpack_prompt,
)
from specrelay.ledger.status import CLOSED, FINISHED, StepStatus, TaskStatus
from specrelay.ledger.store import UNSET, GroupBy, Ledger, Unset, wait_s

__all__ = ["CLOSED", "FINISHED", "MIGRATIONS", "UNSET", "CallRecord", "CallRow", "CallUsage", "GroupBy", "Ledger",
           "NewStep", "StepRow", "StepStatus", "TaskRow", "TaskStatus", "TaskUsage", "Totals", "Unset", "pack_prompt",
           "unpack_prompt", "wait_s"]
