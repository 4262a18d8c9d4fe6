"""What a task looks like from outside: its status object (for status/show --json) and its costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from specrelay.config import Config
from specrelay.engine.lock import is_running
from specrelay.engine.task import Task, all_tasks, load_task
from specrelay.ledger import Ledger


def effective_status(task: Task) -> str:
    """A task the ledger calls running but whose lock nobody holds was cut off: it is paused."""
    if task.status == "running" and not is_running(task.folder):
        return "paused"
    return task.status


def status_object(root: Path, ledger: Ledger, task: Task) -> dict[str, Any]:
    usage = ledger.task_usage(task.id)
    steps = [{"title": r["title"], "kind": r["kind"], "presets": [p for p in r["presets"].split(",") if p],
              "status": r["status"], "round": r["round"],
              "detail": json.loads(r["detail"]) if r["detail"] else None}
             for r in ledger.steps(task.id)]
    return {
        "id": task.id, "title": task.title, "status": effective_status(task), "workflow": task.workflow,
        "branch": task.branch, "base_branch": task.base_branch, "base_sha": task.base_sha,
        "worktree": str(task.worktree), "worktree_exists": task.worktree.is_dir(), "folder": str(task.folder),
        "current_step": task.current_step, "message": task.message, "steps": steps, "rounds": task.rounds,
        "cost_usd": usage["cost_usd"], "simulated": bool(usage["simulated"]), "calls": usage["calls"],
        "unknown_cost_calls": usage["unknown_cost_calls"],
        "input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"],
        "budget_usd": task.budget_usd, "panel": panel_of(task), "verification": verification_of(steps),
    }


def verification_of(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The task's last verification: ``state`` (passed / failed / not_configured), ``passed`` (None when
    nothing was configured) and every command with its exit code and log. None before any verify step ran.

    Several verify steps: failed if any failed, passed if any passed, else not configured.
    """
    details = [s["detail"] for s in steps if s["kind"] == "verify" and s["detail"]]
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


def all_status(root: Path, ledger: Ledger) -> list[dict[str, Any]]:
    return [status_object(root, ledger, t) for t in all_tasks(root, ledger)]


def cost_breakdown(ledger: Ledger, config: Config, task_id: str) -> dict[str, Any]:
    """Cost by phase and by preset, and the one-model counterfactual (every call on the planner's preset)."""
    from specrelay.llm.pricing import reprice

    out: dict[str, Any] = {"by_phase": ledger.totals("phase", task_id), "by_preset": ledger.totals("preset", task_id)}
    planner = next((r["presets"].split(",")[0] for r in ledger.steps(task_id) if r["kind"] == "plan"), None)
    if planner and planner in config.presets:
        out["one_model"] = {"preset": planner,
                            "cost_usd": reprice(ledger.usage_rows(task_id), config.preset(planner))}
    return out


def task_summary(root: Path, ledger: Ledger, config: Config, task_id: str) -> dict[str, Any]:
    from specrelay.engine.leftovers import leftovers_of

    task = load_task(root, ledger, task_id)
    return {**status_object(root, ledger, task), "costs": cost_breakdown(ledger, config, task_id),
            "leftovers": [kept.to_json() for kept in leftovers_of(root, task.id)]}
