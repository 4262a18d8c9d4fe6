"""kind: second-opinion and ask --oracle: another model checks spec.md before the build, in schema-checked JSON,
and sends blocking findings back to the planner for one revision; through the CLI with scripted presets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review

REVISED = SPEC.replace("A function next to add.", "A function next to add; sub(a, b) is a minus b, tested both ways.")

WORKFLOW = """# Checked plan

### [ ] Step: Planning
<!-- agent: opus-planner -->
Plan it.

### [ ] Step: Second opinion
<!-- agent: sonnet-reviewer -->
Check the plan against the request.

### [ ] Step: Implementation
<!-- agent: flash-builder -->
Build it.

### [ ] Step: Verification
<!-- kind: verify -->

### [ ] Step: Review
<!-- agent: gpt-reviewer -->
Review it.
"""


def opinion(verdict: str, *findings: tuple[str, str]) -> str:
    return json.dumps({"verdict": verdict, "summary": "Checked against the request.",
                       "findings": [{"kind": kind, "severity": severity, "title": f"{kind} ({severity})",
                                     "detail": "why", "suggestion": "fix it"} for kind, severity in findings]})


def repo_with(tmp_path: Path, opinions: list[Any], planner: list[Any] | None = None) -> Path:
    repo = project(tmp_path, {"opus-planner": planner or [SPEC], "sonnet-reviewer": opinions,
                              "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir()
    (folder / "checked.md").write_text(WORKFLOW)
    return repo


def run_checked(repo: Path) -> dict[str, Any]:
    proc = run_cli("run", "Add sub", "--workflow", "checked", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status: dict[str, Any] = json.loads(proc.stdout)
    return status


def calls(repo: Path, task: str, phase: str) -> list[dict[str, Any]]:
    shown = json.loads(run_cli("show", task, "--json", cwd=repo).stdout)
    return [c for c in shown["calls"] if c["phase"] == phase]


def test_an_approving_second_opinion_lets_the_build_go_on(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, [opinion("approve", ("missing_case", "minor"))])
    status = run_checked(repo)
    assert status["status"] == "done"
    folder = Path(status["folder"])
    kept = json.loads((folder / "second_opinion.json").read_text())
    assert kept["verdict"] == "approve" and kept["preset"] == "sonnet-reviewer" and len(kept["findings"]) == 1
    assert "Verdict: **approve**" in (folder / "second_opinion.md").read_text()
    assert len(calls(repo, status["id"], "plan")) == 1
    assert not (folder / "spec_before_opinion.md").exists()


def test_blocking_findings_send_the_plan_back_once_and_the_revision_is_checked(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, [opinion("revise", ("wrong_assumption", "major"), ("scope_creep", "minor")),
                                opinion("approve")], planner=[SPEC, REVISED])
    status = run_checked(repo)
    assert status["status"] == "done"
    folder = Path(status["folder"])
    assert (folder / "spec.md").read_text() == REVISED
    assert (folder / "spec_before_opinion.md").read_text() == SPEC
    plans = calls(repo, status["id"], "plan")
    assert len(plans) == 2
    assert "opinion" not in plans[0]["context"] and {"previous", "opinion"} <= set(plans[1]["context"])
    assert len(calls(repo, status["id"], "second-opinion")) == 2
    assert json.loads((folder / "second_opinion.json").read_text())["verdict"] == "approve"


def test_findings_that_remain_after_the_one_revision_are_noted_and_the_build_goes_on(tmp_path: Path) -> None:
    blocking = opinion("revise", ("missing_case", "blocker"))
    repo = repo_with(tmp_path, [blocking, blocking], planner=[SPEC, REVISED])
    proc = run_cli("run", "Add sub", "--workflow", "checked", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "the plan goes back to the planner once: missing_case (blocker)" in proc.stdout
    assert "findings remain after one revision, the build goes on: missing_case (blocker)" in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "done"
    assert len(calls(repo, task["id"], "plan")) == 2  # one revision, never two


def test_an_approval_with_a_blocker_is_overridden(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, [opinion("approve", ("missing_case", "blocker")), opinion("approve")],
                     planner=[SPEC, REVISED])
    proc = run_cli("run", "Add sub", "--workflow", "checked", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "the second opinion said approve; its blocker finding overrides it" in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert len(calls(repo, task["id"], "plan")) == 2


def test_a_second_opinion_that_is_not_valid_json_twice_fails_the_step_and_keeps_the_reply(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, ["Looks fine to me!", '{"verdict": "maybe"}'])
    proc = run_cli("run", "Add sub", "--workflow", "checked", cwd=repo)
    assert_clean_error(proc, "step 'Second opinion'", "did not answer valid JSON, even after a repair request",
                       "rejected_second_opinion.md")
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "failed"
    folder = Path(task["folder"])
    assert (folder / "rejected_second_opinion.md").read_text() == '{"verdict": "maybe"}\n'
    assert len(calls(repo, task["id"], "second-opinion")) == 2  # the reply and one repair, then no more
    assert calls(repo, task["id"], "implement") == []  # nothing was built on an unchecked plan


def test_ask_oracle_answers_a_checked_second_opinion(tmp_path: Path) -> None:
    repo = project(tmp_path, {"sonnet-reviewer": ["not json", opinion("revise", ("scope_creep", "major"))]})
    (repo / "plan.md").write_text(SPEC)
    proc = run_cli("ask", "--oracle", "Is this plan right for adding sub?", "--file", "plan.md", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["preset"] == "sonnet-reviewer"  # the ask route's
    assert answer["opinion"]["verdict"] == "revise" and answer["opinion"]["findings"][0]["kind"] == "scope_creep"
    assert answer["text"].startswith("# Second opinion (sonnet-reviewer)")
    bad = project(tmp_path / "bad", {"sonnet-reviewer": ["nope", "still nope"]})
    assert_clean_error(run_cli("ask", "--oracle", "Check this", cwd=bad),
                       "did not answer valid JSON, even after a repair request")
