"""SIGTERM during `specrelay ask` and an on-demand `specrelay review` does what Ctrl-C does: the call in
flight gets its ledger row (outcome interrupted), one clean line says so, and the exit code is
128 + the signal (130 Ctrl-C, 143 SIGTERM, as for a paused run)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


SIGNALS = pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])


def _stopped(proc: subprocess.Popen[str], sig: int) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.strip().splitlines()[-1].startswith("interrupted: "), err
    assert "in the ledger as interrupted" in err, err
    return out, err


@SIGNALS
def test_a_signal_while_ask_waits_for_its_server_records_the_call_as_interrupted(tmp_path: Path, sig: int) -> None:
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
            _stopped(proc, sig)
    [(preset, outcome, latency, cost)] = _calls(tmp_path / "specrelay-home" / "ledger.db")
    assert (preset, outcome, cost) == ("loc", "interrupted", None)
    assert 0.2 < latency < 30, latency


@SIGNALS
def test_a_signal_during_an_on_demand_review_records_each_reviewer_as_interrupted(tmp_path: Path, sig: int) -> None:
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("sonnet-reviewer", [{"text": review(), "delay_s": 5}])
                      + scripted("gpt-reviewer", [{"text": review(), "delay_s": 5}]))
    (repo / "README.md").write_text("# changed\n")
    proc = _start(repo, "review", "--panel", "sonnet-reviewer,gpt-reviewer", "--json")
    assert proc.stderr is not None
    started = [proc.stderr.readline() for _ in range(2)]
    assert all("reviewing" in line for line in started), started
    time.sleep(1.0)  # well inside the reviewers' 5 s replies
    out, err = _stopped(proc, sig)
    assert json.loads(out) == {"verdict": None, "error": err.strip().removeprefix("interrupted: ")}
    rows = _calls(repo / ".specrelay" / "ledger.db")
    assert sorted((p, o, c) for p, o, _, c in rows) == [("gpt-reviewer", "interrupted", None),
                                                          ("sonnet-reviewer", "interrupted", None)], rows
    assert all(0.5 < latency < 5.0 for _, _, latency, _ in rows), rows
