"""specrelay's agent loop through the CLI: a scripted builder that calls tools, in a real task."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from agentkit import BUILDER_TURNS, SUB, agent_workflow, call, turn
from conftest import assert_clean_error, run_cli
from taskkit import PYTHON_TEST, SPEC, happy_replies, project, review


def run_json(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = run_cli(*args, "--json", cwd=repo)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None


def transcript(folder: Path, name: str = "implement_r1.transcript.jsonl") -> list[dict]:
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def answers(entries: list[dict]) -> list[tuple[str, bool, str]]:
    return [(t["name"], t["ok"], t["answer"]) for e in entries for t in e["tools"]]


def test_a_tool_using_builder_reads_edits_checks_and_its_work_is_committed(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": BUILDER_TURNS, "gpt-reviewer": [review()]})
    proc, status = run_json(repo, "run", "Add sub", "--workflow", agent_workflow(repo))
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done"
    worktree, folder = Path(status["worktree"]), Path(status["folder"])
    assert SUB in (worktree / "calc.py").read_text()
    committed = subprocess.run(["git", "show", "--stat", "--format=%s%n%(trailers)", "HEAD"], cwd=worktree,
                               capture_output=True, text=True, check=True).stdout
    assert "calc.py" in committed and "test_sub.py" in committed and "Specrelay-Step:" in committed
    said = answers(transcript(folder))
    by_name: dict[str, list[tuple[bool, str]]] = {}
    for name, ok, answer in said:
        by_name.setdefault(name, []).append((ok, answer))
    assert by_name["list_files"][0][1].splitlines() == ["calc.py", "test_calc.py"]
    assert by_name["search"][0][1] == "calc.py:1:def add(a, b):"
    assert by_name["read_file"][0] == (True, "1\tdef add(a, b):\n2\t    return a + b")
    # The check failed (no sub yet), then passed once the edit landed.
    assert by_name["run_check"][0][0] is False and by_name["run_check"][0][1].startswith("exit code 1")
    assert by_name["run_check"][1][0] is True and by_name["run_check"][1][1].startswith("exit code 0")
    # An edit whose SEARCH matches nowhere is the applier's refusal, with where it nearly matched.
    refused_edit = by_name["edit"][0]
    assert refused_edit[0] is False and "not applied" in refused_edit[1] and "line" in refused_edit[1]
    assert by_name["edit"][1] == (True, "Edited calc.py (lines 2-2 matched).")
    # A command the user did not write is refused; so are paths outside the worktree.
    assert by_name["run_check"][2][0] is False and "Refused: 'rm -rf .' is not one of" in by_name["run_check"][2][1]
    assert (worktree / "calc.py").exists() and (worktree / "test_calc.py").exists()
    assert by_name["read_file"][1][0] is False and "'..' may not appear" in by_name["read_file"][1][1]
    assert by_name["edit"][2][0] is False and "relative to the repository root" in by_name["edit"][2][1]
    assert by_name["finish"] == [(True, "Added sub() with a test.")]
    # Each turn is a ledger row of the implement phase; the transcript is listed and shown.
    _, shown = run_json(repo, "show", status["id"])
    assert len([c for c in shown["calls"] if c["phase"] == "implement"]) == len(BUILDER_TURNS)
    assert "implement_r1.transcript.jsonl" in shown["artifacts"]
    text = run_cli("show", status["id"], "implement_r1.transcript.jsonl", cwd=repo).stdout
    assert [json.loads(line)["turn"] for line in text.splitlines()] == list(range(1, len(BUILDER_TURNS) + 1))


def test_max_turns_reached_fails_naming_the_bound_and_resume_redoes_the_step(tmp_path: Path) -> None:
    looping = [turn(call("read_file", path="calc.py"))] * 2
    done = [turn(call("edit", path="calc.py", search="    return a + b\n", replace="    return a + b\n\n\n" + SUB)),
            turn(call("finish", summary="sub"))]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": looping + done,
                              "gpt-reviewer": [review()]})
    workflow = agent_workflow(repo, max_turns=2)
    proc = run_cli("run", "Add sub", "--workflow", workflow, cwd=repo)
    assert proc.returncode != 0
    assert "did not finish within 2 turns; raise '<!-- max-turns: 2 -->' of step 'Implementation'" in proc.stderr
    assert "Traceback" not in proc.stderr
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "failed"
    proc, status = run_json(repo, "resume", task["id"])
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done" and SUB in (Path(status["worktree"]) / "calc.py").read_text()


def test_the_budget_running_out_mid_loop_pauses_the_task_and_resume_reuses_the_turns_paid(tmp_path: Path) -> None:
    big = ("x" * 70 + "\n") * 280  # a long file read makes each later turn dear
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": BUILDER_TURNS, "gpt-reviewer": [review()]})
    (repo / "big.txt").write_text(big)
    subprocess.run(["git", "add", "big.txt"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "big"], cwd=repo, check=True)
    turns = [turn(call("read_file", path="big.txt")), *BUILDER_TURNS]
    (repo / ".specrelay" / "flash-builder.json").write_text(json.dumps(turns))
    proc = run_cli("run", "Add sub", "--workflow", agent_workflow(repo), "--budget", "0.08", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "paused", proc.stderr
    _, before = run_json(repo, "show", task["id"])
    paid = [c for c in before["calls"] if c["phase"] == "implement" and c["outcome"] == "ok"]
    assert paid, "some turns were made before the budget ran out"
    proc, status = run_json(repo, "resume", task["id"], "--budget", "5")
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done"
    _, after = run_json(repo, "show", task["id"])
    implement = [c for c in after["calls"] if c["phase"] == "implement" and c["outcome"] == "ok"]
    assert len(implement) == len(turns)  # the turns paid before were reused, not made (nor paid) again
    folder = Path(status["folder"])
    assert sum(e["reused"] for e in transcript(folder)) == len(paid)


def test_a_read_only_review_loop_opens_a_file_and_ends_in_the_review_json(tmp_path: Path) -> None:
    edit = turn(call("edit", path="calc.py", search="    return a + b\n", replace="    return a + b\n\n\n" + SUB))
    reviewer = [turn(call("read_file", path="test_calc.py"), call("edit", path="calc.py", search="a", replace="b")),
                review()]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [edit, turn(call("finish", summary="s"))],
                              "gpt-reviewer": reviewer})
    proc, status = run_json(repo, "run", "Add sub", "--workflow", agent_workflow(repo, review_mode=True))
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done"
    said = answers(transcript(Path(status["folder"]), "review_r1.transcript.jsonl"))
    assert said[0][:2] == ("read_file", True) and "assertEqual(add(1, 2), 3)" in said[0][2]
    assert said[1][:2] == ("edit", False) and said[1][2].startswith("Unknown tool 'edit'")
    assert "Verdict: **approve**" in (Path(status["folder"]) / "review.md").read_text()


def test_a_tool_call_in_a_replies_file_is_checked_before_the_task_is_created(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [{"tool_calls": [{"name": "read_file",
                                                                                           "arguments": "calc.py"}]}],
                              "gpt-reviewer": [review()]})
    proc = run_cli("run", "Add sub", "--workflow", agent_workflow(repo), cwd=repo)
    assert_clean_error(proc, "flash-builder.json: reply [0] tool_calls[0] 'arguments' must be an object")
    assert json.loads(run_cli("status", "--json", cwd=repo).stdout) == []


def test_check_commands_are_the_ones_the_user_wrote(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [
        turn(call("run_check", name=PYTHON_TEST), call("run_check", name="echo agent-check")),
        turn(call("finish", summary="nothing"))], "gpt-reviewer": [review()]},
        extra='\n[agent]\ncommands = ["echo agent-check"]\n')
    run_cli("run", "Add sub", "--workflow", agent_workflow(repo), cwd=repo)
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    said = answers(transcript(repo / ".specrelay" / "tasks" / task["id"]))
    assert said[0][1] is False and "Refused" in said[0][2]  # [agent] commands replace the verify ones
    assert said[1][:2] == ("run_check", True) and "agent-check" in said[1][2]
    assert task["status"] == "failed"  # it finished without changing anything


@pytest.mark.parametrize("config,needles", [
    ('[presets.flash-builder]\nmode = "agents"\n', ["[presets.flash-builder]", "'mode'", "'answer' or 'agent'"]),
    ("[presets.flash-builder]\nmax_turns = 0\n", ["[presets.flash-builder]", "'max_turns'", "greater than or equal"]),
    ('[presets.flash-builder]\nmax_turns = "9"\n', ["'max_turns'", "'9' (a string)"]),
    ('[agent]\ncommands = "pytest"\n', ["[agent]", "'commands'", "a list"]),
    ("[agent]\nshell = true\n", ["[agent] has unknown field 'shell'"]),
])
def test_bad_agent_config_is_one_line_naming_the_file_and_field(tmp_path: Path, config: str,
                                                               needles: list[str]) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC]}, extra="\n" + config)
    proc = run_cli("presets", cwd=repo)
    assert_clean_error(proc, str(repo / ".specrelay" / "config.toml"), *needles)


@pytest.mark.parametrize("directives,needle", [
    ("<!-- mode: agnt -->", "'mode' must be 'answer' or 'agent', got 'agnt'"),
    ("<!-- max-turns: 0 -->", "'max-turns' must be a positive whole number, got '0'"),
    ("<!-- max-turns: many -->", "'max-turns' must be a positive whole number, got 'many'"),
])
def test_bad_agent_directives_name_the_workflow_line(tmp_path: Path, directives: str, needle: str) -> None:
    repo = project(tmp_path, happy_replies())
    workflow = agent_workflow(repo)
    path = repo / ".specrelay" / "workflows" / f"{workflow}.md"
    path.write_text(path.read_text().replace("<!-- mode: agent -->", directives))
    proc = run_cli("run", "Add sub", "--workflow", workflow, cwd=repo)
    assert_clean_error(proc, f"{path}:9", needle)


def test_agent_mode_on_a_step_that_runs_no_loop_is_refused(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    path = repo / ".specrelay" / "workflows" / f"{agent_workflow(repo)}.md"
    path.write_text(path.read_text().replace("<!-- agent: opus-planner -->", "<!-- agent: opus-planner -->\n"
                                             "<!-- mode: agent -->"))
    proc = run_cli("run", "Add sub", "--workflow", "agentic", cwd=repo)
    assert_clean_error(proc, f"{path}:5", "'mode' is for implement or review steps", "'Planning' is a plan step")


def test_a_file_git_ignores_is_refused_as_the_tools_answer(tmp_path: Path) -> None:
    ignored = turn(call("create_file", path="__pycache__/x.py", content="X = 1\n"),
                   call("edit", path="__pycache__/x.py", search="X = 1", replace="X = 2"))
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ignored, *BUILDER_TURNS],
                              "gpt-reviewer": [review()]})
    assert "__pycache__/" in (repo / ".gitignore").read_text()  # the sample project ignores it
    proc, status = run_json(repo, "run", "Add sub", "--workflow", agent_workflow(repo))
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr
    said = answers(transcript(Path(status["folder"])))
    assert said[0][:2] == ("create_file", False) and "__pycache__/x.py is ignored by git" in said[0][2]
    assert said[1][:2] == ("edit", False) and "is ignored by git" in said[1][2]
    assert not (Path(status["worktree"]) / "__pycache__" / "x.py").exists()


PANEL = """# Panel

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Implementation
<!-- agent: flash-builder -->
Implement spec.md.

