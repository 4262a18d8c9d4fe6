"""Snapshots of uncommitted work, kept on refs of specrelay's own: never in the index, HEAD or stash.

A snapshot is a commit whose parent is the worktree's ``HEAD`` and whose tree is the worktree as it
is (tracked changes and untracked, not ignored, files). It is made through a temporary index, so
the worktree's own index, its branch and the repository's stash list are left exactly as they were;
``git stash pop`` in the user's checkout can never apply it by surprise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .commits import identity_args
from .process import run_git
from .repo import EXCLUDE_OWN


def snapshot_uncommitted(worktree: Path, message: str) -> str | None:
    """A commit of everything uncommitted in ``worktree`` on top of its ``HEAD``; None when clean."""
    with tempfile.TemporaryDirectory(prefix="specrelay-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        run_git(["read-tree", "HEAD"], worktree, env=env)
        run_git(["add", "-A", "--", ":/", EXCLUDE_OWN], worktree, env=env)
        tree = run_git(["write-tree"], worktree, env=env).stdout.strip()
    if tree == tree_of(worktree, "HEAD"):
        return None
    args = [*identity_args(worktree), "commit-tree", tree, "-p", "HEAD", "-F", "-"]
    return run_git(args, worktree, input=message.rstrip() + "\n").stdout.strip()


def drop_uncommitted(worktree: Path) -> None:
    """Put ``worktree`` back to its ``HEAD``: tracked changes reverted, untracked (not ignored) files
    removed. Only for work a snapshot already holds."""
    run_git(["reset", "--hard", "--quiet", "HEAD"], worktree)
    run_git(["clean", "-fd", "--quiet", "--", ":/", EXCLUDE_OWN], worktree)


def tree_of(root: Path, rev: str) -> str:
    """The tree sha of commit ``rev``."""
    return run_git(["rev-parse", "--verify", f"{rev}^{{tree}}"], root).stdout.strip()


def list_refs(root: Path, prefix: str) -> list[tuple[str, str]]:
    """(ref name, sha) of every ref under ``prefix`` (``refs/specrelay/...``), sorted by name."""
    out = run_git(["for-each-ref", "--format=%(refname) %(objectname)", prefix], root).stdout
    return [(ref, sha) for ref, sha in (line.split(" ", 1) for line in out.splitlines() if " " in line)]


def create_ref(root: Path, ref: str, sha: str) -> None:
    """Point the new ref ``ref`` at ``sha``; fails if it already exists."""
    run_git(["update-ref", "--create-reflog", ref, sha, ""], root)


def delete_ref(root: Path, ref: str) -> None:
    """Delete ``ref`` (a ref of specrelay's own; never a branch)."""
    run_git(["update-ref", "-d", ref], root)


def files_in(root: Path, sha: str) -> list[str]:
    """The files commit ``sha`` changes against its first parent."""
    out = run_git(["diff-tree", "--no-commit-id", "--name-only", "-r", "-z", f"{sha}^", sha], root).stdout
    return [f for f in out.split("\0") if f]
