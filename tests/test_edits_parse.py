"""parse_blocks: SEARCH/REPLACE blocks out of a builder's reply, and errors that quote the line."""

from __future__ import annotations

import pytest

from specrelay.edits import EditBlock, parse_blocks
from specrelay.errors import MalformedBlock

FENCE = "```"


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_a_single_block() -> None:
    blocks = parse_blocks(block("src/app.py", "x = 1\n", "x = 2\n"))
    assert blocks == [EditBlock("src/app.py", "x = 1\n", "x = 2\n", 2)]


def test_blocks_inside_fences_with_prose_around_them() -> None:
    reply = (
        "I will rename the variable.\n\n"
        f"src/app.py\n{FENCE}python\n<<<<<<< SEARCH\nx = 1\n=======\ny = 1\n>>>>>>> REPLACE\n{FENCE}\n\n"
        "And add a test:\n\n"
        f"{FENCE}python\ntests/test_app.py\n<<<<<<< SEARCH\n=======\ndef test():\n    pass\n"
        f">>>>>>> REPLACE\n{FENCE}\nDone.\n"
    )
    assert parse_blocks(reply) == [
        EditBlock("src/app.py", "x = 1\n", "y = 1\n", 5),
        EditBlock("tests/test_app.py", "", "def test():\n    pass\n", 16),
    ]


def test_several_blocks_for_one_file_and_a_path_left_out_on_a_later_block() -> None:
    reply = (
        block("a.py", "one\n", "1\n")
        + block("a.py", "two\n", "2\n")
        + "<<<<<<< SEARCH\nthree\n=======\n3\n>>>>>>> REPLACE\n"
    )
    assert [(b.path, b.search, b.replace) for b in parse_blocks(reply)] == [
        ("a.py", "one\n", "1\n"), ("a.py", "two\n", "2\n"), ("a.py", "three\n", "3\n")
    ]


@pytest.mark.parametrize("written", [
    "src/app.py", "`src/app.py`", "**src/app.py**", "### src/app.py", "File: src/app.py",
    "**File:** `src/app.py`", "# src/app.py", "src/app.py:", "  src/app.py  ", "*src/app.py*",
    "__src/app.py__", "**File**: src/app.py", "**`src/app.py`**:", "'src/app.py'",
])
def test_decorated_paths_are_cleaned(written: str) -> None:
    assert parse_blocks(block(written, "a\n", "b\n"))[0].path == "src/app.py"


@pytest.mark.parametrize("name", [
    "__init__.py", "pkg/__init__.py", "__main__.py", "__tests__/a.test.js", "__pycache__/x.py",
    "pkg/__main__", "_private.py", "lib/_impl_.c", "a.py_", "x*",
])
def test_underscores_and_stars_of_a_name_are_kept(name: str) -> None:
    for written in (name, f"`{name}`", f"**{name}**", f"File: {name}", f"### {name}"):
        assert parse_blocks(block(written, "a\n", "b\n"))[0].path == name, written


@pytest.mark.parametrize("written", [
    "docs/user guide.md", "`docs/user guide.md`", "**docs/user guide.md**", "File: `docs/user guide.md`",
    '"docs/user guide.md"',
])
def test_a_path_with_spaces_alone_on_its_line_is_that_path(written: str) -> None:
    assert parse_blocks(block(written, "a\n", "b\n"))[0].path == "docs/user guide.md"


@pytest.mark.parametrize("prose", [
    "Here is the change:", "Here is the change to app.py:", "I will rename the variable.",
    "src/app.py (new file)", "Makefile for the build",
])
def test_prose_with_spaces_is_not_taken_for_a_path(prose: str) -> None:
    with pytest.raises(MalformedBlock, match="line 1"):
        parse_blocks(block(prose, "a\n", "b\n"))


def test_empty_search_means_create_and_keeps_blank_lines_exact() -> None:
    created = parse_blocks(block("new.py", "", "\nx = 1\n\n"))[0]
    assert created.creates and created.replace == "\nx = 1\n\n"
    assert not parse_blocks(block("a.py", "\n", "x\n"))[0].creates


def test_empty_replace_deletes() -> None:
    assert parse_blocks(block("a.py", "x = 1\n", ""))[0].replace == ""


def test_marker_lengths_are_lenient() -> None:
    reply = "a.py\n<<<<<<<<< SEARCH\nx\n=====\ny\n>>>>> REPLACE\n"
    assert parse_blocks(reply) == [EditBlock("a.py", "x\n", "y\n", 2)]


