"""The real coding-agent CLIs, pinned (``.ci/setup-agents``), each run headless as recipes.py says
against the scripted model on 127.0.0.1: it writes the file in a temporary git repository through its own
tool, exits 0, and its machine-readable output carries the usage the server reported.

Skipped, saying how to install them, when the binaries are not there; failed instead under
``SPECRELAY_REQUIRE_AGENTS=1`` (``.ci/run``)."""

from __future__ import annotations

from pathlib import Path

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
