"""The git-native workflow: a spec's milestones built one at a time, each its own commit, each reviewed
(by the planner's model) before the builder goes on."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review

MILESTONE_SPEC = SPEC.replace("## Edge cases", """## Milestones
### Milestone 1: Add sub
sub(a, b) next to add in calc.py.

### Milestone 2: Add mul
mul(a, b) after sub.

## Edge cases""")
ADD_MUL = """calc.py
<<<<<<< SEARCH
def sub(a, b):
    return a - b  # a minus b
=======
def sub(a, b):
    return a - b  # a minus b


def mul(a, b):
    return a * b
>>>>>>> REPLACE
"""
FIX_SUB = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a - b  # a minus b\n>>>>>>> REPLACE\n"
MAJOR = {"file": "calc.py", "line": 5, "severity": "major", "category": "docs", "title": "sub says nothing",
         "detail": "say what it does", "suggestion": "add a comment"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_each_milestone_is_built_committed_and_reviewed_before_the_next(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [MILESTONE_SPEC, review("request_changes", [MAJOR]), review(),
                                               review()],
                              "flash-builder": [ADD_SUB, FIX_SUB, ADD_MUL]})
    proc = run_cli("run", "Add sub and mul", "--workflow", "git-native", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    worktree = Path(status["worktree"])
    subjects = _git(worktree, "log", "--format=%s", f"{status['base_sha']}..HEAD").splitlines()[::-1]
    assert subjects[0] == "Add sub (milestone 1 of 2)" and subjects[-1] == "Add mul (milestone 2 of 2)", subjects
    assert len(subjects) == 3  # milestone 1, its fix, milestone 2
    assert "def mul" in (worktree / "calc.py").read_text() and "# a minus b" in (worktree / "calc.py").read_text()
    # Built and reviewed in turn: builder, reviewer (changes), builder (fix), reviewer (ok), builder, reviewer.
    rows = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT phase, context_json FROM calls WHERE task_id=? ORDER BY id", (status["id"],)).fetchall()
    assert [r[0] for r in rows] == ["plan", "implement", "review", "implement", "review", "implement", "review"]
    assert all("milestone" in json.loads(r[1]) for r in rows[1:]), rows  # each call was told its milestone
    assert status["rounds"] == 3


def test_per_milestone_on_a_step_that_does_not_build_is_refused(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "bad.md").write_text(
        "# Bad\n\n### [ ] Step: Planning\n<!-- agent: opus-planner -->\n<!-- per: milestone -->\nPlan.\n")
    assert_clean_error(run_cli("run", "x", "--workflow", "bad", cwd=repo), "bad.md:5", "'per' takes")
    (repo / ".specrelay" / "workflows" / "bad.md").write_text(
        "# Bad\n\n### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n<!-- per: feature -->\nBuild.\n")
    assert_clean_error(run_cli("run", "x", "--workflow", "bad", cwd=repo), "unknown 'per' value")


def test_a_spec_without_milestones_is_built_whole(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC, review()], "flash-builder": [ADD_SUB]})
    proc = run_cli("run", "Add sub", "--workflow", "git-native", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "done"


def test_milestones_with_best_of_n_and_workstreams_with_a_cascade_are_refused(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    (repo / ".specrelay" / "workflows").mkdir()
    bad = repo / ".specrelay" / "workflows" / "bad.md"
    bad.write_text("# Bad\n\n### [ ] Step: Implementation\n<!-- agents: flash-builder, opus-planner -->\n"
                   "<!-- per: milestone -->\nBuild.\n")
    assert_clean_error(run_cli("run", "x", "--workflow", "bad", cwd=repo), "bad.md:5", "best-of-N",
                       "one milestone at a time")
    bad.write_text("# Bad\n\n### [ ] Step: Implementation\n<!-- agent: flash-builder > opus-planner -->\n"
                   "<!-- parallel: workstreams -->\nBuild.\n")
    assert_clean_error(run_cli("run", "x", "--workflow", "bad", cwd=repo), "bad.md:5", "is a cascade",
                       "build every part again")


def test_a_cascade_counts_only_the_current_milestones_rejected_rounds(tmp_path: Path) -> None:
    """escalate-after: 2 on a cascade going by milestones: milestone 1 approved, milestone 2 rejected once
    then approved: no escalation (the approved round of milestone 1 is no rejection)."""
    add_mul = ADD_MUL.replace("    return a - b  # a minus b", "    return a - b")
    fix_mul = "calc.py\n<<<<<<< SEARCH\n    return a * b\n=======\n    return a * b  # a times b\n>>>>>>> REPLACE\n"
    repo = project(tmp_path, {"opus-planner": [MILESTONE_SPEC], "flash-builder": [ADD_SUB, add_mul, fix_mul],
                              "gpt-reviewer": [review(), review("request_changes", [MAJOR]), review()]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "cm.md").write_text(
        "# Cascade by milestones\n\n### [ ] Step: Planning\n<!-- agent: opus-planner -->\nPlan.\n\n"
        "### [ ] Step: Implementation\n<!-- agent: flash-builder > opus-planner -->\n<!-- escalate-after: 2 -->\n"
        "<!-- per: milestone -->\nBuild.\n\n### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\nReview.\n")
    proc = run_cli("run", "Add sub and mul", "--workflow", "cm", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    assert not status.get("escalations"), status.get("escalations")
    assert "# a times b" in (Path(status["worktree"]) / "calc.py").read_text()
