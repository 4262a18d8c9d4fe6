"""The ledger's connection: opening, upgrading and reading one SQLite file of tasks, steps and calls.

The schema is created and upgraded by :mod:`specrelay.ledger.migrations`. WAL mode lets many
processes read while one writes. Every read returns a typed row (:mod:`specrelay.ledger.rows`);
every write names its columns.
A cost is a number or NULL (unknown), never a made-up zero.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Any, Final, Literal

import specrelay.ledger.errors as ledger_errors
import specrelay.ledger.migrations as migrations
from specrelay import paths
from specrelay.errors import UserError
from specrelay.ledger.rows import (
    CallRecord,
    CallRow,
    CallUsage,
    NewStep,
    StepRow,
    TaskRow,
    TaskUsage,
    Totals,
    unpack_prompt,
)
from specrelay.ledger.status import StepStatus, TaskStatus


class Unset(Enum):
    """The type of :data:`UNSET`: a keyword argument the caller left out (None is a value to store)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET

#: What ``cost --by`` groups on.
GroupBy = Literal["task", "phase", "preset", "model"]
_GROUP_COLUMNS: dict[GroupBy | None, str] = {"task": "task_id", "phase": "phase", "preset": "preset",
                                             "model": "model", None: "'all'"}

#: A call of unknown cost, as totals count them (so that a total with one says it is incomplete): no
#: price, and either answered, or interrupted once sent (the prompt reached the server: it may be
#: billed), or failed with output already written (cut mid-answer: it has tokens). A call that failed
#: before any answer (refused, unreachable) cost nothing.
UNKNOWN_COST = "cost_usd IS NULL AND (outcome IN ('ok', 'interrupted') OR output_tokens > 0)"


class _Connection(sqlite3.Connection):
    """A connection whose statements report a lock or an access problem as what it is.

    Every statement of the ledger goes through ``execute``, so a write refused because another
    process holds the lock, or because the file is read-only, says so wherever it happens.
    """

    ledger_path: Path
    wait_s: float
    reading: bool = False

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            error = ledger_errors.translate(self.ledger_path, exc, wait_s=self.wait_s, reading=self.reading)
            if error is None:
                raise
            raise error from exc


def wait_s() -> float:
    """How long a command waits for another process's write: ``$SPECRELAY_LEDGER_WAIT_S``, else 30 s."""
    try:
        return max(0.0, float(os.environ.get("SPECRELAY_LEDGER_WAIT_S", "30")))
    except ValueError:
        return 30.0


