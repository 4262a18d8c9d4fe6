"""What a task's workflow carries between its activities: plain data, importable inside the workflow sandbox."""

from __future__ import annotations

from dataclasses import dataclass

#: The workflow type's name, and its activity's: a worker of any later specrelay serves them.
WORKFLOW = "specrelay.task"
ADVANCE = "specrelay.advance"
RELEASE = "specrelay.release"
#: How often a running step tells the server it is alive, and how long the server waits before it gives
#: the step to another worker.
HEARTBEAT_S = 0.5
HEARTBEAT_TIMEOUT_S = 3.0


@dataclass
class Job:
    """One task to drive: the repository holding it, and its id.

    Without ``remote`` the workers share the submitter's repository folder (``root``, on one machine or
    a shared disk); with it, each worker takes the task from that git remote into a clone of its own
    (:mod:`~specrelay.engine.temporal.carry`), and ``root`` only names the submitter's folder."""

    root: str
    task_id: str
    #: The queue of steps whose preset names none (``[backend] queue``).
    queue: str
    #: Replaces the task's budget (``resume --budget``).
    budget_usd: float | None = None
    #: The queue of the task's first unfinished step, where the workflow's first activity goes.
    first_queue: str | None = None
    #: The git remote's URL the task is carried through ("": workers share ``root``), and its branch.
    remote: str = ""
    branch: str = ""
    #: How many times a step is tried before the task is let go (``[backend] step_attempts``).
    attempts: int = 8


@dataclass
class Advanced:
    """What one step did: whether the task ended (and how), and where its next step runs."""

    ended: bool
    status: str
    message: str | None = None
    #: The queue of the next step (None when the task ended).
    next_queue: str | None = None
    #: The title of the step just run, and of the next.
    step: str | None = None
    next_step: str | None = None
    #: ``host:pid`` of the worker that ran the step.
    worker: str = ""


def workflow_id(task_id: str) -> str:
    """The workflow of task ``task_id``: one per task, so the same task is never driven twice at once."""
    return f"specrelay-{task_id}"
