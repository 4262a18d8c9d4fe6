"""Workstreams: the independent parts a plan may split its spec into, each built by its own builder.

A spec may hold, after its usual sections, one ``## Workstreams`` section with one ``###`` heading
per workstream, each naming its own affected files and verification::

    ## Workstreams

    ### Parser
    Affected files: `src/parse.py`, `tests/test_parse.py`
    Verification: `pytest tests/test_parse.py`

    What this workstream does, in a few sentences.

The files are the backticked paths of the ``Affected files:`` line (and of the list items right
under it); ``Verification:`` is one line of prose. A spec without the section, or whose section
names fewer than two workstreams, is built by one builder as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from specrelay.engine.context import spec_section

_HEADING = re.compile(r"^(#{1,6})\s*(.+?)\s*#*\s*$")
_FILES = re.compile(r"^\s*(?:[-*+]\s*)?(?:\*\*)?affected files(?:\*\*)?\s*:\s*(.*)$", re.IGNORECASE)
_VERIFY = re.compile(r"^\s*(?:[-*+]\s*)?(?:\*\*)?verification(?:\*\*)?\s*:\s*(.*)$", re.IGNORECASE)
_ITEM = re.compile(r"^\s*[-*+]\s+(.*)$")
_PATH = re.compile(r"`([^`\s]+)`")
SECTION = "Workstreams"


@dataclass(frozen=True)
class Workstream:
    """One part of a spec: ``name`` (``ws-1``...), its ``title``, files, verification and body text."""

    name: str
    title: str
    files: tuple[str, ...]
    verification: str
    text: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "title": self.title, "files": list(self.files),
                "verification": self.verification}


def parse_workstreams(spec: str) -> list[Workstream]:
    """The workstreams ``spec`` names, in order (empty when it has no ``## Workstreams`` section)."""
    body = _top_section(spec)
    if body is None:
        return []
    found: list[Workstream] = []
    title: str | None = None
    lines: list[str] = []
    for line in [*body.splitlines(), "### "]:
        head = _HEADING.match(line)
        if (head and len(head.group(1)) >= 3) or line == "### ":
            if title is not None:
                found.append(_workstream(len(found) + 1, title, lines))
            title = head.group(2).strip() if head else None
            lines = []
        elif title is not None:
            lines.append(line)
    return found


def _top_section(spec: str) -> str | None:
    """The body of the ``## Workstreams`` section, up to the next heading of level 1 or 2."""
    if spec_section(spec, SECTION) is None:
        return None
    lines = spec.splitlines()
    start = next((i for i, line in enumerate(lines) if (m := _HEADING.match(line)) and len(m.group(1)) <= 2
                  and m.group(2).strip("*_ ").lower() == SECTION.lower()), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if (m := _HEADING.match(lines[i]))
                and len(m.group(1)) <= 2), len(lines))
    return "\n".join(lines[start + 1:end])


def _workstream(number: int, title: str, lines: list[str]) -> Workstream:
    files: list[str] = []
    verification = ""
    in_files = False
    for line in lines:
        if m := _FILES.match(line):
            files += _PATH.findall(m.group(1))
            in_files = True
        elif m := _VERIFY.match(line):
            verification = m.group(1).strip()
            in_files = False
        elif in_files and (item := _ITEM.match(line)):
            files += _PATH.findall(item.group(1))
        elif line.strip():
            in_files = False
    title = re.sub(r"^(?:workstream\s*\d*\s*[:.\u2014-]\s*)", "", title, flags=re.IGNORECASE) or title
    return Workstream(f"ws-{number}", title, tuple(dict.fromkeys(f for f in files if ".." not in f.split("/"))),
                      verification, "\n".join(lines).strip())


def spec_for(spec: str, stream: Workstream, others: list[Workstream]) -> str:
    """The spec one workstream's builder sees: the shared sections, its own workstream in place of
    the list of all of them, and its own files as the affected files."""
    rest = ", ".join(f"{o.title} ({', '.join(o.files) or 'no files'})" for o in others if o is not stream)
    part = (f"## Your workstream: {stream.title}\n\n{stream.text}\n\n"
            f"You build only this workstream; other builders build the others at the same time"
            f"{': ' + rest if rest else ''}. Change only your own files.\n")
    return narrowed(spec, part, stream.files)


def narrowed(spec: str, part: str, files: tuple[str, ...]) -> str:
    """``spec`` without its workstreams and affected files, then ``part``, then ``files`` as its affected files."""
    keep: list[str] = []
    skipping = False
    for line in spec.splitlines():
        head = _HEADING.match(line)
        if head and len(head.group(1)) <= 2:
            skipping = head.group(2).strip("*_ ").lower() in (SECTION.lower(), "affected files")
            if skipping:
                continue
        if not skipping:
            keep.append(line)
    listed = "\n".join(f"- `{f}`" for f in files) or "(none named)"
    return "\n".join(keep).rstrip() + "\n\n" + part.rstrip() + f"\n\n## Affected files\n\n{listed}\n"
