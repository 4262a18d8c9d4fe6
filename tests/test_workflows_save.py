"""``specrelay workflows save NAME --from TASK``: the workflow a task ran, its routes resolved, as a template."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review


def _done_task(repo: Path) -> str:
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done"
    return str(status["id"])


def test_a_saved_workflow_names_the_presets_the_task_used_and_runs_again(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC, SPEC], "flash-builder": [ADD_SUB, ADD_SUB],
                              "gpt-reviewer": [review(), review()]})
    task = _done_task(repo)
    proc = run_cli("workflows", "save", "what-worked", "--from", task, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(proc.stdout)
    assert saved["resolved"] == {"@plan": "opus-planner", "@implement": "flash-builder", "@review": "gpt-reviewer"}
    text = (repo / ".specrelay" / "workflows" / "what-worked.md").read_text()
    assert "<!-- agent: opus-planner -->" in text and "@plan" not in text.split("### ", 1)[1]
    assert "[x]" not in text  # the task's ticks are not the template's
    # the routes move; the saved workflow keeps the presets that worked
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text() + '\n[routes]\nplan = "gpt-reviewer"\n')
    listing = json.loads(run_cli("workflows", "--json", cwd=repo).stdout)
    mine = next(w for w in listing if w["name"] == "what-worked")
    assert mine["source"] == "project" and mine["steps"][0]["presets"] == ["opus-planner"]
    (repo / ".specrelay" / "calc.py").write_text("")  # untracked noise inside .specrelay is ignored
    proc = run_cli("run", "Add sub again", "--workflow", "what-worked", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = json.loads(proc.stdout)
    assert again["status"] == "done" and again["workflow"] == "what-worked"
    calls = json.loads(run_cli("show", again["id"], "--json", cwd=repo).stdout)["calls"]
    assert calls[0]["preset"] == "opus-planner"


def test_save_refuses_to_overwrite_a_bad_name_and_an_unknown_task(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    task = _done_task(repo)
    assert run_cli("workflows", "save", "mine", "--from", task, cwd=repo).returncode == 0
    target = repo / ".specrelay" / "workflows" / "mine.md"
    target.write_text(target.read_text() + "\nmy own notes\n")
    proc = run_cli("workflows", "save", "mine", "--from", task, cwd=repo)
    assert_clean_error(proc, "exists already", "--force")
    assert "my own notes" in target.read_text()
    proc = run_cli("workflows", "save", "mine", "--from", task, "--force", cwd=repo)
    assert proc.returncode == 0 and "Replaced" in proc.stdout
    assert "my own notes" not in target.read_text()
    for bad in ("../escape", "Has Space", "readme", "_x", "a/b"):
        proc = run_cli("workflows", "save", bad, "--from", task, cwd=repo)
        assert_clean_error(proc, "a workflow name is lower-case letters")
    assert not (repo / ".specrelay" / "escape.md").exists()
    proc = run_cli("workflows", "save", "other", "--from", "no-such-task", cwd=repo)
    assert_clean_error(proc, "no-such-task")
    assert not (repo / ".specrelay" / "workflows" / "other.md").exists()
