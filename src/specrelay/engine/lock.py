"""One process per task: an exclusive, non-blocking lock on the task's folder, naming its holder.

A task driven from elsewhere, a step at a time (a Temporal workflow: :mod:`specrelay.engine.temporal`),
holds the lock only while a step runs; between steps its folder's ``remote.json`` says who drives it,
and the task reads as running (:func:`driver_of`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specrelay.errors import TaskBusy

LOCK_FILE = "run.lock"
REMOTE_FILE = "remote.json"


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
            raise TaskBusy(f"task {task_id} is already running (process {holder}); wait for it, "
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


def name_holder(folder: Path, pid: int) -> None:
    """Name ``pid`` as the task's runner before it has taken the lock (a process just started for it).

    A background run takes seconds to start on a loaded machine; until its lock is taken, the task
    would look stopped to ``status`` and ``logs --follow``. The process writes the same pid once it
    holds the lock, and a pid that is gone reads as not running.
    """
    fd = os.open(folder / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        data = str(pid).encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def is_running(folder: Path, *, others_only: bool = False) -> bool:
    """True while a live process holds the task's run lock (with ``others_only``, a process other
    than this one: a command holding the lock itself, to merge say, is not a run).

    Reads the holder's pid rather than probing the lock, so that asking never gets in the way of a
    run starting. A crashed run leaves its pid behind, but no live process with it.
    """
    try:
        pid = int((folder / LOCK_FILE).read_text().strip() or 0)
    except (OSError, ValueError):
        return False
    if pid <= 0 or (others_only and pid == os.getpid()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_driven(folder: Path, driver: dict[str, str]) -> None:
    """Say that ``driver`` (``{"backend": "temporal", "address": ..., "workflow_id": ...}``) runs the task."""
    from specrelay.fsutil import atomic_write_text

    atomic_write_text(folder / REMOTE_FILE, json.dumps(driver, indent=2) + "\n")


def driver_of(folder: Path) -> dict[str, str] | None:
    """Who drives the task from elsewhere (:func:`mark_driven`), or None: it runs here, if at all."""
    try:
        data = json.loads((folder / REMOTE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def unmark_driven(folder: Path) -> None:
    """The task's driver let it go (it ended, or stopped resumably)."""
    with contextlib.suppress(FileNotFoundError):
        (folder / REMOTE_FILE).unlink()
