"""A builder's edits through `specrelay run`: the files it names, and the commits that record them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

# Paths a Markdown-minded cleaner would mangle: underscores that are the name's, and a space (a new
# file whose name has spaces is created from a path in backticks).
CREATES = """pkg/__init__.py
<<<<<<< SEARCH
=======
VERSION = "1"
>>>>>>> REPLACE

**pkg/__main__.py**
<<<<<<< SEARCH
=======
print("main")
>>>>>>> REPLACE

`docs/user guide.md`
<<<<<<< SEARCH
=======
# User guide
>>>>>>> REPLACE

`__tests__/a.test.js`
<<<<<<< SEARCH
=======
test("a", () => {});
>>>>>>> REPLACE
"""


def run_task(repo: Path) -> dict:
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_created_paths_keep_their_underscores_and_spaces(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB + "\n" + CREATES],
                              "gpt-reviewer": [review()]})
    status = run_task(repo)
    files = git(repo, "ls-tree", "-r", "--name-only", status["branch"]).splitlines()
    for name in ("pkg/__init__.py", "pkg/__main__.py", "docs/user guide.md", "__tests__/a.test.js"):
        assert name in files, files
    assert not any(name.startswith(("pkg/init", "pkg/main", "tests/", "docs/user\\")) for name in files), files
    assert git(repo, "show", f"{status['branch']}:docs/user guide.md") == "# User guide\n"


def test_commits_are_titled_from_the_spec_and_keep_their_trailers(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": [review("request_changes", [MAJOR]), review()]})
    status = run_task(repo)
    assert status["rounds"] == 2
    log = git(repo, "log", "--format=%s%x1f%b%x1e", f"main..{status['branch']}")
    commits = [entry.strip("\n").split("\x1f") for entry in log.split("\x1e") if entry.strip()]
    (fix_subject, fix_body), (first_subject, first_body) = commits
    assert first_subject == "Subtraction"
    assert fix_subject == "Fix review findings: Subtraction"
    assert "specrelay: Implementation (round 1) implements the spec." in first_body
    assert "specrelay: Implementation (round 2) fixes the review findings." in fix_body
    for body in (first_body, fix_body):
        assert f"Specrelay-Task: {status['id']}" in body and "Specrelay-Model: scripted-flash-builder" in body
    # git reads them as trailers (crash-resume finds a step's commit by Specrelay-Step)
    steps = git(repo, "log", "--format=%(trailers:key=Specrelay-Step,valueonly)", f"main..{status['branch']}")
    assert [line.split(".")[1] for line in steps.split()] == ["r2", "r1"]


def test_a_long_title_is_cut_at_a_word(tmp_path: Path) -> None:
    title = "Subtraction " + "with many careful words about negative numbers " * 3
    spec = SPEC.replace("# Subtraction", f"# {title}")
    repo = project(tmp_path, {"opus-planner": [spec], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    status = run_task(repo)
    subject = git(repo, "log", "-1", "--format=%s", status["branch"]).strip()
    assert len(subject) <= 72 and subject.endswith("...") and title.startswith(subject[:-3])


def test_a_fix_for_failing_verification_says_so(tmp_path: Path) -> None:
    check = f"{sys.executable} -c \"import calc, sys; sys.exit(0 if calc.sub.__doc__ else 1)\""
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": [review()]}, verify=[check])
    status = run_task(repo)
    subjects = git(repo, "log", "--format=%s", f"main..{status['branch']}").splitlines()
    assert subjects == ["Fix failing verification: Subtraction", "Subtraction"]
    body = git(repo, "log", "-1", "--format=%b", status["branch"])
    assert "fixes the failing verification." in body and "Specrelay-Step: " in body


# Prose and list items before a block: the path is what the list item names; a sentence is no path.
PROSE = """Here is the new file tests/test_a.py
<<<<<<< SEARCH
=======
def test_a():
    pass
>>>>>>> REPLACE

- notes.md
<<<<<<< SEARCH
=======
notes
>>>>>>> REPLACE
"""

LISTED = """- notes.md
<<<<<<< SEARCH
=======
notes
>>>>>>> REPLACE

