"""Review panels: in a workflow step and on demand with `specrelay review`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

NO_DOC_GEMINI = {**MAJOR, "line": 6, "category": "documentation",
                 "title": "Function sub lacks a docstring", "detail": "sub() is public and undocumented."}
NIT = {"file": "calc.py", "line": 1, "severity": "nit", "category": "style", "title": "add could use type hints"}
FAIL = [{"error": {"status": 500}}] * 2


def panel_repo(tmp_path: Path, gpt: list, gemini: list, sonnet: list) -> Path:
    return project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": gpt, "gemini-reviewer": gemini, "sonnet-reviewer": sonnet})


def test_panel_step_merges_by_agreement_and_drives_the_fix_loop(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path,
                      gpt=[review("request_changes", [MAJOR]), review()],
                      gemini=[review("request_changes", [NO_DOC_GEMINI]), review()],
                      sonnet=[review("approve", [NIT]), review()])
    proc = run_cli("run", "Add sub", "--workflow", "comprehensive-review", "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "done" and status["rounds"] == 2, proc.stderr
    folder = Path(status["folder"])
    first = json.loads((folder / "final_review_r1.json").read_text())
    assert first["verdict"] == "request_changes"
    top = first["findings"][0]
    assert top["agreement"] == 2 and sorted(top["reviewers"]) == ["gemini-reviewer", "gpt-reviewer"]
    for i in (1, 2, 3):
        worker = json.loads((folder / f"review_worker_{i}.json").read_text())
        assert worker["preset"] and worker["model"] and worker["verdict"]
    calls = json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)["calls"]
    builds = [c for c in calls if c["phase"] == "implement"]
    assert "findings" not in builds[0]["context"] and "findings" in builds[1]["context"]
    assert {p["preset"] for p in status["panel"]} == {"gpt-reviewer", "gemini-reviewer", "sonnet-reviewer"}
    assert "gpt-reviewer" in (folder / "final_review.md").read_text()
    shown = run_cli("status", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "review panel:" in shown and "sonnet-reviewer approve" in shown


def test_single_major_does_not_reach_agreement_in_a_panel_of_three(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=[review("request_changes", [MAJOR])], gemini=[review()], sonnet=[review()])
    status = json.loads(run_cli("run", "Add sub", "--workflow", "comprehensive-review", "--json", cwd=repo).stdout)
    assert status["status"] == "done" and status["rounds"] == 1


def test_a_failing_reviewer_is_reported_and_the_panel_goes_on(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=FAIL, gemini=[review()], sonnet=[review()])
    status = json.loads(run_cli("run", "Add sub", "--workflow", "comprehensive-review", "--json", cwd=repo).stdout)
    assert status["status"] == "done"
    failed = [p for p in status["panel"] if p.get("error")]
    assert [p["preset"] for p in failed] == ["gpt-reviewer"]


def test_two_failing_reviewers_fail_the_step_clearly(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=FAIL, gemini=FAIL, sonnet=[review()])
    proc = run_cli("run", "Add sub", "--workflow", "comprehensive-review", cwd=repo)
    assert_clean_error(proc, "only 1 of 3 reviewers answered")


def _dirty(repo: Path) -> None:
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n")


def test_on_demand_review_exit_codes_and_reports(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=[review("request_changes", [MAJOR]), review()],
                      gemini=[review("request_changes", [NO_DOC_GEMINI]), review()], sonnet=[review(), review()])
    nothing = run_cli("review", cwd=repo)
    assert nothing.returncode == 0 and "Nothing to review" in nothing.stdout
    _dirty(repo)
    proc = run_cli("review", "--panel", "gpt-reviewer,gemini-reviewer,sonnet-reviewer", "--json", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "request_changes" and report["findings"][0]["agreement"] == 2
    saved = list((repo / ".specrelay" / "reviews").iterdir())
    assert len(saved) == 1 and (saved[0] / "final_review.md").is_file()
    assert (saved[0] / "review_worker_3.json").is_file()
    text = run_cli("review", "--preset", "sonnet-reviewer", cwd=repo)
    assert text.returncode == 0 and "approve" in text.stdout, text.stderr


def test_on_demand_review_of_a_range_a_branch_and_a_task(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=[review()] * 5, gemini=[], sonnet=[])
    _dirty(repo)
    subprocess.run(["git", "commit", "-qam", "sub"], cwd=repo, check=True)
    assert run_cli("review", "HEAD~1..HEAD", "--preset", "gpt-reviewer", cwd=repo).returncode == 0
    subprocess.run(["git", "branch", "feature", "HEAD"], cwd=repo, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo, check=True)
    assert run_cli("review", "feature", "--preset", "gpt-reviewer", cwd=repo).returncode == 0


def test_on_demand_review_bad_input(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=[{"error": {"kind": "auth", "message": "key refused"}}], gemini=[], sonnet=[])
    _dirty(repo)
    assert_clean_error(run_cli("review", "--panel", "gpt-reviewer,nope", cwd=repo), "unknown preset 'nope'")
    assert_clean_error(run_cli("review", "no-such-ref", cwd=repo), "no-such-ref")
    assert_clean_error(run_cli("review", "--spec", "missing.md", cwd=repo), "--spec missing.md")
    # a reviewer with no replies at all is refused before it is asked
    assert_clean_error(run_cli("review", "--preset", "gemini-reviewer", cwd=repo), "gemini-reviewer.json", "empty list")
    proc = run_cli("review", "--preset", "gpt-reviewer", cwd=repo)  # a provider error
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "✗ gpt-reviewer failed\n" in proc.stderr and proc.stderr.count("key refused") == 1, proc.stderr
    assert "error: review: the reviewer failed: gpt-reviewer: " in proc.stderr


def test_optional_prose_synthesis_does_not_change_the_merge(tmp_path: Path) -> None:
    repo = project(tmp_path, {"gpt-reviewer": [review("request_changes", [MAJOR])],
                              "gemini-reviewer": [review("request_changes", [NO_DOC_GEMINI])],
                              "opus-planner": ["Both reviewers want a docstring on sub; nothing else matters."]},
                   extra='\n[review]\nconsolidate = "opus-planner"\n')
    _dirty(repo)
    proc = run_cli("review", "--panel", "gpt-reviewer,gemini-reviewer", "--json", cwd=repo)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["synthesis"]["text"].startswith("Both reviewers")
    assert report["findings"][0]["agreement"] == 2
    saved = next((repo / ".specrelay" / "reviews").iterdir())
    assert "## Synthesis (opus-planner)" in (saved / "final_review.md").read_text()


def test_review_ranges_name_with_spaces_and_json_on_error(tmp_path: Path) -> None:
    finding = {**MAJOR, "file": "my file.py", "line": 1}
    repo = panel_repo(tmp_path, gpt=[review("request_changes", [finding])] * 3 + [review()] * 3,
                      gemini=[], sonnet=[])
    (repo / "my file.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "base"], cwd=repo, check=True)
    (repo / "my file.py").write_text("x = 2\n")
    proc = run_cli("review", "--preset", "gpt-reviewer", "--json", cwd=repo)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and not report["findings"][0]["outside_diff"]
    assert report["target"]["files"] == ["my file.py"] and Path(report["folder"], "diff.patch").is_file()
    subprocess.run(["git", "commit", "-qam", "feature work"], cwd=repo, check=True)
    # an ancestor of HEAD reviews HEAD since it; A...B reviews B since it left A
    behind = json.loads(run_cli("review", "HEAD~1", "--preset", "gpt-reviewer", "--json", cwd=repo).stdout)
    assert behind["target"]["label"] == "HEAD since HEAD~1" and behind["target"]["files"] == ["my file.py"]
    assert run_cli("review", "HEAD~1...HEAD", "--preset", "gpt-reviewer", cwd=repo).returncode == 1
    bad = run_cli("review", "--panel", "gpt-reviewer,gpt-reviewer", "--json", cwd=repo)
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"].startswith("--panel")


def test_review_from_a_linked_worktree_reviews_that_worktree(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=[review()], gemini=[], sonnet=[])
    other = tmp_path / "wt"
    subprocess.run(["git", "worktree", "add", "-q", "-b", "feature", str(other)], cwd=repo, check=True)
    (other / "calc.py").write_text("changed\n")
    proc = run_cli("review", "--preset", "gpt-reviewer", cwd=other)
    assert proc.returncode == 0 and "Nothing to review" not in proc.stdout, proc.stderr


def test_a_reviewer_whose_reply_is_not_json_is_dropped_by_name_and_its_reply_kept(tmp_path: Path) -> None:
    repo = panel_repo(tmp_path, gpt=["not json", "still not json"], gemini=[review()], sonnet=[review()])
    proc = run_cli("run", "Add sub", "--workflow", "comprehensive-review", cwd=repo, env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(run_cli("status", "last", "--json", cwd=repo).stdout)[0]
    assert status["status"] == "done"
    kept = Path(status["folder"]) / "rejected_review_r1_gpt-reviewer.md"
    assert "still not json" in kept.read_text()
    [dropped] = [p for p in status["panel"] if p.get("error")]
    assert dropped["preset"] == "gpt-reviewer" and str(kept) in dropped["error"]
    # The run said which reviewer was dropped, and where its reply is.
    assert any("gpt-reviewer" in line and str(kept) in line for line in proc.stdout.splitlines()), proc.stdout
    shown = json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)
    assert shown["rejected"] == ["rejected_review_r1_gpt-reviewer.md"]
    assert "FAILED" in (Path(status["folder"]) / "final_review.md").read_text()
