"""Small wording and path-pattern helpers shared by every layer; this module imports nothing of specrelay's."""

from __future__ import annotations

import re


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 commit``, ``2 commits``, ``0 files``: a count and its noun, in the right number.

    ``many`` is the plural when adding an ``s`` is wrong (``1 entry``, ``2 entries``).
    """
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def excerpt(text: str, tokens: int) -> str:
    """``text`` bounded to about ``tokens`` tokens (4 characters a token, the estimate's measure): whole
    when it fits, else its beginning and its end, cut at line breaks where there are any, with a note of
    how much was left out between them."""
    limit = tokens * 4
    if len(text) <= limit:
        return text
    half = limit // 2
    head, tail = text[:half], text[len(text) - half:]
    if "\n" in head[half // 2:]:
        head = head[:head.rindex("\n")]
    if "\n" in tail[:half // 2]:
        tail = tail[tail.index("\n") + 1:]
    return f"{head}\n[... {len(text) - len(head) - len(tail):,} characters left out ...]\n{tail}"


def path_matches(path: str, pattern: str) -> bool:
    """Whether ``path`` (relative, ``/``-separated) matches ``pattern`` as a shell glob over paths: ``*``
    and ``?`` stay within one folder, ``**`` spans any number of them (``src/**/*.py``, ``**/test_*``),
    ``[...]`` is a character class; the whole path must match. A pattern without ``/`` matches a file's
    name in any folder, as in ``.gitignore`` (``*.py``, ``conftest.py``)."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    return _glob_regex(pattern).fullmatch(path) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body[0] == "!" else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
