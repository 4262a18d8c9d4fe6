"""`specrelay review --json`: one shape whether or not there is something to review, durations rounded."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_clean_error, make_repo, run_cli, scripted, write_user_config
from taskkit import happy_replies, project, review


def test_review_json_has_one_shape_and_rounded_durations(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("sonnet-reviewer", [review()], extra='price_as = "gpt-5.4"'))
    nothing = run_cli("review", "--json", cwd=repo)
    assert nothing.returncode == 0, nothing.stderr
    empty = json.loads(nothing.stdout)
    (repo / "README.md").write_text("# changed\n")
    reviewed = run_cli("review", "--json", cwd=repo)
    assert reviewed.returncode == 0, reviewed.stderr
    full = json.loads(reviewed.stdout)
    assert set(empty) == set(full), set(empty) ^ set(full)
    assert empty["verdict"] == "approve" and empty["answered"] == 0 and empty["cost_usd"] == 0
    assert empty["min_agreement"] == full["min_agreement"] == 1 and empty["id"] is None
    (reviewer,) = full["reviewers"]
    assert isinstance(reviewer["latency_s"], float) and round(reviewer["latency_s"], 3) == reviewer["latency_s"]


def test_an_invalid_review_reply_is_kept_and_the_error_names_where(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("sonnet-reviewer", ["not json", "still {not json}"] * 2))
    (repo / "README.md").write_text("# changed\n")
    proc = run_cli("review", cwd=repo)
    assert_clean_error(proc, "did not answer valid JSON")
    [line] = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and "reply is kept in " in line, proc.stderr
    kept = Path(line.split("reply is kept in ", 1)[1].rstrip(".").split()[0].rstrip(";.,"))
    [folder] = (repo / ".specrelay" / "reviews").iterdir()
    assert kept == folder / "rejected_review_sonnet-reviewer.md", line
    text = kept.read_text()
    assert "still {not json}" in text and "sonnet-reviewer" in text and "invalid JSON" in text
    worker = json.loads((folder / "review_worker_1.json").read_text())
    assert worker["reply_kept_in"] == str(kept)
    as_json = run_cli("review", "--json", cwd=repo)  # a CI job reading stdout is told where too
    assert as_json.returncode == 2 and "rejected_review_sonnet-reviewer.md" in json.loads(as_json.stdout)["error"]


def test_an_invalid_review_in_a_task_is_kept_as_an_artifact_and_shown(tmp_path: Path) -> None:
    repo = project(tmp_path, {**happy_replies(), "gpt-reviewer": ["not json", "still not json"]})
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "failed"
    kept = Path(status["folder"]) / "rejected_review_r1.md"
    assert f"reply is kept in {kept}" in proc.stderr, proc.stderr
    assert "still not json" in kept.read_text()
    shown = json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)
    assert shown["rejected"] == ["rejected_review_r1.md"], shown["rejected"]
    text = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "Rejected replies: rejected_review_r1.md" in text, text
    assert run_cli("show", status["id"], "rejected_review_r1.md", cwd=repo).stdout == kept.read_text()


def test_a_review_cut_off_at_its_output_cap_is_kept_too(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("sonnet-reviewer", [review()], extra="max_tokens = 8"))
    (repo / "README.md").write_text("# changed\n")
    proc = run_cli("review", cwd=repo)
    assert_clean_error(proc, "cut off at its output cap of 8 tokens", "the reply is kept in ")
    [folder] = (repo / ".specrelay" / "reviews").iterdir()
    kept = folder / "rejected_review_sonnet-reviewer.md"
    assert str(kept) in proc.stderr and review()[:32] in kept.read_text()
