"""``specrelay eval run``, through the CLI, with scripted presets on a repository the test builds.

Two hand-written cases start from the same base: ``sub`` asks for sub(a, b), which the scripted builder
writes, so its hidden check passes; ``mul`` asks for mul(a, b), which the builder never writes, so its
check fails. Both run under multi-model and single-model. The hidden checks carry a marker string that
must appear in no phase's prompt (the ledger keeps every prompt of an eval's tasks).
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
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

from specrelay import paths
from specrelay.ledger import Ledger

MARKER = "HIDDEN-CHECK-MARKER-5e1c"
SUB_CHECK = (f"# {MARKER}\nimport unittest\n\nfrom calc import sub\n\n\nclass Hidden(unittest.TestCase):\n"
             "    def test_sub(self):\n        self.assertEqual(sub(5, 3), 2)\n")
MUL_CHECK = (f"# {MARKER}\nimport unittest\n\nfrom calc import mul\n\n\nclass Hidden(unittest.TestCase):\n"
             "    def test_mul(self):\n        self.assertEqual(mul(2, 3), 6)\n")
WORKFLOWS = "multi-model,single-model"


def _replies(copies: int = 1) -> dict[str, list[Any]]:
    """Each task's replies (a scripted preset's cursor counts per task): single-model asks opus-planner
    to plan, build and review; multi-model asks it only to plan."""
    return {"opus-planner": [SPEC, ADD_SUB, review()] * copies, "flash-builder": [ADD_SUB] * copies,
            "gpt-reviewer": [review()] * copies}


def _suite(tmp_path: Path, *, delay: float = 0.0, cases: tuple[str, ...] = ("sub", "mul"),
           replies: dict[str, list[Any]] | None = None) -> Path:
    repo = project(tmp_path, replies or _replies(), delay=delay)
    checks = {"sub": ("test_hidden_sub.py", SUB_CHECK, "Add sub(a, b) to calc.py, returning a minus b."),
              "mul": ("test_hidden_mul.py", MUL_CHECK, "Add mul(a, b) to calc.py, returning a times b.")}
    for name in cases:
        file, text, request = checks[name]
        (repo / file).write_text(text, encoding="utf-8")
        proc = run_cli("eval", "make", "s", "--case", name, "--base", "HEAD", "--request", request,
                       "--check", file, cwd=repo)
        assert proc.returncode == 0, proc.stderr
        (repo / file).unlink()  # the check lives only in the case folder now
    return repo


def _run_json(repo: Path) -> dict[str, Any]:
    [run_dir] = (repo / ".specrelay/eval/s/runs").iterdir()
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    return data


def _cells(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["case"], c["workflow"]): c for c in data["cells"]}


def test_a_run_across_two_workflows_checks_each_result_and_shows_no_phase_the_check(tmp_path: Path) -> None:
    repo = _suite(tmp_path)
    proc = run_cli("eval", "run", "s", "--workflows", WORKFLOWS, "--jobs", "2", "--budget", "2", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = _run_json(repo)
    assert (data["version"], data["suite"], data["workflows"], data["repeat"], data["budget_usd"]) == (
        1, "s", ["multi-model", "single-model"], 1, 2.0)
    assert data["id"] == Path(data["id"]).name and len(data["id"].split("-")) == 3
    cells = _cells(data)
    assert sorted(cells) == [("mul", "multi-model"), ("mul", "single-model"), ("sub", "multi-model"),
                             ("sub", "single-model")]
    # Two workflows' attempts at one case touch the same files by design: status does not call that an overlap.
    board = run_cli("status", cwd=repo)
    assert board.returncode == 0 and "both touch" not in board.stdout, board.stdout
    for (case, _workflow), cell in cells.items():
        assert cell["task_status"] == "done" and cell["repeat"] == 1
        assert cell["check"]["status"] == ("passed" if case == "sub" else "failed"), cell["check"]
        assert cell["check"]["commands"] == [f"{sys.executable} -m unittest -q"]
    assert cells[("mul", "multi-model")]["check"]["exit_code"] != 0
    assert "mul" in cells[("mul", "multi-model")]["check"]["output"]  # the import error, in the output's tail
    # One line per cell as it ended, then the table: each task id is shown.
    for cell in cells.values():
        assert cell["task_id"] in proc.stdout
    assert "multi-model: 1/2 checks passed" in proc.stdout and "single-model: 1/2 checks passed" in proc.stdout
    run_dir = repo / ".specrelay/eval/s/runs" / data["id"]
    for name in ("report.md", "report.json", "chart.svg"):  # the report, written at the run's end
        assert (run_dir / name).is_file() and str(run_dir / name) in proc.stdout.replace("\n", "")
    _check_ledger(repo, data, budget_each=0.5)
    # The same prompts, as `show ID prompts.jsonl` prints them.
    cell = cells[("sub", "single-model")]
    shown = run_cli("show", cell["task_id"], "prompts.jsonl", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [line["phase"] for line in lines][:2] == ["plan", "implement"] and lines[-1]["phase"] == "review"
    assert "sub(a, b)" in lines[0]["messages"][-1]["content"] and MARKER not in shown.stdout


def _check_ledger(repo: Path, data: dict[str, Any], budget_each: float | None = None) -> None:
    """Each cell's task: kept its prompts, started at the base, with its share of the budget; the prompts
    hold the request and nothing of the hidden check."""
    ledger = Ledger(paths.ledger_path(repo))
    try:
        for cell in data["cells"]:
            task = ledger.task(cell["task_id"])
            assert task is not None and task.record_prompts and task.budget_usd == pytest.approx(budget_each)
            assert task.base_sha == subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                                   text=True, check=True).stdout.strip()
            prompts = ledger.prompts(cell["task_id"])
            calls = [c for c in ledger.calls(cell["task_id"])]
            assert len(prompts) == len(calls) >= 3  # plan, build, review: every call kept its prompt
            phases = {row.phase for row, _ in prompts}
            assert {"plan", "implement", "review"} <= phases, phases
            text = "\n".join(m["content"] for _, messages in prompts for m in messages)
            assert ("mul(a, b)" if cell["case"] == "mul" else "sub(a, b)") in text  # the request reached them
            assert MARKER not in text and "test_hidden" not in text
    finally:
        ledger.close()


def test_a_case_whose_check_cannot_run_is_an_error_cell_and_the_others_go_on(tmp_path: Path) -> None:
    repo = _suite(tmp_path)
    case_toml = repo / ".specrelay/eval/s/mul/case.toml"
    text = case_toml.read_text(encoding="utf-8")
    case_toml.write_text(text.replace(f'test_commands = ["{sys.executable} -m unittest -q"]',
                                      'test_commands = ["no-such-test-runner-3b9 -q"]'), encoding="utf-8")
    assert "no-such-test-runner-3b9" in case_toml.read_text(encoding="utf-8")
    proc = run_cli("eval", "run", "s", "--workflows", "multi-model", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data == _run_json(repo)  # --json prints run.json's content
    cells = _cells(data)
    broken, fine = cells[("mul", "multi-model")], cells[("sub", "multi-model")]
    assert broken["task_status"] == "done" and broken["check"]["status"] == "error"
    assert broken["check"]["exit_code"] == 127 and "command not found" in broken["check"]["reason"]
    assert fine["check"]["status"] == "passed"
    # A run killed while it checked: a finished cell without its check gets it on --resume (the command now
    # found), no task is made or run again, and a checked cell is left as it is.
    case_toml.write_text(text, encoding="utf-8")
    record = next((repo / ".specrelay/eval/s/runs").glob("*/run.json"))
    for cell in data["cells"]:
        if cell["case"] == "mul":
            cell["check"] = None
    record.write_text(json.dumps(data), encoding="utf-8")
    calls = _call_count(repo)
    again = run_cli("eval", "run", "s", "--resume", "--json", cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr
    after = _cells(json.loads(again.stdout))
    assert after[("mul", "multi-model")]["check"]["status"] == "failed"
    assert after[("mul", "multi-model")]["task_id"] == broken["task_id"]
    assert after[("sub", "multi-model")] == fine
    assert _call_count(repo) == calls


def _call_count(repo: Path) -> int:
    ledger = Ledger(paths.ledger_path(repo))
    try:
        return len(ledger.calls())
    finally:
        ledger.close()


def test_repeat_runs_each_case_k_times_each_its_own_task(tmp_path: Path) -> None:
    repo = _suite(tmp_path, cases=("sub",))
    proc = run_cli("eval", "run", "s", "--workflows", "multi-model", "--repeat", "2", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = json.loads(proc.stdout)["cells"]
    assert [(c["case"], c["workflow"], c["repeat"]) for c in cells] == [("sub", "multi-model", 1),
                                                                        ("sub", "multi-model", 2)]
    assert len({c["task_id"] for c in cells}) == 2
    assert [c["check"]["status"] for c in cells] == ["passed", "passed"]
    proc = run_cli("eval", "run", "s", "--resume", "--repeat", "3", cwd=repo)
    assert_clean_error(proc, "--repeat 3", "leave --repeat out")


def test_bad_input_is_one_clear_line_and_creates_nothing(tmp_path: Path) -> None:
    repo = _suite(tmp_path, cases=("sub",))
    (repo / ".specrelay/eval/empty").mkdir()
    for args, needle in [
        (["nope", "--workflows", WORKFLOWS], "no suite 'nope'"),
        (["empty", "--workflows", WORKFLOWS], "suite 'empty' has no cases"),
        (["s", "--workflows", "multi-model,no-such-flow"], "no-such-flow"),
        (["s", "--workflows", "multi-model,multi-model"], "named twice"),
        (["s", "--workflows", ","], "--workflows"),
        (["s"], "--workflows multi-model,single-model"),
        (["s", "--workflows", WORKFLOWS, "--repeat", "0"], "--repeat 0"),
        (["s", "--workflows", WORKFLOWS, "--budget", "-1"], "--budget -1"),
        (["s", "--workflows", WORKFLOWS, "--budget", "nan"], "--budget"),
        (["s", "--workflows", WORKFLOWS, "--run", "20260101-000000-abcd"], "with --resume"),
        (["s", "--resume"], "suite 's' has no runs yet"),
        (["bad/name", "--workflows", WORKFLOWS], "not a plain name"),
    ]:
        proc = run_cli("eval", "run", *args, cwd=repo)
        assert_clean_error(proc, needle)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    # A case edited by hand: a command given as a string, no test command, its request removed.
    case = repo / ".specrelay/eval/s/sub"
    toml = (case / "case.toml").read_text()
    commands = next(line for line in toml.splitlines() if line.startswith("test_commands"))
    for edited, needle in [(toml.replace(commands, 'test_commands = "python -m unittest"'),
                            "test_commands must be a list of strings"),
                           (toml.replace(commands, "test_commands = []"), "test_commands is empty")]:
        (case / "case.toml").write_text(edited)
        assert_clean_error(run_cli("eval", "run", "s", "--workflows", WORKFLOWS, cwd=repo), str(case), needle)
    (case / "case.toml").write_text(toml)
    request = (case / "request.md").read_text()
    (case / "request.md").unlink()
    assert_clean_error(run_cli("eval", "run", "s", "--workflows", WORKFLOWS, cwd=repo), "request.md: missing")
    (case / "request.md").write_text(request)
    assert not (repo / ".specrelay/eval/s/runs").exists()
    assert not paths.tasks_dir(repo).exists() or not any(paths.tasks_dir(repo).iterdir())
    # A case may not be named as the suite's runs folder.
    (repo / "t.py").write_text("x = 1\n")
    assert_clean_error(run_cli("eval", "make", "s", "--case", "runs", "--base", "HEAD", "--request", "r",
                               "--check", "t.py", "--force", cwd=repo), "case name 'runs' is taken")
    (repo / "t.py").unlink()
    # A run to name: an unknown --run lists the known ones.
    assert run_cli("eval", "run", "s", "--workflows", "multi-model", cwd=repo).returncode == 0
    known = _run_json(repo)["id"]
    proc = run_cli("eval", "run", "s", "--resume", "--run", "20260101-000000-abcd", cwd=repo)
    assert_clean_error(proc, "no run '20260101-000000-abcd'", known)
    proc = run_cli("eval", "run", "s", "--resume", "--workflows", "single-model", cwd=repo)
    assert_clean_error(proc, "leave --workflows out")
    again = run_cli("eval", "run", "s", "--resume", "--json", cwd=repo)  # finished and checked: left as is
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == _run_json(repo)
    # The record edited by hand, a cell's check removed: one line naming the file and the field.
    record = next((repo / ".specrelay/eval/s/runs").glob("*/run.json"))
    data = json.loads(record.read_text())
    del data["cells"][0]["check"]
    record.write_text(json.dumps(data))
    assert_clean_error(run_cli("eval", "run", "s", "--resume", cwd=repo), str(record), "cells[0].check is missing")


def _start(repo: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.Popen([sys.executable, "-m", "specrelay", "eval", "run", "s", *args], cwd=repo, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _ok_calls(repo: Path) -> list[tuple[str, str, str]]:
    if not paths.ledger_path(repo).exists():
        return []
    db = sqlite3.connect(paths.ledger_path(repo))
    try:
        return db.execute("SELECT run_id, call_key, task_id FROM calls WHERE outcome='ok'").fetchall()
    except sqlite3.OperationalError:  # the ledger is being created
        return []
    finally:
        db.close()


def _record(repo: Path) -> dict[str, Any] | None:
    """The run's record once it exists."""
    runs = repo / ".specrelay/eval/s/runs"
    return _run_json(repo) if runs.is_dir() and any(runs.glob("*/run.json")) else None


