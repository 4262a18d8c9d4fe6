"""Texts as lines: splitting that keeps line endings, and the line normalisations the ladder uses.

Everything in :mod:`specrelay.edits` works on lines without their endings; the
endings are kept aside so that an edit can put every untouched line back byte
for byte: ``\\r\\n`` stays ``\\r\\n``, and a missing final newline stays missing
(unless an edit rewrites the last line with a REPLACE that ends in one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Typographic characters a model may type for their ASCII originals.
#: One-to-one where possible, so a normalised line keeps its length and columns.
TYPOGRAPHY: dict[int, str] = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ",
        "\u200b": "", "\ufeff": "",
    }
)
TYPOGRAPHIC_CHARS = frozenset(chr(code) for code in TYPOGRAPHY)
_ASCII_FOR = {chr(code): plain for code, plain in TYPOGRAPHY.items()}
# A regex finds the few typographic characters far faster than str.translate scans a long text.
_TYPOGRAPHIC = re.compile("[" + "".join(sorted(TYPOGRAPHIC_CHARS)) + "]")

# Line comments in the languages a builder is likely to touch. "--" needs a space
# after it so that a CLI option in a docstring ("--port") is not taken for one.
COMMENT_PREFIXES = ("#", "//", "/*", "*/", "<!--", "-->", "-- ")
COMMENT_STARTS = frozenset(prefix[0] for prefix in COMMENT_PREFIXES)

# "..." alone on a line, or as a comment ("# ...", "// ... existing code ...").
_ELISION = re.compile(
    r"^\s*(?:#|//|/\*|<!--)?\s*(?:\.\.\.|\u2026)(?:[\w\s,'()-]*(?:\.\.\.|\u2026))?\s*(?:\*/|-->)?\s*$"
)


@dataclass(frozen=True, slots=True)
class SplitText:
    """A text cut into lines: ``lines[i] + ends[i]`` concatenated give the text back."""

    lines: list[str]
    ends: list[str]
    newline: str
    text: str

    @property
    def final_newline(self) -> bool:
        """True when the text is empty or its last line ends with a newline."""
        return not self.ends or self.ends[-1] != ""

    def offset(self, line: int) -> int:
        """Where line ``line`` (0-based; may be ``len(lines)``) starts in the text."""
        return sum(map(len, self.lines[:line])) + sum(map(len, self.ends[:line]))


def split_text(text: str) -> SplitText:
    """Split a file's text into lines, remembering each line's own ending.

    Only ``\n`` and ``\r\n`` end lines (not ``\x0c`` or ``\u2028``, which
    :meth:`str.splitlines` would also split on). New lines written into the text
    use the ending most of its lines use.
    """
    parts = text.split("\n")
    last = parts.pop()
    if "\r" not in text:  # the common case, without a Python-level loop
        lines, ends, crlf = parts, ["\n"] * len(parts), 0
    else:
        lines, ends, crlf = [], [], 0
        for part in parts:
            crlf += part.endswith("\r")
            lines.append(part[:-1] if part.endswith("\r") else part)
            ends.append("\r\n" if part.endswith("\r") else "\n")
    if last:
        lines.append(last)
        ends.append("")
    newline = "\r\n" if crlf * 2 > len(parts) else "\n"
    return SplitText(lines, ends, newline, text)


def split_block(text: str) -> list[str]:
    """Split a SEARCH or REPLACE text into lines, dropping ``\\r`` and the final newline."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def is_blank(line: str) -> bool:
    """True for an empty or whitespace-only line."""
    return not line.strip()


def is_filler(line: str) -> bool:
    """True for a line a model may drop or add by mistake: blank, or a whole-line comment."""
    stripped = line.strip()
    return not stripped or stripped[0] in COMMENT_STARTS and stripped.startswith(COMMENT_PREFIXES)


def is_elision(line: str) -> bool:
    """True for a line that stands for "unchanged lines here" (``...``, ``# ...``)."""
    return _ELISION.match(line) is not None


def leading_ws(line: str) -> str:
    """The indentation of ``line``."""
    return line[: len(line) - len(line.lstrip())]


def untypographic(text: str) -> str:
    """``text`` with typographic quotes, dashes and spaces made ASCII."""
    if text.isascii():
        return text
    return _TYPOGRAPHIC.sub(lambda m: _ASCII_FOR[m.group()], text)


def typography_key(line: str) -> str:
    """``line`` stripped, with typographic quotes, dashes and spaces made ASCII."""
    return untypographic(line).strip()


def typography_rkey(line: str) -> str:
    """``line`` without trailing whitespace, with typographic quotes, dashes and spaces made ASCII."""
    return untypographic(line).rstrip()


def typographic_chars(lines: list[str]) -> set[str]:
    """The typographic characters that occur in ``lines``."""
    found: set[str] = set()
    for line in lines:
        if not line.isascii():
            found.update(ch for ch in line if ch in TYPOGRAPHIC_CHARS)
    return found


def ascii_typography(line: str, chars: set[str]) -> str:
    """Replace only the typographic characters in ``chars`` by their ASCII originals."""
    if not chars or line.isascii():
        return line
    return "".join(_ASCII_FOR[ch] if ch in chars else ch for ch in line)


@dataclass(frozen=True, slots=True)
class Shift:
    """A change of indentation: drop ``remove`` from the front of a line, then prepend ``add``."""

    remove: str = ""
    add: str = ""

    @property
    def identity(self) -> bool:
        """True when the shift changes nothing."""
        return not self.remove and not self.add

    def apply(self, line: str) -> str | None:
        """``line`` re-indented, or None if it lacks ``remove``.

        An empty line stays empty. A whitespace-only line is shifted when it can
        be and otherwise kept: whitespace alone tells nothing of where it belongs.
        """
        if not line or self.identity:
            return line
        if not line.startswith(self.remove):
            return None if line.strip() else line
        return self.add + line[len(self.remove):]

    def describe(self) -> str:
        """A short human description, e.g. ``"4 more spaces"``."""
        amount = self.add or self.remove
        unit = "tab" if set(amount) == {"\t"} else "space" if set(amount) == {" "} else "whitespace char"
        plural = "s" if len(amount) != 1 else ""
        return f"{len(amount)} {'more' if self.add else 'fewer'} {unit}{plural}"


IDENTITY = Shift()


def shift_between(src: str, dst: str) -> Shift | None:
    """The shift that turns the indentation of ``src`` into that of ``dst``, if there is one."""
    src_ws, dst_ws = leading_ws(src), leading_ws(dst)
    if src_ws == dst_ws:
        return IDENTITY
    if dst_ws.endswith(src_ws):
        return Shift("", dst_ws[: len(dst_ws) - len(src_ws)])
    if src_ws.endswith(dst_ws):
        return Shift(src_ws[: len(src_ws) - len(dst_ws)], "")
    return None
