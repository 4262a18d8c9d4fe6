"""SIGKILL in the middle of parallel workstreams, then ``specrelay resume``: the same task branch as an
uninterrupted run, the workstream built before the kill taken from the ledger, nothing paid twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import run_cli
from taskkit import project, review
from test_workstreams import MODULES, git, module, workflow, ws_spec


def team() -> dict[str, list[Any]]:
    # ws-1 answers at once; ws-2 and ws-3 take long enough to be killed in
    builds = [{"text": module(n), "delay_s": 0.0 if n == MODULES[0] else 2.0} for n in MODULES]
    return {"opus-planner": [ws_spec()], "flash-builder": builds, "gpt-reviewer": [review()]}


def ledger(repo: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{repo / '.specrelay' / 'ledger.db'}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


def build_rows(repo: Path) -> list[tuple[str, str]]:
    if not (repo / ".specrelay" / "ledger.db").exists():
        return []
    try:
        with ledger(repo) as db:
            rows = db.execute("SELECT step, call_key FROM calls WHERE phase = 'implement' AND outcome = 'ok' "
                              "ORDER BY id")
            return [(r["step"], r["call_key"]) for r in rows]
    except sqlite3.OperationalError:  # not created yet
        return []


def test_sigkill_mid_workstreams_then_resume_gives_the_same_branch(tmp_path: Path) -> None:
    clean = project(tmp_path / "clean", team())
    proc = run_cli("run", "Add three modules", "--workflow", workflow(clean), "--json", cwd=clean)
    assert proc.returncode == 0, proc.stderr
    expected = git(clean, "rev-parse", "specrelay/" + _task(clean) + "^{tree}")

    repo = project(tmp_path / "killed", team())
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    child = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add three modules", "--workflow",
                              workflow(repo)], cwd=repo, env=env, stdout=subprocess.DEVNULL,
                             stderr=(tmp_path / "run.err").open("w"), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and [s for s, _ in build_rows(repo)] != ["Implementation [ws-1]"]:
        time.sleep(0.05)
    seen = (tmp_path / "run.err").read_text() + str(_all(repo))
    assert [s for s, _ in build_rows(repo)] == ["Implementation [ws-1]"], seen
    time.sleep(0.3)  # ws-2 and ws-3 are still in their calls
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    task = _task(repo)
    parts = repo / ".specrelay" / "parts" / task
    assert sorted(p.name for p in parts.iterdir()) == ["ws-1", "ws-2", "ws-3"]
    (parts / "ws-3" / "half.py").write_text("left by the killed run\n")  # a builder's leftovers

    resumed = run_cli("resume", task, cwd=repo, subprocess=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert git(repo, "rev-parse", f"specrelay/{task}^{{tree}}") == expected
    rows = build_rows(repo)
    assert sorted(s for s, _ in rows) == [f"Implementation [ws-{i}]" for i in (1, 2, 3)]  # each paid once
    assert len({k for _, k in rows}) == 3
    with ledger(repo) as db:
        status = db.execute("SELECT status FROM tasks WHERE id = ?", (task,)).fetchone()["status"]
    assert status == "done"
    kept = git(repo, "for-each-ref", "--format=%(refname)", f"refs/specrelay/leftovers/{task}").split()
    assert len(kept) == 1 and "half.py" in git(repo, "show", "--name-only", "--format=", kept[0])


def _task(repo: Path) -> str:
    with ledger(repo) as db:
        return str(db.execute("SELECT id FROM tasks").fetchone()["id"])


def _all(repo: Path) -> list[tuple[Any, ...]]:
    with ledger(repo) as db:
        return [tuple(r) for r in db.execute("SELECT phase, step, outcome, call_key FROM calls")]
