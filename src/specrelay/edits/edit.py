"""Apply one SEARCH/REPLACE edit to a text, or refuse with what the model needs to correct it."""

from __future__ import annotations

from dataclasses import dataclass

from specrelay.edits.lines import SplitText, is_blank, split_block, split_text
from specrelay.edits.match import ELIDED, LADDER, FileIndex, Level, Match, find_matches
from specrelay.edits.merge import Item, MergeConflict, merge
from specrelay.edits.suggest import closest_spans
from specrelay.errors import AmbiguousMatch, NoMatch, UncertainEdit

#: How many candidate spans a NoMatch shows, and how many lines of each.
_SHOWN_CANDIDATES = 3
_SHOWN_LINES = 12
#: At most this many spans framed by a ``...`` are tried to see if they all give the same text;
#: with more, the edit is refused as ambiguous without trying (it bounds the time an edit takes).
MAX_ELIDED_CANDIDATES = 16


@dataclass(frozen=True, slots=True)
class AppliedEdit:
    """The outcome of an edit that applied: the new text and how SEARCH was found."""

    text: str
    #: The ladder level that matched (``exact``, ``trailing_ws``, ... ``elision``), or ``create``.
    level: str
    #: The span SEARCH matched in the old text, 1-based and inclusive (0, 0 when creating).
    first_line: int
    last_line: int


def apply_edit(text: str, search: str, replace: str, *, path: str = "the file") -> str:
    """Return ``text`` with ``search`` replaced by ``replace``, or raise.

    Raises :class:`~specrelay.errors.NoMatch` (with the closest spans) when SEARCH
    matches nowhere, :class:`~specrelay.errors.UncertainEdit` when it matches one
    place but how REPLACE applies there is not certain, and
    :class:`~specrelay.errors.AmbiguousMatch` (with every match's first line)
    when it matches in several places. A SEARCH whose ``...`` line leaves several
    spans possible is the exception: if REPLACE gives the same new text for every
    one of them (at most :data:`MAX_ELIDED_CANDIDATES`), that text is the
    intended one whichever span was meant, and it is returned. ``path`` only
    names the file in messages.
    """
    return apply_edit_detailed(text, search, replace, path=path).text


def apply_edit_detailed(text: str, search: str, replace: str, *, path: str = "the file") -> AppliedEdit:
    """Like :func:`apply_edit`, but also say which level matched and where."""
    if not search:
        return _create(text, replace, path)
    pos = text.find(search)
    unique = pos != -1 and text.find(search, pos + 1) == -1  # find, not count: overlaps count too
    if unique:
        literal = _literal(text, pos, search, replace)
        if literal is not None:
            return literal
    doc = split_text(text)
    s_lines, r_lines = split_block(search), split_block(replace)
    several = pos != -1 and not unique
    matches = _locate(doc, s_lines, path, _substring_lines(text, search) if several else [])
    new_text = _agreed_text(doc, matches, s_lines, r_lines, (search, replace), path)
    first, stop = min(m.start for m in matches), max(m.stop for m in matches)
    if new_text == text and matches[0].level.name != "exact":
        # The model asked for a change (or copied the file wrongly); doing nothing is not what it meant.
        raise _conflict(doc, first, stop, matches[0].level, path, "the file would not change")
    return AppliedEdit(new_text, matches[0].level.name, first + 1, stop)


def _agreed_text(doc: SplitText, matches: list[Match], search: list[str], replace: list[str],
                 texts: tuple[str, str], path: str) -> str:
    """The new text, the same whichever of ``matches`` SEARCH meant; refuse if they differ.

    Several matches only come from an elided SEARCH whose head or tail frames
    several spans. Each is merged in turn, and the first that fails or gives
    another text than the others ends the search: nothing then tells which
    span the model meant, and picking one (nearest, farthest) could corrupt
    the file.
    """
    agreed: str | None = None
    for match in matches:
        try:
            items = merge(doc.lines, match, search, replace)
        except MergeConflict as exc:
            if len(matches) == 1:
                raise _conflict(doc, match.start, match.stop, match.level, path, str(exc)) from None
            raise _elided_ambiguous(path, search, matches, f"and for the one at lines {match.start + 1}-{match.stop} "
                                    f"applying REPLACE is not certain: {exc}") from None
        new_text = _assemble(doc, match, items, *texts)
        if agreed is not None and new_text != agreed:
            raise _elided_ambiguous(path, search, matches, "and REPLACE gives a different result in each")
        agreed = new_text
    assert agreed is not None  # _locate returns at least one match
    return agreed


