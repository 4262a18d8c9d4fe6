"""SIGTERM during `specrelay ask` and an on-demand `specrelay review`, as for Ctrl-C: the call in flight
gets its ledger row (outcome interrupted), one clean line, exit 143 (128 + SIGTERM, as a paused run)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_repo, scripted, write_user_config
from taskkit import review


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _calls(ledger: Path) -> list[tuple[str, str, float, float | None]]:
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT preset, outcome, latency_s, cost_usd FROM calls ORDER BY id").fetchall()


def _terminated(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, (proc.returncode, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "interrupted" in err, err
    return err


def test_sigterm_while_ask_waits_for_its_server_records_the_call_as_interrupted(tmp_path: Path) -> None:
    with socket.socket() as silent:  # a loopback server that takes the request and holds the answer
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        silent.settimeout(30)
        write_user_config(f'[presets.loc]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
                          f'base_url = "http://127.0.0.1:{silent.getsockname()[1]}/v1"\n'
                          f'price = {{input = 1.0, output = 2.0}}\ntimeout_s = 60\n')
        proc = _start(tmp_path, "ask", "--preset", "loc", "hello")
        conn, _ = silent.accept()  # the call is on the wire
        with conn:
            time.sleep(0.5)
            _terminated(proc)
    [(preset, outcome, latency, cost)] = _calls(tmp_path / "specrelay-home" / "ledger.db")
    assert (preset, outcome, cost) == ("loc", "interrupted", None)
    assert 0.2 < latency < 30, latency


def test_sigterm_during_an_on_demand_review_records_the_reviewer_as_interrupted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("sonnet-reviewer", [{"text": review(), "delay_s": 5}]))
    (repo / "README.md").write_text("# changed\n")
    proc = _start(repo, "review")
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "reviewing" in line, line
    time.sleep(1.0)  # well inside the reviewer's 5 s reply
    _terminated(proc)
    [(preset, outcome, latency, cost)] = _calls(repo / ".specrelay" / "ledger.db")
    assert (preset, outcome, cost) == ("sonnet-reviewer", "interrupted", None)
    assert 0.5 < latency < 5.0, latency
