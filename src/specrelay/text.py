"""Small wording helpers shared by every layer; this module imports nothing of specrelay's."""

from __future__ import annotations


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
