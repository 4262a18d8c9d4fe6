"""What went wrong opening or writing the ledger, told apart: a lock, a permission, or corruption.

SQLite reports all three as errors of one class, and the fixes differ completely: wait for the
other process, make a folder writable, or move a broken file aside. Only the last loses the
user's history, so it is said only of a file SQLite cannot read as a database.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from specrelay.errors import UserError
from specrelay.paths import not_writable

#: SQLite's names for "another connection holds the lock".
_LOCK_NAMES = ("SQLITE_BUSY", "SQLITE_LOCKED")
#: SQLite's names for "the file or its folder cannot be written (or opened)".
_ACCESS_NAMES = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")


class LedgerLocked(UserError):
    """Another process holds the ledger's write lock; the message names it when it can."""


def sidecars(path: Path) -> tuple[Path, Path]:
    """The ledger's write-ahead log and shared-memory index, next to it in WAL mode."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def is_lock(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_LOCK_NAMES) or "locked" in str(exc) or "busy" in str(exc)


def is_access(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_ACCESS_NAMES) or "readonly" in str(exc) or "unable to open" in str(exc)


def translate(path: Path, exc: sqlite3.Error, *, wait_s: float, reading: bool = False) -> UserError | None:
    """The UserError for a lock or an access problem on the ledger at ``path``; None for anything else.

    ``reading``: the connection is a read-only one, so the problem stops even reading.
    """
    if is_lock(exc):
        return locked(path, wait_s)
    if is_access(exc):
        return unreadable(path) if reading else unwritable(path, exc)
    return None


def locked(path: Path, wait_s: float) -> LedgerLocked:
    holders = lock_holders(path)
    who = ", ".join(f"process {pid} ({_command(pid)})" for pid in holders) if holders else (
        "another process (another specrelay command, or a tool with the database open)")
    return LedgerLocked(f"{path}: the ledger is being written by {who}, which kept it locked for {wait_s:g} s; "
                        "wait for it to finish, then run the command again.")


def unwritable(path: Path, exc: sqlite3.Error) -> UserError:
    """A ledger specrelay may not write: name the file or folder in the way (or say it is not a file)."""
    if path.is_dir():
        return a_folder(path)
    if path.exists() and not os.access(path, os.R_OK):
        return unreadable(path)
    wal, shm = sidecars(path)
    candidates = [path, *(p for p in (wal, shm) if p.exists()), path.parent]
    blocker = next((p for p in candidates if p.exists() and not os.access(p, os.W_OK)), None)
    reads = "`specrelay status`, `show` and `cost` still read it as it is."
    if blocker is None:
        return UserError(f"{path}: specrelay cannot write its ledger ({exc}); check that the file and its folder "
                         f"are writable, then run again. {reads}")
    return UserError(f"{path}: the ledger cannot be written: {not_writable(blocker)} {reads}")


def unreadable(path: Path) -> UserError:
    """A ledger that cannot even be read: the file itself, or (in WAL mode) the index next to it."""
    if path.exists() and not os.access(path, os.R_OK):
        return UserError(f"{path}: the ledger cannot be read; make it readable (`chmod u+r {path}`), then run again.")
    return UserError(f"{path}: the ledger cannot be read here: its write-ahead log holds recent writes, and "
                     f"reading them needs its index {sidecars(path)[1].name}, which specrelay cannot create: "
                     f"{not_writable(path.parent)}")


def a_folder(path: Path) -> UserError:
    """A folder where the ledger file should be."""
    return UserError(f"{path} is a folder, but specrelay keeps its ledger file there; move it aside "
                     f"(e.g. `mv {path} {path}.bak`), then run again.")


def lock_holders(path: Path) -> list[int]:
    """Processes holding a write lock on the ledger or its shared-memory index, from ``/proc/locks``.

    Best effort (Linux only): an empty list when the holder cannot be told.
    """
    inodes = set()
    for p in (path, sidecars(path)[1]):
        try:
            st = p.stat()
        except OSError:
            continue
        inodes.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids: list[int] = []
    for line in lines:
        # "3: POSIX  ADVISORY  WRITE 4242 fd:01:1234 120 120"; a line with "->" is a waiter, not a holder
        fields = line.split()
        if len(fields) < 8 or "->" in fields or fields[3] != "WRITE":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in inodes and pid > 0 and pid != os.getpid() and pid not in pids:
            pids.append(pid)
    return pids


def _command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "command unknown"
    text = " ".join(" ".join(a.decode(errors="replace").split()) for a in argv if a)  # one line, always
    return text if len(text) <= 80 else text[:77] + "..."
