"""Budgets that are spent, not reserved away: a call's output cap is lowered to what the budget can pay
for, down to the phase's floor; only a floor that does not fit pauses the task. Through the CLI."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli, write_user_config
from taskkit import ADD_SUB, SPEC, happy_replies, project, review

from specrelay.config import load_config
from specrelay.errors import BudgetExceeded


def run_json(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = run_cli(*args, "--json", cwd=repo)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None


def calls_of(repo: Path, task_id: str) -> list[dict]:
    return run_json(repo, "show", task_id)[1]["calls"]


def test_a_small_budget_lowers_caps_and_the_task_finishes(tmp_path: Path) -> None:
    # Reserving the planner's max_tokens (16,000 at $15/M = $0.24) would pause this task at once;
    # its calls really cost about $0.006.
    repo = project(tmp_path, happy_replies())
    proc, status = run_json(repo, "run", "Add sub", "--budget", "0.05")
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr
    calls = calls_of(repo, status["id"])
    plan = next(c for c in calls if c["phase"] == "plan")
    assert plan["capped_by_budget"] and 2048 <= plan["max_tokens"] < 16000
    assert sum(c["cost_usd"] for c in calls) <= 0.05
    shown = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "250"}).stdout
    assert f"(cap {plan['max_tokens']:,}: budget)" in shown


def test_a_budget_below_the_floor_pauses_saying_floor_left_and_how_to_resume(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc, status = run_json(repo, "run", "Add sub", "--budget", "0.01")
    assert proc.returncode != 0 and status["status"] == "paused"
    line = proc.stderr.strip()
    assert "$0.0100 is left of its $0.01 budget" in line
    assert "floor of 2,048 output tokens" in line and "plan on opus-planner" in line
    match = re.search(rf"specrelay resume {status['id']} --budget ([0-9.]+)$", line)
    assert match, line
    assert calls_of(repo, status["id"]) == []  # paused before paying anything
    proc, status = run_json(repo, "resume", status["id"], "--budget", match.group(1))
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr


def test_min_output_tokens_of_a_preset_sets_its_floor(tmp_path: Path) -> None:
    # $0.01 cannot pay the default floors (a plan of 2,048 tokens costs $0.03 here); with floors of
    # 100 tokens the same budget carries the task through.
    repo = project(tmp_path, happy_replies(), preset_extra="min_output_tokens = 100")
    proc, status = run_json(repo, "run", "Add sub", "--budget", "0.01")
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr
    calls = calls_of(repo, status["id"])
    assert all(c["capped_by_budget"] and c["max_tokens"] < 2048 for c in calls)
    assert sum(c["cost_usd"] for c in calls) <= 0.01


def test_a_panel_under_a_tight_budget_shares_it_and_never_overshoots(tmp_path: Path) -> None:
    # The three reviewers start together (each reply takes 0.3 s): each must get its share of what is
    # left, not the first one all of it; together they must not spend past the budget.
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()],
                              "gemini-reviewer": [review()], "sonnet-reviewer": [review()]}, delay=0.3)
    budget = 0.08  # after plan and build, about three review floors and a half are left
    proc, status = run_json(repo, "run", "Add sub", "--workflow", "comprehensive-review", "--budget", str(budget))
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr
    calls = calls_of(repo, status["id"])
    reviews = [c for c in calls if c["phase"] == "review"]
    assert len(reviews) == 3 and all(c["capped_by_budget"] and c["max_tokens"] >= 1024 for c in reviews)
    assert sum(c["cost_usd"] for c in calls) <= budget + 1e-5  # JSON rounds each cost to the micro-dollar
    # what they reserved together fitted too: every cap paid in full stays within the budget
    worst = sum(c["cost_usd"] for c in calls if c["phase"] != "review") + sum(
        (c["input_tokens"] * 2.5 + c["max_tokens"] * 15) / 1e6 for c in reviews)
    assert worst <= budget + 1e-5


def test_a_scripted_reply_longer_than_its_cap_is_cut_and_counted_as_the_cap(tmp_path: Path) -> None:
    replies = tmp_path / "specrelay-home"
    replies.mkdir()
    (replies / "s.json").write_text(json.dumps(["x" * 400]))
    write_user_config('[presets.s]\nprovider = "scripted"\nmodel = "s"\nreplies = "s.json"\nmax_tokens = 10\n')
    out = json.loads(run_cli("ask", "hi", "--preset", "s", "--json").stdout)
    assert out["text"] == "x" * 40 and out["output_tokens"] == 10


def test_claims_in_flight_cannot_overshoot_together(tmp_path: Path) -> None:
    from specrelay.engine.budget import Budget

    write_user_config('[presets.p]\nprovider = "scripted"\nmodel = "p"\nreplies = "r.json"\n'
                      'price = {input = 1.0, output = 1.0}\n')
    preset = load_config(None).preset("p")
    budget = Budget(0.0025)
    first = budget.reserve(preset, 0, 1000, "review")  # floor 1,000 (the whole cap): $0.001
    second = budget.reserve(preset, 0, 1000, "review")
    with pytest.raises(BudgetExceeded, match=r"\$0.0020 reserved by calls in flight"):
        budget.reserve(preset, 0, 1000, "review")  # a third at once could overshoot
    budget.release(budget.grow(first), 0.0004)
    grown = budget.grow(second)
    assert grown.cap == 1000 and budget.in_flight == pytest.approx(0.001)
    budget.release(grown, None)
    assert budget.left == pytest.approx(0.0021)


def test_a_reply_cut_off_at_a_cap_the_budget_lowered_pauses_instead_of_being_used(tmp_path: Path) -> None:
    # A spec of about 10,000 tokens; $0.05 lowers the plan's cap to about 3,000: the cut spec must not
    # be ticked as the plan and built on. The task pauses; with more budget the plan is asked again.
    long_spec = SPEC + "\n## Notes\n" + "".join(f"- point number {n}\n" for n in range(2400))
    repo = project(tmp_path, {**happy_replies(), "opus-planner": [long_spec, long_spec]})
    proc, status = run_json(repo, "run", "Add sub", "--budget", "0.05")
    assert proc.returncode != 0 and status["status"] == "paused", proc.stderr
    assert "cut off at" in proc.stderr and "was not used" in proc.stderr, proc.stderr
    assert not (Path(status["folder"]) / "spec.md").exists()
    (plan,) = calls_of(repo, status["id"])
    assert plan["outcome"] == "cut_by_budget" and plan["capped_by_budget"]
    proc, status = run_json(repo, "resume", status["id"], "--budget", "2")
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr
    spec = (Path(status["folder"]) / "spec.md").read_text()
    assert spec.rstrip().endswith("point number 2399")


def test_a_task_paused_before_any_call_shows_no_table_of_zeros(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", "--budget", "0.01", cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode != 0 and "0 calls" in proc.stdout, proc.stdout + proc.stderr
    assert "The same tokens all on" not in proc.stdout and "input" not in proc.stdout, proc.stdout
    assert "specrelay resume" in proc.stderr