def test_crlf_reply() -> None:
    reply = block("a.py", "x\n", "y\n").replace("\n", "\r\n")
    assert parse_blocks(reply) == [EditBlock("a.py", "x\n", "y\n", 2)]


def test_a_reply_without_blocks_is_empty() -> None:
    assert parse_blocks("All done, nothing to change.\n\n=======\n") == []


def test_long_rst_underline_is_content_not_a_divider() -> None:
    reply = block("README.rst", "Title\n==========\n", "New title\n==========\n")
    assert parse_blocks(reply)[0].search == "Title\n==========\n"


def test_several_dividers_are_fine_when_one_is_the_usual_seven() -> None:
    reply = "README.rst\n<<<<<<< SEARCH\nTitle\n=====\n=======\nTitle\n======\n>>>>>>> REPLACE\n"
    assert parse_blocks(reply)[0].search == "Title\n=====\n"


def test_ambiguous_dividers_are_malformed() -> None:
    reply = "doc.rst\n<<<<<<< SEARCH\nTitle\n=======\n=======\nNew\n=======\n>>>>>>> REPLACE\n"
    with pytest.raises(MalformedBlock, match=r"line 4 .*several '=======' lines \(4, 5, 7\)"):
        parse_blocks(reply)


def test_missing_path_is_malformed() -> None:
    with pytest.raises(MalformedBlock, match="line 1 .*no file path.*'<<<<<<< SEARCH'"):
        parse_blocks("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")


def test_prose_instead_of_a_path_is_malformed_and_quoted() -> None:
    with pytest.raises(MalformedBlock) as info:
        parse_blocks("Here is the change:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")
    assert "line 1" in str(info.value) and "'Here is the change:'" in str(info.value)


def test_search_without_divider_is_malformed() -> None:
    with pytest.raises(MalformedBlock, match="line 4 .*without a '=======' since the SEARCH at line 2"):
        parse_blocks("a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n")


def test_unterminated_block_is_malformed() -> None:
    with pytest.raises(MalformedBlock, match="line 2 .*never ends: no '>>>>>>> REPLACE'"):
        parse_blocks("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n")
    with pytest.raises(MalformedBlock, match="no '=======' and '>>>>>>> REPLACE'"):
        parse_blocks("a.py\n<<<<<<< SEARCH\nx\n")


def test_replace_marker_out_of_order_is_malformed() -> None:
    with pytest.raises(MalformedBlock, match="line 2 .*no '<<<<<<< SEARCH' before it"):
        parse_blocks("a.py\n>>>>>>> REPLACE\n")


def test_new_search_inside_an_open_block_is_malformed() -> None:
    reply = "a.py\n<<<<<<< SEARCH\nx\n<<<<<<< SEARCH\ny\n=======\nz\n>>>>>>> REPLACE\n"
    with pytest.raises(MalformedBlock, match="line 4 .*before the block opened at line 2 was closed"):
        parse_blocks(reply)


def test_malformed_block_is_an_edit_error_naming_the_reply_line() -> None:
    with pytest.raises(MalformedBlock) as info:
        parse_blocks("intro\n\nb.py\n<<<<<<< SEARCH\n")
    assert str(info.value).startswith("Malformed edit block at line 4 of the reply")


@pytest.mark.parametrize("written", ["- src/util.py", "* src/util.py", "+ src/util.py", "1. src/util.py",
                                     "12) src/util.py", "- `src/util.py`", "* **src/util.py**", "1. File: src/util.py"])
def test_a_list_marker_is_decoration(written: str) -> None:
    found = parse_blocks(block(written, "a\n", "b\n"))[0]
    assert (found.path, found.bare_spaces) == ("src/util.py", False)


@pytest.mark.parametrize("name", ["__init__.py", "-x.py", "1.py", "*.py"])
def test_a_name_that_only_looks_like_a_marker_is_kept(name: str) -> None:
    assert parse_blocks(block(name, "a\n", "b\n"))[0].path == name


def test_bare_spaces_are_flagged_quoted_ones_are_not() -> None:
    prose = parse_blocks(block("Here is the new file tests/test_a.py", "", "x\n"))[0]
    assert prose.bare_spaces and prose.path == "Here is the new file tests/test_a.py"
    assert parse_blocks(block("docs/user guide.md", "a\n", "b\n"))[0].bare_spaces
    for quoted in ("`docs/user guide.md`", '"docs/user guide.md"', "- `docs/user guide.md`"):
        found = parse_blocks(block(quoted, "a\n", "b\n"))[0]
        assert (found.path, found.bare_spaces) == ("docs/user guide.md", False), quoted
