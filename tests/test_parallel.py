"""Many tasks on one repository at once: separate processes, separate branches, one ledger.

The 20-process test is the issue's own: every ``specrelay run`` (half of them ``--detach``) starts
at the same moment on one repository, with scripted models answering in 0.2-0.5 s. All must finish
``done`` on distinct branches, each holding exactly its own change, with no error in any log, and
``specrelay status`` must show them running side by side while they work.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from pathlib import Path

from fleet import FLEET, feature_replies, git, shared_repo, start, statuses, team_home, wait_until_settled

from specrelay import paths

pytestmark = FLEET
N = 20


def _delayed(replies: dict[str, list], rng: random.Random) -> dict[str, list]:
    return {name: [{"text": t, "delay_s": round(rng.uniform(0.2, 0.5), 2)} for t in items]
            for name, items in replies.items()}


def test_twenty_runs_at_once_on_one_repository(tmp_path: Path) -> None:
    rng = random.Random(6)
    repo = shared_repo(tmp_path)
    base = git(repo, "rev-parse", "HEAD").strip()
    homes = [team_home(tmp_path / f"home{i}", _delayed(feature_replies(i), rng)) for i in range(N)]
    procs = []
    for i, home in enumerate(homes):
        args = ["run", f"Add feature {i}", *(["--detach"] if i % 2 else []), "--json"]
        procs.append(start(repo, home, *args))

    # How many run side by side, read straight from the ledger (a `status` process is slow on a
    # loaded 2-core machine), and what `specrelay status` shows meanwhile.
    overlap = [0, 0]  # the most seen running at once, and how many run now
    watching = threading.Event()
    threading.Thread(target=_watch_ledger, args=(repo, overlap, watching), daemon=True).start()
    shown_running = 0
    # Ask `status` for as long as the foreground runs last or two tasks still run side by side.
    while any(p.poll() is None for p in procs[::2]) or (shown_running < 2 and overlap[1] >= 2):
        rows = statuses(repo)
        shown_running = max(shown_running, sum(r["status"] == "running" for r in rows))
        time.sleep(0.2)
    outputs = [p.communicate(timeout=300) for p in procs]
    rows = wait_until_settled(repo, N, timeout=300)
    watching.set()
    assert overlap[0] >= 5, f"at most {overlap[0]} tasks ran at once"
    assert shown_running >= 2, "`specrelay status` never showed tasks running side by side"

    for i, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, f"task {i}: {err}"
        assert err.strip() == "", f"task {i} wrote to stderr: {err}"
        assert json.loads(out)["id"]
    by_title = {r["title"]: r for r in rows}
    assert len(rows) == N and len(by_title) == N
    assert sorted(r["status"] for r in rows) == ["done"] * N, [(r["id"], r["status"], r["message"]) for r in rows]
    assert len({r["branch"] for r in rows}) == N and len({r["worktree"] for r in rows}) == N

    for i in range(N):
        task = by_title[f"Add feature {i}"]
        changed = git(repo, "diff", "--name-only", base, task["branch"]).split()
        assert changed == [f"feature_{i}.py", f"test_feature_{i}.py"], (i, changed)
        assert git(repo, "show", f"{task['branch']}:feature_{i}.py") == f"def feature{i}():\n    return {i}\n"
        assert git(repo, "rev-list", "--count", f"{base}..{task['branch']}").strip() == "1"
        assert git(Path(task["worktree"]), "status", "--porcelain") == ""
        log = Path(task["folder"]) / "run.log"
        if i % 2:
            text = log.read_text()
            assert "done" in text and "error" not in text.lower() and "Traceback" not in text, text
        assert [s["status"] for s in task["steps"]] == ["done"] * 4
        assert "[ ]" not in (Path(task["folder"]) / "workflow.md").read_text()

    ledger = sqlite3.connect(paths.ledger_path(repo))
    per_task = ledger.execute("SELECT task_id, COUNT(*), SUM(outcome='ok') FROM calls GROUP BY task_id").fetchall()
    assert len(per_task) == N and all(count == ok == 3 for _, count, ok in per_task), per_task
    assert ledger.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "HEAD").strip() == base
    assert len(git(repo, "worktree", "list", "--porcelain").split("\n\n")) >= N + 1
    git(repo, "fsck", "--no-progress")


def _watch_ledger(repo: Path, most: list[int], stop: threading.Event) -> None:
    path = paths.ledger_path(repo)
    while not stop.is_set():
        try:
            db = sqlite3.connect(path, timeout=5)
            n = db.execute("SELECT COUNT(*) FROM tasks WHERE status='running'").fetchone()[0]
            db.close()
            most[0], most[1] = max(most[0], n), n
        except sqlite3.Error:
            pass
        time.sleep(0.05)
