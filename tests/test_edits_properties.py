"""Properties of apply_edit over random texts: exact when clean, refusing when unsure, never corrupting."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from specrelay.edits import apply_edit, apply_edit_detailed
from specrelay.edits.match import FileIndex, first_matches
from specrelay.errors import AmbiguousMatch, EditError

# A small vocabulary of code lines, so that random texts repeat lines the way real files do.
VOCABULARY = [
    "def f(x):", "    return x", "    x = 'a'", "", "", "# note", "    # note", "x = 1", "y = 2",
    "    if x:", "        pass", "print('hi')", "    y = f(x)", "class C:", "    def g(self):",
    "        return 'it'", "\tz = 3", "    ...",
]

# SPECRELAY_PROPERTY_EXAMPLES raises the count for a longer hunt than CI affords, with fresh random
# examples each time; without it the examples are the same on every run (derandomized), so that a
# suite run passes or fails on the code, not on the draw. Known failures found by a hunt are pinned
# below as examples of their own.
HUNT = "SPECRELAY_PROPERTY_EXAMPLES" in os.environ
settings.register_profile(
    "edits",
    max_examples=int(os.environ.get("SPECRELAY_PROPERTY_EXAMPLES", "300")),
    derandomize=not HUNT,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PROFILE = settings.get_profile("edits")

lines_st = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=30)
replace_st = st.lists(st.sampled_from(VOCABULARY + ["z = 'new'", "    w = 4"]), max_size=6)


def text_of(lines: list[str], newline: str = "\n") -> str:
    return "".join(line + newline for line in lines)


def runs(lines: list[str], span: list[str]) -> list[int]:
    return [i for i in range(len(lines) - len(span) + 1) if lines[i:i + len(span)] == span]


@dataclass
class Edit:
    lines: list[str]
    start: int
    stop: int
    replace: list[str]

    @property
    def span(self) -> list[str]:
        return self.lines[self.start:self.stop]

    @property
    def expected(self) -> str:
        return text_of(self.lines[: self.start] + self.replace + self.lines[self.stop:])


@st.composite
def unique_edits(draw: st.DrawFn, context: bool = False) -> Edit:
    """A random text, a span of whole lines that occurs once in it, and a replacement.

    With ``context``, the replacement keeps the span's first and last lines, as
    a diff hunk keeps its context lines (and as every block in the corpus does).
    """
    lines = draw(lines_st)
    assume(len(lines) >= (2 if context else 1))
    start = draw(st.integers(0, len(lines) - (2 if context else 1)))
    stop = draw(st.integers(start + (2 if context else 1), len(lines)))
    replace = draw(replace_st)
    if context:
        span = lines[start:stop]
        head = draw(st.integers(1, len(span) - 1))
        tail = draw(st.integers(1, len(span) - head))
        replace = span[:head] + replace + span[len(span) - tail:]
    edit = Edit(lines, start, stop, replace)
    assume(len(runs(lines, edit.span)) == 1)
    return edit


@given(unique_edits(), st.sampled_from(["\n", "\r\n"]))
@PROFILE
def test_a_clean_edit_of_a_unique_span_applies_exactly(edit: Edit, newline: str) -> None:
    text = text_of(edit.lines, newline)
    out = apply_edit(text, text_of(edit.span), text_of(edit.replace))
    assert out == edit.expected.replace("\n", newline)


@given(lines_st, lines_st, lines_st, st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=5),
       st.sampled_from(["", "  ", "\t"]), replace_st)
@PROFILE
def test_a_search_that_occurs_twice_is_always_refused(
    a: list[str], b: list[str], c: list[str], span: list[str], trailing: str, replace: list[str]
) -> None:
    text = text_of(a + span + b + span + c)
    search = "".join(line + trailing + "\n" for line in span)
    try:
        apply_edit(text, search, text_of(replace))
    except AmbiguousMatch as exc:
        assert len(exc.lines) >= 2
    else:
        raise AssertionError("applied a SEARCH that occurs twice")


def dedent(lines: list[str]) -> list[str]:
    """Remove the leading whitespace all non-blank lines share, as textwrap.dedent does."""
    leads = [line[: len(line) - len(line.lstrip())] for line in lines if line.strip()]
    cut = len(os.path.commonprefix(leads)) if leads else 0
    return [line[cut:] if line.strip() else line for line in lines]


def drifted(edit: Edit, kind: str, data: st.DataObject) -> tuple[list[str], list[str]]:
    """SEARCH and REPLACE as a model might drift them, in the corpus's ways."""
    span = edit.span
    if kind == "trailing_ws":
        return [line + data.draw(st.sampled_from([" ", "  ", "\t"])) for line in span], edit.replace
    if kind == "smart_quotes":
        return [line.replace("'", "\u2019") for line in span], edit.replace
    if kind == "outdent":
        assume(dedent(span) != span)  # SEARCH had indentation to lose
        return dedent(span), dedent(edit.replace)
    fillers = [k for k in range(1, len(span) - 1) if not span[k].strip() or span[k].strip().startswith("#")]
    if kind == "drop_inner_line":
        assume(fillers)
        k = data.draw(st.sampled_from(fillers))
        return span[:k] + span[k + 1:], edit.replace
    assume(len(span) >= 3)
    head = data.draw(st.integers(1, len(span) - 2))
    tail = data.draw(st.integers(head + 1, len(span) - 1))
    return span[:head] + ["..."] + span[tail:], edit.replace


