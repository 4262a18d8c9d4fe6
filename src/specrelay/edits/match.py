"""Where does a SEARCH block sit in a file? The ladder of matching levels, strictest first.

Each :class:`Level` is data: a key that normalises a line, and the drifts it
tolerates. :func:`find_matches` returns *every* place SEARCH matches at one
level; the caller stops at the first level with any match, and refuses when
that level has more than one (never "first match wins"). The one exception is
the elision level, where a ``...`` may frame several spans: there the caller
applies the edit only if it gives the same text whichever span was meant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from specrelay.edits.lines import (
    COMMENT_PREFIXES,
    COMMENT_STARTS,
    IDENTITY,
    Shift,
    is_blank,
    is_elision,
    is_filler,
    shift_between,
    typography_key,
    typography_rkey,
    untypographic,
)

#: ``Match.align`` value for the SEARCH line that is an elision marker (``...``).
ELIDED = -1
#: More ``...``-like lines than this in one SEARCH and none is taken for an elision.
_MAX_MARKERS = 3


def _same(line: str) -> str:
    return line


@dataclass(frozen=True, slots=True)
class Level:
    """One rung of the ladder: how lines are compared and which drifts are tolerated."""

    name: str
    #: Words that finish "SEARCH matches ..." in messages.
    how: str
    key: Callable[[str], str] = _same
    trailing_ws: bool = False
    #: A uniform indentation offset between SEARCH and the file (re-applied to REPLACE).
    shift: bool = False
    #: Blank or comment lines missing from SEARCH, or in SEARCH but not in the file.
    skip_filler: bool = False
    #: Typographic quotes, dashes and spaces in SEARCH standing for ASCII ones.
    typography: bool = False
    #: A single ``...`` line in SEARCH standing for the lines between its head and tail.
    elision: bool = False
    #: Tolerates one drift besides trailing whitespace. A unique match at such a level is
    #: refused if another one-drift level finds a different place (see ``edit._check_rivals``).
    solo: bool = False


#: The ladder, strictest first. Trailing whitespace, invisible and the commonest drift, is
#: tolerated from the second rung on; each next rung tolerates one other drift; then all of
#: them at once, for a model that drifted several ways; then an elided middle.
LADDER: tuple[Level, ...] = (
    Level("exact", "exactly"),
    Level("trailing_ws", "ignoring trailing whitespace", str.rstrip, trailing_ws=True),
    Level("indent", "ignoring indentation", str.strip, trailing_ws=True, shift=True, solo=True),
    Level("blank_or_comment", "ignoring missing or extra blank and comment lines", str.rstrip,
          trailing_ws=True, skip_filler=True, solo=True),
    Level("typography", "ignoring typographic quotes and dashes", typography_rkey,
          trailing_ws=True, typography=True, solo=True),
    Level("combined", "ignoring indentation, blank and comment lines, and typography", typography_key,
          trailing_ws=True, shift=True, skip_filler=True, typography=True),
    Level("elision", "with its '...' line standing for the lines in between", typography_key,
          trailing_ws=True, shift=True, skip_filler=True, typography=True, elision=True),
)

#: The level a run of blank lines framing an elided span is matched at.
_BLANK_LEVEL = next(level for level in LADDER if level.name == "trailing_ws")


@dataclass(frozen=True, slots=True)
class Match:
    """One place a SEARCH block matches: file lines ``[start, stop)`` (0-based)."""

    level: Level
    start: int
    stop: int
    #: For each SEARCH line: the file line it matched, None if the file lacks it
    #: (an extra blank/comment line), or :data:`ELIDED` for an elision marker.
    align: tuple[int | None, ...]
    #: Turns SEARCH's indentation into the file's; None when no line tells (all blank).
    shift: Shift | None = IDENTITY
    #: File lines ``[first, stop)`` that the elision marker stands for.
    elided: tuple[int, int] = (0, 0)
    #: For an elided match, the head and tail matches it was built from.
    parts: tuple[Match, Match] | None = field(default=None, compare=False)


@dataclass(slots=True)
class _Keyed:
    """Lines under one key, joined by ``\n`` so that C-speed ``str.find`` does the scanning."""

    keys: list[str]
    joined: str

    @classmethod
    def of(cls, keys: list[str]) -> _Keyed:
        return cls(keys, "\n".join(keys))

    def runs(self, needle: list[str]) -> list[int]:
        """Indices where ``needle`` occurs as a run of whole keys."""
        if len(needle) == 1 and not needle[0]:
            return [i for i, k in enumerate(self.keys) if not k]
        text, hay = "\n".join(needle), self.joined
        hits: list[int] = []
        pos = hay.find(text)
        while pos != -1:
            end = pos + len(text)
            if (pos == 0 or hay[pos - 1] == "\n") and (end == len(hay) or hay[end] == "\n"):
                hits.append(hay.count("\n", 0, pos))
            pos = hay.find(text, pos + 1)
        return hits


# Keys that are a translate then a strip: computed over the whole text at once.
_TRANSLATED: dict[Callable[[str], str], Callable[[str], str]] = {
    typography_key: str.strip, typography_rkey: str.rstrip,
}


class FileIndex:
    """A file's lines with the keyed views the levels need, computed once and on demand."""

    def __init__(self, lines: list[str], *, ascii_only: bool = False) -> None:
        self.lines = lines
        # Typography only changes non-ASCII characters: in an ASCII file its keys are strip's.
        self._alias: dict[Callable[[str], str], Callable[[str], str]] = (
            {typography_key: str.strip, typography_rkey: str.rstrip} if ascii_only else {}
        )
        self._keyed: dict[Callable[[str], str], _Keyed] = {}
        self._content: dict[Callable[[str], str], tuple[list[int], _Keyed]] = {}
        self._filler: list[int] | None = None
        self._blank_ends: list[int] | None = None

    def keyed(self, key: Callable[[str], str]) -> _Keyed:
        """All lines under ``key``."""
        key = self._alias.get(key, key)
        if key not in self._keyed:
            if key is _same:
                keys = self.lines
            elif key is str.strip or key is str.rstrip:
                keys = list(map(key, self.lines))
            elif key in _TRANSLATED and self.lines:
                # One translate over the whole text instead of one per line.
                joined = untypographic("\n".join(self.lines))
                keys = list(map(_TRANSLATED[key], joined.split("\n")))
            else:
                keys = [key(line) for line in self.lines]
            self._keyed[key] = _Keyed.of(keys)
        return self._keyed[key]

    def content(self, key: Callable[[str], str]) -> tuple[list[int], _Keyed]:
        """The indices of non-filler lines, and those lines under ``key``."""
        key = self._alias.get(key, key)
        if key not in self._content:
            if self._filler is None:
                stripped = self.keyed(str.strip).keys
                self._filler = [
                    i for i, k in enumerate(stripped)
                    if k and (k[0] not in COMMENT_STARTS or not k.startswith(COMMENT_PREFIXES))
                ]
            keys = self.keyed(key).keys
            self._content[key] = (self._filler, _Keyed.of([keys[i] for i in self._filler]))
        return self._content[key]


    def blank_runs(self, size: int, lo: int, hi: int) -> list[Match]:
        """Every run of ``size`` blank lines (whitespace-only ones too) within lines ``[lo, hi)``.

        Matched at the ``trailing_ws`` level, with no shift: blank lines say nothing of indentation.
        """
        if self._blank_ends is None:
            # _blank_ends[i]: how many blank lines end at line i (0 if line i is not blank).
            ends, run = [], 0
            for key in self.keyed(str.strip).keys:
                run = run + 1 if not key else 0
                ends.append(run)
            self._blank_ends = ends
        ends, level = self._blank_ends, _BLANK_LEVEL
        return [
            Match(level, stop - size, stop, tuple(range(stop - size, stop)), None)
            for stop in range(lo + size, hi + 1)
            if ends[stop - 1] >= size
        ]


