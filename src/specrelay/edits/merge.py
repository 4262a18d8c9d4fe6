"""Turn a matched span and a REPLACE into the span's new lines, or refuse.

REPLACE is first put in the file's frame (re-indented as SEARCH had to be),
then diffed against the file span it replaces. Lines it keeps come from the
file byte for byte, unless the model really changed them (a quote fixed,
trailing spaces removed). SEARCH may have skipped lines of the span (a dropped
blank or comment line): REPLACE may remove such a line only inside a block it
removes or rewrites around it; next to a line it keeps, the line may be meant
to stay, and the merge refuses rather than guess. SEARCH lines the file lacks
(an extra blank or comment line) that REPLACE keeps are simply not written.

The result is a list of items: an ``int`` is a file line kept as it is, a
``str`` is a new line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

from specrelay.edits.lines import (
    IDENTITY,
    TYPOGRAPHIC_CHARS,
    Shift,
    ascii_typography,
    is_blank,
    is_elision,
    shift_between,
    typographic_chars,
    typography_key,
    typography_rkey,
)
from specrelay.edits.match import ELIDED, Match

Item = int | str
_ELIDED_KEY = "\x00elided\x00"  # never equal to a REPLACE line, so the marker always reads as changed
#: At most this many other pairings of a kept blank line are compared (see _Merge._check_blank_runs).
_MAX_BLANK_CHOICES = 256


class MergeConflict(Exception):
    """The span was found, but how REPLACE applies to it is not certain. Carries a reason for the model."""


def merge(lines: list[str], match: Match, search: list[str], replace: list[str]) -> list[Item]:
    """The new lines of ``lines[match.start:match.stop]`` once ``search`` becomes ``replace``."""
    if match.parts is not None:
        cut = match.align.index(ELIDED)
        marker = _replace_marker(lines, match, search, replace)
        if marker is not None:
            head, tail = match.parts
            return [
                *merge(lines, head, search[:cut], replace[:marker]),
                *range(*match.elided),
                *merge(lines, tail, search[cut + 1:], replace[marker + 1:]),
            ]
    return _Merge(lines, match, search, replace).run()


def _replace_marker(lines: list[str], match: Match, search: list[str], replace: list[str]) -> int | None:
    """The REPLACE line standing for the lines SEARCH's ``...`` skipped, if it certainly is one.

    None when REPLACE has no ``...``-like line: then REPLACE is the whole new
    text of the span. A ``...`` line may also be literal code (a stub body, a
    doctest); unless it repeats SEARCH's marker exactly, once, and the skipped
    lines hold no such line themselves, refuse rather than guess.
    """
    like = [j for j, line in enumerate(replace) if is_elision(line)]
    if not like:
        return None
    marker = search[match.align.index(ELIDED)]
    middle = lines[slice(*match.elided)]
    if (
        len(like) == 1
        and replace[like[0]].rstrip() == marker.rstrip()
        and not any(line.strip() == marker.strip() for line in middle)
        and not _borrows_middle(search, replace, like[0], middle)
    ):
        return like[0]
    raise MergeConflict(
        "REPLACE has a '...' line, and it is unclear whether it stands for the lines SEARCH's '...' "
        "skipped or is meant literally; spell out SEARCH in full"
    )


def _borrows_middle(search: list[str], replace: list[str], at: int, middle: list[str]) -> bool:
    """True if REPLACE around its ``...`` has lines found only in the skipped middle.

    Then the ``...`` is more likely literal text inside a REPLACE that spells
    the middle out.
    """
    seen = {line.strip() for line in search}
    inside = {line.strip() for line in middle} - seen
    return any(line.strip() in inside for j, line in enumerate(replace) if j != at and line.strip())


class _Merge:
    """One merge: REPLACE (in the file's frame) diffed against the file span it replaces."""

    def __init__(self, lines: list[str], match: Match, search: list[str], replace: list[str]) -> None:
        self.lines, self.match, self.search = lines, match, search
        level = match.level
        self.key = _compare_key(level.trailing_ws, level.typography)
        self.theirs = _theirs(lines, match, search, replace)
        self.replace = replace
        self.reindented = level.shift and match.shift is not None and not match.shift.identity
        self.their_keys = [self.key(t) for t in self.theirs]
        self.typography = _Typography.of(lines, match, search) if level.typography else None
        self.search_of = {f: k for k, f in enumerate(match.align) if f is not None and f != ELIDED}
        self.known = set(self.search_of) | set(range(*match.elided))
        self._space_only: bool | None = None

    def run(self) -> list[Item]:
        match = self.match
        dropped = self._extras_kept()
        kept = [j for j in range(len(self.theirs)) if j not in dropped]
        span_keys = [self.key(self.lines[f]) for f in range(match.start, match.stop)]
        matcher = SequenceMatcher(None, span_keys, [self.their_keys[j] for j in kept], autojunk=False)
        out: list[Item] = []
        pairs: dict[int, int] = {}
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                pairs.update((match.start + i1 + off, kept[j1 + off]) for off in range(i2 - i1))
                out.extend(self._unchanged(match.start + i1 + off, kept[j1 + off]) for off in range(i2 - i1))
                continue
            self._check_unseen(match.start + i1, match.start + i2)
            out.extend(self._new(kept[j]) for j in range(j1, j2))
        self._check_blank_runs(pairs, kept)
        return out

    def _check_blank_runs(self, pairs: dict[int, int], kept: list[int]) -> None:
        """Refuse when which blank lines are kept is a guess that changes the result.

        Under a tolerant key an empty line and one holding spaces look the same, so
        which blank file line the matcher kept as which blank REPLACE line, and
        which it deleted or inserted instead, is arbitrary. Each such pair is moved
        to every other blank file and REPLACE line between its neighbouring pairs:
        if any move gives other bytes, nothing tells which the model meant (its
        SEARCH may show the lines alike), and the edit is refused.
        """
        order = sorted(pairs.items())
        for n, (f, j) in enumerate(order):
            if not is_blank(self.lines[f]):
                continue
            f_lo, j_lo = order[n - 1] if n else (self.match.start - 1, -1)
            f_hi, j_hi = order[n + 1] if n + 1 < len(order) else (self.match.stop, len(self.theirs))
            ours = [g for g in range(f_lo + 1, f_hi) if is_blank(self.lines[g])]
            theirs = [i for i in kept if j_lo < i < j_hi and is_blank(self.theirs[i])]
            moves = [(g, i) for g in ours for i in theirs
                     if (g, i) != (f, j) and self.key(self.lines[g]) == self.their_keys[i]]
            if not moves:
                continue
            # A move changes what REPLACE lines j and i write, and nothing else.
            if len(moves) > _MAX_BLANK_CHOICES or any(self._moved(f, j, g, i) for g, i in moves):
                where = f"line {f + 1}" if len(ours) == 1 else f"lines {ours[0] + 1}-{ours[-1] + 1}"
                raise MergeConflict(
                    f"blank lines that differ only in whitespace meet at {where}, and which blank file line "
                    "REPLACE keeps as which of its own is unclear; copy the blank lines into SEARCH and REPLACE "
                    "exactly as they are in the file"
                )

    def _moved(self, f: int, j: int, g: int, i: int) -> bool:
        """True if keeping file line g as REPLACE line i, not f as j, writes other bytes."""
        if i == j:
            return self._kept_bytes(g, j) != self._kept_bytes(f, j)
        return (self._new_bytes(j) != self._kept_bytes(f, j)
                or self._kept_bytes(g, i) != self._new_bytes(i))

    def _new_bytes(self, j: int) -> str | None:
        """What REPLACE line ``j`` writes as a new line; None if that is uncertain."""
        try:
            return self._new(j)
        except MergeConflict:
            return None

    def _kept_bytes(self, f: int, j: int) -> str | None:
        """The text REPLACE line ``j`` puts in the file if it is file line ``f`` kept; None if uncertain."""
        try:
            item = self._unchanged(f, j)
        except MergeConflict:
            return None
        return self.lines[item] if isinstance(item, int) else item

    def _unchanged(self, f: int, j: int) -> Item:
        """A file line REPLACE keeps: the file's bytes, unless the model really changed the line.

        Equal here means equal under the level's tolerance. If REPLACE's line is
        the model's own SEARCH line unchanged, the model meant no change and the
        file's bytes stay; if it differs (trailing spaces removed, a quote fixed),
        that difference is the edit.
        """
        line = self.theirs[j]
        if line == self.lines[f]:
            return f
        k = self.search_of.get(f)
        if k is not None and line == self._search_in_file_frame(k):
            if is_blank(line):
                self._check_blank_alignment(f)
            return f
        return self._new(j)

    def _check_blank_alignment(self, f: int) -> None:
        """Refuse to keep blank file line ``f``'s bytes for its SEARCH line when SEARCH may have meant another.

        A SEARCH blank line matched ``f`` only under the tolerant key. If a blank file line next to ``f``
        (in the same run of blank lines) was skipped by SEARCH and holds other whitespace, SEARCH's line
        may as well have been that one, with ``f`` the line it dropped: whose bytes stay is a guess.
        """
        run = [f]
        for step in (-1, 1):
            g = f + step
            while self.match.start <= g < self.match.stop and is_blank(self.lines[g]):
                run.append(g)
                g += step
        if any(g not in self.known and self.lines[g] != self.lines[f] for g in run):
            raise MergeConflict(
                f"SEARCH skips a blank line next to line {f + 1}, and the two differ only in whitespace, so "
                "which of them SEARCH's blank line is, and which REPLACE keeps, is unclear; copy the blank "
                "lines into SEARCH and REPLACE exactly as they are in the file"
            )

    def _new(self, j: int) -> str:
        """REPLACE line ``j`` as it goes into the file."""
        line = self.theirs[j]
        if not line and self.reindented and self._has_space_only_lines():
            # Losing indentation also empties whitespace-only lines; this file has such lines,
            # so an empty one here may have been one of them.
            raise MergeConflict(f"REPLACE line {j + 1} is empty, and this file has blank lines holding "
                                "spaces; with REPLACE's indentation shifted, which one it is is unclear")
        if line and not line.strip() and line != self.replace[j]:
            # Whitespace alone says nothing of indentation: whether it moved with the rest is a guess.
            raise MergeConflict(f"REPLACE line {j + 1} holds only whitespace, and with REPLACE's indentation "
                                "shifted, whether that whitespace shifts too is unclear; leave the line empty")
        if self.typography is None:
            return line
        return self.typography.fix(line, j + 1)

    def _has_space_only_lines(self) -> bool:
        if self._space_only is None:
            self._space_only = any(line and not line.strip() for line in self.lines)
        return self._space_only

    def _check_unseen(self, first: int, stop: int) -> None:
        """Refuse to drop a file line SEARCH never showed, unless it lies inside a changed block.

        A skipped line between two lines that REPLACE both removes (or rewrites) is
        part of that block. One next to a line REPLACE keeps may be meant to stay.
        """
        known = [f for f in range(first, stop) if f in self.known]
        unseen = [f for f in range(first, stop) if f not in self.known]
        if unseen and (not known or unseen[0] < known[0] or unseen[-1] > known[-1]):
            raise MergeConflict(_unseen_reason(self.lines, unseen))

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

    def _search_in_file_frame(self, k: int) -> str:
        if not self.match.level.shift:
            return self.search[k]
        shifted = (self.match.shift or IDENTITY).apply(self.search[k])
        return shifted if shifted is not None else self.search[k]

    def _base_key(self, k: int) -> str:
        f = self.match.align[k]
        if f == ELIDED:
            return _ELIDED_KEY
        if f is not None:
            return self.key(self.lines[f])
        return self.key(self._search_in_file_frame(k))


def _unseen_reason(lines: list[str], unseen: list[int]) -> str:
    quoted = ", ".join(f"line {f + 1} ({lines[f].strip()!r})" for f in unseen[:3])
    return (f"SEARCH skips {quoted}, and REPLACE does not keep it, so it is unclear whether it should "
            "be deleted; copy it into SEARCH exactly, and into REPLACE if it stays")


def _compare_key(trailing_ws: bool, typography: bool) -> Callable[[str], str]:
    if typography:
        return typography_rkey
    if trailing_ws:
        return str.rstrip
    return lambda line: line


def _theirs(lines: list[str], match: Match, search: list[str], replace: list[str]) -> list[str]:
    """REPLACE in the file's frame: re-indented as SEARCH had to be.

    Trailing spaces in REPLACE are left alone: some are meant (a Markdown line
    break, a string literal), and lines REPLACE keeps come from the file anyway.
    """
    if not match.level.shift:
        return list(replace)
    shift = _reply_shift(lines, match, search, replace)
    out = []
    for number, line in enumerate(replace, 1):
        moved = shift.apply(line)
        if moved is None:
            raise MergeConflict(f"REPLACE line {number} ({line.strip()!r}) is indented less than "
                                f"SEARCH, so it cannot be moved by {shift.describe()}")
        out.append(moved)
    return out


@dataclass(frozen=True, slots=True)
class _Typography:
    """Which typographic characters SEARCH typed for ASCII ones, to undo in REPLACE's new lines."""

    #: Characters some SEARCH line has more of than the file line it matched.
    drifted: frozenset[str]
    #: Drifted characters that the file also uses as they are: in a new line, either may be meant.
    doubtful: frozenset[str]

    @classmethod
    def of(cls, lines: list[str], match: Match, search: list[str]) -> _Typography:
        drifted: set[str] = set()
        for k, f in enumerate(match.align):
            if f is not None and f != ELIDED and not search[k].isascii():
                s = search[k]
                drifted.update(c for c in TYPOGRAPHIC_CHARS.intersection(s) if s.count(c) > lines[f].count(c))
        return cls(frozenset(drifted), frozenset(drifted & typographic_chars(lines)))

    def fix(self, line: str, number: int) -> str:
        """A new REPLACE line with the drifted characters made ASCII; refuse if unsure."""
        doubtful = self.doubtful.intersection(line)
        if doubtful:
            raise MergeConflict(
                f"REPLACE line {number} has {sorted(doubtful)[0]!r}, which SEARCH typed for an ASCII "
                "character while the file also uses it as it is; write the line exactly as it should be"
            )
        return ascii_typography(line, set(self.drifted))


def _reply_shift(lines: list[str], match: Match, search: list[str], replace: list[str]) -> Shift:
    """How to indent REPLACE so that it lands where SEARCH matched.

    SEARCH matched with its indentation shifted. REPLACE may have lost the same
    indentation (it repeats SEARCH's first or last line exactly), or only its own
    (it repeats SEARCH's first line with another indentation, as when it adds
    less-indented code after that line). Only the outermost lines are used:
    they are the context a model keeps unchanged, where inner lines may be
    re-indented by the edit itself. Without them, REPLACE may have lost more or
    less indentation than SEARCH did, so refuse.
    """
    if match.shift is None or match.shift.identity:
        return IDENTITY
    first = _outer_shift(lines, match, search, replace, 0)
    last = _outer_shift(lines, match, search, replace, -1)
    if first is not None and last is not None and first != last:
        raise MergeConflict("REPLACE's first and last lines are indented inconsistently with SEARCH's; "
                            "copy the file's indentation exactly")
    if first is not None:
        return first
    if last is not None and last == match.shift:
        return last
    if all(is_blank(line) for line in replace):
        return IDENTITY
    raise MergeConflict(
        f"SEARCH matched only with {match.shift.describe()} of indentation, and REPLACE does not start "
        "with SEARCH's first line to tell how to indent it; copy the file's indentation exactly"
    )


def _outer_shift(
    lines: list[str], match: Match, search: list[str], replace: list[str], end: int
) -> Shift | None:
    """The shift putting REPLACE's first (``end=0``) or last (``end=-1``) line where SEARCH's is."""
    ks = [k for k, line in enumerate(search) if not is_blank(line)]
    kr = [k for k, line in enumerate(replace) if not is_blank(line)]
    if not ks or not kr:
        return None
    k, j = ks[end], kr[end]
    f = match.align[k]
    if f is None or f == ELIDED or typography_key(search[k]) != typography_key(replace[j]):
        return None
    shift = shift_between(replace[j], lines[f])
    if shift is None:
        raise MergeConflict("REPLACE mixes tabs and spaces differently from the file")
    return shift
