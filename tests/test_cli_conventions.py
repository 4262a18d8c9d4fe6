"""The conventions of a command line tool, through the CLI: version, -h, completion, readable usage,
pipes and signals, id prefixes and `last`, requests from files, diff and logs, consistent JSON."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli
from taskkit import happy_replies, project

from specrelay import __version__


def test_version_and_short_help(tmp_path: Path) -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"specrelay {__version__}"
    top = run_cli("-h")
    assert top.returncode == 0 and "Commands:" in top.stdout
    sub = run_cli("status", "-h")
    assert sub.returncode == 0 and "Usage: specrelay status" in sub.stdout


def test_help_lists_every_command_in_words(tmp_path: Path) -> None:
    from typer.main import get_command

    from specrelay.cli import app

    names = list(get_command(app).commands)  # type: ignore[attr-defined]
    top = run_cli("--help", env={"COLUMNS": "80"}).stdout
    listed = re.findall(r"^  (\w+)\s", top.split("Commands:")[1], flags=re.M)
    assert sorted(listed) == sorted(names)
    assert "..." not in top.split("Commands:")[1].replace("REQUEST...", "")  # no description cut short
    for name in names:
        text = run_cli(name, "--help", env={"COLUMNS": "80"}).stdout
        for placeholder in ("{", "<list[", "<str>", "<int", "<float>", "[[", "<path>"):
            assert placeholder not in text, f"{name} --help shows {placeholder!r}:\n{text}"
    assert "Usage: specrelay run [OPTIONS] [REQUEST]..." in run_cli("run", "--help").stdout


def test_completion_script_and_answers(tmp_path: Path) -> None:
    script = run_cli("completion", "bash")
    assert script.returncode == 0 and "_SPECRELAY_COMPLETE" in script.stdout
    env = {"_SPECRELAY_COMPLETE": "complete_bash", "COMP_WORDS": "specrelay sta", "COMP_CWORD": "1"}
    assert run_cli(env=env).stdout.split() == ["status"]
    assert_clean_error(run_cli("completion", "tcsh"), "tcsh", "bash")


def _start(repo: Path, *args: str, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env, text=True,
                            stdout=stdout, stderr=subprocess.PIPE)


def _status(repo: Path, *args: str) -> list[dict]:
    proc = run_cli("status", *args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _wait_for(repo: Path, check, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _status(repo)
        if check(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"not reached: {rows}")


@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["--help"], ["show", "last"]])
def test_a_reader_that_stops_early_is_no_error(tmp_path: Path, args: list[str]) -> None:
    repo = project(tmp_path, happy_replies())
    assert run_cli("run", "Add sub", cwd=repo).returncode == 0
    for reader in ("true", "head -c 1 >/dev/null"):
        cmd = f"{sys.executable} -m specrelay {' '.join(args)} | {reader}; echo \"rc=${{PIPESTATUS[0]}}\" >&2"
        proc = subprocess.run(["bash", "-c", cmd], cwd=repo, capture_output=True, text=True)
        assert proc.stderr.strip() == "rc=0", proc.stderr


def test_a_run_whose_stdout_closes_still_finishes_its_task(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"] = [{"text": replies["flash-builder"][0], "delay_s": 1.0}]
    repo = project(tmp_path, replies)
    proc = _start(repo, "run", "Add sub")
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away while the task runs
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and not err.strip(), err
    assert [r["status"] for r in _status(repo)] == ["done"]


def test_sigterm_pauses_a_run_and_exits_143(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"] = [{"text": replies["flash-builder"][0], "delay_s": 5.0}]
    repo = project(tmp_path, replies)
    proc = _start(repo, "run", "Add sub")
    _wait_for(repo, lambda rows: len(rows) == 1 and rows[0]["current_step"] == "Implementation")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert [r["status"] for r in _status(repo)] == ["paused"]


def _call_started(folder: Path, preset: str) -> bool:
    """The task's events say a call to ``preset`` began."""
    try:
        lines = (folder / "events.jsonl").read_text().splitlines()
    except OSError:
        return False
    return any('"call_started"' in line and json.loads(line).get("preset") == preset for line in lines
               if line.strip().endswith("}"))  # a line still being written is not read


