"""``routes suggest`` on a ledger built by real scripted runs: several tasks on different builders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

PRICES = {"pricey": "claude-opus-4-1", "cheap": "gemini-2.5-flash", "flaky": "gemini-2.0-flash-lite"}


def cli_json(repo: Path, *args: str) -> Any:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def builders_project(tmp_path: Path) -> Path:
    repo = project(tmp_path, {"opus-planner": [SPEC], "gpt-reviewer": [review()], "pricey": [ADD_SUB],
                              "cheap": [ADD_SUB], "flaky": [ADD_SUB, FIX_SUB]})
    config = repo / ".specrelay" / "config.toml"
    text = config.read_text()
    for name, model in PRICES.items():
        text = re.sub(rf'(\[presets\.{name}\][^\[]*?)price_as = "gpt-5.4"', rf'\1price_as = "{model}"', text)
    config.write_text(text)
    return repo


def route_implement(repo: Path, preset: str) -> None:
    config = repo / ".specrelay" / "config.toml"
    text = re.sub(r'\n\[routes\]\nimplement = "[^"]*"\n', "\n", config.read_text())
    config.write_text(text + f'\n[routes]\nimplement = "{preset}"\n')


def run_tasks(repo: Path, preset: str, n: int, *, reviews: list[str] | None = None) -> None:
    route_implement(repo, preset)
    (repo / ".specrelay" / "gpt-reviewer.json").write_text(json.dumps(reviews or [review()]))
    for i in range(n):
        status = cli_json(repo, "run", f"Add sub {preset} {i}")
        assert status["status"] == "done", status["message"]


def test_suggests_the_cheapest_builder_that_did_as_well_with_its_evidence(tmp_path: Path) -> None:
    repo = builders_project(tmp_path)
    run_tasks(repo, "pricey", 3)
    run_tasks(repo, "cheap", 3)
    # The cheapest of all needs a second round every time: not as good, however cheap.
    run_tasks(repo, "flaky", 3, reviews=[review("request_changes", [MAJOR]), review()])
    route_implement(repo, "pricey")  # the user's current route
    config_before = (repo / ".specrelay" / "config.toml").read_text()
    found = cli_json(repo, "routes", "suggest")
    assert found["tasks"] == 9 and found["changes_config"] is False
    kinds = {k["kind"]: k for k in found["kinds"]}
    implement = kinds["implement"]
    assert implement["current"] == "pricey" and implement["suggested"] == "cheap"
    assert implement["rests_on"] == 3
    evidence = {e["preset"]: e for e in implement["evidence"]}
    assert {p: (e["tasks"], e["approved"], e["mean_rounds"]) for p, e in evidence.items()} == {
        "pricey": (3, 3, 1.0), "cheap": (3, 3, 1.0), "flaky": (3, 3, 2.0)}
    assert evidence["flaky"]["cost_per_task_usd"] < evidence["cheap"]["cost_per_task_usd"] < \
        evidence["pricey"]["cost_per_task_usd"]
    saved = evidence["pricey"]["cost_per_task_usd"] - evidence["cheap"]["cost_per_task_usd"]
    assert abs(implement["saves_per_task_usd"] - saved) < 1e-12
    assert "cheap approved 3/3 (100%)" in implement["reason"]
    # The planner had no rival: nothing to suggest, and it says why.
    assert kinds["plan"]["suggested"] is None and "no cheaper preset" in kinds["plan"]["reason"]
    text = run_cli("routes", "suggest", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "implement: suggest cheap instead of pricey (rests on 3 tasks" in text
    assert '[routes] implement = "cheap"' in text and "The config is unchanged" in text
    assert (repo / ".specrelay" / "config.toml").read_text() == config_before


def test_too_little_evidence_says_so_rather_than_suggesting(tmp_path: Path) -> None:
    repo = builders_project(tmp_path)
    run_tasks(repo, "pricey", 2)
    run_tasks(repo, "cheap", 3)
    route_implement(repo, "pricey")
    kinds = {k["kind"]: k for k in cli_json(repo, "routes", "suggest")["kinds"]}
    assert kinds["implement"]["suggested"] is None
    assert "too little evidence: the current preset pricey has 2 ended tasks here, 3 are needed" \
        in kinds["implement"]["reason"]
    empty = run_cli("routes", "suggest", cwd=builders_project(tmp_path / "fresh"))
    assert empty.returncode == 0 and "No ended tasks" in empty.stdout
