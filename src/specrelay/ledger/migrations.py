"""The ledger's schema: named, append-only migrations, applied in order on first open.

Never edit a migration that has shipped; add a new one at the end. A ledger written by any earlier
specrelay is brought up to date by the ones it lacks.
"""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS: list[tuple[str, str]] = [
    ("001_calls", """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            task_id TEXT,
            step TEXT,
            phase TEXT NOT NULL,
            preset TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            started_at REAL NOT NULL,
            latency_s REAL NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            outcome TEXT NOT NULL,
            error TEXT,
            estimated INTEGER NOT NULL DEFAULT 0,
            simulated INTEGER NOT NULL DEFAULT 0,
            context_json TEXT
        );
        CREATE INDEX calls_task ON calls(task_id);
        CREATE INDEX calls_run_preset ON calls(run_id, preset);
    """),
    ("002_tasks_steps", """
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            request TEXT NOT NULL,
            status TEXT NOT NULL,
            workflow TEXT NOT NULL,
            base_ref TEXT,
            base_sha TEXT NOT NULL,
            base_branch TEXT,
            branch TEXT NOT NULL,
            worktree TEXT NOT NULL,
            budget_usd REAL,
            rounds INTEGER NOT NULL DEFAULT 0,
            current_step TEXT,
            message TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE steps (
            task_id TEXT NOT NULL REFERENCES tasks(id),
            idx INTEGER NOT NULL,
            title TEXT NOT NULL,
            kind TEXT NOT NULL,
            presets TEXT NOT NULL,
            status TEXT NOT NULL,
            round INTEGER NOT NULL DEFAULT 0,
            started_at REAL,
            finished_at REAL,
            detail TEXT,
            PRIMARY KEY (task_id, idx)
        );
    """),
    ("003_call_keys", """
        ALTER TABLE calls ADD COLUMN call_key TEXT;
        ALTER TABLE calls ADD COLUMN reply TEXT;
        CREATE INDEX calls_key ON calls(run_id, call_key);
    """),
    ("004_task_state", """
        ALTER TABLE tasks ADD COLUMN state TEXT;
    """),
    ("005_call_output_cap", """
        ALTER TABLE calls ADD COLUMN max_tokens INTEGER;
        ALTER TABLE calls ADD COLUMN capped_by_budget INTEGER NOT NULL DEFAULT 0;
    """),
    ("006_step_error", """
        ALTER TABLE steps ADD COLUMN error TEXT;
    """),
    ("007_call_truncated", """
        ALTER TABLE calls ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
    """),
    ("008_call_agent", """
        ALTER TABLE calls ADD COLUMN cost_source TEXT NOT NULL DEFAULT 'priced';
        ALTER TABLE calls ADD COLUMN agent_json TEXT;
    """),
    ("009_call_tools", """
        ALTER TABLE calls ADD COLUMN tool_calls_json TEXT;
        ALTER TABLE calls ADD COLUMN request_digest TEXT;
    """),
    # An evaluation's tasks keep every call's prompt (zlib-compressed JSON of its messages), so that a
    # test, or the user, can see what each phase was shown (and that no hidden check was among it).
    ("010_call_prompt", """
        ALTER TABLE calls ADD COLUMN prompt BLOB;
        ALTER TABLE tasks ADD COLUMN record_prompts INTEGER NOT NULL DEFAULT 0;
    """),
    # Each call's own id, the same in every ledger that holds it: a task carried between machines
    # (Temporal workers on other machines) brings its calls back into the submitter's ledger exactly once.
    ("011_call_uid", """
        ALTER TABLE calls ADD COLUMN uid TEXT;
        UPDATE calls SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
        CREATE UNIQUE INDEX calls_uid ON calls(uid);
    """),
]


def pending(done: set[str]) -> list[str]:
    """The names of the migrations a ledger that has applied ``done`` still lacks."""
    return [name for name, _ in MIGRATIONS if name not in done]


def applied(conn: sqlite3.Connection) -> set[str]:
    """The migrations recorded in the ledger behind ``conn`` (its ``migrations`` table must exist)."""
    return {r[0] for r in conn.execute("SELECT name FROM migrations")}


def migrate(conn: sqlite3.Connection) -> None:
    """Apply every migration the ledger lacks, each in its own transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = applied(conn)
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        # BEGIN IMMEDIATE serialises concurrent first openings; re-check under the lock.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM migrations WHERE name=?", (name,)).fetchone():
                conn.execute("COMMIT")
                continue
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
