"""``specrelay eval make`` / ``eval list``, through the CLI, on a repository whose history the test builds.

A commit that changes tests only is skipped: with no code change there is nothing for the task to build
(the request would be "write these tests", which the same tests cannot judge), and the hidden check
would already pass at the base, so the case could not tell one workflow from another.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from conftest import make_repo, run_cli, scripted, write_user_config

from specrelay.ledger import unpack_prompt

#: Cases from history, kept without running their checks (the tests of validation are apart).
UNCHECKED = ("--from-history", "--no-validate")
BLOB = b"\xff\x00\xfe binary fixture \r\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n", "src/calc.py": "def add(a, b):\n    return a + b\n"})
    shas = {"initial": _git(repo, "rev-parse", "HEAD")}
    shas["sub"] = _commit(repo, "Add sub\n\nSubtract b from a.", {
        "src/calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
        "tests/test_calc.py": "from src.calc import sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"})
    (repo / "tests/data").mkdir(parents=True)
    (repo / "tests/data/blob.bin").write_bytes(BLOB)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--amend", "--no-edit")
    shas["sub"] = _git(repo, "rev-parse", "HEAD")
    shas["docs"] = _commit(repo, "Document calc", {"README.md": "# r\n\nA calculator.\n", "docs/use.md": "use it\n"})
    shas["tests_only"] = _commit(repo, "More tests", {"tests/test_more.py": "def test_more():\n    assert True\n"})
    shas["no_tests"] = _commit(repo, "Tidy calc", {"src/calc.py": "def add(a, b):\n    return b + a\n\n\n"
                                                                   "def sub(a, b):\n    return a - b\n"})
    _git(repo, "checkout", "-q", "-b", "side")
    side = _commit(repo, "Add mul on a branch", {"src/mul.py": "def mul(a, b):\n    return a * b\n",
                                                 "tests/test_mul.py": "def test_mul():\n    assert True\n"})
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    shas["side"], shas["merge"] = side, _git(repo, "rev-parse", "HEAD")
    shas["div"] = _commit(repo, "Add div", {"src/div.py": "def div(a, b):\n    return a / b\n",
                                            "tests/div_test.py": "def test_div():\n    assert True\n"})
    return repo, shas


def _case(repo: Path, suite: str, name: str) -> dict[str, object]:
    return tomllib.loads((repo / ".specrelay/eval" / suite / name / "case.toml").read_text(encoding="utf-8"))


def test_from_history_writes_code_and_test_commits_and_skips_the_rest(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    proc = run_cli("eval", "make", "hist", *UNCHECKED, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert [c["source"] for c in made["cases"]] == [shas["div"], shas["sub"]]  # newest first, first-parent only
    reasons = {s["sha"]: s["reason"] for s in made["skipped"]}
    assert reasons[shas["merge"]] == "a merge commit"
    assert reasons[shas["docs"]] == "docs only"
    assert reasons[shas["no_tests"]] == "no test change"
    assert reasons[shas["tests_only"]].startswith("tests only")
    assert shas["side"] not in reasons  # the merged branch's own commits are not on the first-parent line
    name = made["cases"][1]["name"]
    case = _case(repo, "hist", name)
    assert case["base"] == shas["initial"] and case["source"] == shas["sub"]
    assert case["tests"] == ["tests/data/blob.bin", "tests/test_calc.py"]
    assert (repo / ".specrelay/eval/hist" / name / "check/tests/data/blob.bin").read_bytes() == BLOB
    assert case["test_commands"]  # detected as `init` detects it: a Python project with tests
    folder = repo / ".specrelay/eval/hist" / name
    request = (folder / "request.md").read_text(encoding="utf-8")
    assert request.startswith("Add sub\n\nSubtract b from a.") and "return a - b" not in request
    assert (folder / "check/tests/test_calc.py").read_text(encoding="utf-8").endswith("assert sub(3, 1) == 2\n")
    assert sorted(p.name for p in folder.iterdir()) == ["case.toml", "check", "request.md"]
    assert _git(repo, "status", "--porcelain") == ""  # .specrelay/ stays out of git
    listed = run_cli("eval", "list", cwd=repo)
    assert listed.returncode == 0 and name in listed.stdout and "hist" in listed.stdout
    one = json.loads(run_cli("eval", "list", "hist", "--json", cwd=repo).stdout)
    assert [c["name"] for c in one["hist"]] == sorted(c["name"] for c in made["cases"])


def test_verify_commands_from_the_config_are_the_test_command(tmp_path: Path) -> None:
    repo, _ = _history(tmp_path)
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text('[verify]\ncommands = ["make check"]\n', encoding="utf-8")
    made = json.loads(run_cli("eval", "make", "s", *UNCHECKED, "--limit", "1", "--json", cwd=repo).stdout)
    assert made["cases"][0]["test_commands"] == ["make check"]


def test_since_limit_and_paths(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    since = json.loads(run_cli("eval", "make", "a", *UNCHECKED, "--since", shas["sub"], "--json",
                               cwd=repo).stdout)
    assert [c["source"] for c in since["cases"]] == [shas["div"]]
    limited = json.loads(run_cli("eval", "make", "b", *UNCHECKED, "--limit", "1", "--json", cwd=repo).stdout)
    assert [c["source"] for c in limited["cases"]] == [shas["div"]]
    assert sorted((repo / ".specrelay/eval/b").iterdir()) == [repo / ".specrelay/eval/b" / limited["cases"][0]["name"]]
    paths = json.loads(run_cli("eval", "make", "c", *UNCHECKED, "--paths", "src/calc.py", "--json",
                               cwd=repo).stdout)
    assert [c["source"] for c in paths["cases"]] == [shas["sub"]]
    # `*` stays within a folder, `**` spans folders, a bare pattern matches a name anywhere
    globs = (("*/calc.py", [shas["sub"]]), ("*.py", [shas["div"], shas["sub"]]), ("**/div.py", [shas["div"]]),
             ("src/**", [shas["div"], shas["sub"]]))
    for n, (glob, want) in enumerate(globs):
        out = run_cli("eval", "make", f"glob{n}", *UNCHECKED, "--paths", glob, "--json", cwd=repo)
        assert out.returncode == 0, (glob, out.stderr)
        assert [c["source"] for c in json.loads(out.stdout)["cases"]] == want, glob
    assert run_cli("eval", "make", "g0", *UNCHECKED, "--paths", "*/*.bin", cwd=repo).returncode != 0


def test_a_hand_written_case(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    (repo / "hidden").mkdir()
    (repo / "hidden/test_pow.py").write_text("def test_pow():\n    assert 2 ** 3 == 8\n", encoding="utf-8")
    proc = run_cli("eval", "make", "hand", "--case", "pow", "--base", "HEAD~1", "--request", "Add pow",
                   "--check", "hidden/test_pow.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    case = _case(repo, "hand", "pow")
    assert case["base"] == _git(repo, "rev-parse", "HEAD~1") and case["source"] == ""
    assert case["tests"] == ["hidden/test_pow.py"]
    assert (repo / ".specrelay/eval/hand/pow/request.md").read_text(encoding="utf-8") == "Add pow\n"
    assert (repo / ".specrelay/eval/hand/pow/check/hidden/test_pow.py").is_file()
    again = run_cli("eval", "make", "hand", "--case", "pow", "--base", "HEAD", "--request", "Add pow twice",
                    "--check", "hidden/test_pow.py", cwd=repo)
    assert again.returncode != 0 and "already exists" in again.stderr and "--force" in again.stderr
    assert _case(repo, "hand", "pow")["base"] == _git(repo, "rev-parse", "HEAD~1")  # untouched
    forced = run_cli("eval", "make", "hand", "--case", "pow", "--base", "HEAD", "--request", "Add pow twice",
                     "--check", "hidden/test_pow.py", "--force", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    assert _case(repo, "hand", "pow")["base"] == shas["div"]
    assert sorted(p.name for p in (repo / ".specrelay/eval/hand").iterdir()) == ["pow"]  # no temp folder left


def _fails(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode != 0
    progress = ("checking ", "rewriting ")
    said = [line for line in proc.stderr.strip().splitlines() if not line.lstrip().startswith(progress)]
    assert "Traceback" not in proc.stderr and len(said) == 1, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    _fails(run_cli("eval", "make", "s", *UNCHECKED, cwd=outside), "git")
    repo, shas = _history(tmp_path)
    _fails(run_cli("eval", "make", "s", *UNCHECKED, "--since", "nope", cwd=repo), "unknown ref", "nope")
    _fails(run_cli("eval", "make", "../up", *UNCHECKED, cwd=repo), "not a plain name")
    _fails(run_cli("eval", "make", "s", *UNCHECKED, "--since", "HEAD", cwd=repo), "no commits after HEAD")
    _fails(run_cli("eval", "make", "s", *UNCHECKED, "--paths", "nothing/*", cwd=repo), "no commit to make a case")
    _fails(run_cli("eval", "make", "s", *UNCHECKED, "--paths", "*", "--case", "x", cwd=repo), "not both")
    _fails(run_cli("eval", "make", "s", "--case", "x", "--base", "HEAD", "--request", "r", "--check", "README.md",
                   "--since", "HEAD~1", "--limit", "2", cwd=repo), "--since, --limit: only for --from-history")
    _fails(run_cli("eval", "make", "s", cwd=repo), "--from-history")
    _fails(run_cli("eval", "make", "s", "--case", "x", "--base", "HEAD", "--request", "r", cwd=repo), "--check")
    _fails(run_cli("eval", "make", "s", "--case", "x", "--base", "nope", "--request", "r", "--check", "README.md",
                   cwd=repo), "nope")
    _fails(run_cli("eval", "make", "s", "--case", "a/b", "--base", "HEAD", "--request", "r", "--check",
                   "README.md", cwd=repo), "not a plain name")
    _fails(run_cli("eval", "make", "s", "--case", "x", "--base", "HEAD", "--request", "r", "--check",
                   "missing.py", cwd=repo), "missing.py")
    _fails(run_cli("eval", "list", "nosuch", cwd=repo), "nosuch")
    assert not (repo / ".specrelay/eval").exists()
    assert run_cli("eval", "make", "s", *UNCHECKED, cwd=repo).returncode == 0
    before = sorted(p.name for p in (repo / ".specrelay/eval/s").iterdir())
    _fails(run_cli("eval", "make", "s", *UNCHECKED, cwd=repo), "already exists", "--force")
    assert sorted(p.name for p in (repo / ".specrelay/eval/s").iterdir()) == before
    assert run_cli("eval", "make", "s", *UNCHECKED, "--force", cwd=repo).returncode == 0
    assert sorted(p.name for p in (repo / ".specrelay/eval/s").iterdir()) == before


ADD = "def add(a, b):\n    return a + b\n"
TEST_ADD = ("import unittest\n\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n"
            "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n")


def _unittest(name: str, module: str, call: str, want: str) -> dict[str, str]:
    return {f"tests/test_{name}.py": f"import unittest\n\nfrom {module} import {name}\n\n\n"
                                     f"class T(unittest.TestCase):\n    def test_{name}(self):\n"
                                     f"        self.assertEqual({call}, {want})\n"}


def _checked_history(tmp_path: Path, commands: list[str], timeout_s: float = 60) -> tuple[Path, dict[str, str]]:
    """A Python project tested with unittest, whose history holds every kind of commit validation judges."""
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n", "calc.py": ADD, "tests/__init__.py": "",
                                         "tests/test_add.py": TEST_ADD})
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text(f"[verify]\ncommands = {json.dumps(commands)}\n"
                                                 f"timeout_s = {timeout_s}\n", encoding="utf-8")
    shas = {"sub": _commit(repo, "Add sub", {"sub.py": "def sub(a, b):\n    return a - b\n",
                                             **_unittest("sub", "sub", "sub(3, 1)", "2")})}
    shas["docs"] = _commit(repo, "Document calc", {"README.md": "# r\n\nA calculator.\n"})
    _git(repo, "checkout", "-q", "-b", "side")
    _commit(repo, "Add mod on a branch", {"mod.py": "def mod(a, b):\n    return a % b\n",
                                          **_unittest("mod", "mod", "mod(7, 4)", "3")})
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    shas["merge"] = _git(repo, "rev-parse", "HEAD")
    shas["break"] = _commit(repo, "Speed up add", {"calc.py": "def add(a, b):\n    return a + b + 1\n"})
    shas["mul"] = _commit(repo, "Add mul", {"mul.py": "def mul(a, b):\n    return a * b\n",
                                            **_unittest("mul", "mul", "mul(2, 3)", "6")})
    shas["restore"] = _commit(repo, "Restore add", {"calc.py": ADD})
    shas["div"] = _commit(repo, "Add div", {"div.py": "def div(a, b):\n    return a / b\n",
                                            **_unittest("div", "div", "div(6, 3)", "2")})
    shas["neg"] = _commit(repo, "Add neg, test add again", {"neg.py": "def neg(a):\n    return -a\n",
                                                            **_unittest("add", "calc", "add(1, 1)", "2")})
    shas["pow"] = _commit(repo, "Add pow", {"pw.py": "def pw(a, b):\n    return a ** b\n",
                                            **_unittest("pw", "pw", "pw(2, 3)", "9")})
    return repo, shas


def _python_tests() -> list[str]:
    return [f"{sys.executable} -m unittest -q"]


def test_history_cases_are_validated_by_running_their_checks(tmp_path: Path) -> None:
    repo, shas = _checked_history(tmp_path, _python_tests())
    proc = run_cli("eval", "make", "v", "--from-history", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[1]: line for line in proc.stdout.splitlines() if line.startswith("  skipped ")}
    skipped = {name: lines[shas[name][:12]].split(": ", 1)[1] for name in
               ("pow", "neg", "restore", "mul", "break", "merge", "docs")}
    assert skipped["pow"].startswith("the check fails at the commit itself (`")
    assert skipped["neg"] == "the check already passes at the parent: it cannot tell the change from none"
    assert skipped["restore"] == skipped["break"] == "no test change"
    assert skipped["mul"].startswith("tests already fail at the parent (`") and "exited 1" in skipped["mul"]
    assert skipped["merge"] == "a merge commit" and skipped["docs"] == "docs only"
    written = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("  wrote ")]
    assert written == [_case_named(repo, "v", shas["div"]), _case_named(repo, "v", shas["sub"])]
    assert "fails at its parent" in proc.stdout
    assert f"checking {shas['div'][:12]} Add div" in proc.stderr and shas["docs"][:12] not in proc.stderr
    listed = _git(repo, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1 and _git(repo, "status", "--porcelain") == ""  # no scratch left
    # --limit counts the cases kept: the newest candidates are skipped on the way to the first good one
    one = json.loads(run_cli("eval", "make", "one", "--from-history", "--limit", "1", "--json", cwd=repo).stdout)
    assert [c["source"] for c in one["cases"]] == [shas["div"]] and one["validated"] is True
    assert {s["sha"] for s in one["skipped"]} == {shas["pow"], shas["neg"]}
    # without validation, the same history keeps every code+test commit
    fast = json.loads(run_cli("eval", "make", "fast", *UNCHECKED, "--json", cwd=repo).stdout)
    assert [c["source"] for c in fast["cases"]] == [shas[n] for n in ("pow", "neg", "div", "mul", "sub")]
    assert fast["validated"] is False


def _case_named(repo: Path, suite: str, sha: str) -> str:
    folder = repo / ".specrelay/eval" / suite
    found = [d.name for d in folder.iterdir() if _case(repo, suite, d.name)["source"] == sha]
    assert len(found) == 1, found
    return found[0]


def test_validation_that_cannot_run_says_how_to_go_on(tmp_path: Path) -> None:
    shell = make_repo(tmp_path / "shell", {"lib.sh": "echo 1\n"})
    _commit(shell, "Print 2", {"lib.sh": "echo 2\n", "tests/lib_test.sh": "sh lib.sh | grep -qx 2\n"})
    _fails(run_cli("eval", "make", "s", "--from-history", cwd=shell), "no test command", "[verify] commands",
           "--no-validate")
    assert run_cli("eval", "make", "s", *UNCHECKED, cwd=shell).returncode == 0
    repo, _ = _checked_history(tmp_path, ["no-such-test-runner-here"])
    _fails(run_cli("eval", "make", "s", "--from-history", cwd=repo), "exited 127", "command not found",
           "--no-validate")
    slow, _ = _checked_history(tmp_path / "slow", ["sleep 30"], timeout_s=0.3)
    _fails(run_cli("eval", "make", "s", "--from-history", "--limit", "1", cwd=slow), "no commit to make a case",
           "the tests cannot run at the parent", "timed out after 0.3 s")
    for folder in (repo, slow):
        assert not (folder / ".specrelay/eval").exists()


def _fast_import(repo: Path, commits: list[tuple[str, dict[str, str]]]) -> None:
    """Commits on main, oldest first, made in one `git fast-import` (a long history in a moment)."""
    def data(text: str) -> str:
        return f"data {len(text.encode())}\n{text}\n"

    stream = []
    for n, (message, files) in enumerate(commits, 1):
        stream.append(f"commit refs/heads/main\nmark :{n}\ncommitter T <t@example.com> {1700000000 + n} +0000\n"
                      + data(message) + "".join(f"M 100644 inline {p}\n" + data(t) for p, t in files.items()))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input="".join(stream), text=True, check=True)
    _git(repo, "checkout", "-q", "-f", "main")


def test_a_long_history_is_read_whole(tmp_path: Path) -> None:
    repo = tmp_path / "long"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    oldest = ("Add neg\n\nNegate a number.\n", {"src/neg.py": "def neg(a):\n    return -a\n",
                                                 "tests/test neg \u00e9.py": "def test_neg():\n    pass\n"})
    history = [("initial", {"src/neg.py": "\n", "README.md": "# r\n"}), oldest]
    history += [(f"Docs {n}\n\n\x1e not a header", {"README.md": f"# r {n}\n"}) for n in range(250)]
    _fast_import(repo, history)
    _git(repo, "commit", "-q", "--allow-empty", "-m", "Nothing changes")
    made = json.loads(run_cli("eval", "make", "long", *UNCHECKED, "--json", cwd=repo).stdout)
    assert made["looked_at"] == 253
    assert [c["tests"] for c in made["cases"]] == [["tests/test neg \u00e9.py"]]
    reasons = [s["reason"] for s in made["skipped"]]
    assert reasons[0] == "docs only"  # the empty commit changes nothing: no code, no test
    assert reasons.count("docs only") == 251 and reasons[-1] == "a root commit (no parent to start from)"
    folder = repo / ".specrelay/eval/long" / made["cases"][0]["name"]
    assert (folder / "request.md").read_text(encoding="utf-8") == "Add neg\n\nNegate a number.\n"


def test_rewrite_turns_each_commit_into_a_task_description(tmp_path: Path) -> None:
    repo, shas = _checked_history(tmp_path, _python_tests())
    div = "# Division\n\nAdd `div(a, b)` to a new module `div.py`, returning a divided by b.\n"
    sub = "# Subtraction\n\nAdd `sub(a, b)` to a new module `sub.py`: `def sub(a, b):`.\n"  # quotes the diff
    write_user_config(scripted("rewriter", [div, sub]))  # newest first
    proc = run_cli("eval", "make", "r", "--from-history", "--rewrite", "rewriter", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "Requests rewritten by rewriter (2 calls" in proc.stdout and "rewriting " in proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1 and "quotes 1 line of the commit's code" in warnings[0]
    assert "(`def sub(a, b):`)" in warnings[0] and _case_named(repo, "r", shas["sub"]) in warnings[0]
    for sha, text, message in ((shas["div"], div, "Add div\n"), (shas["sub"], sub, "Add sub\n")):
        folder = repo / ".specrelay/eval/r" / _case_named(repo, "r", sha)
        assert (folder / "request.md").read_text(encoding="utf-8") == text
        assert (folder / "request.orig.md").read_text(encoding="utf-8") == message
        case = _case(repo, "r", folder.name)
        assert case["original_request"] == "request.orig.md" and case["rewritten_by"] == "rewriter"
    listed = json.loads(run_cli("eval", "list", "r", "--json", cwd=repo).stdout)["r"]
    assert {c["rewritten_by"] for c in listed} == {"rewriter"}
    db = sqlite3.connect(repo / ".specrelay/ledger.db")
    rows = db.execute("SELECT preset, phase, step, prompt FROM calls ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("rewriter", "eval-rewrite")] * 2
    prompts = ["\n".join(m["content"] for m in unpack_prompt(r[3])) for r in rows]
    assert "Add div" in prompts[0] and "+def div(a, b):" in prompts[0]  # the message and the code diff
    assert not any("assertEqual" in p or "test_div" in p for p in prompts)  # never the hidden check


def test_a_rewrite_preset_that_cannot_answer_is_refused_before_anything_runs(tmp_path: Path) -> None:
    repo, _ = _checked_history(tmp_path, _python_tests())
    proc = run_cli("eval", "make", "r", "--from-history", "--rewrite", "nosuch", cwd=repo)
    _fails(proc, "nosuch")
    assert "checking" not in proc.stderr
    write_user_config(scripted("mute", [""]))
    _fails(run_cli("eval", "make", "r", *UNCHECKED, "--limit", "1", "--rewrite", "mute", cwd=repo),
           "answered an empty request", "--rewrite")
    _fails(run_cli("eval", "make", "r", "--case", "x", "--base", "HEAD", "--request", "r", "--check", "calc.py",
                   "--rewrite", "mute", cwd=repo), "--rewrite: only for --from-history")
    assert not (repo / ".specrelay/eval").exists()


@pytest.mark.parametrize("background", [False, True])
def test_sigterm_during_validation_stops_the_test_command_and_removes_its_worktree(tmp_path: Path,
                                                                                   background: bool) -> None:
    """Also as a background job of a script, which starts with Ctrl-C ignored (asyncio then has no handler)."""
    started, pid_file = tmp_path / "started", tmp_path / "pid"
    repo, _ = _checked_history(tmp_path, [f"echo $$ > {pid_file} && touch {started} && exec sleep 60"])
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None  # noqa: E731
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "eval", "make", "s", "--from-history"], cwd=repo,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ignore)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert started.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("interrupted: eval make stopped: no case was written"), err
    with pytest.raises(ProcessLookupError):  # the test command's group was killed, not left running
        os.kill(int(pid_file.read_text()), 0)
    listed = _git(repo, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1 and not (repo / ".specrelay/eval").exists()
