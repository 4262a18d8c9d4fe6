"""`specrelay review --json`: one shape whether or not there is something to review, durations rounded."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_repo, run_cli, scripted, write_user_config
from taskkit import review


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
