"""The git CLI, wrapped thinly and typed: worktrees, branches, diffs, commits, merges, locks.

specrelay drives the user's own ``git`` (never a library), so their hooks, config, signing and
credential helpers all apply. Every call goes through :func:`run_git`, which turns failures into
:class:`~specrelay.errors.GitError` (a ``UserError``: the message says how to fix it) and counts
time spent in git (:func:`git_stats`). Operations that change shared git state (worktrees,
branches, merges) hold :func:`repo_lock`, a cross-process lock on ``.specrelay/git.lock``.

Modules: ``process`` (run_git), ``stats``, ``lock``, ``repo`` (root, refs, status, excludes),
``worktrees``, ``branches``, ``commits``, ``diffs``, ``merges``, ``snapshots`` (uncommitted work kept
on refs of specrelay's own).
"""

from __future__ import annotations

from .branches import branch_exists, delete_branch, is_merged, unmerged_commits
from .commits import clear_stale_index_lock, commit_all, index_locked, wait_for_commits
from .diffs import changed_files, diff, diff_stat, diff_uncommitted, untracked_files
from .lock import lock_path, repo_lock
from .merges import merge, merge_conflicts
from .process import GitCommandError, run_git
from .repo import (
    add_exclude,
    current_branch,
    find_root,
    git_common_dir,
    has_commits,
    head_sha,
    ignored,
    is_dirty,
    resolve_ref,
    tracked_files,
    worktree_top,
)
from .snapshots import create_ref, delete_ref, drop_uncommitted, files_in, list_refs, snapshot_uncommitted, tree_of
from .stats import GitStats, git_stats, reset_git_stats
from .worktrees import (
    Worktree,
    add_worktree,
    attach_worktree,
    list_worktrees,
    prune_worktrees,
    remove_worktree,
    task_branch,
    tree_at_risk,
)

__all__ = [
    "clear_stale_index_lock",
    "index_locked",
    "GitCommandError",
    "GitStats",
    "Worktree",
    "add_exclude",
    "add_worktree",
    "attach_worktree",
    "branch_exists",
    "changed_files",
    "commit_all",
    "current_branch",
    "delete_branch",
    "diff",
    "diff_stat",
    "diff_uncommitted",
    "merge_conflicts",
    "tree_at_risk",
    "find_root",
    "git_common_dir",
    "git_stats",
    "has_commits",
    "head_sha",
    "ignored",
    "is_dirty",
    "is_merged",
    "list_worktrees",
    "lock_path",
    "merge",
    "prune_worktrees",
    "remove_worktree",
    "repo_lock",
    "reset_git_stats",
    "resolve_ref",
    "run_git",
    "task_branch",
    "tracked_files",
    "unmerged_commits",
    "untracked_files",
    "wait_for_commits",
    "worktree_top",
    "create_ref",
    "delete_ref",
    "drop_uncommitted",
    "files_in",
    "list_refs",
    "snapshot_uncommitted",
    "tree_of",
]
