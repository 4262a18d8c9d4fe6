"""An agent CLI of the user's own (a script here): a failed run tried once and said in one line; its commit its own."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from taskkit import ADD_SUB, SPEC, project, review


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
    assert status["leftovers"][0]["origin"] == "of earlier steps"
    said = run_cli("show", status["id"], cwd=repo).stdout
    assert "Uncommitted changes of earlier steps (check-output.txt) are kept at" in said, said


def _result(cost: float, *, error: str | None = None) -> str:
    return json.dumps({"type": "result", "subtype": error or "success", "is_error": error is not None,
                       "num_turns": 3, "result": "" if error else "Done.", "total_cost_usd": cost,
                       "usage": {"input_tokens": 1200, "output_tokens": 300}})


def test_an_agent_sees_no_key_but_its_own(tmp_path: Path) -> None:
    """Not other providers' keys, nor those the user's own presets name (a gateway's token)."""
    seen = tmp_path / "env.txt"
    agent = _agent(tmp_path, f"env > {seen}\necho '{_result(0.001)}'")
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n'
                '\n[presets.gateway]\nprovider = "openai"\nmodel = "gpt-5.4"\napi_key_env = "GATEWAY_TOKEN"\n')
    keys = {"GATEWAY_TOKEN": "gw-secret-1", "OPENAI_API_KEY": "sk-openai-2", "GEMINI_API_KEY": "gm-secret-3",
            "ANTHROPIC_API_KEY": "sk-ant-4"}
    proc = run_cli("ask", "--preset", "claude-code", "What does calc.py do?", cwd=repo, env=keys)
    assert proc.returncode == 0, proc.stderr
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env.get("ANTHROPIC_API_KEY") == "sk-ant-4"  # its own
    assert not {"GATEWAY_TOKEN", "OPENAI_API_KEY", "GEMINI_API_KEY"} & env.keys(), sorted(env)


def test_a_failed_agent_run_is_recorded_with_what_it_cost(tmp_path: Path) -> None:
    """Claude Code stopped at its turn limit: the run was paid for, and its tokens and cost are on record."""
    agent = _agent(tmp_path, f"echo '{_result(0.0123, error='error_max_turns')}'\nexit 1")
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\nmax_turns = 3\n')
    proc = run_cli("ask", "--preset", "claude-code", "What does calc.py do?", cwd=repo)
    assert proc.returncode != 0
    assert "reached its --max-turns" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    cost = json.loads(run_cli("cost", "--json", cwd=repo).stdout)
    assert cost["total"]["failed_calls"] == 1, cost
    assert cost["total"]["cost_usd"] == pytest.approx(0.0123), cost
    assert cost["total"]["input_tokens"] == 1200 and cost["total"]["output_tokens"] == 300, cost


BUILD_THEN_REVIEW = """# Build then review

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Implementation
<!-- agent: claude-code -->
<!-- max-turns: 7 -->
Implement spec.md.

### [ ] Step: Review
<!-- kind: review -->
<!-- agent: gpt-reviewer -->
Review the diff.
"""


def _reviewed_by_agent(tmp_path: Path, agent: Path) -> Path:
    """A project whose ``reviewed`` workflow builds with the scripted flash-builder (ADD_SUB) and reviews
    with the agent script ``agent`` as the claude-code preset."""
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "reviewed.md").write_text(
        BUILD_THEN_REVIEW.replace("<!-- agent: claude-code -->\n<!-- max-turns: 7 -->", "<!-- agent: flash-builder -->")
        .replace("<!-- agent: gpt-reviewer -->", "<!-- agent: claude-code -->"))
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n')
    return repo