def uniform_shift(pairs: Iterable[tuple[str, str]]) -> tuple[bool, Shift | None]:
    """The one shift turning each ``search`` line into its ``file`` line: ``(ok, shift)``.

    Blank lines say nothing. ``ok`` is False when the non-blank lines disagree;
    ``shift`` is None when there was no non-blank line to tell.
    """
    found: Shift | None = None
    for file_line, search_line in pairs:
        if is_blank(file_line) or is_blank(search_line):
            continue
        shift = shift_between(search_line, file_line)
        if shift is None or (found is not None and shift != found):
            return False, None
        found = shift
    return True, found


def find_matches(index: FileIndex, search: list[str], level: Level) -> list[Match]:
    """Every place ``search`` (lines) matches in the file at ``level``."""
    if not search:
        return []
    if level.elision:
        return _find_elided(index, search, level)
    if level.skip_filler:
        return _find_skipping_filler(index, search, level)
    return _find_contiguous(index, search, level)


def first_matches(index: FileIndex, search: list[str]) -> list[Match]:
    """The matches at the strictest non-elision level that has any."""
    for level in LADDER:
        if level.elision:
            break
        found = find_matches(index, search, level)
        if found:
            return found
    return []


def _find_contiguous(index: FileIndex, search: list[str], level: Level) -> list[Match]:
    lines, size = index.lines, len(search)
    found = []
    for start in index.keyed(level.key).runs([level.key(s) for s in search]):
        shift: Shift | None = IDENTITY
        if level.shift:
            ok, shift = uniform_shift(zip(lines[start:start + size], search, strict=True))
            if not ok:
                continue
        found.append(Match(level, start, start + size, tuple(range(start, start + size)), shift))
    return found