DRIFTS = ["trailing_ws", "smart_quotes", "outdent", "drop_inner_line", "elide"]


@given(unique_edits(context=True), st.sampled_from(DRIFTS), st.data())
@PROFILE
def test_a_drifted_edit_applies_as_intended_or_is_refused(edit: Edit, kind: str, data: st.DataObject) -> None:
    search, replace = drifted(edit, kind, data)
    # A drifted SEARCH can coincide with other lines of the file, up to whitespace; then that
    # place is the better match and nothing can tell the drift. Real drifts rarely coincide.
    stripped = [line.strip() for line in edit.lines]
    allowed = [edit.start] if len(search) == len(edit.span) else []
    assume(all(i in allowed for i in runs(stripped, [line.strip() for line in search])))
    text = text_of(edit.lines)
    try:
        out = apply_edit(text, text_of(search), text_of(replace))
    except EditError:
        return
    assert out == edit.expected


@given(unique_edits(), st.sampled_from(["clean", "trailing_ws", "smart_quotes", "outdent",
                                        "drop_inner_line", "elide"]), st.data(), replace_st)
@PROFILE
def test_no_applied_edit_changes_text_outside_its_span(
    edit: Edit, kind: str, data: st.DataObject, replace: list[str]
) -> None:
    search = edit.span if kind == "clean" else drifted(edit, kind, data)[0]
    text = text_of(edit.lines)
    try:
        done = apply_edit_detailed(text, text_of(search), text_of(replace))
    except EditError:
        return
    before = text_of(edit.lines[: done.first_line - 1])
    after = text_of(edit.lines[done.last_line:])
    assert done.text.startswith(before) and done.text.endswith(after)
    assert len(before) + len(after) <= len(done.text)


@given(st.text(max_size=200), st.text(max_size=60), st.text(max_size=60))
@PROFILE
def test_any_input_gives_a_text_or_an_edit_error(text: str, search: str, replace: str) -> None:
    try:
        assert isinstance(apply_edit(text, search, replace), str)
    except EditError:
        pass