def _create(text: str, replace: str, path: str) -> AppliedEdit:
    if text:
        raise AmbiguousMatch(
            f"An empty SEARCH creates a new file, but {path} already has content; "
            "quote the lines to change in SEARCH",
            lines=[],
        )
    return AppliedEdit(replace, "create", 0, 0)


def _literal(text: str, pos: int, search: str, replace: str) -> AppliedEdit | None:
    """The edit as a plain substring replacement at ``pos``, when that is certainly what was meant.

    That is when SEARCH starts a line, or stays on one. The doubtful cases go
    to the line ladder: SEARCH starting mid-line but spanning lines (its
    whole-line reading may sit elsewhere), splitting a ``\r\n``, and SEARCH
    found after the indentation of a line unless REPLACE is one line too: that
    is a SEARCH that lost its indent, and REPLACE's further lines would lose it
    too, or a deletion leave it behind.
    """
    end = pos + len(search)
    if search[0] == "\n" and text[pos - 1:pos] == "\r" or search[-1] == "\r" and text[end:end + 1] == "\n":
        return None
    lead = text[text.rfind("\n", 0, pos) + 1:pos]
    if lead and not (_one_line(search) and (lead.strip() or _one_line(replace))):
        return None
    first = text.count("\n", 0, pos) + 1
    last = first + search.count("\n") - search.endswith("\n")
    return AppliedEdit(text[:pos] + replace + text[end:], "exact", first, last)


def _one_line(text: str) -> bool:
    """True for text on a single line, with a final newline or not, and not blank."""
    return text.count("\n") <= text.endswith("\n") and bool(text.strip())


def _locate(doc: SplitText, search: list[str], path: str, substring_lines: list[int]) -> list[Match]:
    """Climb the ladder; stop at the first level with any match, and refuse if it has several.

    Only at the elision level are several matches returned (up to
    :data:`MAX_ELIDED_CANDIDATES`), for the caller to apply if they all agree.
    """
    index = FileIndex(doc.lines, ascii_only=doc.text.isascii())
    for rung, level in enumerate(LADDER):
        found = find_matches(index, search, level)
        if len(found) == 1:
            _check_rivals(index, search, found[0], LADDER[rung + 1:], path)
            return found
        if found and level.elision:
            if len(found) > MAX_ELIDED_CANDIDATES:
                raise _elided_ambiguous(path, search, found, "too many to try")
            return found
        if found:
            raise _ambiguous(path, level.how, [m.start + 1 for m in found])
        if level.name == "exact" and substring_lines:
            # The exact text is there, several times, just not as whole lines.
            raise _ambiguous(path, "exactly", substring_lines)
    raise _not_found(doc, search, path)


def _check_rivals(index: FileIndex, search: list[str], match: Match, looser: tuple[Level, ...],
                  path: str) -> None:
    """Refuse a one-drift match when another one-drift level finds a different place.

    A SEARCH may resemble one place in one way (say, its indentation) and
    another place in another (say, a blank line it dropped): nothing says which
    drift the model made. Matches that need two drifts at once do not count
    against one that needs a single drift.
    """
    if not match.level.solo:
        return
    for level in looser:
        if not level.solo:
            continue
        others = [m for m in find_matches(index, search, level) if m.start != match.start]
        if others:
            lines = sorted({match.start + 1, *(m.start + 1 for m in others)})
            raise _ambiguous(path, f"{match.level.how} or {level.how}", lines)


def _substring_lines(text: str, search: str) -> list[int]:
    """The 1-based line of each occurrence of ``search`` in ``text``."""
    found, pos = [], text.find(search)
    while pos != -1:
        found.append(text.count("\n", 0, pos) + 1)
        pos = text.find(search, pos + 1)
    return found