def _find_skipping_filler(index: FileIndex, search: list[str], level: Level) -> list[Match]:
    anchors = [k for k, line in enumerate(search) if not is_filler(line)]
    if all(is_elision(search[k]) for k in anchors):
        # Only blank and comment lines, or '...' lines besides them (which may stand for the lines
        # in between, not be one): too little to skip any of them, so match them all.
        return _find_contiguous(index, search, level)
    content, keyed = index.content(level.key)
    found = []
    for hit in keyed.runs([level.key(search[k]) for k in anchors]):
        placed = content[hit:hit + len(anchors)]
        align = _align_filler(index.lines, search, dict(zip(anchors, placed, strict=True)), level.key)
        if align is None:
            continue
        ok, shift = uniform_shift(
            (index.lines[f], search[k]) for k, f in enumerate(align) if f is not None
        )
        if ok and (level.shift or shift is None or shift.identity):
            start = min(f for f in align if f is not None)
            stop = max(f for f in align if f is not None) + 1
            found.append(Match(level, start, stop, tuple(align), shift))
    return found


def _align_filler(
    lines: list[str], search: list[str], anchored: dict[int, int], key: Callable[[str], str]
) -> list[int | None] | None:
    """Align SEARCH's blank/comment lines around its anchored content lines.

    Returns None when SEARCH and the file differ by more than a few blank or
    comment lines, or when in one gap SEARCH has lines the file lacks *and*
    the file has lines SEARCH lacks (a changed line, not a dropped one).
    """
    align: list[int | None] = [None] * len(search)
    for k, f in anchored.items():
        align[k] = f
    ks = sorted(anchored)
    for left, right in zip(ks, ks[1:], strict=False):
        s_gap = list(range(left + 1, right))
        f_gap = list(range(anchored[left] + 1, anchored[right]))
        if not s_gap and not f_gap:
            continue
        matcher = SequenceMatcher(
            None, [key(search[k]) for k in s_gap], [key(lines[f]) for f in f_gap], autojunk=False
        )
        paired = 0
        for a, b, size in matcher.get_matching_blocks():
            for off in range(size):
                align[s_gap[a + off]] = f_gap[b + off]
            paired += size
        if paired < len(s_gap) and paired < len(f_gap):
            return None
    if not (_extend_edge(lines, search, align, ks[0], anchored[ks[0]], -1, key)
            and _extend_edge(lines, search, align, ks[-1], anchored[ks[-1]], 1, key)):
        return None
    aligned = sum(f is not None for f in align)
    span = max(f for f in align if f is not None) - min(f for f in align if f is not None) + 1
    unaligned = (len(search) - aligned) + (span - aligned)
    # "A missing or extra blank or comment line": a few, not a different text.
    if unaligned > max(2, len(search) // 4):
        return None
    return align


def _extend_edge(
    lines: list[str], search: list[str], align: list[int | None], k: int, f: int, step: int,
    key: Callable[[str], str],
) -> bool:
    """Pair SEARCH's leading (step -1) or trailing (step 1) filler lines with the file's.

    The file's filler lines next to the anchor are aligned with SEARCH's in order,
    allowing a few the other side lacks, so that a dropped comment line between
    two kept ones still leaves the outer one inside the span. Returns False when
    both sides have unpaired lines, between the anchor and the last pair or
    beyond it: a changed line, not a dropped one.
    """
    s_side = list(range(k + step, -1 if step < 0 else len(search), step))
    if not s_side:
        return True
    f_side: list[int] = []
    f += step
    while 0 <= f < len(lines) and is_filler(lines[f]) and len(f_side) < len(s_side) + 2:
        f_side.append(f)
        f += step
    matcher = SequenceMatcher(
        None, [key(search[i]) for i in s_side], [key(lines[i]) for i in f_side], autojunk=False
    )
    s_used = f_used = paired = 0
    for a, b, size in matcher.get_matching_blocks():
        for off in range(size):
            align[s_side[a + off]] = f_side[b + off]
        if size:
            s_used, f_used, paired = a + size, b + size, paired + size
    changed_inside = paired < s_used and paired < f_used
    changed_outside = s_used < len(s_side) and f_used < len(f_side)
    if changed_inside or changed_outside:
        return False
    if paired == len(s_side):
        # Every SEARCH line is in the file: pair each with its nearest copy, so that the fewest
        # file lines count as dropped (the matcher may pair a farther run of equal lines).
        at = 0
        for i in s_side:
            while key(lines[f_side[at]]) != key(search[i]):
                at += 1
            align[i] = f_side[at]
            at += 1
    return True


def _find_elided(index: FileIndex, search: list[str], level: Level) -> list[Match]:
    """Matches of SEARCH with one ``...`` line standing for the lines between its head and tail.

    When SEARCH has several ``...``-like lines (a stub body is literally ``...``),
    each is tried as the elision with the others taken literally. Every
    interpretation is a candidate, even one whose "elided" lines are just that
    same ``...`` line: the stricter levels did not match it literally, so it
    may be a ``...`` line with drifted indentation. The caller applies the edit
    only if all candidates give the same text.
    """
    markers = [k for k, line in enumerate(search) if is_elision(line)]
    if not markers or len(markers) > _MAX_MARKERS:
        return []
    found: list[Match] = []
    for cut in markers:
        found.extend(_elided_at(index, search, level, cut))
    return found


def _elided_at(index: FileIndex, search: list[str], level: Level, cut: int) -> list[Match]:
    """Every span that SEARCH's head (before line ``cut``) and tail (after it) frame.

    A head or tail of blank lines frames a span at every run of as many blank
    lines (whitespace-only ones included) on its side of the other part: each
    is a candidate, and the caller applies the edit only if all of them give
    the same text. A SEARCH with nothing but blank lines around its ``...``
    frames no place at all.
    """
    head, tail = search[:cut], search[cut + 1:]
    head_blank, tail_blank = all(is_blank(s) for s in head), all(is_blank(s) for s in tail)
    if not head or not tail or head_blank and tail_blank:
        return []
    if head_blank:
        tails = first_matches(index, tail)
        heads = index.blank_runs(len(head), 0, max(t.start for t in tails)) if tails else []
    else:
        heads = first_matches(index, head)
        if not heads:
            tails = []
        elif tail_blank:
            tails = index.blank_runs(len(tail), min(h.stop for h in heads), len(index.lines))
        else:
            tails = first_matches(index, tail)
    found = []
    for h in heads:
        for t in tails:
            if t.start < h.stop:
                continue
            if h.shift is not None and t.shift is not None and h.shift != t.shift:
                continue
            shift = h.shift if h.shift is not None else t.shift
            align = (*h.align, ELIDED, *t.align)
            found.append(Match(level, h.start, t.stop, align, shift, (h.stop, t.start), (h, t)))
    return found
