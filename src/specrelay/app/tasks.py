"""Tasks once they exist: their status, their detail and artifacts, and what happens to them next
(merge into the base branch, discard, bring up to date).

The rules of merging and throwing work away live in ``engine/finish.py``; this is where a face asks
for them, by the repository's root and a task reference (an id, a unique prefix, or ``last``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrelay.app.live import Asker
from specrelay.app.views import (
    CallView,
    DiffFile,
    Diffstat,
    TaskDetail,
    TaskStatus,
    TaskView,
    all_statuses,
    task_costs,
    task_view,
    with_overlaps,
)
from specrelay.app.workspace import ledger_of
from specrelay.config import load_config
from specrelay.engine import candidates, finish, leftovers
from specrelay.engine.attachments import FOLDER as ATTACHMENTS
from specrelay.engine.finish import DiscardPlan, DiscardResult, MergePlan, MergeResult, UpdateResult
from specrelay.engine.summary import task_diff, task_diffstat
from specrelay.engine.task import Task, load_task
from specrelay.errors import UserError
from specrelay.ledger import Ledger

__all__ = ["DiscardPlan", "DiscardResult", "MergePlan", "MergeResult", "UpdateResult", "artifact", "check_limit",
           "check_statuses", "diff", "diffstat", "discard", "discard_plan", "known_statuses", "last_review", "merge",
           "merge_plan", "show", "status", "task_of", "update"]

#: Where a task's last review is, in the order looked for: a panel's merged report, else one reviewer's.
REVIEW_REPORTS = (("final_review.json", "final_review.md"), ("review.json", "review.md"))


def known_statuses() -> str:
    """Every task status, for a message: ``running, paused, ...``."""
    return ", ".join(TaskStatus)


def check_statuses(names: Sequence[str]) -> tuple[TaskStatus, ...]:
    """The statuses to filter by, each checked, once each, in the order given."""
    for name in names:
        if name not in set(TaskStatus):
            raise UserError(f"--status {name}: no such status; expected one of {known_statuses()}.")
    return tuple(TaskStatus(name) for name in dict.fromkeys(names))


def check_limit(limit: int | None) -> None:
    """Refuse a limit that lists nothing."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: give a number of tasks, 1 or more (e.g. --limit 10).")


def status(root: Path, task_id: str | None = None, *, statuses: Sequence[str] = (),
           limit: int | None = None, overlaps: bool = False, asker: Asker | None = None) -> list[TaskView]:
    """Every task (or the one ``task_id`` names), newest first; only ``statuses``, at most ``limit``.
    With ``overlaps``, each live task's overlaps with the others (a git call or two per live task).
    The tasks handed to Temporal are asked about all at once (``asker``: a face's own, which keeps the
    answers a while)."""
    wanted = check_statuses(statuses)
    check_limit(limit)
    with ledger_of(root, readonly=True) as ledger:
        if task_id:
            views = [task_view(ledger, load_task(root, ledger, task_id), asker)]
        else:
            views = all_statuses(root, ledger, statuses=wanted, limit=limit, asker=asker)
        return with_overlaps(root, ledger, views) if overlaps else views


def task_of(root: Path, task_id: str) -> Task:
    """The task ``task_id`` names, read without creating anything."""
    with ledger_of(root, readonly=True) as ledger:
        return load_task(root, ledger, task_id)


def _artifacts(task: Task) -> list[str]:
    if not task.folder.is_dir():
        raise UserError(f"task {task.id}: its folder {task.folder} is gone; its ledger record remains.")
    names = [p.name for p in task.folder.iterdir()
             if p.is_file() and not p.name.startswith(".") and p.suffix != ".lock"]
    attached = task.folder / ATTACHMENTS  # the task's --attach files, as attachments/NAME
    if attached.is_dir():
        names += [f"{ATTACHMENTS}/{p.name}" for p in attached.iterdir() if p.is_file()]
    return sorted(names)


#: What an evaluation's task shows as ``show ID prompts.jsonl``: every call's prompt as the ledger kept it,
#: one JSON object a line (``call``, ``step``, ``phase``, ``preset``, ``outcome``, ``messages``).
PROMPTS = "prompts.jsonl"


