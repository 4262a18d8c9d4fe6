"""Task worktrees: each task works in its own linked worktree on its own branch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from specrelay.errors import GitError

from .lock import repo_lock
from .process import GitCommandError, name_list, run_git
from .repo import is_dirty

BRANCH_PREFIX = "specrelay/"


@dataclass(frozen=True)
class Worktree:
    """One entry of ``git worktree list``."""

    path: Path
    head: str | None = None  # None on an unborn branch or a bare entry
    branch: str | None = None  # short name; None when detached
    bare: bool = False
    locked: bool = False
    prunable: bool = False  # its folder is gone; ``prune_worktrees`` forgets it


def task_branch(task_id: str) -> str:
    """The branch a task works on: ``specrelay/<task_id>``."""
    return f"{BRANCH_PREFIX}{task_id}"


def add_worktree(root: Path, path: Path, branch: str, base_sha: str) -> None:
    """Create ``branch`` at ``base_sha`` and check it out in a new worktree at ``path``, in one step.

    The branch and git's record of the worktree are made under the repository lock; the files are
    then checked out (the user's post-checkout hook runs) outside it, since that touches only the
    new worktree's own index and folder, so that tasks starting together do not queue behind each
    other's checkouts. Raises :class:`GitError` when the branch already exists or ``path`` is
    already in use.
    """
    with repo_lock(root):
        try:
            run_git(["worktree", "add", "--no-checkout", "--no-track", "-b", branch, "--", str(path), base_sha],
                    root)
        except GitCommandError as exc:
            if "already exists" in exc.stderr:
                raise GitError(
                    f"cannot create worktree {path} on branch {branch}: {exc.stderr.strip()}; "
                    f"pick another task id, or delete the old one (`git worktree remove {path}`, "
                    f"`git branch -D {branch}`) if it is no longer needed"
                ) from exc
            raise
    try:
        run_git(["checkout", "--force", "--quiet", branch], path)
    except BaseException:
        with repo_lock(root):  # nothing is in it yet: leave no half-made worktree behind
            run_git(["worktree", "remove", "--force", "--", str(path)], root, check=False)
            run_git(["branch", "-D", "--", branch], root, check=False)
        raise


def attach_worktree(root: Path, path: Path, branch: str) -> None:
    """Check out the existing ``branch`` in a new worktree at ``path`` (its folder was removed)."""
    with repo_lock(root):
        run_git(["worktree", "prune"], root)
        run_git(["worktree", "add", "--quiet", "--", str(path), branch], root)


def remove_worktree(root: Path, path: Path, force: bool = False) -> None:
    """Remove the worktree at ``path`` (its branch stays).

    Refuses with :class:`GitError` naming the files when the worktree has uncommitted or untracked
    changes, unless ``force``. A worktree whose folder is already gone is simply forgotten.
    """
    with repo_lock(root):
        if not Path(path).exists():
            prune_worktrees(root)
            return
        if not force:
            dirty = is_dirty(path)
            if dirty:
                raise GitError(
                    f"the worktree {path} has uncommitted changes ({name_list(dirty)}); commit them, "
                    "or remove it with --force to discard them"
                )
        run_git(["worktree", "remove", *(["--force"] if force else []), "--", str(path)], root)


def list_worktrees(root: Path) -> list[Worktree]:
    """Every worktree of the repository, the main working tree first."""
    out = run_git(["worktree", "list", "--porcelain", "-z"], root).stdout
    worktrees: list[Worktree] = []
    for record in out.split("\0\0"):
        fields: dict[str, str] = {}
        for line in record.split("\0"):
            if line:
                key, _, value = line.partition(" ")
                fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch")
        worktrees.append(Worktree(
            path=Path(fields["worktree"]),
            head=fields.get("HEAD"),
            branch=branch.removeprefix("refs/heads/") if branch else None,
            bare="bare" in fields,
            locked="locked" in fields,
            prunable="prunable" in fields,
        ))
    return worktrees


def prune_worktrees(root: Path) -> None:
    """Forget worktrees whose folders were deleted by hand."""
    with repo_lock(root):
        run_git(["worktree", "prune"], root)


def tree_at_risk(path: Path, head: str | None = None) -> list[str]:
    """What removing the worktree at ``path`` would lose: uncommitted or untracked files, and commits
    its HEAD (``head``, when known) holds that no branch does."""
    dirty = is_dirty(path)
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        return [f"uncommitted changes ({shown})"]
    if head:
        loose = run_git(["rev-list", "--max-count=1", head, "--not", "--branches"], path).stdout.split()
        if loose:
            return [f"commits on no branch (e.g. {loose[0][:12]})"]
    return []
