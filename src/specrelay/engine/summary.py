"""What a task looks like from outside: its status object (for status/show --json) and its costs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specrelay import gitrepo
from specrelay.config import Config
from specrelay.engine.lock import is_running
from specrelay.engine.openwork import open_work
from specrelay.engine.task import Task, all_tasks, load_task
from specrelay.errors import UserError
from specrelay.ledger import Ledger, TaskStatus
from specrelay.workflow.kinds import KindSpec


def effective_status(task: Task) -> TaskStatus:
    """A task the ledger calls running but whose lock nobody holds was cut off: it is paused."""
    if task.status is TaskStatus.RUNNING and not is_running(task.folder):
        return TaskStatus.PAUSED
    return task.status


def status_object(root: Path, ledger: Ledger, task: Task) -> dict[str, Any]:
    """A task as ``status --json`` shows it; ``open`` lists what is unfinished (empty: ready to merge)."""
    usage = ledger.task_usage(task.id)
    status = effective_status(task)
    steps = [{"title": r.title, "kind": r.kind, "presets": list(r.presets), "status": r.status, "round": r.round,
              "detail": r.detail_data()} for r in ledger.steps(task.id)]
    return {
        "id": task.id, "title": task.title, "status": status, "open": open_work(task, status),
        "workflow": task.workflow,
        "branch": task.branch, "base_branch": task.base_branch, "base_sha": task.base_sha,
        "worktree": str(task.worktree), "worktree_exists": task.worktree.is_dir(), "folder": str(task.folder),
        "current_step": task.current_step, "message": task.message, "steps": steps, "rounds": task.rounds,
        "created_at": datetime.fromtimestamp(task.created_at, UTC).isoformat(timespec="seconds"),
        "age_s": max(0, round(time.time() - task.created_at)),
        "cost_usd": usage.cost_usd, "simulated": usage.simulated,
        # every attempt, then apart: the calls that answered and the attempts that failed (retried or not)
        "calls": usage.calls, "ok_calls": usage.ok_calls, "failed_calls": usage.failed_calls,
        "unknown_cost_calls": usage.unknown_cost_calls,
        "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "budget_usd": task.budget_usd, "panel": panel_of(task), "verification": verification_of(steps),
    }


def verification_of(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The task's last verification: ``state`` (passed / failed / not_configured), ``passed`` (None when
    nothing was configured) and every command with its exit code and log. None before any verify step ran.

    Several verify steps: failed if any failed, passed if any passed, else not configured.
    """
    details = [s["detail"] for s in steps if _spec_has(s["kind"], lambda k: k.commands) and s["detail"]]
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


def all_status(root: Path, ledger: Ledger, *, statuses: Collection[TaskStatus] = (),
               limit: int | None = None) -> list[dict[str, Any]]:
    """Every task's status object, newest first; only those in ``statuses`` (when given), at most ``limit``."""
    tasks = sorted(all_tasks(root, ledger), key=lambda t: t.created_at, reverse=True)
    if statuses:
        tasks = [t for t in tasks if effective_status(t) in statuses]
    return [status_object(root, ledger, t) for t in tasks[:limit]]


def cost_breakdown(ledger: Ledger, config: Config, task_id: str) -> dict[str, Any]:
    """Cost by phase and by preset, and the one-model counterfactual (every call on the planner's preset)."""
    from specrelay.llm.pricing import reprice

    out: dict[str, Any] = {"by_phase": [t.as_json() for t in ledger.totals("phase", task_id)],
                           "by_preset": [t.as_json() for t in ledger.totals("preset", task_id)]}
    planner = next((r.presets[0] if r.presets else None for r in ledger.steps(task_id)
                    if _spec_has(r.kind, lambda k: k.plans)), None)
    if planner and planner in config.presets:
        out["one_model"] = {"preset": planner,
                            "cost_usd": reprice(ledger.usage_rows(task_id), config.preset(planner))}
    return out


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


def task_summary(root: Path, ledger: Ledger, config: Config, task_id: str) -> dict[str, Any]:
    from specrelay.engine.leftovers import leftovers_of

    task = load_task(root, ledger, task_id)
    return {**status_object(root, ledger, task), "costs": cost_breakdown(ledger, config, task_id),
            "leftovers": [kept.to_json() for kept in leftovers_of(root, task.id)]}


def _spec_has(kind: str, has: Callable[[KindSpec], bool]) -> bool:
    """Whether the step kind recorded as ``kind`` has a property (False for a kind no longer registered)."""
    from specrelay.engine.steps import spec_of

    spec = spec_of(kind)
    return spec is not None and has(spec)
