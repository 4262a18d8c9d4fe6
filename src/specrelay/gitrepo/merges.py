"""Merging a task branch into the main working tree, all or nothing."""

from __future__ import annotations

from pathlib import Path

from specrelay.errors import GitError

from .lock import repo_lock
from .process import GitCommandError, first_lines, name_list, run_git
from .repo import current_branch, is_dirty, resolve_ref


def merge(root: Path, branch: str, ff_only: bool = False, message: str | None = None) -> str:
    """Merge ``branch`` into what is checked out in the main working tree ``root``; the new ``HEAD`` sha.

    Refuses with :class:`GitError` naming the files when tracked files in ``root`` have uncommitted
    changes (untracked files are fine: git refuses to overwrite them by itself). On a conflict the
    merge is aborted, ``root`` is left as it was, and the :class:`GitError` names the conflicting
    files. The user's merge settings and hooks apply. Holds the repository lock.
    """
    with repo_lock(root):
        resolve_ref(root, branch)  # a clear error for a missing branch
        dirty = is_dirty(root, untracked=False)
        if dirty:
            raise GitError(
                f"the working tree at {root} has uncommitted changes ({name_list(dirty)}); "
                "commit or stash them, then merge again"
            )
        args = ["merge", "--no-edit"]
        if ff_only:
            args.append("--ff-only")
        if message is not None:
            args += ["-m", message]
        try:
            run_git([*args, "--end-of-options", branch], root)
        except GitCommandError as exc:
            _undo_failed_merge(root, branch, exc)
        return run_git(["rev-parse", "HEAD"], root).stdout.strip()


def _undo_failed_merge(root: Path, branch: str, exc: GitCommandError) -> None:
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
            f"and {root} is unchanged; update {branch} so it merges cleanly, or run `git merge {branch}` "
            "and resolve the conflicts by hand"
        ) from exc
    output = exc.stderr.strip() or exc.stdout.strip()
    if "Not possible to fast-forward" in output or "not possible to fast-forward" in output:
        raise GitError(
            f"{target} cannot be fast-forwarded to {branch} (they have diverged); merge without "
            f"fast-forward-only, or rebase {branch} onto {target}"
        ) from exc
    raise GitError(f"merging {branch} into {target} failed in {root}; nothing was merged:\n"
                   f"{first_lines(output)}") from exc
