"""apply_edit: the matching ladder, refusals with line numbers, and a score on real history."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from specrelay.edits import apply_edit, apply_edit_detailed
from specrelay.errors import AmbiguousMatch, EditError, NoMatch, UncertainEdit

CORPUS = Path(__file__).resolve().parents[1].parent / "shared/data/edits/flask.jsonl.gz"

CODE = """\
import os


def load(path):
    with open(path) as fh:
        data = fh.read()
    return data


class Store:
    def __init__(self, root):
        self.root = root

    def get(self, key):
        # Keys are file names.
        path = os.path.join(self.root, key)
        return load(path)
"""


def level_of(text: str, search: str, replace: str) -> str:
    return apply_edit_detailed(text, search, replace).level


# --- exact, creation, refusals -------------------------------------------------------------


def test_exact_edit_replaces_only_that_span() -> None:
    out = apply_edit(CODE, "        self.root = root\n", "        self.root = Path(root)\n")
    assert out == CODE.replace("self.root = root", "self.root = Path(root)")
    assert level_of(CODE, "        self.root = root\n", "        self.root = Path(root)\n") == "exact"


def test_edit_inside_a_line_is_a_plain_substring_replacement() -> None:
    assert apply_edit(CODE, "os.path.join(self.root, key)", "self.root / key") == CODE.replace(
        "os.path.join(self.root, key)", "self.root / key"
    )


def test_empty_search_on_empty_text_creates_content() -> None:
    assert apply_edit("", "", "print('hi')\n") == "print('hi')\n"
    assert level_of("", "", "x\n") == "create"


def test_empty_search_on_a_file_with_content_is_refused() -> None:
    with pytest.raises(AmbiguousMatch, match="already has content"):
        apply_edit(CODE, "", "x = 1\n")


def test_search_found_twice_is_refused_with_every_line_number() -> None:
    text = "a = 1\nb = 2\na = 1\nc = 3\na = 1\n"
    with pytest.raises(AmbiguousMatch) as info:
        apply_edit(text, "a = 1\n", "a = 9\n")
    assert info.value.lines == [1, 3, 5]
    assert "3 places" in str(info.value) and "1, 3, 5" in str(info.value)


def test_substring_found_twice_inside_lines_is_refused() -> None:
    with pytest.raises(AmbiguousMatch) as info:
        apply_edit("x = f(a)\ny = f(a)\n", "f(a)", "g(a)")
    assert info.value.lines == [1, 2]


def test_whole_line_match_wins_over_the_same_text_inside_another_line() -> None:
    text = "total = 0\nvalue = total = 0\n"
    assert apply_edit(text, "total = 0\n", "total = 1\n") == "total = 1\nvalue = total = 0\n"


def test_overlapping_occurrences_count_as_several() -> None:
    # str.count would say 1 here; the block fits at lines 1-2 and at lines 2-3.
    with pytest.raises(AmbiguousMatch) as info:
        apply_edit("a\na\na\n", "a\na\n", "b\n")
    assert info.value.lines == [1, 2]


def test_text_starting_mid_line_is_not_taken_for_whole_lines() -> None:
    with pytest.raises(NoMatch):
        apply_edit("xa\nb\nc\n", "a\nb\n", "z\n")


def test_a_crlf_pair_is_never_split() -> None:
    assert apply_edit("\r\n", "\n", "") == ""
    assert apply_edit("a\r\n\r\nb\r\n", "\n", "") == "a\r\nb\r\n"


def test_no_match_reports_the_closest_spans_with_line_numbers() -> None:
    search = "    def get(self, name):\n        # Names are file names.\n"
    with pytest.raises(NoMatch) as info:
        apply_edit(CODE, search, "x\n", path="store.py")
    first, last, text = info.value.candidates[0]
    assert (first, last) == (14, 15)
    assert text == "    def get(self, key):\n        # Keys are file names."
    message = str(info.value)
    assert message.startswith("SEARCH not found in store.py")
    assert "lines 14-15" in message and "def get(self, key):" in message


def test_no_match_in_an_empty_file() -> None:
    with pytest.raises(NoMatch) as info:
        apply_edit("", "x = 1\n", "x = 2\n")
    assert info.value.candidates == []


def test_identical_search_and_replace_is_a_no_op_when_exact() -> None:
    assert apply_edit(CODE, "import os\n", "import os\n") == CODE


# --- line endings -----------------------------------------------------------------------------


def test_crlf_file_keeps_crlf_when_the_block_uses_lf() -> None:
    text = "a = 1\r\nb = 2\r\nc = 3\r\n"
    assert apply_edit(text, "b = 2\n", "b = 20\nb2 = 21\n") == "a = 1\r\nb = 20\r\nb2 = 21\r\nc = 3\r\n"


def test_missing_final_newline_is_kept_when_the_edit_is_elsewhere() -> None:
    text = "a = 1\nb = 2\nc = 3"
    assert apply_edit(text, "a = 1\n", "a = 10\n") == "a = 10\nb = 2\nc = 3"
    assert apply_edit(text, "b = 2  \n", "b = 20\n") == "a = 1\nb = 20\nc = 3"


def test_last_line_without_newline_ends_the_way_replace_ends() -> None:
    text = "a = 1\nb = 2"
    assert apply_edit(text, "b = 2", "b = 3") == "a = 1\nb = 3"
    assert apply_edit(text, "b = 2  \n", "b = 3") == "a = 1\nb = 3"
    assert apply_edit(text, "b = 2  \n", "b = 3\n") == "a = 1\nb = 3\n"


# --- the ladder -------------------------------------------------------------------------------


def test_trailing_whitespace_in_search_is_ignored_and_file_lines_kept() -> None:
    text = "x = 1   \ny = 2\nz = 3\n"
    out = apply_edit(text, "x = 1\ny = 2  \n", "x = 1\ny = 5\n")
    assert out == "x = 1   \ny = 5\nz = 3\n"  # the kept line keeps the file's own trailing spaces
    assert level_of(text, "x = 1\ny = 2  \n", "x = 1\ny = 5\n") == "trailing_ws"


def test_replace_that_strips_trailing_whitespace_is_honoured() -> None:
    text = "x = 1   \ny = 2\n"
    assert apply_edit(text, "x = 1  \ny = 2\n", "x = 1\ny = 2\n") == "x = 1\ny = 2\n"


def test_whitespace_only_lines_in_replace_are_kept() -> None:
    text = "def f():\n    x = 1\n    return x\n"
    out = apply_edit(text, "    x = 1  \n    return x\n", "    x = 1\n    \n    return x\n")
    assert out == "def f():\n    x = 1\n    \n    return x\n"


def test_empty_line_after_reindenting_is_refused_where_blank_lines_hold_spaces() -> None:
    text = "class A:\n    def f(self):\n        x = 1\n        \n        return x\n"
    with pytest.raises(UncertainEdit, match="blank lines holding spaces"):
        apply_edit(text, "def f(self):\n    x = 1\n", "def f(self):\n    x = 1\n\n    y = 2\n")


def test_outdented_search_and_replace_are_reindented() -> None:
    search = "with open(path) as fh:\n    data = fh.read()\nreturn data\n"
    replace = "with open(path) as fh:\n    data = fh.read()\n\n    data = data.strip()\nreturn data\n"
    out = apply_edit(CODE, search, replace)
    assert "        data = fh.read()\n\n        data = data.strip()\n    return data\n" in out
    assert level_of(CODE, search, replace) == "indent"


def test_overindented_search_is_matched_and_replace_outdented() -> None:
    search = "        def load(path):\n            with open(path) as fh:\n"
    replace = "        def load(path, mode='r'):\n            with open(path, mode) as fh:\n"
    body = "                data = fh.read()\n"
    out = apply_edit(CODE, search + body, replace + body)
    assert "def load(path, mode='r'):\n    with open(path, mode) as fh:\n        data = fh.read()\n" in out


def test_outdented_search_with_replace_at_its_own_indentation() -> None:
    # SEARCH lost 4 spaces; REPLACE kept the file's indentation: its first line tells.
    search = "    data = fh.read()\nreturn data\n"
    replace = "        data = fh.read()\n    return data\n\n\ndef save(path, data):\n    pass\n"
    out = apply_edit(CODE, search, replace)
    assert "        data = fh.read()\n    return data\n\n\ndef save(path, data):\n    pass\n\n" in out


def test_outdented_search_whose_replace_shares_no_line_is_refused() -> None:
    # REPLACE may have lost the same indentation as SEARCH, or only its own: nothing tells which.
    with pytest.raises(UncertainEdit, match="indentation"):
        apply_edit(CODE, "self.root = root\n", "self.root = Path(root)\nself.check()\n")


def test_outdented_search_with_a_reindented_last_line_is_refused() -> None:
    # Wrapping in an "if": the last line is shared but re-indented, so it cannot tell the offset.
    with pytest.raises(UncertainEdit, match="indent"):
        apply_edit(CODE, "self.root = root\n", "if root:\n    self.root = root\n")


def test_indented_single_line_replaced_by_single_line_keeps_its_indent() -> None:
    out = apply_edit(CODE, "self.root = root\n", "self.root = Path(root)\n")
    assert "        self.root = Path(root)\n" in out


def test_missing_blank_line_is_tolerated_when_replace_keeps_it() -> None:
    search = "import os\ndef load(path):\n"
    replace = "import os\nimport sys\n\n\ndef load(path):\n"
    out = apply_edit(CODE, search, replace)
    assert out.startswith("import os\nimport sys\n\n\ndef load(path):\n")
    assert level_of(CODE, search, replace) == "blank_or_comment"


def test_skipped_line_next_to_a_change_is_refused_with_its_number() -> None:
    # SEARCH skips the comment; REPLACE changes the line after it: keep or drop the comment?
    search = "    def get(self, key):\n        path = os.path.join(self.root, key)\n"
    replace = "    def get(self, key):\n        path = self.root / key\n"
    with pytest.raises(UncertainEdit) as info:
        apply_edit(CODE, search, replace)
    assert "line 15" in str(info.value) and "Keys are file names" in str(info.value)
    assert info.value.span[:2] == (14, 16)


def test_skipped_line_inside_a_removed_block_goes_with_it() -> None:
    search = ("    def get(self, key):\n        path = os.path.join(self.root, key)\n"
              "        return load(path)\n")
    out = apply_edit(CODE, search, "")
    assert out == CODE[: CODE.index("\n    def get")] + "\n"


def test_leading_comment_lines_pair_with_their_nearest_copies() -> None:
    # SEARCH dropped the blank line between two "# note" lines; it pairs its own two with the
    # nearest copies (one line dropped), not with the run of two further up (two lines dropped).
    text = "x = 0\n# note\n# note\n\n# note\ndef f(x):\n    return x\n"
    out = apply_edit(text, "# note\n# note\ndef f(x):\n", "# note\n\n# note\n")
    assert out == "x = 0\n# note\n# note\n\n# note\n    return x\n"


def test_extra_blank_line_in_search_is_tolerated() -> None:
    search = "class Store:\n\n    def __init__(self, root):\n"
    replace = "class Store:\n\n    def __init__(self, root=None):\n"
    assert "class Store:\n    def __init__(self, root=None):\n" in apply_edit(CODE, search, replace)


def test_changed_comment_is_not_taken_for_a_dropped_one() -> None:
    search = ("    def get(self, key):\n        # Keys are paths.\n"
              "        path = os.path.join(self.root, key)\n")
    with pytest.raises(NoMatch):
        apply_edit(CODE, search, search.replace("path =", "p ="))


def test_smart_quotes_in_search_match_ascii_and_replace_is_normalised() -> None:
    text = "name = 'world'\nprint(f\"hello {name}\")\n"
    out = apply_edit(text, "name = \u2018world\u2019\n", "name = \u2018there\u2019\n")
    assert out == "name = 'there'\nprint(f\"hello {name}\")\n"
    assert level_of(text, "name = \u2018world\u2019\n", "name = 'x'\n") == "typography"


def test_typographic_characters_the_file_really_has_are_kept() -> None:
    text = 'msg = "it\u2019s"  # \u2014 a dash\nx = "a"\n'
    search = 'msg = "it\u2019s"  # \u2014 a dash\nx = \u201ca\u201d\n'
    out = apply_edit(text, search, 'msg = "it\u2019s"  # \u2014 a dash\nx = \u201cb\u201d\n')
    assert out == 'msg = "it\u2019s"  # \u2014 a dash\nx = "b"\n'


def test_typographic_character_both_drifted_and_genuine_is_refused_in_a_new_line() -> None:
    text = "msg = 'it\u2019s'\nx = 'a'\n"
    search = "msg = \u2018it\u2019s\u2019\nx = \u2018a\u2019\n"
    with pytest.raises(UncertainEdit, match="also uses it"):
        apply_edit(text, search, "msg = \u2018it\u2019s\u2019\nx = \u2018b\u2019\n")


def test_typographic_dash_matches_ascii() -> None:
    text = "opts = ['-v', '-q']\n"
    assert apply_edit(text, "opts = [\u2018\u2013v\u2019, '-q']\n", "opts = ['-v']\n") == "opts = ['-v']\n"


def test_elided_search_with_full_replace_replaces_the_span() -> None:
    search = "    def get(self, key):\n        ...\n        return load(path)\n"
    replace = "    def get(self, key):\n        return load(self.root / key)\n"
    out = apply_edit(CODE, search, replace)
    assert out.endswith("    def get(self, key):\n        return load(self.root / key)\n")
    assert level_of(CODE, search, replace) == "elision"


def test_elision_in_replace_keeps_the_middle() -> None:
    search = "def load(path):\n    ...\n    return data\n"
    replace = "def load(path: str) -> str:\n    ...\n    return data.strip()\n"
    out = apply_edit(CODE, search, replace)
    assert ("def load(path: str) -> str:\n    with open(path) as fh:\n        data = fh.read()\n"
            "    return data.strip()\n") in out


def test_elision_whose_span_is_not_unique_is_refused() -> None:
    text = "def a():\n    x = 1\n    return x\n\ndef b():\n    x = 1\n    return x\n"
    with pytest.raises(AmbiguousMatch):
        apply_edit(text, "    x = 1\n    ...\n    return x\n", "    return 2\n")


# A ``...`` may frame several spans (a head or tail that repeats, or is only blank lines): the edit
# applies only when REPLACE gives the same text for every span, whichever the model meant.


def test_blank_tail_that_fits_one_place_frames_a_unique_span() -> None:
    # After "class Store:" the file has one blank line: the tail can only be that one.
    out = apply_edit(CODE, "class Store:\n...\n\n", "class Store:\n")
    assert out == CODE.replace("class Store:\n    def __init__(self, root):\n        self.root = root\n\n",
                               "class Store:\n")
    assert level_of(CODE, "class Store:\n...\n\n", "class Store:\n") == "elision"


def test_blank_head_with_an_unchanged_middle_applies_wherever_the_span_starts() -> None:
    # The head (one blank line) fits at 5 blank lines; REPLACE keeps it and the middle, so the
    # new text is the same whichever of them the model meant.
    search = "\n...\n        return load(path)\n"
    replace = "\n...\n        return load(self.root / key)\n"
    done = apply_edit_detailed(CODE, search, replace)
    assert done.text == CODE.replace("return load(path)", "return load(self.root / key)")
    assert done.level == "elision"
    assert (done.first_line, done.last_line) == (2, 17)  # every span it could have been, together


def test_repeated_head_with_an_unchanged_middle_applies() -> None:
    text = "def a():\n    x = 1\n    y = 2\n    x = 1\n    z = 3\n    return y\n"
    out = apply_edit(text, "    x = 1\n    ...\n    return y\n", "    x = 1\n    ...\n    return y + z\n")
    assert out == text.replace("return y", "return y + z")


def test_blank_head_framing_spans_that_give_different_texts_is_refused() -> None:
    # REPLACE spells the span out: deleting from one blank line or from another differs.
    with pytest.raises(AmbiguousMatch) as info:
        apply_edit(CODE, "\n...\n        return load(path)\n", "\n        return load(path)\n")
    message = str(info.value)
    assert "5 spans" in message and "lines 2-17, 3-17, 8-17, 9-17, 13-17" in message
    assert "only blank lines" in message and "different result" in message
    assert info.value.lines == [2, 3, 8, 9, 13]


def test_elided_span_where_one_candidate_is_uncertain_is_refused() -> None:
    # From the first blank line, the middle holds a literal "..." line: REPLACE's "..." might be it.
    text = "x = 1\n\ndef f():\n    ...\n\ny = 2\nz = 3\n"
    with pytest.raises(AmbiguousMatch, match="not certain"):
        apply_edit(text, "\n...\nz = 3\n", "\n...\nz = 4\n")
    # Framed by a head that fits once, the same edit applies.
    assert apply_edit(text, "y = 2\n...\nz = 3\n", "y = 2\n...\nz = 4\n") == text.replace("z = 3", "z = 4")


def test_elision_framing_too_many_spans_is_refused_without_trying_them() -> None:
    text = "".join(f"v{i} = {i}\n\n" for i in range(20)) + "end()\n"
    with pytest.raises(AmbiguousMatch, match="20 spans .* too many to try"):
        apply_edit(text, "\n...\nend()\n", "\n...\nend(1)\n")


def test_elision_with_only_blank_lines_on_both_sides_is_refused() -> None:
    with pytest.raises(NoMatch):
        apply_edit(CODE, "\n...\n\n", "\n")


def test_literal_ellipsis_in_replace_is_not_taken_for_an_elision() -> None:
    search = "    def get(self, key):\n        ...\n        return load(path)\n"
    replace = "    def get(self, key):\n            ...\n"  # other indentation: a literal Ellipsis?
    with pytest.raises(UncertainEdit, match="literally"):
        apply_edit(CODE, search, replace)


def test_no_context_edit_applies_when_unique_and_is_refused_when_not() -> None:
    assert "return load(self.root / key)" in apply_edit(
        CODE, "        return load(path)\n", "        return load(self.root / key)\n"
    )
    with pytest.raises(AmbiguousMatch):
        apply_edit(CODE, "\n", "\n\n")


def test_strictest_level_with_a_match_decides() -> None:
    # Exact once, and once more only ignoring trailing spaces: the exact one is edited.
    text = "v = 1\nw = 2\nv = 1  \n"
    assert apply_edit(text, "v = 1\n", "v = 0\n") == "v = 0\nw = 2\nv = 1  \n"


def test_several_matches_at_a_fuzzy_level_are_refused() -> None:
    text = "v = 1 \nw = 2\nv = 1  \n"
    with pytest.raises(AmbiguousMatch) as info:
        apply_edit(text, "v = 1\n", "v = 0\n")
    assert info.value.lines == [1, 3]
    assert "ignoring trailing whitespace" in str(info.value)


def test_one_drift_here_and_another_drift_there_is_refused() -> None:
    # Ignoring indentation it fits lines 2-3; ignoring a missing blank line, lines 5-7.
    text = "if a:\n    x = 1\n    y = 2\n\nx = 1\n\ny = 2\n"
    with pytest.raises(AmbiguousMatch) as info:
        apply_edit(text, "x = 1\ny = 2\n", "x = 3\ny = 2\n")
    assert info.value.lines == [2, 5]
    assert "ignoring indentation or ignoring missing or extra blank" in str(info.value)


def test_fuzzy_match_that_would_change_nothing_is_refused() -> None:
    with pytest.raises(UncertainEdit, match="would not change"):
        apply_edit(CODE, "class Store:  \n", "class Store:  \n")


# --- real history -----------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.exists(), reason="shared/data/edits corpus not present beside the repo")
def test_flask_history_is_never_silently_corrupted() -> None:
    outcomes: Counter[tuple[str, str]] = Counter()
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for raw in fh:
            rec = json.loads(raw)
            cases = [{"kind": "clean", "search": rec["search"], "replace": rec["replace"]}, *rec["variants"]]
            for case in cases:
                try:
                    out = apply_edit(rec["before"], case["search"], case["replace"])
                except EditError:
                    outcomes[case["kind"], "refused"] += 1
                    continue
                outcomes[case["kind"], "correct" if out == rec["after"] else "wrong"] += 1
    kinds = {kind for kind, _ in outcomes}
    assert {kind: outcomes[kind, "wrong"] for kind in kinds} == dict.fromkeys(kinds, 0)

    def rate(kind: str) -> float:
        return outcomes[kind, "correct"] / sum(outcomes[kind, o] for o in ("correct", "refused", "wrong"))

    assert rate("clean") == 1.0
    floors = {"trailing_ws": 0.99, "smart_quotes": 0.99, "outdent": 0.95, "drop_inner_line": 0.90,
              "no_context": 0.95, "elide": 0.65}
    assert {k: rate(k) >= floor for k, floor in floors.items()} == dict.fromkeys(floors, True)


# --- no silent whitespace change ------------------------------------------------------------------


def test_a_replace_without_final_newline_removes_the_files_when_search_matched_by_the_ladder() -> None:
    # The literal reading removes the final newline; the line ladder used to keep it.
    assert apply_edit("a\nb  \n", "b\n", "c") == "a\nc"  # trailing_ws level
    assert apply_edit("xb\nb\n", "b\n", "c") == "xb\nc"  # exact whole line, "b\n" twice as a substring
    assert apply_edit("a\nb\nc\n", "b \nc \n", "b") == "a\nb"
    assert apply_edit("a\r\nb \r\n", "b\n", "c") == "a\r\nc"


def test_a_search_stopping_short_of_its_line_break_leaves_the_break() -> None:
    assert apply_edit("xb\nb\nd\n", "b", "c") == "xb\nc\nd\n"
    assert apply_edit("xb\nb\nd\n", "b", "c\n") == "xb\nc\n\nd\n"
    assert apply_edit("xb\r\nb\r\nd\r\n", "b", "c") == "xb\r\nc\r\nd\r\n"


def test_deleting_one_of_two_blank_lines_keeps_the_one_replace_shows() -> None:
    text = "x\n    \n\ny\n"
    assert apply_edit(text, "x \n    \n\ny\n", "x\n    \ny\n") == "x\n    \ny\n"
    assert apply_edit(text, "x \n    \n\ny\n", "x\n\ny\n") == "x\n\ny\n"
    text = "x\n\n    \ny\n"
    assert apply_edit(text, "x \n\n    \ny\n", "x\n    \ny\n") == "x\n    \ny\n"
    assert apply_edit(text, "x \n\n    \ny\n", "x\n\ny\n") == "x\n\ny\n"


@pytest.mark.parametrize(("search", "replace"), [
    ("x\n    \n    \ny\n", "x\n    \ny\n"),  # SEARCH shows both alike: which one stays is a guess
    ("x\n\n\ny\n", "x\n\ny\n"),
])
def test_deleting_one_of_two_blank_lines_that_search_shows_alike_is_refused(search: str, replace: str) -> None:
    with pytest.raises(UncertainEdit, match="differ only in whitespace meet at lines 2-3"):
        apply_edit("x\n\n    \ny\n", search, replace)


def test_blank_lines_shown_without_their_spaces_and_kept_stay_as_they_are() -> None:
    assert apply_edit("x\n    \ny\n", "x\n\ny\n", "x\n\ny\nz\n") == "x\n    \ny\nz\n"


def test_a_new_whitespace_only_line_under_an_indentation_shift_is_refused() -> None:
    text = "def f():\n    x = 1\n    y = 2\n"
    with pytest.raises(UncertainEdit, match="holds only whitespace"):
        apply_edit(text, "x = 1\ny = 2\n", "x = 1\n    \ny = 2\n")
    assert apply_edit(text, "x = 1\ny = 2\n", "x = 1\n\ny = 2\n") == "def f():\n    x = 1\n\n    y = 2\n"


def test_an_empty_replace_for_a_last_line_without_its_break() -> None:
    assert apply_edit("xb\nb", "b", "") == "xb\n"  # SEARCH without the break: the one before stays
    assert apply_edit("xb\nb", "b\n", "") == "xb"  # a parsed block: the file keeps ending without one


def test_inserting_a_blank_line_next_to_one_that_search_shows_otherwise_is_refused() -> None:
    # SEARCH shows the file's empty line 1 holding spaces; REPLACE has an empty line and one holding
    # spaces: which one is the file's line and which one is new is a guess.
    with pytest.raises(UncertainEdit, match="differ only in whitespace meet at line 1"):
        apply_edit("\ndef f(x):\n", "  \ndef f(x): \n", "\n  \ndef f(x):\n")
    assert apply_edit("\ndef f(x):\n", "\ndef f(x): \n", "\n  \ndef f(x):\n") == "\n  \ndef f(x):\n"


def test_a_kept_blank_line_that_replace_may_have_moved_across_a_new_line_is_refused() -> None:
    with pytest.raises(UncertainEdit, match="differ only in whitespace meet at line 1"):
        apply_edit("\ndef f(x):\n", "  \ndef f(x): \n", "\n    return x\n  \ndef f(x):\n")


def test_a_dots_line_among_comment_lines_is_no_anchor_to_skip_lines_around() -> None:
    # SEARCH's only content line is '...': read literally it matched the file's stub body at
    # another place (the comment lines skipped around it), and the wrong line was deleted.
    text = "def f(x):\ndef f(x):\n# note\ndef f(x):\n    # note\n    ...\n"
    out = apply_edit(text, "# note\n...\n    # note\n", "# note\n    # note\n")
    assert out == "def f(x):\ndef f(x):\n# note\n    # note\n    ...\n"