def _assemble(doc: SplitText, match: Match, items: list[Item], search: str, replace: str) -> str:
    """The whole new text: untouched lines as they were, the span's items in between.

    Kept lines keep their own endings; new lines get the file's usual one. The
    span's last line break follows the edit's literal reading: REPLACE's last
    line ends with a break only if REPLACE does, and a SEARCH that stops short of
    its last line's break leaves that break after REPLACE. So a REPLACE without
    a final newline, on a span reaching the end of the file, removes the file's.
    Where the file's last line has no break, the text ends the way REPLACE ends
    whether SEARCH ends with a break or not (a parsed block always does), and an
    empty REPLACE with a SEARCH ending in a break keeps the file ending without one.
    """
    nl = doc.newline
    before = doc.text[: doc.offset(match.start)]
    after = doc.text[doc.offset(match.stop):]
    middle = [[doc.lines[it], doc.ends[it] or nl] if isinstance(it, int) else [it, nl] for it in items]
    tail = "" if search.endswith("\n") else doc.ends[match.stop - 1]
    if middle and not replace.endswith("\n"):
        middle[-1][1] = ""
    elif not middle and search.endswith("\n") and match.stop == len(doc.lines) and not doc.final_newline:
        # An empty REPLACE for lines up to the end, SEARCH's last break being the model's.
        before = before.removesuffix("\n").removesuffix("\r")
    return before + "".join(line + end for line, end in middle) + tail + after


def _ambiguous(path: str, how: str, lines: list[int]) -> AmbiguousMatch:
    shown = ", ".join(map(str, lines[:20])) + (", ..." if len(lines) > 20 else "")
    return AmbiguousMatch(
        f"SEARCH matches {len(lines)} places in {path} {how} (at lines {shown}); add surrounding "
        "lines to SEARCH so that it matches exactly one place",
        lines=lines,
    )


def _not_found(doc: SplitText, search: list[str], path: str) -> NoMatch:
    spans = closest_spans(doc.lines, search, _SHOWN_CANDIDATES)
    message = f"SEARCH not found in {path}, not even ignoring whitespace, indentation, blank lines and quotes"
    if spans:
        message += "; closest:"
        for first, last, text, score in spans:
            message += f"\nlines {first}-{last} ({score:.0f}% similar):\n{_excerpt(text)}"
    else:
        message += "; nothing in it looks similar"
    message += "\nCopy the lines to change from the file exactly into SEARCH."
    return NoMatch(message, candidates=[(first, last, text) for first, last, text, _ in spans])


def _elided_ambiguous(path: str, search: list[str], matches: list[Match], why: str) -> AmbiguousMatch:
    """SEARCH's head and tail around its ``...`` frame several spans, and the edit is refused."""
    spans = sorted({(m.start + 1, m.stop) for m in matches})
    shown = ", ".join(f"{a}-{b}" for a, b in spans[:12]) + (", ..." if len(spans) > 12 else "")
    cut = matches[0].align.index(ELIDED)
    blank = any(all(is_blank(line) for line in part) for part in (search[:cut], search[cut + 1:]))
    hint = (" (a head or tail of only blank lines fits at every run of blank lines)" if blank else "")
    return AmbiguousMatch(
        f"SEARCH matches {len(spans)} spans in {path} with its '...' line standing for the lines in "
        f"between (lines {shown}){hint}, {why}; add lines to SEARCH before or after its '...' line so "
        "that they frame exactly one span",
        lines=[a for a, _ in spans],
    )


def _conflict(doc: SplitText, start: int, stop: int, level: Level, path: str, reason: str) -> UncertainEdit:
    first, last = start + 1, stop
    text = "\n".join(doc.lines[start:stop])
    return UncertainEdit(
        f"SEARCH matches lines {first}-{last} of {path} {level.how}, but applying REPLACE "
        f"there is not certain: {reason}.\nThose lines are:\n{_excerpt(text)}",
        span=(first, last, text),
    )


def _excerpt(text: str) -> str:
    lines = text.split("\n")
    shown = lines[:_SHOWN_LINES]
    if len(lines) > _SHOWN_LINES:
        shown.append(f"... ({len(lines) - _SHOWN_LINES} more lines)")
    return "\n".join("    " + line for line in shown)
