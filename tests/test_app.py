"""The application layer on its own: what a face that is not the CLI (an MCP server, a dashboard) calls.

Every test here calls ``specrelay.app`` functions and reads their typed results, with no CLI in between.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, happy_replies, project, review

from specrelay.app import cost, events, run, tasks
from specrelay.app.views import TaskStatus, TaskSummary, TaskView
from specrelay.errors import UserError

WORKFLOW = Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md"


def _one_round(repo: Path) -> None:
    flows = repo / ".specrelay" / "workflows"
    flows.mkdir(exist_ok=True)
    (flows / "one-round.md").write_text(WORKFLOW.read_text().replace("<!-- max-rounds: 3 -->",
                                                                     "<!-- max-rounds: 1 -->"))


def _run(repo: Path, request: str = "Add sub", **kwargs: object) -> run.RunReport:
    plan = run.plan_run(repo, [request], where=repo, **kwargs)  # type: ignore[arg-type]
    return run.run(plan, jobs=1)


def test_merge_is_refused_then_forced_through_the_app_alone(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": [review("request_changes", [MAJOR]), review()]})
    _one_round(repo)
    report = _run(repo, workflow="one-round")
    [outcome] = report.outcomes
    assert isinstance(outcome.summary, TaskSummary) and outcome.error is None
    assert outcome.summary.status is TaskStatus.NEEDS_ATTENTION and report.exit_code == 1
    task_id = outcome.summary.id
    [listed] = tasks.status(repo, statuses=["needs_attention"])
    assert isinstance(listed, TaskView) and listed.id == task_id and listed.open
    with pytest.raises(UserError, match="not finished.*sub has no docstring"):
        tasks.merge(repo, task_id)
    assert "def sub" not in (repo / "calc.py").read_text()
    merged = tasks.merge(repo, task_id, force=True)
    assert merged.into == "main" and merged.forced and "needs_attention" in merged.forced[0]
    assert "def sub" in (repo / "calc.py").read_text()
    assert tasks.status(repo, task_id)[0].status is TaskStatus.MERGED


def test_a_summary_and_cost_as_share_one_counterfactual(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    summary = _run(repo).summaries[0]
    one = summary.costs.one_model
    assert one is not None and one.preset == "opus-planner" and one.cost_usd is not None
    report = cost.cost(repo, task="last", as_preset="opus-planner")
    assert report.task == summary.id and report.as_ is not None
    assert report.as_.cost_usd == pytest.approx(one.cost_usd)
    assert report.difference_usd == pytest.approx(one.cost_usd - (summary.cost_usd or 0))
    assert report.to_json()["as"]["difference_usd"] == report.difference_usd
    assert summary.to_json()["costs"]["one_model"] == {"preset": "opus-planner", "cost_usd": one.cost_usd}


def _titles(recorded: list[events.RecordedEvent], name: str) -> list[str]:
    return [e.fields["title"] for e in recorded if e.event == name]


def test_a_foreground_run_writes_its_events_to_the_task_folder(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    summary = _run(repo).summaries[0]
    read = events.read_events(events.events_path(repo, summary.id))
    steps = [s.title for s in summary.steps]
    assert _titles(read.events, "step_started") == steps and _titles(read.events, "step_finished") == steps
    assert {e.task for e in read.events} == {summary.id}
    assert read.events[-1].event == "task_finished" and read.events[-1].fields["status"] == "done"
    assert any(e.event == "call_finished" and e.fields["preset"] == "opus-planner" for e in read.events)


def test_a_detached_run_can_be_followed_through_its_events_file(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=0.2)
    detached = run.detach(run.plan_run(repo, ["Add sub"], where=repo), jobs=1)
    [task_id] = detached.ids
    assert detached.pid is not None and detached.to_json()["id"] == task_id
    path, offset, seen = events.events_path(repo, task_id), 0, []
    deadline = time.monotonic() + 90
    while not any(e.event in ("task_finished", "task_stopped") for e in seen):
        assert time.monotonic() < deadline, seen
        read = events.read_events(path, offset)  # a follower: each read starts where the last one ended
        offset, seen = read.offset, seen + read.events
        time.sleep(0.1)
    assert seen[-1].event == "task_finished" and seen[-1].fields["status"] == "done"
    started, finished = _titles(seen, "step_started"), _titles(seen, "step_finished")
    assert started == finished and started[:2] == ["Planning", "Implementation"]


def test_a_torn_last_line_is_skipped_and_the_next_run_starts_a_line_of_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    with events.recording(folder, "t1") as out:
        out(events.StepStarted(title="Planning", kind="plan", presets=("p",), round=1))
        out(events.CallDelta(chars=12))  # a streamed chunk is not worth a line
    path = folder / events.EVENTS_FILE
    with path.open("a") as f:
        f.write('{"event": "step_finished", "task": "t1", "ti')  # killed in the middle of a line
    read = events.read_events(path)
    assert [e.event for e in read.events] == ["step_started"] and read.offset < path.stat().st_size
    assert read.events[0].fields == {"title": "Planning", "kind": "plan", "presets": ["p"], "round": 1}
    with events.recording(folder, "t1") as out:  # the resume that follows the crash
        out(events.TaskFinished(status="done", message="approved"))
    again = events.read_events(path)
    assert [e.event for e in again.events] == ["step_started", "task_finished"]
    assert again.events[1].fields == {"status": "done", "message": "approved"}
    assert again.offset == path.stat().st_size
