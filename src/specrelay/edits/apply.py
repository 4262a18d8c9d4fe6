"""Apply a reply's SEARCH/REPLACE blocks to a worktree: every block, or none.

All paths are checked and every new content is computed in memory first
(several blocks on one file apply in turn to its evolving text). Only when
every block applies are the files written, each atomically; a write that
fails midway puts back the files already written. A reply that cannot be
applied whole raises :class:`EditsRejected`, whose message tells the model
which blocks failed and why.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from specrelay import fsutil
from specrelay.edits.confine import resolve_in_worktree
from specrelay.edits.edit import apply_edit_detailed
from specrelay.edits.parse import EditBlock
from specrelay.errors import EditError, NoMatch

#: How much of a file is searched for a NUL byte to call it binary (git does the same).
_BINARY_PROBE = 8192

Status = Literal["applied", "created", "failed"]


@dataclass(frozen=True, slots=True)
class BlockReport:
    """What happened to one block of a reply."""

    #: 0-based position of the block in the reply.
    index: int
    path: str
    status: Status
    #: The ladder level that matched (``exact``, ``indent``, ...), ``create``, or ``""`` if failed.
    level: str
    #: Empty when the block applied; otherwise the refusal, written for the model.
    message: str
    #: 1-based line of the block's SEARCH marker in the reply.
    reply_line: int
    #: The lines SEARCH matched in the file as it was before this block, 1-based (0, 0 if none).
    first_line: int = 0
    last_line: int = 0


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Every block's report, and the files a successful reply changed."""

    reports: tuple[BlockReport, ...]
    #: Worktree-relative POSIX paths whose content changed, created ones included, sorted.
    changed: tuple[str, ...]
    #: The subset of ``changed`` that did not exist before.
    created: tuple[str, ...]

    @property
    def failures(self) -> list[BlockReport]:
        """The reports of the blocks that could not be applied."""
        return [r for r in self.reports if r.status == "failed"]


class EditsRejected(EditError):
    """Some blocks of a reply could not be applied, so no file was changed.

    Defined here rather than in :mod:`specrelay.errors` because it carries an :class:`ApplyResult`
    (every block's report); ``str(exc)`` lists the failures in a form meant to be sent back to the model.
    """

    def __init__(self, message: str, result: ApplyResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(slots=True)
class _File:
    """One file as the blocks see it: what was on disk, and its text so far."""

    target: Path
    rel: str
    #: The bytes on disk before the reply, None if the file did not exist.
    original: bytes | None
    #: The text before the reply, then after each block that applied.
    before: str
    text: str
    bom: bool = False
    mode: int | None = None
    #: True once a block of this reply created the file.
    created: bool = False

    @property
    def present(self) -> bool:
        """True if the file exists on disk or an earlier block created it."""
        return self.original is not None or self.created


def apply_blocks(worktree: Path, blocks: Sequence[EditBlock]) -> ApplyResult:
    """Apply every block to files under ``worktree``, or none of them.

    Returns the per-block reports and the changed paths (for the commit).
    Raises :class:`EditsRejected` if any block fails (bad path, binary file,
    no match, ambiguous match); then nothing on disk has changed.
    """
    root = Path(worktree).resolve()
    files: dict[Path, _File] = {}
    reports = tuple(_apply_one(root, files, index, block) for index, block in enumerate(blocks))
    touched = [f for f in files.values() if f.created or f.text != f.before]
    created = tuple(sorted(f.rel for f in touched if f.created))
    result = ApplyResult(reports, tuple(sorted(f.rel for f in touched)), created)
    if result.failures:
        raise EditsRejected(_rejection(result, len(blocks)), ApplyResult(reports, (), ()))
    _write_all(touched)
    return result


def _apply_one(root: Path, files: dict[Path, _File], index: int, block: EditBlock) -> BlockReport:
    try:
        target = resolve_in_worktree(root, block.path)
        state = files.get(target)
        if state is None:
            state = files[target] = _load(root, target, block.path)
        if block.bare_spaces and not state.present:
            # Bare, "Here is the new file a.py" reads as a path too: only an existing file settles it.
            raise EditError(f"the line {block.path!r} before '<<<<<<< SEARCH' names no file that exists. "
                            "Put the file's path alone on that line; a path with spaces goes in backticks "
                            "(`docs/user guide.md`)")
        if not state.present and not block.creates:
            raise NoMatch(f"{block.path} does not exist; to create it, send a block with an empty SEARCH")
        outcome = apply_edit_detailed(state.text, block.search, block.replace, path=block.path)
    except EditError as exc:
        return BlockReport(index, block.path, "failed", "", str(exc), block.line)
    state.text = outcome.text
    status: Status = "applied"
    if outcome.level == "create" and state.original is None:
        status, state.created = "created", True
    return BlockReport(index, block.path, status, outcome.level, "", block.line,
                       outcome.first_line, outcome.last_line)


def _load(root: Path, target: Path, path: str) -> _File:
    """Read a file for editing, refusing folders, binaries and non-UTF-8 text."""
    rel = target.relative_to(root).as_posix()
    if not target.exists():
        folder = target.parent
        while folder != root and not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            raise EditError(f"Cannot create {path}: {folder.relative_to(root).as_posix()} is a file, "
                            "not a folder")
        return _File(target, rel, None, "", "")
    if not target.is_file():
        raise EditError(f"Refusing to edit {path}: it is not a regular file")
    data = target.read_bytes()
    if b"\x00" in data[:_BINARY_PROBE]:
        raise EditError(f"Refusing to edit {path}: it is a binary file")
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        text = data[len(codecs.BOM_UTF8) if bom else 0:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(f"Refusing to edit {path}: it is not UTF-8 text ({exc.reason} at byte "
                        f"{exc.start})") from None
    return _File(target, rel, data, text, text, bom, stat.S_IMODE(target.stat().st_mode))


def _write_all(files: list[_File]) -> None:
    """Write every file atomically; if one write fails, put back the ones already written."""
    done: list[_File] = []
    try:
        for state in files:
            fsutil.atomic_write_text(state.target, ("\ufeff" if state.bom else "") + state.text)
            done.append(state)
            os.chmod(state.target, state.mode if state.mode is not None else 0o666 & ~_umask())
    except OSError as exc:
        for state in reversed(done):
            _restore(state)
        raise EditError(f"Could not write {state.rel}: {exc}; no file was changed") from exc


def _restore(state: _File) -> None:
    try:
        if state.original is None:
            state.target.unlink(missing_ok=True)
        else:
            fsutil.atomic_write_bytes(state.target, state.original)
            if state.mode is not None:
                os.chmod(state.target, state.mode)
    except OSError:
        pass  # best effort: the original error is the one worth reporting


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _rejection(result: ApplyResult, total: int) -> str:
    failures = result.failures
    lines = [f"{len(failures)} of {total} edit blocks could not be applied, so none was "
             "(no file changed):"]
    for report in failures:
        lines.append(f"\nBlock {report.index + 1} ({report.path}, reply line {report.reply_line}): "
                     f"{report.message}")
    return "\n".join(lines)
