"""Verification through the CLI: its three states shown honestly everywhere, a command that cannot run
pausing the task, and `init` finding the project's test command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from conftest import make_repo, run_cli
from taskkit import PYTHON_TEST, happy_replies, project

from specrelay.config import load_config
from specrelay.engine.steps.verify import verify_summary


def run_json(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    proc = run_cli(*args, "--json", cwd=repo)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None


def told_the_reviewer(folder: Path) -> str:
    """What the review step is told of the task's last verification (from its verify.json)."""
    def read(name: str) -> str | None:
        path = folder / name
        return path.read_text() if path.is_file() else None

    return verify_summary(SimpleNamespace(read_artifact=read))  # type: ignore[arg-type]


# ---- three states ----------------------------------------------------------------------------------


def test_no_verification_configured_is_never_called_passed(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), verify=[])
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "Verification · no verification configured" in proc.stdout
    assert "✓ Verification" not in proc.stdout and "passed" not in proc.stdout
    [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    folder = Path(status["folder"])
    saved = json.loads((folder / "verify.json").read_text())
    assert saved["state"] == "not_configured" and saved["passed"] is None
    assert status["verification"] == {"state": "not_configured", "passed": None, "commands": []}
    [step] = [s for s in status["steps"] if s["kind"] == "verify"]
    assert step["detail"]["state"] == "not_configured" and step["detail"]["passed"] is None
    _, shown = run_json(repo, "show", status["id"])
    assert shown["verification"]["state"] == "not_configured"
    for args in (("status",), ("show", status["id"])):
        text = run_cli(*args, cwd=repo, env={"COLUMNS": "200"}).stdout
        assert "no verification configured" in text, text
    told = told_the_reviewer(folder)
    assert "no tests or checks were run" in told and "passed" not in told


def test_a_passing_verification_is_shown_with_its_commands(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "✓ Verification · passed" in proc.stdout and "verification passed (1 command)" in proc.stdout
    [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert status["verification"]["state"] == "passed" and status["verification"]["passed"] is True
    assert "Verification passed" in told_the_reviewer(Path(status["folder"]))


def test_a_failing_verification_shows_a_cross_the_command_its_exit_code_and_its_log(tmp_path: Path) -> None:
    command = f"{sys.executable} -c \"import sys; print('three'); sys.exit(3)\""
    repo = project(tmp_path, happy_replies(), verify=[command], extra="max_attempts = 0\n")
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "300"})
    [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    log = f".specrelay/tasks/{status['id']}/verify_r1_a0_1.log"
    assert "✗ Verification · FAILED" in proc.stdout, proc.stdout
    assert f"✗ `{command}` exit 3 · log {log}" in proc.stdout
    assert "✓ Verification" not in proc.stdout
    assert f"verification FAILED: `{command}` exit 3 · log {log}" in proc.stdout  # the summary
    assert "three" in (repo / log).read_text()
    v = status["verification"]
    assert v["state"] == "failed" and v["passed"] is False
    assert v["commands"] == [{"command": command, "exit_code": 3, "timed_out": False, "log": log}]
    assert json.loads((repo / log).parent.joinpath("verify.json").read_text())["state"] == "failed"
    assert "Verification FAILED" in told_the_reviewer(Path(status["folder"]))


# ---- a command that cannot run is the user's to fix ----------------------------------------------------


def test_a_missing_program_pauses_the_task_without_a_builder_call_and_resume_goes_on(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), verify=["no-such-program-xyz --check"])
    proc = run_cli("run", "Add sub", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    config = repo / ".specrelay" / "config.toml"
    for needle in ("`no-such-program-xyz --check` exited 127", "command not found",
                   f"[verify] commands in {config}", "specrelay resume"):
        assert needle in line, line
    [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert status["status"] == "paused" and "exited 127" in status["message"]
    # status and show give the verification that could not run, as verify.json and merge do
    log = f".specrelay/tasks/{status['id']}/verify_r1_a0_1.log"
    assert status["verification"] == {"state": "failed", "passed": False, "commands": [
        {"command": "no-such-program-xyz --check", "exit_code": 127, "timed_out": False, "log": log}]}
    shown_text = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "300"}).stdout
    assert f"verification FAILED: `no-such-program-xyz --check` exit 127 · log {log}" in shown_text, shown_text
    _, shown = run_json(repo, "show", status["id"])
    assert [c["phase"] for c in shown["calls"]] == ["plan", "implement"]  # no model asked to "fix" it

    config.write_text(config.read_text().replace('"no-such-program-xyz --check"', json.dumps(PYTHON_TEST)))
    proc, done = run_json(repo, "resume", status["id"])
    assert proc.returncode == 0, proc.stderr
    assert done["status"] == "done" and done["verification"]["state"] == "passed"
    assert [c["phase"] for c in done_calls(repo, done["id"])] == ["plan", "implement", "review"]


def done_calls(repo: Path, task_id: str) -> list[dict[str, Any]]:
    return run_json(repo, "show", task_id)[1]["calls"]


def test_a_script_that_is_not_executable_pauses_naming_the_workflow_line(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    (repo / "check.sh").write_text("#!/bin/sh\nexit 0\n")  # committed without the executable bit
    subprocess.run(["git", "add", "check.sh"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "check"], cwd=repo, check=True)
    flows = repo / ".specrelay" / "workflows"
    flows.mkdir()
    text = (Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md").read_text()
    kind = "<!-- kind: verify -->"
    (flows / "checked.md").write_text(text.replace(kind, kind + "\n<!-- run: ./check.sh -->"))
    proc = run_cli("run", "Add sub", "--workflow", "checked", cwd=repo)
    [line] = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    for needle in ("`./check.sh` exited 126", "not executable", "chmod +x", "run:",
                   f"{status['folder']}/workflow.md", f"specrelay resume {status['id']}"):
        assert needle in line, line
    assert status["status"] == "paused"
    worktree = Path(status["worktree"])
    (worktree / "check.sh").chmod(0o755)
    proc, done = run_json(repo, "resume", status["id"])
    assert done["status"] == "done", proc.stderr


# ---- init finds the test command -------------------------------------------------------------------


def tools(tmp_path: Path, **programs: str) -> dict[str, str]:
    """A PATH holding git and the given programs (name → shell script body, or "python" for this
    interpreter), and nothing else: what init finds does not depend on this machine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    for name, body in programs.items():
        target = bin_dir / name
        if body == "python":
            target.symlink_to(sys.executable)
        else:
            target.write_text(f"#!/bin/sh\n{body}\n")
            target.chmod(0o755)
    return {"PATH": str(bin_dir)}


def init(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = run_cli("init", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["verify"]


PYTEST_STYLE = "def test_one():\n    assert 1 + 1 == 2\n"
UNITTEST_STYLE = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_one(self):\n        pass\n"


def test_init_writes_pytest_from_pyproject_when_pytest_is_importable(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = \"-q\"\n",
                                         "tests/test_one.py": PYTEST_STYLE})
    env = tools(tmp_path, python="python")
    verify = init(repo, env)
    assert verify["commands"] == ["python -m pytest -q"] and verify["written"] is True
    assert verify["detected"][0]["source"].startswith("pyproject.toml")
    assert load_config(repo).verify.commands == ["python -m pytest -q"]
    text = (repo / ".specrelay/config.toml").read_text()
    assert "\n[verify]\ncommands = [\"python -m pytest -q\"]\n" in text
    proc = run_cli("init", cwd=repo, env=env)
    assert proc.returncode == 0 and (repo / ".specrelay/config.toml").read_text() == text  # idempotent


def test_init_comments_out_what_it_is_unsure_of(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_one.py": PYTEST_STYLE, "go.mod": "module x\n"})
    verify = init(repo, tools(tmp_path, python="exit 1"))  # a python that cannot import pytest
    assert verify["commands"] == [] and verify["written"] is True
    notes = {d["command"]: d["note"] for d in verify["detected"] if not d["sure"]}
    assert "cannot import" in notes["python -m pytest -q"] and "go is not on PATH" in notes["go test ./..."]
    assert load_config(repo).verify.commands == []  # as written, it changes nothing
    text = (repo / ".specrelay/config.toml").read_text()
    assert '# [verify]\n# commands = ["python -m pytest -q", "go test ./..."]\n' in text
    assert "not sure: go is not on PATH here" in text


def test_init_falls_back_to_unittest_for_unittest_tests(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_one.py": UNITTEST_STYLE})
    verify = init(repo, tools(tmp_path, python="exit 1"))
    assert verify["commands"] == ["python -m unittest discover -s tests"]
    assert load_config(repo).verify.commands == ["python -m unittest discover -s tests"]


def test_init_finds_npm_cargo_and_go_but_not_npms_placeholder(tmp_path: Path) -> None:
    placeholder = json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}})
    repo = make_repo(tmp_path / "repo", {"package.json": placeholder, "Cargo.toml": "[package]\nname = \"x\"\n",
                                         "go.mod": "module x\n"})
    env = tools(tmp_path, npm="exit 0", cargo="exit 0", go="exit 0")
    assert init(repo, env)["commands"] == ["cargo test", "go test ./..."]
    other = make_repo(tmp_path / "other", {"package.json": json.dumps({"scripts": {"test": "jest"}})})
    assert init(other, env)["commands"] == ["npm test"]


def test_init_prefers_the_makefiles_test_target(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"Makefile": "VAR := 1\ntest: build\n\tpytest\n",
                                         "tests/test_one.py": PYTEST_STYLE})
    assert init(repo, tools(tmp_path, make="exit 0", python="python"))["commands"] == ["make test"]


def test_init_with_no_markers_writes_the_template_as_it_is(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"Makefile": "build:\n\tcc x.c\n", "src/main.py": "x = 1\n"})
    proc = run_cli("init", cwd=repo, env=tools(tmp_path, python="python", make="exit 0"))
    assert "no test command detected" in proc.stdout
    from specrelay import paths

    template = (paths.data_dir() / "config_template.toml").read_text()
    assert (repo / ".specrelay/config.toml").read_text() == template


def test_init_never_rewrites_an_existing_config_even_with_tests_to_find(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_one.py": PYTEST_STYLE})
    config = repo / ".specrelay" / "config.toml"
    config.parent.mkdir()
    config.write_text("# mine\n")
    verify = init(repo, tools(tmp_path, python="python"))
    assert verify["written"] is False and verify["commands"] == ["python -m pytest -q"]
    assert config.read_text() == "# mine\n"
    assert os.access(config, os.R_OK)


# ---- a failing verification is never ready to merge ------------------------------------------------


def test_a_verification_still_failing_ends_needs_attention_and_more_rounds_fix_it(tmp_path: Path) -> None:
    from taskkit import ADD_SUB, FIX_SUB, SPEC, review

    check = f"{sys.executable} -c \"import calc, sys; sys.exit(0 if calc.sub.__doc__ else 3)\""
    replies = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB], "gpt-reviewer": [review(), review()]}
    repo = project(tmp_path, replies, verify=[check], extra="max_attempts = 0\n")
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "300"})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "is ready" not in proc.stdout and "needs_attention" in proc.stdout, proc.stdout
    assert "--rounds 1" in proc.stdout
    [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert status["status"] == "needs_attention"
    assert status["message"].startswith("verification failed: ") and "exit 3" in status["message"]
    assert status["open"] and "exit 3" in status["open"][0]
    merge = run_cli("merge", status["id"], cwd=repo)
    assert merge.returncode != 0 and "exit 3" in merge.stderr and "needs_attention" in merge.stderr
    proc, done = run_json(repo, "resume", status["id"], "--rounds", "1")
    assert proc.returncode == 0, proc.stderr
    assert done["status"] == "done" and done["open"] == [] and done["verification"]["state"] == "passed"
    assert done["rounds"] == 2
    builder = [c for c in done_calls(repo, status["id"]) if c["phase"] == "implement"]
    assert len(builder) == 2 and "verify" in json.dumps(builder[-1]["context"]), builder[-1]
