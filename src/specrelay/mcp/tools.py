"""The tools the MCP server offers: each a thin call into the application layer, with typed parameters
and the JSON the CLI's ``--json`` prints (:mod:`specrelay.app.jsonout`) as its answer.

A tool says what went wrong by raising a :class:`~specrelay.errors.SpecRelayError`, as the CLI's commands
do; the server (:mod:`specrelay.mcp.server`) turns it into a tool error carrying its one-line message.
``merge`` and ``discard`` change the user's repository: without ``confirm: true`` they only say what
they would do (refused as they would refuse), and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from specrelay.app.jsonout import plain
from specrelay.errors import GitError

if TYPE_CHECKING:
    from specrelay.app.tasks import DiscardPlan, MergePlan

TaskId = Annotated[str, Field(description="The task: its id, a unique prefix of it, or `last`.")]
Budget = Annotated[float | None, Field(description="Most to spend, in USD (default: the config's budget).")]
Confirm = Annotated[bool, Field(description="true to do it; otherwise only say what would be done.")]


class Tools:
    """specrelay's tools for the repository at (or above) ``where``, found again at each call: a server
    started outside a repository answers each call with the error that says so."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def _root(self) -> Path:
        from specrelay.app.workspace import find_root

        try:
            return find_root(self.where)
        except GitError as exc:  # the folder the server was started in is what to change: say how too
            raise GitError(f"{exc}, or start the server with `specrelay mcp --repo PATH`.") from None

    def _root_or_none(self) -> Path | None:
        from specrelay.app.workspace import root_or_none

        return root_or_none(self.where)

    def all(self) -> list[Callable[..., dict[str, Any]]]:
        """Every tool, in the order a client lists them."""
        return [self.run_task, self.task_status, self.show_artifact, self.review, self.ask, self.cost,
                self.resume, self.merge, self.discard]

    def run_task(
        self,
        request: Annotated[str, Field(description="What to build, in plain words.")],
        workflow: Annotated[str, Field(description="A workflow name or path.")] = "multi-model",
        base: Annotated[str | None, Field(description="Branch or commit to start from (default: HEAD).")] = None,
        budget_usd: Budget = None,
    ) -> dict[str, Any]:
        """Start a coding task in the background: plan, build, verify and review the request in a new git
        worktree and branch. Returns at once with the task's id; follow it with task_status."""
        from specrelay.app import run

        root = self._root()
        plan = run.plan_run(root, [request], workflow=workflow, base=base, budget_usd=budget_usd, where=self.where)
        return _object(run.detach(plan).to_json())

    def task_status(
        self,
        task_id: Annotated[str | None, Field(description="One task (an id, a unique prefix, `last`); "
                                             "default: every task.")] = None,
        status: Annotated[list[str] | None, Field(description="Only tasks with one of these statuses "
                                                  "(running, paused, done, needs_attention, ...).")] = None,
        limit: Annotated[int | None, Field(description="At most this many tasks, the newest.")] = None,
    ) -> dict[str, Any]:
        """The status of every task (or one), newest first: status, what is still open, current step, round,
        tokens, cost, verification. `tasks` holds the status objects `specrelay status --json` prints."""
        from specrelay.app import tasks

        views = tasks.status(self._root(), task_id, statuses=status or (), limit=limit)
        return {"tasks": plain([v.to_json() for v in views])}

    def show_artifact(
        self,
        task_id: TaskId,
        artifact: Annotated[str, Field(description="spec, review (the last review, Markdown), findings (the "
                                       "last review as JSON: verdict and findings), diff (base..HEAD), "
                                       "or the name of a file in the task's folder (e.g. verify_r1_a0_1.log).")],
    ) -> dict[str, Any]:
        """One of a task's artifacts: its spec, its last review, the findings, its diff, or any file of its
        folder by name."""
        import json

        from specrelay.app import tasks

        root = self._root()
        task = tasks.task_of(root, task_id)
        if artifact == "diff":
            return {"task": task.id, "artifact": "diff", "text": tasks.diff(root, task)}
        if artifact == "findings":
            name, data = tasks.last_review(root, task.id)
            return {"task": task.id, "artifact": name, **json.loads(data)}
        if artifact == "review":
            name, data = tasks.last_review(root, task.id, markdown=True)
        else:
            name = "spec.md" if artifact == "spec" else artifact
            data = tasks.artifact(root, task.id, name)
        return {"task": task.id, "artifact": name, "text": data.decode("utf-8", errors="replace")}

    def review(
        self,
        range: Annotated[str | None, Field(description="A..B, a branch, or a task id; default: the "
                                           "uncommitted changes of the repository.")] = None,
        preset: Annotated[str | None, Field(description="One reviewer preset (default: [routes] review).")] = None,
        panel: Annotated[list[str] | None, Field(description="Several reviewer presets, run in parallel; "
                                                 "their findings merged by agreement.")] = None,
    ) -> dict[str, Any]:
        """Review a diff with one model or a panel of models: the verdict (approve or request_changes), why,
        and the merged findings, as `specrelay review --json` prints them; with what was reviewed (`reviewed`,
        `files`) and the folder the report is saved in (None when there was nothing to review)."""
        from specrelay.app.review import review

        result = review(self._root(), where=self.where, range_=range, panel=panel, preset=preset)
        return _object({**result.to_json(), "reviewed": result.label, "files": result.files,
                        "folder": result.folder})

    def ask(
        self,
        prompt: Annotated[str, Field(description="The question or instruction.")],
        preset: Annotated[str | None, Field(description="The preset to ask (default: the ask route's).")] = None,
        route: Annotated[str | None, Field(description="Ask the preset of this route of the config's [routes] "
                                           "(plan, implement, review, research, search, ask, vision).")] = None,
        budget_usd: Budget = None,
    ) -> dict[str, Any]:
        """Send one prompt through one preset, outside any task: the answer, with its tokens and cost."""
        from specrelay.app.ask import ask

        return _object(ask(self._root_or_none(), prompt, preset=preset, route=route, budget_usd=budget_usd).to_json())

    def cost(
        self,
        task_id: Annotated[str | None, Field(description="Only this task's calls (default: all).")] = None,
        by: Annotated[str | None, Field(description="Group by task, phase, preset or model.")] = None,
        as_preset: Annotated[str | None, Field(description="Also price the same tokens on this preset.")] = None,
    ) -> dict[str, Any]:
        """Tokens and cost from the ledger, in total and grouped, and what one preset alone would have cost."""
        from specrelay.app.cost import cost

        return _object(cost(self._root_or_none(), task=task_id, by=by, as_preset=as_preset).to_json())

    def resume(
        self,
        task_id: TaskId,
        budget_usd: Annotated[float | None, Field(description="A new budget in USD for the task.")] = None,
        rounds: Annotated[int | None, Field(description="Allow this many more review rounds (a needs_attention "
                                            "task continues from its review).", ge=1)] = None,
    ) -> dict[str, Any]:
        """Continue a paused, failed or interrupted task from its first unfinished step, in the background.
        A task that has already finished is only reported."""
        from specrelay.app import run

        plan = run.plan_resume(self._root(), [task_id], budget_usd=budget_usd, rounds=rounds)
        if not plan.pending:
            return {"started": None, "finished": plain([s.to_json() for s in plan.finished_summaries()])}
        return {"started": plain(run.detach_resume(plan).to_json()), "finished": None}

    def merge(
        self,
        task_id: TaskId,
        confirm: Confirm = False,
        ff_only: Annotated[bool, Field(description="Only fast-forward.")] = False,
        delete: Annotated[bool, Field(description="Then remove the task's worktree and branch.")] = False,
        force: Annotated[bool, Field(description="Merge even a task that is not finished; with delete, also "
                                     "throw away its uncommitted changes.")] = False,
    ) -> dict[str, Any]:
        """Merge a task's branch into its base branch. This changes the user's repository: without
        confirm: true it only says what it would do (or why it would refuse) and changes nothing."""
        from specrelay.app import tasks

        root = self._root()
        if not confirm:
            plan = tasks.merge_plan(root, task_id, ff_only=ff_only, delete=delete, force=force)
            return {"done": False, "would": _merge_words(plan), **plain(asdict(plan))}
        result = tasks.merge(root, task_id, ff_only=ff_only, delete=delete, force=force)
        return {"done": True, **plain(asdict(result))}

    def discard(
        self,
        task_id: TaskId,
        confirm: Confirm = False,
        force: Annotated[bool, Field(description="Even with uncommitted or unmerged work.")] = False,
    ) -> dict[str, Any]:
        """Remove a task's worktree and branch (its record stays). This changes the user's repository:
        without confirm: true it only says what it would remove (or why it would refuse) and changes nothing."""
        from specrelay.app import tasks

        root = self._root()
        if not confirm:
            plan = tasks.discard_plan(root, task_id, force=force)
            return {"done": False, "would": _discard_words(plan), **plain(asdict(plan))}
        return {"done": True, **plain(asdict(tasks.discard(root, task_id, force=force)))}


def _object(data: Any) -> dict[str, Any]:
    """A result that is one JSON object, as plain JSON values."""
    out = plain(data)
    assert isinstance(out, dict), out
    return out


def _merge_words(plan: MergePlan) -> str:
    how = "fast-forward " if plan.ff_only else ""
    text = f"{how}merge {plan.branch} into {plan.into} in {plan.worktree}"
    if plan.forced:
        text += f", although it is not finished ({'; '.join(plan.forced)})"
    if plan.delete:
        text += f", then remove the task's worktree and branch {plan.branch}"
        if plan.lost:
            text += f", throwing away {'; '.join(plan.lost)}"
    return f"Would {text}. Call merge again with confirm: true to do it."


def _discard_words(plan: DiscardPlan) -> str:
    parts = [f"the worktree {plan.worktree}" if plan.worktree else "", f"the branch {plan.branch}" if plan.branch
             else "", f"the leftovers {', '.join(plan.refs)}" if plan.refs else ""]
    gone = " and ".join(p for p in parts if p) or "nothing (its worktree and branch are gone already)"
    lost = f", throwing away {'; '.join(plan.lost)}" if plan.lost else ""
    return f"Would remove {gone}{lost}; its record stays. Call discard again with confirm: true to do it."
