"""Path globs, one meaning everywhere a user or a model names files by pattern."""

from __future__ import annotations

import re


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