def _kill_when(proc: subprocess.Popen[str], repo: Path, ready: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = _record(repo)
        if data is not None and ready(data):
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before the kill: {proc.communicate()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the moment to kill never came")


def test_a_killed_eval_run_resumes_to_completion_with_no_task_made_twice(tmp_path: Path) -> None:
    repo = _suite(tmp_path, delay=0.3)
    # Killed as soon as a first task id is noted (its task perhaps half made), then again with tasks
    # part-way through and others not started (two at a time), then resumed to the end.
    _kill_when(_start(repo, "--workflows", WORKFLOWS, "--jobs", "2"), repo,
               lambda d: any(c["task_id"] for c in d["cells"]))
    _kill_when(_start(repo, "--resume", "--jobs", "2"), repo,
               lambda d: len(_ok_calls(repo)) >= 3 and any(c["task_id"] is None for c in d["cells"]))
    done = run_cli("eval", "run", "s", "--resume", "--jobs", "2", cwd=repo, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    data = _run_json(repo)
    cells = _cells(data)
    assert len(data["cells"]) == 4
    ids = [c["task_id"] for c in data["cells"]]
    assert None not in ids and len(set(ids)) == 4
    for (case, _workflow), cell in cells.items():
        assert cell["task_status"] == "done"
        assert cell["check"]["status"] == ("passed" if case == "sub" else "failed"), cell["check"]
    ledger = Ledger(paths.ledger_path(repo))
    try:
        assert sorted(ledger.task_ids()) == sorted(ids)  # no task made twice, none left over
    finally:
        ledger.close()
    ok = _ok_calls(repo)
    keys = [(run_id, key) for run_id, key, _ in ok]
    assert len(keys) == len(set(keys))  # every completed call recorded once
    assert {t for _, _, t in ok} == set(ids)
    branches = subprocess.run(["git", "branch", "--list", "specrelay/*"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.split()
    assert sorted(b.removeprefix("specrelay/") for b in branches if b != "*" and b != "+") == sorted(ids)
    _check_ledger(repo, data)


def test_ctrl_c_pauses_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    repo = _suite(tmp_path, delay=0.5)
    proc = _start(repo, "--workflows", WORKFLOWS, "--jobs", "2")
    deadline = time.monotonic() + 60
    while not any(c["task_id"] for c in (_record(repo) or {"cells": []})["cells"]):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)  # a task or two under way, the others waiting their turn
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "--resume --run" in out
    data = _run_json(repo)
    assert all(c["check"] is None for c in data["cells"])
    assert {c["task_status"] for c in data["cells"]} <= {"paused", "not_started"}
    done = run_cli("eval", "run", "s", "--resume", "--json", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    cells = json.loads(done.stdout)["cells"]
    assert all("message" not in c and c["task_status"] == "done" for c in cells)
    assert sorted(c["check"]["status"] for c in cells) == ["failed", "failed", "passed", "passed"]


def test_a_task_that_needs_attention_has_its_result_checked_too(tmp_path: Path) -> None:
    repo = _suite(tmp_path, cases=("sub",), replies={"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                                                     "gpt-reviewer": [review("request_changes", [MAJOR])] * 2})
    flows = repo / ".specrelay" / "workflows"
    flows.mkdir()
    text = (Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md").read_text(encoding="utf-8")
    assert "<!-- max-rounds: 3 -->" in text
    (flows / "two-rounds.md").write_text(text.replace("<!-- max-rounds: 3 -->", "<!-- max-rounds: 2 -->"),
                                         encoding="utf-8")
    proc = run_cli("eval", "run", "s", "--workflows", "two-rounds", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [cell] = json.loads(proc.stdout)["cells"]
    assert cell["task_status"] == "needs_attention" and cell["check"]["status"] == "passed"


def test_a_budget_too_small_pauses_each_task_and_resume_with_more_finishes_the_run(tmp_path: Path) -> None:
    repo = _suite(tmp_path)
    proc = run_cli("eval", "run", "s", "--workflows", WORKFLOWS, "--budget", "0.004", cwd=repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = _run_json(repo)
    assert {c["task_status"] for c in data["cells"]} == {"paused"} and all(c["check"] is None for c in data["cells"])
    assert all("budget" in c["message"] for c in data["cells"]), data["cells"]
    assert "--resume --run" in proc.stdout and "budget" in proc.stdout
    ledger = Ledger(paths.ledger_path(repo))
    try:
        assert {ledger.task(c["task_id"]).budget_usd for c in data["cells"]} == {0.001}  # type: ignore[union-attr]
    finally:
        ledger.close()
    done = run_cli("eval", "run", "s", "--resume", "--budget", "2", "--json", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["budget_usd"] == 2.0 and all("message" not in c for c in data["cells"])
    assert sorted(c["check"]["status"] for c in data["cells"]) == ["failed", "failed", "passed", "passed"]
    _check_ledger(repo, data, budget_each=0.5)
