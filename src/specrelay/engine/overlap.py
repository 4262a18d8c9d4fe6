"""Tasks that touch the same files: predicted from their specs, then checked on their branches.

Every spec names its affected files; once a task has commits, the files its branch changed count too.
Two live tasks (not merged or discarded) that share a file overlap; when both branches have commits,
``git merge-tree --write-tree`` says whether merging one into the other would really conflict, without
a checkout. ``status`` shows it, ``run`` warns of it after planning (``--serialize`` waits instead), and
``merge --all`` orders its merges by it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

from specrelay import gitrepo
from specrelay.engine.context import affected_files
from specrelay.engine.events import EventSink, Note
from specrelay.engine.summary import effective_status
from specrelay.engine.task import Task, all_tasks
from specrelay.errors import GitError
from specrelay.ledger import Ledger, TaskStatus

SPEC = "spec.md"
#: How often a task that waits (``--serialize``) looks again whether the tasks it waits for still run.
POLL_S = 0.5


@dataclass(frozen=True)
class Overlap:
    """Another task sharing files with this one."""

    task: str
    #: The files both name in their specs or change on their branches.
    files: list[str]
    #: The files a merge of the two branches would conflict on (empty: they merge cleanly); None when
    #: not known yet (a branch with no commits of its own).
    conflicts: list[str] | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)



def built(root: Path, task: Task) -> bool:
    """Whether the task's branch has commits beyond its base."""
    try:
        head = gitrepo.resolve_ref(root, task.branch)
    except GitError:
        return False
    return head != task.base_sha


def task_files(root: Path, task: Task, *, has_commits: bool | None = None) -> set[str]:
    """The files a task names in its spec and, once built, those its branch changed since its base
    (``has_commits``: whether it is built, when the caller knows)."""
    files: set[str] = set()
    spec = task.folder / SPEC
    if spec.is_file():
        files.update(affected_files(spec.read_text(encoding="utf-8", errors="replace")))
    if built(root, task) if has_commits is None else has_commits:
        files.update(gitrepo.changed_files(root, task.base_sha, task.branch))
    return files


def overlaps(root: Path, tasks: Sequence[Task]) -> dict[str, list[Overlap]]:
    """For each of ``tasks`` (the live ones), the others it shares files with, checked on their branches
    where both have commits."""
    has_commits = {t.id: built(root, t) for t in tasks}
    files = {t.id: task_files(root, t, has_commits=has_commits[t.id]) for t in tasks}
    found: dict[str, list[Overlap]] = {t.id: [] for t in tasks}
    for a, b in combinations(tasks, 2):
        if a.record_prompts and b.record_prompts:
            continue  # two evaluation tasks: attempts at cases, never merged, overlapping by design
        shared = sorted(files[a.id] & files[b.id])
        if not shared:
            continue
        conflicts = gitrepo.merge_conflicts(root, a.branch, b.branch) if has_commits[a.id] and has_commits[b.id] \
            else None
        found[a.id].append(Overlap(b.id, shared, conflicts))
        found[b.id].append(Overlap(a.id, shared, conflicts))
    return found


def overlapping(root: Path, task: Task, others: Iterable[Task]) -> list[Overlap]:
    """The overlaps of one task with ``others``."""
    rest = [t for t in others if t.id != task.id]
    return overlaps(root, [task, *rest])[task.id]


async def before_build(root: Path, ledger: Ledger, task: Task, *, serialize: bool, emit: EventSink) -> None:
    """Before a task's first build: warn when a running task touches the files its spec names, or, with
    ``serialize``, wait until no such task runs any more (a Ctrl-C meanwhile pauses the task as ever)."""
    if built(root, task) or not task_files(root, task):
        return
    waited = False
    while True:
        running = [t for t in all_tasks(root, ledger) if t.id != task.id and effective_status(t) is TaskStatus.RUNNING
                   and not (task.record_prompts and t.record_prompts)]  # evaluation tasks overlap by design
        found = overlapping(root, task, running) if running else []
        if not found:
            if waited:
                emit(Note("no running task touches the same files any more: building"))
            return
        names = "; ".join(f"{o.task} ({', '.join(o.files)})" for o in found)
        if not serialize:
            emit(Note(f"a running task touches the same files: {names}; their merges may conflict "
                      "(`specrelay status` says whether they do; `run --serialize` waits instead)"))
            return
        if not waited:
            emit(Note(f"waiting for {names} to finish before building: it touches the same files (--serialize)"))
            waited = True
        await asyncio.sleep(POLL_S)


def merge_order(root: Path, tasks: Sequence[Task]) -> list[Task]:
    """``tasks`` (done, to be merged) in the order that avoids conflicts: those whose branches conflict
    with fewer of the others first, then the oldest first; a task that would conflict comes after every
    one that would not."""
    clashes = {t.id: 0 for t in tasks}
    for a, b in combinations(tasks, 2):
        if gitrepo.merge_conflicts(root, a.branch, b.branch):
            clashes[a.id] += 1
            clashes[b.id] += 1
    return sorted(tasks, key=lambda t: (clashes[t.id], t.created_at))
