"""Branches: does it exist, what it holds that nothing else does, deleting it without losing work."""

from __future__ import annotations

from pathlib import Path

from specrelay.errors import GitError
from specrelay.text import plural

from .lock import repo_lock
from .process import GitCommandError, run_git
from .repo import resolve_ref


def branch_exists(root: Path, name: str) -> bool:
    """Whether the local branch ``name`` exists."""
    proc = run_git(["rev-parse", "--verify", "--quiet", f"refs/heads/{name}"], root, check=False)
    return proc.returncode == 0


def unmerged_commits(root: Path, branch: str, into: str) -> list[str]:
    """Shas of the commits reachable from ``branch`` but not from ``into``, newest first."""
    head, target = resolve_ref(root, branch), resolve_ref(root, into)
    return run_git(["rev-list", head, f"^{target}"], root).stdout.split()


def is_merged(root: Path, branch: str, into: str = "HEAD") -> bool:
    """Whether every commit of ``branch`` is already in ``into``."""
    head, target = resolve_ref(root, branch), resolve_ref(root, into)
    proc = run_git(["merge-base", "--is-ancestor", head, target], root, check=False)
    if proc.returncode not in (0, 1):
        run_git(["merge-base", "--is-ancestor", head, target], root)  # raises with git's message
    return proc.returncode == 0


def delete_branch(root: Path, name: str, force: bool = False, base: str | None = None) -> None:
    """Delete the local branch ``name``.

    Unless ``force``, refuses with :class:`GitError` when the branch holds commits that no other
    local branch (nor ``base``, when given) contains, since deleting it would lose them. Holds the
    repository lock.
    """
    with repo_lock(root):
        if not branch_exists(root, name):
            raise GitError(f"there is no local branch {name!r} in {root}; list branches with `git branch`")
        if not force:
            lost = _commits_only_on(root, name, base)
            if lost:
                raise GitError(
                    f"branch {name} has {plural(len(lost), 'commit')} not merged into any other branch "
                    f"(newest {lost[0][:12]}); merge it first, or delete the branch with --force to drop "
                    f"{'it' if len(lost) == 1 else 'them'}"
                )
        try:
            run_git(["branch", "-D", "--", name], root)
        except GitCommandError as exc:
            if "checked out at" in exc.stderr or "used by worktree" in exc.stderr:
                raise GitError(
                    f"branch {name} is checked out in a worktree; remove the worktree first "
                    f"({exc.stderr.strip()})"
                ) from exc
            raise


def _commits_only_on(root: Path, name: str, base: str | None) -> list[str]:
    args = ["rev-list", f"refs/heads/{name}", "--not", f"--exclude={name}", "--branches"]
    if base:
        args.append(resolve_ref(root, base))
    return run_git(args, root).stdout.split()
