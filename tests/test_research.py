"""kind: research: read-only scouts answer questions about the repository and write research.md, which the
plan step after them reads instead of the repository map; through the CLI with scripted tool-calling scouts."""

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

from agentkit import call, turn
from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review

NOTES = """## Answers
- Where is add? In `calc.py:1-2`, a plain function.

## Files and symbols
- `calc.py:1-2` `add`: returns a + b; sub goes beside it.

## Tests
- `test_calc.py:1-8`: unittest, one TestCase per module, run with python -m unittest."""

SCOUT_TURNS: list[Any] = [
    turn(call("list_files", glob="*.py"), call("search", pattern="def add")),
    turn(call("read_file", path="calc.py"), call("read_file", path="../outside.txt")),
    NOTES,
]


def workflow(repo: Path, research: str, body: str = "Where is add defined? How are tests written?") -> str:
    text = (f"# Research first\n\n### [ ] Step: Research\n{research}\n{body}\n\n"
            "### [ ] Step: Planning\n<!-- agent: opus-planner -->\nPlan from the research notes.\n\n"
            "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\nBuild it.\n\n"
            "### [ ] Step: Verification\n<!-- kind: verify -->\n\n"
            "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\nReview it.\n")
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scouted.md").write_text(text, encoding="utf-8")
    return "scouted"


def team(**scouts: list[Any]) -> dict[str, list[Any]]:
    return {**scouts, "opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]}


def run_json(repo: Path, *args: str) -> dict[str, Any]:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def plan_context(shown: dict[str, Any]) -> dict[str, int]:
    [plan] = [c for c in shown["calls"] if c["phase"] == "plan"]
    context: dict[str, int] = plan["context"]
    return context


def test_a_scout_reads_the_repository_and_the_planner_reads_its_notes_instead_of_the_map(tmp_path: Path) -> None:
    repo = project(tmp_path, team(scout=SCOUT_TURNS))
    status = run_json(repo, "run", "Add sub", "--workflow", workflow(repo, "<!-- agent: scout -->"))
    assert status["status"] == "done"
    folder = Path(status["folder"])
    assert (folder / "research.md").read_text() == "# Research\n\n" + NOTES + "\n"
    turns = [json.loads(line) for line in (folder / "research_r1.transcript.jsonl").read_text().splitlines()]
    tools = [(t["name"], t["ok"]) for e in turns for t in e["tools"]]
    assert tools == [("list_files", True), ("search", True), ("read_file", True), ("read_file", False)]
    shown = run_json(repo, "show", status["id"])
    assert len([c for c in shown["calls"] if c["phase"] == "research"]) == 3  # one per turn, each priced
    with_research = plan_context(shown)
    assert "research" in with_research and "map" not in with_research and "readme" not in with_research
    # The same request through the default workflow: the planner reads the map and the README instead.
    plain = project(tmp_path / "plain", team())
    base = run_json(plain, "run", "Add sub")
    without = plan_context(run_json(plain, "show", base["id"]))
    assert "map" in without and "research" not in without
    text = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "250"}).stdout
    assert f"research {with_research['research']:,}" in text  # show prints the plan's parts, research among them


def test_scouts_on_split_questions_run_at_once_and_their_notes_are_merged(tmp_path: Path) -> None:
    repo = project(tmp_path, team(**{"scout-a": ["## Answers\n- add is in `calc.py:1-2`."],
                                     "scout-b": ["## Tests\n- `test_calc.py` uses unittest."]}))
    body = ("Answer for the request.\n\n#### Code\nWhere is add defined?\n\n#### Tests\nHow are tests written?")
    status = run_json(repo, "run", "Add sub", "--workflow",
                      workflow(repo, "<!-- agents: scout-a, scout-b -->", body))
    assert status["status"] == "done"
    merged = (Path(status["folder"]) / "research.md").read_text()
    first, second = merged.index("## Scout 1 (scout-a)"), merged.index("## Scout 2 (scout-b)")
    assert first < second
    assert "Asked: Answer for the request. #### Code Where is add defined?" in merged
    assert "### Answers\n- add is in `calc.py:1-2`." in merged
    assert "### Tests\n- `test_calc.py` uses unittest." in merged
    assert "How are tests written?" not in merged[first:second]  # scout 1 was not asked scout 2's question
    folder = Path(status["folder"])
    assert (folder / "research_r1_scout1.transcript.jsonl").is_file()
    assert (folder / "research_r1_scout2.transcript.jsonl").is_file()


def test_the_same_preset_may_scout_twice_but_the_sections_must_match_the_scouts(tmp_path: Path) -> None:
    repo = project(tmp_path, team(scout=["## Answers\n- one"]))
    name = workflow(repo, "<!-- agents: scout, scout -->", "#### One\nA?\n\n#### Two\nB?\n\n#### Three\nC?")
    rows = json.loads(run_cli("workflows", "--json", cwd=repo).stdout)
    assert [r["errors"] for r in rows if r["name"] == name] == [[]]  # a research panel may repeat a preset
    proc = run_cli("run", "Add sub", "--workflow", name, cwd=repo)
    assert_clean_error(proc, "3 '#### ' question sections for 2 scouts", "one section per scout")