def test_a_budget_bounds_an_agent_and_stops_the_task_when_it_is_spent(tmp_path: Path) -> None:
    """Claude Code is told what is left (--max-budget-usd) and the step's turn bound; its own cost counts,
    so the next call finds the budget spent and the task pauses, to resume with a larger one."""
    argv = tmp_path / "argv.txt"
    agent = _agent(tmp_path, f'printf "%s\\n" "$@" > {argv}\necho hello > hello.txt\necho \'{_result(0.40)}\'')
    repo = project(tmp_path, {"opus-planner": [SPEC], "gpt-reviewer": [review()]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "agent.md").write_text(BUILD_THEN_REVIEW)
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n')
    proc = run_cli("run", "Add a greeting", "--workflow", "agent", "--budget", "0.30", "--json", cwd=repo,
                   timeout=120)
    assert proc.returncode != 0, proc.stdout
    args = argv.read_text().splitlines()
    told = float(args[args.index("--max-budget-usd") + 1])
    assert 0.25 < told < 0.30, args  # what the plan left of the budget
    assert args[args.index("--max-turns") + 1] == "7", args
    status = json.loads(proc.stdout)
    assert status["status"] == "paused", status
    assert "budget" in json.dumps(status["open"]), status
    cost = json.loads(run_cli("cost", "--json", "--task", status["id"], cwd=repo).stdout)
    assert cost["total"]["cost_usd"] > 0.40, cost  # the agent's own figure counted
    resumed = run_cli("resume", status["id"], "--budget", "5", "--json", cwd=repo, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "done"


def test_an_agent_is_not_started_when_nothing_is_left(tmp_path: Path) -> None:
    """The builder agent spent more than the budget: the reviewer agent is not started at all."""
    runs = tmp_path / "runs.txt"
    agent = _agent(tmp_path, f"echo run >> {runs}\necho hello > hello.txt\necho '{_result(0.50)}'")
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    workflow = BUILD_THEN_REVIEW.replace("<!-- agent: gpt-reviewer -->", "<!-- agent: claude-code -->")
    (repo / ".specrelay" / "workflows" / "agent.md").write_text(workflow)
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n')
    proc = run_cli("run", "Add a greeting", "--workflow", "agent", "--budget", "0.30", cwd=repo, timeout=120)
    assert proc.returncode != 0
    assert runs.read_text().splitlines() == ["run"]  # the builder only
    assert "an agent run whose cost is known only once it ends" in proc.stderr, proc.stderr
    assert "specrelay resume" in proc.stderr and "Traceback" not in proc.stderr


CODEX_EVENTS = "\n".join(json.dumps(e) for e in [
    {"type": "thread.started", "thread_id": "t1"},
    {"type": "item.completed", "item": {"type": "agent_message", "text": "It adds two numbers."}},
    {"type": "turn.completed", "usage": {"input_tokens": 20000, "cached_input_tokens": 0, "output_tokens": 1000}}])


def test_codex_is_priced_for_the_model_its_own_config_names(tmp_path: Path) -> None:
    """Codex's events name no model: with none on the preset, the one in $CODEX_HOME/config.toml is priced."""
    script = tmp_path / "bin" / "codex"
    script.parent.mkdir(parents=True)
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{CODEX_EVENTS}\nEOF\n")
    script.chmod(0o755)
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text('model = "gpt-5.4"\n')
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.codex]\ncommand = "{script}"\n')
    proc = run_cli("ask", "--preset", "codex", "What does calc.py do?", cwd=repo, env={"CODEX_HOME": str(codex_home)})
    assert proc.returncode == 0, proc.stderr
    by_model = json.loads(run_cli("cost", "--json", "--by", "model", cwd=repo).stdout)
    assert "gpt-5.4" in json.dumps(by_model), by_model
    assert by_model["total"]["cost_usd"] > 0.01, by_model  # 20k in, 1k out at gpt-5.4's price


def test_a_read_only_agent_that_writes_anyway_fails_naming_the_files(tmp_path: Path) -> None:
    """A review only reads: an agent reviewer that changed a file in the task's worktree is refused, the
    file named, its run's cost recorded, the change left there."""
    writes = _agent(tmp_path, f"echo 'x = 1' >> calc.py\necho '{_result(0.002)}'")
    repo = _reviewed_by_agent(tmp_path, writes)
    proc = run_cli("run", "Add sub", "--workflow", "reviewed", "--json", cwd=repo, timeout=120)
    assert proc.returncode != 0
    status = json.loads(proc.stdout)
    said = json.dumps(status["open"]) + proc.stderr
    assert "calc.py changed in" in said and "ran read-only" in said, said
    assert "Traceback" not in proc.stderr
    assert (Path(status["worktree"]) / "calc.py").read_text().endswith("x = 1\n")  # left for the user to see
    cost = json.loads(run_cli("cost", "--json", "--task", status["id"], "--by", "phase", cwd=repo).stdout)
    assert next(r for r in cost["rows"] if r["key"] == "review")["cost_usd"] == pytest.approx(0.002), cost


def test_presets_asks_an_agent_binary_its_version_once_until_it_changes(tmp_path: Path) -> None:
    asked = tmp_path / "asked.txt"
    agent = _agent(tmp_path, f'echo asked >> {asked}\necho "9.9.9 (Claude Code)"')
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n')

    def version() -> str:
        listed = json.loads(run_cli("presets", "--json", cwd=repo, subprocess=True).stdout)
        return next(p for p in listed if p["name"] == "claude-code")["binary"]["version"]

    assert version() == version() == "9.9.9 (Claude Code)"
    assert asked.read_text().splitlines() == ["asked"]  # the second listing took it from the cache
    agent.write_text(agent.read_text().replace("9.9.9", "10.0.0"))  # an upgrade
    assert version() == "10.0.0 (Claude Code)"


def test_an_agent_that_commits_all_its_work_itself_is_still_recorded_on_head(tmp_path: Path) -> None:
    """Its commit is kept; HEAD is specrelay's (empty) commit whose trailers name the step and the agent's commit."""
    agent = _agent(tmp_path, "echo hello > hello.txt\ngit add hello.txt\n"
                             "git -c user.name=agent -c user.email=agent@example.com "
                             "commit -qm 'Greeting, by the agent'\n"
                             f"echo '{RESULT}'")
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "checked.md").write_text(WORKFLOW)
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.claude-code]\ncommand = "{agent}"\n')
    proc = run_cli("run", "Add a greeting", "--workflow", "checked", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    worktree = Path(json.loads(proc.stdout)["worktree"])

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=worktree, capture_output=True, text=True, check=True).stdout.strip()

    own = git("rev-parse", "HEAD~1")
    assert git("log", "-1", "--format=%s", "HEAD~1") == "Greeting, by the agent"
    trailers = git("log", "-1", "--format=%(trailers)", "HEAD")
    assert f"Specrelay-Agent-Commits: {own}" in trailers and "Specrelay-Step:" in trailers, trailers
    assert git("show", "--name-only", "--format=", "HEAD") == ""  # it only records the step


