"""A cross-process lock around operations that change a repository's shared git state.

Worktree add/remove, branch creation and deletion, and merges all write to the common git
directory. Several specrelay processes (one per task) may do so at once; git's own lock files make
the loser fail rather than wait, so specrelay takes its own blocking lock first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specrelay.errors import UserError
from specrelay.paths import make_dir, not_writable, project_dir

from .stats import record_lock_wait

LOCK_NAME = "git.lock"

# flock is per open file, so a second acquisition by the same thread would deadlock on itself;
# this remembers which lock files the current thread already holds, so nesting is free.
_held = threading.local()


def lock_path(root: Path) -> Path:
    """The lock file of the repository whose main working tree is ``root``."""
    return project_dir(root) / LOCK_NAME


@contextmanager
def repo_lock(root: Path) -> Iterator[None]:
    """Hold the repository lock of ``root`` (blocking) for the duration of the ``with`` block.

    Re-entrant within a thread. Time spent waiting for another holder is counted in
    ``git_stats()['lock_wait_seconds']`` and ``git_stats()['lock_waits']``.
    """
    path = lock_path(root).resolve()
    held: set[Path] = getattr(_held, "paths", None) or set()
    _held.paths = held
    if path in held:
        yield
        return
    fd = _open_lock(path)
    try:
        _acquire(fd)
        held.add(path)
        try:
            yield
        finally:
            held.discard(path)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock(path: Path) -> int:
    """The lock file's descriptor, creating it (and ``.specrelay/``) when needed.

    flock needs no write access, so an existing lock file on a read-only ``.specrelay/`` is opened
    for reading; one that cannot be created is a UserError naming the folder and the fix.
    """
    make_dir(path.parent)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise UserError(f"cannot open the repository lock {path}: {exc.strerror or exc}.") from exc
        if path.is_file():
            try:
                return os.open(path, os.O_RDONLY)
            except OSError:
                pass
        if exc.errno == errno.EROFS:
            raise UserError(f"{path.parent} is on a read-only file system, so specrelay cannot create its "
                            f"repository lock {path}; run from a writable copy of the repository.") from exc
        raise UserError(not_writable(path)) from exc


def _acquire(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    start = time.perf_counter()
    fcntl.flock(fd, fcntl.LOCK_EX)
    record_lock_wait(time.perf_counter() - start)
