"""Several tasks in one process: ``specrelay run REQUEST...`` and ``specrelay resume ID...``.

Every task still gets its own branch, worktree and ledger rows; the process shares its start-up and
each provider's ``max_concurrency``; Ctrl-C pauses them all; one task's failure leaves the others be.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, happy_replies, project, review

from specrelay import paths


def _tasks(repo: Path) -> list[dict]:
    proc = run_cli("status", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _calls(repo: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(paths.ledger_path(repo))
    db.row_factory = sqlite3.Row
    return db.execute("SELECT * FROM calls ORDER BY id").fetchall()


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _start(repo: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait(repo: Path, check, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _tasks(repo)
        if check(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"condition not reached: {[(r['id'], r['status'], r['current_step']) for r in rows]}")


def test_several_requests_run_side_by_side_each_on_its_own_branch(tmp_path: Path) -> None:
    # The plan calls last long enough for all five tasks to start theirs even on a loaded machine
    # (creating five worktrees one after another can take a second there).
    replies = {**happy_replies(), "opus-planner": [{"text": SPEC, "delay_s": 1.5}]}
    repo = project(tmp_path, replies, delay=0.3, preset_extra="max_concurrency = 8")
    base = _git(repo, "rev-parse", "HEAD").strip()
    requests = [f"Add sub, take {n}" for n in range(5)]
    proc = run_cli("run", *requests, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    assert [item["title"] for item in out] == requests  # one status object per request, in order
    assert [item["status"] for item in out] == ["done"] * 5
    assert len({item["branch"] for item in out}) == 5 and len({item["worktree"] for item in out}) == 5
    for item in out:
        assert _git(repo, "diff", "--name-only", base, item["branch"]).split() == ["calc.py"]
        assert _git(repo, "rev-list", "--count", f"{base}..{item['branch']}").strip() == "1"
        assert "[ ]" not in (Path(item["folder"]) / "workflow.md").read_text()
    calls = _calls(repo)
    assert len(calls) == 15 and all(c["outcome"] == "ok" for c in calls)
    # side by side: every task's plan call started before the first of them ended
    plans = [c for c in calls if c["preset"] == "opus-planner"]
    first_end = min(c["started_at"] + c["latency_s"] for c in plans)
    assert all(c["started_at"] < first_end for c in plans), [(c["started_at"], c["latency_s"]) for c in plans]
    assert _git(repo, "status", "--porcelain") == ""


def test_text_output_names_each_task_and_ends_with_one_line_each(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", "Add sub again", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    ids = [t["id"] for t in _tasks(repo)]
    for task_id in ids:
        assert f"Task {task_id} · workflow multi-model" in proc.stdout
        assert f"{task_id} ▶ Planning" in proc.stdout  # progress lines say which task they are about
        assert f"done · {task_id} · 1 round · " in proc.stdout
        assert f"`specrelay merge {task_id}`" in proc.stdout


def test_max_concurrency_holds_across_the_tasks_of_one_process(tmp_path: Path) -> None:
    replies = {name: [{"text": t, "delay_s": 0.3} for t in items] for name, items in happy_replies().items()}
    repo = project(tmp_path, replies, verify=["true"], preset_extra="max_concurrency = 1")
    proc = run_cli("run", "Task 0", "Task 1", "Task 2", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    calls = _calls(repo)
    assert len({c["task_id"] for c in calls}) == 3
    for preset in ("opus-planner", "flash-builder", "gpt-reviewer"):
        spans = sorted((c["started_at"], c["started_at"] + c["latency_s"]) for c in calls if c["preset"] == preset)
        assert len(spans) == 3
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end - 0.01, f"{preset}: calls of two tasks overlapped: {spans}"


def test_ctrl_c_pauses_every_task_and_one_resume_finishes_them(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"] = [{"text": ADD_SUB, "delay_s": 5.0}]
    repo = project(tmp_path, replies, preset_extra="max_concurrency = 4")
    proc = _start(repo, "run", "One", "Two", "Three")
    rows = _wait(repo, lambda rows: len(rows) == 3 and all(r["current_step"] == "Implementation" for r in rows))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    ids = sorted(r["id"] for r in rows)
    [line] = err.strip().splitlines()
    assert "3 tasks paused" in line and all(t in line for t in ids)
    paused = _tasks(repo)
    assert [r["status"] for r in paused] == ["paused"] * 3
    assert all([s["status"] for s in r["steps"]] == ["done", "pending", "pending", "pending"] for r in paused)

    done = run_cli("resume", *ids, "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert sorted(item["id"] for item in json.loads(done.stdout)) == ids
    assert [r["status"] for r in _tasks(repo)] == ["done"] * 3
    ok = [c for c in _calls(repo) if c["outcome"] == "ok"]
    assert sorted((c["task_id"], c["preset"]) for c in ok) == sorted(
        (t, p) for t in ids for p in ("opus-planner", "flash-builder", "gpt-reviewer"))  # each call once


def test_sigterm_pauses_every_task_too(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=5.0)
    proc = _start(repo, "run", "One", "Two")
    _wait(repo, lambda rows: len(rows) == 2 and all(r["status"] == "running" for r in rows))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err  # 128 + SIGTERM, as a shell expects
    assert [r["status"] for r in _tasks(repo)] == ["paused", "paused"]


def test_one_task_failing_leaves_the_others_to_finish(tmp_path: Path) -> None:
    # The verification fails only in the worktree of the task whose request says "broken"; its
    # builder then has no reply left for the fix (a provider error), and that task pauses.
    check = "import os, sys; sys.exit('broken' in os.getcwd())"
    repo = project(tmp_path, happy_replies(), verify=[f"{sys.executable} -c \"{check}\""])
    proc = run_cli("run", "Add sub", "A broken one", "Add sub again", "--json", cwd=repo)
    assert proc.returncode == 2, proc.stderr
    out = json.loads(proc.stdout)
    assert [item["status"] for item in out] == ["done", "paused", "done"]
    [line] = proc.stderr.strip().splitlines()
    assert out[1]["id"] in line and "Traceback" not in proc.stderr
    assert run_cli("status", out[1]["id"], "--json", cwd=repo).returncode == 0


def test_resume_checks_every_id_before_running_any(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [], "gpt-reviewer": []})
    assert run_cli("run", "x", cwd=repo).returncode != 0  # stops at the build: no replies
    [task] = _tasks(repo)
    assert task["status"] == "paused"
    before = len(_calls(repo))
    assert_clean_error(run_cli("resume", task["id"], "nosuch", cwd=repo), "no task 'nosuch'")
    assert len(_calls(repo)) == before and _tasks(repo)[0]["status"] == "paused"


def test_an_empty_request_among_several_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    assert_clean_error(run_cli("run", "Add sub", "  ", cwd=repo), "request 2 of 2 is empty")
    assert _tasks(repo) == []
    assert "specrelay/" not in _git(repo, "branch")


def test_detach_runs_several_in_one_background_process_with_a_log_each(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=0.2)
    proc = run_cli("run", "--detach", "Add sub", "Add sub again", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    started = json.loads(proc.stdout)
    assert len(started) == 2 and started[0]["pid"] == started[1]["pid"]
    rows = _wait(repo, lambda rows: len(rows) == 2 and all(r["status"] == "done" for r in rows), timeout=60)
    for row, item in zip(sorted(rows, key=lambda r: r["id"]), sorted(started, key=lambda i: i["id"]), strict=True):
        log = Path(item["log"]).read_text()
        assert Path(item["log"]).parent == Path(row["folder"])
        assert "✓ Review" in log and f"done · {row['id']}" in log
        assert "error" not in log.lower() and "Traceback" not in log
    assert run_cli("resume", *(i["id"] for i in started), cwd=repo).returncode == 0  # finished: nothing to do


def test_a_killed_batch_resumes_to_the_same_result(tmp_path: Path) -> None:
    """SIGKILL while the tasks are at different steps (one planning, one building, one verifying),
    then one resume of them all: every task ends done with each model call recorded once."""
    replies = {"opus-planner": [{"text": SPEC, "delay_s": 0.2}], "flash-builder": [{"text": ADD_SUB, "delay_s": 1.0}],
               "gpt-reviewer": [review()]}
    repo = project(tmp_path, replies, verify=["sleep 1"], preset_extra="max_concurrency = 1")
    base = _git(repo, "rev-parse", "HEAD").strip()
    proc = _start(repo, "run", "One", "Two", "Three")
    _wait(repo, lambda rows: len({r["current_step"] for r in rows if r["status"] == "running"}) >= 2)
    proc.kill()
    proc.communicate(timeout=10)
    ids = sorted(r["id"] for r in _tasks(repo))
    assert len(ids) == 3
    done = run_cli("resume", *ids, "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    rows = _tasks(repo)
    assert [r["status"] for r in rows] == ["done"] * 3
    ok = [c for c in _calls(repo) if c["outcome"] == "ok"]
    assert sorted((c["task_id"], c["preset"]) for c in ok) == sorted(
        (t, p) for t in ids for p in ("opus-planner", "flash-builder", "gpt-reviewer"))
    for row in rows:
        assert _git(repo, "diff", "--name-only", base, row["branch"]).split() == ["calc.py"]
        assert _git(repo, "rev-list", "--count", f"{base}..{row['branch']}").strip() == "1"
        assert _git(Path(row["worktree"]), "status", "--porcelain") == ""


def _hook(repo: Path, name: str, body: str) -> None:
    hook = repo / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)


def test_a_request_whose_task_cannot_be_created_is_named_and_the_others_run(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    # the user's post-checkout hook refuses one task's worktree (its folder is named after the request)
    _hook(repo, "post-checkout", 'case "$PWD" in *again*) echo "hook says no" >&2; exit 1;; esac\n')
    proc = run_cli("run", "Add sub", "Add sub again", "Add sub once more", "--json", cwd=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert sorted(item["status"] for item in out) == ["done", "done", "error"]
    [bad] = [item for item in out if item["status"] == "error"]
    assert bad["id"] is None and "hook says no" in bad["message"]
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: request 'Add sub again': ") and "hook says no" in proc.stderr
    assert len(_tasks(repo)) == 2  # nothing is left of the one that failed
    assert len(_git(repo, "branch", "--list", "--format=%(refname)", "specrelay/*").split()) == 2


def test_one_request_that_cannot_be_created_prints_only_its_error(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _hook(repo, "post-checkout", 'echo "hook says no" >&2; exit 1\n')
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    assert_clean_error(proc, "hook says no")
    assert proc.stdout == ""


def test_detach_starts_the_tasks_it_could_create(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _hook(repo, "post-checkout", 'case "$PWD" in *first*) echo "hook says no" >&2; exit 1;; esac\n')
    proc = run_cli("run", "--detach", "First", "Second", "--json", cwd=repo)
    assert proc.returncode == 2 and "request 'First'" in proc.stderr and "hook says no" in proc.stderr
    started, refused = json.loads(proc.stdout)
    assert refused["id"] is None and refused["status"] == "error" and refused["request"] == "First"
    rows = _wait(repo, lambda rows: len(rows) == 1 and rows[0]["status"] == "done", timeout=60)
    assert rows[0]["id"] == started["id"] and rows[0]["title"] == "Second"


def test_resume_runs_a_task_named_twice_once(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [], "gpt-reviewer": [review()]})
    assert run_cli("run", "Add sub", cwd=repo).returncode != 0
    [task] = _tasks(repo)
    (repo / ".specrelay" / "flash-builder.json").write_text(json.dumps([ADD_SUB]))
    proc = run_cli("resume", task["id"], task["id"][:6], "--json", cwd=repo)  # the id, and a prefix of it
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "done"  # one task: one status object


def test_jobs_limits_how_many_tasks_run_at_once(tmp_path: Path) -> None:
    replies = {name: [{"text": t, "delay_s": 0.2} for t in items] for name, items in happy_replies().items()}
    repo = project(tmp_path, replies, verify=["true"], preset_extra="max_concurrency = 8")
    proc = run_cli("run", "One", "Two", "Three", "--jobs", "1", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    spans: dict[str, tuple[float, float]] = {}
    for c in _calls(repo):
        first, last = spans.get(c["task_id"], (c["started_at"], 0.0))
        spans[c["task_id"]] = (min(first, c["started_at"]), max(last, c["started_at"] + c["latency_s"]))
    ordered = sorted(spans.values())
    assert len(ordered) == 3
    for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
        assert start >= end - 0.01, ordered
    assert_clean_error(run_cli("run", "One", "--jobs", "0", cwd=repo), "--jobs")


def test_ctrl_c_in_the_terminal_during_a_commit_hook_pauses_instead_of_failing(tmp_path: Path) -> None:
    """A real Ctrl-C reaches the whole process group: git and its hook die of it too. That is an
    interruption, not a hook rejecting the commit: the tasks pause, and resume without new calls."""
    repo = project(tmp_path, happy_replies())
    mark = tmp_path / "hook-ran"
    _hook(repo, "pre-commit", f'[ -e "{mark}" ] && exit 0\ntouch "{mark}"; sleep 10\n')
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "One", "Two"], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists()
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    rows = _tasks(repo)
    assert sorted(r["status"] for r in rows) in (["done", "paused"], ["paused", "paused"]), rows
    done = run_cli("resume", *(r["id"] for r in rows if r["status"] == "paused"), cwd=repo)
    assert done.returncode == 0, done.stderr
    ok = [c for c in _calls(repo) if c["outcome"] == "ok"]
    assert len(ok) == 6  # three calls per task, none made twice


def test_git_killed_by_sigint_pauses_even_before_specrelay_hears_the_signal(tmp_path: Path) -> None:
    """Ctrl-C reaches git and its hook at the same moment as specrelay, and git can die of it first:
    a git command killed by SIGINT is the interruption, not a rejected commit (here the hook sends the
    signal to git alone, so specrelay never hears it: the order that made the real case flaky)."""
    repo = project(tmp_path, happy_replies())
    mark = tmp_path / "hook-ran"
    _hook(repo, "pre-commit", f'[ -e "{mark}" ] && exit 0\ntouch "{mark}"; kill -INT $PPID; sleep 5\n')
    first = run_cli("run", "One", cwd=repo)
    assert first.returncode == 130, first.stderr
    [row] = _tasks(repo)
    assert row["status"] == "paused", row
    done = run_cli("resume", row["id"], cwd=repo)
    assert done.returncode == 0, done.stderr
    assert len([c for c in _calls(repo) if c["outcome"] == "ok"]) == 3  # none made twice


def test_ctrl_c_while_tasks_wait_for_their_turn(tmp_path: Path) -> None:
    """With --jobs 1, Ctrl-C pauses the running task; requests not yet started are named, never
    created; tasks of a resume that were waiting stay as they were and are listed to resume."""
    replies = happy_replies()
    replies["flash-builder"] = [{"text": ADD_SUB, "delay_s": 5.0}]
    repo = project(tmp_path, replies)
    proc = _start(repo, "run", "One", "Two", "Three", "--jobs", "1")
    _wait(repo, lambda rows: len(rows) == 1 and rows[0]["current_step"] == "Implementation")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    [first] = _tasks(repo)
    assert first["status"] == "paused" and first["title"] == "One"
    assert f"1 task paused; `specrelay resume {first['id']}`" in err
    assert "2 requests not started before the interrupt: 'Two', 'Three'" in err

    proc = _start(repo, "run", "Two", "Three")  # two more tasks, paused the same way
    _wait(repo, lambda rows: len(rows) == 3 and all(r["status"] == "running" for r in rows if r["title"] != "One"))
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    ids = sorted(r["id"] for r in _tasks(repo))
    assert [r["status"] for r in _tasks(repo)] == ["paused"] * 3
    proc = _start(repo, "resume", *ids, "--jobs", "1")
    _wait(repo, lambda rows: any(r["status"] == "running" for r in rows))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "3 tasks paused" in err and all(t in err for t in ids) and "not started" not in err
    assert [r["status"] for r in _tasks(repo)] == ["paused"] * 3
