"""The transcript of an agent loop: one JSON object a line, written as each turn ends, so that an
interrupted loop leaves what it did (``implement_rN.transcript.jsonl``, shown by ``specrelay show``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class Transcript:
    """Appends a loop's turns to ``path`` (emptied when the loop starts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")

    def add(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """The entries of a transcript file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
