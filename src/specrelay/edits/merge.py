"""Turn a matched span and a REPLACE into the span's new lines, as a three-way merge.

The base is SEARCH as the file has it (each SEARCH line replaced by the file
line it matched); "ours" is the file, which may hold lines SEARCH skipped;
"theirs" is REPLACE, re-indented and cleaned the way SEARCH had to be. Lines
REPLACE keeps unchanged come from the file byte for byte. Where the file's
skipped lines meet a change REPLACE makes, the intended result is unknowable,
and the merge refuses rather than guess.

The result is a list of items: an ``int`` is a file line kept as it is, a
``str`` is a new line.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import SequenceMatcher

from specrelay.edits.lines import (
    IDENTITY,
    TYPOGRAPHY,
    Shift,
    ascii_typography,
    is_blank,
    is_elision,
    shift_between,
    typographic_chars,
    typography_key,
)
from specrelay.edits.match import ELIDED, Match

Item = int | str
_ELIDED_KEY = "\x00elided\x00"  # never equal to a REPLACE line, so the marker always reads as changed


class MergeConflict(Exception):
    """The span was found, but how REPLACE applies to it is not certain. Carries a reason for the model."""


def merge(lines: list[str], match: Match, search: list[str], replace: list[str]) -> list[Item]:
    """The new lines of ``lines[match.start:match.stop]`` once ``search`` becomes ``replace``."""
    markers = [k for k, line in enumerate(replace) if is_elision(line)]
    if match.parts is not None and markers:
        if len(markers) > 1:
            raise MergeConflict("REPLACE has more than one '...' line; use one, standing for "
                                "the unchanged lines SEARCH's '...' stands for")
        head, tail = match.parts
        cut = match.align.index(ELIDED)
        return [
            *merge(lines, head, search[:cut], replace[: markers[0]]),
            *range(*match.elided),
            *merge(lines, tail, search[cut + 1:], replace[markers[0] + 1:]),
        ]
    return _Merge(lines, match, search, replace).run()


class _Merge:
    """One merge: REPLACE (in the file's frame) diffed against the file span it replaces."""

    def __init__(self, lines: list[str], match: Match, search: list[str], replace: list[str]) -> None:
        self.lines, self.match, self.search = lines, match, search
        level = match.level
        self.key = _compare_key(level.trailing_ws, level.typography)
        self.theirs = _theirs(lines, match, search, replace)
        self.their_keys = [self.key(t) for t in self.theirs]

    def run(self) -> list[Item]:
        match = self.match
        dropped = self._extras_kept()
        kept = [j for j in range(len(self.theirs)) if j not in dropped]
        span_keys = [self.key(self.lines[f]) for f in range(match.start, match.stop)]
        matcher = SequenceMatcher(None, span_keys, [self.their_keys[j] for j in kept], autojunk=False)
        known = {f for f in match.align if f is not None and f != ELIDED}
        known.update(range(*match.elided))
        out: list[Item] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                out.extend(range(match.start + i1, match.start + i2))
                continue
            unseen = [f for f in range(match.start + i1, match.start + i2) if f not in known]
            if unseen:
                raise MergeConflict(_unseen_reason(self.lines, unseen))
            out.extend(self.theirs[kept[j]] for j in range(j1, j2))
        return out

    def _extras_kept(self) -> set[int]:
        """REPLACE lines that only repeat a SEARCH line the file does not have at that place.

        The model believed the line was there and kept it; it is not there, so
        keeping it means nothing to write. Changing it is a conflict.
        """
        align = self.match.align
        if all(f is not None for f in align):
            return set()
        base = [self._base_key(k) for k in range(len(self.search))]
        dropped: set[int] = set()
        for tag, i1, i2, j1, _ in SequenceMatcher(None, base, self.their_keys, autojunk=False).get_opcodes():
            extras = [k for k in range(i1, i2) if align[k] is None]
            if tag == "equal":
                dropped.update(j1 + k - i1 for k in extras)
            elif tag == "replace" and extras:
                raise MergeConflict(f"REPLACE changes the SEARCH line {self.search[extras[0]].strip()!r}, "
                                    "which is not in the file there")
        return dropped

    def _base_key(self, k: int) -> str:
        f = self.match.align[k]
        if f == ELIDED:
            return _ELIDED_KEY
        if f is not None:
            return self.key(self.lines[f])
        shifted = (self.match.shift or IDENTITY).apply(self.search[k])
        return self.key(shifted if shifted is not None else self.search[k].strip())


def _unseen_reason(lines: list[str], unseen: list[int]) -> str:
    quoted = ", ".join(f"line {f + 1} ({lines[f].strip()!r})" for f in unseen[:3])
    return (f"SEARCH skips {quoted}, and REPLACE does not keep it, so it is unclear whether it should "
            "be deleted; copy it into SEARCH exactly, and into REPLACE if it stays")


def _compare_key(trailing_ws: bool, typography: bool) -> Callable[[str], str]:
    if typography:
        return lambda line: line.translate(TYPOGRAPHY).rstrip()
    if trailing_ws:
        return str.rstrip
    return lambda line: line


def _theirs(lines: list[str], match: Match, search: list[str], replace: list[str]) -> list[str]:
    """REPLACE in the file's frame: re-indented, trailing spaces and typography undone as SEARCH's were."""
    level = match.level
    span = lines[match.start:match.stop]
    shift = _reply_shift(lines, match, search, replace) if level.shift else None
    strip_ws = level.trailing_ws and all(s == s.rstrip() for s in span) and any(
        s != s.rstrip() for s in search
    )
    drifted = typographic_chars(search) - typographic_chars(span) if level.typography else set()
    out = []
    for number, line in enumerate(replace, 1):
        if shift is not None:
            moved = shift.apply(line)
            if moved is None:
                raise MergeConflict(f"REPLACE line {number} ({line.strip()!r}) is indented less than "
                                    f"SEARCH, so it cannot be moved by {shift.describe()}")
            line = moved
        if strip_ws:
            line = line.rstrip()
        out.append(ascii_typography(line, drifted))
    return out


def _reply_shift(lines: list[str], match: Match, search: list[str], replace: list[str]) -> Shift:
    """How to indent REPLACE so that it lands where SEARCH matched.

    When SEARCH matched at a shifted indentation, REPLACE may have lost the same
    indentation, or only its own: the lines SEARCH and REPLACE share at their
    start and end tell which. With no such line to tell, refuse.
    """
    if match.shift is None or match.shift.identity:
        return IDENTITY
    found: set[Shift] = set()
    for ks, kr in _anchor_pairs(search, replace):
        f = match.align[ks]
        if f is None or f == ELIDED or is_blank(search[ks]):
            continue
        shift = shift_between(replace[kr], lines[f])
        if shift is None:
            raise MergeConflict("REPLACE mixes tabs and spaces differently from the file")
        found.add(shift)
    if len(found) == 1:
        return found.pop()
    if not found and all(is_blank(line) for line in replace):
        return IDENTITY
    if not found:
        raise MergeConflict(
            f"SEARCH matched only with {match.shift.describe()} of indentation, and REPLACE shares no "
            "first or last line with SEARCH to tell how to indent it; copy the file's indentation exactly"
        )
    raise MergeConflict("REPLACE is indented inconsistently with SEARCH; copy the file's indentation exactly")


def _anchor_pairs(search: list[str], replace: list[str]) -> list[tuple[int, int]]:
    """Pairs of SEARCH/REPLACE lines with the same text at their common start and end."""
    pairs = []
    limit = min(len(search), len(replace))
    k = 0
    while k < limit and typography_key(search[k]) == typography_key(replace[k]):
        pairs.append((k, k))
        k += 1
    k = 1
    while k <= limit and typography_key(search[-k]) == typography_key(replace[-k]):
        pairs.append((len(search) - k, len(replace) - k))
        k += 1
    return pairs
