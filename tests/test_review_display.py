"""How `specrelay review` shows a review: the report rendered for the terminal (the saved file stays
Markdown), worded for one reviewer when there is one, and each reviewer's start and end on stderr."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from taskkit import MAJOR, project, review

NIT = {"file": "calc.py", "line": 1, "severity": "nit", "category": "style", "title": "add could use type hints"}
FAIL = [{"error": {"status": 500}}] * 2
WIDE = {"COLUMNS": "200"}


def _repo(tmp_path: Path, **replies: list) -> Path:
    repo = project(tmp_path, replies)
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n")
    return repo


def _saved(repo: Path) -> str:
    [folder] = (repo / ".specrelay" / "reviews").iterdir()
    return (folder / "final_review.md").read_text()


def test_one_reviewer_report_is_rendered_and_worded_for_one(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"gpt-reviewer": [review("request_changes", [MAJOR])]})
    proc = run_cli("review", "--preset", "gpt-reviewer", cwd=repo, env=WIDE)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "Reviewed: the uncommitted changes against HEAD (1 file)" in out
    assert "**" not in out and "|---" not in out and "###" not in out
    assert "Panel" not in out and "Raised by" not in out and "1/1" not in out and "1 of 1" not in out
    assert "1 finding" in out and "1 findings" not in out and "sub has no docstring" in out
    saved = _saved(repo)  # the file on disk stays Markdown
    assert saved.startswith("# Review\n") and "**Verdict: request_changes**" in saved and "### 1." in saved
    assert "Raised by" not in saved and "Panel" not in saved


def test_panel_report_is_rendered_with_tables_not_pipes(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"gpt-reviewer": [review("request_changes", [MAJOR])],
                              "sonnet-reviewer": [review("request_changes", [MAJOR, NIT])]})
    proc = run_cli("review", "--panel", "gpt-reviewer,sonnet-reviewer", cwd=repo, env=WIDE)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "Panel review" in out and "Raised by 2 of 2" in out and "2 findings" in out
    assert "**" not in out and "|---" not in out and "| reviewer |" not in out
    assert "gpt-reviewer" in out and "sonnet-reviewer" in out
    assert "|---|" in _saved(repo)


def test_each_reviewer_start_and_end_is_shown_on_stderr(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"gpt-reviewer": [review("approve", [NIT])] * 2, "gemini-reviewer": FAIL * 2,
                              "sonnet-reviewer": [review(), review()]})
    for extra in ([], ["--json"]):
        proc = run_cli("review", "--panel", "gpt-reviewer,gemini-reviewer,sonnet-reviewer", *extra, cwd=repo,
                       env=WIDE)
        assert proc.returncode == 0, proc.stderr
        err = proc.stderr
        for preset in ("gpt-reviewer", "gemini-reviewer", "sonnet-reviewer"):
            assert f"▶ {preset} reviewing" in err and f"{preset} reviewing" not in proc.stdout
        assert "✓ gpt-reviewer (scripted-gpt-reviewer) said approve · 1 finding · $" in err
        assert "✓ sonnet-reviewer (scripted-sonnet-reviewer) said approve · 0 findings · $" in err
        assert "✗ gemini-reviewer failed:" in err and " s\n" in err
    report = json.loads(proc.stdout)  # --json: stdout is one JSON object, the lines went to stderr
    assert report["verdict"] == "approve" and len(report["reviewers"]) == 3
