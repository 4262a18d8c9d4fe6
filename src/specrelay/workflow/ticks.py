"""Tick a step's checkbox in a workflow file, so the file itself shows progress.

Only the one character between the brackets changes; line endings, trailing spaces and
every other byte stay as they were, and the file is replaced atomically.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from specrelay.errors import WorkflowError
from specrelay.fsutil import atomic_write_text
from specrelay.workflow.parse import error, step_headings

_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# The box on an ATX heading line ("### [ ] Step: X") or on a setext heading's text line.
_BOX_RE = re.compile(r"\ufeff?[ ]{0,3}(?:#{1,6}[ \t]+)?\[([ xX])\]")


def checked_titles(text: str) -> set[str]:
    """The titles of the steps ticked ``[x]`` in workflow ``text``."""
    return {heading.title for heading in step_headings(text) if heading.checked}


def _line_start(text: str, line: int) -> int:
    """The offset in ``text`` where 1-based ``line`` begins, counting \\r\\n, \\r and \\n as breaks."""
    if line == 1:
        return 0
    for number, match in enumerate(_LINE_BREAK_RE.finditer(text), start=2):
        if number == line:
            return match.end()
    raise ValueError(f"text has fewer than {line} lines")


def tick_text(text: str, title: str, done: bool = True, *, label: str = "workflow") -> str:
    """``text`` with step ``title``'s box set to ``[x]`` (``[ ]`` when not ``done``); nothing else changes."""
    headings = [h for h in step_headings(text) if h.title == title]
    if len(headings) != 1:
        titles = ", ".join(repr(h.title) for h in step_headings(text)) or "(none)"
        what = f"no step titled {title!r}" if not headings else f"{len(headings)} steps titled {title!r}"
        raise error(label, headings[1].line if headings else 1, what, f"Steps in this file: {titles}")
    return set_box(text, headings[0].line, done, label=label)


def set_box(text: str, line: int, done: bool, *, label: str = "workflow") -> str:
    """``text`` with the box of the step heading on 1-based ``line`` set; no parsing, for known lines."""
    try:
        match = _BOX_RE.match(text, _line_start(text, line))
    except ValueError:
        match = None
    if match is None:
        raise WorkflowError(f"{label}:{line}: no step checkbox on this line; was the file edited by hand?")
    box = match.start(1)
    return text[:box] + ("x" if done else " ") + text[box + 1:]


def untick_all(text: str) -> str:
    """``text`` with every step's box set to ``[ ]`` (one parse)."""
    for heading in step_headings(text):
        text = set_box(text, heading.line, False)
    return text


def tick(path: Path, title: str, done: bool = True) -> bool:
    """Tick (or untick) step ``title`` in the workflow file at ``path``; True if the file changed.

    A box already in the wanted state is left alone (no write). The file's permissions are kept.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise WorkflowError(f"{path}: cannot read workflow: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise WorkflowError(f"{path}: not UTF-8 text (byte {exc.start}). Save the workflow as UTF-8") from exc
    ticked = tick_text(text, title, done, label=str(path))
    if ticked == text:
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    atomic_write_text(path, ticked)
    os.chmod(path, mode)
    return True
