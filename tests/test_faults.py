"""Providers that fail: 429s, 5xx and timeouts, across several processes at once.

Every task must end done or paused (resumable, with the provider's message), never crashed; every
failed attempt must be in the ledger, in order; a Retry-After is never cut short; a preset that
keeps failing hands over to its fallbacks before the task pauses.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

from conftest import run_cli
from fleet import FLEET, feature_replies, shared_repo, start, statuses, team_home
from taskkit import happy_replies, project, review

from specrelay import paths

pytestmark = FLEET
TASKS = 8
FAULTS: list[dict[str, Any]] = [{"status": 429, "retry_after_s": 0.15}, {"status": 500}, {"status": 503},
                                {"kind": "timeout"}]
OUTCOME = {429: "rate_limit", 500: "server", 503: "server", None: "timeout"}
RETRY = "[retry]\nattempts = 2\nbackoff_s = 0.02\nmax_backoff_s = 0.05\n"


def with_faults(items: list[str], rng: random.Random, rate: float = 0.3) -> list[Any]:
    """Each reply preceded by failures, each with probability ``rate``."""
    out: list[Any] = []
    for text in items:
        while rng.random() < rate:
            out.append({"error": rng.choice(FAULTS), "delay_s": 0.02})
        out.append({"text": text, "delay_s": 0.05})
    return out


def expected_outcomes(script: list[Any]) -> list[str]:
    return [OUTCOME[item["error"].get("status")] if "error" in item else "ok" for item in script]


def test_fault_injection_every_task_ends_done_or_paused_and_every_attempt_is_recorded(tmp_path: Path) -> None:
    rng = random.Random(30)
    repo = shared_repo(tmp_path, verify=["true"], extra=RETRY)
    scripts: dict[int, dict[str, list[Any]]] = {}
    for i in range(TASKS):
        scripts[i] = {name: with_faults(items, rng) for name, items in feature_replies(i).items()}
    # Make sure the pause path is taken: two failures in a row exhaust `attempts = 2`.
    scripts[0]["flash-builder"][:0] = [{"error": {"status": 429, "retry_after_s": 0.15}}, {"error": {"status": 500}}]
    homes = [team_home(tmp_path / f"home{i}", scripts[i]) for i in range(TASKS)]

    procs = [start(repo, homes[i], "run", f"Add feature {i}") for i in range(TASKS)]
    results = [p.communicate(timeout=300) for p in procs]
    paused_once = 0
    for i, (proc, (_, err)) in enumerate(zip(procs, results, strict=True)):
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 2), (i, proc.returncode, err)  # done, or paused with one error line
        if proc.returncode == 2:
            paused_once += 1
            assert len(err.strip().splitlines()) == 1 and err.startswith("error: preset "), err
    assert paused_once >= 1

    by_title = {r["title"]: r for r in statuses(repo)}
    assert {r["status"] for r in by_title.values()} <= {"done", "paused"}
    paused = [r for r in by_title.values() if r["status"] == "paused"]
    assert all("failed" in r["message"] and "What to do" in r["message"] for r in paused)
    for _ in range(10):  # resume each paused task until it is done
        paused = [r for r in statuses(repo) if r["status"] == "paused"]
        if not paused:
            break
        for r in paused:
            home = homes[int(r["title"].rsplit(" ", 1)[1])]
            proc = start(repo, home, "resume", r["id"])
            _, err = proc.communicate(timeout=120)
            assert proc.returncode in (0, 2) and "Traceback" not in err, err
    rows = statuses(repo)
    assert [r["status"] for r in rows] == ["done"] * TASKS, [(r["title"], r["status"], r["message"]) for r in rows]

    ledger = sqlite3.connect(paths.ledger_path(repo))
    ledger.row_factory = sqlite3.Row
    injected, kinds = 0, set()
    for i in range(TASKS):
        task_id = by_title[f"Add feature {i}"]["id"]
        for preset, script in scripts[i].items():
            calls = ledger.execute("SELECT * FROM calls WHERE task_id=? AND preset=? ORDER BY id",
                                   (task_id, preset)).fetchall()
            assert [c["outcome"] for c in calls] == expected_outcomes(script), (i, preset)
            assert all(c["error"] for c in calls if c["outcome"] != "ok")
            kinds.update(c["outcome"] for c in calls if c["outcome"] != "ok")
            injected += sum(c["outcome"] != "ok" for c in calls)
            for prev, nxt, item in zip(calls, calls[1:], script, strict=False):
                retry_after = item.get("error", {}).get("retry_after_s")
                if retry_after:  # the next attempt never came sooner than the provider asked
                    assert nxt["started_at"] >= prev["started_at"] + prev["latency_s"] + retry_after * 0.95
    assert kinds == {"rate_limit", "server", "timeout"}
    assert 0.2 <= injected / (injected + 3 * TASKS) <= 0.4  # about 30% of all attempts failed
    assert ledger.execute("SELECT COUNT(*) FROM calls WHERE outcome='ok'").fetchone()[0] == 3 * TASKS


def test_a_failing_preset_falls_back_then_pauses_with_the_providers_message(tmp_path: Path) -> None:
    limited = {"error": {"status": 429, "retry_after_s": 0.05, "message": "slow down: quota of 5 rpm exceeded"}}
    down = {"error": {"status": 500, "message": "upstream overloaded"}}
    replies = {**happy_replies(), "gpt-reviewer": [limited, limited], "sonnet-reviewer": [down, down]}
    repo = project(tmp_path, replies)
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace('replies = "gpt-reviewer.json"\nprice_as = "gpt-5.4"\nfallbacks = []',
                                                 'replies = "gpt-reviewer.json"\nprice_as = "gpt-5.4"\n'
                                                 'fallbacks = ["sonnet-reviewer"]'))
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    for needle in ("gpt-reviewer", "HTTP 429", "quota of 5 rpm", "sonnet-reviewer", "HTTP 500", "upstream overloaded"):
        assert needle in line, line
    status = json.loads(proc.stdout)
    assert status["status"] == "paused" and "upstream overloaded" in status["message"]
    assert [s["status"] for s in status["steps"]] == ["done", "done", "done", "pending"]
    ledger = sqlite3.connect(paths.ledger_path(repo))
    review_calls = ledger.execute("SELECT preset, outcome FROM calls WHERE phase='review' ORDER BY id").fetchall()
    assert review_calls == [("gpt-reviewer", "rate_limit")] * 2 + [("sonnet-reviewer", "server")] * 2

    # The provider recovers: the task resumes at the review, without redoing plan or implement.
    sr = repo / ".specrelay"
    (sr / "gpt-reviewer.json").write_text(json.dumps([limited] * 4))
    (sr / "sonnet-reviewer.json").write_text(json.dumps([down, down, review()]))
    proc = run_cli("resume", status["id"], "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr
    ok = ledger.execute("SELECT phase, preset FROM calls WHERE outcome='ok' ORDER BY id").fetchall()
    assert ok == [("plan", "opus-planner"), ("implement", "flash-builder"), ("review", "sonnet-reviewer")]
    assert ledger.execute("SELECT COUNT(*) FROM calls WHERE outcome!='ok'").fetchone()[0] == 6
