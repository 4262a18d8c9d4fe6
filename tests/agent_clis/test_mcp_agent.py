"""``specrelay mcp`` as the MCP server of real coding agents (pinned, ``.ci/setup-agents``), each run headless
against the scripted model on 127.0.0.1 with specrelay added as its MCP server the way the README says,
started in the repository as the agent is: the model answers with a call of specrelay's ``task_status``.
The call must reach specrelay (the answer names a task only specrelay knows) and specrelay's answer must
reach the model (the next request carries it as the tool's result).

Skipped, saying how to install them, when the binaries are not there; failed instead under
``SPECRELAY_REQUIRE_AGENTS=1`` (``.ci/run``)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from taskkit import happy_replies, project

from agent_clis import recipes
from agent_clis.model import Script, agent_model
from specrelay.app import run

PROMPT = "What is the status of my specrelay task?"
#: What specrelay's server needs of the test's environment (the agent's own environment has none of it).
SERVER_ENV = ("SPECRELAY_HOME", "SPECRELAY_OFFLINE", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
              "GIT_COMMITTER_EMAIL", "GIT_CONFIG_NOSYSTEM")
COMMAND = [sys.executable, "-m", "specrelay", "mcp"]


def _server_env() -> dict[str, str]:
    return {name: os.environ[name] for name in SERVER_ENV if name in os.environ}


def _configure(cli: str, repo: Path, home: Path) -> list[str]:
    """specrelay as the CLI's MCP server, as the README adds it (with this Python and the test's environment);
    the extra arguments to run the CLI with."""
    if cli == "claude-code":  # `claude mcp add` writes the same server; --mcp-config gives it for one run; a
        # headless run (-p) calls only the tools it is allowed: mcp__specrelay allows every tool of the server
        config = home / "mcp.json"
        config.write_text(json.dumps({"mcpServers": {"specrelay": {
            "type": "stdio", "command": COMMAND[0], "args": COMMAND[1:], "env": _server_env()}}}))
        return ["--mcp-config", str(config), "--strict-mcp-config", "--allowedTools", "mcp__specrelay"]
    if cli == "codex":  # the [mcp_servers.specrelay] table of config.toml, given with -c for one run
        return ["-c", f"mcp_servers.specrelay.command={json.dumps(COMMAND[0])}",
                "-c", f"mcp_servers.specrelay.args={json.dumps(COMMAND[1:])}",
                "-c", "mcp_servers.specrelay.startup_timeout_sec=60", "-c", "mcp_servers.specrelay.required=true",
                "-c", 'mcp_servers.specrelay.default_tools_approval_mode="approve"',
                "-c", "mcp_servers.specrelay.env={" + ", ".join(
                    f"{k} = {json.dumps(v)}" for k, v in _server_env().items()) + "}"]
    if cli == "gemini-cli":  # the project's .gemini/settings.json
        settings = repo / ".gemini" / "settings.json"
        settings.parent.mkdir()
        settings.write_text(json.dumps({"mcpServers": {"specrelay": {
            "command": COMMAND[0], "args": COMMAND[1:], "env": _server_env(), "trust": True}}}))
        return []
    if cli == "opencode":  # the project's opencode.json
        (repo / "opencode.json").write_text(json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": {
            "specrelay": {"type": "local", "command": COMMAND, "enabled": True, "environment": _server_env()}}}))
        return []
    raise ValueError(cli)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value for t in _strings(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _strings(v)]
    return []


def _tool_results(body: dict[str, Any]) -> list[str]:
    """The texts of the tool results a request carries back to the model, whichever wire it speaks:
    Anthropic ``tool_result`` blocks, Responses ``function_call_output`` items, Gemini ``functionResponse``
    parts, chat ``tool`` messages."""
    found: list[Any] = []
    for message in body.get("messages") or []:  # Anthropic Messages, OpenAI chat completions
        if message.get("role") == "tool":
            found.append(message.get("content"))
        elif isinstance(message.get("content"), list):
            found += [b.get("content") for b in message["content"]
                      if isinstance(b, dict) and b.get("type") == "tool_result"]
    found += [item.get("output") for item in body.get("input") or []  # OpenAI Responses
              if isinstance(item, dict) and item.get("type") == "function_call_output"]
    found += [part["functionResponse"] for content in body.get("contents") or []  # Gemini
              for part in content.get("parts") or [] if "functionResponse" in part]
    return ["".join(_strings(result)) for result in found]


def _answer(text: str) -> dict[str, Any]:
    """specrelay's JSON answer inside a tool result (some CLIs put a line or two of their own before it)."""
    found = re.search(r'\{\s*"tasks"', text)
    assert found is not None, text
    answer: dict[str, Any] = json.JSONDecoder().raw_decode(text[found.start():])[0]
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("cli", ["claude-code", "codex", "gemini-cli", "opencode"])
def test_an_agent_calls_task_status_on_specrelays_mcp_server(cli: str, tmp_path: Path) -> None:
    recipes.binary(cli)  # skipped (or failed, in CI) before anything is set up without it
    repo = project(tmp_path, happy_replies())
    [task_id] = [s.id for s in run.run(run.plan_run(repo, ["Add sub"], where=repo), jobs=1).summaries]
    script = Script(root=repo, tool="task_status", arguments={"task_id": task_id}, final="Your task is done.")
    home = tmp_path / "agent"
    home.mkdir()
    extra = _configure(cli, repo, home)
    with agent_model(script) as model:
        proc = recipes.run(cli, repo, home, model.url, PROMPT, extra=extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The model's one tool call reached specrelay's task_status (the scripted model calls only a tool the
    # CLI offered it), and the CLI sent specrelay's answer back to the model in its next request.
    calls = model.loop_calls()
    assert [ex.kind for ex in calls] == ["write", "final"], proc.stdout + proc.stderr
    assert calls[0].tool is not None and calls[0].tool.endswith("task_status"), calls[0].tool
    [result] = _tool_results(calls[-1].body)
    [row] = _answer(result)["tasks"]
    assert row["id"] == task_id and row["status"] == "done" and row["branch"] == f"specrelay/{task_id}", result
    assert row["worktree"] == str(repo / ".specrelay" / "worktrees" / task_id)  # the repository it was started in
