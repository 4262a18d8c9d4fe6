"""Facts about a task the faces show: its effective status, its last verification and review panel, its diff.

The typed status and summary built from them are the application layer's (``app/views.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specrelay import gitrepo
from specrelay.engine.lock import driver_of, is_running
from specrelay.engine.task import Task
from specrelay.errors import UserError
from specrelay.ledger import TaskStatus
from specrelay.workflow.kinds import KindSpec


def effective_status(task: Task) -> TaskStatus:
    """A task the ledger calls running but whose lock nobody holds, and that nothing drives from elsewhere
    (:func:`~specrelay.engine.lock.driver_of`), was cut off: it is paused. A paused
    task whose lock names a live process is running: a background run started for it, not yet past
    its start-up (the ledger says running once it is)."""
    if task.status is TaskStatus.RUNNING and not is_running(task.folder) and driver_of(task.folder) is None:
        return TaskStatus.PAUSED
    if task.status is TaskStatus.PAUSED and is_running(task.folder, others_only=True):
        return TaskStatus.RUNNING
    return task.status


def verification_of(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The task's last verification: ``state`` (passed / failed / not_configured), ``passed`` (None when
    nothing was configured) and every command with its exit code and log. None before any verify step ran.

    Several verify steps: failed if any failed, passed if any passed, else not configured.
    """
    details = [s["detail"] for s in steps if spec_has(s["kind"], lambda k: k.commands) and s["detail"]]
    if not details:
        return None
    # A ledger written before verification had three states recorded only "passed".
    states = [d.get("state") or ("passed" if d.get("passed") else "failed") for d in details]
    state = next((x for x in ("failed", "passed") if x in states), "not_configured")
    commands = [c for d in details for c in d.get("commands", [])]
    return {"state": state, "passed": None if state == "not_configured" else state == "passed",
            "commands": commands}


def panel_of(task: Task) -> list[dict[str, Any]] | None:
    """The last review panel's reviewers (preset, model, verdict, cost, latency, error), if the task had one."""
    path = task.folder / "final_review.json"
    if not path.is_file():
        return None
    try:
        return list(json.loads(path.read_text(encoding="utf-8")).get("reviewers", []))
    except (OSError, ValueError):
        return None


def _task_head(root: Path, task: Task) -> tuple[Path, str]:
    """Where to read the task's commits, and its head: the branch (the worktree's HEAD while it exists)."""
    if task.worktree.is_dir():
        return task.worktree, "HEAD"
    if gitrepo.branch_exists(root, task.branch):
        return root, task.branch
    raise UserError(f"task {task.id}: its branch {task.branch} and worktree are gone ({task.status}), "
                    "so there is no diff to show.")


def task_diff(root: Path, task: Task) -> str:
    """The task's unified diff, from its base commit to its head (committed work only)."""
    where, head = _task_head(root, task)
    return gitrepo.diff(where, task.base_sha, head)


def task_diffstat(root: Path, task: Task) -> dict[str, Any] | None:
    """Files changed from the task's base to its head, with lines added and deleted; None when it has no branch."""
    try:
        where, head = _task_head(root, task)
    except UserError:
        return None
    from specrelay.gitrepo.diffs import diff_stat

    files = [{"path": p, "added": a, "deleted": d, "binary": a is None}
             for p, a, d in diff_stat(where, task.base_sha, head)]
    return {"files_changed": len(files), "insertions": sum(f["added"] or 0 for f in files),
            "deletions": sum(f["deleted"] or 0 for f in files), "files": files}


def spec_has(kind: str, has: Callable[[KindSpec], bool]) -> bool:
    """Whether the step kind recorded as ``kind`` has a property (False for a kind no longer registered)."""
    from specrelay.engine.steps import spec_of

    spec = spec_of(kind)
    return spec is not None and has(spec)
