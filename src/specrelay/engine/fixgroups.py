"""Fix groups: a fix round's blocking findings split by the files they are about, one fixer per group.

The review leaves the findings a fix round must address (``fix_findings.md``, numbered) and, in the
same order, the file each is about (``fix_findings.json``). Findings about the same file make one
group; groups touch disjoint files, so their fixers can work at once. A finding about no file in
particular (``(general)``) may touch any file: then the round is one fixer's, as always.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_ITEM = re.compile(r"^\d+\.\s", re.MULTILINE)


@dataclass(frozen=True)
class FixGroup:
    """The findings about one set of files: ``name`` (``fix-1``), the files, the findings' text."""

    name: str
    files: tuple[str, ...]
    findings: str


def fix_groups(findings: str, files_json: str | None) -> list[FixGroup]:
    """The groups of ``findings`` by file, in the order their first finding comes (empty: no split)."""
    items = _items(findings)
    try:
        files = json.loads(files_json) if files_json else None
    except ValueError:
        return []
    if not isinstance(files, list) or len(files) != len(items) or not all(isinstance(f, str) and f for f in files):
        return []
    by_file: dict[str, list[str]] = {}
    for name, item in zip(files, items, strict=True):
        by_file.setdefault(name.removeprefix("./"), []).append(item)
    return [FixGroup(f"fix-{n}", (name,), _numbered(group)) for n, (name, group) in enumerate(by_file.items(), 1)]


def _items(text: str) -> list[str]:
    starts = [m.start() for m in _ITEM.finditer(text)]
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def _numbered(items: list[str]) -> str:
    return "\n".join(_ITEM.sub(f"{n}. ", item, count=1) for n, item in enumerate(items, 1))
