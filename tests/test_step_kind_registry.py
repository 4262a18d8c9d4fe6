"""A step kind registered from outside ``src/`` is listed, validated and run like a built-in one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from taskkit import ADD_SUB, SPEC, project, review

KINDS = Path(__file__).with_name("stepkinds")
NOTE = "Watch the argument order: sub(a, b) is a minus b, and a test should pin it."

WORKFLOW = """# With a note

### [ ] Step: Planning
<!-- agent: opus-planner -->
Plan it.

### [ ] Step: Notes
<!-- agent: sonnet-reviewer -->
Note the risk.

### [ ] Step: Implementation
<!-- agent: flash-builder -->
Build it.

### [ ] Step: Review
<!-- agent: gpt-reviewer -->
Review it.
"""


def _install_kinds(site: Path) -> None:
    """The test kinds as a plugin package declares them (pip writes this metadata): two entry points."""
    info = site / "specrelay_note_kinds-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: specrelay-note-kinds\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[specrelay.step_kinds]\nnote = note_kind\nhalt = halt_kind\n")


def _cli_with_note(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The specrelay CLI in a fresh process, in an environment where the kinds' plugin is installed."""
    site = cwd.parent / "site"
    if not site.exists():
        _install_kinds(site)
    path = os.pathsep.join([str(site), str(KINDS), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PYTHONPATH": path}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run([sys.executable, "-m", "specrelay", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _repo(tmp_path: Path) -> Path:
    repo = project(tmp_path, {"opus-planner": [SPEC], "sonnet-reviewer": [NOTE], "flash-builder": [ADD_SUB],
                              "gpt-reviewer": [review()]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "noted.md").write_text(WORKFLOW)
    return repo


def test_a_registered_kind_is_listed_and_runs_in_a_real_task(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    listed = _cli_with_note("workflows", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    [noted] = [w for w in json.loads(listed.stdout) if w["name"] == "noted"]
    assert noted["errors"] == [] and [s["kind"] for s in noted["steps"]] == ["plan", "note", "implement", "review"]

    ran = _cli_with_note("run", "Add sub", "--workflow", "noted", "--json", cwd=repo)
    assert ran.returncode == 0, ran.stderr
    task = json.loads(ran.stdout)
    assert task["status"] == "done" and task["message"] == "approved"
    note_step = task["steps"][1]
    assert (note_step["kind"], note_step["status"], note_step["detail"]) == ("note", "done", {"wrote": "notes.md"})
    assert (Path(task["folder"]) / "notes.md").read_text() == NOTE + "\n"
    workflow = (Path(task["folder"]) / "workflow.md").read_text()
    assert "### [x] Step: Notes" in workflow


def test_without_the_registration_the_same_workflow_is_refused_naming_file_line_and_kinds(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    proc = run_cli("run", "Add sub", "--workflow", "noted", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "noted.md:7: cannot tell what kind of step 'Notes' is" in proc.stderr
    assert "plan, implement, verify, review" in proc.stderr
    explicit = WORKFLOW.replace("Step: Notes\n", "Step: Notes\n<!-- kind: note -->\n")
    (repo / ".specrelay" / "workflows" / "noted.md").write_text(explicit)
    proc = run_cli("workflows", cwd=repo)
    assert proc.returncode != 0 and "noted.md:8: unknown step kind 'note'; known: plan, implement, verify, review" \
        in proc.stdout + proc.stderr


def test_a_registered_kind_can_finish_the_task_and_later_steps_do_not_run(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "halting.md").write_text(
        "### [ ] Step: Planning\n<!-- agent: opus-planner -->\nPlan it.\n\n"
        "### [ ] Step: Halt\nA person reads the spec before anything is built.\n\n"
        "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\nBuild it.\n")
    ran = _cli_with_note("run", "Add sub", "--workflow", "halting", "--json", cwd=repo)
    task = json.loads(ran.stdout)
    assert ran.returncode == 1 and task["status"] == "needs_attention", ran.stderr
    assert task["message"] == "A person reads the spec before anything is built."
    assert [s["status"] for s in task["steps"]] == ["done", "done", "pending"]
    assert task["steps"][1]["detail"] == {"halted": True}


def test_a_kind_may_end_its_task_only_as_needing_attention() -> None:
    # done is the runner's to decide (after the last step, with the checks passing); the rest are not a step's.
    from specrelay.engine.steps import Finish
    from specrelay.ledger import TaskStatus

    assert Finish(TaskStatus.NEEDS_ATTENTION, "stop here").status is TaskStatus.NEEDS_ATTENTION
    for status in (TaskStatus.DONE, TaskStatus.RUNNING, TaskStatus.MERGED):
        with pytest.raises(ValueError, match="only as needs_attention"):
            Finish(status, "no")


def test_a_plugin_that_fails_to_load_is_one_line_naming_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    site = tmp_path / "site"
    _install_kinds(site)
    (site / "specrelay_note_kinds-1.0.dist-info" / "entry_points.txt").write_text(
        "[specrelay.step_kinds]\nbroken = no_such_kind_module\n")
    proc = _cli_with_note("workflows", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "step kind plugin 'broken' (no_such_kind_module) failed to load" in proc.stderr
    assert "Fix or uninstall" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
