"""Best-of-N through the CLI: ``agents:`` on an implement step builds the spec once per preset at once,
verifies and reviews each, keeps the best on the task branch and the others on their branches."""

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
from conftest import run_cli
from fleet import env_for, git
from taskkit import ADD_SUB, MAJOR, SPEC, project, review

from specrelay import paths

BROKEN = ADD_SUB.replace("return a - b", "return a + b")
WITH_DOC = ADD_SUB.replace("def sub(a, b):\n    return a - b", 'def sub(a, b):\n    """a minus b."""\n    return a - b')
CHECK = f"{sys.executable} -c \"import calc; assert calc.sub(3, 1) == 2, 'sub is wrong'\""

WORKFLOW = """# Best of three

### [ ] Step: Planning
<!-- agent: opus-planner -->
Plan.

### [ ] Step: Implementation
<!-- agents: builder-a, builder-b, builder-c -->
Build.

### [ ] Step: Verification
<!-- kind: verify -->

### [ ] Step: Review
<!-- agent: gpt-reviewer -->
Review.
"""


def best_of_three(tmp_path: Path, *, gap: float = 1.5) -> Path:
    """cand-1 fails verification, cand-2 has a major finding, cand-3 is clean (and the largest diff).

    The builders answer ``gap`` seconds apart, so the reviewer (whose replies go in call order) sees
    them in their order; all three builds are under way at once.
    """
    replies: dict[str, list[Any]] = {
        "opus-planner": [SPEC],
        "builder-a": [{"text": BROKEN, "delay_s": 0.2}],
        "builder-b": [{"text": ADD_SUB, "delay_s": 0.2 + gap}],
        "builder-c": [{"text": WITH_DOC, "delay_s": 0.2 + 2 * gap}],
        "gpt-reviewer": [review(), review("request_changes", [MAJOR]), review(), review()],
    }
    repo = project(tmp_path, replies, verify=[CHECK])
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir()
    (folder / "best3.md").write_text(WORKFLOW)
    return repo


def _json(repo: Path, *args: str) -> Any:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _calls(repo: Path) -> list[tuple[str, str, float, float]]:
    con = sqlite3.connect(paths.ledger_path(repo))
    return con.execute("SELECT preset, step, started_at, latency_s FROM calls WHERE outcome='ok' "
                       "ORDER BY id").fetchall()


def _check_winner(repo: Path, status: dict[str, Any]) -> dict[str, Any]:
    assert status["status"] == "done", status["message"]
    branch = status["branch"]
    assert git(repo, "show", f"{branch}:calc.py").count('"""a minus b."""') == 1  # cand-3's work
    shown = _json(repo, "show", status["id"])
    record = shown["candidates"]
    assert record["winner"] == 3 and "verification passed" in record["rule"]
    by_n = {c["n"]: c for c in record["candidates"]}
    assert [by_n[n]["rank"] for n in (1, 2, 3)] == [3, 2, 1]
    assert by_n[1]["verification"] == "failed" and by_n[2]["verification"] == "passed"
    assert by_n[2]["blocking"] == 1 and by_n[3]["blocking"] == 0
    assert by_n[3]["diff_lines"] > by_n[2]["diff_lines"]  # fewer findings beat a smaller diff
    for n in (1, 2, 3):
        assert by_n[n]["branch"] == f"{branch}.cand-{n}" and by_n[n]["cost_usd"] > 0
        assert git(repo, "rev-parse", "--verify", f"refs/heads/{branch}.cand-{n}")
        assert not Path(by_n[n]["worktree"]).exists()  # clean candidates' worktrees go; their branches stay
    # The task's cost is the candidates' and the rest's.
    total = sum(c["cost_usd"] for c in record["candidates"])
    assert shown["cost_usd"] >= total
    return shown


def test_best_of_three_keeps_the_best_which_is_not_the_first(tmp_path: Path) -> None:
    repo = best_of_three(tmp_path)
    status = _json(repo, "run", "Add sub", "--workflow", "best3")
    shown = _check_winner(repo, status)

    calls = _calls(repo)
    builds = {preset: (start, start + latency) for preset, _, start, latency in calls if preset.startswith("builder")}
    assert len(builds) == 3
    latest_start = max(s for s, _ in builds.values())
    assert latest_start < min(e for _, e in builds.values()), f"the builds did not overlap: {builds}"
    steps = [step for _, step, _, _ in calls]
    assert steps.count("Implementation [cand-1]") == 1 and steps.count("Review [cand-3]") == 1
    assert steps.count("Review") == 1  # the review step then reviews the winner on the task branch

    out = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "cand-3" in out and "winner" in out and f"git merge {status['branch']}.cand-2" in out

    # gc keeps the candidates of a live task; once it is merged they go with it.
    assert run_cli("gc", cwd=repo).returncode == 0
    assert git(repo, "branch", "--list", f"{status['branch']}.cand-*").split()
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    gc = _json(repo, "gc")
    removed = {a["branch"] for a in gc["actions"] if a["kind"] == "branch" and a["outcome"] == "removed"}
    assert {f"{status['branch']}.cand-{n}" for n in (1, 2, 3)} <= removed
    assert git(repo, "branch", "--list", f"{status['branch']}.cand-*").strip() == ""
    assert shown["id"] == status["id"]