1. docs/guide notes.md
<<<<<<< SEARCH
old text
=======
new text
>>>>>>> REPLACE
"""


def test_a_sentence_before_a_block_gets_a_correction_not_a_file(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB + "\n" + PROSE,
                                                                         ADD_SUB + "\n" + LISTED],
                              "gpt-reviewer": [review()]})
    (repo / "docs").mkdir()
    (repo / "docs" / "guide notes.md").write_text("old text\n")  # an existing file: bare spaces are its path
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "guide"], cwd=repo, check=True)
    status = run_task(repo)
    assert status["status"] == "done", status
    files = git(repo, "ls-tree", "-r", "--name-only", status["branch"]).splitlines()
    assert "notes.md" in files and not any(f.startswith(("Here is", "- ", "1. ")) for f in files), files
    assert git(repo, "show", f"{status['branch']}:docs/guide notes.md") == "new text\n"
    calls = json.loads(run_cli("cost", "--by", "preset", "--json", cwd=repo).stdout)
    builder = [row for row in calls["rows"] if row["key"] == "flash-builder"]
    assert builder and builder[0]["calls"] == 2, calls  # the first reply was refused and corrected


# A file whose blank run is a line of spaces then an empty line; SEARCH shows one blank line and
# REPLACE swaps the two (<sp> is the line of spaces). Which blank line SEARCH's is, is a guess: the
# reply is sent back.
BLANKS = "def f(x):\n    return x\n    \n\ndef g(x):\n    return x\n"
SWAP_BLANKS = """blanks.py
<<<<<<< SEARCH
def f(x):
    return x

def g(x):
=======
def f(x):
    return x

<sp>
def g(x):
>>>>>>> REPLACE
""".replace("<sp>", "    ")
EXACT_BLANKS = """blanks.py
<<<<<<< SEARCH
    return x
<sp>

def g(x):
=======
    return x

<sp>
def g(x):
>>>>>>> REPLACE
""".replace("<sp>", "    ")


def test_an_edit_unsure_which_blank_line_it_keeps_is_sent_back_not_applied(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB + "\n" + SWAP_BLANKS,
                                                                         EXACT_BLANKS],
                              "gpt-reviewer": [review()]})
    (repo / "blanks.py").write_text(BLANKS)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "blanks"], cwd=repo, check=True)
    status = run_task(repo)
    assert status["status"] == "done", status
    assert git(repo, "show", f"{status['branch']}:blanks.py") == BLANKS.replace("    \n\n", "\n    \n")
    calls = json.loads(run_cli("cost", "--by", "preset", "--json", cwd=repo).stdout)
    builder = [row for row in calls["rows"] if row["key"] == "flash-builder"]
    assert builder and builder[0]["calls"] == 2, calls  # the first reply was refused and corrected


EDIT_FIRST = """notes.txt
<<<<<<< SEARCH
one
=======
ONE
>>>>>>> REPLACE
"""


def test_a_crlf_file_without_a_final_newline_keeps_both_through_an_edit(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB + "\n" + EDIT_FIRST],
                              "gpt-reviewer": [review()]})
    (repo / "notes.txt").write_bytes(b"one\r\ntwo\r\n  \r\nthree")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "notes"], cwd=repo, check=True)
    status = run_task(repo)
    shown = subprocess.run(["git", "show", f"{status['branch']}:notes.txt"], cwd=repo, capture_output=True,
                           check=True).stdout
    assert shown == b"ONE\r\ntwo\r\n  \r\nthree"


IGNORED = """__pycache__/x.py
<<<<<<< SEARCH
=======
X = 1
>>>>>>> REPLACE
"""


def test_an_edit_to_a_file_git_ignores_is_sent_back_not_applied(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB + "\n" + IGNORED, ADD_SUB],
                              "gpt-reviewer": [review()]})
    assert "__pycache__/" in (repo / ".gitignore").read_text()  # the sample project ignores it
    status = run_task(repo)
    assert status["status"] == "done", status
    files = git(repo, "ls-tree", "-r", "--name-only", status["branch"]).splitlines()
    assert "__pycache__/x.py" not in files and "calc.py" in files, files
    worktree = repo / ".specrelay" / "worktrees" / status["id"]
    assert not (worktree / "__pycache__" / "x.py").exists()  # the refused set was not half-applied
    calls = json.loads(run_cli("cost", "--by", "preset", "--json", cwd=repo).stdout)
    builder = [row for row in calls["rows"] if row["key"] == "flash-builder"]
    assert builder and builder[0]["calls"] == 2, calls  # refused, then corrected
    log = (repo / ".specrelay" / "tasks" / status["id"] / "run.log").read_text()
    assert "__pycache__/x.py is ignored by git" in log, log