class Ledger:
    """A connection to one ledger file. Cheap to open; safe to use from several processes.

    ``readonly=True`` is for commands that only read: it never creates, migrates or switches the
    file's journal mode, and works on a ledger (or a folder) the user cannot write. A ledger that
    does not exist yet reads as an empty one, and nothing is created.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.wait_s = wait_s()
        if path.is_dir():  # SQLite calls it a disk I/O error, which would read as corruption
            raise ledger_errors.a_folder(path)
        if readonly:
            conn = self._open_readonly(path)
            if conn is not None:
                self.conn = conn
                return
            self.readonly = False  # an older ledger that this user may write: upgrade it, as any command would
        paths.make_dir(path.parent)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                self.conn = self._open(path)
                return
            except ledger_errors.LedgerLocked:
                # Another process is switching a new ledger to WAL or migrating it: wait, then retry.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                raise self._unreadable(exc) from exc

    def _connect(self, target: str, *, reading: bool = False) -> _Connection:
        """A connection to ``target`` (a path, or a read-only ``file:`` URI when ``reading``)."""
        try:
            conn = sqlite3.connect(target, timeout=self.wait_s, isolation_level=None, check_same_thread=False,
                                   uri=reading, factory=_Connection)
        except sqlite3.OperationalError as exc:  # the file cannot even be opened
            error = ledger_errors.translate(self.path, exc, wait_s=self.wait_s, reading=reading)
            if error is None:
                raise
            raise error from exc
        assert isinstance(conn, _Connection)
        conn.ledger_path, conn.wait_s, conn.reading = self.path, self.wait_s, reading
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(self.wait_s * 1000)}")
        return conn

    def _open(self, path: Path) -> sqlite3.Connection:
        conn = self._connect(str(path))
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # switching takes a lock: only once
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.conn = conn
            self._migrate()
            # A write that changes nothing: a ledger that cannot be written (or stays locked) says so
            # now, before the command acts (removes a worktree, merges), not when it records what it did.
            conn.execute("DELETE FROM migrations WHERE 0")
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_readonly(self, path: Path) -> sqlite3.Connection | None:
        """A read-only connection; None when the ledger needs upgrading and the user may write it."""
        if not path.exists():
            in_the_way = paths.file_in_the_way(path.parent)
            if in_the_way:
                raise UserError(in_the_way)
            conn = self._connect(":memory:")  # no ledger yet: it reads as an empty one, and nothing is created
            self.conn = conn
            self._migrate()
            return conn
        try:
            conn = self._connect_readonly(path)
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from exc
        try:
            done = migrations.applied(conn)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                conn.close()
                raise self._unreadable(exc) from exc
            done = set()  # an empty file: a ledger no command has written yet
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._unreadable(exc) from exc
        if not migrations.pending(done):
            return conn
        conn.close()
        if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
            return None
        blocker = path if os.access(path.parent, os.W_OK) else path.parent
        raise UserError(f"{path} was written by an older specrelay and must be upgraded before it can be read: "
                        f"{paths.not_writable(blocker)}")

    def _connect_readonly(self, path: Path) -> _Connection:
        """``mode=ro``, which reads alongside a live writer; ``immutable=1`` only when that cannot open.

        In WAL mode even a reader needs the ``-shm`` index, created next to the file when missing:
        in a folder the user cannot write, ``mode=ro`` then fails. ``immutable=1`` reads the file
        alone, ignoring the write-ahead log, so it is used only when that log is absent or empty:
        then the file holds every committed write, and no writer is at work (a writer keeps a log).
        Neither ever writes, migrates or switches the journal mode.
        """
        base = "file:" + urllib.parse.quote(str(path.resolve()))
        conn = self._connect(base + "?mode=ro", reading=True)
        try:
            conn.execute("PRAGMA query_only=ON")
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opens the file and its -shm
            return conn
        except UserError as exc:
            conn.close()
            wal, _ = ledger_errors.sidecars(path)
            if isinstance(exc, ledger_errors.LedgerLocked) or (wal.exists() and wal.stat().st_size > 0):
                raise
        except BaseException:
            conn.close()
            raise
        conn = self._connect(base + "?mode=ro&immutable=1", reading=True)
        conn.execute("PRAGMA query_only=ON")
        return conn

    def _unreadable(self, exc: Exception) -> UserError:
        return UserError(
            f"{self.path}: the ledger is not a readable SQLite database ({exc}). specrelay left it untouched; "
            "move it aside (e.g. `mv ledger.db ledger.db.broken`) to start a new one.")

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        migrations.migrate(self.conn)


    # -- calls ---------------------------------------------------------------------------------

    def record_call(self, rec: CallRecord) -> int:
        """Append one call; returns its row id."""
        row = asdict(rec)
        context = row.pop("context")
        row["context_json"] = json.dumps(context) if context else None
        row["uid"] = uuid.uuid4().hex
        cols = ", ".join(row)  # the dataclass's own field names: never a caller's words
        marks = ", ".join("?" for _ in row)
        cur = self.conn.execute(f"INSERT INTO calls ({cols}) VALUES ({marks})", tuple(row.values()))
        return int(cur.lastrowid or 0)

    def count_calls(self, run_id: str, preset: str) -> int:
        """How many calls (ok or failed) this run has completed on this preset: a scripted reply cursor.
        A call cut off by an interruption completed nothing, and is not counted."""
        row = self.conn.execute("SELECT COUNT(*) FROM calls WHERE run_id=? AND preset=? AND outcome != 'interrupted'",
                                (run_id, preset)).fetchone()
        return int(row[0])

    def completed_call(self, run_id: str, call_key: str, digest: str | None = None) -> CallRow | None:
        """The successful call recorded under this key in this run, if any; with a ``digest``, only one
        recorded for the same request (a tool loop's turn in the same conversation)."""
        where = "" if digest is None else " AND request_digest=?"
        args = (run_id, call_key) if digest is None else (run_id, call_key, digest)
        row = self.conn.execute(f"SELECT * FROM calls WHERE run_id=? AND call_key=? AND outcome='ok'{where} "
                                "ORDER BY id DESC LIMIT 1", args).fetchone()
        return None if row is None else CallRow.from_sql(row)

    def calls(self, task_id: str | None = None) -> list[CallRow]:
        """Every recorded call attempt (of one task, or all), oldest first."""
        if task_id is None:
            rows = self.conn.execute("SELECT * FROM calls ORDER BY id")
        else:
            rows = self.conn.execute("SELECT * FROM calls WHERE task_id=? ORDER BY id", (task_id,))
        return [CallRow.from_sql(r) for r in rows]

    def prompts(self, task_id: str) -> list[tuple[CallRow, list[dict[str, str]]]]:
        """Each of the task's calls that kept its prompt (a task made with ``record_prompts``), oldest
        first, with the prompt's messages (``role``, ``content``) unpacked."""
        rows = self.conn.execute("SELECT * FROM calls WHERE task_id=? AND prompt IS NOT NULL ORDER BY id",
                                 (task_id,))
        return [(CallRow.from_sql(r), unpack_prompt(r["prompt"])) for r in rows]

    def spent(self, task_id: str) -> float:
        """What the task's priced calls cost so far (calls of unknown cost count as nothing)."""
        row = self.conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE task_id=?",
                                (task_id,)).fetchone()
        return float(row[0])

    def totals(self, by: GroupBy | None, task_id: str | None = None) -> list[Totals]:
        """Sums of tokens and cost, grouped by one column (task, phase, preset, model) or overall."""
        column = _GROUP_COLUMNS[by]
        where, args = ("WHERE task_id=?", (task_id,)) if task_id else ("", ())
        sql = f"""
            SELECT {column} AS key, COUNT(*) AS calls,
                   SUM(outcome = 'ok') AS ok_calls,
                   SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
                   SUM(cache_read_tokens) AS cache_read_tokens, SUM(cache_write_tokens) AS cache_write_tokens,
                   SUM(cost_usd) AS cost_usd, SUM({UNKNOWN_COST}) AS unknown_cost_calls,
                   MAX(simulated) AS simulated, MAX(estimated) AS estimated, SUM(latency_s) AS latency_s
            FROM calls {where} GROUP BY {column} ORDER BY cost_usd DESC NULLS LAST, key"""
        return [Totals.from_sql(r) for r in self.conn.execute(sql, args)]

    def usage_rows(self, task_id: str | None = None, step: str | None = None) -> Iterator[CallUsage]:
        """Per-call tokens (of one task, and of its step titled ``step``), for re-pricing the same usage
        under another model."""
        sql = ("SELECT input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, outcome "
               "FROM calls")
        if task_id and step is not None:
            rows = self.conn.execute(sql + " WHERE task_id=? AND step=?", (task_id, step))
        else:
            rows = self.conn.execute(sql + " WHERE task_id=?", (task_id,)) if task_id else self.conn.execute(sql)
        for row in rows:
            yield CallUsage.from_sql(row)

    # -- tasks and steps -----------------------------------------------------------------------

    def insert_task(self, *, id: str, title: str, request: str, status: TaskStatus, workflow: str,
                    base_ref: str | None, base_sha: str, base_branch: str | None, branch: str, worktree: str,
                    rounds: int, current_step: str | None, budget_usd: float | None,
                    record_prompts: bool = False) -> None:
        """Record a new task (with the time as its creation and update time)."""
        now = time.time()
        self.conn.execute(
            "INSERT INTO tasks (id, title, request, status, workflow, base_ref, base_sha, base_branch, branch, "
            "worktree, rounds, current_step, budget_usd, created_at, updated_at, record_prompts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (id, title, request, str(status), workflow, base_ref, base_sha, base_branch, branch, worktree,
             rounds, current_step, budget_usd, now, now, int(record_prompts)))

    def update_task(self, task_id: str, *, status: TaskStatus | Unset = UNSET, message: str | None | Unset = UNSET,
                    current_step: str | None | Unset = UNSET, rounds: int | Unset = UNSET,
                    state: str | None | Unset = UNSET, budget_usd: float | None | Unset = UNSET,
                    base_sha: str | Unset = UNSET) -> None:
        """Change the named columns of a task (those left UNSET keep their value), and its update time."""
        changes = _given(status=status, message=message, current_step=current_step, rounds=rounds, state=state,
                         budget_usd=budget_usd, base_sha=base_sha)
        changes["updated_at"] = time.time()
        sets = ", ".join(f"{column}=?" for column in changes)  # the parameter names above, nothing else
        self.conn.execute(f"UPDATE tasks SET {sets} WHERE id=?", (*changes.values(), task_id))

    def task(self, task_id: str) -> TaskRow | None:
        """The task with exactly this id, if there is one."""
        row = self.conn.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
        return None if row is None else TaskRow.from_sql(row)

    def tasks(self) -> list[TaskRow]:
        """Every task, oldest first."""
        return [TaskRow.from_sql(r) for r in self.conn.execute("SELECT * FROM tasks ORDER BY created_at")]

    def task_ids(self) -> list[str]:
        """Every task's id, oldest first."""
        return [r[0] for r in self.conn.execute("SELECT id FROM tasks ORDER BY created_at")]

    def put_steps(self, task_id: str, steps: Sequence[NewStep]) -> None:
        """Record a task's steps once (at creation); later only their status changes."""
        for idx, s in enumerate(steps):
            self.conn.execute(
                "INSERT OR IGNORE INTO steps (task_id, idx, title, kind, presets, status) VALUES (?,?,?,?,?,?)",
                (task_id, idx, s.title, s.kind, ",".join(s.presets), str(s.status)))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes that land together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def update_step(self, task_id: str, idx: int, *, status: StepStatus | Unset = UNSET,
                    round: int | Unset = UNSET, started_at: float | None | Unset = UNSET,
                    finished_at: float | None | Unset = UNSET, detail: str | None | Unset = UNSET,
                    error: str | None | Unset = UNSET) -> None:
        """Change the named columns of one step (those left UNSET keep their value)."""
        changes = _given(status=status, round=round, started_at=started_at, finished_at=finished_at, detail=detail,
                         error=error)
        if not changes:
            return
        sets = ", ".join(f"{column}=?" for column in changes)  # the parameter names above, nothing else
        self.conn.execute(f"UPDATE steps SET {sets} WHERE task_id=? AND idx=?", (*changes.values(), task_id, idx))

    def steps(self, task_id: str) -> list[StepRow]:
        """The task's steps, in workflow order."""
        rows = self.conn.execute("SELECT * FROM steps WHERE task_id=? ORDER BY idx", (task_id,))
        return [StepRow.from_sql(r) for r in rows]

    def task_usage(self, task_id: str) -> TaskUsage:
        """What the task's calls used and cost so far."""
        row = self.conn.execute(_USAGE + " FROM calls WHERE task_id=?", (task_id,)).fetchone()
        return TaskUsage.from_sql(row)

    def all_usage(self) -> dict[str, TaskUsage]:
        """:meth:`task_usage` of every task that has a call, in one query (a task without is absent)."""
        rows = self.conn.execute(_USAGE + ", task_id FROM calls WHERE task_id IS NOT NULL GROUP BY task_id")
        return {r["task_id"]: TaskUsage.from_sql(r) for r in rows}

    def all_steps(self) -> dict[str, list[StepRow]]:
        """:meth:`steps` of every task, in one query."""
        out: dict[str, list[StepRow]] = {}
        for r in self.conn.execute("SELECT * FROM steps ORDER BY task_id, idx"):
            out.setdefault(r["task_id"], []).append(StepRow.from_sql(r))
        return out


#: The columns of a :class:`TaskUsage`, summed over some calls.
_USAGE = ("SELECT COALESCE(SUM(input_tokens),0) AS input_tokens, COALESCE(SUM(output_tokens),0) AS output_tokens,"
          " SUM(cost_usd) AS cost_usd, COALESCE(MAX(simulated),0) AS simulated, COUNT(*) AS calls,"
          " COALESCE(MAX(estimated),0) AS estimated,"
          " COALESCE(SUM(outcome = 'ok'),0) AS ok_calls,"
          f" COALESCE(SUM({UNKNOWN_COST}),0) AS unknown_cost_calls")


def _given(**values: object) -> dict[str, object]:
    """The values not left UNSET, enums stored as their strings."""
    return {k: (str(v) if isinstance(v, Enum) else v) for k, v in values.items() if v is not UNSET}