### [ ] Step: Review
<!-- kind: review -->
<!-- agents: gpt-reviewer, sonnet-reviewer -->
Review the diff.
"""


def test_a_panel_reviewer_in_agent_mode_opens_a_file_the_other_answers_once(tmp_path: Path) -> None:
    """The panel's reviewers follow their own preset's mode: gpt-reviewer (mode = "agent") reads a file
    first; sonnet-reviewer answers once. Each loop has its own transcript."""
    from taskkit import ADD_SUB

    reviewer = [turn(call("read_file", path="test_calc.py")), review()]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": reviewer,
                              "sonnet-reviewer": [review()]}, verify=[])
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace('replies = "gpt-reviewer.json"',
                                                 'replies = "gpt-reviewer.json"\nmode = "agent"'))
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "panel.md").write_text(PANEL)
    proc, status = run_json(repo, "run", "Add sub", "--workflow", "panel")
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done"
    folder = Path(status["folder"])
    said = answers(transcript(folder, "review_r1_gpt-reviewer.transcript.jsonl"))
    assert said[0][:2] == ("read_file", True) and "assertEqual(add(1, 2), 3)" in said[0][2]
    assert not (folder / "review_r1_sonnet-reviewer.transcript.jsonl").exists()
    _, shown = run_json(repo, "show", status["id"])
    turns = [c for c in shown["calls"] if c["phase"] == "review" and c["preset"] == "gpt-reviewer"]
    assert len(turns) == 2, turns


def test_a_review_loop_that_ends_without_json_is_asked_once_to_repair_it(tmp_path: Path) -> None:
    edit = turn(call("edit", path="calc.py", search="    return a + b\n", replace="    return a + b\n\n\n" + SUB))
    reviewer = [turn(call("read_file", path="calc.py")), "Looks fine to me!", review()]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [edit, turn(call("finish", summary="s"))],
                              "gpt-reviewer": reviewer})
    proc, status = run_json(repo, "run", "Add sub", "--workflow", agent_workflow(repo, review_mode=True))
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done"
    entries = transcript(Path(status["folder"]), "review_r1.transcript.jsonl")
    assert [("repair" in e) for e in entries] == [False, True, False], entries
    assert "Verdict: **approve**" in (Path(status["folder"]) / "review.md").read_text()


def test_a_review_loop_that_will_not_answer_json_fails_and_keeps_its_reply(tmp_path: Path) -> None:
    edit = turn(call("edit", path="calc.py", search="    return a + b\n", replace="    return a + b\n\n\n" + SUB))
    reviewer = ["Looks fine to me!", "Still fine, really."]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [edit, turn(call("finish", summary="s"))],
                              "gpt-reviewer": reviewer})
    proc = run_cli("run", "Add sub", "--workflow", agent_workflow(repo, review_mode=True), cwd=repo)
    assert proc.returncode != 0
    assert "even after a repair request" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "rejected_review_r1.md" in proc.stderr, proc.stderr


def test_a_transcript_reads_turn_by_turn_and_an_earlier_try_is_kept(tmp_path: Path) -> None:
    """``show`` on a terminal renders the transcript; piped, it is the JSONL as written. A loop redone
    (max_turns reached, the bound raised, then resumed) keeps the first try's transcript beside the new one."""
    from specrelay.app.tasks import transcript_text

    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": BUILDER_TURNS + BUILDER_TURNS,
                              "gpt-reviewer": [review()]})
    proc, status = run_json(repo, "run", "Add sub", "--workflow", agent_workflow(repo, max_turns=3))
    assert proc.returncode != 0 and status["status"] == "failed"
    folder = Path(status["folder"])
    first = (folder / "implement_r1.transcript.jsonl").read_bytes()
    workflow = folder / "workflow.md"  # the task's own copy, which the error names
    workflow.write_text(workflow.read_text().replace("max-turns: 3", "max-turns: 20"))
    proc, status = run_json(repo, "resume", status["id"])
    assert proc.returncode == 0, proc.stderr
    assert (folder / "implement_r1.try1.transcript.jsonl").read_bytes() == first
    now = (folder / "implement_r1.transcript.jsonl").read_bytes()
    piped = run_cli("show", status["id"], "implement_r1.transcript.jsonl", cwd=repo).stdout
    assert piped.encode() == now  # piped on: the file as written
    assert "Turn 1 · " in transcript_text(first) and "✓ read_file(path='calc.py')" in transcript_text(first)
    assert "✗ run_check(name='rm -rf .')" in transcript_text(now)
    assert "✗ edit(path='/etc/passwd', search='root', replace='x')" in transcript_text(now)


