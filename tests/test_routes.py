"""Routing by task type: ``[routes]`` points each kind of work at a preset, ``agent: @ROUTE`` uses it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from taskkit import ADD_SUB, SPEC, project, review

CHEAP = ('\n[presets.cheap]\nprovider = "scripted"\nmodel = "scripted-cheap"\nreplies = "cheap.json"\n'
         'price_as = "gpt-5.4"\n')

PANEL = """# Routed panel

### [ ] Step: Planning
<!-- agent: @plan -->
Plan it.

### [ ] Step: Implementation
<!-- agent: @implement -->
Build it.

### [ ] Step: Review
<!-- agents: @review, sonnet-reviewer -->
Review it.
"""


def _json(repo: Path, *args: str) -> object:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_without_routes_the_default_workflow_runs_the_presets_it_always_did(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    status = _json(repo, "run", "Add sub")
    assert isinstance(status, dict) and status["status"] == "done"
    shown = _json(repo, "show", status["id"])
    assert isinstance(shown, dict)
    assert [s["presets"] for s in shown["steps"]] == [["opus-planner"], ["flash-builder"], [], ["gpt-reviewer"]]


def test_one_routes_change_moves_the_default_workflow(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [], "gpt-reviewer": [review()]},
                   extra=CHEAP + '\n[routes]\nimplement = "cheap"\n')
    (repo / ".specrelay" / "cheap.json").write_text(json.dumps([ADD_SUB]))
    status = _json(repo, "run", "Add sub")
    assert isinstance(status, dict) and status["status"] == "done"
    shown = _json(repo, "show", status["id"])
    assert isinstance(shown, dict)
    assert shown["steps"][1]["presets"] == ["cheap"]
    assert {c["preset"] for c in shown["calls"] if c["phase"] == "implement"} == {"cheap"}
    listed = run_cli("workflows", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "cheap (@implement)" in listed and "opus-planner (@plan)" in listed


def test_a_panel_names_a_route_beside_a_preset(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()],
                              "sonnet-reviewer": [review()]})
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir()
    (folder / "routed.md").write_text(PANEL)
    status = _json(repo, "run", "Add sub", "--workflow", "routed")
    assert isinstance(status, dict) and status["status"] == "done"
    shown = _json(repo, "show", status["id"])
    assert isinstance(shown, dict)
    assert shown["steps"][2]["presets"] == ["gpt-reviewer", "sonnet-reviewer"]
    # The review route moved onto the other reviewer: the panel would name it twice, which is refused.
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text() + '\n[routes]\nreview = "sonnet-reviewer"\n')
    proc = run_cli("run", "Add sub", "--workflow", "routed", cwd=repo)
    assert proc.returncode != 0 and "routed.md:12" in proc.stderr and "names sonnet-reviewer twice" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_resumed_task_keeps_the_presets_its_routes_named_when_it_started(tmp_path: Path) -> None:
    # The builder fails (its replies run out), the user moves the route, the resume keeps the task's preset.
    failing: list[object] = [{"error": {"status": 500}}] * 2
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [*failing, ADD_SUB],
                              "gpt-reviewer": [review()]}, extra=CHEAP)
    (repo / ".specrelay" / "cheap.json").write_text(json.dumps([ADD_SUB]))
    proc = run_cli("run", "Add sub", cwd=repo)
    assert proc.returncode != 0
    [task] = _json(repo, "status")  # type: ignore[misc]
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text() + '\n[routes]\nimplement = "cheap"\n')
    resumed = _json(repo, "resume", task["id"])
    assert isinstance(resumed, dict) and resumed["status"] == "done"
    shown = _json(repo, "show", task["id"])
    assert isinstance(shown, dict)
    built = {c["preset"] for c in shown["calls"] if c["phase"] == "implement" and c["outcome"] == "ok"}
    assert built == {"flash-builder"}


def test_ask_route_search_and_presets_lists_the_routes(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC]}, extra=CHEAP + '\n[routes]\nsearch = "cheap"\n')
    (repo / ".specrelay" / "cheap.json").write_text(json.dumps(["calc.py:1 defines add."]))
    answer = _json(repo, "ask", "Where is add defined?", "--route", "search")
    assert isinstance(answer, dict) and answer["preset"] == "cheap" and answer["text"] == "calc.py:1 defines add."
    rows = _json(repo, "presets")
    assert isinstance(rows, list)
    routed = {r["name"]: r["routes"] for r in rows}
    assert routed["cheap"] == ["search"] and routed["opus-planner"] == ["plan"]
    assert set(routed["flash-builder"]) == {"implement", "research"}
    text = run_cli("presets", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "Routes" in text and "(none: set [routes] vision)" in text
    assert str(repo / ".specrelay" / "config.toml") in text  # where the search route was set
