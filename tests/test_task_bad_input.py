"""Bad input and faults around a task: each is one clear line, a non-zero exit, and nothing lost."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import assert_clean_error, make_repo, run_cli
from taskkit import ADD_SUB, SPEC, happy_replies, project, review

from specrelay import paths


def tasks_of(repo: Path) -> list[dict]:
    return json.loads(run_cli("status", "--json", cwd=repo).stdout)


def test_not_a_git_repo(tmp_path: Path) -> None:
    assert_clean_error(run_cli("run", "x", cwd=tmp_path), "not inside a git repository")


def test_dirty_base_detached_base_and_missing_ref(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    (repo / "calc.py").write_text("changed\n")
    assert_clean_error(run_cli("run", "x", cwd=repo), "uncommitted changes", "calc.py", "--base")
    subprocess.run(["git", "checkout", "-q", "calc.py"], cwd=repo, check=True)
    subprocess.run(["git", "checkout", "-q", "--detach"], cwd=repo, check=True)
    assert_clean_error(run_cli("run", "x", cwd=repo), "detached", "--base")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)
    assert_clean_error(run_cli("run", "x", "--base", "no-such-branch", cwd=repo), "no-such-branch")
    assert tasks_of(repo) == []
    assert not (repo / ".specrelay" / "tasks").exists() or not any((repo / ".specrelay" / "tasks").iterdir())


def test_unknown_workflow_and_a_broken_one(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    assert_clean_error(run_cli("run", "x", "--workflow", "nope", cwd=repo), "nope", "multi-model")
    bad = repo / "bad.md"
    bad.write_text("### [ ] Step: Planning\n<!-- agent: opus-planer -->\nPlan.\n")
    assert_clean_error(run_cli("run", "x", "--workflow", str(bad), cwd=repo), "bad.md:2", "opus-planner")
    assert tasks_of(repo) == []


def test_plan_without_affected_files_is_sent_back_once_then_fails(tmp_path: Path) -> None:
    bad_spec = "# Spec\n\n## Goal\nsomething\n"
    repo = project(tmp_path, {"opus-planner": [bad_spec, bad_spec], "flash-builder": [], "gpt-reviewer": []})
    proc = run_cli("run", "x", cwd=repo)
    assert_clean_error(proc, "Affected files")
    [task] = tasks_of(repo)
    assert task["status"] == "failed" and task["calls"] == 2


def test_builder_replies_that_do_not_apply(tmp_path: Path) -> None:
    no_blocks = "I think the change is easy."
    outside = ADD_SUB.replace("calc.py\n<<<", "../escape.py\n<<<")
    malformed = "calc.py\n<<<<<<< SEARCH\ndef add(a, b):\n>>>>>>> REPLACE\n"
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [no_blocks, outside, malformed],
                              "gpt-reviewer": [review()]})
    proc = run_cli("run", "x", cwd=repo)
    assert_clean_error(proc, "could not be applied")
    assert not (tmp_path / "escape.py").exists()
    [task] = tasks_of(repo)
    assert task["status"] == "failed"
    assert subprocess.run(["git", "status", "--porcelain"], cwd=task["worktree"], capture_output=True,
                          text=True).stdout == ""


def test_verify_command_that_hangs_times_out(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, ADD_SUB.replace(
        "def add(a, b):\n    return a + b\n=======", "def sub(a, b):\n    return a - b\n=======")],
        "gpt-reviewer": [review()]}, verify=["sleep 30"])
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace("timeout_s = 30", "timeout_s = 0.5\nmax_attempts = 0"))
    t0 = time.perf_counter()
    proc = run_cli("run", "x", "--json", cwd=repo)
    assert time.perf_counter() - t0 < 20
    status = json.loads(proc.stdout)
    # The reviewer saw the failure and approved anyway: a verification still failing is open work,
    # so the task needs attention instead of being ready to merge.
    assert status["status"] == "needs_attention" and "sleep 30" in status["message"], status["message"]
    assert "timed out" in (Path(status["folder"]) / "verify_r1_a0_1.log").read_text()


def test_reviewer_not_json_twice_fails_clearly(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB],
                              "gpt-reviewer": ["looks fine to me", "still not json"]})
    assert_clean_error(run_cli("run", "x", cwd=repo), "valid JSON")
    assert tasks_of(repo)[0]["status"] == "failed"


def _start(repo: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_step(repo: Path, title: str, timeout: float = 20) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        tasks = tasks_of(repo)
        if tasks and tasks[0]["status"] == "running" and tasks[0]["current_step"] == title:
            return tasks[0]
        time.sleep(0.05)
    raise AssertionError(f"never reached {title}: {tasks_of(repo)}")


def test_ctrl_c_pauses_and_resume_finishes_and_second_resume_is_refused(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"] = [{"text": ADD_SUB, "delay_s": 4.0}]
    repo = project(tmp_path, replies)
    proc = _start(repo, "run", "Add sub")
    task = _wait_for_step(repo, "Implementation")
    other = run_cli("resume", task["id"], cwd=repo)
    assert_clean_error(other, "already running")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0 and "Traceback" not in err and "resume" in err
    [paused] = tasks_of(repo)
    assert paused["status"] == "paused"
    assert [s["status"] for s in paused["steps"]] == ["done", "pending", "pending", "pending"]
    done = run_cli("resume", task["id"], "--json", cwd=repo)
    assert json.loads(done.stdout)["status"] == "done", done.stderr
    # the plan call was not made again; the builder's call cut off by Ctrl-C has its row, as every attempt does
    outcomes = sorted(r[0] for r in sqlite3.connect(paths.ledger_path(repo)).execute("SELECT outcome FROM calls"))
    assert outcomes == ["interrupted", "ok", "ok", "ok"]
    assert json.loads(done.stdout)["calls"] == 4
    # the cut-off call reached its model and may be billed: the task's total says it is incomplete
    assert json.loads(done.stdout)["unknown_cost_calls"] == 1
    shown = run_cli("show", task["id"], cwd=repo)
    assert "+ 1 unpriced" in shown.stdout, shown.stdout


def test_sigterm_pauses_too(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=3.0)
    proc = _start(repo, "run", "Add sub")
    _wait_for_step(repo, "Planning")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert tasks_of(repo)[0]["status"] == "paused"


def test_deleted_worktree_is_reported_not_crashed_on(tmp_path: Path) -> None:
    import shutil

    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": []})
    run_cli("run", "x", cwd=repo)  # fails at review: no replies left
    [task] = tasks_of(repo)
    shutil.rmtree(task["worktree"])
    assert "worktree missing" in run_cli("status", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert_clean_error(run_cli("resume", task["id"], cwd=repo), "worktree", "gone")


def test_unknown_task_ids(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    for cmd in (["resume", "nope"], ["show", "nope"], ["merge", "nope"], ["discard", "nope"], ["status", "nope"]):
        assert_clean_error(run_cli(*cmd, cwd=repo), "no task 'nope'")


def test_resuming_a_failed_step_makes_fresh_calls(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": ["no blocks"] * 3 + [ADD_SUB],
                              "gpt-reviewer": [review()]})
    assert run_cli("run", "x", cwd=repo).returncode != 0
    [task] = tasks_of(repo)
    assert task["status"] == "failed"
    proc = run_cli("resume", task["id"], "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "done", proc.stderr
    assert status["calls"] == 1 + 4 + 1  # the plan call is reused, the builder is asked afresh


def test_ctrl_c_during_verify_stops_the_command_and_pauses(tmp_path: Path) -> None:
    marker, pidfile = tmp_path / "verify-finished", tmp_path / "verify-pid"
    repo = project(tmp_path, happy_replies(), verify=[f"echo $$ > {pidfile}.new && mv {pidfile}.new {pidfile} "
                                                      f"&& sleep 5 && touch {marker}"])
    proc = _start(repo, "run", "Add sub")
    _wait_for_step(repo, "Verification")
    deadline = time.monotonic() + 20
    while not pidfile.exists():  # the verify command's shell has started
        assert time.monotonic() < deadline and proc.poll() is None, "the verify command never started"
        time.sleep(0.02)
    shell = int(pidfile.read_text())
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert tasks_of(repo)[0]["status"] == "paused"
    # the verify command was stopped with the run: its shell, which would touch the marker, is gone
    deadline = time.monotonic() + 3
    while _alive(shell):
        assert time.monotonic() < deadline, "the verify command outlived the paused run"
        time.sleep(0.02)
    assert not marker.exists()


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def test_error_text_with_brackets_is_printed_whole(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    assert_clean_error(run_cli("run", "x", "--base", "[/foo]", cwd=repo), "[/foo]")
    (repo / ".specrelay" / "config.toml").write_text('[presets.x]\nmodle = "m"\n')
    assert_clean_error(run_cli("presets", cwd=repo), "[presets.x]", "'modle'")


def test_missing_keys_are_found_before_the_task_starts(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    assert_clean_error(run_cli("run", "x", cwd=repo), "missing API keys", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
    assert tasks_of(repo) == []
    assert "specrelay/" not in subprocess.run(["git", "branch"], cwd=repo, capture_output=True, text=True).stdout


def test_read_only_commands_keep_specrelay_out_of_git_status(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    run_cli("status", cwd=repo)
    run_cli("cost", cwd=repo)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""
