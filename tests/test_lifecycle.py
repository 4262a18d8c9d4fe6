"""A task's lifecycle around git, through the CLI: merge, discard, gc, resume, update, leftovers, base."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, happy_replies, project, review

WORKFLOW = Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md"
APPROVE_AFTER_FIX = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                     "gpt-reviewer": [review("request_changes", [MAJOR]), review()]}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def cli_json(repo: Path, *args: str, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
    proc = run_cli(*args, "--json", cwd=cwd or repo)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None


def one_round(repo: Path) -> None:
    """A project workflow ``one-round``: the default one with a single review round."""
    flows = repo / ".specrelay" / "workflows"
    flows.mkdir(exist_ok=True)
    (flows / "one-round.md").write_text(WORKFLOW.read_text().replace("<!-- max-rounds: 3 -->",
                                                                     "<!-- max-rounds: 1 -->"))


def needs_attention(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    repo = project(tmp_path, APPROVE_AFTER_FIX)
    one_round(repo)
    proc, status = cli_json(repo, "run", "Add sub", "--workflow", "one-round")
    assert status["status"] == "needs_attention", proc.stderr
    return repo, status


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert_clean_error(proc, *needles)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and proc.stdout == "", proc.stdout + proc.stderr
    return lines[0]


# -- merge never takes unfinished work silently -------------------------------------------------


def test_merge_refuses_a_task_that_needs_attention_unless_forced(tmp_path: Path) -> None:
    repo, status = needs_attention(tmp_path)
    line = one_error_line(run_cli("merge", status["id"], cwd=repo), "needs_attention", "sub has no docstring",
                          "--force")
    assert "not finished" in line
    assert "def sub" not in (repo / "calc.py").read_text()
    proc = run_cli("merge", status["id"], "--force", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "needs_attention" in proc.stdout and "Merged" in proc.stdout
    assert "def sub" in (repo / "calc.py").read_text()


def test_merge_refuses_a_paused_task_naming_the_step_and_why(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub", "--budget", "0.001")
    assert status["status"] == "paused"
    proc = run_cli("merge", status["id"], cwd=repo)
    one_error_line(proc, "paused", f"at step '{status['current_step']}'", "budget", f"specrelay resume {status['id']}")
    assert ".." not in proc.stderr  # the pause's own sentence ends where the advice begins


def test_merge_refuses_a_done_task_whose_last_verification_failed(tmp_path: Path) -> None:
    failing = f"{sys.executable} -c \"raise SystemExit(3)\""
    repo = project(tmp_path, happy_replies(), verify=[failing])
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace("timeout_s = 30", "timeout_s = 30\nmax_attempts = 0"))
    _, status = cli_json(repo, "run", "Add sub")
    assert status["status"] == "needs_attention"  # the reviewer approved, but the check still fails
    one_error_line(run_cli("merge", status["id"], cwd=repo), "verification failed", "exit 3", "verify_r1_a0_1.log")
    assert run_cli("merge", status["id"], "--force", cwd=repo).returncode == 0


def test_merge_says_where_to_run_when_no_worktree_has_the_base(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    git(repo, "switch", "-q", "-c", "other")
    one_error_line(run_cli("merge", status["id"], cwd=repo), "no worktree has main checked out", "git switch main")


# -- a task starts from the HEAD the user stands on ---------------------------------------------


def test_a_task_run_from_a_linked_worktree_starts_from_its_head_and_merges_there(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    feature = tmp_path / "feature"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(feature))
    (feature / "NOTES.md").write_text("feature work\n")
    git(feature, "add", "NOTES.md")
    git(feature, "commit", "-qm", "feature work")
    proc, status = cli_json(repo, "run", "Add sub", cwd=feature)
    assert status["status"] == "done", proc.stderr
    assert status["base_branch"] == "feature"
    assert status["base_sha"] == git(feature, "rev-parse", "HEAD").strip()
    assert (Path(status["worktree"]) / "NOTES.md").is_file()  # the feature's commits are in the task
    proc = run_cli("merge", status["id"], cwd=repo, env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr
    assert "into feature" in proc.stdout and str(feature.resolve()) in proc.stdout.replace("\n", "")
    assert "def sub" in (feature / "calc.py").read_text()
    assert "def sub" not in (repo / "calc.py").read_text()  # main is left alone


def test_run_from_inside_a_tasks_worktree_says_so(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    line = one_error_line(run_cli("run", "Another", cwd=Path(status["worktree"])),
                          f"is the worktree of task {status['id']}", "--base")
    assert str(repo) in line
    [only] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert only["id"] == status["id"]


# -- discard and gc -----------------------------------------------------------------------------


def test_discard_of_a_merged_task_keeps_it_merged(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    proc = run_cli("discard", status["id"], cwd=repo)
    assert proc.returncode == 0, proc.stderr
    [after] = json.loads(run_cli("status", status["id"], "--json", cwd=repo).stdout)
    assert after["status"] == "merged" and not after["worktree_exists"]
    assert status["branch"] not in git(repo, "branch", "--list")


def test_gc_dry_run_json_counts_what_it_would_remove(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    _, dry = cli_json(repo, "gc", "--dry-run")
    assert dry["dry_run"] is True and dry["removed"] == 0 and dry["would_remove"] == 2
    assert Path(status["worktree"]).is_dir()
    _, done = cli_json(repo, "gc")
    assert done["removed"] == 2 and done["would_remove"] == 0


# -- resume -------------------------------------------------------------------------------------


def test_resuming_a_merged_or_discarded_task_is_one_line_saying_why(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC, SPEC], "flash-builder": [ADD_SUB, ADD_SUB],
                              "gpt-reviewer": [review(), review()]})
    _, merged = cli_json(repo, "run", "Add sub")
    assert run_cli("merge", merged["id"], "--delete", cwd=repo).returncode == 0
    one_error_line(run_cli("resume", merged["id"], cwd=repo), "is merged", "nothing to resume")
    _, dropped = cli_json(repo, "run", "Add sub again", "--budget", "0.001")
    assert run_cli("discard", dropped["id"], "--force", cwd=repo).returncode == 0
    line = one_error_line(run_cli("resume", dropped["id"], cwd=repo), "was discarded", "nothing to resume")
    assert "removed by hand" not in line
    # several ids: nothing is resumed when one of them cannot be
    one_error_line(run_cli("resume", dropped["id"], merged["id"], cwd=repo), "was discarded")


def test_resuming_a_running_task_is_one_line_before_anything_else(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies(), delay=3.0)
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTEST_CURRENT_TEST"}
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub"], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            out = run_cli("status", "--json", cwd=repo)
            rows = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []
            if rows and rows[0]["status"] == "running":
                break
            assert time.monotonic() < deadline and proc.poll() is None, "the task never ran"
            time.sleep(0.1)
        one_error_line(run_cli("resume", rows[0]["id"], cwd=repo), "already running")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_resume_rounds_gives_a_needs_attention_task_more_rounds(tmp_path: Path) -> None:
    repo, status = needs_attention(tmp_path)
    proc, again = cli_json(repo, "resume", status["id"], "--rounds", "1")
    assert proc.returncode == 0, proc.stderr
    assert again["status"] == "done" and again["rounds"] == 2
    assert '"""a minus b."""' in (Path(again["worktree"]) / "calc.py").read_text()
    # the new round's builder saw the open findings of the review the task had stopped at
    _, shown = cli_json(repo, "show", status["id"])
    assert "findings" in [c for c in shown["calls"] if c["phase"] == "implement"][-1]["context"]
    assert len(git(Path(again["worktree"]), "log", "--format=%s", "main..HEAD").splitlines()) == 2


def test_resume_rounds_counts_on_top_of_the_bound_again(tmp_path: Path) -> None:
    again_fix = 'calc.py\n<<<<<<< SEARCH\n    """a minus b."""\n=======\n    """Return a minus b."""\n>>>>>>> REPLACE\n'
    replies = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB, again_fix],
               "gpt-reviewer": [review("request_changes", [MAJOR])] * 3}
    repo = project(tmp_path, replies)
    one_round(repo)
    _, status = cli_json(repo, "run", "Add sub", "--workflow", "one-round")
    _, again = cli_json(repo, "resume", status["id"], "--rounds", "1")
    assert again["status"] == "needs_attention" and again["rounds"] == 2
    _, third = cli_json(repo, "resume", status["id"], "--rounds", "1")
    assert third["status"] == "needs_attention" and third["rounds"] == 3


# -- update -------------------------------------------------------------------------------------


def test_update_merges_the_moved_base_into_the_task_and_records_it(tmp_path: Path) -> None:
    repo = project(tmp_path, {**happy_replies(), "gpt-reviewer": [review(), review()]})
    _, status = cli_json(repo, "run", "Add sub")
    (repo / "NEWS.md").write_text("news\n")
    git(repo, "add", "NEWS.md")
    git(repo, "commit", "-qm", "news on main")
    proc = run_cli("update", status["id"], cwd=repo)
    assert proc.returncode == 0, proc.stderr
    worktree = Path(status["worktree"])
    assert (worktree / "NEWS.md").read_text() == "news\n"
    [after] = json.loads(run_cli("status", status["id"], "--json", cwd=repo).stdout)
    assert after["base_sha"] == git(repo, "rev-parse", "main").strip() != status["base_sha"]
    assert git(worktree, "diff", "--name-only", f"{after['base_sha']}..HEAD").split() == ["calc.py"]
    assert "already has every commit" in run_cli("update", status["id"], cwd=repo).stdout
    proc, done = cli_json(repo, "resume", status["id"])  # the update reopened verify and review
    assert done["status"] == "done", proc.stderr
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0


def test_update_that_brings_commits_into_a_done_task_reopens_its_verify_and_review(tmp_path: Path) -> None:
    repo = project(tmp_path, {**happy_replies(), "gpt-reviewer": [review(), review()]})
    _, status = cli_json(repo, "run", "Add sub")
    (repo / "NEWS.md").write_text("news\n")
    git(repo, "add", "NEWS.md")
    git(repo, "commit", "-qm", "news on main")
    proc = run_cli("update", status["id"], cwd=repo, env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr
    assert "Reopened Verification, Review" in proc.stdout and f"specrelay resume {status['id']}" in proc.stdout
    [after] = json.loads(run_cli("status", status["id"], "--json", cwd=repo).stdout)
    assert after["status"] == "paused" and after["message"].startswith("updated from main")
    assert f"`specrelay resume {status['id']}` verifies and reviews it again" in after["message"]
    assert [s["status"] for s in after["steps"]] == ["done", "done", "pending", "pending"]
    one_error_line(run_cli("merge", status["id"], cwd=repo), "paused", "updated from main")
    proc, done = cli_json(repo, "resume", status["id"])
    assert done["status"] == "done" and done["verification"]["state"] == "passed", proc.stderr
    _, shown = cli_json(repo, "show", status["id"])
    assert [c["phase"] for c in shown["calls"]] == ["plan", "implement", "review", "review"]  # no new build
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0


def test_update_aborts_on_a_conflict_naming_the_files_and_refuses_a_dirty_worktree(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    worktree = Path(status["worktree"])
    head = git(worktree, "rev-parse", "HEAD")
    (repo / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-qam", "conflicting change")
    one_error_line(run_cli("update", status["id"], cwd=repo), "conflicts in: calc.py", "aborted")
    assert git(worktree, "rev-parse", "HEAD") == head and git(worktree, "status", "--porcelain") == ""
    [after] = json.loads(run_cli("status", status["id"], "--json", cwd=repo).stdout)
    assert after["base_sha"] == status["base_sha"]
    (worktree / "calc.py").write_text("mine\n")
    one_error_line(run_cli("update", status["id"], cwd=repo), "uncommitted changes", "calc.py")
    assert (worktree / "calc.py").read_text() == "mine\n"


# -- leftovers of an interrupted build step -----------------------------------------------------


def failing_commit_hook(repo: Path) -> Path:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    return hook


def test_leftovers_are_kept_on_a_ref_of_specrelays_own_not_in_the_stash(tmp_path: Path) -> None:
    other = ADD_SUB.replace("return a - b", "return -(b - a)")
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, other], "gpt-reviewer": [review()]})
    hook = failing_commit_hook(repo)
    _, status = cli_json(repo, "run", "Add sub")
    assert status["status"] == "failed"  # the edits were applied, the commit refused: leftovers
    hook.unlink()
    proc, again = cli_json(repo, "resume", status["id"])
    assert again["status"] == "done", proc.stderr
    assert git(repo, "stash", "list") == ""  # nothing of specrelay's in the user's stash
    [kept] = again["leftovers"]
    assert kept["ref"] == f"refs/specrelay/leftovers/{status['id']}/1" and kept["files"] == ["calc.py"]
    assert "return a - b" in git(repo, "show", f"{kept['ref']}:calc.py")
    _, shown = cli_json(repo, "show", status["id"])
    assert shown["leftovers"] == [kept]
    assert kept["ref"] in run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "300"}).stdout
    assert run_cli("discard", status["id"], "--force", cwd=repo).returncode == 0
    assert git(repo, "for-each-ref", "refs/specrelay/") == ""


def test_leftovers_the_redone_step_reproduces_are_not_kept(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, ADD_SUB],
                              "gpt-reviewer": [review()]})
    hook = failing_commit_hook(repo)
    _, status = cli_json(repo, "run", "Add sub")
    assert status["status"] == "failed"
    hook.unlink()
    proc, again = cli_json(repo, "resume", status["id"])
    assert again["status"] == "done", proc.stderr
    assert git(repo, "stash", "list") == ""
    assert again["leftovers"] == [] and git(repo, "for-each-ref", "refs/specrelay/") == ""


def done_with_leftovers(tmp_path: Path) -> tuple[Path, dict[str, Any], str]:
    """A done task whose interrupted build step left leftovers the redone step did not reproduce."""
    other = ADD_SUB.replace("return a - b", "return -(b - a)")
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, other], "gpt-reviewer": [review()]})
    hook = failing_commit_hook(repo)
    _, status = cli_json(repo, "run", "Add sub")
    hook.unlink()
    _, again = cli_json(repo, "resume", status["id"])
    [kept] = again["leftovers"]
    return repo, again, kept["ref"]


def test_merge_delete_refuses_to_drop_leftovers_unless_forced_and_names_them(tmp_path: Path) -> None:
    repo, status, ref = done_with_leftovers(tmp_path)
    line = one_error_line(run_cli("merge", status["id"], "--delete", cwd=repo), ref, "--force", "Nothing was merged")
    assert "leftovers" in line
    assert "def sub" not in (repo / "calc.py").read_text() and Path(status["worktree"]).is_dir()
    proc = run_cli("merge", status["id"], "--delete", "--force", cwd=repo, env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr
    assert "Merged" in proc.stdout and f"Deleted its leftovers (--force): {ref}" in proc.stdout
    assert git(repo, "for-each-ref", "refs/specrelay/") == ""


def test_gc_keeps_a_merged_tasks_leftovers_unless_forced(tmp_path: Path) -> None:
    repo, status, ref = done_with_leftovers(tmp_path)
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    _, report = cli_json(repo, "gc")
    [action] = [a for a in report["actions"] if a["kind"] == "leftovers"]
    assert action["outcome"] == "kept" and action["ref"] == ref and "--force" in action["reason"]
    assert not Path(status["worktree"]).is_dir()  # the worktree held nothing at risk: it went
    assert ref in git(repo, "for-each-ref", "refs/specrelay/")
    _, dry = cli_json(repo, "gc", "--force", "--dry-run")
    assert [a["outcome"] for a in dry["actions"] if a["kind"] == "leftovers"] == ["would remove"]
    _, forced = cli_json(repo, "gc", "--force")
    assert [a["outcome"] for a in forced["actions"] if a["kind"] == "leftovers"] == ["removed"]
    assert git(repo, "for-each-ref", "refs/specrelay/") == ""


def test_merge_and_discard_refuse_while_a_run_holds_the_task_lock(tmp_path: Path) -> None:
    import fcntl

    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    lock = Path(status["folder"]) / "run.lock"
    with lock.open("a") as held:  # a resume that has just taken the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        one_error_line(run_cli("merge", status["id"], "--delete", cwd=repo), "already running")
        one_error_line(run_cli("discard", status["id"], "--force", cwd=repo), "already running")
        assert "def sub" not in (repo / "calc.py").read_text() and Path(status["worktree"]).is_dir()
        fcntl.flock(held, fcntl.LOCK_UN)
    assert run_cli("merge", status["id"], "--delete", cwd=repo).returncode == 0


def test_run_and_review_from_inside_the_git_folder_say_to_run_from_a_working_tree(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    for where in (repo / ".git", repo / ".git" / "objects"):
        for args in (("run", "Add sub"), ("review", "--preset", "gpt-reviewer")):
            line = one_error_line(run_cli(*args, cwd=where), "run specrelay from a working tree of the repository",
                                  f"cd {repo}")
            assert "rev-parse" not in line and "must be run in a work tree" not in line
    assert json.loads(run_cli("status", "--json", cwd=repo).stdout) == []


def test_the_engine_refuses_to_run_a_discarded_task_by_the_same_rule_resume_uses(tmp_path: Path) -> None:
    """Every face reaches the one rule: the runner itself says why, not "worktree gone (removed by hand?)"."""
    import pytest

    from specrelay import paths
    from specrelay.config import load_config
    from specrelay.engine.runner import Runner
    from specrelay.errors import UserError
    from specrelay.ledger import Ledger

    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub", "--budget", "0.001")
    assert run_cli("discard", status["id"], "--force", cwd=repo).returncode == 0
    cli_line = one_error_line(run_cli("resume", status["id"], cwd=repo), "was discarded")
    ledger = Ledger(paths.ledger_path(repo))
    try:
        with pytest.raises(UserError) as refused:
            Runner(repo, ledger, load_config(repo), status["id"]).run()
    finally:
        ledger.close()
    assert str(refused.value) in cli_line and "removed by hand" not in str(refused.value)


def test_counts_in_discard_and_gc_messages_are_in_the_right_number(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    _, status = cli_json(repo, "run", "Add sub")
    line = one_error_line(run_cli("discard", status["id"], cwd=repo, env={"COLUMNS": "300"}),
                          f"1 commit on {status['branch']} not merged into main")
    assert "(s)" not in line
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    stray = repo / ".specrelay" / "worktrees" / "left-behind"
    stray.mkdir()
    (stray / "note.txt").write_text("mine\n")
    dry = run_cli("gc", "--dry-run", cwd=repo, env={"COLUMNS": "300"})
    assert dry.returncode == 0, dry.stderr
    assert "holds 1 file (note.txt)" in dry.stdout and "2 items would be removed, 1 skipped or kept." in dry.stdout
    assert "(s)" not in dry.stdout


# -- a failed step says so ------------------------------------------------------------------------


def test_show_says_which_step_failed_and_why(tmp_path: Path) -> None:
    repo = project(tmp_path, {**happy_replies(), "gpt-reviewer": ["not json", "still not json"]})
    proc, status = cli_json(repo, "run", "Add sub")
    assert status["status"] == "failed", proc.stderr
    _, shown = cli_json(repo, "show", status["id"])
    steps = {s["title"]: s for s in shown["steps"]}
    assert steps["Review"]["status"] == "failed", steps
    assert "did not answer valid JSON" in steps["Review"]["error"], steps["Review"]
    assert steps["Planning"]["status"] == "done" and steps["Planning"]["error"] is None
    text = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "200"}).stdout
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("Review"))
    assert "failed" in row and "pending" not in row, text
    assert "Review failed: " in text and "did not answer valid JSON" in text, text
    # Resumed, the step runs again: it is running, then done, and no longer says it failed.
    (repo / ".specrelay" / "gpt-reviewer.json").write_text(json.dumps(["not json", "still not json", review()]))
    proc, again = cli_json(repo, "resume", status["id"])
    assert again["status"] == "done", proc.stderr
    review_step = next(s for s in again["steps"] if s["title"] == "Review")
    assert review_step["status"] == "done" and review_step["error"] is None
