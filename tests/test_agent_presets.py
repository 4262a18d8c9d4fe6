"""Codex and Gemini CLI as builders and reviewers of a task: the real CLIs (``.ci/setup-agents``) against
the scripted agent model on 127.0.0.1 (tests/agent_clis), through specrelay's CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from agent_clis import recipes
from agent_clis.model import Script, agent_model
from conftest import run_cli
from taskkit import ADD_SUB, SPEC, project, review

WORKFLOW = """# An agent builds, the same agent reviews

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Implementation
<!-- agent: {preset} -->
Implement spec.md.

### [ ] Step: Review
<!-- agent: {preset} -->
Review the change.
"""


class TaskScript(Script):
    """Writes ``path`` in the task's worktree (created by the run, so looked up when the tool is called)."""

    @property
    def target(self) -> Path:
        [worktree] = (self.root / ".specrelay" / "worktrees").iterdir()
        return worktree / self.path


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("cli", ["codex", "gemini-cli", pytest.param("opencode", marks=pytest.mark.slow)])
def test_an_agent_builds_and_reviews_a_task(tmp_path: Path, cli: str) -> None:
    binary = recipes.binary(cli)
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "agent.md").write_text(WORKFLOW.format(preset=cli))
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        model_id = "fake/fake-model" if cli == "opencode" else "fake-model"  # OpenCode's: provider/model
        f.write(f'\n[presets.{cli}]\ncommand = "{binary}"\nmodel = "{model_id}"\ntimeout_s = 180\n'
                # The fake model has no price: these tokens are priced at this one.
                'price = {input = 1.0, output = 2.0, cache_read = 0.5}\n')
    script = TaskScript(root=repo, path="hello.txt", content="Hello from the agent.\n", final=review())
    with agent_model(script) as model:
        env = recipes.environment(cli, tmp_path / "agent", model.url)
        proc = run_cli("run", "Add a greeting file", "--workflow", "agent", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    worktree = Path(status["worktree"])
    assert (worktree / "hello.txt").read_text() == "Hello from the agent.\n"
    log = _git(worktree, "log", "-1", "--format=%(trailers)")
    assert f"Specrelay-Task: {status['id']}" in log and "Specrelay-Step:" in log
    assert _git(worktree, "status", "--porcelain") == ""
    assert "Verdict: **approve**" in (Path(status["folder"]) / "review.md").read_text()
    assert [ex.tool for ex in model.exchanges if ex.kind == "write"][:1] == [
        {"codex": "exec_command", "gemini-cli": "write_file", "opencode": "write"}[cli]]
    rows = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT phase, input_tokens, output_tokens, cache_read_tokens, cost_usd, cost_source, estimated"
        " FROM calls WHERE provider=? ORDER BY id", (cli,)).fetchall()
    assert [r[0] for r in rows] == ["implement", "review"]
    # OpenCode's steps count the calls of its loop, not its title call.
    served = model.reported("write", "final") if cli == "opencode" else model.reported()
    assert sum(r[1] for r in rows) == served.input + served.cache_read  # specrelay's input includes the cached
    assert sum(r[2] for r in rows) == served.output + served.reasoning
    assert sum(r[3] for r in rows) == served.cache_read
    for _, fresh, out, cached, cost, source, estimated in rows:
        assert not estimated
        if cli == "opencode":  # the preset's own price wins over the agent's figure
            assert source == "priced"
        assert cost == pytest.approx(((fresh - cached) * 1.0 + cached * 0.5 + out * 2.0) / 1e6)


