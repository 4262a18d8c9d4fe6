"""Diffs for reviewers and people: unified, uncoloured, with standard ``a/`` ``b/`` prefixes."""

from __future__ import annotations

import re
from pathlib import Path

from .process import run_git
from .repo import EXCLUDE_OWN, has_commits, resolve_ref

# Whatever the user's diff.* config says, the text stays machine-readable: no colour, no external
# diff program, the usual prefixes.
_DIFF_OPTS = ["--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/"]

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def diff(worktree_or_root: Path, base: str, head: str = "HEAD") -> str:
    """The unified diff from ``base`` to ``head`` (commits, branches, tags...)."""
    old, new = _commit(worktree_or_root, base), _commit(worktree_or_root, head)
    return run_git(["diff", *_DIFF_OPTS, old, new, "--"], worktree_or_root).stdout


def changed_files(worktree: Path, base: str, head: str = "HEAD") -> list[str]:
    """Paths (relative to the top) that differ between ``base`` and ``head``."""
    old, new = _commit(worktree, base), _commit(worktree, head)
    out = run_git(["diff", "--name-only", "-z", "--no-ext-diff", old, new, "--"], worktree).stdout
    return [f for f in out.split("\0") if f]


def diff_stat(worktree_or_root: Path, base: str, head: str = "HEAD") -> list[tuple[str, int | None, int | None]]:
    """Each changed path from ``base`` to ``head`` with its added and deleted lines (None for a binary file)."""
    old, new = _commit(worktree_or_root, base), _commit(worktree_or_root, head)
    out = run_git(["diff", "--numstat", "-z", "--no-renames", "--no-ext-diff", old, new, "--"],
                  worktree_or_root).stdout
    stats: list[tuple[str, int | None, int | None]] = []
    for entry in out.split("\0"):
        if entry:
            added, deleted, path = entry.split("\t", 2)
            stats.append((path, None if added == "-" else int(added), None if deleted == "-" else int(deleted)))
    return stats


def _commit(root: Path, ref: str) -> str:
    """``ref`` checked and made a sha, unless it is one already (a task's recorded base)."""
    return ref if _FULL_SHA.fullmatch(ref) else resolve_ref(root, ref)


def diff_uncommitted(root: Path) -> str:
    """Everything not yet committed in the working tree at ``root``, as one unified diff.

    Staged and unstaged changes against ``HEAD``, then every untracked (not ignored) file as a new
    file. The index is left exactly as it was; ``.specrelay/`` is left out.
    """
    against = "HEAD" if has_commits(root) else _empty_tree(root)
    parts = [run_git(["diff", *_DIFF_OPTS, against, "--", ":/", EXCLUDE_OWN], root).stdout]
    for path in untracked_files(root):
        # --no-index exits 1 when the files differ, which they always do here.
        proc = run_git(["diff", "--no-index", *_DIFF_OPTS, "--", "/dev/null", path], root, check=False)
        if proc.returncode not in (0, 1):
            run_git(["diff", "--no-index", *_DIFF_OPTS, "--", "/dev/null", path], root)  # raises
        parts.append(proc.stdout)
    return "".join(parts)


def untracked_files(root: Path) -> list[str]:
    """Untracked, not ignored files under ``root``, relative to ``root``; ``.specrelay/`` left out."""
    out = run_git(["ls-files", "-z", "--others", "--exclude-standard", "--", ".", EXCLUDE_OWN], root).stdout
    return [f for f in out.split("\0") if f]


def _empty_tree(root: Path) -> str:
    """The id of the empty tree in this repository's hash (sha1 or sha256)."""
    return run_git(["hash-object", "-t", "tree", "/dev/null"], root).stdout.strip()
