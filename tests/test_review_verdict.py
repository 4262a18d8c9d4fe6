"""One verdict rule, whoever reviews: a single reviewer in a task, `specrelay review --preset`, and a
panel all decide the verdict from the findings, never from the reviewer's own word."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

BLOCKER = {"file": "calc.py", "line": 5, "severity": "blocker", "category": "correctness",
           "title": "sub subtracts the wrong way round", "detail": "sub(3, 1) must be 2.",
           "suggestion": "return a - b"}
MINOR = {"file": "calc.py", "line": 4, "severity": "minor", "category": "style",
         "title": "sub could use type hints"}
APPROVE_WITH_BLOCKER = review("approve", [BLOCKER])
CHANGES_WITH_MINOR = review("request_changes", [MINOR])


def _repo(tmp_path: Path, reviewer: list[str], **others: list[str]) -> Path:
    return project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": reviewer, **others})


def _run(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = run_cli("run", "Add sub", *args, "--json", cwd=repo)
    return proc, json.loads(proc.stdout)


def _dirty(repo: Path) -> None:
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n")


def _two_rounds(repo: Path) -> None:
    wf = repo / ".specrelay" / "workflows"
    wf.mkdir(exist_ok=True)
    text = (Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md").read_text()
    (wf / "two.md").write_text(text.replace("<!-- max-rounds: 3 -->", "<!-- max-rounds: 2 -->"))


def test_a_single_reviewer_approving_a_blocker_gets_a_fix_round(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [APPROVE_WITH_BLOCKER, review()])
    proc, status = _run(repo)
    assert status["status"] == "done" and status["rounds"] == 2, proc.stderr
    assert status["message"] == "approved"
    folder = Path(status["folder"])
    first = json.loads((folder / "review_r1.json").read_text())
    assert first["verdict"] == "request_changes" and first["reviewer_verdict"] == "approve"
    assert "a blocker finding overrides it" in first["note"]
    fix = [c for c in json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)["calls"]
           if c["phase"] == "implement"][1]
    assert "findings" in fix["context"]


def test_a_blocker_approved_every_round_ends_needing_attention(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [APPROVE_WITH_BLOCKER] * 2)
    _two_rounds(repo)
    proc, status = _run(repo, "--workflow", "two")
    assert proc.returncode == 1 and status["status"] == "needs_attention", proc.stderr
    assert "sub subtracts the wrong way round" in status["message"]
    review_md = (Path(status["folder"]) / "review.md").read_text()
    assert "**request_changes**" in review_md and "said approve" in review_md


def test_on_demand_review_of_one_preset_decides_the_same_way(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [APPROVE_WITH_BLOCKER, APPROVE_WITH_BLOCKER])
    _dirty(repo)
    proc = run_cli("review", "--preset", "gpt-reviewer", "--json", cwd=repo)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["verdict"] == "request_changes", proc.stderr
    assert report["reviewers"][0]["verdict"] == "approve"
    assert "a blocker finding overrides it" in report["reviewers"][0]["note"]
    text = run_cli("review", "--preset", "gpt-reviewer", cwd=repo)
    assert text.returncode == 1 and "overrides it" in text.stdout, text.stderr


def test_a_panel_member_approving_its_own_blocker_requests_changes(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [APPROVE_WITH_BLOCKER], **{"gemini-reviewer": [review()], "sonnet-reviewer": [review()]})
    _dirty(repo)
    proc = run_cli("review", "--panel", "gpt-reviewer,gemini-reviewer,sonnet-reviewer", "--json", cwd=repo)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["verdict"] == "request_changes", proc.stderr
    gpt = next(r for r in report["reviewers"] if r["preset"] == "gpt-reviewer")
    assert gpt["verdict"] == "approve" and "overrides it" in gpt["note"]


def test_request_changes_with_only_minor_findings_is_an_approval_everywhere(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [CHANGES_WITH_MINOR, CHANGES_WITH_MINOR])
    proc, status = _run(repo)
    assert proc.returncode == 0 and status["status"] == "done" and status["rounds"] == 1, proc.stderr
    assert status["message"] == "approved"
    recorded = json.loads((Path(status["folder"]) / "review.json").read_text())
    assert recorded["verdict"] == "approve" and recorded["reviewer_verdict"] == "request_changes"
    assert "no blocker or major finding" in recorded["note"]
    review_step = status["steps"][-1]["detail"]
    assert review_step["verdict"] == "approve"
    _dirty(repo)
    on_demand = run_cli("review", "--preset", "gpt-reviewer", "--json", cwd=repo)
    assert on_demand.returncode == 0 and json.loads(on_demand.stdout)["verdict"] == "approve", on_demand.stderr


def test_one_major_from_a_single_reviewer_that_approves_still_blocks(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [review("approve", [MAJOR]), review()])
    proc, status = _run(repo)
    assert status["status"] == "done" and status["rounds"] == 2, proc.stderr


def test_a_run_shows_when_the_reviewers_own_verdict_did_not_count(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [APPROVE_WITH_BLOCKER, CHANGES_WITH_MINOR])
    proc = run_cli("run", "Add sub", cwd=repo, env={"COLUMNS": "200"})
    shown = proc.stdout + proc.stderr
    assert proc.returncode == 0, shown
    assert "the reviewer said approve; a blocker finding overrides it" in shown
    # the step ran either way; only an approval is marked as a pass
    assert "↻ Review · request_changes (1 finding)" in shown and "1 findings" not in shown
    assert "the reviewer said request_changes, but raised no blocker or major finding; counted as approve" in shown
    assert "✓ Review · approve (1 finding)" in shown
