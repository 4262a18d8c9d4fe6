"""kind: debate: the proposer writes proposal.md, a challenger of another family answers it point by point in
schema-checked JSON (counter.md), contested points get follow-up rounds, and the proposer writes the consensus
spec.md with what was contested and how it ended; through the CLI with scripted presets."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, make_repo, run_cli
from taskkit import ADD_SUB, SPEC, project, review

from specrelay import paths

CONSENSUS = SPEC.replace("A function next to add.", "A function next to add, with a docstring and a test of "
                         "negative numbers.")

STEPS = """### [ ] Step: Implementation
<!-- agent: flash-builder -->
Build it.

### [ ] Step: Verification
<!-- kind: verify -->

### [ ] Step: Review
<!-- agent: sonnet-reviewer -->
Review it.
"""


def debate_flow(extra: str = "", agent: str = "opus-planner", challenger: str | None = "gpt-reviewer") -> str:
    against = f"<!-- challenger: {challenger} -->\n" if challenger else ""
    return (f"# Debated plan\n\n### [ ] Step: Debate\n<!-- agent: {agent} -->\n{against}{extra}"
            f"Propose a plan for the request.\n\n{STEPS}")


def point(tag: str, title: str, *, number: int | None = None, change: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"tag": tag, "title": title, "detail": f"about {title}"}
    if change or tag == "change":
        out["change"] = change or f"change {title}"
    if number is not None:
        out["point"] = number
    return out


def counter(*points: dict[str, Any]) -> str:
    return json.dumps({"summary": "Read the proposal.", "points": list(points)})


def answers(*items: tuple[int, str]) -> str:
    return json.dumps({"answers": [{"point": n, "stance": stance, "reason": f"because {n}"} for n, stance in items]})


def repo_with(tmp_path: Path, planner: list[Any], challenger: list[Any], *, flow: str | None = None,
              **kwargs: Any) -> Path:
    repo = project(tmp_path, {"opus-planner": planner, "gpt-reviewer": challenger, "flash-builder": [ADD_SUB],
                              "sonnet-reviewer": [review()]}, **kwargs)
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir()
    (folder / "debated.md").write_text(flow if flow is not None else debate_flow())
    return repo


def run_json(repo: Path, *args: str) -> dict[str, Any]:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def debate_calls(repo: Path, task: str) -> list[dict[str, Any]]:
    return [c for c in run_json(repo, "show", task)["calls"] if c["phase"] == "debate"]


def test_a_debate_that_converges_after_the_counter_keeps_the_proposal_as_the_spec(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, [SPEC], [counter(point("agree", "sub beside add"), point("agree", "unittest"))])
    status = run_json(repo, "run", "Add sub", "--workflow", "debated")
    assert status["status"] == "done"
    folder = Path(status["folder"])
    assert (folder / "proposal.md").read_text() == SPEC
    assert "1. **[agree] sub beside add**" in (folder / "counter.md").read_text()
    assert "Nothing is contested" in (folder / "counter.md").read_text()
    spec = (folder / "spec.md").read_text()
    assert spec.startswith(SPEC) and spec.endswith(
        "## Contested points\n\nNone: gpt-reviewer challenged opus-planner's proposal and agreed with each of its "
        "2 points.\n")
    calls = debate_calls(repo, status["id"])
    assert [c["preset"] for c in calls] == ["opus-planner", "gpt-reviewer"]  # no round, no consensus call
    assert "proposal" in calls[1]["context"]
    record = json.loads((folder / "debate.json").read_text())
    assert record["converged"] is True and record["rounds"] == 0 and not (folder / "reply_1.md").exists()


def test_a_contested_point_is_resolved_in_the_follow_up_round(tmp_path: Path) -> None:
    first = counter(point("agree", "sub beside add"), point("change", "docstring", change="document sub"),
                    point("disagree", "no negative test"))
    skipped = counter(point("agree", "docstring", number=2))  # leaves point 3 out: sent back once
    follow = counter(point("agree", "docstring", number=2), point("agree", "negatives", number=3))
    repo = repo_with(tmp_path, [SPEC, answers((2, "accept"), (3, "amend")), CONSENSUS + "\n## Contested points\n"
                                "The proposer's own account, replaced.\n"], [first, skipped, follow])
    proc = run_cli("run", "Add sub", "--workflow", "debated", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "debate: 2 contested point(s) resolved in 1 follow-up round(s)" in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "done"
    folder = Path(task["folder"])
    assert "Contested: 2 (docstring), 3 (no negative test)." in (folder / "counter.md").read_text()
    assert "2. **docstring**: accept: because 2" in (folder / "reply_1.md").read_text()
    follow_up = (folder / "counter_1.md").read_text()
    assert "2. **[agree] docstring**\n   about docstring\n3. **[agree] negatives**" in follow_up
    assert "Nothing is contested: the debate has converged." in follow_up
    spec = (folder / "spec.md").read_text()
    assert spec.startswith(CONSENSUS.strip()) and "own account" not in spec
    assert "2 of 3 points were contested, and all were resolved in 1 follow-up round." in spec
    assert "- **docstring** (change, agreed in round 1): the proposer answered accept: because 2." in spec
    assert "### Left open" not in spec
    calls = debate_calls(repo, task["id"])
    # proposal, counter, answers, follow-up, its repair, consensus: each once
    assert [c["preset"] for c in calls] == ["opus-planner", "gpt-reviewer", "opus-planner", "gpt-reviewer",
                                            "gpt-reviewer", "opus-planner"]
    assert "points" in calls[2]["context"] and "points" in calls[3]["context"] and "repair" in calls[4]["context"]
    assert {"proposal", "debate"} <= set(calls[5]["context"])
    shown = run_json(repo, "show", task["id"])
    assert {"proposal.md", "counter.md", "reply_1.md", "counter_1.md", "debate.json", "spec.md"} <= set(
        shown["artifacts"])
    assert shown["steps"][0]["presets"] == ["opus-planner", "gpt-reviewer"]
    assert shown["steps"][0]["detail"]["converged"] is True and shown["steps"][0]["detail"]["contested"] == 2
    text = run_cli("show", task["id"], cwd=repo).stdout
    assert "proposal.md" in text and "counter_1.md" in text
    assert run_cli("show", task["id"], "counter.md", cwd=repo).stdout.startswith("# Counter (gpt-reviewer on")


def test_a_debate_that_does_not_converge_ends_with_a_spec_listing_the_points_left_open(tmp_path: Path) -> None:
    first = counter(point("agree", "sub beside add"), point("disagree", "int only"))
    still = counter(point("disagree", "int only", number=2))
    repo = repo_with(tmp_path, [SPEC, answers((2, "defend")), answers((2, "defend")), CONSENSUS],
                     [first, still, still], flow=debate_flow("<!-- max-rounds: 2 -->\n"))
    proc = run_cli("run", "Add sub", "--workflow", "debated", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert ("debate: not converged within 2 follow-up round(s); 1 point(s) left open (int only) are listed in "
            "spec.md under 'Contested points', the proposer's position stands and the build goes on") in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "done"  # the build went on
    folder = Path(task["folder"])
    spec = (folder / "spec.md").read_text()
    assert "the debate did not converge within 2 follow-up rounds (at most 2): 1 point is left open" in spec
    assert "### Left open\n\n- **int only** (disagree): about int only. The proposer: defend, because 2." in spec
    assert (folder / "reply_2.md").exists() and (folder / "counter_2.md").exists()
    assert len(debate_calls(repo, task["id"])) == 7  # proposal, counter, two rounds of two, consensus
    detail = run_json(repo, "show", task["id"])["steps"][0]["detail"]
    assert detail["converged"] is False and detail["open"] == ["int only"] and detail["rounds"] == 2


def test_a_challenger_reply_that_is_not_valid_json_twice_fails_the_step_and_is_kept(tmp_path: Path) -> None:
    bad = json.dumps({"points": [{"tag": "change", "title": "x"}]})  # a change that says no change
    repo = repo_with(tmp_path, [SPEC], ["I mostly agree!", bad])
    proc = run_cli("run", "Add sub", "--workflow", "debated", cwd=repo)
    assert_clean_error(proc, "step 'Debate'", "did not answer valid JSON, even after a repair request",
                       "does not say what to change", "rejected_counter.md")
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "failed"
    folder = Path(task["folder"])
    assert (folder / "rejected_counter.md").read_text() == bad + "\n"
    assert (folder / "proposal.md").exists() and not (folder / "spec.md").exists()
    shown = run_json(repo, "show", task["id"])
    assert "rejected_counter.md" in shown["rejected"]
    assert [c["preset"] for c in shown["calls"]] == ["opus-planner", "gpt-reviewer", "gpt-reviewer"]


def test_debate_directives_are_checked_before_the_task_starts(tmp_path: Path) -> None:
    def refused(flow: str, *needles: str, preset_extra: str = "") -> None:
        repo = repo_with(tmp_path / str(len(list(tmp_path.iterdir()))), [SPEC], [], flow=flow,
                         preset_extra=preset_extra)
        assert_clean_error(run_cli("run", "Add sub", "--workflow", "debated", cwd=repo), *needles)
        assert not paths.ledger_path(repo).exists() or not sqlite3.connect(paths.ledger_path(repo)).execute(
            "SELECT id FROM tasks").fetchall()
        listed = run_cli("workflows", cwd=repo, env={"COLUMNS": "250"})
        assert listed.returncode != 0 and needles[0] in listed.stdout

    refused(debate_flow(challenger=None), "debated.md:3:", "debate step 'Debate' has no challenger",
            "<!-- challenger: PRESET -->", "such as flash-builder, gpt-reviewer, sonnet-reviewer")
    refused(debate_flow(challenger="gpt-reviwer"), "debated.md:5:", "unknown challenger preset 'gpt-reviwer'",
            "Did you mean 'gpt-reviewer'?")
    refused(debate_flow(challenger="opus-planner"), "debated.md:5:", "opus-planner, is its own agent")
    refused(debate_flow(), "debated.md:5:", "gpt-reviewer, is of the same family as its agent opus-planner "
            "(anthropic): a debate needs a model of another family", "set 'family' in [presets.gpt-reviewer]",
            preset_extra='family = "anthropic"')
    refused(debate_flow(challenger="@nope"), "debated.md:5:", "'@nope' is not a route")
    plan = ("# Plan\n\n### [ ] Step: Planning\n<!-- agent: opus-planner -->\n<!-- challenger: gpt-reviewer -->\n"
            f"<!-- max-rounds: 2 -->\nPlan.\n\n{STEPS}")
    refused(plan, "debated.md:5:", "'challenger' is for debate steps, and 'Planning' is a plan step",
            "<!-- kind: debate -->")
    refused(plan.replace("<!-- challenger: gpt-reviewer -->\n", ""), "debated.md:5:",
            "'max-rounds' bounds the rounds of review or debate steps, and 'Planning' is a plan step")


def test_built_in_presets_of_one_family_cannot_debate(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir(parents=True)
    (folder / "debated.md").write_text(debate_flow(challenger="sonnet-reviewer"))
    listed = run_cli("workflows", "--json", cwd=repo)
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == "debated"]
    assert "sonnet-reviewer, is of the same family as its agent opus-planner (anthropic)" in row["error"]
    (folder / "debated.md").write_text(debate_flow(challenger="gpt-reviewer"))
    [row] = [r for r in json.loads(run_cli("workflows", "--json", cwd=repo).stdout) if r["name"] == "debated"]
    assert row["error"] is None and row["steps"][0]["challenger"] == "gpt-reviewer"


# A run like `specrelay run` that SIGKILLs itself at its N-th call_started or call_finished event.
CRASH_AT_CALL_EVENT = """
import os, signal, sys
from pathlib import Path
from specrelay import paths
from specrelay.config import load_config
from specrelay.engine import Runner, create_task, prepare_workflow
from specrelay.ledger import Ledger