def test_an_agent_review_that_is_not_json_is_asked_once_to_repair_it(tmp_path: Path) -> None:
    """The reviewer agent first answers in prose, then with the review JSON when asked again: the task goes on."""
    count = tmp_path / "count.txt"
    prose = json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                        "result": "Looks good to me.", "total_cost_usd": 0.001})
    answer = json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                         "result": review(), "total_cost_usd": 0.001})
    agent = _agent(tmp_path, f"echo x >> {count}\n"
                             f"if [ $(wc -l < {count}) -eq 1 ]; then echo '{prose}'; else echo '{answer}'; fi")
    repo = _reviewed_by_agent(tmp_path, agent)
    proc = run_cli("run", "Add sub", "--workflow", "reviewed", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "done"
    assert count.read_text().count("x") == 2  # the review, and its one repair
    assert "Verdict: **approve**" in (Path(json.loads(proc.stdout)["folder"]) / "review.md").read_text()


def test_an_agent_review_that_is_never_json_fails_the_step_and_keeps_the_reply(tmp_path: Path) -> None:
    prose = json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                        "result": "Looks good to me.", "total_cost_usd": 0.001})
    agent = _agent(tmp_path, f"echo '{prose}'")
    repo = _reviewed_by_agent(tmp_path, agent)
    proc = run_cli("run", "Add sub", "--workflow", "reviewed", cwd=repo, timeout=120)
    assert proc.returncode != 0
    assert "even after a repair request" in proc.stderr and "rejected_review_r1.md" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_panel_of_agents_shares_what_is_left_of_the_budget(tmp_path: Path) -> None:
    """Three agent reviewers started together are each told a share; the shares add up to no more than
    what was left."""
    workflow = BUILD_THEN_REVIEW.replace("<!-- agent: claude-code -->\n<!-- max-turns: 7 -->",
                                         "<!-- agent: flash-builder -->").replace(
        "<!-- agent: gpt-reviewer -->", "<!-- agents: claude-a, claude-b, claude-c -->")
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB]}, verify=[])
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "panel.md").write_text(workflow)
    answer = json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                         "result": review(), "total_cost_usd": 0.001})
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        for name in ("claude-a", "claude-b", "claude-c"):
            agent = _agent(tmp_path / name, f'printf "%s\\n" "$@" > {tmp_path / name}.argv\necho \'{answer}\'')
            f.write(f'\n[presets.{name}]\nprovider = "claude-code"\ncommand = "{agent}"\n')
    proc = run_cli("run", "Add sub", "--workflow", "panel", "--budget", "0.30", "--json", cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    cost = json.loads(run_cli("cost", "--json", "--task", status["id"], "--by", "phase", cwd=repo).stdout)
    before = sum(r["cost_usd"] for r in cost["rows"] if r["key"] != "review")
    told = []
    for name in ("claude-a", "claude-b", "claude-c"):
        args = (tmp_path / f"{name}.argv").read_text().splitlines()
        told.append(float(args[args.index("--max-budget-usd") + 1]))
    assert sum(told) <= 0.30 - before + 1e-4, (told, before)
    assert min(told) > 0.05, told  # an even share each, not the first taking it all


@pytest.mark.parametrize(("provider", "model", "kept", "dropped"), [
    ("opencode", "openrouter/meta-llama", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY"),
    ("opencode", "default", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY"),  # it picks from its own config
    ("aider", "flash", "GEMINI_API_KEY", "OPENAI_API_KEY"),
    ("codex", "default", "GW_KEY", "ANTHROPIC_API_KEY"),  # the env_key of the provider its config names
])
def test_an_agent_keeps_the_key_its_model_needs(tmp_path: Path, provider: str, model: str, kept: str,
                                                dropped: str) -> None:
    seen = tmp_path / "env.txt"
    agent = _agent(tmp_path, f"env > {seen}\nexit 1")  # what it answers does not matter here
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text('model_provider = "gw"\n[model_providers.gw]\nname = "gw"\n'
                                            'base_url = "http://127.0.0.1:9/v1"\nenv_key = "GW_KEY"\n')
    repo = project(tmp_path, {"opus-planner": [SPEC]}, verify=[])
    with (repo / ".specrelay" / "config.toml").open("a") as f:
        f.write(f'\n[presets.agent]\nprovider = "{provider}"\nmodel = "{model}"\ncommand = "{agent}"\n'
                # A preset of the user's naming the same variables: they are kept where the agent needs them.
                '\n[presets.gateway]\nprovider = "openai"\nmodel = "gpt-5.4"\napi_key_env = "GW_KEY"\n'
                '\n[presets.router]\nprovider = "openai"\nmodel = "gpt-5.4"\napi_key_env = "OPENROUTER_API_KEY"\n')
    keys = {name: f"secret-{n}" for n, name in enumerate(
        ["OPENROUTER_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY", "GW_KEY"])}
    run_cli("ask", "--preset", "agent", "hi", cwd=repo, env={**keys, "CODEX_HOME": str(codex_home)})
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert kept in env and dropped not in env, sorted(k for k in env if k.endswith("KEY"))
