"""The ledger: migrations, WAL, unknown costs stay unknown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from specrelay.errors import UserError
from specrelay.ledger import MIGRATIONS, UNSET, CallRecord, Ledger, NewStep, StepStatus, TaskStatus


def _call(**kw: object) -> CallRecord:
    base = dict(run_id="r", phase="ask", preset="p", provider="openai", model="m", started_at=0.0,
                latency_s=0.1, outcome="ok", input_tokens=10, output_tokens=5)
    base.update(kw)
    return CallRecord(**base)  # type: ignore[arg-type]


def test_migrations_are_named_applied_once_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger(path).close()
    ledger = Ledger(path)
    names = [r[0] for r in ledger.conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_cost_is_null_and_counted(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    ledger.record_call(_call(cost_usd=0.5, preset="a"))
    ledger.record_call(_call(cost_usd=None, preset="b"))
    ledger.record_call(_call(cost_usd=None, preset="b", outcome="rate_limit", input_tokens=0, output_tokens=0))
    [total] = ledger.totals(None)
    assert total.cost_usd == 0.5 and total.unknown_cost_calls == 1 and total.calls == 3
    by = {r.key: r for r in ledger.totals("preset")}
    assert by["b"].cost_usd is None
    raw = sqlite3.connect(tmp_path / "l.db").execute("SELECT cost_usd FROM calls WHERE preset='b'").fetchall()
    assert raw == [(None,), (None,)]


def test_context_breakdown_is_stored(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    ledger.record_call(_call(context={"spec": 120, "diff": 300}))
    assert ledger.calls()[0].context_json == '{"spec": 120, "diff": 300}'


def _task(ledger: Ledger, task_id: str = "t-1") -> None:
    ledger.insert_task(id=task_id, title="T", request="do it", status=TaskStatus.PAUSED, workflow="w", base_ref=None,
                       base_sha="0" * 40, base_branch="main", branch=f"specrelay/{task_id}", worktree="/wt",
                       rounds=1, current_step="Plan", budget_usd=None)
    ledger.put_steps(task_id, [NewStep("Plan", "plan", ("a", "b")), NewStep("Build", "implement", ())])


def test_rows_are_typed_and_statuses_stored_as_their_strings(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    _task(ledger)
    ledger.update_task("t-1", status=TaskStatus.NEEDS_ATTENTION, message=None)
    ledger.update_step("t-1", 0, status=StepStatus.DONE, detail='{"verdict": "approve"}')
    task = ledger.task("t-1")
    assert task is not None and task.status is TaskStatus.NEEDS_ATTENTION and task.current_step == "Plan"
    plan, build = ledger.steps("t-1")
    assert (plan.status, plan.presets, plan.detail_data()) == (StepStatus.DONE, ("a", "b"), {"verdict": "approve"})
    assert (build.status, build.presets, build.detail_data()) == (StepStatus.PENDING, (), None)
    raw = sqlite3.connect(tmp_path / "l.db")
    assert raw.execute("SELECT status FROM tasks").fetchall() == [("needs_attention",)]
    assert raw.execute("SELECT status FROM steps ORDER BY idx").fetchall() == [("done",), ("pending",)]


def test_an_update_names_known_columns_only_and_unset_keeps_a_value(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    _task(ledger)
    with pytest.raises(TypeError):
        ledger.update_task("t-1", **{"status = 'done', title": "x"})  # type: ignore[arg-type]
    ledger.update_task("t-1", message="kept", budget_usd=UNSET)
    ledger.update_task("t-1", current_step=None)
    task = ledger.task("t-1")
    assert task is not None and (task.message, task.current_step, task.title) == ("kept", None, "T")


def test_a_status_this_version_does_not_know_is_a_clear_error(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    _task(ledger)
    ledger.conn.execute("UPDATE tasks SET status='archived'")
    with pytest.raises(UserError, match="status 'archived'.*expected one of running, paused"):
        ledger.tasks()


def test_a_reused_agent_call_keeps_where_its_cost_came_from_and_its_account(tmp_path: Path) -> None:
    from specrelay.llm.layers.replay import from_row

    ledger = Ledger(tmp_path / "l.db")
    ledger.record_call(_call(call_key="k1", cost_usd=0.02, cost_source="agent", reply="Done.",
                             agent_json='{"turns": 4, "tools": ["Read", "Edit"], "denials": ["Bash rm"], '
                                        '"session": "s1"}'))
    result = from_row(ledger.completed_call("r", "k1"))  # type: ignore[arg-type]
    assert result.reused and result.cost_source == "agent" and result.cost_usd == 0.02
    assert result.agent is not None and result.agent.turns == 4 and result.agent.tools == ("Read", "Edit")
    assert result.agent.denials == ("Bash rm",) and result.agent.session == "s1"


def test_a_task_that_keeps_prompts_reads_them_back_unpacked(tmp_path: Path) -> None:
    from specrelay.ledger import pack_prompt

    ledger = Ledger(tmp_path / "l.db")
    ledger.insert_task(id="t-1", title="T", request="do it", status=TaskStatus.PAUSED, workflow="w", base_ref=None,
                       base_sha="0" * 40, base_branch="main", branch="specrelay/t-1", worktree="/wt", rounds=1,
                       current_step="Plan", budget_usd=None, record_prompts=True)
    _task(ledger, "t-2")
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "héllo " * 500}]
    ledger.record_call(_call(task_id="t-1", prompt=pack_prompt(messages)))
    ledger.record_call(_call(task_id="t-1"))  # an attempt without its prompt is not listed
    ledger.record_call(_call(task_id="t-2", prompt=pack_prompt([{"role": "user", "content": "other"}])))
    [(row, back)] = ledger.prompts("t-1")
    assert back == messages and row.task_id == "t-1"
    stored = sqlite3.connect(tmp_path / "l.db").execute("SELECT length(prompt) FROM calls WHERE id=?",
                                                        (row.id,)).fetchone()[0]
    assert stored < len("héllo " * 500) / 10  # compressed
    one, two = ledger.task("t-1"), ledger.task("t-2")
    assert one is not None and two is not None and (one.record_prompts, two.record_prompts) == (True, False)
