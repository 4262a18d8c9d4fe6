"""A task end to end through the CLI: run, the review→fix loop, budgets, resume, merge, discard."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, happy_replies, project, review


def run_json(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = run_cli(*args, "--json", cwd=repo)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None
    return proc, data


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_happy_path_commits_with_trailers_and_ticks_the_workflow(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc, status = run_json(repo, "run", "Add a sub function")
    assert proc.returncode == 0, proc.stderr
    assert status["status"] == "done" and status["rounds"] == 1
    assert status["id"].startswith("add-a-sub-function-")
    assert status["branch"] == f"specrelay/{status['id']}"
    trailers = git(Path(status["worktree"]), "log", "-1", "--format=%s%n%(trailers)")
    assert trailers.startswith("Subtraction\n")
    assert f"Specrelay-Task: {status['id']}" in trailers and "Specrelay-Model: scripted-flash-builder" in trailers
    folder = Path(status["folder"])
    assert (folder / "request.md").read_text() == "Add a sub function\n"
    assert "[ ]" not in (folder / "workflow.md").read_text()
    assert json.loads((folder / "verify.json").read_text())["passed"] is True
    assert "Verdict: **approve**" in (folder / "review.md").read_text()
    assert git(repo, "status", "--porcelain") == ""  # the main tree is untouched
    [listed] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    for key in ("id", "title", "status", "workflow", "branch", "worktree", "steps", "rounds", "cost_usd",
                "input_tokens", "output_tokens"):
        assert key in listed
    assert [s["kind"] for s in listed["steps"]] == ["plan", "implement", "verify", "review"]
    assert listed["steps"][0]["presets"] == ["opus-planner"]


def test_each_call_records_its_context_split(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = run_json(repo, "run", "Add sub")
    _, shown = run_json(repo, "show", status["id"])
    contexts = {c["phase"]: c["context"] for c in shown["calls"]}
    assert {"request", "map", "readme"} <= contexts["plan"].keys()
    assert {"spec", "files"} <= contexts["implement"].keys()
    assert {"spec", "diff", "verify"} <= contexts["review"].keys()
    assert "spec.md" in shown["artifacts"]
    spec = run_cli("show", status["id"], "spec.md", cwd=repo)
    assert spec.stdout.strip() == SPEC.strip()
    assert_clean_error(run_cli("show", status["id"], "nope.md", cwd=repo), "no artifact 'nope.md'", "spec.md")


def test_review_requests_changes_then_approves(tmp_path: Path) -> None:
    replies = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
               "gpt-reviewer": [review("request_changes", [MAJOR]), review()]}
    repo = project(tmp_path, replies)
    proc, status = run_json(repo, "run", "Add sub")
    assert status["status"] == "done" and status["rounds"] == 2, proc.stderr
    assert '"""a minus b."""' in (Path(status["worktree"]) / "calc.py").read_text()
    assert len(git(Path(status["worktree"]), "log", "--format=%s", "main..HEAD").splitlines()) == 2


def test_max_rounds_ends_as_needs_attention(tmp_path: Path) -> None:
    replies = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
               "gpt-reviewer": [review("request_changes", [MAJOR])] * 2}
    repo = project(tmp_path, replies)
    wf = repo / ".specrelay" / "workflows"
    wf.mkdir()
    text = (Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md").read_text()
    (wf / "two.md").write_text(text.replace("<!-- max-rounds: 3 -->", "<!-- max-rounds: 2 -->"))
    proc, status = run_json(repo, "run", "Add sub", "--workflow", "two")
    assert proc.returncode == 1
    assert status["status"] == "needs_attention" and status["rounds"] == 2
    assert "sub has no docstring" in status["message"]


def test_verify_failure_goes_back_to_the_builder(tmp_path: Path) -> None:
    broken = ADD_SUB.replace("return a - b", "return a + b")
    fixed = ("calc.py\n<<<<<<< SEARCH\ndef sub(a, b):\n    return a + b\n=======\n"
             "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n")
    check = "python3 -c \"import calc; assert calc.sub(3, 1) == 2, 'sub is wrong'\""
    replies = {"opus-planner": [SPEC], "flash-builder": [broken, fixed], "gpt-reviewer": [review()]}
    repo = project(tmp_path, replies, verify=[check])
    proc, status = run_json(repo, "run", "Add sub")
    assert status["status"] == "done", proc.stderr
    folder = Path(status["folder"])
    assert "sub is wrong" in (folder / "verify_r1_a0_1.log").read_text()
    assert json.loads((folder / "verify.json").read_text())["passed"] is True


def test_budget_pauses_and_resume_with_more_finishes(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc, status = run_json(repo, "run", "Add sub", "--budget", "0.001")
    assert proc.returncode != 0 and status["status"] == "paused"
    assert "budget" in proc.stderr and f"specrelay resume {status['id']} --budget" in proc.stderr
    proc, status = run_json(repo, "resume", status["id"], "--budget", "5")
    assert proc.returncode == 0 and status["status"] == "done", proc.stderr


def test_merge_then_merged_task_cannot_be_resumed(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = run_json(repo, "run", "Add sub")
    proc = run_cli("merge", status["id"], "--delete", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "def sub" in (repo / "calc.py").read_text()
    assert not Path(status["worktree"]).exists()
    assert_clean_error(run_cli("resume", status["id"], cwd=repo), "merged")


def test_merge_refuses_a_dirty_main_tree_and_names_conflicts(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = run_json(repo, "run", "Add sub")
    (repo / "calc.py").write_text("dirty\n")
    assert_clean_error(run_cli("merge", status["id"], cwd=repo), "calc.py")
    (repo / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-qam", "conflicting change")
    assert_clean_error(run_cli("merge", status["id"], cwd=repo), "conflict", "calc.py")
    assert git(repo, "status", "--porcelain") == ""


def test_discard_refuses_to_lose_work_without_force(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = run_json(repo, "run", "Add sub")
    worktree = Path(status["worktree"])
    assert_clean_error(run_cli("discard", status["id"], cwd=repo), "not merged", "--force")
    (worktree / "notes.txt").write_text("mine\n")
    assert_clean_error(run_cli("discard", status["id"], cwd=repo), "uncommitted changes")
    assert (worktree / "notes.txt").exists()
    assert run_cli("discard", status["id"], "--force", cwd=repo).returncode == 0
    assert not worktree.exists()
    assert "specrelay/" not in git(repo, "branch", "--list")


def test_zenflows_documented_example_runs_unchanged(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "sonnet-reviewer": [review()]})
    zenflow = (Path(__file__).parents[1] / "src/specrelay/data/workflows/zenflow.md").read_text()
    assert "<!-- agent: opus-planner -->" in zenflow and "review.md" in zenflow
    proc, status = run_json(repo, "run", "Add sub", "--workflow", "zenflow")
    assert status["status"] == "done", proc.stderr
    assert [s["title"] for s in status["steps"]] == ["Planning", "Implementation", "Review"]
    assert (Path(status["folder"]) / "review.md").is_file()


def test_detach_runs_in_the_background_with_a_log(tmp_path: Path) -> None:
    import time

    repo = project(tmp_path, happy_replies())
    proc, started = run_json(repo, "run", "Add sub", "--detach")
    assert proc.returncode == 0 and started["pid"] > 0
    deadline = time.time() + 60
    while time.time() < deadline:
        [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
        if task["status"] in ("done", "failed", "needs_attention"):
            break
        time.sleep(0.2)
    assert task["status"] == "done"
    log = Path(started["log"]).read_text()
    assert "Review" in log and "Traceback" not in log


def test_local_rules_reach_every_phase(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    (repo / ".specrelay" / "rules.md").write_text("Always use tabs.\n")
    _, status = run_json(repo, "run", "Add sub")
    _, shown = run_json(repo, "show", status["id"])
    assert all("rules" in c["context"] for c in shown["calls"])


def test_resuming_a_finished_task_is_a_no_op(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = run_json(repo, "run", "Add sub")
    proc, again = run_json(repo, "resume", status["id"])
    assert proc.returncode == 0 and again["status"] == "done" and again["calls"] == status["calls"]
