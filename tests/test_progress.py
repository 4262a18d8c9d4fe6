"""Signs of life and honest running totals while a task runs, through the CLI.

A call that takes a while shows it is alive (a live line in a terminal, a line every few seconds
elsewhere, JSON lines with ``--progress json``); calls reused from the ledger on a resume are marked
and add nothing; a run that stops on an error says it once.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, happy_replies, project, review

NO_MATCH = "calc.py\n<<<<<<< SEARCH\ndef nothing_here():\n    pass\n=======\ndef sub(a, b):\n    return a - b\n" \
           ">>>>>>> REPLACE\n"


def test_a_slow_call_shows_signs_of_life_when_piped(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=1.3)
    proc = run_cli("run", "Add sub", cwd=repo, env={"SPECRELAY_PROGRESS_INTERVAL": "0.4"})
    assert proc.returncode == 0, proc.stderr
    beats = [line for line in proc.stdout.splitlines() if "still answering" in line]
    # Three calls of 1.3 s each, a line every 0.4 s: at least two per call, each naming its preset.
    for preset in ("opus-planner", "flash-builder", "gpt-reviewer"):
        assert sum(preset in line for line in beats) >= 2, proc.stdout


def test_without_slow_calls_there_is_no_noise(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "still answering" not in proc.stdout


def test_progress_json_streams_events_on_stderr(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=0.8)
    proc = run_cli("run", "Add sub", "--json", "--progress", "json", cwd=repo,
                   env={"SPECRELAY_PROGRESS_INTERVAL": "0.3"})
    assert proc.returncode == 0, proc.stderr
    task = json.loads(proc.stdout)  # stdout holds the status object alone
    events = [json.loads(line) for line in proc.stderr.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["run_started", "step_started"] and kinds[-1] == "task_finished", kinds
    assert (events[0]["tokens"], events[0]["cost_usd"]) == (0, None)  # a new task has spent nothing
    assert {"call_started", "call_progress", "call_finished", "step_finished"} <= set(kinds)
    assert all(e["task"] == task["id"] for e in events)
    ticks = [e["t"] for e in events]
    assert ticks == sorted(ticks)
    finished = [e for e in events if e["event"] == "call_finished"]
    assert [e["preset"] for e in finished] == ["opus-planner", "flash-builder", "gpt-reviewer"]
    assert all(e["reused"] is False for e in finished)


def test_json_alone_stays_quiet_on_stderr(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_a_bad_progress_mode_is_one_line(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", "--progress", "loud", cwd=repo)
    assert_clean_error(proc, "--progress loud", "text, json, none")
    assert not (repo / ".specrelay" / "tasks").exists()


def test_a_terminal_shows_a_live_line_while_a_call_runs(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=1.0)
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub"], cwd=repo, env=env,
                            stdin=subprocess.DEVNULL, stdout=child, stderr=child)
    os.close(child)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(main)
    text = out.decode("utf-8", errors="replace")
    assert proc.returncode == 0, text
    assert re.search(r"⋯ opus-planner · \d+\.\d s", text), text  # the call's live line, its time ticking
    assert "still answering" not in text  # the live line replaces the periodic ones


def test_resume_marks_reused_calls_and_adds_nothing_for_them(tmp_path: Path) -> None:
    # The builder's first reply does not apply; the correction fails at the provider: the task pauses
    # with the first reply recorded. The resumed step reuses it (no new payment), then corrects it.
    builder = [NO_MATCH, {"error": {"status": 500}}, {"error": {"status": 500}}]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": builder, "gpt-reviewer": [review()]})
    first = run_cli("run", "Add sub", "--json", cwd=repo)
    task = json.loads(first.stdout)
    assert task["status"] == "paused", first.stderr
    replies = repo / ".specrelay" / "flash-builder.json"
    replies.write_text(json.dumps([*builder, ADD_SUB]))
    proc = run_cli("resume", task["id"], cwd=repo, env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "flash-builder (" in line]
    assert len(lines) == 2, proc.stdout
    assert "reused from the ledger" in lines[0] and "not added" in lines[0]
    assert "reused" not in lines[1]
    # The running total starts from what the task spent before: the reused call adds nothing to it.
    spent = f"task so far {task['input_tokens'] + task['output_tokens']:,} tok, ${task['cost_usd']:,.4f} (simulated)"
    assert spent in lines[0], lines[0]
    # ...and ends where the summary, which counts the whole task, ends.
    done = json.loads(run_cli("status", task["id"], "--json", cwd=repo).stdout)[0]
    last = [line for line in proc.stdout.splitlines() if " tok, $" in line][-1]
    total = f"task so far {done['input_tokens'] + done['output_tokens']:,} tok, ${done['cost_usd']:,.4f} (simulated)"
    assert total in last, last


def test_a_failed_run_says_its_error_once(tmp_path: Path) -> None:
    repo = project(tmp_path, {**happy_replies(), "gpt-reviewer": ["not json", "still not json"]})
    proc = run_cli("run", "Add sub", cwd=repo)
    assert proc.returncode != 0
    both = proc.stdout + proc.stderr
    assert both.count("did not answer valid JSON") == 1, both
    assert "specrelay resume" in proc.stdout  # what to do next is still said


def test_a_paused_batch_task_says_its_error_once(tmp_path: Path) -> None:
    builder = [ADD_SUB, ADD_SUB]
    reviewer = [{"error": {"status": 500}}] * 4
    repo = project(tmp_path, {"opus-planner": [SPEC, SPEC], "flash-builder": builder, "gpt-reviewer": reviewer})
    proc = run_cli("run", "Add sub", "Add sub again", cwd=repo)
    assert proc.returncode != 0
    both = proc.stdout + proc.stderr
    for line in proc.stderr.splitlines():
        if "failed:" in line:
            assert both.count(line.split(": ", 1)[1][:60]) == 1, both


def test_unpriced_scripted_calls_are_unknown_not_simulated_zero(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace('price_as = "gpt-5.4"', ""))
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    calls = [line for line in proc.stdout.splitlines() if "opus-planner (" in line]
    used = re.search(r"([\d,]+) in / ([\d,]+) out", calls[0])
    assert used is not None, calls
    so_far = int(used.group(1).replace(",", "")) + int(used.group(2).replace(",", ""))
    assert "unknown · " in calls[0] and f"task so far {so_far:,} tok, unknown" in calls[0], calls
    assert "simulated" not in proc.stdout
    task = json.loads(run_cli("status", "--json", cwd=repo).stdout)[0]
    assert task["simulated"] is False and task["cost_usd"] is None


def test_a_paused_run_marks_its_step_and_says_how_to_go_on_once(tmp_path: Path) -> None:
    reviewer = [{"error": {"status": 500}}] * 2
    repo = project(tmp_path, {**happy_replies(), "gpt-reviewer": reviewer})
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode != 0
    assert re.search(r"⏸ Review · paused", proc.stdout), proc.stdout
    assert "Continue with" not in proc.stdout  # the last line says it
    assert (proc.stdout + proc.stderr).count("specrelay resume") == 1, proc.stdout + proc.stderr


def test_a_pause_whose_error_does_not_say_how_to_go_on_gets_the_resume_line(tmp_path: Path) -> None:
    # The builder's reply does not apply, and no reply is left for the correction.
    repo = project(tmp_path, {**happy_replies(), "flash-builder": [NO_MATCH]})
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    task = json.loads(run_cli("status", "--json", cwd=repo).stdout)[0]
    assert proc.returncode != 0 and task["status"] == "paused", proc.stdout + proc.stderr
    [error] = proc.stderr.strip().splitlines()
    assert "no reply left" in error and "specrelay resume" not in error, error
    assert f"Continue with `specrelay resume {task['id']}`" in proc.stdout, proc.stdout
    assert (proc.stdout + proc.stderr).count("specrelay resume") == 1


def test_ctrl_c_is_a_pause_not_an_error(tmp_path: Path) -> None:
    import signal

    repo = project(tmp_path, happy_replies(), delay=3.0)
    env = {**os.environ}
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_until_running(repo)  # from then on a signal pauses the task; before, it would just end the process
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.startswith("paused: ") and "specrelay resume" in err and "error" not in err, err



def _wait_until_running(repo: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run_cli("status", "--json", cwd=repo)
        if status.returncode == 0 and any(t["status"] == "running" for t in json.loads(status.stdout)):
            return
        time.sleep(0.05)
    raise AssertionError("the task never started running")
