"""An agent CLI of the user's own (a script here): a failed run tried once and said in one line; its commit its own."""

from __future__ import annotations

import json
import stat
import subprocess
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


RESULT = json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1, "result": "Done.",
                     "total_cost_usd": 0.001, "usage": {"input_tokens": 10, "output_tokens": 5}})
WORKFLOW = """# Check then build

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Baseline
<!-- kind: verify -->

### [ ] Step: Implementation
<!-- agent: claude-code -->
Implement spec.md.
"""


def test_an_agents_commit_holds_only_what_it_changed(tmp_path: Path) -> None:
    """What earlier steps left uncommitted (a check's output) is set aside, not committed as the agent's."""
    agent = _agent(tmp_path, f"echo hello > hello.txt\necho '{RESULT}'")
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=["echo ran > check-output.txt"])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "checked.md").write_text(WORKFLOW)
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n')
    proc = run_cli("run", "Add a greeting", "--workflow", "checked", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    worktree = Path(status["worktree"])
    committed = subprocess.run(["git", "show", "--name-only", "--format=", "HEAD"], cwd=worktree,
                               capture_output=True, text=True, check=True).stdout.split()
    assert committed == ["hello.txt"], committed
    kept = [entry["files"] for entry in status["leftovers"]]
    assert kept == [["check-output.txt"]], status["leftovers"]  # kept on specrelay's own ref, not lost
