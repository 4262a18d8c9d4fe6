"""Questions about a repository: where it is, what a ref points at, what is uncommitted."""

from __future__ import annotations

import fcntl
import functools
from pathlib import Path

from specrelay.errors import GitError
from specrelay.paths import PROJECT_DIRNAME

from .process import GitCommandError, run_git

# Keeps specrelay's own folder out of every status, add and listing, in the main tree and worktrees.
EXCLUDE_OWN = f":(top,exclude){PROJECT_DIRNAME}"

_TRUE = {"true", "yes", "on", "1"}


def find_root(start: Path) -> Path:
    """The top of the main working tree of the repository containing ``start``.

    From inside a linked worktree this is the main repository's top, not the worktree's. Raises
    :class:`GitError` when ``start`` is not in a repository, or the repository is bare.
    """
    start = Path(start)
    where = start if start.is_dir() else start.parent
    if not where.is_dir():
        raise GitError(f"{start} does not exist; check the path")
    try:
        out = run_git(
            ["rev-parse", "--path-format=absolute", "--git-common-dir", "--git-dir", "--is-bare-repository"],
            where,
        ).stdout.splitlines()
    except GitCommandError as exc:
        if "not a git repository" in exc.stderr.lower():
            raise GitError(
                f"{start} is not inside a git repository; run `git init` or cd into your repository"
            ) from exc
        raise
    common, git_dir, bare = Path(out[0]).resolve(), Path(out[1]).resolve(), out[2].strip() == "true"
    if bare:
        raise _bare_error(start, common)
    if git_dir == common:  # the main working tree (or its git dir)
        if common.name == ".git":
            return common.parent
        # a separate git dir or a submodule: git knows the top from here
        return Path(run_git(["rev-parse", "--show-toplevel"], where).stdout.strip()).resolve()
    return _main_tree_of(start, common)


def worktree_top(start: Path) -> Path:
    """The top of the working tree (main or linked) that contains ``start``.

    Inside the git folder (``.git`` or below) there is no working tree: a GitError says where to go.
    """
    if run_git(["rev-parse", "--is-inside-git-dir"], start).stdout.strip() == "true":
        try:
            hint = f" (e.g. `cd {find_root(start)}`)"
        except GitError:
            hint = ""
        raise GitError(f"{start} is inside the repository's git folder, which has no files to work on; "
                       f"run specrelay from a working tree of the repository{hint}.")
    return Path(run_git(["rev-parse", "--show-toplevel"], start).stdout.strip()).resolve()


def _main_tree_of(start: Path, common: Path) -> Path:
    """The main working tree, seen from a linked worktree whose common git dir is ``common``."""
    proc = run_git(["config", "--file", str(common / "config"), "--get-regexp", r"^core\.(bare|worktree)$"],
                   common, check=False)
    settings = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    if settings.get("core.bare", "").lower() in _TRUE:
        raise _bare_error(start, common)
    if settings.get("core.worktree"):
        return (common / settings["core.worktree"]).resolve()
    if common.name == ".git":
        return common.parent
    raise GitError(
        f"cannot find the main working tree of {common} from the linked worktree {start}; "
        "run specrelay from the repository's main working tree"
    )


def _bare_error(start: Path, common: Path) -> GitError:
    return GitError(
        f"{start} belongs to the bare repository {common}; specrelay needs a main working tree: "
        f"clone it (`git clone {common} <dir>`) and run specrelay there"
    )


def resolve_ref(root: Path, ref: str) -> str:
    """The full sha of the commit ``ref`` (branch, tag, sha, ``HEAD~2``...) names in ``root``."""
    if not ref or ref.startswith("-"):
        raise GitError(f"{ref!r} is not a valid ref; name a branch, tag or commit")
    try:
        return run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).stdout.strip()
    except GitCommandError as exc:
        if exc.returncode == 1 and not exc.stderr.strip():
            raise GitError(
                f"unknown ref {ref!r} in {root} (no branch, tag or commit by that name); "
                "list branches with `git branch -a`"
            ) from exc
        if exc.returncode in (1, 128):  # it names something, but not a commit (a tree, a blob...)
            why = exc.stderr.strip().splitlines()[-1].removeprefix("error: ").removeprefix("fatal: ")
            raise GitError(f"{ref!r} does not name a commit in {root} ({why}); name a branch, tag or commit") from exc
        raise


def head_sha(root: Path) -> str:
    """The full sha of ``HEAD`` in ``root``; :class:`GitError` when there are no commits yet."""
    proc = run_git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root, check=False)
    if proc.returncode == 1 and not proc.stderr.strip():
        raise GitError(f"the repository at {root} has no commits yet; make a first commit and retry")
    if proc.returncode != 0:
        return resolve_ref(root, "HEAD")  # raises, with git's own message
    return proc.stdout.strip()


def has_commits(root: Path) -> bool:
    """Whether ``HEAD`` in ``root`` points at a commit (false on a freshly initialised repository)."""
    return run_git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root, check=False).returncode == 0


def current_branch(root: Path) -> str | None:
    """The short name of the branch checked out in ``root``, or None when ``HEAD`` is detached."""
    proc = run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], root, check=False)
    if proc.returncode == 1 and not proc.stderr.strip():
        return None
    if proc.returncode != 0:
        run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], root)  # raises with git's message
    return proc.stdout.strip()


def is_dirty(path: Path, untracked: bool = True) -> list[str]:
    """Files with uncommitted changes in the working tree at ``path``, relative to its top.

    Staged, unstaged and (unless ``untracked`` is false) untracked files, ignoring specrelay's own
    ``.specrelay/`` folder. An empty list means the tree is clean.
    """
    mode = "all" if untracked else "no"
    out = run_git(["status", "--porcelain=v1", "-z", f"--untracked-files={mode}", "--", ":/", EXCLUDE_OWN],
                  path).stdout
    files: list[str] = []
    fields = iter(out.split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue
        files.append(entry[3:])
        if "R" in entry[:2] or "C" in entry[:2]:
            next(fields, None)  # the rename's source path
    return files


def ignored(root: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` (relative to ``root``) that git ignores and does not track: files that a
    commit would never take."""
    if not paths:
        return []
    out = run_git(["check-ignore", "-z", "--stdin"], root, check=False, input="\0".join(paths) + "\0").stdout
    return [f for f in out.split("\0") if f]


def tracked_files(root: Path) -> list[str]:
    """Every file tracked in the index of ``root``, relative to ``root``."""
    return [f for f in run_git(["ls-files", "-z"], root).stdout.split("\0") if f]


def git_common_dir(root: Path) -> Path:
    """The git directory shared by the main tree and every linked worktree of ``root``."""
    return _common_dir(str(Path(root).resolve()))


@functools.lru_cache(maxsize=64)
def _common_dir(root: str) -> Path:  # asked once per folder and process: a repository does not move
    out = run_git(["rev-parse", "--path-format=absolute", "--git-common-dir"], Path(root)).stdout.strip()
    return Path(out)


def add_exclude(root: Path, pattern: str = f"{PROJECT_DIRNAME}/") -> bool:
    """Add ``pattern`` to the repository's ``info/exclude`` unless already there; True when added.

    The exclude file lives in the common git dir, so it applies to every worktree, and it is
    private to this clone: the user's ``.gitignore`` is never touched.
    """
    exclude = git_common_dir(root) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with open(exclude, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two processes must not both append
        fh.seek(0)
        content = fh.read()
        if pattern in (line.strip() for line in content.splitlines()):
            return False
        fh.write(("" if not content or content.endswith("\n") else "\n") + pattern + "\n")
        return True