def test_discard_removes_the_candidates_and_keeps_uncommitted_work_without_force(tmp_path: Path) -> None:
    repo = best_of_three(tmp_path, gap=0.3)
    status = _json(repo, "run", "Add sub", "--workflow", "best3")
    assert status["status"] == "done"
    # The user takes a look at cand-2 in a worktree of its own and leaves a change there.
    look = paths.worktrees_dir(repo) / f"{status['id']}.cand-2"
    git(repo, "worktree", "add", str(look), f"{status['branch']}.cand-2")
    (look / "notes.txt").write_text("mine\n")
    refused = run_cli("discard", status["id"], cwd=repo)
    assert refused.returncode != 0 and "notes.txt" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert run_cli("discard", status["id"], "--force", cwd=repo).returncode == 0
    assert git(repo, "branch", "--list", f"{status['branch']}*").strip() == ""
    assert not look.exists()


@pytest.mark.parametrize(("agents", "expect"), [
    ("builder-a, nobody", ["best3.md:8", "unknown preset 'nobody'"]),
    ("builder-a", ["best3.md:8", "'agents' needs two or more presets"]),
])
def test_bad_agents_on_an_implement_step_name_the_file_and_line(tmp_path: Path, agents: str,
                                                                 expect: list[str]) -> None:
    repo = best_of_three(tmp_path)
    wf = repo / ".specrelay" / "workflows" / "best3.md"
    wf.write_text(WORKFLOW.replace("builder-a, builder-b, builder-c", agents))
    proc = run_cli("run", "Add sub", "--workflow", "best3", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    for part in expect:
        assert part in proc.stderr, proc.stderr


def test_agents_on_a_plan_step_is_refused_naming_the_line(tmp_path: Path) -> None:
    repo = best_of_three(tmp_path)
    wf = repo / ".specrelay" / "workflows" / "best3.md"
    wf.write_text(WORKFLOW.replace("<!-- agent: opus-planner -->", "<!-- agents: opus-planner, builder-a -->"))
    proc = run_cli("run", "Add sub", "--workflow", "best3", cwd=repo)
    assert proc.returncode != 0 and "best3.md:4" in proc.stderr and "best-of-N" in proc.stderr, proc.stderr


def test_sigkill_in_the_middle_then_resume_pays_no_call_twice(tmp_path: Path) -> None:
    repo = best_of_three(tmp_path)
    env = {**os.environ, **env_for(Path(os.environ["SPECRELAY_HOME"]))}
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub", "--workflow", "best3"], cwd=repo,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    record = None
    while time.monotonic() < deadline:  # kill once cand-1 is recorded and cand-2 and cand-3 still build
        found = list(paths.tasks_dir(repo).glob("*/candidates.json")) if paths.tasks_dir(repo).is_dir() else []
        if found:
            record = json.loads(found[0].read_text())
            if record["candidates"]:
                break
        time.sleep(0.02)
    assert record and [c["n"] for c in record["candidates"]] == [1], record
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)

    task_id = found[0].parent.name
    status = _json(repo, "resume", task_id)
    _check_winner(repo, status)
    ok = [(preset, step) for preset, step, _, _ in _calls(repo)]
    for preset in ("builder-a", "builder-b", "builder-c"):
        assert [p for p, _ in ok].count(preset) == 1, ok  # cand-1's build was not paid twice
    assert [s for _, s in ok].count("Review [cand-1]") == 1 and len(ok) == 1 + 3 + 3 + 1


def test_best_of_and_workstreams_on_one_step_is_refused_naming_the_line(tmp_path: Path) -> None:
    repo = best_of_three(tmp_path)
    wf = repo / ".specrelay" / "workflows" / "best3.md"
    wf.write_text(WORKFLOW.replace("<!-- agents: builder-a, builder-b, builder-c -->",
                                   "<!-- agents: builder-a, builder-b -->\n<!-- parallel: workstreams -->"))
    proc = run_cli("run", "Add sub", "--workflow", "best3", cwd=repo)
    assert proc.returncode != 0 and "best3.md:9" in proc.stderr and "workstreams" in proc.stderr, proc.stderr