def artifact(root: Path, task_id: str, name: str) -> bytes:
    """The bytes of one of the task's artifacts (``spec.md``, ``review_r1.json``, a verify log...), or, for a
    task that keeps its prompts (an evaluation's), :data:`PROMPTS` made from the ledger."""
    task = task_of(root, task_id)
    if name == PROMPTS and task.record_prompts:
        return _prompts(root, task.id)
    names = _artifacts(task) + ([PROMPTS] if task.record_prompts else [])
    path = task.folder / name
    if name not in names or not path.is_file():
        raise UserError(f"task {task.id} has no artifact '{name}'. It has: {', '.join(names)}.")
    return path.read_bytes()


def _prompts(root: Path, task_id: str) -> bytes:
    with ledger_of(root, readonly=True) as ledger:
        kept = ledger.prompts(task_id)
    return "".join(json.dumps({"call": row.id, "step": row.step, "phase": row.phase, "preset": row.preset,
                               "outcome": row.outcome, "messages": messages}, ensure_ascii=False) + "\n"
                   for row, messages in kept).encode("utf-8")


def last_review(root: Path, task_id: str, *, markdown: bool = False) -> tuple[str, bytes]:
    """The name and bytes of the task's last review report: the JSON (verdict, reason, findings), or with
    ``markdown`` the same review as the reviewers' Markdown; a UserError when it has not been reviewed."""
    task = task_of(root, task_id)
    for report in REVIEW_REPORTS:
        name = report[1 if markdown else 0]
        if (task.folder / name).is_file():
            return name, artifact(root, task.id, name)
    raise UserError(f"task {task.id} has no review yet ({task.current_step or task.status}); "
                    f"`specrelay status {task.id}` shows where it is.")


def transcript_entries(data: bytes) -> list[dict[str, Any]]:
    """The turns of an agent loop's transcript artifact (a torn last line, from a run stopped as it
    wrote, is left out)."""
    entries = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            entries.append(value)
    return entries


def transcript_text(data: bytes) -> str:
    """An agent loop's transcript artifact for a person, turn by turn."""
    from specrelay.engine.agent.transcript import render

    return render(transcript_entries(data))


def show(root: Path, task_id: str, *, asker: Asker | None = None) -> TaskDetail:
    """A task's summary with its artifacts, every model call and its diffstat (``asker``: as :func:`status`'s)."""
    with ledger_of(root, readonly=True) as ledger:
        task = load_task(root, ledger, task_id)
        names = _artifacts(task)
        config = load_config(root)
        base = task_view(ledger, task, asker)
        calls = _calls(ledger, task.id)
        return TaskDetail(**vars(base), costs=task_costs(ledger, config, task.id),
                          leftovers=[kept.to_json() for kept in leftovers.leftovers_of(root, task.id)],
                          artifacts=names, call_list=calls, diffstat=diffstat(root, task),
                          parts=_parts(task, calls), candidates=_candidates(task))


def _parts(task: Task, calls: list[CallView]) -> list[dict[str, Any]]:
    """The parts of the task's parallel builds, each with its calls and their cost (a resolving
    builder's counted with its part's)."""
    from specrelay.engine.parallel import recorded_parts

    out = []
    for part in recorded_parts(task.folder):
        label = str(part["label"])
        own = [c for c in calls if c.step == label or (c.step or "").startswith(label.removesuffix("]") + ".")]
        costs = [c.cost_usd for c in own]
        out.append({**part, "calls": len(own),
                    "cost_usd": None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 6)})
    return out


def _candidates(task: Task) -> dict[str, Any] | None:
    record = candidates.load_record(task.folder)
    return record.to_json() if record is not None else None


def _calls(ledger: Ledger, task_id: str) -> list[CallView]:
    return [CallView(step=r.step, phase=r.phase, preset=r.preset, model=r.model, outcome=r.outcome,
                     input_tokens=r.input_tokens, output_tokens=r.output_tokens, cost_usd=r.cost_usd,
                     latency_s=round(r.latency_s, 3), max_tokens=r.max_tokens, capped_by_budget=r.capped_by_budget,
                     context=r.context())
            for r in ledger.calls(task_id)]


