"""An agent CLI that fails or hangs (the user's own binary): one attempt, said in one line, recorded."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import run_cli
from taskkit import SPEC, project


def _agent(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "claude"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize(("body", "said"), [
    ("sleep 30", "did not finish within 1 s and was stopped (timeout_s of [presets.claude-code])"),
    ("echo 'the model refused' >&2; exit 3", "exited with code 3"),
])
def test_a_failed_agent_run_is_not_tried_again(tmp_path: Path, body: str, said: str) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{_agent(tmp_path, body)}"\ntimeout_s = 1\n')
    proc = run_cli("ask", "--preset", "claude-code", "What does calc.py do?", cwd=repo, timeout=60)
    assert proc.returncode != 0
    assert said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    cost = json.loads(run_cli("cost", "--json", cwd=repo).stdout)
    assert cost["total"]["failed_calls"] == 1 and cost["total"]["ok_calls"] == 0, cost  # one attempt, not three
