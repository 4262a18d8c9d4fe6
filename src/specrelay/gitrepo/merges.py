"""Merging a task branch into the main working tree, all or nothing."""

from __future__ import annotations

from pathlib import Path

from specrelay.errors import GitError

from .lock import repo_lock
from .process import GitCommandError, first_lines, name_list, run_git
from .repo import current_branch, is_dirty, resolve_ref


def merge(root: Path, branch: str, ff_only: bool = False, message: str | None = None, *,
          worktree: Path | None = None, conflict_hint: str | None = None) -> str:
    """Merge ``branch`` into what is checked out in ``worktree`` (default: the main working tree
    ``root``); the new ``HEAD`` sha.

    Refuses with :class:`GitError` naming the files when tracked files in the worktree have
    uncommitted changes (untracked files are fine: git refuses to overwrite them by itself). On a
    conflict the merge is aborted, the worktree is left as it was, and the :class:`GitError` names
    the conflicting files, then ``conflict_hint`` (what to do) when given. The user's merge settings
    and hooks apply. Holds the repository lock of ``root``.
    """
    where = worktree or root
    with repo_lock(root):
        resolve_ref(where, branch)  # a clear error for a missing branch
        dirty = is_dirty(where, untracked=False)
        if dirty:
            raise GitError(
                f"the working tree at {where} has uncommitted changes ({name_list(dirty)}); "
                "commit or stash them, then merge again"
            )
        args = ["merge", "--no-edit"]
        if ff_only:
            args.append("--ff-only")
        if message is not None:
            args += ["-m", message]
        try:
            run_git([*args, "--end-of-options", branch], where)
        except GitCommandError as exc:
            _undo_failed_merge(where, branch, exc, conflict_hint)
        return run_git(["rev-parse", "HEAD"], where).stdout.strip()


def _undo_failed_merge(root: Path, branch: str, exc: GitCommandError, hint: str | None = None) -> None:
    """Abort a half-done merge and raise the :class:`GitError` that explains what happened."""
    unmerged = run_git(["diff", "--name-only", "-z", "--diff-filter=U"], root).stdout
    conflicts = [f for f in unmerged.split("\0") if f]
    probe = run_git(["rev-parse", "--verify", "--quiet", "MERGE_HEAD"], root, check=False)
    in_progress = probe.returncode == 0
    if in_progress or conflicts:
        run_git(["merge", "--abort"], root)
    target = current_branch(root) or "HEAD"
    if conflicts:
        raise GitError(
            f"merging {branch} into {target} conflicts in: {name_list(conflicts)}. The merge was aborted "
            f"and {root} is unchanged; " + (hint or f"update {branch} so it merges cleanly, or run "
                                              f"`git merge {branch}` and resolve the conflicts by hand")
        ) from exc
    output = exc.stderr.strip() or exc.stdout.strip()
    if "Not possible to fast-forward" in output or "not possible to fast-forward" in output:
        raise GitError(
            f"{target} cannot be fast-forwarded to {branch} (they have diverged); merge without "
            f"fast-forward-only, or rebase {branch} onto {target}"
        ) from exc
    raise GitError(f"merging {branch} into {target} failed in {root}; nothing was merged:\n"
                   f"{first_lines(output)}") from exc


def merge_conflicts(root: Path, ours: str, theirs: str) -> list[str]:
    """The files that would conflict if ``theirs`` were merged into ``ours`` (empty: it merges cleanly),
    worked out without a checkout or a change to any ref or working tree (``git merge-tree
    --write-tree``, whose tree is left unreferenced for git's own gc)."""
    proc = run_git(["merge-tree", "--write-tree", "--name-only", "--no-messages", "--end-of-options", ours, theirs],
                   root, check=False)
    if proc.returncode not in (0, 1):
        raise GitError(f"`git merge-tree` could not compare {ours} and {theirs}: "
                       f"{first_lines(proc.stderr.strip() or proc.stdout.strip(), 5)}")
    return [] if proc.returncode == 0 else [line for line in proc.stdout.splitlines()[1:] if line.strip()]
