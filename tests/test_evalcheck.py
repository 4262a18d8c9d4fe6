"""A case's hidden check (specrelay.engine.evalcheck) on a temporary repository: passed, failed, the
checks that cannot run, and the scratch worktree removed every time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import make_repo

from specrelay.engine.evalcases import Case, write_case
from specrelay.engine.evalcheck import OUTPUT_CHARS, run_check
from specrelay.gitrepo import add_exclude

CHECK = 'grep -qx "$(cat want.txt)" value.txt || { echo "value is $(cat value.txt), want $(cat want.txt)"; exit 3; }\n'


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose base has value 1 and whose source commit has value 2 with its own check; the
    case's hidden check (the source's test files) wants 2."""
    repo = make_repo(tmp_path / "repo", {"value.txt": "1\n", "want.txt": "1\n", "tests/check.sh": CHECK})
    base = _git(repo, "rev-parse", "HEAD")
    source = _commit(repo, {"value.txt": "2\n", "want.txt": "2\n"})
    add_exclude(repo)  # .specrelay/ (the cases, git's lock) stays out of git
    return repo, base, source


def _case(repo: Path, commands: list[str], files: dict[str, bytes] | None = None, name: str = "c") -> tuple[Path, Case]:
    case = Case(name=name, base="", request="r\n", tests=sorted(files or {}), test_commands=commands)
    folder = write_case(repo / ".specrelay/eval/s", case, files if files is not None else {"want.txt": b"2\n"})
    return folder, case


def _scratch_gone(repo: Path) -> None:
    listed = _git(repo, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1, listed  # the main working tree alone
    assert _git(repo, "status", "--porcelain") == ""


def test_passes_at_the_source_and_fails_at_the_base(repo: tuple[Path, str, str]) -> None:
    root, base, source = repo
    folder, case = _case(root, ["true", "sh tests/check.sh"])
    passed = run_check(root, source, folder, case, timeout_s=30)
    assert passed.status == "passed" and passed.exit_code == 0 and passed.reason == ""
    assert passed.commands == ["true", "sh tests/check.sh"] and passed.seconds > 0
    failed = run_check(root, base, folder, case, timeout_s=30)
    assert failed.status == "failed" and failed.exit_code == 3
    assert "value is 1, want 2" in failed.output and failed.reason == "`sh tests/check.sh` exited 3"
    # without the hidden files the base's own check (wanting 1) passes
    assert run_check(root, base, folder, case, timeout_s=30, apply_check=False).status == "passed"
    assert failed.to_json() == {"status": "failed", "exit_code": 3, "seconds": round(failed.seconds, 3),
                                "commands": ["true", "sh tests/check.sh"], "output": failed.output,
                                "reason": failed.reason}
    _scratch_gone(root)


def test_the_first_failing_command_ends_the_check_and_the_output_is_a_tail(repo: tuple[Path, str, str]) -> None:
    root, _, source = repo
    folder, case = _case(root, ["python3 -c \"print('x' * 9000 + 'END'); raise SystemExit(5)\"", "touch ran"])
    result = run_check(root, source, folder, case, timeout_s=30)
    assert result.status == "failed" and result.exit_code == 5 and len(result.commands) == 1
    assert len(result.output) <= OUTPUT_CHARS and result.output.rstrip().endswith("END")
    assert not (root / "ran").exists()
    _scratch_gone(root)


def test_the_commands_see_no_api_key_and_logs_are_kept_when_asked(repo: tuple[Path, str, str], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, source = repo
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    folder, case = _case(root, ['test -z "$OPENAI_API_KEY" && echo keyless'])
    result = run_check(root, source, folder, case, timeout_s=30, log_dir=tmp_path / "logs")
    assert result.status == "passed", result.output
    assert "keyless" in (tmp_path / "logs/check_1.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(("commands", "commit", "words"), [
    ([], "source", ["no test command", "case.toml"]),
    (["no-such-command-specrelay"], "source", ["exited 127", "command not found"]),
    (["sleep 20"], "source", ["timed out after 0.5 s", "timeout_s"]),
    (["true"], "0" * 40, ["commit '" + "0" * 40 + "' is not in the repository"]),
    (["true"], "no-such-branch", ["'no-such-branch' is not in the repository"]),
])
def test_a_check_that_cannot_run_is_an_error(repo: tuple[Path, str, str], commands: list[str], commit: str,
                                             words: list[str]) -> None:
    root, _, source = repo
    folder, case = _case(root, commands)
    result = run_check(root, source if commit == "source" else commit, folder, case, timeout_s=0.5)
    assert result.status == "error", result
    for word in words:
        assert word in result.reason, result.reason
    assert result.seconds < 10  # a timeout stops the command's group
    _scratch_gone(root)


def test_a_missing_check_folder_is_an_error_unless_the_check_is_not_applied(repo: tuple[Path, str, str]) -> None:
    root, _, source = repo
    folder, case = _case(root, ["sh tests/check.sh"])
    (folder / "check/want.txt").unlink()
    (folder / "check").rmdir()
    result = run_check(root, source, folder, case, timeout_s=30)
    assert result.status == "error" and "no check/ folder" in result.reason
    assert run_check(root, source, folder, case, timeout_s=30, apply_check=False).status == "passed"
    _scratch_gone(root)


def test_the_scratch_worktree_is_removed_when_the_run_itself_breaks(repo: tuple[Path, str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, source = repo
    folder, case = _case(root, ["true"])
    seen: list[Path] = []

    async def broken(command: str, *, cwd: Path, **_: object) -> None:
        seen.append(cwd)
        (cwd / "untracked.txt").write_text("left behind?\n", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr("specrelay.proc.run", broken)
    with pytest.raises(KeyboardInterrupt):
        run_check(root, source, folder, case, timeout_s=30)
    assert seen and not seen[0].exists() and not seen[0].parent.exists()
    _scratch_gone(root)


def test_a_check_that_cannot_be_applied_is_an_error(repo: tuple[Path, str, str]) -> None:
    root, _, source = repo
    folder, case = _case(root, ["true"], {"value.txt/inner.txt": b"2\n"})  # value.txt is a file at the commit
    result = run_check(root, source, folder, case, timeout_s=30)
    assert result.status == "error" and result.reason.startswith("cannot apply ") and result.commands == []
    _scratch_gone(root)
