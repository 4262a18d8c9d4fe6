"""The transcript of an agent loop: one JSON object a line, written as each turn ends, so that an
interrupted loop leaves what it did (``implement_rN.transcript.jsonl``, shown by ``specrelay show``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class Transcript:
    """Appends a loop's turns to ``path``, new when the loop starts: a transcript of an earlier try of the
    same loop (one interrupted, then redone on resume) is kept beside it as ``NAME.tryN.transcript.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 0:
            path.replace(earlier_name(path))
        path.write_text("", encoding="utf-8")

    def add(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """The entries of a transcript file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def earlier_name(path: Path) -> Path:
    """The first free ``NAME.tryN.transcript.jsonl`` beside ``NAME.transcript.jsonl``."""
    stem = path.name.removesuffix(".transcript.jsonl")
    n = 1
    while (path.with_name(f"{stem}.try{n}.transcript.jsonl")).exists():
        n += 1
    return path.with_name(f"{stem}.try{n}.transcript.jsonl")


def render(entries: list[dict[str, Any]], *, answer_lines: int = 6) -> str:
    """A transcript for a person: each turn's tokens and cost, what the model said, each tool it called
    with the first lines of the answer, and a repair asked for."""
    out: list[str] = []
    for e in entries:
        cost = e.get("cost_usd")
        paid = "reused from the ledger" if e.get("reused") else ("cost unknown" if cost is None else f"${cost:.4f}")
        out.append(f"Turn {e.get('turn')} · {e.get('input_tokens', 0):,} in, {e.get('output_tokens', 0):,} out · "
                   f"{paid}")
        text = str(e.get("text") or "").strip()
        if text:
            out += ["  " + line for line in text.splitlines()]
        for tool in e.get("tools") or []:
            args = ", ".join(f"{k}={_short(v)}" for k, v in (tool.get("arguments") or {}).items())
            out.append(f"  {'✓' if tool.get('ok') else '✗'} {tool.get('name')}({args})")
            lines = str(tool.get("answer") or "").splitlines()
            out += ["      " + line for line in lines[:answer_lines]]
            if len(lines) > answer_lines:
                out.append(f"      ... {len(lines) - answer_lines} more lines")
        if e.get("repair"):
            out.append(f"  ↻ asked to answer again: {e['repair']}")
        out.append("")
    return "\n".join(out)


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    first = text.splitlines()[0] if text else text
    return first if len(first) <= limit and first == text else first[:limit - 3] + "..."
