"""Parse a builder's reply into SEARCH/REPLACE blocks.

The conventional form, possibly inside code fences, several per reply::

    path/to/file.py
    <<<<<<< SEARCH
    lines as they are
    =======
    lines as they should be
    >>>>>>> REPLACE

An empty SEARCH means "create this file". The parser is lenient about what is
harmless (marker length, a path decorated as ``**path**``, ``- path`` or ``File: path``, a
fence between the path and the block, a path left out on a later block for the
same file) and strict about structure: a block that does not close, or whose
parts are out of order, is a :class:`~specrelay.errors.MalformedBlock` that
quotes the line where it breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from specrelay.errors import MalformedBlock

_SEARCH = re.compile(r"^<{5,}\s*SEARCH\s*$", re.IGNORECASE)
# Dividers are 5 to 9 "=" at the start of a line: longer runs are reStructuredText underlines.
_DIVIDER = re.compile(r"^={5,9}\s*$")
_REPLACE = re.compile(r"^>{5,}\s*REPLACE\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")
# "File:", "**Path:**", "__File__:": a label before the path, possibly in emphasis.
_LABEL = re.compile(r"^(?P<em>\*{1,2}|_{1,2})?(?:file\s*name|file\s*path|file|path)\s*"
                    r"(?:(?(em)(?P=em)):|:\s*(?(em)(?P=em)))\s*", re.IGNORECASE)
_QUOTES = "`'\""
# Underscores closing a Markdown emphasis right after a file extension ("__src/app.py__"): a name
# never ends so, while "__init__" and "pkg/__main__" do end in underscores that belong to them.
_UNDERSCORE_EMPHASIS = re.compile(r"^(_+)(?P<inner>.*\.[A-Za-z0-9]+)(_+)$")
# A path with spaces, written bare: ends in a file extension, not in sentence punctuation.
_SPACED_PATH = re.compile(r"^[^\s/][^/]*(?:/[^\s/][^/]*)*\.[A-Za-z0-9]+$")
# A Markdown list item's marker ("- ", "* ", "+ ", "1. ", "1) "): decoration, like a heading's "#".
_LIST_MARKER = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+")


@dataclass(frozen=True, slots=True)
class EditBlock:
    """One SEARCH/REPLACE block: which file, what to find, what to put instead."""

    path: str
    search: str
    replace: str
    #: 1-based line of the ``<<<<<<< SEARCH`` marker in the reply.
    line: int
    #: True when the path holds spaces and was written bare (not in backticks or quotes): such a
    #: line may be prose ("Here is the new file a.py"), so it is taken as a path only for a file
    #: that exists (see :func:`~specrelay.edits.apply.apply_blocks`).
    bare_spaces: bool = False

    @property
    def creates(self) -> bool:
        """True for a block with an empty SEARCH, which creates its file."""
        return not self.search


def parse_blocks(reply: str) -> list[EditBlock]:
    """All SEARCH/REPLACE blocks in ``reply``, in order; ``[]`` if it has none.

    Raises :class:`~specrelay.errors.MalformedBlock` naming the line number and
    quoting the line where a block breaks.
    """
    lines = [line.removesuffix("\r") for line in reply.split("\n")]
    blocks: list[EditBlock] = []
    i = 0
    while i < len(lines):
        if _SEARCH.match(lines[i]):
            previous = blocks[-1].path if blocks else None
            path, bare = _path_before(lines, i, previous)
            end, divider = _block_end(lines, i)
            blocks.append(EditBlock(path, _join(lines[i + 1:divider]), _join(lines[divider + 1:end]), i + 1,
                                    bare))
            i = end + 1
            continue
        if _REPLACE.match(lines[i]):
            raise _malformed(lines, i, "'>>>>>>> REPLACE' with no '<<<<<<< SEARCH' before it")
        i += 1
    return blocks


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _block_end(lines: list[str], start: int) -> tuple[int, int]:
    """The REPLACE marker's index and the divider's, for the block opened at ``start``."""
    dividers: list[int] = []
    for j in range(start + 1, len(lines)):
        if _REPLACE.match(lines[j]):
            if not dividers:
                raise _malformed(lines, j, f"'>>>>>>> REPLACE' without a '=======' since the SEARCH "
                                           f"at line {start + 1}")
            return j, _pick_divider(lines, dividers)
        if _SEARCH.match(lines[j]):
            raise _malformed(lines, j, f"a new '<<<<<<< SEARCH' before the block opened at line "
                                       f"{start + 1} was closed with '>>>>>>> REPLACE'")
        if _DIVIDER.match(lines[j]):
            dividers.append(j)
    missing = "'>>>>>>> REPLACE'" if dividers else "'=======' and '>>>>>>> REPLACE'"
    raise _malformed(lines, start, f"this SEARCH block never ends: no {missing} after it")


def _pick_divider(lines: list[str], dividers: list[int]) -> int:
    """The divider between SEARCH and REPLACE; several ``=`` lines are fine if one is the usual seven."""
    if len(dividers) == 1:
        return dividers[0]
    usual = [d for d in dividers if lines[d].rstrip() == "======="]
    if len(usual) == 1:
        return usual[0]
    shown = ", ".join(str(d + 1) for d in dividers)
    raise _malformed(lines, dividers[0], f"the block has several '=======' lines ({shown}), so where "
                                         "SEARCH ends is ambiguous")


def _path_before(lines: list[str], search_at: int, previous: str | None) -> tuple[str, bool]:
    """The file path written on the last line before the SEARCH marker (fences and blanks skipped),
    and whether it holds spaces written bare.

    A block right after another block, with no path of its own, edits the same file.
    """
    k = search_at - 1
    while k >= 0 and (not lines[k].strip() or _FENCE.match(lines[k])):
        k -= 1
    if k >= 0 and _REPLACE.match(lines[k]) and previous is not None:
        return previous, False
    if k < 0 or _REPLACE.match(lines[k]):
        raise _malformed(lines, search_at, "no file path on the line before '<<<<<<< SEARCH'")
    found = read_path(lines[k])
    if found is None:
        raise _malformed(lines, k, "expected the file path alone on the line before '<<<<<<< SEARCH'")
    return found


def clean_path(line: str) -> str | None:
    """The path on a line like ``src/app.py``, ``**src/app.py**``, ``### File: `src/app.py```,
    ``- src/app.py``; None when the line is not plainly a path. See :func:`read_path`."""
    found = read_path(line)
    return None if found is None else found[0]


def read_path(line: str) -> tuple[str, bool] | None:
    """The path on a line, and whether it holds spaces written bare (not quoted).

    Only decoration that pairs is removed: ``**`` or ``*`` on both ends, backticks or quotes
    around the path, underscores around it when they close after a file extension (so
    ``__init__.py`` stays whole), and a heading's ``#``, a list item's marker (``- ``, ``1. ``),
    a ``File:`` label or a colon after it. Characters of the name itself are never removed.
    None when the line is not plainly a path (prose, empty). A path with spaces is that path
    when it is quoted; bare and ending in a file extension (``docs/user guide.md``) it may be a
    path or prose, which only the worktree can tell: the flag says so.
    """
    text = line.strip()
    if text.startswith("#"):
        text = text.lstrip("#").strip()
    text = _LIST_MARKER.sub("", text, count=1)
    text = _LABEL.sub("", text)
    # "Here is the change to app.py:" is prose ending in a colon, not a path with spaces.
    colon, quoted = text.endswith(":"), False
    for _ in range(4):  # "**`path`**:" unwraps a layer at a time
        unwrapped, was_quoted = _unwrap(text.removesuffix(":").rstrip())
        if unwrapped == text:
            break
        text, quoted = unwrapped, quoted or was_quoted
    if not text or any(ch in _QUOTES for ch in text):
        return None
    bare_spaces = not quoted and any(ch.isspace() for ch in text)
    if bare_spaces and (colon or not _SPACED_PATH.match(text)):
        return None
    return text, bare_spaces


def _unwrap(text: str) -> tuple[str, bool]:
    """``text`` without one pair of decoration around it, and whether that pair was quotes."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        return text[1:-1].strip(), True
    for emphasis in ("**", "*"):
        if len(text) > 2 * len(emphasis) and text.startswith(emphasis) and text.endswith(emphasis):
            return text[len(emphasis):-len(emphasis)].strip(), False
    found = _UNDERSCORE_EMPHASIS.match(text)
    if found and len(found.group(1)) >= len(found.group(3)):
        closing = len(found.group(3))
        return text[closing:-closing].strip(), False
    return text, False


def _malformed(lines: list[str], index: int, problem: str) -> MalformedBlock:
    quoted = lines[index] if index < len(lines) else ""
    return MalformedBlock(f"Malformed edit block at line {index + 1} of the reply: {problem}: {quoted!r}",
                          line=index + 1)
