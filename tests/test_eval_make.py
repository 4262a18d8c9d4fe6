"""``specrelay eval make`` / ``eval list``, through the CLI, on a repository whose history the test builds.

A commit that changes tests only is skipped: with no code change there is nothing for the task to build
(the request would be "write these tests", which the same tests cannot judge), and the hidden check
would already pass at the base, so the case could not tell one workflow from another.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

from conftest import make_repo, run_cli

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
    proc = run_cli("eval", "make", "hist", "--from-history", "--json", cwd=repo)
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
    made = json.loads(run_cli("eval", "make", "s", "--from-history", "--limit", "1", "--json", cwd=repo).stdout)
    assert made["cases"][0]["test_commands"] == ["make check"]


def test_since_limit_and_paths(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    since = json.loads(run_cli("eval", "make", "a", "--from-history", "--since", shas["sub"], "--json",
                               cwd=repo).stdout)
    assert [c["source"] for c in since["cases"]] == [shas["div"]]
    limited = json.loads(run_cli("eval", "make", "b", "--from-history", "--limit", "1", "--json", cwd=repo).stdout)
    assert [c["source"] for c in limited["cases"]] == [shas["div"]]
    assert sorted((repo / ".specrelay/eval/b").iterdir()) == [repo / ".specrelay/eval/b" / limited["cases"][0]["name"]]
    paths = json.loads(run_cli("eval", "make", "c", "--from-history", "--paths", "src/calc.py", "--json",
                               cwd=repo).stdout)
    assert [c["source"] for c in paths["cases"]] == [shas["sub"]]
    # `*` stays within a folder, `**` spans folders, a bare pattern matches a name anywhere
    globs = (("*/calc.py", [shas["sub"]]), ("*.py", [shas["div"], shas["sub"]]), ("**/div.py", [shas["div"]]),
             ("src/**", [shas["div"], shas["sub"]]))
    for n, (glob, want) in enumerate(globs):
        out = run_cli("eval", "make", f"glob{n}", "--from-history", "--paths", glob, "--json", cwd=repo)
        assert out.returncode == 0, (glob, out.stderr)
        assert [c["source"] for c in json.loads(out.stdout)["cases"]] == want, glob
    assert run_cli("eval", "make", "g0", "--from-history", "--paths", "*/*.bin", cwd=repo).returncode != 0


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
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    _fails(run_cli("eval", "make", "s", "--from-history", cwd=outside), "git")
    repo, shas = _history(tmp_path)
    _fails(run_cli("eval", "make", "s", "--from-history", "--since", "nope", cwd=repo), "unknown ref", "nope")
    _fails(run_cli("eval", "make", "../up", "--from-history", cwd=repo), "not a plain name")
    _fails(run_cli("eval", "make", "s", "--from-history", "--since", "HEAD", cwd=repo), "no commits after HEAD")
    _fails(run_cli("eval", "make", "s", "--from-history", "--paths", "nothing/*", cwd=repo), "no commit to make a case")
    _fails(run_cli("eval", "make", "s", "--from-history", "--paths", "*", "--case", "x", cwd=repo), "not both")
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
    assert run_cli("eval", "make", "s", "--from-history", cwd=repo).returncode == 0
    before = sorted(p.name for p in (repo / ".specrelay/eval/s").iterdir())
    _fails(run_cli("eval", "make", "s", "--from-history", cwd=repo), "already exists", "--force")
    assert sorted(p.name for p in (repo / ".specrelay/eval/s").iterdir()) == before
    assert run_cli("eval", "make", "s", "--from-history", "--force", cwd=repo).returncode == 0
    assert sorted(p.name for p in (repo / ".specrelay/eval/s").iterdir()) == before