def test_ctrl_c_mid_loop_pauses_and_resume_reuses_the_turns_paid(tmp_path: Path) -> None:
    import os
    import signal
    import sys
    import time

    turns = [dict(t) for t in BUILDER_TURNS]
    turns[2] = {**turns[2], "delay_s": 3.0}  # the third turn is in flight when Ctrl-C comes (and asked again)
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": turns,
                              "gpt-reviewer": [review()]})
    workflow = agent_workflow(repo)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub", "--workflow", workflow], cwd=repo,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    found: list[Path] = []
    while not found or len(found[0].read_text().splitlines()) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
        found = list((repo / ".specrelay" / "tasks").glob("*/implement_r1.transcript.jsonl"))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert task["status"] == "paused", task
    resumed, status = run_json(repo, "resume", task["id"])
    assert resumed.returncode == 0, resumed.stderr
    assert status["status"] == "done" and SUB in (Path(status["worktree"]) / "calc.py").read_text()
    entries = transcript(Path(status["folder"]))
    assert [e["reused"] for e in entries[:2]] == [True, True] and not any(e["reused"] for e in entries[2:])


def test_a_review_loop_whose_last_turn_is_not_json_gets_its_repair_turn(tmp_path: Path) -> None:
    edit = turn(call("edit", path="calc.py", search="    return a + b\n", replace="    return a + b\n\n\n" + SUB))
    reviewer = [turn(call("read_file", path="calc.py")), "Looks fine to me!", review()]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [edit, turn(call("finish", summary="s"))],
                              "gpt-reviewer": reviewer})
    workflow = agent_workflow(repo, review_mode=True)
    path = repo / ".specrelay" / "workflows" / f"{workflow}.md"
    looped = "<!-- agent: gpt-reviewer -->\n<!-- mode: agent -->"
    path.write_text(path.read_text().replace(looped, looped + "\n<!-- max-turns: 2 -->"))
    proc, status = run_json(repo, "run", "Add sub", "--workflow", workflow)
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done"
    entries = transcript(Path(status["folder"]), "review_r1.transcript.jsonl")
    assert len(entries) == 3 and "repair" in entries[1]
