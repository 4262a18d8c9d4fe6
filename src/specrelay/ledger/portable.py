"""A task's rows as plain JSON, to carry between ledgers: a Temporal worker on another machine takes the
task's rows from the submitter, runs a step in a ledger of its own, and the submitter takes them back.

Calls are matched by their ``uid`` (the same in every ledger that holds the call), so a call carried back
twice, or carried both by a step's result and by the task's artifacts, is recorded once. Only the
columns the table has are written, whatever the JSON names: rows from another machine are data.
"""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

from specrelay.errors import UserError
from specrelay.ledger.store import Ledger

#: A task's rows: ``{"task": {...}, "steps": [{...}], "calls": [{...}]}``, each row its columns by name.
Rows = dict[str, Any]
_BYTES = "$b64"


def export_task(ledger: Ledger, task_id: str) -> Rows:
    """The task's row, its steps and its calls (oldest first)."""
    task = ledger.conn.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
    if task is None:
        raise UserError(f"no task {task_id} in {ledger.path}")
    steps = ledger.conn.execute("SELECT * FROM steps WHERE task_id=? ORDER BY idx", (task_id,))
    return {"task": _plain(task), "steps": [_plain(r) for r in steps], "calls": task_calls(ledger, task_id)}


def task_calls(ledger: Ledger, task_id: str) -> list[dict[str, Any]]:
    """The task's calls, oldest first."""
    rows = ledger.conn.execute("SELECT * FROM calls WHERE task_id=? ORDER BY id", (task_id,))
    return [_plain(r) for r in rows]


def import_task(ledger: Ledger, rows: Rows, *, task_id: str, worktree: str | None = None) -> int:
    """Make task ``task_id``'s rows here what ``rows`` says: its row and steps replaced, its calls added
    (those not here already). ``worktree``: where the task's worktree is on this machine (the row's own
    path is the other machine's); without it, the task must be here already, and keeps its own. Rows
    of another task are refused. Returns how many calls were new here."""
    task = dict(_unplain(rows.get("task")))
    if task.get("id") != task_id:
        raise UserError(f"the rows carried for task {task_id} are task {task.get('id')!r}'s; refused")
    if worktree is not None:
        task["worktree"] = worktree
    elif (mine := ledger.task(task_id)) is not None:
        task["worktree"] = mine.worktree  # the row here keeps its own worktree's path
    else:
        raise UserError(f"rows carried for task {task_id}, which {ledger.path} does not have; refused")
    with ledger.transaction():
        _upsert(ledger.conn, "tasks", task, key="id")
        ledger.conn.execute("DELETE FROM steps WHERE task_id=?", (task_id,))
        for step in rows.get("steps") or []:
            _insert(ledger.conn, "steps", {**_unplain(step), "task_id": task_id})
        added = import_calls(ledger, rows.get("calls") or [], task_id=task_id, within=True)
    return added


def import_calls(ledger: Ledger, calls: list[Any], *, task_id: str, within: bool = False) -> int:
    """Add the task's calls not here already (by ``uid``); how many were new."""
    def add() -> int:
        added = 0
        for call in calls:
            row = dict(_unplain(call))
            row.pop("id", None)  # this ledger's own row number
            if not row.get("uid"):
                continue  # a call without an identity cannot be matched: never guessed
            row["task_id"] = task_id
            added += _insert(ledger.conn, "calls", row, ignore=True)
        return added

    if within:
        return add()
    with ledger.transaction():
        return add()


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}  # our own table names


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any], *, ignore: bool = False) -> int:
    known = _columns(conn, table)
    cols = [c for c in row if c in known]  # never a column the JSON names but the table lacks
    marks = ", ".join("?" for _ in cols)
    verb = "INSERT OR IGNORE" if ignore else "INSERT"
    cur = conn.execute(f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({marks})", [row[c] for c in cols])
    return cur.rowcount


def _upsert(conn: sqlite3.Connection, table: str, row: dict[str, Any], *, key: str) -> None:
    known = _columns(conn, table)
    cols = [c for c in row if c in known]
    sets = ", ".join(f"{c}=excluded.{c}" for c in cols if c != key)
    conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                 f"ON CONFLICT({key}) DO UPDATE SET {sets}", [row[c] for c in cols])


def _plain(row: sqlite3.Row) -> dict[str, Any]:
    return {k: ({_BYTES: base64.b64encode(v).decode("ascii")} if isinstance(v, bytes) else v)
            for k, v in zip(row.keys(), tuple(row), strict=True)}


def _unplain(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise UserError("carried task rows are not JSON objects")
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict) and set(v) == {_BYTES}:
            v = base64.b64decode(v[_BYTES])
        elif isinstance(v, (dict, list)):
            raise UserError(f"carried task rows: column {k!r} is not a plain value")
        out[str(k)] = v
    return out
