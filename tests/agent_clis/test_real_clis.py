"""The real coding-agent CLIs, pinned (``.ci/setup-agents``), each run headless as recipes.py says
against the scripted model on 127.0.0.1: it writes the file in a temporary git repository through its own
tool, exits 0, and its machine-readable output carries the usage the server reported.

Skipped, saying how to install them, when the binaries are not there; failed instead under
``SPECRELAY_REQUIRE_AGENTS=1`` (``.ci/run``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_repo

from agent_clis import recipes
from agent_clis.model import Script, Usage, agent_model

PROMPT = "Create the file hello.txt with a greeting."


def _script(repo: Path, **fields: object) -> Script:
    return Script(root=repo, path="hello.txt", content="Hello from the agent.\n", final="I wrote hello.txt.",
                  usage=(Usage(1200, 40, cache_read=300), Usage(1500, 20, cache_read=1000)), **fields)  # type: ignore[arg-type]


def test_claude_code_writes_the_file_and_reports_the_servers_usage(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("claude-code", repo, tmp_path / "agent", model.url, PROMPT)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "hello.txt").read_text() == "Hello from the agent.\n"
    assert [ex.tool for ex in model.loop_calls()] == ["Write", None]
    out = recipes.output_json(proc.stdout)
    assert out["result"] == "I wrote hello.txt." and out["permission_denials"] == [] and out["num_turns"] == 2
    assert recipes.reported_usage("claude-code", proc.stdout) == model.reported() == Usage(
        2700, 60, cache_read=1300)
    assert recipes.reported_cost("claude-code", proc.stdout) == out["modelUsage"]["fake-model"]["costUSD"] > 0
    # Every request went to the scripted model, with the dummy key, never logged.
    assert all(ex.headers.get("x-api-key") in (None, "<redacted>") for ex in model.exchanges)


def test_claude_code_in_plan_mode_writes_nothing_and_lists_the_refused_write(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("claude-code", repo, tmp_path / "agent", model.url, PROMPT, write=False)
    assert proc.returncode == 0, proc.stderr
    assert not (repo / "hello.txt").exists()
    # The model asked to write; Claude Code refused it, said so in permission_denials, and still exited 0.
    out = recipes.output_json(proc.stdout)
    assert [d["tool_name"] for d in out["permission_denials"]] == ["Write"]
    assert model.kinds() == ["write", "final"]


def test_codex_writes_the_file_through_its_shell_tool_and_reports_the_servers_usage(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("codex", repo, tmp_path / "agent", model.url, PROMPT)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "hello.txt").read_text() == "Hello from the agent.\n"
    assert [ex.path for ex in model.exchanges] == ["/v1/responses"] * 2
    assert [ex.tool for ex in model.loop_calls()] == ["exec_command", None]
    events = recipes.jsonl(proc.stdout)
    assert [e["item"]["text"] for e in events if e.get("item", {}).get("type") == "agent_message"] == [
        "I wrote hello.txt."]
    outputs = [item["output"] for item in model.exchanges[-1].body["input"]
               if item.get("type") == "function_call_output"]
    assert len(outputs) == 1 and "exited with code 0" in outputs[0], outputs
    assert recipes.reported_usage("codex", proc.stdout) == model.reported() == Usage(2700, 60, cache_read=1300)
    assert recipes.reported_cost("codex", proc.stdout) is None


def test_codex_read_only_cannot_write(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("codex", repo, tmp_path / "agent", model.url, PROMPT, write=False)
    assert proc.returncode == 0, proc.stderr
    assert not (repo / "hello.txt").exists()
    # The command ran in the read-only sandbox and failed there; the model was told and answered. (Codex's
    # JSONL does not always carry a command_execution item for it: the tool's output sent back does.)
    assert model.kinds() == ["write", "final"]
    outputs = [item["output"] for item in model.exchanges[-1].body["input"]
               if item.get("type") == "function_call_output"]
    assert len(outputs) == 1 and "Read-only file system" in outputs[0], outputs


def test_gemini_cli_writes_the_file_and_reports_the_servers_usage(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("gemini-cli", repo, tmp_path / "agent", model.url, PROMPT)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "hello.txt").read_text() == "Hello from the agent.\n"
    assert [ex.tool for ex in model.loop_calls()] == ["write_file", None]
    assert all(":streamGenerateContent" in ex.path and ex.query.get("alt") == ["sse"] for ex in model.loop_calls())
    out = recipes.output_json(proc.stdout)
    assert out["response"] == "I wrote hello.txt." and out["stats"]["tools"]["byName"]["write_file"]["success"] == 1
    assert recipes.reported_usage("gemini-cli", proc.stdout) == model.reported() == Usage(2700, 60, cache_read=1300)


@pytest.mark.slow
def test_opencode_writes_the_file_and_reports_the_servers_usage_and_a_cost(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("opencode", repo, tmp_path / "agent", model.url, PROMPT)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "hello.txt").read_text() == "Hello from the agent.\n"
    # A title call first (a side call: no tools), then the tool call and the final answer.
    assert model.kinds() == ["side", "write", "final"]
    assert [ex.tool for ex in model.loop_calls()] == ["write", None]
    assert all(ex.body.get("stream_options") == {"include_usage": True} for ex in model.loop_calls())
    # Its step_finish events count the loop's calls, not the title's.
    assert recipes.reported_usage("opencode", proc.stdout) == model.reported("write", "final") == Usage(
        2700, 60, cache_read=1300)
    prices = recipes.OPENCODE_PRICES
    expected = (2700 * prices["input"] + 60 * prices["output"] + 1300 * prices["cache_read"]) / 1e6
    assert recipes.reported_cost("opencode", proc.stdout) == pytest.approx(expected)


@pytest.mark.slow
def test_aider_writes_the_file_from_a_whole_file_listing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("aider", repo, tmp_path / "agent", model.url, PROMPT, files=["hello.txt"])
    assert proc.returncode == 0, proc.stderr
    assert (repo / "hello.txt").read_text() == "Hello from the agent.\n"
    assert "Applied edit to hello.txt" in proc.stdout
    assert model.kinds() == ["write"]
    # Aider reports only its own count of the tokens, not the server's usage.
    estimate = recipes.reported_usage("aider", proc.stdout)
    assert estimate.input > 0 and estimate.output > 0 and estimate != model.reported()
    # Its tags cache is left in the repository (specrelay must not commit it).
    assert (repo / ".aider.tags.cache.v4").exists()


def test_gemini_cli_in_its_default_approval_mode_is_offered_no_write_tool(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("gemini-cli", repo, tmp_path / "agent", model.url, PROMPT, write=False)
    assert proc.returncode == 0, proc.stderr
    assert not (repo / "hello.txt").exists()
    assert model.kinds() == ["final"]
    offered = {d["name"] for t in model.exchanges[-1].body["tools"] for d in t["functionDeclarations"]}
    assert "write_file" not in offered and "read_file" in offered


@pytest.mark.slow
def test_opencode_plan_agent_refuses_the_write(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with agent_model(_script(repo)) as model:
        proc = recipes.run("opencode", repo, tmp_path / "agent", model.url, PROMPT, write=False)
    assert proc.returncode == 0, proc.stderr
    # The plan agent is still offered the write tool; the call is refused when made.
    assert model.kinds() == ["side", "write", "final"]
    assert not (repo / "hello.txt").exists()
    uses = [e["part"]["state"] for e in recipes.jsonl(proc.stdout) if e.get("type") == "tool_use"]
    assert [u["status"] for u in uses] == ["error"], uses
