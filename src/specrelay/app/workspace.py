"""Where a command works: the repository's root, and its ledger.

Every face finds the repository and opens the ledger the same way, so that a read-only command
creates nothing and the first command that writes keeps ``.specrelay/`` out of git.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specrelay import gitrepo, paths
from specrelay.errors import GitError
from specrelay.ledger import Ledger


def find_root(start: Path | None = None) -> Path:
    """The root of the repository ``start`` (default: the current directory) is in; a GitError outside one."""
    return gitrepo.find_root(start or Path.cwd())


def root_or_none(start: Path | None = None) -> Path | None:
    """The repository's root, or None outside any repository (``ask``, ``cost`` and ``presets`` work there)."""
    try:
        return find_root(start)
    except GitError:
        return None


def worktree_top(where: Path) -> Path:
    """The top of the working tree ``where`` is in (the main one or a linked one)."""
    return gitrepo.worktree_top(where)


def open_ledger(root: Path | None, *, readonly: bool = False, create: bool = True) -> Ledger:
    """The ledger of the repository (or the user's, outside one). Inside a repository, the folder it
    lives in is kept out of git through .git/info/exclude, whichever command creates it first.

    ``readonly`` is for what only reads: it creates nothing (no folder, no ledger, no exclude line)
    and works on a ledger the user cannot write. ``create=False`` is for what acts on an existing
    task: without a ledger there is none, and it too creates nothing.
    """
    path = paths.ledger_path(root)
    if readonly or (not create and not path.exists()):
        return Ledger(path, readonly=True)
    if root is not None and not path.exists():  # first use in this repository
        gitrepo.add_exclude(root)
    return Ledger(path)


@contextmanager
def ledger_of(root: Path | None, *, readonly: bool = False, create: bool = True) -> Iterator[Ledger]:
    """:func:`open_ledger`, closed at the end of the block (a long-lived face must not leak connections)."""
    ledger = open_ledger(root, readonly=readonly, create=create)
    try:
        yield ledger
    finally:
        ledger.close()
