"""textkit: small helpers for cleaning up text."""

from textkit.words import slugify, word_count

__all__ = ["slugify", "word_count"]
