"""One process per task: an exclusive, non-blocking lock on the task's folder, naming its holder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specrelay.errors import UserError

LOCK_FILE = "run.lock"


@contextmanager
def task_lock(folder: Path, task_id: str) -> Iterator[None]:
    """Hold the task's run lock, or raise a UserError naming the process that holds it."""
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise UserError(f"task {task_id} is already running (process {holder}); wait for it, "
                            f"or stop that process first. `specrelay status {task_id}` shows its progress.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_running(folder: Path) -> bool:
    """True while some process holds the task's run lock (a crashed run holds nothing)."""
    path = folder / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
