"""Tasks that touch the same files: predicted from their specs, then checked on their branches.

Every spec names its affected files; once a task has commits, the files its branch changed count too.
Two live tasks (not merged or discarded) that share a file overlap; when both branches have commits,
``git merge-tree --write-tree`` says whether merging one into the other would really conflict, without
a checkout. ``status`` shows it, ``run`` warns of it after planning (``--serialize`` waits instead), and
``merge --all`` orders its merges by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

from specrelay import gitrepo
from specrelay.engine.context import affected_files
from specrelay.engine.task import Task
from specrelay.errors import GitError

SPEC = "spec.md"


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

    def describe(self) -> str:
        """``calc.py; their branches conflict on calc.py`` (or merge cleanly, or are not built yet)."""
        files = ", ".join(self.files)
        if self.conflicts is None:
            return f"{files} (not built on both yet)"
        if not self.conflicts:
            return f"{files} (their branches merge cleanly so far)"
        return f"{files}; their branches conflict on {', '.join(self.conflicts)}"


def built(root: Path, task: Task) -> bool:
    """Whether the task's branch has commits beyond its base."""
    try:
        head = gitrepo.resolve_ref(root, task.branch)
    except GitError:
        return False
    return head != task.base_sha


def task_files(root: Path, task: Task) -> set[str]:
    """The files a task names in its spec and, once built, those its branch changed since its base."""
    files: set[str] = set()
    spec = task.folder / SPEC
    if spec.is_file():
        files.update(affected_files(spec.read_text(encoding="utf-8", errors="replace")))
    if built(root, task):
        files.update(gitrepo.changed_files(root, task.base_sha, task.branch))
    return files


def overlaps(root: Path, tasks: Sequence[Task]) -> dict[str, list[Overlap]]:
    """For each of ``tasks`` (the live ones), the others it shares files with, checked on their branches
    where both have commits."""
    files = {t.id: task_files(root, t) for t in tasks}
    has_commits = {t.id: built(root, t) for t in tasks}
    found: dict[str, list[Overlap]] = {t.id: [] for t in tasks}
    for a, b in combinations(tasks, 2):
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