@given(unique_edits(context=True), replace_st, st.data())
@PROFILE
def test_an_elided_search_keeping_its_middle_applies_as_intended_or_is_refused(
    edit: Edit, new_tail: list[str], data: st.DataObject
) -> None:
    # The "unchanged middle" form: REPLACE repeats SEARCH's head and '...' and rewrites the tail.
    # Heads and tails repeat often here (blank lines, "    return x"), so a '...' frames several
    # spans; whichever the edit applies to, it must be the intended result.
    span = edit.span
    assume(len(span) >= 3)
    head = data.draw(st.integers(1, len(span) - 2))
    tail = data.draw(st.integers(head + 1, len(span) - 1))
    search = span[:head] + ["..."] + span[tail:]
    # A SEARCH that also reads literally somewhere (the file has "    ..." lines) means that place.
    assume(not first_matches(FileIndex(edit.lines), search))
    text = text_of(edit.lines)
    try:
        out = apply_edit(text, text_of(search), text_of(span[:head] + ["..."] + new_tail))
    except EditError:
        return
    assert out == text_of(edit.lines[: edit.start] + span[:tail] + new_tail + edit.lines[edit.stop:])


# --- line endings and whitespace-only lines ---------------------------------------------------------

# Whitespace-only lines next to empty ones: under a tolerant key they look alike, in bytes they differ.
WS_VOCABULARY = [*VOCABULARY, "    ", "  ", "\t", "", "    return x  "]
ws_lines_st = st.lists(st.sampled_from(WS_VOCABULARY), min_size=1, max_size=24)
ws_replace_st = st.lists(st.sampled_from([*WS_VOCABULARY, "z = 'new'"]), max_size=6)
newline_st = st.sampled_from(["\n", "\r\n"])


def file_of(lines: list[str], newline: str, final: bool) -> str:
    return newline.join(lines) + (newline if final and lines else "")


@given(ws_lines_st, newline_st, st.booleans(), ws_replace_st, st.booleans(), st.booleans(), st.data())
@PROFILE
def test_an_exact_edit_gives_exactly_the_intended_bytes(
    lines: list[str], newline: str, final: bool, replace: list[str], search_break: bool, replace_break: bool,
    data: st.DataObject,
) -> None:
    # SEARCH is the file's own bytes for a span of whole lines that occurs once, with or without the
    # span's last line break; REPLACE ends with a break or not. The result is that literal edit.
    start = data.draw(st.integers(0, len(lines) - 1))
    stop = data.draw(st.integers(start + 1, len(lines)))
    span = lines[start:stop]
    # A last empty line without its break reads as the lines before it with theirs: another example.
    assume(len(runs(lines, span)) == 1 and (search_break or span[-1]))
    text = file_of(lines, newline, final)
    head = file_of(lines[:start], newline, True)
    has_break = stop < len(lines) or final
    search = newline.join(span) + (newline if search_break and has_break else "")
    assume(search.strip(" \t") and text.startswith(search, len(head)))
    replace_text = newline.join(replace) + (newline if replace_break and replace else "")
    expected = head + replace_text + text[len(head) + len(search):]
    assert apply_edit(text, search, replace_text) == expected


@given(ws_lines_st, newline_st, st.booleans(), ws_replace_st, st.data())
@PROFILE
def test_a_parsed_block_keeps_every_line_ending_it_does_not_touch(
    lines: list[str], newline: str, final: bool, replace: list[str], data: st.DataObject
) -> None:
    # A block as the parser gives it ("\n" after every line) on a file of any line endings.
    start = data.draw(st.integers(0, len(lines) - 1))
    stop = data.draw(st.integers(start + 1, len(lines)))
    span = lines[start:stop]
    assume(len(runs(lines, span)) == 1 and any(line.strip() for line in span))
    assume(final or lines[-1])  # a last empty line without its break is no line at all
    text = file_of(lines, newline, final)
    try:
        out = apply_edit(text, text_of(span), text_of(replace))
    except EditError:
        # Only a SEARCH that also reads literally elsewhere, or a no-op, may be refused.
        return
    # The file's final newline changes only where a REPLACE (which ends with one) ends the file.
    ends = final or (stop == len(lines) and bool(replace))
    # New line breaks are the file's kind; a file without any gets "\n".
    expected = file_of(lines[:start] + replace + lines[stop:], newline if newline in text else "\n", ends)
    if not (lines[:start] + replace + lines[stop:]):
        expected = ""
    assert out == expected


