"""Claude Code as a builder, a reviewer and for ask: the real CLI (``.ci/setup-agents``) against a fake
Anthropic server on 127.0.0.1, through specrelay's CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from agentwire import USAGE, Script, agent_bin, anthropic_server, claude_env
from conftest import run_cli
from taskkit import SPEC, project, review

BIN = agent_bin()
pytestmark = pytest.mark.skipif(
    BIN is None and os.environ.get("SPECRELAY_REQUIRE_AGENTS") != "1",
    reason="the agent CLIs are not installed: eval \"$(.ci/setup-agents)\" sets SPECRELAY_AGENT_BIN")

WORKFLOW = """# Claude builds, Claude reviews

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Implementation
<!-- agent: claude-code -->
<!-- max-turns: 8 -->
Implement spec.md.

### [ ] Step: Review
<!-- agent: claude-code -->
Review the change.
"""


def _repo(tmp_path: Path) -> Path:
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "claude.md").write_text(WORKFLOW)
    assert BIN is not None
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{BIN / "claude"}"\nmodel = "fake-model"\ntimeout_s = 120\n')
    return repo


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_claude_code_builds_and_reviews_a_task(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    script = Script(path="hello.txt", content="hello from claude\n", review=review())
    with anthropic_server(script) as url:
        # Under a budget, with a turn bound: the pinned binary takes --max-budget-usd and --max-turns.
        proc = run_cli("run", "Add a greeting file", "--workflow", "claude", "--budget", "5", "--json", cwd=repo,
                       env=claude_env(url, tmp_path / "agent-home"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    worktree = Path(status["worktree"])
    assert (worktree / "hello.txt").read_text() == "hello from claude\n"  # the agent wrote it, in the worktree
    assert not (repo / "hello.txt").exists()
    log = _git(worktree, "log", "-1", "--format=%s%n%(trailers)")
    assert f"Specrelay-Task: {status['id']}" in log and "Specrelay-Model: fake-model" in log
    assert _git(worktree, "status", "--porcelain") == ""
    assert "Verdict: **approve**" in (Path(status["folder"]) / "review.md").read_text()
    # The builder's call ran writable, the reviewer's read-only: only the builder's prompt wrote a file.
    builder = [b for b in script.received if "You are the builder" in json.dumps(b.get("messages"))]
    assert builder and any("tool_result" in json.dumps(b["messages"]) for b in builder)
    # The ledger has the usage the server reported, summed over the run's requests, and Claude's own cost.
    rows = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT phase, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, cost_source,"
        " agent_json FROM calls WHERE provider='claude-code' ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["implement", "review"]
    served = len(script.received)
    per = USAGE["input_tokens"] + USAGE["cache_read_input_tokens"] + USAGE["cache_creation_input_tokens"]
    assert sum(r[1] for r in rows) == served * per
    assert sum(r[2] for r in rows) == served * USAGE["output_tokens"]
    assert sum(r[3] for r in rows) == served * USAGE["cache_read_input_tokens"]
    assert sum(r[4] for r in rows) == served * USAGE["cache_creation_input_tokens"]
    assert all(r[5] is not None and r[5] > 0 and r[6] == "agent" for r in rows)
    agent = json.loads(rows[0][7])
    assert agent["tools"] == ["Write"] and agent["turns"] == 2 and agent["denials"] == []


def test_ask_with_claude_code(tmp_path: Path) -> None:
    assert BIN is not None
    config = tmp_path / "specrelay-home" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[presets.claude-code]\ncommand = "{BIN / "claude"}"\nmodel = "fake-model"\n')
    script = Script(final="Forty-two.")
    with anthropic_server(script) as url:
        proc = run_cli("ask", "--preset", "claude-code", "What is the answer?", cwd=tmp_path,
                       env=claude_env(url, tmp_path / "agent-home"))
    assert proc.returncode == 0, proc.stderr
    assert "Forty-two." in proc.stdout


def test_a_missing_binary_is_one_line_naming_the_install(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    text = (repo / ".specrelay" / "config.toml").read_text().replace(str(BIN / "claude"), "/nowhere/claude")
    (repo / ".specrelay" / "config.toml").write_text(text)
    proc = run_cli("run", "Add a greeting file", "--workflow", "claude", cwd=repo)
    assert proc.returncode != 0
    assert "npm install -g @anthropic-ai/claude-code" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (repo / ".specrelay" / "tasks").exists() or not any((repo / ".specrelay" / "tasks").iterdir())


def test_presets_shows_the_binary_and_its_version(tmp_path: Path) -> None:
    assert BIN is not None
    config = tmp_path / "specrelay-home" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[presets.claude-code]\ncommand = "{BIN / "claude"}"\n\n'
                      '[presets.gone]\nprovider = "claude-code"\ncommand = "/nowhere/claude"\n')
    proc = run_cli("presets", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["claude-code"]["binary"]["found"] is True
    assert "2.1.197" in rows["claude-code"]["binary"]["version"]
    assert rows["gone"]["binary"] == {"command": "/nowhere/claude", "path": None, "version": None,
                                      "install": "npm install -g @anthropic-ai/claude-code", "found": False}
    assert rows["opus-planner"]["binary"] is None
    table = run_cli("presets", cwd=tmp_path).stdout
    assert "not installed: npm install -g @anthropic-ai/claude-code" in table


def _processes_in(folder: Path) -> list[int]:
    """The processes whose working directory is ``folder`` or inside it."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = Path(os.readlink(entry / "cwd"))
            except OSError:
                continue
            if cwd == folder or folder in cwd.parents:
                found.append(int(entry.name))
    return found


