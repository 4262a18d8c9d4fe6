"""apply_blocks: a reply's blocks applied to a worktree, all or nothing, confined to it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from specrelay import fsutil
from specrelay.edits import EditBlock, EditsRejected, apply_blocks, parse_blocks
from specrelay.errors import EditError, OutsideWorktree


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "worktree"
    (root / "src").mkdir(parents=True)
    (root / "src/app.py").write_text("def main():\n    print('hello')\n", encoding="utf-8")
    (root / "README.md").write_text("# App\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git/config").write_text("[core]\n", encoding="utf-8")
    return root


def edit(path: str, search: str, replace: str, line: int = 1) -> EditBlock:
    return EditBlock(path, search, replace, line)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_applies_blocks_and_returns_what_changed(tree: Path) -> None:
    result = apply_blocks(tree, [
        edit("src/app.py", "    print('hello')\n", "    print('hi')\n"),
        edit("src/util.py", "", "def helper():\n    return 1\n"),
        edit("README.md", "# App\n", "# App\n\nA tool.\n"),
    ])
    assert (tree / "src/app.py").read_text() == "def main():\n    print('hi')\n"
    assert (tree / "src/util.py").read_text() == "def helper():\n    return 1\n"
    assert result.changed == ("README.md", "src/app.py", "src/util.py")
    assert result.created == ("src/util.py",)
    assert [(r.status, r.level) for r in result.reports] == [
        ("applied", "exact"), ("created", "create"), ("applied", "exact")
    ]
    assert result.reports[0].first_line == 2 and result.failures == []


def test_blocks_on_one_file_apply_in_turn_to_its_evolving_text(tree: Path) -> None:
    apply_blocks(tree, [
        edit("src/app.py", "def main():\n", "def main() -> None:\n"),
        edit("src/app.py", "def main() -> None:\n    print('hello')\n", "def main() -> None:\n    run()\n"),
        edit("src/new.py", "", "a = 1\n"),
        edit("src/new.py", "a = 1\n", "a = 2\n"),
    ])
    assert (tree / "src/app.py").read_text() == "def main() -> None:\n    run()\n"
    assert (tree / "src/new.py").read_text() == "a = 2\n"


def test_a_failing_block_leaves_every_file_untouched(tree: Path) -> None:
    before = snapshot(tree)
    with pytest.raises(EditsRejected) as info:
        apply_blocks(tree, [
            edit("src/app.py", "def main():\n", "def run():\n", line=3),
            edit("src/app.py", "    print('bye')\n", "    print('hi')\n", line=9),
            edit("src/other.py", "", "x = 1\n", line=15),
        ])
    assert snapshot(tree) == before
    reports = info.value.result.reports
    assert [r.status for r in reports] == ["applied", "failed", "created"]
    assert info.value.result.changed == ()
    failure = info.value.result.failures[0]
    assert (failure.index, failure.path, failure.reply_line) == (1, "src/app.py", 9)
    assert "SEARCH not found in src/app.py" in failure.message
    message = str(info.value)
    assert message.startswith("1 of 3 edit blocks could not be applied, so none was")
    assert "Block 2 (src/app.py, reply line 9): SEARCH not found" in message


def test_ambiguous_block_reports_every_matching_line(tree: Path) -> None:
    (tree / "dup.py").write_text("x = 1\ny = 2\nx = 1\n")
    with pytest.raises(EditsRejected) as info:
        apply_blocks(tree, [edit("dup.py", "x = 1\n", "x = 3\n")])
    assert "at lines 1, 3" in info.value.result.failures[0].message


@pytest.mark.parametrize("path", [
    "/etc/passwd", "~/.bashrc", "C:/Windows/x.py", "../outside.py", "src/../../outside.py",
    ".git/config", ".GIT/hooks/pre-commit", "src/.git/x", "src\\app.py", "",
])
def test_paths_outside_the_worktree_are_refused(tree: Path, path: str) -> None:
    before = snapshot(tree)
    with pytest.raises(EditsRejected) as info:
        apply_blocks(tree, [edit(path, "", "pwned\n")])
    assert info.value.result.failures[0].message.startswith("Refusing the edit")
    assert snapshot(tree) == before


def test_symlink_leading_outside_is_refused(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("key = 1\n")
    (tree / "link").symlink_to(outside, target_is_directory=True)
    (tree / "gitlink").symlink_to(tree / ".git", target_is_directory=True)
    for path in ("link/secret.py", "link/new.py", "gitlink/config"):
        with pytest.raises(EditsRejected, match="Refusing the edit"):
            apply_blocks(tree, [edit(path, "key = 1\n" if "secret" in path else "", "key = 2\n")])
    assert (outside / "secret.py").read_text() == "key = 1\n"
    assert not (outside / "new.py").exists()


def test_symlink_inside_the_worktree_edits_its_target_and_stays_a_link(tree: Path) -> None:
    (tree / "alias.py").symlink_to(tree / "src/app.py")
    result = apply_blocks(tree, [edit("alias.py", "def main():\n", "def start():\n")])
    assert (tree / "alias.py").is_symlink()
    assert (tree / "src/app.py").read_text().startswith("def start():\n")
    assert result.changed == ("src/app.py",)


def test_outside_worktree_error_type(tree: Path) -> None:
    from specrelay.edits import resolve_in_worktree

    with pytest.raises(OutsideWorktree):
        resolve_in_worktree(tree.resolve(), "../x")
    assert resolve_in_worktree(tree.resolve(), "./src/app.py") == (tree / "src/app.py").resolve()


def test_binary_and_non_utf8_files_are_refused(tree: Path) -> None:
    (tree / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00data")
    (tree / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    for path, why in (("logo.png", "binary"), ("latin1.txt", "not UTF-8")):
        with pytest.raises(EditsRejected, match=why):
            apply_blocks(tree, [edit(path, "data", "x")])


def test_creating_a_file_that_already_has_content_is_refused(tree: Path) -> None:
    with pytest.raises(EditsRejected, match="already has content"):
        apply_blocks(tree, [edit("README.md", "", "# Other\n")])


def test_creating_over_an_empty_file_is_allowed(tree: Path) -> None:
    (tree / "empty.py").write_text("")
    result = apply_blocks(tree, [edit("empty.py", "", "x = 1\n")])
    assert (tree / "empty.py").read_text() == "x = 1\n"
    assert result.reports[0].status == "applied" and result.created == ()


def test_editing_a_missing_file_says_how_to_create_it(tree: Path) -> None:
    with pytest.raises(EditsRejected, match="does not exist; to create it, send .* an empty SEARCH"):
        apply_blocks(tree, [edit("src/missing.py", "x = 1\n", "x = 2\n")])


def test_a_file_where_a_folder_is_needed_is_refused(tree: Path) -> None:
    with pytest.raises(EditsRejected, match="README.md is a file, not a folder"):
        apply_blocks(tree, [edit("README.md/notes.md", "", "x\n")])


def test_line_endings_bom_and_mode_are_preserved(tree: Path) -> None:
    script = tree / "run.sh"
    script.write_bytes(b"\xef\xbb\xbf#!/bin/sh\r\necho one\r\n")
    script.chmod(0o755)
    apply_blocks(tree, [edit("run.sh", "echo one\n", "echo two\necho three\n")])
    assert script.read_bytes() == b"\xef\xbb\xbf#!/bin/sh\r\necho two\r\necho three\r\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_new_files_get_ordinary_permissions(tree: Path) -> None:
    apply_blocks(tree, [edit("src/new.py", "", "x = 1\n")])
    mode = stat.S_IMODE((tree / "src/new.py").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_unchanged_file_is_not_reported_as_changed(tree: Path) -> None:
    result = apply_blocks(tree, [edit("README.md", "# App\n", "# App\n")])
    assert result.changed == () and result.reports[0].status == "applied"


def test_no_blocks_changes_nothing(tree: Path) -> None:
    assert apply_blocks(tree, []).changed == ()


def test_a_write_that_fails_midway_puts_back_what_was_written(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(tree)
    real = fsutil.atomic_write_text
    calls: list[Path] = []

    def flaky(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(fsutil, "atomic_write_text", flaky)
    with pytest.raises(EditError, match="No space left on device; no file was changed"):
        apply_blocks(tree, [
            edit("README.md", "# App\n", "# Tool\n"),
            edit("src/app.py", "def main():\n", "def run():\n"),
            edit("src/new.py", "", "x = 1\n"),
        ])
    assert snapshot(tree) == before


def test_parsed_reply_end_to_end(tree: Path) -> None:
    reply = (
        "Renaming the greeting.\n\n"
        "src/app.py\r\n```python\r\n<<<<<<< SEARCH\r\ndef main(): \r\n    print('hello')\r\n=======\r\n"
        "def main():\r\n    print('hi')\r\n>>>>>>> REPLACE\r\n```\r\n"
    )
    result = apply_blocks(tree, parse_blocks(reply))
    assert (tree / "src/app.py").read_text() == "def main():\n    print('hi')\n"
    assert result.reports[0].level == "trailing_ws" and result.reports[0].reply_line == 5


def test_a_bare_line_with_spaces_names_only_an_existing_file(tree: Path) -> None:
    (tree / "docs").mkdir()
    (tree / "docs" / "user guide.md").write_text("old\n", encoding="utf-8")
    before = snapshot(tree)
    prose = parse_blocks("Here is the new file tests/test_a.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n")
    with pytest.raises(EditsRejected, match="backticks"):
        apply_blocks(tree, prose)
    assert snapshot(tree) == before
    existing = parse_blocks("docs/user guide.md\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n")
    assert apply_blocks(tree, existing).changed == ("docs/user guide.md",)