@given(unique_edits(context=True), st.sampled_from(DRIFTS), st.data(), newline_st, st.booleans())
@PROFILE
def test_a_drifted_edit_on_any_line_endings_applies_as_intended_or_is_refused(
    edit: Edit, kind: str, data: st.DataObject, newline: str, final: bool
) -> None:
    search, replace = drifted(edit, kind, data)
    stripped = [line.strip() for line in edit.lines]
    allowed = [edit.start] if len(search) == len(edit.span) else []
    assume(all(i in allowed for i in runs(stripped, [line.strip() for line in search])))
    assume(final or edit.lines[-1])  # a last empty line without its break is no line at all
    text = file_of(edit.lines, newline, final)
    try:
        out = apply_edit(text, text_of(search), text_of(replace))
    except EditError:
        return
    new = edit.lines[: edit.start] + edit.replace + edit.lines[edit.stop:]
    # REPLACE ends with a break: where it ends the file, so does the result.
    assert out == file_of(new, newline, final or edit.stop == len(edit.lines))


@st.composite
def ws_unique_edits(draw: st.DrawFn) -> Edit:
    """Like unique_edits(context=True), over lines that mix empty and whitespace-only ones."""
    lines = draw(ws_lines_st)
    assume(len(lines) >= 2)
    start = draw(st.integers(0, len(lines) - 2))
    stop = draw(st.integers(start + 2, len(lines)))
    span = lines[start:stop]
    head = draw(st.integers(1, len(span) - 1))
    tail = draw(st.integers(1, len(span) - head))
    edit = Edit(lines, start, stop, span[:head] + draw(ws_replace_st) + span[len(span) - tail:])
    assume(len(runs(lines, edit.span)) == 1)
    return edit


@given(ws_unique_edits(), st.sampled_from(DRIFTS), st.data(), newline_st)
@PROFILE
def test_a_drifted_edit_among_whitespace_only_lines_applies_as_intended_or_is_refused(
    edit: Edit, kind: str, data: st.DataObject, newline: str
) -> None:
    search, replace = drifted(edit, kind, data)
    stripped = [line.strip() for line in edit.lines]
    allowed = [edit.start] if len(search) == len(edit.span) else []
    assume(all(i in allowed for i in runs(stripped, [line.strip() for line in search])))
    if kind == "trailing_ws":
        # A REPLACE line equal to a drifted SEARCH line reads as that line kept unchanged (a model
        # drifts both alike: it strips a blank line's spaces in SEARCH and REPLACE), so the file's
        # bytes stay. Here REPLACE only happens to equal it; that is not the drift modelled.
        assume(not (set(search) - set(edit.span)) & set(replace))
    text = file_of(edit.lines, newline, True)
    try:
        out = apply_edit(text, text_of(search), text_of(replace))
    except EditError:
        return
    assert out == file_of(edit.lines[: edit.start] + edit.replace + edit.lines[edit.stop:], newline, True)


def test_a_dropped_space_only_line_beside_an_empty_one_is_applied_as_intended_or_refused() -> None:
    # Found by the property above (drop_inner_line): the file's lines 6-7 are '    ' and '', SEARCH
    # leaves out the first, REPLACE swaps the two. Wanted: REPLACE as written, or a refusal.
    lines = ["def f(x):"] * 5 + ["    ", "", "def f(x):"]
    search = ["def f(x):"] * 5 + ["", "def f(x):"]
    replace = ["def f(x):", "", "    ", "def f(x):"]
    try:
        out = apply_edit(text_of(lines), text_of(search), text_of(replace))
    except EditError:
        return
    assert out == text_of(replace)