def diffstat(root: Path, task: Task) -> Diffstat | None:
    """Files the task changed from its base to its head; None when it has no branch any more."""
    stat = task_diffstat(root, task)
    if stat is None:
        return None
    return Diffstat(stat["files_changed"], stat["insertions"], stat["deletions"],
                    [DiffFile(**f) for f in stat["files"]])


def diff(root: Path, task: Task) -> str:
    """The task's unified diff, base commit to head (committed work only); a UserError when it has no branch."""
    return task_diff(root, task)


def merge(root: Path, task_id: str, *, ff_only: bool = False, delete: bool = False,
          force: bool = False) -> MergeResult:
    """Merge the task's branch into its base branch, in the worktree that has it checked out.

    A task that is not finished is refused, naming what is open, unless ``force``; a running one always.
    """
    with ledger_of(root, create=False) as ledger:
        return finish.merge_task(root, ledger, task_id, ff_only=ff_only, delete=delete, force=force)


@dataclass(frozen=True)
class MergeAll:
    """``merge --all``: the tasks merged, in order; and the one it stopped at, with the files a merge of it
    into its base would conflict on (None: every done task was merged)."""

    merged: list[MergeResult]
    stopped_at: str | None = None
    conflicts: list[str] = field(default_factory=list)
    into: str | None = None
    #: Done tasks not reached because the run stopped first.
    left: list[str] = field(default_factory=list)

    def message(self) -> str | None:
        """Why it stopped, and what to do (None when it did not)."""
        if self.stopped_at is None:
            return None
        left = f"; not reached: {', '.join(self.left)}" if self.left else ""
        return (f"stopped at task {self.stopped_at}: merging it into {self.into} would conflict on "
                f"{', '.join(self.conflicts)}{left}. Bring it up to date with `specrelay update {self.stopped_at}` "
                "(or resolve it by hand), then run `specrelay merge --all` again.")


def merge_all(root: Path, *, ff_only: bool = False, delete: bool = False) -> MergeAll:
    """Merge every done task into its base branch, in the order that avoids conflicts
    (:func:`~specrelay.engine.overlap.merge_order`), each checked just before against the base as it is
    then (``git merge-tree``, no checkout); stops at the first that would conflict, naming the files."""
    from specrelay import gitrepo
    from specrelay.engine.overlap import merge_order
    from specrelay.engine.summary import effective_status
    from specrelay.engine.task import all_tasks

    with ledger_of(root, create=False) as ledger:
        done = [t for t in all_tasks(root, ledger) if effective_status(t) is TaskStatus.DONE]
        ordered = merge_order(root, done)
        merged: list[MergeResult] = []
        for n, task in enumerate(ordered):
            into = task.base_branch or task.base_sha
            conflicts = gitrepo.merge_conflicts(root, into, task.branch)
            if conflicts:
                return MergeAll(merged, task.id, conflicts, into, [t.id for t in ordered[n + 1:]])
            merged.append(finish.merge_task(root, ledger, task.id, ff_only=ff_only, delete=delete))
        return MergeAll(merged)


def merge_plan(root: Path, task_id: str, *, ff_only: bool = False, delete: bool = False,
               force: bool = False) -> MergePlan:
    """What :func:`merge` would do, refused as it would refuse; nothing is changed."""
    with ledger_of(root, readonly=True) as ledger:
        return finish.plan_merge(root, ledger, task_id, ff_only=ff_only, delete=delete, force=force)


def discard_plan(root: Path, task_id: str, *, force: bool = False) -> DiscardPlan:
    """What :func:`discard` would remove, refused as it would refuse; nothing is changed."""
    with ledger_of(root, readonly=True) as ledger:
        return finish.plan_discard(root, ledger, task_id, force=force)


def discard(root: Path, task_id: str, *, force: bool = False) -> DiscardResult:
    """Remove the task's worktree, branch and kept leftovers; refuses to lose work unless ``force``."""
    with ledger_of(root, create=False) as ledger:
        return finish.discard_task(root, ledger, task_id, force=force)


def update(root: Path, task_id: str) -> UpdateResult:
    """Merge the base branch's new commits into the task's branch, reopening its checks when new ones came."""
    with ledger_of(root, create=False) as ledger:
        return finish.update_task(root, ledger, task_id)
