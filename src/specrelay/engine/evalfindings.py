"""Review findings scored against a hidden check's failure: the places in the code a failing check's
output points at, and which of them a reviewer had flagged.

A place is a ``path:line`` of a file that is not a test (by :func:`evalcases.is_test_path`), as test
runners and tracebacks print them (``src/calc.py:12: AssertionError``, ``File "src/calc.py", line 12``).
A path inside the check's scratch worktree is read relative to it; any other absolute path (the
standard library, an installed package) is no place in the project and is left out. A finding flags a
place when its file is the same (or one path ends with the other) and its line is within
:data:`LINE_SLACK` lines of it: a reviewer points at the faulty statement, a traceback at the line
that raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from specrelay.engine.evalcases import is_test_path

#: How many lines apart a finding and a failure's place may be and still be the same place.
LINE_SLACK = 3

_TRACEBACK = re.compile(r'File "(?P<path>[^"\n]+)", line (?P<line>\d+)')
_COLON = re.compile(r"(?<![\w./\\-])(?P<path>[\w.\\/-]*\w\.[A-Za-z0-9]{1,8}):(?P<line>\d+)\b")
#: The scratch worktree a hidden check runs in (:mod:`specrelay.engine.evalcheck`): ``.../specrelay-check-X/tree/``.
_SCRATCH = re.compile(r"^.*?/specrelay-check-[^/]+/tree/")


@dataclass(frozen=True, order=True)
class Place:
    """A line of a file of the project."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def _project_path(raw: str) -> str | None:
    """``raw`` as a path relative to the project, or None when it is outside it."""
    text = raw.replace("\\", "/")
    text = _SCRATCH.sub("", text)
    if text.startswith(("/", "<")) or re.match(r"^[A-Za-z]:/", text):  # absolute, or "<string>", "<frozen ...>"
        return None
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if not parts or ".." in parts or any(p in ("site-packages", "dist-packages", "node_modules") for p in parts):
        return None
    return "/".join(parts)


def failure_places(output: str) -> list[Place]:
    """The non-test places of the project that a check's output names, each once, in order."""
    found: dict[Place, None] = {}
    for pattern in (_TRACEBACK, _COLON):
        for match in pattern.finditer(output):
            path = _project_path(match["path"])
            if path is None or is_test_path(path):
                continue
            found.setdefault(Place(path, int(match["line"])), None)
    return list(found)


def parse_where(where: str) -> Place | None:
    """A finding's ``file:line`` as a place; None when it names no line (``(general)``, a bare file)."""
    path, _, line = where.rpartition(":")
    if not path or not line.isdigit():
        return None
    project = _project_path(path)
    return Place(project, int(line)) if project else None


def _same_file(a: str, b: str) -> bool:
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def flagged(place: Place, findings: list[Place]) -> bool:
    """Whether one of the findings points at ``place`` (same file, line within :data:`LINE_SLACK`)."""
    return any(_same_file(place.path, f.path) and abs(place.line - f.line) <= LINE_SLACK for f in findings)
