"""Leftovers: the uncommitted edits an interrupted build step (or earlier steps, before an agent builds)
left in a task's worktree.

Before the step is redone they are kept as a commit on ``refs/specrelay/leftovers/<task-id>/<n>``,
a ref only specrelay looks at (never the user's stash list), and the worktree is put back to its
last commit. When the redone step commits the very same tree, the copy is dropped: nothing was
lost. Otherwise ``specrelay show`` names the ref, and ``discard`` and ``gc`` remove it with the task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from specrelay import gitrepo

PREFIX = "refs/specrelay/leftovers"


@dataclass(frozen=True)
class Leftover:
    """One set of kept leftovers: the ref, its commit, the files it holds, and what left them (``of an
    interrupted step``, ``of earlier steps``: the words its commit was made with)."""

    ref: str
    sha: str
    files: list[str]
    origin: str = "of an interrupted step"

    @property
    def described(self) -> str:
        """What they are, in a few words: ``uncommitted changes of an interrupted step (calc.py)``."""
        return f"uncommitted changes {self.origin} ({', '.join(self.files)})"

    def to_json(self) -> dict[str, object]:
        return {"ref": self.ref, "sha": self.sha, "files": self.files, "origin": self.origin}


def _prefix(task_id: str) -> str:
    return f"{PREFIX}/{task_id}/"


def set_aside(root: Path, worktree: Path, task_id: str, message: str) -> str | None:
    """Keep the worktree's uncommitted work on a new leftovers ref and clean the worktree; the ref,
    or None when there was nothing to keep."""
    sha = gitrepo.snapshot_uncommitted(worktree, message)
    if sha is None:
        return None
    taken = {int(ref.rsplit("/", 1)[1]) for ref, _ in gitrepo.list_refs(root, _prefix(task_id))
             if ref.rsplit("/", 1)[1].isdigit()}
    ref = f"{_prefix(task_id)}{max(taken, default=0) + 1}"
    gitrepo.create_ref(root, ref, sha)  # kept before anything is removed from the worktree
    gitrepo.drop_uncommitted(worktree)
    return ref


def drop_if_reproduced(root: Path, ref: str, commit: str) -> bool:
    """Delete the leftovers ``ref`` when ``commit`` holds exactly the same tree; True when dropped."""
    sha = dict(gitrepo.list_refs(root, ref)).get(ref)
    if sha is None or gitrepo.tree_of(root, sha) != gitrepo.tree_of(root, commit):
        return False
    gitrepo.delete_ref(root, ref)
    return True


def leftovers_of(root: Path, task_id: str) -> list[Leftover]:
    """Every set of leftovers kept for the task, oldest first."""
    found = gitrepo.list_refs(root, _prefix(task_id))
    found.sort(key=lambda item: (len(item[0]), item[0]))  # .../2 before .../10
    return [Leftover(ref, sha, gitrepo.files_in(root, sha), _origin(root, sha)) for ref, sha in found]


def _origin(root: Path, sha: str) -> str:
    """What left the leftovers, from their commit's message (``...: uncommitted changes of X, before ...``)."""
    subject = gitrepo.run_git(["log", "-1", "--format=%s", sha], root, check=False).stdout
    found = re.search(r"uncommitted changes (of .+?)(?:, before step |$)", subject.strip())
    return found.group(1) if found else "of an interrupted step"


def drop_all(root: Path, task_id: str) -> list[str]:
    """Delete every leftovers ref of the task; the refs deleted."""
    refs = [ref for ref, _ in gitrepo.list_refs(root, _prefix(task_id))]
    for ref in refs:
        gitrepo.delete_ref(root, ref)
    return refs
