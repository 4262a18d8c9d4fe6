"""What is still open in a task: the one rule the summary's next steps, ``status`` and ``merge`` share.

A task is finished (mergeable as it is) only when it is ``done`` and its last verification did not
fail. The runner never ends a task ``done`` over a failing verification: it ends it
``needs_attention`` with :func:`failed_verification_message`, so that ``resume --rounds N`` can
give the builder more rounds with the failing output.
"""

from __future__ import annotations

import json

from specrelay.engine.task import Task
from specrelay.ledger import TaskStatus

#: Statuses a task can be merged from without ``force``.
MERGEABLE = frozenset({TaskStatus.DONE})
#: How much of a task's message goes into a one-line refusal.
MESSAGE_LIMIT = 240
#: How a task's message starts when it ended because its verification failed.
FAILED_VERIFICATION = "verification failed"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MESSAGE_LIMIT else flat[:MESSAGE_LIMIT - 3] + "..."


def open_work(task: Task, status: TaskStatus) -> list[str]:
    """What is unfinished in a task, one phrase each; empty when it can be merged as it is."""
    items: list[str] = []
    message = task.message or ""
    failing = failing_checks(task)
    if status not in MERGEABLE:
        where = f" at step '{task.current_step}'" if task.current_step else ""
        why = f": {_one_line(message)}" if message else ""
        if failing and message.startswith(FAILED_VERIFICATION):
            # The checks in full rather than the clipped message: their log paths are what the user opens.
            why = f": {FAILED_VERIFICATION}: {'; '.join(failing)}"
        items.append(f"it is {status}{where}{why}")
    if failing and not (status not in MERGEABLE and message.startswith(FAILED_VERIFICATION)):
        items.append(f"its last verification failed ({'; '.join(failing)})")
    return items


def failing_checks(task: Task) -> list[str]:
    """The commands of the task's last verification that failed, with exit code and log."""
    path = task.folder / "verify.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("passed", True):
        return []
    out = []
    for c in data.get("commands") or []:
        if c.get("exit_code") == 0 and not c.get("timed_out"):
            continue
        state = "timed out" if c.get("timed_out") else f"exit {c.get('exit_code')}"
        log = f", log {task.folder / c['log']}" if c.get("log") else ""
        out.append(f"`{c.get('command')}` {state}{log}")
    return out


def failed_verification_message(task_id: str, failing: list[str]) -> str:
    """The needs_attention message of a task whose steps all ran but whose last verification failed."""
    return (f"{FAILED_VERIFICATION}: {'; '.join(failing)}; `specrelay resume {task_id} --rounds 1` gives the "
            "builder another round with its output")
