"""The worktrees and branches a task's parallel builders leave (``parallel.py``): found for
``discard`` and ``gc``, which remove them with the task's own, by the same rule (never losing work
without ``--force``).

A part's worktree is ``.specrelay/parts/<task>/<part>``, on branch ``specrelay/<task>.<part>``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from specrelay import gitrepo, paths
from specrelay.engine.task import Task
from specrelay.text import plural

#: How part names begin (workstreams, fix groups): a best-of-N candidate's branch sits beside them.
PART_PREFIXES = ("ws-", "fix-")


@dataclass(frozen=True)
class PartTree:
    """One part of a task: its worktree (None when gone) and its branch (None when gone)."""

    name: str
    worktree: Path | None
    branch: str | None


def parts_of(root: Path, task: Task) -> list[PartTree]:
    """Every part worktree and part branch the task has, by part name."""
    folder = paths.parts_dir(root, task.id)
    trees = {p.name: p for p in sorted(folder.iterdir()) if p.is_dir()} if folder.is_dir() else {}
    prefix = f"{task.branch}."
    out = gitrepo.run_git(["for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}*"], root).stdout
    branches = {b.removeprefix(prefix): b for b in out.split()
                if b.startswith(prefix) and b.removeprefix(prefix).startswith(PART_PREFIXES)}
    return [PartTree(name, trees.get(name), branches.get(name)) for name in sorted(set(trees) | set(branches))]


def parts_at_risk(root: Path, task: Task) -> list[str]:
    """What removing the task's parts would lose: uncommitted work in a part's worktree, commits on a
    part's branch that the task branch (or another branch) does not hold."""
    problems = []
    for part in parts_of(root, task):
        if part.worktree is not None:
            problems += [f"{phrase} in {part.worktree}" for phrase in gitrepo.tree_at_risk(part.worktree)]
        if part.branch is not None:
            lost = gitrepo.run_git(["rev-list", f"refs/heads/{part.branch}", "--not", f"--exclude={part.branch}",
                                    "--branches"], root).stdout.split()
            if lost:
                problems.append(f"{plural(len(lost), 'commit')} on {part.branch} not merged into any other branch")
    return problems


def remove_parts(root: Path, task: Task, *, force: bool = False) -> list[str]:
    """Remove the task's part worktrees and branches (checked first by :func:`parts_at_risk`); what went."""
    gone = []
    for part in parts_of(root, task):
        if part.worktree is not None:
            gitrepo.remove_worktree(root, part.worktree, force=force)
            gone.append(str(part.worktree))
    for part in parts_of(root, task):
        if part.branch is not None:
            gitrepo.delete_branch(root, part.branch, force=True)  # its work was checked, or --force
            gone.append(part.branch)
    with contextlib.suppress(OSError):
        paths.parts_dir(root, task.id).rmdir()
        paths.parts_dir(root, task.id).parent.rmdir()
    return gone
