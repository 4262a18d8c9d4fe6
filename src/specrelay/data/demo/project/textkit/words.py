"""Word-level helpers."""

import re


def word_count(text: str) -> int:
    """How many whitespace-separated words ``text`` holds."""
    return len(text.split())


def slugify(text: str) -> str:
    """A lowercase, hyphen-separated form of ``text`` for use in URLs."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)
