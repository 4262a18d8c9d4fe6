"""Committing a worktree's changes the way the user would: their identity, hooks and signing."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from specrelay.errors import GitError

from .process import GitCommandError, first_lines, run_git
from .repo import EXCLUDE_OWN, git_common_dir

# Only used when git cannot work out who the user is; never overrides a configured identity.
FALLBACK_IDENTITY = ("-c", "user.name=specrelay", "-c", "user.email=specrelay@localhost")

_TRAILER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def commit_all(worktree: Path, message: str, trailers: Mapping[str, str] | None = None,
               paths: Sequence[str] | None = None, allow_empty: bool = False) -> str | None:
    """Stage everything in ``worktree`` (``git add -A``) and commit it; the new sha, or None if clean
    (with ``allow_empty``, an empty commit then: one that only records, in its trailers, a step whose
    work was committed otherwise).

    With ``paths``, only those files are staged: what a builder edited, not whatever else the
    worktree holds (build output of a verification run, say).

    ``trailers`` (``{"Specrelay-Task": "abc"}``) are added as git trailers. The user's identity,
    hooks and signing settings apply; a failing hook raises :class:`GitError` quoting its output,
    and leaves the changes staged. ``.specrelay/`` is never committed.
    """
    if not message.strip():
        raise ValueError("commit_all needs a non-empty message")
    lines: list[str] = []
    for key, value in (trailers or {}).items():
        if not _TRAILER_KEY.fullmatch(key):
            raise ValueError(f"invalid trailer key {key!r}: use letters, digits and '-'")
        lines.append(f"{key}: {' '.join(str(value).split())}")
    if lines:  # the message's last paragraph: where git reads trailers (no `--trailer`, one process less)
        message = message.rstrip() + "\n\n" + "\n".join(lines) + "\n"

    if paths is not None:
        if paths:
            run_git(["add", "-A", "--", *paths], worktree)
    else:
        run_git(["add", "-A", "--", ":/", EXCLUDE_OWN], worktree)
    empty = run_git(["diff", "--cached", "--quiet"], worktree, check=False).returncode == 0
    if empty and not allow_empty:
        return None
    # --cleanup=whitespace: a Markdown heading in the message is not a comment to strip.
    args = [*identity_args(worktree), "commit", "--quiet", "--cleanup=whitespace", "--file=-",
            *(["--allow-empty"] if empty else [])]
    try:
        run_git(args, worktree, input=message)
    except GitCommandError as exc:
        if exc.interrupted:  # Ctrl-C, not a hook's verdict: the caller pauses
            raise
        output = exc.stderr.strip() or exc.stdout.strip()
        raise GitError(
            f"`git commit` failed in {worktree} (exit {exc.returncode}); the changes are still staged. "
            f"If a hook rejected the commit, fix what it reports and retry:\n{first_lines(output, 30)}"
        ) from exc
    return run_git(["rev-parse", "HEAD"], worktree).stdout.strip()


def identity_args(worktree: Path) -> tuple[str, ...]:
    """The fallback identity, only when git has no author or committer identity of the user's.

    An identity found is remembered per repository and process (every worktree of a repository
    shares its config); a missing one is asked again, since the user may set it meanwhile.
    """
    key = (_repository_of(worktree), *(os.environ.get(v) for v in _IDENTITY_ENV))
    if key in _have_identity:
        return ()
    for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        if run_git(["var", var], worktree, check=False).returncode != 0:
            return FALLBACK_IDENTITY
    _have_identity.add(key)
    return ()


_IDENTITY_ENV = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL",
                 "HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")
_have_identity: set[tuple[str | None, ...]] = set()


def _repository_of(worktree: Path) -> str:
    """The repository's shared git dir, read from the worktree's ``.git`` (no git process)."""
    gitdir = _git_dir(worktree)
    try:
        if (gitdir / "commondir").is_file():
            return str((gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve())
        return str(gitdir.resolve())
    except (OSError, ValueError):
        return str(git_common_dir(worktree))


def _running_git(worktree: Path, subcommand: str | None = None) -> list[int]:
    """Pids of git processes (of ``subcommand``, or any) whose working directory is ``worktree``.

    Read from ``/proc`` (Linux); where there is none, nothing is seen. A specrelay run killed while
    its commit ran a slow hook leaves that commit running, to land a moment later.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    target = str(Path(worktree).resolve())
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
            if Path(argv[0]).name != "git" or (subcommand and _subcommand(argv) != subcommand):
                continue
            if os.readlink(entry / "cwd") == target:
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def wait_for_commits(worktree: Path, timeout_s: float = 120.0) -> None:
    """Wait until no ``git commit`` runs in ``worktree``; :class:`GitError` after ``timeout_s``."""
    _wait_for_git(worktree, "commit", timeout_s)


def _wait_for_git(worktree: Path, subcommand: str | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while pids := _running_git(worktree, subcommand):
        if time.monotonic() > deadline:
            what = f"`git {subcommand}`" if subcommand else "a git command"
            raise GitError(f"{what} (process {', '.join(map(str, pids))}) has been running in {worktree} "
                           f"for over {timeout_s:g} s, perhaps a hook waiting for input; let it finish or stop it, "
                           "then resume")
        time.sleep(0.05)


def clear_stale_index_lock(worktree: Path, wait_s: float = 10.0) -> bool:
    """Remove the ``index.lock`` a killed git process left in ``worktree``; True when one was removed.

    Git commands still working in the worktree (a killed run's orphans) are waited for, up to
    ``wait_s``; the lock is removed only once none is left, when it is certainly stale (a git
    starting meanwhile cannot take the lock while the stale file exists). Without ``/proc`` nothing
    can be known, and nothing is removed. Meant for a task's own worktree, when its run starts.
    """
    lock = _git_dir(worktree) / "index.lock"
    if not lock.exists() or not Path("/proc").is_dir():
        return False
    try:
        _wait_for_git(worktree, None, wait_s)
    except GitError:
        return False  # a git command is still at work: its lock may be live
    try:
        lock.unlink()
    except FileNotFoundError:  # its git finished meanwhile, and took it away
        return False
    return True


def index_locked(worktree: Path) -> bool:
    """Whether git's ``index.lock`` exists in ``worktree`` (held, or left behind)."""
    return (_git_dir(worktree) / "index.lock").exists()


def _git_dir(worktree: Path) -> Path:
    """The worktree's own git dir (``.git`` of a main tree, ``.git/worktrees/<name>`` of a linked one)."""
    dot = Path(worktree) / ".git"
    try:
        if dot.is_dir():
            return dot
        return Path(worktree) / dot.read_text(encoding="utf-8").removeprefix("gitdir:").strip()
    except (OSError, ValueError):
        return Path(run_git(["rev-parse", "--absolute-git-dir"], worktree).stdout.strip())


def _subcommand(argv: list[str]) -> str | None:
    """The git subcommand of a command line: the first word after git's own options."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "-C", "--git-dir", "--work-tree", "--namespace"):
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            return arg
    return None