def test_a_call_cut_off_by_sigterm_gets_its_ledger_row(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"] = [{"text": replies["flash-builder"][0], "delay_s": 60.0}]
    repo = project(tmp_path, replies)
    proc = _start(repo, "run", "Add sub")
    [row] = _wait_for(repo, lambda rows: len(rows) == 1 and rows[0]["current_step"] == "Implementation")
    deadline = time.monotonic() + 30
    while not _call_started(Path(row["folder"]), "flash-builder"):
        assert time.monotonic() < deadline, "the builder's call did not begin"
        time.sleep(0.05)
    time.sleep(2.0)  # the builder's call is under way, and a minute from its answer
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    with sqlite3.connect(repo / ".specrelay" / "ledger.db") as db:
        rows = db.execute("SELECT preset, outcome, latency_s, cost_usd FROM calls ORDER BY id").fetchall()
    assert [(p, o) for p, o, _, _ in rows] == [("opus-planner", "ok"), ("flash-builder", "interrupted")], rows
    _, _, latency, cost = rows[1]
    # how long it ran before the cut (2 s after it began, not the minute its reply takes); its cost is unknown
    assert 1.0 < latency < 30.0 and cost is None, rows
    task_id = _status(repo)[0]["id"]
    calls = json.loads(run_cli("show", task_id, "--json", cwd=repo).stdout)["calls"]
    assert [c["outcome"] for c in calls] == ["ok", "interrupted"]
    # The cut-off call consumed no scripted reply: the resumed run gets the same one (now without the
    # wait), and finishes.
    builder = repo / ".specrelay" / "flash-builder.json"
    builder.write_text(json.dumps([{"text": happy_replies()["flash-builder"][0]}]))
    resumed = run_cli("resume", task_id, "--json", cwd=repo)
    assert json.loads(resumed.stdout)["status"] == "done", resumed.stderr


def _three_tasks(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three finished tasks, oldest first; the middle one marked paused in the ledger."""
    replies = happy_replies()
    repo = project(tmp_path, {k: v * 3 for k, v in replies.items()})
    ids = []
    for n in range(3):
        proc = run_cli("run", f"Add sub, take {n}", "--json", cwd=repo)
        assert proc.returncode == 0, proc.stderr
        ids.append(json.loads(proc.stdout)["id"])
    with sqlite3.connect(repo / ".specrelay" / "ledger.db") as db:
        db.execute("UPDATE tasks SET status='paused' WHERE id=?", (ids[1],))
    return repo, ids


def test_status_filters_newest_first_with_an_age(tmp_path: Path) -> None:
    repo, ids = _three_tasks(tmp_path)
    assert [r["id"] for r in _status(repo)] == ids[::-1]
    assert [r["id"] for r in _status(repo, "--limit", "2")] == [ids[2], ids[1]]
    assert [r["id"] for r in _status(repo, "--status", "paused")] == [ids[1]]
    assert [r["id"] for r in _status(repo, "--status", "paused,done", "-n", "1")] == [ids[2]]
    assert [r["id"] for r in _status(repo, "-s", "done", "-s", "paused")] == ids[::-1]
    row = _status(repo)[0]
    assert row["age_s"] >= 0 and row["created_at"].endswith("+00:00")
    assert row["ok_calls"] == 3 and row["failed_calls"] == 0 and isinstance(row["simulated"], bool)
    text = run_cli("status", "--status", "paused", cwd=repo).stdout
    assert ids[1] in text and ids[0] not in text
    assert re.search(rf"{ids[1]}\s+paused\s.*\s\d+s\s", text), text


@pytest.mark.parametrize("columns", ["40", "200"])
def test_status_never_cuts_ids_or_costs(tmp_path: Path, columns: str) -> None:
    repo, ids = _three_tasks(tmp_path)
    text = run_cli("status", cwd=repo, env={"COLUMNS": columns}).stdout
    for row in _status(repo):
        line = next(line for line in text.splitlines() if line.startswith(row["id"]))
        assert line.rstrip().endswith(f"${row['cost_usd']:.4f}*"), line
    assert "…" not in text


def test_task_ids_by_prefix_and_last(tmp_path: Path) -> None:
    repo, ids = _three_tasks(tmp_path)
    assert _status(repo, "last")[0]["id"] == ids[2]
    assert json.loads(run_cli("show", ids[0][:-2], "--json", cwd=repo).stdout)["id"] == ids[0]
    cost = json.loads(run_cli("cost", "--task", "last", "--json", cwd=repo).stdout)
    assert cost["task"] == ids[2]
    proc = run_cli("show", "add-sub", cwd=repo)
    assert_clean_error(proc, "ambiguous", *ids)
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cost_json_is_typed_and_text_counts_in_words(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    assert run_cli("run", "Add sub", cwd=repo).returncode == 0
    out = json.loads(run_cli("cost", "--json", "--by", "phase", cwd=repo).stdout)
    for row in [*out["rows"], out["total"]]:
        assert row["simulated"] is True and row["estimated"] in (True, False)
        assert row["ok_calls"] + row["failed_calls"] == row["calls"]
        assert row["cost_usd"] == round(row["cost_usd"], 6)
    shown = json.loads(run_cli("show", "last", "--json", cwd=repo).stdout)
    for row in shown["costs"]["by_phase"] + shown["costs"]["by_preset"]:
        assert row["simulated"] is True and row["failed_calls"] == 0
    text = run_cli("cost", "--by", "phase", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "Total: 3 calls," in text
    show = run_cli("show", "last", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert " · 1 round · 3 calls · " in show


def test_diff_and_diffstat_of_a_task(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    assert run_cli("run", "Add sub", cwd=repo).returncode == 0
    diff = run_cli("diff", "last", cwd=repo)
    assert diff.returncode == 0 and diff.stdout.startswith("diff --git a/calc.py b/calc.py")
    assert "+def sub(a, b):" in diff.stdout and "\x1b[" not in diff.stdout
    stat = run_cli("diff", "last", "--stat", cwd=repo).stdout
    assert "calc.py | +4 -0" in stat and "1 file changed, 4 insertions(+), 0 deletions(-)" in stat
    data = json.loads(run_cli("diff", "last", "--stat", "--json", cwd=repo).stdout)
    assert data["files"] == [{"path": "calc.py", "added": 4, "deleted": 0, "binary": False}]
    shown = json.loads(run_cli("show", "last", "--json", cwd=repo).stdout)
    assert shown["diffstat"]["files_changed"] == 1 and shown["diffstat"]["insertions"] == 4
    assert "Changes: 1 file changed" in run_cli("show", "last", cwd=repo, env={"COLUMNS": "200"}).stdout


def _log_of(repo: Path) -> str:
    [row] = _status(repo, "-n", "1")
    return (Path(row["folder"]) / "run.log").read_text()


@pytest.mark.parametrize("json_out", [False, True])
def test_a_foreground_run_writes_run_log(tmp_path: Path, json_out: bool) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", *(["--json"] if json_out else []), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    log = _log_of(repo)
    assert "▶ Planning" in log and "✓ Review" in log and log.count("done · ") == 1
    assert "\x1b[" not in log  # plain text
    logs = run_cli("logs", "last", cwd=repo)
    assert logs.returncode == 0 and logs.stdout == log


def test_a_failed_run_logs_its_error(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["gpt-reviewer"] = []  # the review has no reply: the task stops there
    repo = project(tmp_path, replies)
    proc = run_cli("run", "Add sub", cwd=repo)
    assert proc.returncode != 0
    [error] = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert error in _log_of(repo).splitlines()


def test_logs_follow_a_detached_run_to_its_end(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"] = [{"text": replies["flash-builder"][0], "delay_s": 1.0}]
    repo = project(tmp_path, replies)
    assert run_cli("run", "Add sub", "--detach", cwd=repo).returncode == 0
    proc = run_cli("logs", "last", "--follow", cwd=repo, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "▶ Planning" in proc.stdout and proc.stdout.count("done · ") == 1
    assert _status(repo)[0]["status"] == "done"


def test_logs_follow_waits_for_a_detached_run_slow_to_start(tmp_path: Path) -> None:
    """A background process that takes seconds to start (a loaded machine) is followed, not given up on."""
    slow = tmp_path / "slow-start"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text("import time\ntime.sleep(4)\n")
    repo = project(tmp_path, happy_replies())
    assert run_cli("run", "Add sub", "--detach", cwd=repo, env={"PYTHONPATH": str(slow)}).returncode == 0
    assert _status(repo)[0]["status"] == "running"  # still starting: not shown as paused
    proc = run_cli("logs", "last", "--follow", cwd=repo, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "▶ Planning" in proc.stdout and proc.stdout.count("done · ") == 1, proc.stdout
    assert _status(repo)[0]["status"] == "done"


def test_counts_read_in_words(tmp_path: Path) -> None:
    from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, review

    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": [review("request_changes", [MAJOR]), review()]})
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "(1 finding)" in proc.stdout and "(0 findings)" in proc.stdout
    assert " · 2 rounds · 5 calls · " in proc.stdout


def test_review_of_a_task_by_last_and_prefix(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    task = json.loads(run_cli("run", "Add sub", "--json", cwd=repo).stdout)
    for ref in ("last", task["id"][:9]):
        proc = run_cli("review", ref, "--preset", "gpt-reviewer", "--json", cwd=repo)
        assert proc.returncode == 0, proc.stderr
        assert "calc.py" in proc.stdout


def test_failed_attempts_are_counted_apart_from_calls(tmp_path: Path) -> None:
    replies = happy_replies()
    replies["flash-builder"][:0] = [{"error": {"status": 500}}]  # one failed attempt, retried
    repo = project(tmp_path, replies)
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert " · 3 calls + 1 failed attempt · " in proc.stdout
    [row] = _status(repo)
    assert (row["calls"], row["ok_calls"], row["failed_calls"]) == (4, 3, 1)
    total = json.loads(run_cli("cost", "--json", cwd=repo).stdout)["total"]
    assert (total["ok_calls"], total["failed_calls"]) == (3, 1)
    assert "Total: 3 calls + 1 failed attempt," in run_cli("cost", cwd=repo, env={"COLUMNS": "200"}).stdout


def _run_with_stdin(repo: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env, input=text,
                          capture_output=True, text=True, timeout=120)


def test_a_request_from_a_file_or_stdin(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    request = tmp_path / "request.md"
    request.write_text("Add sub\n\nA function sub(a, b) in calc.py.\n", encoding="utf-8")
    done = json.loads(run_cli("run", "--file", str(request), "--json", cwd=repo).stdout)
    assert done["status"] == "done" and done["title"] == "Add sub"
    assert (Path(done["folder"]) / "request.md").read_text() == request.read_text()
    piped = _run_with_stdin(repo, "Add sub, from a pipe\n", "run", "-", "--json")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["title"] == "Add sub, from a pipe"
    empty = _run_with_stdin(repo, "  \n", "run", "-")
    assert_clean_error(empty, "stdin", "empty")
    assert len(empty.stderr.strip().splitlines()) == 1
