"""The ledger: migrations, WAL, unknown costs stay unknown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from specrelay.ledger import MIGRATIONS, CallRecord, Ledger


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
