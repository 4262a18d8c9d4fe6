"""What a page shows of the task's files: Markdown (a spec, a review) and diffs, as safe HTML.

The text is a model's: raw HTML in it is escaped, never passed through, and links are those
markdown-it accepts (no ``javascript:``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markupsafe import Markup

_FILE_HEADER = re.compile(r"^diff --git a/(.*?) b/(.*)$", re.MULTILINE)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def markdown(text: str) -> Markup:
    """Markdown rendered to HTML, its raw HTML escaped."""
    return Markup(_markdown().render(text))


@dataclass(frozen=True)
class DiffFile:
    """One file's part of a diff: its path and its hunks, highlighted."""

    path: str
    added: int
    deleted: int
    html: Markup


def diff_files(diff: str) -> list[DiffFile]:
    """A unified diff split by file, each highlighted (Pygments' diff lexer, CSS classes in app.css)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer

    starts = [m.start() for m in _FILE_HEADER.finditer(diff)] or ([0] if diff.strip() else [])
    lexer, formatter = DiffLexer(), HtmlFormatter(nowrap=True)
    out = []
    for i, start in enumerate(starts):
        part = diff[start: starts[i + 1] if i + 1 < len(starts) else len(diff)]
        match = _FILE_HEADER.match(part)
        lines = part.splitlines()
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        deleted = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
        html = Markup(highlight(part, lexer, formatter))  # Pygments escapes the text it formats
        out.append(DiffFile(match[2] if match else "(diff)", added, deleted, html))
    return out


def log_text(data: bytes, limit: int = 200_000) -> str:
    """A log's text for a page: decoded whatever its bytes, its end kept when it is long."""
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= limit else "… (start cut)\n" + text[-limit:]