@pytest.mark.slow
def test_aider_builds_a_task_and_its_estimate_is_marked_estimated(tmp_path: Path) -> None:
    binary = recipes.binary("aider")
    repo = project(tmp_path, {"opus-planner": [SPEC], "gpt-reviewer": [review()]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    workflow = WORKFLOW.format(preset="aider")  # Aider builds; a scripted reviewer reviews
    (repo / ".specrelay" / "workflows" / "agent.md").write_text(
        workflow.replace("<!-- agent: aider -->\nReview", "<!-- agent: gpt-reviewer -->\nReview"))
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.aider]\ncommand = "{binary}"\nmodel = "openai/fake-model"\ntimeout_s = 240\n')
    script = TaskScript(root=repo, path="hello.txt", content="Hello from the agent.\n", final="Done.")
    with agent_model(script) as model:
        env = recipes.environment("aider", tmp_path / "agent", model.url)
        proc = run_cli("run", "Add a greeting file", "--workflow", "agent", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    worktree = Path(status["worktree"])
    assert status["status"] == "done", status
    assert (worktree / "hello.txt").read_text() == "Hello from the agent.\n"
    assert _git(worktree, "show", "--name-only", "--format=", "HEAD").split() == ["hello.txt"]  # no aider cache
    [row] = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT input_tokens, output_tokens, estimated FROM calls WHERE provider='aider'").fetchall()
    assert row[0] > 0 and row[1] > 0 and row[2] == 1


def test_a_panel_of_codex_gemini_cli_and_claude_code_reviews_a_task(tmp_path: Path) -> None:
    binaries = {cli: recipes.binary(cli) for cli in ("codex", "gemini-cli", "claude-code")}
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "agent.md").write_text(WORKFLOW.format(preset="claude-code").replace(
        "<!-- agent: claude-code -->\nReview", "<!-- agents: codex, gemini-cli, claude-code -->\nReview"))
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        for cli, binary in binaries.items():
            f.write(f'\n[presets.{cli}]\ncommand = "{binary}"\nmodel = "fake-model"\ntimeout_s = 180\n')
    script = TaskScript(root=repo, path="hello.txt", content="Hello from the agent.\n", final=review())
    with agent_model(script) as model:
        env: dict[str, str] = {}
        for cli in binaries:  # one home for the three: each recipe writes its own files and variables
            env |= recipes.environment(cli, tmp_path / "agent", model.url)
        proc = run_cli("run", "Add a greeting file", "--workflow", "agent", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    assert (Path(status["worktree"]) / "hello.txt").read_text() == "Hello from the agent.\n"
    rows = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT provider FROM calls WHERE phase='review' AND outcome='ok'").fetchall()
    assert sorted(r[0] for r in rows) == ["claude-code", "codex", "gemini-cli"]
    assert "approve" in (Path(status["folder"]) / "final_review.md").read_text().lower()


@pytest.mark.slow
def test_aider_reviews_a_task_read_only(tmp_path: Path) -> None:
    """Aider as the reviewer: run with --dry-run, its answer the review JSON, the worktree left as it was."""
    binary = recipes.binary("aider")
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    workflow = WORKFLOW.format(preset="aider")  # a scripted builder builds; Aider reviews
    (repo / ".specrelay" / "workflows" / "agent.md").write_text(
        workflow.replace("<!-- agent: aider -->\nImplement", "<!-- agent: flash-builder -->\nImplement"))
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.aider]\ncommand = "{binary}"\nmodel = "openai/fake-model"\ntimeout_s = 240\n')
    script = TaskScript(root=repo, path="calc.py", content="x = 1\n", final=review(), write=False)
    with agent_model(script) as model:
        env = recipes.environment("aider", tmp_path / "agent", model.url)
        proc = run_cli("run", "Add sub", "--workflow", "agent", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    assert "Verdict: **approve**" in (Path(status["folder"]) / "review.md").read_text()
    assert _git(Path(status["worktree"]), "status", "--porcelain") == ""  # nothing written, no cache left
    [row] = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT phase, estimated FROM calls WHERE provider='aider'").fetchall()
    assert row == ("review", 1)


class CandidateScript(Script):
    """Writes ``path`` in best-of-N candidate ``n``'s worktree."""

    n: int = 2

    @property
    def target(self) -> Path:
        [worktree] = (self.root / ".specrelay" / "worktrees").glob(f"*.cand-{self.n}")
        return worktree / self.path


BEST_OF = """# Best of an API builder and Codex

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Implementation
<!-- agents: flash-builder, codex -->
Implement spec.md.

### [ ] Step: Verification
<!-- kind: verify -->

### [ ] Step: Review
<!-- agent: gpt-reviewer -->
Review the change.
"""


def test_best_of_an_api_builder_and_codex_keeps_codex_when_the_other_fails_verification(tmp_path: Path) -> None:
    binary = recipes.binary("codex")
    broken = ADD_SUB.replace("return a - b", "return a + b")
    check = "python3 -c \"import calc; assert calc.sub(3, 1) == 2\""
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [broken],
                              "gpt-reviewer": [review(), review(), review()]}, verify=[check])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "best.md").write_text(BEST_OF)
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.codex]\ncommand = "{binary}"\nmodel = "fake-model"\ntimeout_s = 180\n'
                'price = {input = 1.0, output = 2.0, cache_read = 0.5}\n')
    fixed = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    script = CandidateScript(root=repo, path="calc.py", content=fixed, final="I added sub.")
    with agent_model(script) as model:
        env = recipes.environment("codex", tmp_path / "agent", model.url)
        proc = run_cli("run", "Add sub", "--workflow", "best", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["status"] == "done", status
    assert (Path(status["worktree"]) / "calc.py").read_text() == fixed
    record = json.loads((Path(status["folder"]) / "candidates.json").read_text())
    assert record["winner"] == 2
    by_n = {c["n"]: c for c in record["candidates"]}
    assert by_n[1]["verification"] == "failed" and by_n[2]["verification"] == "passed"
    assert by_n[2]["preset"] == "codex" and by_n[2]["cost_usd"] > 0
    steps = [r[0] for r in sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT step FROM calls WHERE provider='codex'")]
    assert steps == ["Implementation [cand-2]"]