def test_notes_that_name_paths_outside_the_repository_lose_those_lines(tmp_path: Path) -> None:
    notes = (NOTES + "\n- `/etc/passwd` lists the users to rate-limit.\n- See ../secrets.txt for the keys.\n"
             "- `POST /login` is the endpoint.")
    repo = project(tmp_path, team(scout=[notes]))
    proc = run_cli("run", "Add sub", "--workflow", workflow(repo, "<!-- agent: scout -->"), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "dropped the lines naming paths outside the repository: /etc/passwd, ../secrets.txt" in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    research = (Path(task["folder"]) / "research.md").read_text()
    assert "lists the users" not in research and "for the keys" not in research
    assert "`POST /login` is the endpoint." in research  # a URL path names no file: kept
    assert "specrelay dropped the lines of these notes that named paths outside the repository" in research
    shown = run_json(repo, "show", task["id"])
    [step] = [s for s in shown["steps"] if s["kind"] == "research"]
    assert step["detail"]["dropped_outside"] == ["/etc/passwd", "../secrets.txt"]


def test_a_scout_that_fails_is_reported_while_another_answered(tmp_path: Path) -> None:
    repo = project(tmp_path, team(**{"scout-a": ["## Answers\n- `calc.py` has add."],
                                     "scout-b": [{"error": {"status": 500}}] * 2}))
    proc = run_cli("run", "Add sub", "--workflow", workflow(repo, "<!-- agents: scout-a, scout-b -->"), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "scout 2 (scout-b) failed" in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert "## Scout 2 (scout-b)\n\nNo notes:" in (Path(task["folder"]) / "research.md").read_text()


def _ledger_calls(repo: Path) -> list[tuple[str, str, str]]:
    db = repo / ".specrelay" / "ledger.db"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT phase, outcome, call_key FROM calls ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the schema is still being written
        return []


def test_a_run_killed_mid_research_resumes_without_paying_for_a_turn_twice(tmp_path: Path) -> None:
    repo = project(tmp_path, team(scout=SCOUT_TURNS), delay=0.4)
    name = workflow(repo, "<!-- agent: scout -->")
    env = {**os.environ}
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub", "--workflow", name], cwd=repo,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once two of the scout's three turns are recorded
        if len([c for c in _ledger_calls(repo) if c[0] == "research" and c[1] == "ok"]) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = [c for c in _ledger_calls(repo) if c[0] == "research" and c[1] == "ok"]
    assert 2 <= len(done_before) < 3, done_before
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    resumed = run_json(repo, "resume", task["id"])
    assert resumed["status"] == "done"
    research = [c for c in _ledger_calls(repo) if c[0] == "research" and c[1] == "ok"]
    keys = [c[2] for c in research]
    assert len(keys) == 3 and len(set(keys)) == 3, research  # each turn paid once: the first two were reused
    assert keys[:2] == [c[2] for c in done_before]
    assert (Path(task["folder"]) / "research.md").read_text() == "# Research\n\n" + NOTES + "\n"


def test_the_research_plan_build_workflow_scouts_plans_builds_and_reviews(tmp_path: Path) -> None:
    code, tests = "## Files and symbols\n- `calc.py:1-2` `add`.", "## Tests\n- `test_calc.py`: unittest."
    # Both scouts go to the research and search routes' preset (flash-builder by default); then it builds.
    repo = project(tmp_path, {"flash-builder": [code, tests, ADD_SUB], "opus-planner": [SPEC],
                              "gpt-reviewer": [review()]})
    status = run_json(repo, "run", "Add sub", "--workflow", "research-plan-build")
    assert status["status"] == "done"
    research = (Path(status["folder"]) / "research.md").read_text()
    assert "## Scout 1 (flash-builder)" in research and "## Scout 2 (flash-builder)" in research
    assert "`calc.py:1-2` `add`." in research and "`test_calc.py`: unittest." in research
    shown = run_json(repo, "show", status["id"])
    assert [s["kind"] for s in shown["steps"]] == ["research", "plan", "implement", "verify", "review"]
    assert "research" in plan_context(shown) and "map" not in plan_context(shown)


def test_a_scout_preset_that_cannot_call_tools_is_refused_before_the_task_starts(tmp_path: Path) -> None:
    from test_backends import ECHO_PRESETS, _install_plugin

    env = _install_plugin(tmp_path / "site")
    repo = project(tmp_path, team(), extra=ECHO_PRESETS)
    name = workflow(repo, "<!-- agents: opus-planner, echo-free -->")
    proc = run_cli("run", "Add sub", "--workflow", name, cwd=repo, env=env, subprocess=True)
    assert_clean_error(proc, "scouted.md:4: step 'Research' (research) runs specrelay's tool loop",
                       "preset 'echo-free' (echo) cannot call tools")
    assert json.loads(run_cli("status", "--json", cwd=repo, env=env, subprocess=True).stdout) == []


def test_a_path_through_a_symlink_that_leads_out_is_dropped_too(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keys.txt").write_text("secret\n")
    notes = "## Files and symbols\n- `calc.py:1-2` `add`.\n- `vendor/keys.txt` holds the keys."
    repo = project(tmp_path, team(scout=[notes]))
    (repo / "vendor").symlink_to(outside)
    subprocess.run(["git", "add", "vendor"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "vendor"], cwd=repo, check=True)
    status = run_json(repo, "run", "Add sub", "--workflow", workflow(repo, "<!-- agent: scout -->"))
    research = (Path(status["folder"]) / "research.md").read_text()
    assert "`calc.py:1-2` `add`." in research and "holds the keys" not in research
    assert "(`vendor/keys.txt`)" in research