def test_sigterm_stops_the_agent_and_pauses_the_task(tmp_path: Path) -> None:
    import signal
    import sys
    import time

    repo = _repo(tmp_path)
    script = Script(delay_s=60)  # the model never answers while the test lasts
    with anthropic_server(script) as url:
        env = {**os.environ, **claude_env(url, tmp_path / "agent-home")}
        env.pop("PYTEST_CURRENT_TEST", None)
        proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add a greeting file", "--workflow",
                                 "claude"], cwd=repo, env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while not any("You are the builder" in json.dumps(b.get("messages")) for b in script.received):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        [worktree] = (repo / ".specrelay" / "worktrees").iterdir()
        assert _processes_in(worktree)  # claude is running there
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert time.monotonic() - t0 < 15
        assert _processes_in(worktree) == []  # its whole process group went with it
        [status] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
        assert status["status"] == "paused", status
        # Resume redoes the agent's step (its call is not taken from the ledger: the edits are not in it).
        script.delay_s, script.review = 0, review()
        builds = sum("You are the builder" in json.dumps(b.get("messages")) for b in script.received)
        resumed = run_cli("resume", status["id"], "--json", cwd=repo, env=claude_env(url, tmp_path / "agent-home"))
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "done"
        assert sum("You are the builder" in json.dumps(b.get("messages")) for b in script.received) > builds
    assert (worktree / "hello.txt").exists() and _git(worktree, "status", "--porcelain") == ""


def test_a_refused_action_is_reported_and_a_build_that_changed_nothing_fails(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    script = Script(command="python3 -c \"open('made-by-bash.txt', 'w')\"", review=review())
    with anthropic_server(script) as url:
        proc = run_cli("run", "Add a greeting file", "--workflow", "claude", cwd=repo,
                       env=claude_env(url, tmp_path / "agent-home"))
    assert proc.returncode != 0
    [worktree] = (repo / ".specrelay" / "worktrees").iterdir()
    assert not (worktree / "made-by-bash.txt").exists()  # acceptEdits lets it edit files, not run programs
    err = " ".join(proc.stderr.split())
    assert "changed nothing in the worktree; it was refused: Bash python3 -c" in err, proc.stderr
    [folder] = (repo / ".specrelay" / "tasks").iterdir()
    assert "Bash python3 -c" in (folder / "implement_r1.agent.md").read_text()
