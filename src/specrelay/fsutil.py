"""Small file helpers shared by every layer: artifacts are never half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from specrelay.errors import UserError

#: Bytes looked at for a NUL, the sign of a binary file (as git does).
BINARY_SNIFF = 8000


def read_user_text(path: Path, flag: str, hint: str) -> str:
    """A text file the user named with ``flag`` (``--file``, ``--spec``), decoded as UTF-8.

    A missing file, a folder, an unreadable, binary or non-UTF-8 file is one :class:`UserError`
    naming the flag and the path; ``hint`` says what the file should be.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{flag} {path}: no such file; {hint}.") from None
    except IsADirectoryError:
        raise UserError(f"{flag} {path}: is a directory, not a file; {hint}.") from None
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot read it ({exc.strerror or exc}).") from None
    if b"\0" in data[:BINARY_SNIFF]:
        raise UserError(f"{flag} {path}: is a binary file, not UTF-8 text; {hint}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{flag} {path}: is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8, byte for byte (no newline translation): see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, then rename.

    A crash at any moment leaves either the old file or the new one, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