root, crash_at = Path.cwd(), int(sys.argv[1])
config, ledger = load_config(root), Ledger(paths.ledger_path(root))
seen = []

def emit(event):
    if event.event in ("call_started", "call_finished"):
        seen.append(event.event)
        if len(seen) == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

task = create_task(root, ledger, config, "Add sub", workflow=prepare_workflow(root, config, "debated"))
Runner(root, ledger, config, task.id, emit=emit).run()
"""

ROUND_REPLIES = ([SPEC, answers((2, "accept")), CONSENSUS],
                 [counter(point("agree", "sub beside add"), point("change", "docstring")),
                  counter(point("agree", "docstring", number=2))])


def ledger_rows(repo: Path) -> list[tuple[Any, ...]]:
    return sqlite3.connect(paths.ledger_path(repo)).execute(
        "SELECT phase, preset, step, call_key, input_tokens, output_tokens, cost_usd, outcome FROM calls "
        "ORDER BY id").fetchall()


def debate_artifacts(repo: Path) -> dict[str, str]:
    [(task_id,)] = sqlite3.connect(paths.ledger_path(repo)).execute("SELECT id FROM tasks")
    folder = paths.tasks_dir(repo) / task_id
    return {name: (folder / name).read_text() for name in
            ("proposal.md", "counter.md", "reply_1.md", "counter_1.md", "debate.json", "spec.md")}


_reference: dict[str, Any] = {}


@pytest.mark.parametrize("crash_at", [2, 3, 4, 6, 7, 9, 10])
def test_a_run_killed_mid_debate_resumes_without_paying_for_a_call_twice(tmp_path: Path, crash_at: int) -> None:
    """Killed inside a call (call_started: its reply not recorded) or right after one (call_finished: recorded,
    its artifact maybe not written), at each of the debate's five calls; the resume ends as an uninterrupted
    run does, with the same ledger rows."""
    planner, challenger = ROUND_REPLIES
    if not _reference:  # one uninterrupted run, for every crash to compare with
        reference = repo_with(tmp_path / "reference", list(planner), list(challenger))
        assert run_json(reference, "run", "Add sub", "--workflow", "debated")["status"] == "done"
        _reference.update(rows=ledger_rows(reference), artifacts=debate_artifacts(reference))
    expected = _reference["rows"]
    assert [r[1] for r in expected if r[0] == "debate"] == ["opus-planner", "gpt-reviewer", "opus-planner",
                                                            "gpt-reviewer", "opus-planner"]
    repo = repo_with(tmp_path / "crashed", list(planner), list(challenger))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    crashed = subprocess.run([sys.executable, "-c", CRASH_AT_CALL_EVENT, str(crash_at)], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr
    before = ledger_rows(repo)
    assert len(before) == crash_at // 2  # the calls finished before the kill
    [(task_id,)] = sqlite3.connect(paths.ledger_path(repo)).execute("SELECT id FROM tasks")
    assert run_json(repo, "resume", task_id)["status"] == "done"
    after = ledger_rows(repo)
    assert after[:len(before)] == before  # what was paid stays, and is not paid again
    assert after == expected
    assert debate_artifacts(repo) == _reference["artifacts"]


def test_the_built_in_debate_workflow_argues_builds_verifies_and_reviews_through_routes(tmp_path: Path) -> None:
    first = counter(point("agree", "sub beside add"), point("change", "docstring"))
    reviewer = [first, counter(point("agree", "docstring", number=2)), review()]
    repo = project(tmp_path, {"opus-planner": [SPEC, answers((2, "accept")), CONSENSUS], "gpt-reviewer": reviewer,
                              "flash-builder": [ADD_SUB]})
    status = run_json(repo, "run", "Add sub", "--workflow", "debate")
    assert status["status"] == "done"
    shown = run_json(repo, "show", status["id"])
    assert [s["presets"] for s in shown["steps"]] == [["opus-planner", "gpt-reviewer"], ["flash-builder"], [],
                                                       ["gpt-reviewer"]]
    assert [c["phase"] for c in shown["calls"]] == ["debate"] * 5 + ["implement", "review"]
    [review_call] = [c for c in shown["calls"] if c["phase"] == "review"]
    assert not {"proposal", "debate", "points"} & set(review_call["context"])  # a session of its own
    assert (Path(status["folder"]) / "spec.md").read_text().startswith(CONSENSUS.strip())
    # One routes change that puts the challenger in the proposer's family is refused at the workflow's line.
    refused = project(tmp_path / "same", {"opus-planner": [SPEC], "gpt-reviewer": [], "flash-builder": []},
                      preset_extra='family = "anthropic"')
    assert_clean_error(run_cli("run", "Add sub", "--workflow", "debate", cwd=refused),
                       "debate.md:21:", "gpt-reviewer (@review), is of the same family as its agent opus-planner",
                       "or point [routes] review at one")


def test_a_second_opinion_after_a_debate_has_the_proposer_revise_the_consensus_once(tmp_path: Path) -> None:
    opinion = json.dumps({"verdict": "revise", "summary": "s", "findings": [
        {"kind": "missing_case", "severity": "major", "title": "negatives", "detail": "d", "suggestion": "s"}]})
    approve = json.dumps({"verdict": "approve", "summary": "s", "findings": []})
    flow = debate_flow().replace("### [ ] Step: Implementation", "### [ ] Step: Second opinion\n"
                                 "<!-- agent: gemini-reviewer -->\nCheck it.\n\n### [ ] Step: Implementation")
    repo = project(tmp_path, {"opus-planner": [SPEC, CONSENSUS], "gpt-reviewer": [counter(point("agree", "fine"))],
                              "gemini-reviewer": [opinion, approve], "flash-builder": [ADD_SUB],
                              "sonnet-reviewer": [review()]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "debated.md").write_text(flow)
    proc = run_cli("run", "Add sub", "--workflow", "debated", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "debate: opus-planner revised the consensus for the second opinion's findings" in proc.stdout
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    folder = Path(task["folder"])
    assert task["status"] == "done" and (folder / "spec.md").read_text() == CONSENSUS
    assert (folder / "spec_before_opinion.md").read_text().startswith(SPEC.strip() + "\n\n## Contested points")
    calls = debate_calls(repo, task["id"])
    assert [c["preset"] for c in calls] == ["opus-planner", "gpt-reviewer", "opus-planner"]  # no second debate
    assert "opinion" in calls[2]["context"]
