"""Small wording helpers shared by every layer; this module imports nothing of specrelay's."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 commit``, ``2 commits``, ``0 files``: a count and its noun, in the right number.

    ``many`` is the plural when adding an ``s`` is wrong (``1 entry``, ``2 entries``).
    """
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
